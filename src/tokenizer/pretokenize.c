/* pretokenize.c: Hugging Face pre-tokenizers. Every step maps a list of
 * pieces to a new list, splitting like tokenizers' NormalizedString::split:
 * find the matches (regex, literal or a character class), mark the gaps
 * between them, then keep/merge/drop according to the behaviour; empty pieces
 * are dropped. ByteLevel does not rewrite bytes here: the BPE model keys its
 * vocabulary by raw bytes, so the GPT-2 alphabet never has to be materialised. */
#include "tokenizer/pretokenize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include "tokenizer/bpe.h"

/* GPT-2's pattern, used by ByteLevel with use_regex. */
static const char GPT2_PATTERN[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
static const char WHITESPACE_PATTERN[] = "\\w+|[^\\w\\s]+";

whet_status whet_regex_compile(whet_regex *re, const char *pattern, bool literal, const char *where, whet_error *err) {
    int code;
    PCRE2_SIZE off;
    uint32_t opts = literal ? PCRE2_UTF | PCRE2_LITERAL : PCRE2_UTF | PCRE2_UCP;
    re->code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &code, &off, NULL);
    if (!re->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: regex /%s/ does not compile at offset %zu: %s", where, pattern,
                           (size_t)off, (const char *)msg);
    }
    pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE); /* falls back to the interpreter when JIT is unavailable */
    return WHET_OK;
}

void whet_regex_free(whet_regex *re) {
    if (re->code) pcre2_code_free(re->code);
    re->code = NULL;
}

