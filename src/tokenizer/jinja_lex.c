/* jinja_lex.c: Jinja source -> tokens, with the whitespace rules transformers
 * uses for chat templates (trim_blocks=True, lstrip_blocks=True, no
 * keep_trailing_newline): {%- -%} {{- -}} {#- -#} strip, {%+ disables lstrip,
 * the first newline after a block or comment tag is dropped, and spaces/tabs
 * before a block tag that starts a line are removed. {% raw %} is kept verbatim. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer/jinja_impl.h"

typedef struct {
    const char *src;
    size_t len, pos;
    const char *what;
    jarena *a;
    jtoken *v;
    size_t n, cap;
    size_t lc_pos;      /* position the line/col cursor stands at */
    int line, col;
    whet_error *err;
} lexer;

static void advance_linecol(lexer *L, size_t to) {
    while (L->lc_pos < to) {
        if (L->src[L->lc_pos] == '\n') L->line++, L->col = 1;
        else if (((unsigned char)L->src[L->lc_pos] & 0xC0) != 0x80) L->col++;
        L->lc_pos++;
    }
}

static whet_status lex_fail(lexer *L, size_t at, const char *msg) {
    advance_linecol(L, at);
    return whet_errorf(L->err, WHET_ERR_FORMAT, "%s:%d:%d: %s", L->what, L->line, L->col, msg);
}

