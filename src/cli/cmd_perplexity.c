/* cmd_perplexity.c: `whet perplexity`: perplexity of a model folder on a
 * file of token ids, in windows of --ctx tokens (llama-perplexity's role;
 * the window scheme is transformers' sliding-window one, see
 * infer/perplexity.h). Prints the running estimate per window and a final
 * "PPL = x +/- y" line. */
#include <stdio.h>
#include <stdlib.h>
#include "cli/cli_flags.h"
#include "cli/command.h"
#include "core/file.h"
#include "infer/perplexity.h"

static void usage(void) {
    printf("usage: whet perplexity --model_name_or_path DIR --ids_file F [--ctx N] [--stride S] [--threads N]\n"
           "  Perplexity of the model on the token ids in F (integers separated by commas, spaces or newlines).\n"
           "  --ctx N      tokens per window (default 512, at most the model's max_position_embeddings)\n"
           "  --stride S   window step (default = ctx: disjoint windows; smaller gives every token more context)\n"
           "  --threads N  CPU threads (default: all cores or WHET_NUM_THREADS)\n");
}

static void print_progress(void *ctx, int window, int n_windows, const whet_perplexity_result *r) {
    (void)ctx;
    fprintf(stderr, "[%d/%d] %lld tokens scored, PPL %.4f\n", window + 1, n_windows, (long long)r->n_scored, r->ppl);
}

static int run_perplexity(int argc, char **argv) {
    if (whet_cli_wants_help(argc, argv)) return usage(), 0;
    const char *model_dir = NULL, *ids_file = NULL;
    long long ctx = 512, stride = 0, threads = 0;
    bool set_ctx = false;
    const whet_flag flags[] = {
        {"model_name_or_path", WHET_FLAG_STR, &model_dir, NULL}, {"ids_file", WHET_FLAG_STR, &ids_file, NULL},
        {"ctx", WHET_FLAG_INT, &ctx, &set_ctx},                    {"stride", WHET_FLAG_INT, &stride, NULL},
        {"threads", WHET_FLAG_INT, &threads, NULL},
    };
    if (whet_cli_parse_flags("perplexity", argc, argv, flags, sizeof flags / sizeof flags[0])) return 2;
    if (!model_dir) return whet_cli_fail("perplexity", "--model_name_or_path DIR is required (a Hugging Face model folder)");
    if (!ids_file) return whet_cli_fail("perplexity", "--ids_file F is required (token ids separated by commas or spaces)");
    whet_error err = {0};
    char *text = NULL;
    size_t len = 0;
    if (whet_read_file(ids_file, &text, &len, &err) != WHET_OK) return whet_cli_fail("perplexity", err.msg);
    int32_t *ids = NULL;
    int64_t n = 0;
    int rc = whet_cli_parse_ids("perplexity", ids_file, text, &ids, &n);
    free(text);
    if (rc) return 1;
    whet_model *m = NULL;
    whet_model_load_opts lo = {.keep_dtype = true, .n_threads = (int)threads};
    if (whet_model_load(model_dir, &lo, &m, &err) != WHET_OK) return free(ids), whet_cli_fail("perplexity", err.msg);
    if (!set_ctx && ctx > m->cfg.max_position_embeddings) ctx = m->cfg.max_position_embeddings;
    if (stride <= 0) stride = ctx;
    whet_perplexity_result r;
    if (whet_perplexity(m, ids, n, (int)ctx, (int)stride, print_progress, NULL, &r, &err) != WHET_OK) {
        rc = whet_cli_fail("perplexity", err.msg);
    } else {
        printf("tokens scored: %lld, mean NLL %.6f\n", (long long)r.n_scored, r.mean_nll);
        printf("Final estimate: PPL = %.4f +/- %.4f\n", r.ppl, r.ppl_stderr);
    }
    free(ids);
    whet_model_free(m);
    return rc;
}

const whet_command whet_cmd_perplexity = {"perplexity", "perplexity of a model on a file of token ids", run_perplexity};
