/* cli_flags.c: see cli_flags.h. */
#include "cli/cli_flags.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/command.h"
#include "core/suggest.h"

static int fail2(const char *cmd, const char *msg) {
    whet_cli_fail(cmd, msg);
    return 2;
}

static int set_value(const char *cmd, const whet_flag *f, const char *v) {
    char msg[400], *end;
    errno = 0;
    if (f->type == WHET_FLAG_STR) {
        *(const char **)f->dst = v;
    } else if (f->type == WHET_FLAG_INT) {
        long long x = strtoll(v, &end, 10);
        if (errno || end == v || *end) {
            snprintf(msg, sizeof msg, "--%s: \"%.100s\" is not an integer", f->name, v);
            return fail2(cmd, msg);
        }
        *(long long *)f->dst = x;
    } else if (f->type == WHET_FLAG_FLOAT) {
        double x = strtod(v, &end);
        if (errno || end == v || *end) {
            snprintf(msg, sizeof msg, "--%s: \"%.100s\" is not a number", f->name, v);
            return fail2(cmd, msg);
        }
        *(double *)f->dst = x;
    } else {
        bool t = !strcmp(v, "true") || !strcmp(v, "1"), fl = !strcmp(v, "false") || !strcmp(v, "0");
        if (!t && !fl) {
            snprintf(msg, sizeof msg, "--%s: \"%.100s\" is not true or false", f->name, v);
            return fail2(cmd, msg);
        }
        *(bool *)f->dst = t;
    }
    if (f->was_set) *f->was_set = true;
    return 0;
}

static const whet_flag *find_flag(const char *cmd, const char *key, const whet_flag *flags, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(flags[i].name, key)) return &flags[i];
    const char *names[64];
    size_t m = n < 64 ? n : 64;
    for (size_t i = 0; i < m; i++) names[i] = flags[i].name;
    const char *near = whet_suggest(key, names, m);
    char msg[300];
    snprintf(msg, sizeof msg, "unknown flag --%s%s%s%s (see whet %s --help)", key, near ? "; did you mean --" : "",
             near ? near : "", near ? "?" : "", cmd);
    whet_cli_fail(cmd, msg);
    return NULL;
}

int whet_cli_parse_flags(const char *cmd, int argc, char **argv, const whet_flag *flags, size_t n_flags) {
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        char msg[300], key[64];
        if (strncmp(arg, "--", 2) != 0) {
            snprintf(msg, sizeof msg, "unexpected argument \"%.100s\" (flags look like --name value)", arg);
            return fail2(cmd, msg);
        }
        const char *eq = strchr(arg + 2, '=');
        size_t klen = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        snprintf(key, sizeof key, "%.*s", (int)klen, arg + 2);
        const whet_flag *f = find_flag(cmd, key, flags, n_flags);
        if (!f) return 2;
        const char *val;
        if (eq) val = eq + 1;
        else if (f->type == WHET_FLAG_BOOL && (i + 1 >= argc || !strncmp(argv[i + 1], "--", 2))) val = "true";
        else if (i + 1 < argc) val = argv[++i];
        else {
            snprintf(msg, sizeof msg, "--%s needs a value", key);
            return fail2(cmd, msg);
        }
        if (set_value(cmd, f, val)) return 2;
    }
    return 0;
}