int whet_regex_next(const whet_regex *re, pcre2_match_data *md, const char *s, size_t len, size_t start,
                    size_t *mstart, size_t *mend, whet_error *err) {
    if (!s || len == 0) return 0; /* only empty matches possible, and they are dropped */
    while (start <= len) {
        int rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, start, PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) return 0;
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return whet_errorf(err, WHET_ERR_INTERNAL, "tokenizer: regex matching failed at byte %zu of a %zu-byte piece: %s",
                               start, len, (const char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (ov[1] > ov[0]) {
            *mstart = ov[0];
            *mend = ov[1];
            return 1;
        }
        /* an empty match is dropped by every behaviour; step over one character */
        uint32_t cp;
        int cl = ov[0] < len ? whet_utf8_decode(s + ov[0], len - ov[0], &cp) : 1;
        start = ov[0] + (size_t)(cl > 0 ? cl : 1);
    }
    return 0;
}

void whet_pieces_init(whet_pieces *p) {
    memset(p, 0, sizeof *p);
    whet_sb_init(&p->buf);
}

void whet_pieces_free(whet_pieces *p) {
    whet_sb_free(&p->buf);
    free(p->v);
    memset(p, 0, sizeof *p);
}

void whet_pieces_clear(whet_pieces *p) {
    whet_sb_clear(&p->buf);
    p->n = 0;
}

whet_status whet_pieces_push(whet_pieces *p, size_t off, size_t len, bool at_origin, whet_error *err) {
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        whet_piece *v = realloc(p->v, cap * sizeof *v);
        if (!v) return whet_errorf(err, WHET_ERR_NOMEM, "tokenizer: out of memory splitting text");
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = (whet_piece){off, len, at_origin};
    return WHET_OK;
}

/* ---- splitting ---------------------------------------------------------- */

typedef struct {
    size_t start, end;
    bool match;
} span;

typedef struct {
    span *v;
    size_t n, cap;
} spans;

static whet_status spans_push(spans *s, size_t a, size_t b, bool match, whet_error *err) {
    if (a == b) return WHET_OK;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        span *v = realloc(s->v, cap * sizeof *v);
        if (!v) return whet_errorf(err, WHET_ERR_NOMEM, "tokenizer: out of memory splitting text");
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (span){a, b, match};
    return WHET_OK;
}

static bool is_numeric_cp(uint32_t cp) {
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    return c == UTF8PROC_CATEGORY_ND || c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_NO;
}

static bool is_punct_cp(uint32_t cp) {
    if (cp < 128) return cp > 32 && cp < 127 && !((cp >= '0' && cp <= '9') || ((cp | 32) >= 'a' && (cp | 32) <= 'z'));
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
}

static bool is_space_cp(uint32_t cp) { /* Rust char::is_whitespace (White_Space property) */
    return (cp >= 9 && cp <= 13) || cp == 32 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
           cp == 0x3000;
}

/* Matches of one piece as spans covering it. */
static whet_status find_spans(const whet_pre_step *st, const char *s, size_t len, pcre2_match_data *md, spans *out,
                              whet_error *err) {
    out->n = 0;
    size_t prev = 0;
    if (st->kind == WHET_PRE_SPLIT || st->kind == WHET_PRE_BYTELEVEL || st->kind == WHET_PRE_WHITESPACE) {
        size_t a, b;
        int found;
        while ((found = whet_regex_next(&st->re, md, s, len, prev, &a, &b, err)) == 1) {
            WHET_TRY(spans_push(out, prev, a, false, err));
            WHET_TRY(spans_push(out, a, b, true, err));
            prev = b;
        }
        if (found < 0) return (whet_status)found;
    } else {
        size_t rlen = strlen(st->replacement);
        for (size_t i = 0; i < len;) {
            uint32_t cp;
            int cl = whet_utf8_decode(s + i, len - i, &cp);
            if (cl <= 0) cl = 1;
            bool hit;
            switch (st->kind) {
            case WHET_PRE_DIGITS: hit = is_numeric_cp(cp); break;
            case WHET_PRE_PUNCTUATION: hit = is_punct_cp(cp); break;
            case WHET_PRE_WHITESPACE_SPLIT: hit = is_space_cp(cp); break;
            default: hit = (size_t)cl == rlen && memcmp(s + i, st->replacement, rlen) == 0; break;
            }
            if (hit) {
                WHET_TRY(spans_push(out, prev, i, false, err));
                WHET_TRY(spans_push(out, i, i + (size_t)cl, true, err));
                prev = i + (size_t)cl;
            }
            i += (size_t)cl;
        }
    }
    return spans_push(out, prev, len, false, err);
}

/* Apply a split behaviour in place (tokenizers' NormalizedString::split). */
static void apply_behavior(spans *sp, whet_split_behavior b, bool invert) {
    if (invert)
        for (size_t i = 0; i < sp->n; i++) sp->v[i].match = !sp->v[i].match;
    size_t n = 0;
    bool prev_match = false;
    switch (b) {
    case WHET_SPLIT_ISOLATED:
        for (size_t i = 0; i < sp->n; i++) sp->v[i].match = false;
        return;
    case WHET_SPLIT_REMOVED: return;
    case WHET_SPLIT_CONTIGUOUS:
    case WHET_SPLIT_MERGED_PREV:
        for (size_t i = 0; i < sp->n; i++) {
            bool m = sp->v[i].match;
            bool join = b == WHET_SPLIT_CONTIGUOUS ? m == prev_match : (m && !prev_match);
            if (join && n > 0) sp->v[n - 1].end = sp->v[i].end;
            else sp->v[n++] = (span){sp->v[i].start, sp->v[i].end, false};
            prev_match = m;
        }
        sp->n = n;
        return;
    case WHET_SPLIT_MERGED_NEXT: {
        /* walk backwards, writing from the end of the array */
        size_t w = sp->n;
        for (size_t i = sp->n; i-- > 0;) {
            bool m = sp->v[i].match;
            if (m && !prev_match && w < sp->n) sp->v[w].start = sp->v[i].start;
            else sp->v[--w] = (span){sp->v[i].start, sp->v[i].end, false};
            prev_match = m;
        }
        memmove(sp->v, sp->v + w, (sp->n - w) * sizeof *sp->v);
        sp->n -= w;
        return;
    }
    }
}

static whet_status emit(whet_pieces *out, const char *s, size_t len, bool at_origin, whet_error *err) {
    if (len == 0) return WHET_OK;
    size_t off = out->buf.len;
    whet_sb_append(&out->buf, s, len);
    if (out->buf.oom) return whet_errorf(err, WHET_ERR_NOMEM, "tokenizer: out of memory splitting text");
    return whet_pieces_push(out, off, len, at_origin, err);
}

/* Metaspace: spaces -> replacement, optional prefix; result in `tmp`. */
static void metaspace_rewrite(const whet_pre_step *st, const char *s, size_t len, bool at_origin, whet_strbuf *tmp) {
    size_t rlen = strlen(st->replacement);
    whet_sb_clear(tmp);
    bool starts = len >= rlen && memcmp(s, st->replacement, rlen) == 0;
    bool prefix = !starts && (st->prepend == WHET_PREPEND_ALWAYS || (st->prepend == WHET_PREPEND_FIRST && at_origin));
    /* a leading space becomes the replacement, so it also counts as "starts with" */
    if (len > 0 && s[0] == ' ') prefix = false;
    if (prefix) whet_sb_append(tmp, st->replacement, rlen);
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ' ') whet_sb_append(tmp, st->replacement, rlen);
        else whet_sb_putc(tmp, s[i]);
    }
}

