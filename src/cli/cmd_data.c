/* cmd_data.c: `whet data`: look at a dataset the way the trainer will see it.
 *   whet data preview config.yaml [--key value ...] [--num_examples N] [--color]
 *     encodes the config's dataset with its template and cutoff_len exactly as
 *     `whet train` does, prints the first N examples with the prompt (masked)
 *     and response (trained) spans marked, and length statistics.
 *   whet data convert IN OUT [--to json|jsonl]
 *     rewrites a dataset file between a JSON array and JSON lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/command.h"
#include "data/sft_preview.h"
#include "io/lf_args.h"
#include "tokenizer/tokenizer.h"

static void usage(void) {
    printf("usage: whet data preview config.yaml [--key value ...] [--num_examples N] [--color]\n"
           "         Encode the config's dataset as whet train does (template, cutoff_len, masking) and print\n"
           "         the first N examples (default 3) with [P:prompt] and [R:trained response] spans, then\n"
           "         length statistics against cutoff_len. --color shows spans in colour instead.\n"
           "       whet data convert IN OUT [--to json|jsonl]\n"
           "         Rewrite a dataset file (JSON array or JSON lines) as an indented JSON array or as JSON\n"
           "         lines (default: from OUT's extension).\n");
}

/* Take --num_examples/--color out of argv; the rest goes to the LLaMA-Factory parser. */
static int split_preview_flags(int argc, char **argv, char **rest, int *n_rest, long *num, bool *color) {
    *n_rest = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--color")) {
            *color = true;
        } else if (!strcmp(argv[i], "--num_examples") || !strncmp(argv[i], "--num_examples=", 15)) {
            const char *v = argv[i][14] == '=' ? argv[i] + 15 : (i + 1 < argc ? argv[++i] : NULL);
            char *end = NULL;
            *num = v ? strtol(v, &end, 10) : -1;
            if (!v || *end || *num < 0) return whet_cli_fail("data", "--num_examples needs a number >= 0");
        } else {
            rest[(*n_rest)++] = argv[i];
        }
    }
    return 0;
}

static int run_preview(int argc, char **argv) {
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    int n_rest = 0;
    long num = 3;
    bool color = false;
    if (!rest) return whet_cli_fail("data", "out of memory");
    if (split_preview_flags(argc, argv, rest, &n_rest, &num, &color)) return free(rest), 2;
    whet_error err = {0};
    whet_lf_args *args = NULL;
    whet_tokenizer *tok = NULL;
    whet_sft_dataset ds = {0};
    int rc = 0;
    if (whet_lf_args_parse(n_rest, rest, &args, &err) != WHET_OK) rc = whet_cli_fail("data", err.msg);
    const char *model = rc ? NULL : whet_lf_args_str(args, "model_name_or_path");
    if (!rc && !model) rc = whet_cli_fail("data", "model_name_or_path is required (its tokenizer encodes the data)");
    if (!rc && whet_tokenizer_load_dir(model, &tok, &err) != WHET_OK) rc = whet_cli_fail("data", err.msg);
    if (!rc && whet_sft_dataset_load(args, tok, &ds, &err) != WHET_OK) rc = whet_cli_fail("data", err.msg);
    whet_strbuf out;
    whet_sb_init(&out);
    for (size_t i = 0; !rc && i < ds.n && i < (size_t)num; i++) {
        whet_sb_clear(&out);
        if (whet_sft_render_spans(tok, &ds.items[i], color, &out, &err) != WHET_OK) {
            rc = whet_cli_fail("data", err.msg);
            break;
        }
        printf("--- example %zu (%s): %lld tokens\n%s\n", i, ds.items[i].origin ? ds.items[i].origin : "",
               (long long)ds.items[i].len, out.data ? out.data : "");
    }
    if (!rc) {
        whet_sft_stats st;
        long long cutoff = whet_lf_args_int(args, "cutoff_len");
        whet_sft_compute_stats(&ds, cutoff, &st);
        whet_sb_clear(&out);
        whet_sft_format_stats(&st, cutoff, &out);
        printf("%s", out.data ? out.data : "");
    }
    whet_sb_free(&out);
    whet_sft_dataset_free(&ds);
    whet_tokenizer_free(tok);
    whet_lf_args_free(args);
    free(rest);
    return rc;
}

static int run_convert(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *to = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--to") && i + 1 < argc) to = argv[++i];
        else if (!strncmp(argv[i], "--to=", 5)) to = argv[i] + 5;
        else if (!strncmp(argv[i], "--", 2)) return whet_cli_fail("data", "convert takes IN OUT and --to json|jsonl only");
        else if (!in) in = argv[i];
        else if (!out) out = argv[i];
        else return whet_cli_fail("data", "convert takes exactly two files: IN OUT");
    }
    if (!in || !out) return whet_cli_fail("data", "usage: whet data convert IN OUT [--to json|jsonl]");
    size_t n = strlen(out);
    if (!to) to = n > 6 && !strcmp(out + n - 6, ".jsonl") ? "jsonl" : "json";
    if (strcmp(to, "json") && strcmp(to, "jsonl")) return whet_cli_fail("data", "--to must be json or jsonl");
    whet_error err = {0};
    size_t records = 0;
    if (whet_data_convert_file(in, out, to, &records, &err) != WHET_OK) return whet_cli_fail("data", err.msg);
    printf("wrote %zu records to %s (%s)\n", records, out, to);
    return 0;
}

static int run_data(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) return usage(), argc < 2 ? 2 : 0;
    if (!strcmp(argv[1], "preview")) return run_preview(argc - 2, argv + 2);
    if (!strcmp(argv[1], "convert")) return run_convert(argc - 2, argv + 2);
    char msg[200];
    snprintf(msg, sizeof msg, "unknown subcommand '%.60s' (preview or convert; see whet data --help)", argv[1]);
    return whet_cli_fail("data", msg);
}

const whet_command whet_cmd_data = {"data", "preview how a dataset is encoded, or convert JSON <-> JSONL", run_data};
