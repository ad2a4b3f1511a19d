/* normalize.c: Hugging Face normalizers applied to one segment of text (the
 * text between added tokens). Unicode forms go through utf8proc; ASCII-only
 * text is passed through untouched since every form leaves it unchanged. */
#include "tokenizer/normalize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include "tokenizer/bpe.h"

static bool all_ascii(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80) return false;
    return true;
}

static whet_status unicode_form(whet_norm_kind k, const whet_strbuf *in, whet_strbuf *out, whet_error *err) {
    whet_sb_clear(out);
    if (in->len == 0) return WHET_OK;
    if (all_ascii(in->data, in->len)) {
        whet_sb_append(out, in->data, in->len);
        return WHET_OK;
    }
    int opts = UTF8PROC_STABLE;
    if (k == WHET_NORM_NFC || k == WHET_NORM_NFKC) opts |= UTF8PROC_COMPOSE;
    else opts |= UTF8PROC_DECOMPOSE;
    if (k == WHET_NORM_NFKC || k == WHET_NORM_NFKD) opts |= UTF8PROC_COMPAT;
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)in->data, (utf8proc_ssize_t)in->len, &dst,
                                      (utf8proc_option_t)opts);
    if (n < 0) return whet_errorf(err, WHET_ERR_INVALID_ARG, "tokenizer: normalizing text: %s", utf8proc_errmsg(n));
    whet_sb_append(out, (const char *)dst, (size_t)n);
    free(dst);
    return WHET_OK;
}

/* tokenizers' Lowercase maps each char with Rust's char::to_lowercase: the
 * simple mappings plus U+0130 -> "i\u0307" (no context, so capital sigma is
 * always small sigma). */
static void lowercase(const whet_strbuf *in, whet_strbuf *out) {
    whet_sb_clear(out);
    for (size_t i = 0; i < in->len;) {
        uint32_t cp;
        int cl = whet_utf8_decode(in->data + i, in->len - i, &cp);
        if (cl <= 0) cl = 1, cp = (unsigned char)in->data[i];
        char enc[4];
        if (cp == 0x130) {
            whet_sb_append(out, "i\xcc\x87", 3);
        } else {
            uint32_t lo = (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
            whet_sb_append(out, enc, (size_t)whet_utf8_encode(lo, enc));
        }
        i += (size_t)cl;
    }
}

static bool space_at(const char *s, size_t len, size_t i, int *cl) {
    uint32_t cp;
    *cl = whet_utf8_decode(s + i, len - i, &cp);
    if (*cl <= 0) return *cl = 1, false;
    return (cp >= 9 && cp <= 13) || cp == 32 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
           cp == 0x3000;
}

static void strip(const whet_norm_step *st, const whet_strbuf *in, whet_strbuf *out) {
    size_t a = 0, b = in->len;
    int cl;
    if (st->left)
        while (a < b && space_at(in->data, in->len, a, &cl)) a += (size_t)cl;
    if (st->right) {
        size_t last_keep = a;  /* end of the last non-space character */
        for (size_t i = a; i < b; i += (size_t)cl)
            if (!space_at(in->data, in->len, i, &cl)) last_keep = i + (size_t)cl;
        b = last_keep;
    }
    whet_sb_clear(out);
    whet_sb_append(out, in->data + a, b - a);
}

static whet_status replace(const whet_norm_step *st, const whet_strbuf *in, pcre2_match_data *md, whet_strbuf *out,
                           whet_error *err) {
    whet_sb_clear(out);
    size_t prev = 0, a, b;
    int found;
    while ((found = whet_regex_next(&st->re, md, in->data, in->len, prev, &a, &b, err)) == 1) {
        whet_sb_append(out, in->data + prev, a - prev);
        whet_sb_puts(out, st->text);
        prev = b;
    }
    if (found < 0) return (whet_status)found;
    whet_sb_append(out, in->data + prev, in->len - prev);
    return WHET_OK;
}

whet_status whet_normalize(const whet_normalizer *n, const char *s, size_t len, pcre2_match_data *md,
                           whet_strbuf *out, whet_error *err) {
    whet_sb_clear(out);
    whet_sb_append(out, s, len);
    whet_strbuf tmp;
    whet_sb_init(&tmp);
    whet_status st = WHET_OK;
    for (size_t i = 0; i < n->n && st == WHET_OK; i++) {
        const whet_norm_step *step = &n->steps[i];
        switch (step->kind) {
        case WHET_NORM_NFC: case WHET_NORM_NFD: case WHET_NORM_NFKC: case WHET_NORM_NFKD:
            st = unicode_form(step->kind, out, &tmp, err);
            break;
        case WHET_NORM_LOWERCASE: lowercase(out, &tmp); break;
        case WHET_NORM_PREPEND:
            whet_sb_clear(&tmp);
            if (out->len > 0) whet_sb_puts(&tmp, step->text);
            whet_sb_append(&tmp, out->data, out->len);
            break;
        case WHET_NORM_REPLACE: st = replace(step, out, md, &tmp, err); break;
        case WHET_NORM_STRIP: strip(step, out, &tmp); break;
        }
        whet_strbuf t = *out;
        *out = tmp;
        tmp = t;
    }
    whet_sb_free(&tmp);
    if (st == WHET_OK && out->oom) st = whet_errorf(err, WHET_ERR_NOMEM, "tokenizer: out of memory normalizing text");
    if (out->len == 0) whet_sb_append(out, "", 0);
    return st;
}

/* ---- parsing ------------------------------------------------------------ */

static whet_status add_step(whet_normalizer *n, whet_norm_kind k, whet_norm_step **st, whet_error *err) {
    whet_norm_step *v = realloc(n->steps, (n->n + 1) * sizeof *v);
    if (!v) return whet_errorf(err, WHET_ERR_NOMEM, "tokenizer: out of memory");
    n->steps = v;
    *st = &v[n->n++];
    memset(*st, 0, sizeof **st);
    (*st)->kind = k;
    return WHET_OK;
}

static whet_status dup_string(const cJSON *j, const char *key, const char *where, char **out, whet_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsString(v)) return whet_errorf(err, WHET_ERR_FORMAT, "%s.%s: expected a string", where, key);
    *out = strdup(v->valuestring);
    if (!*out) return whet_errorf(err, WHET_ERR_NOMEM, "tokenizer: out of memory");
    return WHET_OK;
}