static whet_status run_step(const whet_pre_step *st, const whet_pieces *in, whet_pieces *out, pcre2_match_data *md,
                            spans *sp, whet_strbuf *tmp, whet_error *err) {
    whet_pieces_clear(out);
    for (size_t k = 0; k < in->n; k++) {
        const char *s = in->buf.data + in->v[k].off;
        size_t len = in->v[k].len;
        bool origin = in->v[k].at_origin;
        if (st->kind == WHET_PRE_BYTELEVEL && st->add_prefix_space && !(len > 0 && s[0] == ' ')) {
            whet_sb_clear(tmp);
            whet_sb_putc(tmp, ' ');
            whet_sb_append(tmp, s, len);
            s = tmp->data, len = tmp->len;
        } else if (st->kind == WHET_PRE_METASPACE) {
            metaspace_rewrite(st, s, len, origin, tmp);
            s = tmp->data, len = tmp->len;
            if (!st->split) {
                WHET_TRY(emit(out, s, len, origin, err));
                continue;
            }
        }
        if (tmp->oom) return whet_errorf(err, WHET_ERR_NOMEM, "tokenizer: out of memory splitting text");
        if (st->kind == WHET_PRE_BYTELEVEL && !st->re.code) {
            WHET_TRY(emit(out, s, len, origin, err));
            continue;
        }
        WHET_TRY(find_spans(st, s, len, md, sp, err));
        whet_split_behavior b = st->behavior;
        bool invert = st->invert;
        if (st->kind == WHET_PRE_BYTELEVEL) b = WHET_SPLIT_ISOLATED, invert = false;
        apply_behavior(sp, b, invert);
        for (size_t i = 0; i < sp->n; i++)
            if (!sp->v[i].match)
                WHET_TRY(emit(out, s + sp->v[i].start, sp->v[i].end - sp->v[i].start, origin && sp->v[i].start == 0, err));
    }
    return WHET_OK;
}

whet_status whet_pretokenize(const whet_pretokenizer *p, whet_pieces *in, whet_pieces *out, pcre2_match_data *md,
                             whet_error *err) {
    spans sp = {0};
    whet_strbuf tmp;
    whet_sb_init(&tmp);
    whet_status s = WHET_OK;
    if (p->n == 0) {
        whet_pieces_clear(out);
        for (size_t k = 0; k < in->n && s == WHET_OK; k++)
            s = emit(out, in->buf.data + in->v[k].off, in->v[k].len, in->v[k].at_origin, err);
    }
    for (size_t i = 0; i < p->n && s == WHET_OK; i++) {
        s = run_step(&p->steps[i], in, out, md, &sp, &tmp, err);
        if (s == WHET_OK && i + 1 < p->n) {
            whet_pieces t = *in;
            *in = *out;
            *out = t;
        }
    }
    free(sp.v);
    whet_sb_free(&tmp);
    return s;
}

