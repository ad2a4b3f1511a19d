/* cmd_generate.c: `whet generate`: load a Hugging Face model folder and
 * continue a raw prompt (no chat template): --prompt_ids prints the new ids,
 * --prompt TEXT encodes with the folder's tokenizer (its BOS rule included)
 * and streams the decoded continuation as it is generated. Sampling
 * defaults come from the folder's generation_config.json (greedy unless it
 * says do_sample); flags override them, --temperature 0 is greedy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli_flags.h"
#include "cli/command.h"
#include "infer/generate.h"
#include "model/lora_apply_infer.h"
#include "tokenizer/tokenizer.h"

typedef struct {
    const char *model_dir, *adapter_dir, *prompt_ids, *prompt_text, *device;
    whet_gen_flags gen;
} gen_args;

static void usage(void) {
    printf("usage: whet generate --model_name_or_path DIR (--prompt_ids 1,2,3 | --prompt TEXT) [options]\n"
           "  Continue a raw prompt (no chat template; see whet chat) with a Hugging Face model folder.\n"
           "  --prompt_ids prints the new token ids; --prompt TEXT tokenizes with the folder's tokenizer\n"
           "  and streams the decoded text.\n"
           "  --adapter_name_or_path A a PEFT LoRA adapter folder or GGUF LoRA adapter, merged at load\n"
           "  --max_new_tokens N       tokens to generate (default: generation_config.json or 128)\n");
    whet_cli_gen_flags_help(stdout, 27);
    printf("  --device cpu             the only device generation runs on in this build\n"
           "  --verbose                print prefill/decode speed to stderr\n"
           "  Stops after an eos id of generation_config.json / config.json; the eos id is printed.\n");
}

static int parse_args(int argc, char **argv, gen_args *a) {
    const whet_flag flags[] = {
        {"model_name_or_path", WHET_FLAG_STR, &a->model_dir, NULL},
        {"adapter_name_or_path", WHET_FLAG_STR, &a->adapter_dir, NULL},
        {"prompt_ids", WHET_FLAG_STR, &a->prompt_ids, NULL},
        {"prompt", WHET_FLAG_STR, &a->prompt_text, NULL},
        {"device", WHET_FLAG_STR, &a->device, NULL},
    };
    return whet_cli_parse_gen_flags("generate", argc, argv, flags, sizeof flags / sizeof flags[0], &a->gen);
}

/* --prompt TEXT: the tokenizer and the streaming detokenizer of the output. */
typedef struct {
    whet_tokenizer *tok;
    whet_detok_stream detok;
    whet_strbuf piece;
    whet_status status;
    whet_error err;
} text_stream;

static void text_stream_free(text_stream *ts) {
    if (!ts->tok) return;
    whet_detok_free(&ts->detok);
    whet_sb_free(&ts->piece);
    whet_tokenizer_free(ts->tok);
    ts->tok = NULL;
}

static int open_text_prompt(const char *model_dir, const char *text, text_stream *ts, int32_t **ids, int64_t *n) {
    whet_error err = {0};
    whet_tokens toks = {0};
    if (whet_tokenizer_load_dir(model_dir, &ts->tok, &err) != WHET_OK ||
        whet_tokenizer_encode(ts->tok, text, strlen(text), true, &toks, &err) != WHET_OK) {
        whet_tokens_free(&toks);
        if (ts->tok) whet_tokenizer_free(ts->tok);
        ts->tok = NULL;
        return whet_cli_fail("generate", err.msg);
    }
    if (toks.n == 0) {
        whet_tokens_free(&toks);
        whet_tokenizer_free(ts->tok);
        ts->tok = NULL;
        return whet_cli_fail("generate", "--prompt encodes to no tokens and the tokenizer adds no BOS; give some text");
    }
    *ids = toks.ids;
    *n = (int64_t)toks.n;
    whet_detok_init(&ts->detok, ts->tok, true);
    whet_sb_init(&ts->piece);
    return 0;
}

