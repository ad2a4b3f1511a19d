/* cmd_api.c: `whet api`: serve a Hugging Face model folder (optionally
 * with a PEFT LoRA adapter merged in, and any number of unmerged LoRA
 * modules served as models of their own, vLLM's --lora_modules) over
 * OpenAI- and Ollama-compatible HTTP, like `llamafactory-cli api` / `vllm serve`. One engine thread owns
 * the model and the paged KV cache and batches all requests continuously;
 * API_PORT, API_HOST, API_KEY and API_MODEL_NAME are read from the
 * environment as LLaMA-Factory does (flags win). Ctrl-C stops it cleanly. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli_flags.h"
#include "cli/command.h"
#include "core/file.h"
#include "core/log.h"
#include "infer/engine.h"
#include "infer/generate.h"
#include "model/lora_apply_infer.h"
#include "model/lora_infer.h"
#include "server/server.h"

typedef struct {
    const char *model_dir, *adapter_dir, *host, *served_name, *api_key, *template_path;
    long long port, max_num_seqs, max_batched, kv_blocks, block_size, max_model_len, threads;
    double kv_cache_gb, gpu_memory_utilization;
    bool set_port, no_prefix_caching;
    /* --lora_modules name=path ...: taken out of argv before the flag table (lora_modules_take) */
    char **lora_names, **lora_paths;
    int n_lora;
} api_args;

static void usage(void) {
    printf("usage: whet api --model_name_or_path DIR [options]\n"
           "  Serve the model with OpenAI (/v1/chat/completions, /v1/completions, /v1/models) and Ollama\n"
           "  (/api/chat, /api/generate, /api/tags, /api/show) routes, plus /health and /metrics.\n"
           "  --adapter_name_or_path DIR   a PEFT LoRA adapter, merged into the weights at start\n"
           "  --lora_modules NAME=DIR ...  PEFT LoRA adapters kept unmerged, each served as the model NAME (a request's\n"
           "                               `model` picks one; adapters batch together); comma- or space-separated,\n"
           "                               the flag may repeat\n"
           "  --host H                     address to listen on (default $API_HOST or 0.0.0.0)\n"
           "  --port P                     (default $API_PORT or 8000)\n"
           "  --served_model_name NAME     the `model` clients send (default $API_MODEL_NAME or the folder name)\n"
           "  --api_key KEY                require `Authorization: Bearer KEY` (default $API_KEY; none when unset)\n"
           "  --template FILE              a Jinja chat template instead of the tokenizer's\n"
           "  --max_num_seqs N             sequences batched together (default 64)\n"
           "  --max_num_batched_tokens N   tokens per forward step, prefill chunks included (default 512)\n"
           "  --kv_blocks N                KV cache size in blocks (default: max_num_seqs full-length sequences, <= 4096)\n"
           "  --kv_cache_gb G              KV cache size in GB instead of --kv_blocks\n"
           "  --gpu_memory_utilization F   vLLM's flag; on the CPU: the KV cache takes at most F of the memory\n"
           "                               available at start (capped at max_num_seqs full-length sequences)\n"
           "  --block_size N               tokens per KV block (default 16)\n"
           "  --max_model_len N            context length (default: the model's, capped by the KV cache)\n"
           "  --no_prefix_caching          do not reuse cached prompt prefixes\n"
           "  --threads N                  CPU threads (default: all cores or WHET_NUM_THREADS)\n"
           "  Sampling defaults come from generation_config.json; each request may override them.\n");
}