/* ---- parsing tokenizer.json --------------------------------------------- */

static whet_status parse_behavior(const cJSON *j, const char *where, whet_split_behavior def, whet_split_behavior *out,
                                  whet_error *err) {
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(j, "behavior");
    *out = def;
    if (!b || cJSON_IsNull(b)) return WHET_OK;
    static const char *names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
    for (int i = 0; i < 5; i++)
        if (cJSON_IsString(b) && strcmp(b->valuestring, names[i]) == 0) return *out = (whet_split_behavior)i, WHET_OK;
    return whet_errorf(err, WHET_ERR_FORMAT,
                       "%s.behavior: expected one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous",
                       where);
}

static bool get_bool(const cJSON *j, const char *key, bool def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

static whet_status parse_split(const cJSON *j, const char *where, whet_pre_step *st, whet_error *err) {
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(j, "pattern");
    const cJSON *re = pat ? cJSON_GetObjectItemCaseSensitive(pat, "Regex") : NULL;
    const cJSON *lit = pat ? cJSON_GetObjectItemCaseSensitive(pat, "String") : NULL;
    if (cJSON_IsString(re)) WHET_TRY(whet_regex_compile(&st->re, re->valuestring, false, where, err));
    else if (cJSON_IsString(lit)) WHET_TRY(whet_regex_compile(&st->re, lit->valuestring, true, where, err));
    else return whet_errorf(err, WHET_ERR_FORMAT, "%s.pattern: expected {\"Regex\": ...} or {\"String\": ...}", where);
    st->invert = get_bool(j, "invert", false);
    return parse_behavior(j, where, WHET_SPLIT_REMOVED, &st->behavior, err);
}

static whet_status parse_metaspace(const cJSON *j, const char *where, whet_pre_step *st, whet_error *err) {
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "replacement");
    const char *rep = cJSON_IsString(r) ? r->valuestring : "\xe2\x96\x81";
    uint32_t cp;
    int cl = whet_utf8_decode(rep, strlen(rep), &cp);
    if (cl <= 0 || (size_t)cl != strlen(rep))
        return whet_errorf(err, WHET_ERR_FORMAT, "%s.replacement: expected a single character", where);
    memcpy(st->replacement, rep, (size_t)cl + 1);
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive(j, "prepend_scheme");
    if (cJSON_IsString(ps)) {
        if (strcmp(ps->valuestring, "always") == 0) st->prepend = WHET_PREPEND_ALWAYS;
        else if (strcmp(ps->valuestring, "first") == 0) st->prepend = WHET_PREPEND_FIRST;
        else if (strcmp(ps->valuestring, "never") == 0) st->prepend = WHET_PREPEND_NEVER;
        else return whet_errorf(err, WHET_ERR_FORMAT, "%s.prepend_scheme: expected always, first or never", where);
    } else {
        st->prepend = get_bool(j, "add_prefix_space", true) ? WHET_PREPEND_ALWAYS : WHET_PREPEND_NEVER;
    }
    st->split = get_bool(j, "split", true);
    st->behavior = WHET_SPLIT_MERGED_NEXT;
    return WHET_OK;
}

static whet_status parse_step(const cJSON *j, const char *where, whet_pretokenizer *p, whet_error *err);