static jtoken *push(lexer *L, jtok_kind kind, size_t at) {
    if (L->n == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 256;
        jtoken *nv = ja_alloc(L->a, cap * sizeof *nv);
        if (!nv) return NULL;
        if (L->n) memcpy(nv, L->v, L->n * sizeof *nv);
        L->v = nv, L->cap = cap;
    }
    advance_linecol(L, at);
    jtoken *t = &L->v[L->n++];
    memset(t, 0, sizeof *t);
    t->kind = kind, t->line = L->line, t->col = L->col;
    return t;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
static bool is_ident0(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Append the UTF-8 encoding of code point cp. */
static size_t put_utf8(char *o, uint32_t cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A string literal at L->pos (on the quote); decodes Python's unicode-escape rules. */
static whet_status lex_string(lexer *L) {
    size_t start = L->pos;
    char q = L->src[L->pos++];
    char *buf = ja_alloc(L->a, L->len - start + 1);
    if (!buf) return whet_errorf(L->err, WHET_ERR_NOMEM, "%s: out of memory", L->what);
    size_t o = 0;
    while (L->pos < L->len && L->src[L->pos] != q) {
        char c = L->src[L->pos++];
        if (c != '\\' || L->pos >= L->len) { buf[o++] = c; continue; }
        char e = L->src[L->pos++];
        int width = 0;
        switch (e) {
        case 'n': buf[o++] = '\n'; break;
        case 't': buf[o++] = '\t'; break;
        case 'r': buf[o++] = '\r'; break;
        case 'a': buf[o++] = '\a'; break;
        case 'b': buf[o++] = '\b'; break;
        case 'f': buf[o++] = '\f'; break;
        case 'v': buf[o++] = '\v'; break;
        case '\\': buf[o++] = '\\'; break;
        case '\'': buf[o++] = '\''; break;
        case '"': buf[o++] = '"'; break;
        case '\n': break;
        case 'x': width = 2; break;
        case 'u': width = 4; break;
        case 'U': width = 8; break;
        default:
            if (e >= '0' && e <= '7') {
                uint32_t cp = (uint32_t)(e - '0');
                for (int k = 0; k < 2 && L->pos < L->len && L->src[L->pos] >= '0' && L->src[L->pos] <= '7'; k++)
                    cp = cp * 8 + (uint32_t)(L->src[L->pos++] - '0');
                o += put_utf8(buf + o, cp);
            } else {
                buf[o++] = '\\', buf[o++] = e;
            }
        }
        if (width) {
            uint32_t cp = 0;
            for (int k = 0; k < width; k++) {
                int h = L->pos < L->len ? hexval(L->src[L->pos]) : -1;
                if (h < 0) return lex_fail(L, L->pos, "truncated \\x/\\u escape in a string literal");
                cp = cp * 16 + (uint32_t)h, L->pos++;
            }
            if (cp > 0x10FFFF) return lex_fail(L, L->pos, "\\U escape beyond U+10FFFF");
            o += put_utf8(buf + o, cp);
        }
    }
    if (L->pos >= L->len) return lex_fail(L, start, "unterminated string literal");
    L->pos++;
    jtoken *t = push(L, JT_STRING, start);
    if (!t) return whet_errorf(L->err, WHET_ERR_NOMEM, "%s: out of memory", L->what);
    t->text.p = buf, t->text.n = o;
    return WHET_OK;
}

static whet_status lex_number(lexer *L, bool after_dot) {
    size_t start = L->pos;
    char *tmp = ja_alloc(L->a, L->len - start + 1);
    if (!tmp) return whet_errorf(L->err, WHET_ERR_NOMEM, "%s: out of memory", L->what);
    size_t o = 0;
    bool is_float = false;
    while (L->pos < L->len && (is_digit(L->src[L->pos]) || L->src[L->pos] == '_'))
        if (L->src[L->pos++] != '_') tmp[o++] = L->src[L->pos - 1];
    if (!after_dot && L->pos + 1 < L->len && L->src[L->pos] == '.' && is_digit(L->src[L->pos + 1])) {
        is_float = true;
        tmp[o++] = L->src[L->pos++];
        while (L->pos < L->len && (is_digit(L->src[L->pos]) || L->src[L->pos] == '_'))
            if (L->src[L->pos++] != '_') tmp[o++] = L->src[L->pos - 1];
    }
    if (!after_dot && L->pos < L->len && (L->src[L->pos] == 'e' || L->src[L->pos] == 'E')) {
        size_t p = L->pos + 1;
        if (p < L->len && (L->src[p] == '+' || L->src[p] == '-')) p++;
        if (p < L->len && is_digit(L->src[p])) {
            is_float = true;
            while (L->pos < p) tmp[o++] = L->src[L->pos++];
            while (L->pos < L->len && is_digit(L->src[L->pos])) tmp[o++] = L->src[L->pos++];
        }
    }
    tmp[o] = 0;
    jtoken *t = push(L, is_float ? JT_FLOAT : JT_INT, start);
    if (!t) return whet_errorf(L->err, WHET_ERR_NOMEM, "%s: out of memory", L->what);
    if (is_float) t->fval = strtod(tmp, NULL);
    else t->ival = strtoll(tmp, NULL, 10);
    t->text.p = L->src + start, t->text.n = L->pos - start;
    return WHET_OK;
}

static const char *const OPS2[] = {"//", "**", "==", "!=", "<=", ">=", NULL};
static const char OPS1[] = "+-*/%~()[]{},.:|=<>;";

/* Lex the inside of a {{ }} or {% %} tag up to its end marker. On return
 * L->pos is past the end marker; *strip_after says a '-' asked to strip
 * whitespace after it, *no_trim says a '+' asked to keep the newline. */
static whet_status lex_tag(lexer *L, bool is_block, size_t tag_start, bool *strip_after, bool *no_trim) {
    int depth = 0;
    char close = is_block ? '%' : '}';
    for (;;) {
        while (L->pos < L->len && is_space(L->src[L->pos])) L->pos++;
        if (L->pos >= L->len)
            return lex_fail(L, tag_start, is_block ? "unclosed '{%' tag (missing '%}')" : "unclosed '{{' (missing '}}')");
        const char *s = L->src + L->pos;
        size_t rest = L->len - L->pos;
        if (depth == 0) {
            bool mod = (s[0] == '-' || (is_block && s[0] == '+'));
            size_t off = mod ? 1 : 0;
            if (rest >= off + 2 && s[off] == close && s[off + 1] == '}') {
                jtoken *t = push(L, is_block ? JT_BLOCK_END : JT_VAR_END, L->pos);
                if (!t) return whet_errorf(L->err, WHET_ERR_NOMEM, "%s: out of memory", L->what);
                *strip_after = s[0] == '-';
                *no_trim = s[0] == '+';
                L->pos += off + 2;
                return WHET_OK;
            }
        }
        if (is_ident0(s[0])) {
            size_t p = 1;
            while (p < rest && (is_ident0(s[p]) || is_digit(s[p]))) p++;
            jtoken *t = push(L, JT_NAME, L->pos);
            if (!t) return whet_errorf(L->err, WHET_ERR_NOMEM, "%s: out of memory", L->what);
            t->text.p = s, t->text.n = p;
            L->pos += p;
            continue;
        }
        if (is_digit(s[0])) {
            bool after_dot = L->n && L->v[L->n - 1].kind == JT_OP && L->v[L->n - 1].text.n == 1 && L->v[L->n - 1].text.p[0] == '.';
            WHET_TRY(lex_number(L, after_dot));
            continue;
        }
        if (s[0] == '\'' || s[0] == '"') { WHET_TRY(lex_string(L)); continue; }
        size_t oplen = 0;
        for (int k = 0; OPS2[k]; k++)
            if (rest >= 2 && s[0] == OPS2[k][0] && s[1] == OPS2[k][1]) { oplen = 2; break; }
        if (!oplen && strchr(OPS1, s[0]) && s[0]) oplen = 1;
        if (!oplen) {
            char msg[64];
            snprintf(msg, sizeof msg, "unexpected character '%c' in a tag", s[0]);
            return lex_fail(L, L->pos, msg);
        }
        if (s[0] == '(' || s[0] == '[' || s[0] == '{') depth++;
        if ((s[0] == ')' || s[0] == ']' || s[0] == '}') && depth > 0) depth--;
        jtoken *t = push(L, JT_OP, L->pos);
        if (!t) return whet_errorf(L->err, WHET_ERR_NOMEM, "%s: out of memory", L->what);
        t->text.p = s, t->text.n = oplen;
        L->pos += oplen;
    }
}

/* Strip what follows a tag end: all whitespace after '-', else one newline for block/comment tags. */
static void after_tag(lexer *L, bool strip_after, bool trim_newline) {
    if (strip_after) while (L->pos < L->len && is_space(L->src[L->pos])) L->pos++;
    else if (trim_newline && L->pos < L->len && L->src[L->pos] == '\n') L->pos++;
}

static whet_status emit_text(lexer *L, size_t from, size_t to) {
    if (to <= from) return WHET_OK;
    jtoken *t = push(L, JT_TEXT, from);
    if (!t) return whet_errorf(L->err, WHET_ERR_NOMEM, "%s: out of memory", L->what);
    t->text.p = L->src + from, t->text.n = to - from;
    return WHET_OK;
}

/* {% raw %} ... {% endraw %}: the text between is emitted verbatim. Returns true when handled. */
static whet_status try_raw(lexer *L, size_t tag_at, bool *handled) {
    *handled = false;
    size_t p = tag_at + 2;
    if (p < L->len && (L->src[p] == '-' || L->src[p] == '+')) p++;
    while (p < L->len && is_space(L->src[p])) p++;
    if (L->len - p < 3 || memcmp(L->src + p, "raw", 3) != 0) return WHET_OK;
    p += 3;
    while (p < L->len && is_space(L->src[p])) p++;
    bool strip = p < L->len && L->src[p] == '-';
    if (strip) p++;
    if (L->len - p < 2 || memcmp(L->src + p, "%}", 2) != 0) return WHET_OK;
    p += 2;
    if (strip) while (p < L->len && is_space(L->src[p])) p++;
    else if (p < L->len && L->src[p] == '\n') p++;
    for (size_t q = p; q + 1 < L->len; q++) {
        if (L->src[q] != '{' || L->src[q + 1] != '%') continue;
        size_t r = q + 2;
        bool lstrip = r < L->len && L->src[r] == '-';
        if (lstrip || (r < L->len && L->src[r] == '+')) r++;
        while (r < L->len && is_space(L->src[r])) r++;
        if (L->len - r < 6 || memcmp(L->src + r, "endraw", 6) != 0) continue;
        r += 6;
        while (r < L->len && is_space(L->src[r])) r++;
        bool rstrip = r < L->len && L->src[r] == '-';
        if (rstrip) r++;
        if (L->len - r < 2 || memcmp(L->src + r, "%}", 2) != 0) continue;
        size_t end = q;
        if (lstrip) while (end > p && is_space(L->src[end - 1])) end--;
        WHET_TRY(emit_text(L, p, end));
        L->pos = r + 2;
        after_tag(L, rstrip, true);
        *handled = true;
        return WHET_OK;
    }
    return lex_fail(L, tag_at, "{% raw %} without {% endraw %}");
}

/* Text before a tag: apply '-' (strip all trailing whitespace) or lstrip_blocks. */
static size_t text_end(lexer *L, size_t from, size_t tag_at, char kind, bool line_starting) {
    char mod = tag_at + 2 < L->len ? L->src[tag_at + 2] : 0;
    size_t end = tag_at;
    if (mod == '-') {
        while (end > from && is_space(L->src[end - 1])) end--;
    } else if (mod != '+' && kind != '{') {
        size_t l = end;
        while (l > from && (L->src[l - 1] == ' ' || L->src[l - 1] == '\t' || L->src[l - 1] == '\f' ||
                            L->src[l - 1] == '\v' || L->src[l - 1] == '\r'))
            l--;
        if (l < end && ((l > from && L->src[l - 1] == '\n') || (l == from && line_starting))) end = l;
    }
    return end;
}

static whet_status lex_main(lexer *L) {
    bool line_starting = true;
    while (L->pos < L->len) {
        size_t tag_at = L->pos;
        char kind = 0;
        for (; tag_at + 1 < L->len; tag_at++) {
            char c = L->src[tag_at + 1];
            if (L->src[tag_at] == '{' && (c == '{' || c == '%' || c == '#')) { kind = c; break; }
        }
        if (!kind) { WHET_TRY(emit_text(L, L->pos, L->len)); break; }
        WHET_TRY(emit_text(L, L->pos, text_end(L, L->pos, tag_at, kind, line_starting)));
        if (kind == '#') {
            const char *end = NULL;
            for (size_t q = tag_at + 2; q + 1 < L->len; q++)
                if (L->src[q] == '#' && L->src[q + 1] == '}') { end = L->src + q; break; }
            if (!end) return lex_fail(L, tag_at, "unclosed comment (missing '#}')");
            size_t q = (size_t)(end - L->src);
            bool strip = q > tag_at + 2 && L->src[q - 1] == '-';
            bool keep = q > tag_at + 2 && L->src[q - 1] == '+';
            L->pos = q + 2;
            after_tag(L, strip, !keep);
        } else {
            bool handled = false;
            if (kind == '%') WHET_TRY(try_raw(L, tag_at, &handled));
            if (!handled) {
                jtoken *t = push(L, kind == '%' ? JT_BLOCK_BEGIN : JT_VAR_BEGIN, tag_at);
                if (!t) return whet_errorf(L->err, WHET_ERR_NOMEM, "%s: out of memory", L->what);
                L->pos = tag_at + 2;
                if (L->pos < L->len && (L->src[L->pos] == '-' || (kind == '%' && L->src[L->pos] == '+'))) L->pos++;
                bool strip_after = false, no_trim = false;
                WHET_TRY(lex_tag(L, kind == '%', tag_at, &strip_after, &no_trim));
                after_tag(L, strip_after, kind == '%' && !no_trim);
            }
        }
        line_starting = L->pos > 0 && L->src[L->pos - 1] == '\n';
    }
    jtoken *t = push(L, JT_EOF, L->len);
    if (!t) return whet_errorf(L->err, WHET_ERR_NOMEM, "%s: out of memory", L->what);
    return WHET_OK;
}

whet_status jinja_lex(const char *src, size_t len, const char *what, jarena *a, jtokens *out, whet_error *err) {
    /* Jinja normalises newlines to "\n" and drops one trailing newline. */
    char *norm = ja_alloc(a, len + 1);
    if (!norm) return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", what);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') { norm[n++] = '\n'; if (i + 1 < len && src[i + 1] == '\n') i++; }
        else norm[n++] = src[i];
    }
    if (n && norm[n - 1] == '\n') n--;
    norm[n] = 0;
    lexer L = {.src = norm, .len = n, .what = what, .a = a, .line = 1, .col = 1, .err = err};
    WHET_TRY(lex_main(&L));
    out->v = L.v, out->n = L.n;
    return WHET_OK;
}