static int parse_args(int argc, char **argv, api_args *a) {
    const whet_flag flags[] = {
        {"model_name_or_path", WHET_FLAG_STR, &a->model_dir, NULL},
        {"adapter_name_or_path", WHET_FLAG_STR, &a->adapter_dir, NULL},
        {"host", WHET_FLAG_STR, &a->host, NULL},
        {"port", WHET_FLAG_INT, &a->port, &a->set_port},
        {"served_model_name", WHET_FLAG_STR, &a->served_name, NULL},
        {"api_key", WHET_FLAG_STR, &a->api_key, NULL},
        {"template", WHET_FLAG_STR, &a->template_path, NULL},
        {"max_num_seqs", WHET_FLAG_INT, &a->max_num_seqs, NULL},
        {"max_num_batched_tokens", WHET_FLAG_INT, &a->max_batched, NULL},
        {"kv_blocks", WHET_FLAG_INT, &a->kv_blocks, NULL},
        {"kv_cache_gb", WHET_FLAG_FLOAT, &a->kv_cache_gb, NULL},
        {"gpu_memory_utilization", WHET_FLAG_FLOAT, &a->gpu_memory_utilization, NULL},
        {"block_size", WHET_FLAG_INT, &a->block_size, NULL},
        {"max_model_len", WHET_FLAG_INT, &a->max_model_len, NULL},
        {"no_prefix_caching", WHET_FLAG_BOOL, &a->no_prefix_caching, NULL},
        {"threads", WHET_FLAG_INT, &a->threads, NULL},
    };
    return whet_cli_parse_flags("api", argc, argv, flags, sizeof flags / sizeof flags[0]);
}

/* One "name=path" item of --lora_modules. */
static int lora_module_add(api_args *a, const char *item, size_t len) {
    const char *eq = memchr(item, '=', len);
    if (!eq || eq == item || eq + 1 == item + len) {
        char msg[400];
        snprintf(msg, sizeof msg, "--lora_modules: \"%.*s\" is not NAME=PATH (e.g. --lora_modules sql=out/sql-lora)",
                 (int)(len < 200 ? len : 200), item);
        return whet_cli_fail("api", msg);
    }
    char **n = realloc(a->lora_names, ((size_t)a->n_lora + 1) * sizeof *n);
    if (n) a->lora_names = n;
    char **p = realloc(a->lora_paths, ((size_t)a->n_lora + 1) * sizeof *p);
    if (p) a->lora_paths = p;
    if (!n || !p) return whet_cli_fail("api", "out of memory");
    a->lora_names[a->n_lora] = strndup(item, (size_t)(eq - item));
    a->lora_paths[a->n_lora] = strndup(eq + 1, (size_t)(item + len - eq - 1));
    a->n_lora++;
    return a->lora_names[a->n_lora - 1] && a->lora_paths[a->n_lora - 1] ? 0 : whet_cli_fail("api", "out of memory");
}

static int lora_modules_add(api_args *a, const char *list) {
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len && lora_module_add(a, p, len)) return 1;
        p += len + (p[len] == ',');
    }
    return 0;
}

/* vLLM's `--lora-modules a=p1 b=p2` takes several values, which the flag
 * table cannot: take every --lora_modules (or --lora-modules) and the
 * values after it out of argv (compacted in place; returns the new argc,
 * -1 on a bad item). */
static int lora_modules_take(int argc, char **argv, api_args *a) {
    int out = 1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        bool flag = !strcmp(arg, "--lora_modules") || !strcmp(arg, "--lora-modules");
        bool inl = !strncmp(arg, "--lora_modules=", 15) || !strncmp(arg, "--lora-modules=", 15);
        if (!flag && !inl) {
            argv[out++] = argv[i];
            continue;
        }
        if (inl && lora_modules_add(a, arg + 15)) return -1;
        int n = 0;
        for (; flag && i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0; n++)
            if (lora_modules_add(a, argv[++i])) return -1;
        if (flag && n == 0) return whet_cli_fail("api", "--lora_modules needs NAME=PATH values"), -1;
    }
    return out;
}

static void api_args_free(api_args *a) {
    for (int i = 0; i < a->n_lora; i++) {
        free(a->lora_names[i]);
        free(a->lora_paths[i]);
    }
    free(a->lora_names);
    free(a->lora_paths);
}

/* ---- serving ---- */

static void fill_defaults(const whet_generation_config *gc, whet_sampler_params *sp) {
    *sp = whet_sampler_defaults();
    if (gc->do_sample) {
        sp->temperature = gc->temperature;
        sp->top_p = gc->top_p;
        sp->top_k = gc->top_k;
    }
    sp->repetition_penalty = gc->repetition_penalty > 0 ? gc->repetition_penalty : 1.0f;
}