int whet_cli_parse_ids(const char *cmd, const char *what, const char *text, int32_t **ids, int64_t *n) {
    size_t cap = 64;
    int32_t *v = malloc(cap * sizeof *v);
    int64_t count = 0;
    const char *p = text;
    if (!v) return whet_cli_fail(cmd, "out of memory");
    for (;;) {
        while (*p == ' ' || *p == ',' || *p == '\n' || *p == '\t' || *p == '\r') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno || x < 0 || x > INT32_MAX) {
            char msg[300];
            snprintf(msg, sizeof msg, "%s: \"%.40s\" (token %lld) is not a non-negative integer; expected ids like 1,2,3",
                     what, p, (long long)count);
            free(v);
            return whet_cli_fail(cmd, msg);
        }
        if ((size_t)count == cap) {
            int32_t *g = realloc(v, 2 * cap * sizeof *v);
            if (!g) return free(v), whet_cli_fail(cmd, "out of memory");
            v = g;
            cap *= 2;
        }
        v[count++] = (int32_t)x;
        p = end;
    }
    if (count == 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s holds no token ids", what);
        free(v);
        return whet_cli_fail(cmd, msg);
    }
    *ids = v;
    *n = count;
    return 0;
}

int whet_cli_parse_gen_flags(const char *cmd, int argc, char **argv, const whet_flag *flags, size_t n_flags,
                             whet_gen_flags *g) {
    const whet_flag gen[] = {
        {"max_new_tokens", WHET_FLAG_INT, &g->max_new_tokens, &g->set_max},
        {"temperature", WHET_FLAG_FLOAT, &g->temperature, &g->set_temperature},
        {"top_p", WHET_FLAG_FLOAT, &g->top_p, &g->set_top_p},
        {"top_k", WHET_FLAG_INT, &g->top_k, &g->set_top_k},
        {"min_p", WHET_FLAG_FLOAT, &g->min_p, NULL},
        {"repetition_penalty", WHET_FLAG_FLOAT, &g->repetition_penalty, &g->set_rep},
        {"seed", WHET_FLAG_INT, &g->seed, NULL},
        {"threads", WHET_FLAG_INT, &g->threads, NULL},
        {"verbose", WHET_FLAG_BOOL, &g->verbose, NULL},
    };
    const size_t n_gen = sizeof gen / sizeof gen[0];
    whet_flag *all = malloc((n_flags + n_gen) * sizeof *all);
    if (!all) return fail2(cmd, "out of memory");
    if (n_flags) memcpy(all, flags, n_flags * sizeof *all);
    memcpy(all + n_flags, gen, sizeof gen);
    int rc = whet_cli_parse_flags(cmd, argc, argv, all, n_flags + n_gen);
    free(all);
    return rc;
}

void whet_cli_gen_flags_help(FILE *f, int col) {
    static const char *const lines[][2] = {
        {"--temperature T", "0 = greedy (default: greedy unless generation_config.json has do_sample)"},
        {"--top_p P --top_k K --min_p M --repetition_penalty R",
         "sampling filters, HF semantics (default: generation_config.json)"},
        {"--seed S", "a seed reproduces a sample (default 0)"},
        {"--threads N", "CPU threads (default: all cores or WHET_NUM_THREADS)"},
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        int w = 2 + (int)strlen(lines[i][0]);
        if (w < col) fprintf(f, "  %s%*s%s\n", lines[i][0], col - w, "", lines[i][1]);
        else fprintf(f, "  %s\n%*s%s\n", lines[i][0], col, "", lines[i][1]);
    }
}

void whet_cli_gen_sampling(const whet_gen_flags *g, const whet_generation_config *gc, whet_sampler_params *sp) {
    *sp = whet_sampler_defaults();
    sp->temperature = g->set_temperature ? (float)g->temperature : gc->do_sample ? gc->temperature : 0.0f;
    sp->top_p = g->set_top_p ? (float)g->top_p : gc->top_p;
    sp->top_k = g->set_top_k ? (int)g->top_k : gc->do_sample ? gc->top_k : 0;
    sp->min_p = (float)g->min_p;
    sp->repetition_penalty = g->set_rep ? (float)g->repetition_penalty : gc->repetition_penalty;
    sp->seed = g->seed;
}

int whet_cli_gen_max_new_tokens(const whet_gen_flags *g, const whet_generation_config *gc, int fallback) {
    return g->set_max ? (int)g->max_new_tokens : gc->max_new_tokens > 0 ? gc->max_new_tokens : fallback;
}
