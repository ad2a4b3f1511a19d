/* decode.c: ids -> text like tokenizers' Tokenizer::decode: model pieces are
 * collected into chunks and run through the decoder chain (ByteLevel,
 * Replace, ByteFallback, Fuse, Strip, Metaspace, Sequence); added tokens are
 * copied verbatim between chunks (or skipped with skip_special_tokens when
 * special). Invalid UTF-8 becomes U+FFFD as Rust's from_utf8_lossy makes it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer/bpe_tokenizer.h"

/* A list of token strings stored back to back. */
typedef struct {
    whet_strbuf text;
    size_t *off, *len;
    size_t n, cap;
} toklist;

static void tl_init(toklist *l) {
    memset(l, 0, sizeof *l);
    whet_sb_init(&l->text);
}

static void tl_free(toklist *l) {
    whet_sb_free(&l->text);
    free(l->off);
    free(l->len);
}

static void tl_clear(toklist *l) {
    whet_sb_clear(&l->text);
    l->n = 0;
}

static bool tl_grow(toklist *l) {
    if (l->n < l->cap) return true;
    size_t cap = l->cap ? l->cap * 2 : 32;
    size_t *o = realloc(l->off, cap * sizeof *o);
    if (!o) return false;
    l->off = o;
    size_t *n = realloc(l->len, cap * sizeof *n);
    if (!n) return false;
    l->len = n;
    l->cap = cap;
    return true;
}

/* Start a new token; its bytes are what gets appended to l->text until the next call. */
static bool tl_begin(toklist *l) {
    if (!tl_grow(l)) return false;
    l->off[l->n] = l->text.len;
    l->len[l->n] = 0;
    l->n++;
    return true;
}

static void tl_append(toklist *l, const char *s, size_t n) {
    whet_sb_append(&l->text, s, n);
    l->len[l->n - 1] += n;
}

static const char *tl_at(const toklist *l, size_t i) { return l->text.data + l->off[i]; }

/* Rust String::from_utf8_lossy: each maximal invalid subpart -> U+FFFD. */
static void append_lossy(whet_strbuf *out, const char *s, size_t len, toklist *l) {
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int cl = whet_utf8_decode(s + i, len - i, &cp);
        if (cl > 0) {
            if (l) tl_append(l, s + i, (size_t)cl);
            else whet_sb_append(out, s + i, (size_t)cl);
            i += (size_t)cl;
            continue;
        }
        /* length of the maximal prefix of a valid sequence (at least 1) */
        const unsigned char *u = (const unsigned char *)s + i;
        size_t need = u[0] >= 0xF0 && u[0] <= 0xF4 ? 4 : u[0] >= 0xE0 && u[0] <= 0xEF ? 3 : u[0] >= 0xC2 && u[0] <= 0xDF ? 2 : 1;
        size_t k = 1;
        while (k < need && i + k < len) {
            unsigned char c = u[k];
            unsigned char lo = 0x80, hi = 0xBF;
            if (k == 1 && u[0] == 0xE0) lo = 0xA0;
            if (k == 1 && u[0] == 0xED) hi = 0x9F;
            if (k == 1 && u[0] == 0xF0) lo = 0x90;
            if (k == 1 && u[0] == 0xF4) hi = 0x8F;
            if (c < lo || c > hi) break;
            k++;
        }
        if (l) tl_append(l, "\xef\xbf\xbd", 3);
        else whet_sb_append(out, "\xef\xbf\xbd", 3);
        i += k;
    }
}