static const char *env_or(const char *flag, const char *env) {
    const char *v = getenv(env);
    return flag ? flag : v && v[0] ? v : NULL;
}

/* MemAvailable of /proc/meminfo in bytes, or 0 when unknown. */
static double mem_available_bytes(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    double kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lf kB", &kb) == 1) break;
    fclose(f);
    return kb * 1024.0;
}

static int serve(const api_args *a, whet_model *m, whet_tokenizer *tok, const whet_generation_config *gc,
                 const char *tmpl, const whet_lora_set *loras) {
    whet_error err = {0};
    long long kv_blocks = a->kv_blocks;
    /* K and V, f32, every layer: 2 * layers * block_size * kv_heads * head_dim * 4 bytes per block */
    const long long bs = a->block_size > 0 ? a->block_size : 16;
    const double per_block = 8.0 * m->cfg.n_layers * bs * m->cfg.n_kv_heads * m->cfg.head_dim;
    if (a->gpu_memory_utilization != 0 && (a->gpu_memory_utilization <= 0 || a->gpu_memory_utilization > 1))
        return whet_cli_fail("api", "--gpu_memory_utilization must be in (0, 1], e.g. 0.9 (vLLM's default)");
    if (a->kv_cache_gb > 0 && a->gpu_memory_utilization > 0)
        return whet_cli_fail("api", "give --kv_cache_gb or --gpu_memory_utilization, not both");
    if (a->kv_cache_gb > 0) {
        kv_blocks = (long long)(a->kv_cache_gb * 1e9 / per_block);
        if (kv_blocks < 1) return whet_cli_fail("api", "--kv_cache_gb is too small for one KV block");
        if (kv_blocks > (1LL << 30)) kv_blocks = 1LL << 30;
    } else if (a->gpu_memory_utilization > 0) {
        /* no GPU: the fraction of the memory available now (the weights are already loaded), never more
         * blocks than max_num_seqs sequences of the model's full length need */
        const double avail = mem_available_bytes();
        if (avail <= 0) return whet_cli_fail("api", "--gpu_memory_utilization: cannot read MemAvailable from "
                                                    "/proc/meminfo; give --kv_cache_gb instead");
        const long long len = a->max_model_len > 0 ? a->max_model_len : m->cfg.max_position_embeddings;
        const long long need = (long long)(a->max_num_seqs > 0 ? a->max_num_seqs : 64) * ((len + bs - 1) / bs);
        kv_blocks = (long long)(a->gpu_memory_utilization * avail / per_block);
        if (kv_blocks > need) kv_blocks = need;
        if (kv_blocks > (1LL << 30)) kv_blocks = 1LL << 30;
        if (kv_blocks < 1) return whet_cli_fail("api", "--gpu_memory_utilization leaves no memory for a KV block");
        fprintf(stderr, "whet api: no GPU: --gpu_memory_utilization %.2f of %.1f GB available -> %lld KV blocks (%.1f MB)\n",
                a->gpu_memory_utilization, avail / 1e9, kv_blocks, kv_blocks * per_block / 1e6);
    }
    whet_engine_opts eo = {.max_num_seqs = (int)a->max_num_seqs, .max_num_batched_tokens = (int)a->max_batched,
                           .block_size = (int)a->block_size, .n_blocks = (int)kv_blocks,
                           .max_model_len = (int)a->max_model_len, .no_prefix_caching = a->no_prefix_caching,
                           .lora = loras};
    whet_engine *eng = NULL;
    whet_server *srv = NULL;
    if (whet_engine_create(m, &eo, &eng, &err) != WHET_OK) return whet_cli_fail("api", err.msg);
    const char *port_env = getenv("API_PORT");
    int port = a->set_port ? (int)a->port : port_env && port_env[0] ? atoi(port_env) : 8000;
    if (port <= 0 || port > 65535) {
        whet_engine_free(eng);
        return whet_cli_fail("api", "--port / API_PORT must be in 1..65535");
    }
    const int32_t *eos = NULL;
    int n_eos = whet_generate_default_eos(m, gc, &eos);
    whet_server_opts so = {.host = env_or(a->host, "API_HOST"), .port = port,
                           .served_model_name = env_or(a->served_name, "API_MODEL_NAME"), .model_dir = a->model_dir,
                           .api_key = env_or(a->api_key, "API_KEY"), .chat_template = tmpl, .eos_ids = eos,
                           .n_eos = n_eos, .lora_names = (const char *const *)a->lora_names,
                           .lora_paths = (const char *const *)a->lora_paths, .n_lora = a->n_lora};
    fill_defaults(gc, &so.defaults);
    /* the engine and connection threads inherit this mask; the main thread waits for the signal */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    int rc = 0;
    if (whet_engine_start(eng, &err) != WHET_OK || whet_server_start(eng, m, tok, &so, &srv, &err) != WHET_OK) {
        rc = whet_cli_fail("api", err.msg);
    } else {
        fprintf(stderr, "whet api: serving on port %d; max_model_len %d; Ctrl-C to stop\n", whet_server_port(srv),
                whet_engine_max_model_len(eng));
        int sig = 0;
        sigwait(&set, &sig);
        fprintf(stderr, "whet api: stopping\n");
    }
    whet_engine_stop(eng);   /* running requests end with an abort, so connection threads return */
    whet_server_stop(srv);
    whet_engine_free(eng);
    return rc;
}

