/* cmd_generate.c: `whet generate`: load a Hugging Face model folder and
 * continue a prompt given as token ids, printing the new ids. Sampling
 * defaults come from the folder's generation_config.json (greedy unless it
 * says do_sample); flags override them, --temperature 0 is greedy. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/command.h"
#include "core/suggest.h"
#include "infer/generate.h"

typedef struct {
    const char *model_dir, *prompt_ids, *prompt_text, *device;
    int max_new_tokens, threads;
    float temperature, top_p, min_p, repetition_penalty;
    int top_k;
    unsigned long long seed;
    bool set_temperature, set_top_p, set_top_k, set_rep, set_max, verbose;
} gen_args;

static const char *const k_flags[] = {"model_name_or_path", "prompt_ids", "prompt", "max_new_tokens", "temperature",
                                      "top_p", "top_k", "min_p", "repetition_penalty", "seed", "device", "threads",
                                      "verbose"};

static void usage(void) {
    printf("usage: whet generate --model_name_or_path DIR --prompt_ids 1,2,3 [options]\n"
           "  Continue a prompt with a Hugging Face model folder and print the new token ids.\n"
           "  --max_new_tokens N       tokens to generate (default: generation_config.json or 128)\n"
           "  --temperature T          0 = greedy (default: greedy unless generation_config.json has do_sample)\n"
           "  --top_p P  --top_k K  --min_p M  --repetition_penalty R   sampling filters (HF semantics)\n"
           "  --seed S                 a seed reproduces a sample (default 0)\n"
           "  --device cpu             --threads N (default: all cores or WHET_NUM_THREADS)\n"
           "  --verbose                print prefill/decode speed to stderr\n"
           "  Stops after an eos id of generation_config.json / config.json; the eos id is printed.\n");
}

static int bad_number(const char *flag, const char *v) {
    char msg[300];
    snprintf(msg, sizeof msg, "--%s: \"%s\" is not a number", flag, v);
    return whet_cli_fail("generate", msg);
}

static int parse_float(const char *flag, const char *v, float *out, bool *set) {
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end) return bad_number(flag, v);
    *out = (float)d;
    if (set) *set = true;
    return 0;
}

static int parse_int(const char *flag, const char *v, long long *out) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end) return bad_number(flag, v);
    *out = x;
    return 0;
}

static int set_flag(gen_args *a, const char *k, const char *v) {
    long long n = 0;
    if (!strcmp(k, "model_name_or_path")) a->model_dir = v;
    else if (!strcmp(k, "prompt_ids")) a->prompt_ids = v;
    else if (!strcmp(k, "prompt")) a->prompt_text = v;
    else if (!strcmp(k, "device")) a->device = v;
    else if (!strcmp(k, "temperature")) return parse_float(k, v, &a->temperature, &a->set_temperature);
    else if (!strcmp(k, "top_p")) return parse_float(k, v, &a->top_p, &a->set_top_p);
    else if (!strcmp(k, "min_p")) return parse_float(k, v, &a->min_p, NULL);
    else if (!strcmp(k, "repetition_penalty")) return parse_float(k, v, &a->repetition_penalty, &a->set_rep);
    else if (!strcmp(k, "max_new_tokens")) {
        if (parse_int(k, v, &n)) return 1;
        a->max_new_tokens = (int)n;
        a->set_max = true;
    } else if (!strcmp(k, "top_k")) {
        if (parse_int(k, v, &n)) return 1;
        a->top_k = (int)n;
        a->set_top_k = true;
    } else if (!strcmp(k, "seed")) {
        if (parse_int(k, v, &n)) return 1;
        a->seed = (unsigned long long)n;
    } else if (!strcmp(k, "threads")) {
        if (parse_int(k, v, &n)) return 1;
        a->threads = (int)n;
    }
    return 0;
}

static int parse_args(int argc, char **argv, gen_args *a) {
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0) {
            char msg[300];
            snprintf(msg, sizeof msg, "unexpected argument \"%s\" (flags look like --max_new_tokens 32)", arg);
            return whet_cli_fail("generate", msg);
        }
        char key[64];
        const char *eq = strchr(arg + 2, '='), *val;
        size_t klen = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        snprintf(key, sizeof key, "%.*s", (int)klen, arg + 2);
        size_t nf = sizeof k_flags / sizeof *k_flags, f = 0;
        while (f < nf && strcmp(key, k_flags[f])) f++;
        if (f == nf) {
            const char *s = whet_suggest(key, k_flags, nf);
            char msg[300];
            snprintf(msg, sizeof msg, "unknown flag --%s%s%s%s (see whet generate --help)", key,
                     s ? "; did you mean --" : "", s ? s : "", s ? "?" : "");
            return whet_cli_fail("generate", msg);
        }
        if (!strcmp(key, "verbose")) { a->verbose = true; continue; }
        if (eq) val = eq + 1;
        else if (i + 1 < argc) val = argv[++i];
        else {
            char msg[120];
            snprintf(msg, sizeof msg, "--%s needs a value", key);
            return whet_cli_fail("generate", msg);
        }
        if (set_flag(a, key, val)) return 1;
    }
    return 0;
}

/* "1,2, 3" -> ids (malloc'd). */
static int parse_ids(const char *s, int32_t **ids, int *n) {
    size_t cap = 16;
    *ids = malloc(cap * sizeof **ids);
    *n = 0;
    const char *p = s;
    while (*ids && *p) {
        while (*p == ' ' || *p == ',') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX) {
            char msg[200];
            snprintf(msg, sizeof msg, "--prompt_ids: \"%.40s\" is not a list of non-negative integers like 1,2,3", p);
            free(*ids);
            return whet_cli_fail("generate", msg);
        }
        if ((size_t)*n == cap) {
            int32_t *g = realloc(*ids, 2 * cap * sizeof **ids);
            if (!g) break;
            *ids = g;
            cap *= 2;
        }
        (*ids)[(*n)++] = (int32_t)v;
        p = end;
    }
    if (*n == 0) {
        free(*ids);
        return whet_cli_fail("generate", "--prompt_ids is empty (give at least one id, e.g. the BOS id)");
    }
    return 0;
}