static whet_status add_step(whet_pretokenizer *p, whet_pre_step **st, whet_error *err) {
    whet_pre_step *v = realloc(p->steps, (p->n + 1) * sizeof *v);
    if (!v) return whet_errorf(err, WHET_ERR_NOMEM, "tokenizer: out of memory");
    p->steps = v;
    *st = &v[p->n++];
    memset(*st, 0, sizeof **st);
    return WHET_OK;
}

static whet_status parse_step(const cJSON *j, const char *where, whet_pretokenizer *p, whet_error *err) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");
    if (!cJSON_IsString(t)) return whet_errorf(err, WHET_ERR_FORMAT, "%s: missing string \"type\"", where);
    const char *type = t->valuestring;
    char sub[512];
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "pretokenizers");
        if (!cJSON_IsArray(list)) return whet_errorf(err, WHET_ERR_FORMAT, "%s.pretokenizers: expected an array", where);
        int i = 0;
        for (const cJSON *e = list->child; e; e = e->next, i++) {
            snprintf(sub, sizeof sub, "%s.pretokenizers[%d]", where, i);
            WHET_TRY(parse_step(e, sub, p, err));
        }
        return WHET_OK;
    }
    whet_pre_step *st = NULL;
    WHET_TRY(add_step(p, &st, err));
    if (strcmp(type, "Split") == 0) {
        st->kind = WHET_PRE_SPLIT;
        return parse_split(j, where, st, err);
    }
    if (strcmp(type, "ByteLevel") == 0) {
        st->kind = WHET_PRE_BYTELEVEL;
        st->add_prefix_space = get_bool(j, "add_prefix_space", true);
        p->byte_level = true;
        if (get_bool(j, "use_regex", true)) return whet_regex_compile(&st->re, GPT2_PATTERN, false, where, err);
        return WHET_OK;
    }
    if (strcmp(type, "Metaspace") == 0) {
        st->kind = WHET_PRE_METASPACE;
        return parse_metaspace(j, where, st, err);
    }
    if (strcmp(type, "Digits") == 0) {
        st->kind = WHET_PRE_DIGITS;
        st->behavior = get_bool(j, "individual_digits", false) ? WHET_SPLIT_ISOLATED : WHET_SPLIT_CONTIGUOUS;
        return WHET_OK;
    }
    if (strcmp(type, "Whitespace") == 0) {
        st->kind = WHET_PRE_WHITESPACE;
        st->behavior = WHET_SPLIT_REMOVED;
        st->invert = true;
        return whet_regex_compile(&st->re, WHITESPACE_PATTERN, false, where, err);
    }
    if (strcmp(type, "WhitespaceSplit") == 0) {
        st->kind = WHET_PRE_WHITESPACE_SPLIT;
        st->behavior = WHET_SPLIT_REMOVED;
        return WHET_OK;
    }
    if (strcmp(type, "Punctuation") == 0) {
        st->kind = WHET_PRE_PUNCTUATION;
        return parse_behavior(j, where, WHET_SPLIT_ISOLATED, &st->behavior, err);
    }
    p->n--;
    return whet_errorf(err, WHET_ERR_UNSUPPORTED,
                       "%s: pre-tokenizer type \"%s\" is not supported (supported: Sequence, Split, ByteLevel, "
                       "Metaspace, Digits, Whitespace, WhitespaceSplit, Punctuation)",
                       where, type);
}

whet_status whet_pretokenizer_parse(const cJSON *j, const char *file, whet_pretokenizer *out, whet_error *err) {
    memset(out, 0, sizeof *out);
    if (!j || cJSON_IsNull(j)) return WHET_OK;
    char where[512];
    snprintf(where, sizeof where, "%s: pre_tokenizer", file);
    whet_status s = parse_step(j, where, out, err);
    if (s != WHET_OK) whet_pretokenizer_free(out);
    return s;
}

void whet_pretokenizer_free(whet_pretokenizer *p) {
    for (size_t i = 0; i < p->n; i++) whet_regex_free(&p->steps[i].re);
    free(p->steps);
    memset(p, 0, sizeof *p);
}