static int load_lora_modules(const api_args *a, whet_lora_set *loras) {
    whet_error err = {0};
    for (int i = 0; i < a->n_lora; i++) {
        if (whet_lora_set_add(loras, a->lora_paths[i], NULL, &err) != WHET_OK) {
            char msg[1400];
            snprintf(msg, sizeof msg, "--lora_modules %s: %s", a->lora_names[i], err.msg);
            return whet_cli_fail("api", msg);
        }
        fprintf(stderr, "whet api: LoRA module '%s' from %s (unmerged, scale %g)\n", a->lora_names[i], a->lora_paths[i],
                (double)whet_lora_set_scale(loras, i));
    }
    return 0;
}

static int run_api(int argc, char **argv) {
    if (whet_cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    api_args a = {0};
    argc = lora_modules_take(argc, argv, &a);
    if (argc < 0 || parse_args(argc, argv, &a)) {
        api_args_free(&a);
        return 2;
    }
    if (!a.model_dir) {
        api_args_free(&a);
        return whet_cli_fail("api", "--model_name_or_path DIR is required (a Hugging Face model folder)");
    }
    whet_error err = {0};
    whet_model *m = NULL;
    whet_tokenizer *tok = NULL;
    whet_generation_config gc;
    char *tmpl = NULL;
    size_t tlen = 0;
    whet_lora_merged *lora = NULL;   /* the adapter merged at load (lora_apply_infer.h) */
    whet_lora_set *loras = NULL;     /* --lora_modules, unmerged (lora_infer.h) */
    whet_model_load_opts lo = {.n_threads = (int)a.threads};
    int rc;
    if (whet_model_load(a.model_dir, &lo, &m, &err) != WHET_OK ||
        whet_generation_config_load(a.model_dir, &gc, &err) != WHET_OK ||
        whet_tokenizer_load_dir(a.model_dir, &tok, &err) != WHET_OK ||
        (a.adapter_dir && whet_model_apply_lora(m, a.adapter_dir, &lora, &err) != WHET_OK) ||
        (a.template_path && whet_read_file(a.template_path, &tmpl, &tlen, &err) != WHET_OK) ||
        (a.n_lora && whet_lora_set_create(m, &loras, &err) != WHET_OK))
        rc = whet_cli_fail("api", err.msg);
    else
        rc = load_lora_modules(&a, loras) ? 1 : serve(&a, m, tok, &gc, tmpl, loras);
    free(tmpl);
    whet_tokenizer_free(tok);
    whet_model_free(m);
    whet_lora_merged_free(lora);
    whet_lora_set_free(loras);
    api_args_free(&a);
    return rc;
}

const whet_command whet_cmd_api = {"api", "serve a model over OpenAI- and Ollama-compatible HTTP", run_api};
