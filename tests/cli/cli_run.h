/* cli_run.h: running the whet binary from CLI tests: a shell command's
 * stdout captured into a string buffer, and shell quoting of arguments. */
#ifndef WHET_TESTS_CLI_RUN_H
#define WHET_TESTS_CLI_RUN_H
#include <stdio.h>
#include <sys/wait.h>
#include "core/strbuf.h"

/* Run `cmd` with /bin/sh, append its stdout to `out`; returns the exit status (-1 if it did not exit). */
static inline int cli_run(const char *cmd, whet_strbuf *out) {
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) whet_sb_append(out, buf, n);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Append `s` single-quoted for /bin/sh. */
static inline void cli_shell_quote(whet_strbuf *sb, const char *s) {
    whet_sb_putc(sb, '\'');
    for (; *s; s++) {
        if (*s == '\'') whet_sb_puts(sb, "'\\''");
        else whet_sb_putc(sb, *s);
    }
    whet_sb_putc(sb, '\'');
}
#endif
