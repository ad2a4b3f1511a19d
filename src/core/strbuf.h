/* strbuf.h: a growable byte string (for building JSON, prompts, SSE frames). */
#ifndef WHET_CORE_STRBUF_H
#define WHET_CORE_STRBUF_H
#include <stddef.h>
#include <stdbool.h>

typedef struct {
    char *data;   /* always NUL-terminated when len > 0 or after any append */
    size_t len;
    size_t cap;
    bool oom;     /* set when an append failed; later appends are dropped */
} whet_strbuf;

void whet_sb_init(whet_strbuf *sb);
void whet_sb_free(whet_strbuf *sb);
void whet_sb_clear(whet_strbuf *sb);
void whet_sb_append(whet_strbuf *sb, const char *s, size_t n);
void whet_sb_puts(whet_strbuf *sb, const char *s);
void whet_sb_putc(whet_strbuf *sb, char c);
void whet_sb_printf(whet_strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Take ownership of the buffer (never NULL unless oom); sb is reset. */
char *whet_sb_take(whet_strbuf *sb);
#endif