static whet_status parse_one(const cJSON *j, const char *where, whet_normalizer *n, whet_error *err) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");
    if (!cJSON_IsString(t)) return whet_errorf(err, WHET_ERR_FORMAT, "%s: missing string \"type\"", where);
    const char *type = t->valuestring;
    whet_norm_step *st = NULL;
    static const struct { const char *name; whet_norm_kind kind; } simple[] = {
        {"NFC", WHET_NORM_NFC}, {"NFD", WHET_NORM_NFD}, {"NFKC", WHET_NORM_NFKC},
        {"NFKD", WHET_NORM_NFKD}, {"Lowercase", WHET_NORM_LOWERCASE},
    };
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
        if (strcmp(type, simple[i].name) == 0) return add_step(n, simple[i].kind, &st, err);
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "normalizers");
        if (!cJSON_IsArray(list)) return whet_errorf(err, WHET_ERR_FORMAT, "%s.normalizers: expected an array", where);
        int i = 0;
        char sub[512];
        for (const cJSON *e = list->child; e; e = e->next, i++) {
            snprintf(sub, sizeof sub, "%s.normalizers[%d]", where, i);
            WHET_TRY(parse_one(e, sub, n, err));
        }
        return WHET_OK;
    }
    if (strcmp(type, "Prepend") == 0) {
        WHET_TRY(add_step(n, WHET_NORM_PREPEND, &st, err));
        return dup_string(j, "prepend", where, &st->text, err);
    }
    if (strcmp(type, "Replace") == 0) {
        WHET_TRY(add_step(n, WHET_NORM_REPLACE, &st, err));
        WHET_TRY(dup_string(j, "content", where, &st->text, err));
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(j, "pattern");
        const cJSON *re = pat ? cJSON_GetObjectItemCaseSensitive(pat, "Regex") : NULL;
        const cJSON *lit = pat ? cJSON_GetObjectItemCaseSensitive(pat, "String") : NULL;
        if (cJSON_IsString(re)) return whet_regex_compile(&st->re, re->valuestring, false, where, err);
        if (cJSON_IsString(lit)) return whet_regex_compile(&st->re, lit->valuestring, true, where, err);
        return whet_errorf(err, WHET_ERR_FORMAT, "%s.pattern: expected {\"Regex\": ...} or {\"String\": ...}", where);
    }
    if (strcmp(type, "Strip") == 0) {
        WHET_TRY(add_step(n, WHET_NORM_STRIP, &st, err));
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(j, "strip_left");
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "strip_right");
        st->left = !l || cJSON_IsTrue(l);
        st->right = !r || cJSON_IsTrue(r);
        return WHET_OK;
    }
    return whet_errorf(err, WHET_ERR_UNSUPPORTED,
                       "%s: normalizer type \"%s\" is not supported (supported: Sequence, NFC, NFD, NFKC, NFKD, "
                       "Lowercase, Prepend, Replace, Strip)",
                       where, type);
}

whet_status whet_normalizer_parse(const cJSON *j, const char *file, whet_normalizer *out, whet_error *err) {
    memset(out, 0, sizeof *out);
    if (!j || cJSON_IsNull(j)) return WHET_OK;
    char where[512];
    snprintf(where, sizeof where, "%s: normalizer", file);
    whet_status s = parse_one(j, where, out, err);
    if (s != WHET_OK) whet_normalizer_free(out);
    return s;
}

void whet_normalizer_free(whet_normalizer *n) {
    for (size_t i = 0; i < n->n; i++) {
        free(n->steps[i].text);
        whet_regex_free(&n->steps[i].re);
    }
    free(n->steps);
    memset(n, 0, sizeof *n);
}
