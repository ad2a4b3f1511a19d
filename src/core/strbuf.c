/* strbuf.c: growable string. */
#include "core/strbuf.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void whet_sb_init(whet_strbuf *sb) { memset(sb, 0, sizeof *sb); }
void whet_sb_free(whet_strbuf *sb) { free(sb->data); memset(sb, 0, sizeof *sb); }
void whet_sb_clear(whet_strbuf *sb) { sb->len = 0; if (sb->data) sb->data[0] = 0; }

static bool reserve(whet_strbuf *sb, size_t extra) {
    if (sb->oom) return false;
    if (sb->len + extra + 1 <= sb->cap) return true;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < sb->len + extra + 1) cap *= 2;
    char *d = realloc(sb->data, cap);
    if (!d) { sb->oom = true; return false; }
    sb->data = d;
    sb->cap = cap;
    return true;
}

void whet_sb_append(whet_strbuf *sb, const char *s, size_t n) {
    if (!reserve(sb, n)) return;
    if (n) memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = 0;
}
void whet_sb_puts(whet_strbuf *sb, const char *s) { whet_sb_append(sb, s, strlen(s)); }
void whet_sb_putc(whet_strbuf *sb, char c) { whet_sb_append(sb, &c, 1); }

void whet_sb_printf(whet_strbuf *sb, const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n >= 0 && reserve(sb, (size_t)n)) {
        vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap2);
        sb->len += (size_t)n;
    }
    va_end(ap2);
}

char *whet_sb_take(whet_strbuf *sb) {
    if (!sb->data && !sb->oom) reserve(sb, 0), sb->data[0] = 0;
    char *d = sb->oom ? NULL : sb->data;
    if (sb->oom) free(sb->data);
    memset(sb, 0, sizeof *sb);
    return d;
}