static bool byte_token(const char *s, size_t len, uint8_t *b) {
    if (len != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return false;
    unsigned v;
    char hex[3] = {s[3], s[4], 0};
    if (!((hex[0] >= '0' && hex[0] <= '9') || (hex[0] >= 'A' && hex[0] <= 'F') || (hex[0] >= 'a' && hex[0] <= 'f')) ||
        !((hex[1] >= '0' && hex[1] <= '9') || (hex[1] >= 'A' && hex[1] <= 'F') || (hex[1] >= 'a' && hex[1] <= 'f')))
        return false;
    if (sscanf(hex, "%x", &v) != 1) return false;
    *b = (uint8_t)v;
    return true;
}

static void flush_bytes(toklist *out, whet_strbuf *bytes) {
    if (bytes->len == 0) return;
    bool valid = true;
    uint32_t cp;
    for (size_t i = 0; i < bytes->len && valid;) {
        int cl = whet_utf8_decode(bytes->data + i, bytes->len - i, &cp);
        if (cl <= 0) valid = false;
        else i += (size_t)cl;
    }
    if (valid) {
        tl_begin(out);
        tl_append(out, bytes->data, bytes->len);
    } else {
        for (size_t i = 0; i < bytes->len; i++) {
            tl_begin(out);
            tl_append(out, "\xef\xbf\xbd", 3);
        }
    }
    whet_sb_clear(bytes);
}

static void step_bytelevel(const toklist *in, toklist *out) {
    whet_strbuf raw;
    whet_sb_init(&raw);
    for (size_t i = 0; i < in->n; i++) {
        const char *s = tl_at(in, i);
        size_t len = in->len[i], start = raw.len;
        for (size_t k = 0; k < len;) {
            uint32_t cp;
            int cl = whet_utf8_decode(s + k, len - k, &cp);
            int b = cl > 0 ? whet_unicode_to_byte(cp) : -1;
            if (b < 0) { /* a character outside the alphabet: the token's own bytes */
                raw.len = start;
                whet_sb_append(&raw, s, len);
                break;
            }
            char c = (char)b;
            whet_sb_append(&raw, &c, 1);
            k += (size_t)cl;
        }
    }
    tl_begin(out);
    append_lossy(NULL, raw.data ? raw.data : "", raw.len, out);
    whet_sb_free(&raw);
}

static void step_replace(const whet_dec_step *st, const toklist *in, toklist *out) {
    size_t plen = strlen(st->pattern);
    for (size_t i = 0; i < in->n; i++) {
        const char *s = tl_at(in, i);
        size_t len = in->len[i];
        tl_begin(out);
        for (size_t k = 0; k < len;) {
            if (plen && k + plen <= len && memcmp(s + k, st->pattern, plen) == 0) {
                tl_append(out, st->content, strlen(st->content));
                k += plen;
            } else {
                tl_append(out, s + k, 1);
                k++;
            }
        }
    }
}

static void step_strip(const whet_dec_step *st, const toklist *in, toklist *out) {
    size_t clen = strlen(st->content);
    for (size_t i = 0; i < in->n; i++) {
        const char *s = tl_at(in, i);
        size_t a = 0, b = in->len[i];
        for (int k = 0; k < st->start && clen && a + clen <= b && memcmp(s + a, st->content, clen) == 0; k++) a += clen;
        for (int k = 0; k < st->stop && clen && b >= a + clen && memcmp(s + b - clen, st->content, clen) == 0; k++) b -= clen;
        tl_begin(out);
        tl_append(out, s + a, b - a);
    }
}

static void step_metaspace(const whet_dec_step *st, const toklist *in, toklist *out) {
    size_t rlen = strlen(st->content);
    for (size_t i = 0; i < in->n; i++) {
        const char *s = tl_at(in, i);
        size_t len = in->len[i];
        tl_begin(out);
        for (size_t k = 0; k < len;) {
            if (rlen && k + rlen <= len && memcmp(s + k, st->content, rlen) == 0) {
                if (!(i == 0 && st->prefix)) tl_append(out, " ", 1);
                k += rlen;
            } else {
                tl_append(out, s + k, 1);
                k++;
            }
        }
    }
}

static void run_step(const whet_dec_step *st, const toklist *in, toklist *out) {
    tl_clear(out);
    switch (st->kind) {
    case WHET_DEC_BYTELEVEL: step_bytelevel(in, out); break;
    case WHET_DEC_REPLACE: step_replace(st, in, out); break;
    case WHET_DEC_STRIP: step_strip(st, in, out); break;
    case WHET_DEC_METASPACE: step_metaspace(st, in, out); break;
    case WHET_DEC_FUSE:
        tl_begin(out);
        for (size_t i = 0; i < in->n; i++) tl_append(out, tl_at(in, i), in->len[i]);
        break;
    case WHET_DEC_BYTEFALLBACK: {
        whet_strbuf bytes;
        whet_sb_init(&bytes);
        for (size_t i = 0; i < in->n; i++) {
            uint8_t b;
            if (byte_token(tl_at(in, i), in->len[i], &b)) {
                whet_sb_append(&bytes, (const char *)&b, 1);
                continue;
            }
            flush_bytes(out, &bytes);
            tl_begin(out);
            tl_append(out, tl_at(in, i), in->len[i]);
        }
        flush_bytes(out, &bytes);
        whet_sb_free(&bytes);
        break;
    }
    }
}

/* Run the decoder chain over the token strings in `a`, appending to `out`. */
static void decode_chunk(const whet_tokenizer *t, toklist *a, toklist *b, whet_strbuf *out) {
    if (a->n == 0) return;
    if (!t->has_decoder) {
        for (size_t i = 0; i < a->n; i++) {
            if (i) whet_sb_putc(out, ' ');
            whet_sb_append(out, tl_at(a, i), a->len[i]);
        }
        return;
    }
    for (size_t s = 0; s < t->decoder.n; s++) {
        run_step(&t->decoder.steps[s], a, b);
        toklist x = *a;
        *a = *b;
        *b = x;
    }
    for (size_t i = 0; i < a->n; i++) whet_sb_append(out, tl_at(a, i), a->len[i]);
}

whet_status whet_tokenizer_decode(const whet_tokenizer *t, const int32_t *ids, size_t n, bool skip_special,
                                  whet_strbuf *out, whet_error *err) {
    toklist a, b;
    tl_init(&a);
    tl_init(&b);
    whet_status s = WHET_OK;
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= t->vocab_size) {
            s = whet_errorf(err, WHET_ERR_INVALID_ARG, "decode: id %d at position %zu is outside the vocabulary (size %d)", id,
                            i, t->vocab_size);
            break;
        }
        int32_t ai = t->added_of_id[id];
        const char *piece = NULL;
        size_t plen = 0;
        if (ai >= 0) {
            if (skip_special && t->added.v[ai].special && !t->added.v[ai].renamed) continue;
            piece = t->added.v[ai].content, plen = t->added.v[ai].len;
        } else if (id < t->bpe.n_vocab && t->bpe.pieces[id]) {
            piece = t->bpe.pieces[id], plen = t->bpe.piece_lens[id];
        }
        if (!piece) continue;
        if (!tl_begin(&a)) {
            s = whet_errorf(err, WHET_ERR_NOMEM, "decode: out of memory");
            break;
        }
        tl_append(&a, piece, plen);
    }
    if (s == WHET_OK) decode_chunk(t, &a, &b, out);
    if (s == WHET_OK && (out->oom || a.text.oom || b.text.oom)) s = whet_errorf(err, WHET_ERR_NOMEM, "decode: out of memory");
    whet_sb_append(out, "", 0);
    tl_free(&a);
    tl_free(&b);
    return s;
}