static void fill_sampling(const gen_args *a, const whet_generation_config *gc, whet_sampler_params *sp) {
    *sp = whet_sampler_defaults();
    sp->temperature = a->set_temperature ? a->temperature : gc->do_sample ? gc->temperature : 0.0f;
    sp->top_p = a->set_top_p ? a->top_p : gc->top_p;
    sp->top_k = a->set_top_k ? a->top_k : gc->do_sample ? gc->top_k : 0;
    sp->min_p = a->min_p;
    sp->repetition_penalty = a->set_rep ? a->repetition_penalty : gc->repetition_penalty;
    sp->seed = a->seed;
}

static int run_generate(int argc, char **argv) {
    if (whet_cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    gen_args a = {.device = "cpu"};
    if (parse_args(argc, argv, &a)) return 2;
    if (!a.model_dir) return whet_cli_fail("generate", "--model_name_or_path DIR is required (a Hugging Face model folder)");
    if (strcmp(a.device, "cpu"))
        return whet_cli_fail("generate", "--device: only cpu runs generation in this build");
    if (a.prompt_text && !a.prompt_ids)
        return whet_cli_fail("generate", "--prompt TEXT needs the tokenizer, which this build does not include yet; "
                             "pass the prompt as --prompt_ids 1,2,3");
    if (!a.prompt_ids) return whet_cli_fail("generate", "--prompt_ids 1,2,3 is required");
    int32_t *ids = NULL;
    int n_ids = 0;
    if (parse_ids(a.prompt_ids, &ids, &n_ids)) return 2;
    whet_error err = {0};
    whet_model *m = NULL;
    whet_model_load_opts lo = {.n_threads = a.threads};
    whet_generation_config gc;
    int rc = 0;
    if (whet_model_load(a.model_dir, &lo, &m, &err) != WHET_OK ||
        whet_generation_config_load(a.model_dir, &gc, &err) != WHET_OK) {
        free(ids);
        whet_model_free(m);
        return whet_cli_fail("generate", err.msg);
    }
    whet_generate_opts o = {.max_new_tokens = a.set_max ? a.max_new_tokens : gc.max_new_tokens > 0 ? gc.max_new_tokens : 128};
    o.n_eos = whet_generate_default_eos(m, &gc, &o.eos_ids);
    fill_sampling(&a, &gc, &o.sampling);
    int32_t *out = malloc((size_t)(o.max_new_tokens > 0 ? o.max_new_tokens : 1) * sizeof *out);
    int n_out = 0;
    whet_generate_stats st;
    if (!out || whet_generate(m, ids, n_ids, &o, out, &n_out, &st, &err) != WHET_OK) {
        rc = whet_cli_fail("generate", out ? err.msg : "out of memory");
    } else {
        for (int i = 0; i < n_out; i++) printf("%s%d", i ? "," : "", out[i]);
        printf("\n");
        if (a.verbose)
            fprintf(stderr, "prompt %d tokens: %.1f tok/s prefill; %d new tokens: %.1f tok/s decode%s\n", st.n_prompt,
                    st.prefill_seconds > 0 ? st.n_prompt / st.prefill_seconds : 0.0, st.n_new,
                    st.decode_seconds > 0 ? (st.n_new - 1) / st.decode_seconds : 0.0,
                    st.stopped_at_eos ? " (stopped at eos)" : "");
    }
    free(out);
    free(ids);
    whet_model_free(m);
    return rc;
}

const whet_command whet_cmd_generate = {"generate", "continue a prompt (token ids) with a Hugging Face model", run_generate};
