/* cli_flags.h: the `--key value` / `--key=value` flags of the commands that
 * take no LLaMA-Factory YAML (generate, perplexity, init-model): one table
 * per command, unknown flags rejected with a did-you-mean, numbers checked. */
#ifndef WHET_CLI_CLI_FLAGS_H
#define WHET_CLI_CLI_FLAGS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
#endif
