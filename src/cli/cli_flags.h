/* cli_flags.h: the `--key value` / `--key=value` flags of the commands that
 * take no LLaMA-Factory YAML (generate, chat, perplexity, init-model): one table
 * per command, unknown flags rejected with a did-you-mean, numbers checked;
 * and the generation flags (length, sampling, threads) generate and chat share. */
#ifndef WHET_CLI_CLI_FLAGS_H
#define WHET_CLI_CLI_FLAGS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "infer/sampler.h"
#include "io/hf_config.h"

typedef enum { WHET_FLAG_STR, WHET_FLAG_INT, WHET_FLAG_FLOAT, WHET_FLAG_BOOL } whet_flag_type;

typedef struct {
    const char *name;        /* without the dashes */
    whet_flag_type type;
    void *dst;               /* const char **, long long *, double *, bool * */
    bool *was_set;           /* may be NULL */
} whet_flag;

/* argv[0] is the command name. Prints the error and returns 2 on a bad flag, 0 otherwise. */
int whet_cli_parse_flags(const char *cmd, int argc, char **argv, const whet_flag *flags, size_t n_flags);
/* "1,2 3\n4" -> ids (malloc'd, free with free()); `what` names the source in
 * errors. Returns 0, or prints the error and returns 1. */
int whet_cli_parse_ids(const char *cmd, const char *what, const char *text, int32_t **ids, int64_t *n);

/* The generation flags of `whet generate` and `whet chat`: --max_new_tokens, --temperature, --top_p,
 * --top_k, --min_p, --repetition_penalty, --seed, --threads, --verbose. */
typedef struct {
    long long max_new_tokens, threads, top_k, seed;
    double temperature, top_p, min_p, repetition_penalty;
    bool set_temperature, set_top_p, set_top_k, set_rep, set_max, verbose;
} whet_gen_flags;

/* whet_cli_parse_flags over the command's own `flags` followed by the generation flags into `g`. */
int whet_cli_parse_gen_flags(const char *cmd, int argc, char **argv, const whet_flag *flags, size_t n_flags,
                             whet_gen_flags *g);
/* Print the help lines of --temperature, --top_p/--top_k/--min_p/--repetition_penalty, --seed and
 * --threads, descriptions starting at column `col` (--max_new_tokens and --verbose differ per command). */
void whet_cli_gen_flags_help(FILE *f, int col);
/* The sampler parameters: a flag that was given wins, else generation_config.json (greedy unless it
 * says do_sample; --temperature 0 is greedy). */
void whet_cli_gen_sampling(const whet_gen_flags *g, const whet_generation_config *gc, whet_sampler_params *sp);
/* --max_new_tokens when given, else generation_config.json's max_new_tokens, else `fallback`. */
int whet_cli_gen_max_new_tokens(const whet_gen_flags *g, const whet_generation_config *gc, int fallback);
#endif