/* Print each new piece of text as soon as it is final. */
static bool stream_token(void *ctx, int32_t id) {
    text_stream *ts = ctx;
    whet_sb_clear(&ts->piece);
    ts->status = whet_detok_feed(&ts->detok, id, &ts->piece, &ts->err);
    if (ts->status != WHET_OK) return false;
    if (ts->piece.len) fwrite(ts->piece.data, 1, ts->piece.len, stdout);
    fflush(stdout);
    return true;
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
    if (a.prompt_text && a.prompt_ids) return whet_cli_fail("generate", "give --prompt_ids or --prompt, not both");
    if (!a.prompt_ids && !a.prompt_text) return whet_cli_fail("generate", "--prompt_ids 1,2,3 or --prompt TEXT is required");
    int32_t *ids = NULL;
    int64_t n_ids = 0;
    text_stream ts = {0};
    if (a.prompt_ids && whet_cli_parse_ids("generate", "--prompt_ids", a.prompt_ids, &ids, &n_ids)) return 2;
    if (a.prompt_text && open_text_prompt(a.model_dir, a.prompt_text, &ts, &ids, &n_ids)) return 1;
    whet_error err = {0};
    whet_model *m = NULL;
    whet_model_load_opts lo = {.n_threads = (int)a.gen.threads};
    whet_generation_config gc;
    whet_lora_merged *lora = NULL;
    int rc = 0;
    if (whet_model_load(a.model_dir, &lo, &m, &err) != WHET_OK ||
        whet_generation_config_load(a.model_dir, &gc, &err) != WHET_OK ||
        (a.adapter_dir && whet_model_apply_lora(m, a.adapter_dir, &lora, &err) != WHET_OK)) {
        free(ids);
        whet_model_free(m);
        text_stream_free(&ts);
        return whet_cli_fail("generate", err.msg);
    }
    whet_generate_opts o = {.max_new_tokens = whet_cli_gen_max_new_tokens(&a.gen, &gc, 128)};
    o.n_eos = whet_generate_default_eos(m, &gc, &o.eos_ids);
    whet_cli_gen_sampling(&a.gen, &gc, &o.sampling);
    if (ts.tok) {
        o.on_token = stream_token;
        o.on_token_ctx = &ts;
    }
    int32_t *out = malloc((size_t)(o.max_new_tokens > 0 ? o.max_new_tokens : 1) * sizeof *out);
    int n_out = 0;
    whet_generate_stats st;
    if (!out || whet_generate(m, ids, (int)n_ids, &o, out, &n_out, &st, &err) != WHET_OK) {
        rc = whet_cli_fail("generate", out ? err.msg : "out of memory");
    } else if (ts.tok && ts.status != WHET_OK) {
        rc = whet_cli_fail("generate", ts.err.msg);
    } else if (ts.tok) {
        whet_strbuf tail;
        whet_sb_init(&tail);
        if (whet_detok_flush(&ts.detok, &tail, &err) == WHET_OK && tail.len) fwrite(tail.data, 1, tail.len, stdout);
        whet_sb_free(&tail);
        printf("\n");
    } else {
        for (int i = 0; i < n_out; i++) printf("%s%d", i ? "," : "", out[i]);
        printf("\n");
    }
    if (rc == 0) {
        if (a.gen.verbose)
            fprintf(stderr, "prompt %d tokens: %.1f tok/s prefill; %d new tokens: %.1f tok/s decode%s\n", st.n_prompt,
                    st.prefill_seconds > 0 ? st.n_prompt / st.prefill_seconds : 0.0, st.n_new,
                    st.decode_seconds > 0 ? (st.n_new - 1) / st.decode_seconds : 0.0,
                    st.stopped_at_eos ? " (stopped at eos)" : "");
    }
    free(out);
    free(ids);
    text_stream_free(&ts);
    whet_model_free(m);
    whet_lora_merged_free(lora);
    return rc;
}

const whet_command whet_cmd_generate = {"generate", "continue a prompt (token ids) with a Hugging Face model", run_generate};