/* ---- parsing ------------------------------------------------------------ */

static whet_status dec_add(whet_decoder *d, whet_dec_kind k, whet_dec_step **st, whet_error *err) {
    whet_dec_step *v = realloc(d->steps, (d->n + 1) * sizeof *v);
    if (!v) return whet_errorf(err, WHET_ERR_NOMEM, "tokenizer: out of memory");
    d->steps = v;
    *st = &v[d->n++];
    memset(*st, 0, sizeof **st);
    (*st)->kind = k;
    return WHET_OK;
}

static char *dup_or(const cJSON *j, const char *key, const char *def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    return strdup(cJSON_IsString(v) ? v->valuestring : def);
}

static whet_status parse_one(const cJSON *j, const char *where, whet_decoder *d, whet_error *err) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");
    if (!cJSON_IsString(t)) return whet_errorf(err, WHET_ERR_FORMAT, "%s: missing string \"type\"", where);
    const char *type = t->valuestring;
    whet_dec_step *st = NULL;
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "decoders");
        if (!cJSON_IsArray(list)) return whet_errorf(err, WHET_ERR_FORMAT, "%s.decoders: expected an array", where);
        int i = 0;
        char sub[512];
        for (const cJSON *e = list->child; e; e = e->next, i++) {
            snprintf(sub, sizeof sub, "%s.decoders[%d]", where, i);
            WHET_TRY(parse_one(e, sub, d, err));
        }
        return WHET_OK;
    }
    if (strcmp(type, "ByteLevel") == 0) return dec_add(d, WHET_DEC_BYTELEVEL, &st, err);
    if (strcmp(type, "ByteFallback") == 0) return dec_add(d, WHET_DEC_BYTEFALLBACK, &st, err);
    if (strcmp(type, "Fuse") == 0) return dec_add(d, WHET_DEC_FUSE, &st, err);
    if (strcmp(type, "Replace") == 0) {
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(j, "pattern");
        const cJSON *lit = pat ? cJSON_GetObjectItemCaseSensitive(pat, "String") : NULL;
        if (!cJSON_IsString(lit))
            return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s.pattern: only {\"String\": ...} patterns are supported in decoders", where);
        WHET_TRY(dec_add(d, WHET_DEC_REPLACE, &st, err));
        st->pattern = strdup(lit->valuestring);
        st->content = dup_or(j, "content", "");
        return st->pattern && st->content ? WHET_OK : whet_errorf(err, WHET_ERR_NOMEM, "tokenizer: out of memory");
    }
    if (strcmp(type, "Strip") == 0) {
        WHET_TRY(dec_add(d, WHET_DEC_STRIP, &st, err));
        st->content = dup_or(j, "content", " ");
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "start"), *b = cJSON_GetObjectItemCaseSensitive(j, "stop");
        st->start = cJSON_IsNumber(a) ? a->valueint : 0;
        st->stop = cJSON_IsNumber(b) ? b->valueint : 0;
        return st->content ? WHET_OK : whet_errorf(err, WHET_ERR_NOMEM, "tokenizer: out of memory");
    }
    if (strcmp(type, "Metaspace") == 0) {
        WHET_TRY(dec_add(d, WHET_DEC_METASPACE, &st, err));
        st->content = dup_or(j, "replacement", "\xe2\x96\x81");
        const cJSON *ps = cJSON_GetObjectItemCaseSensitive(j, "prepend_scheme");
        const cJSON *aps = cJSON_GetObjectItemCaseSensitive(j, "add_prefix_space");
        st->prefix = cJSON_IsString(ps) ? strcmp(ps->valuestring, "never") != 0 : !cJSON_IsFalse(aps);
        return st->content ? WHET_OK : whet_errorf(err, WHET_ERR_NOMEM, "tokenizer: out of memory");
    }
    return whet_errorf(err, WHET_ERR_UNSUPPORTED,
                       "%s: decoder type \"%s\" is not supported (supported: Sequence, ByteLevel, ByteFallback, Fuse, "
                       "Replace, Strip, Metaspace)",
                       where, type);
}

whet_status whet_decoder_parse(const cJSON *j, const char *file, whet_decoder *out, whet_error *err) {
    memset(out, 0, sizeof *out);
    char where[512];
    snprintf(where, sizeof where, "%s: decoder", file);
    whet_status s = parse_one(j, where, out, err);
    if (s != WHET_OK) whet_decoder_free(out);
    return s;
}

void whet_decoder_free(whet_decoder *d) {
    for (size_t i = 0; i < d->n; i++) {
        free(d->steps[i].pattern);
        free(d->steps[i].content);
    }
    free(d->steps);
    memset(d, 0, sizeof *d);
}
