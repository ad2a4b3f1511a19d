/* added_tokens.c: finding added tokens in text (tokenizers' AddedVocabulary
 * find_matches). Tokenizers use an Aho-Corasick automaton in leftmost-longest
 * mode; models have at most a few hundred added tokens, nearly all starting
 * with '<' or '[', so a first-byte bucket with the patterns sorted longest first
 * gives the same matches: the first position where any pattern matches wins,
 * and the longest pattern there. */
#include "tokenizer/added_tokens.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include "tokenizer/bpe.h"

void whet_added_vocab_free(whet_added_vocab *av) {
    for (size_t i = 0; i < av->n; i++) {
        if (av->v[i].pattern != av->v[i].content) free(av->v[i].pattern);
        free(av->v[i].content);
    }
    free(av->v);
    free(av->raw.idx);
    free(av->norm.idx);
    memset(av, 0, sizeof *av);
}

/* Sort key of one pattern: first byte, then longest first, then declaration order. */
typedef struct {
    int first;
    size_t len;
    int32_t idx;
} pattern_key;

static int by_first_byte_then_longest(const void *a, const void *b) {
    const pattern_key *x = a, *y = b;
    if (x->first != y->first) return x->first - y->first;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->idx - y->idx;  /* stable: first declared wins on equal patterns */
}

static whet_status build_set(whet_added_vocab *av, bool normalized, whet_added_set *set, whet_error *err) {
    size_t n = 0;
    set->idx = malloc((av->n + 1) * sizeof *set->idx);
    pattern_key *keys = malloc((av->n + 1) * sizeof *keys);
    if (!set->idx || !keys) return free(keys), whet_errorf(err, WHET_ERR_NOMEM, "tokenizer: out of memory");
    for (size_t i = 0; i < av->n; i++)
        if (av->v[i].normalized == normalized && av->v[i].pattern_len > 0)
            keys[n++] = (pattern_key){(unsigned char)av->v[i].pattern[0], av->v[i].pattern_len, (int32_t)i};
    qsort(keys, n, sizeof *keys, by_first_byte_then_longest);
    size_t k = 0;
    for (int b = 0; b < 256; b++) {
        set->start[b] = (uint32_t)k;
        while (k < n && keys[k].first == b) set->idx[k] = keys[k].idx, k++;
    }
    set->start[256] = (uint32_t)n;
    free(keys);
    return WHET_OK;
}

whet_status whet_added_vocab_build(whet_added_vocab *av, whet_error *err) {
    WHET_TRY(build_set(av, false, &av->raw, err));
    return build_set(av, true, &av->norm, err);
}

/* Rust regex \w (Unicode): alphabetic, marks, decimal digits, connector punctuation, joiners. */
static bool is_word_cp(uint32_t cp) {
    if (cp == 0x200C || cp == 0x200D) return true;
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_ME) || c == UTF8PROC_CATEGORY_ND ||
           c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_PC;
}

static bool is_space_cp(uint32_t cp) {
    return (cp >= 9 && cp <= 13) || cp == 32 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
           cp == 0x3000;
}

/* The code point that ends at byte `end` (end > 0). */
static uint32_t cp_before(const char *s, size_t end, size_t *start) {
    size_t i = end - 1;
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80) i--;
    uint32_t cp = 0;
    if (whet_utf8_decode(s + i, end - i, &cp) == 0) cp = (unsigned char)s[end - 1], i = end - 1;
    *start = i;
    return cp;
}

static whet_status push_split(whet_added_splits *o, size_t a, size_t b, int32_t id, whet_error *err) {
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 16;
        whet_added_split *v = realloc(o->v, cap * sizeof *v);
        if (!v) return whet_errorf(err, WHET_ERR_NOMEM, "tokenizer: out of memory");
        o->v = v;
        o->cap = cap;
    }
    o->v[o->n++] = (whet_added_split){a, b, id};
    return WHET_OK;
}

/* Leftmost-longest match at or after `from`; returns the token index or -1. */
static int32_t next_match(const whet_added_vocab *av, const whet_added_set *set, bool skip_special, const char *s,
                          size_t len, size_t from, size_t *at) {
    for (size_t i = from; i < len; i++) {
        unsigned char b = (unsigned char)s[i];
        for (uint32_t k = set->start[b]; k < set->start[b + 1]; k++) {
            const whet_added_token *t = &av->v[set->idx[k]];
            if (skip_special && t->special) continue;
            if (t->pattern_len <= len - i && memcmp(s + i, t->pattern, t->pattern_len) == 0) {
                *at = i;
                return set->idx[k];
            }
        }
    }
    return -1;
}

whet_status whet_added_find(const whet_added_vocab *av, bool normalized_set, bool skip_special, const char *s,
                            size_t len, whet_added_splits *out, whet_error *err) {
    const whet_added_set *set = normalized_set ? &av->norm : &av->raw;
    out->n = 0;
    size_t start_offset = 0, search = 0, at;
    int32_t k;
    while (set->start[256] > 0 && (k = next_match(av, set, skip_special, s, len, search, &at)) >= 0) {
        const whet_added_token *t = &av->v[k];
        size_t start = at, stop = at + t->pattern_len, p;
        search = stop;
        uint32_t cp;
        if (t->single_word) {
            bool start_space = start == 0 || !is_word_cp(cp_before(s, start, &p));
            bool stop_space = stop == len || whet_utf8_decode(s + stop, len - stop, &cp) == 0 || !is_word_cp(cp);
            if (!start_space || !stop_space) continue;
        }
        if (t->lstrip) {
            size_t ns = start;
            while (ns > 0 && is_space_cp(cp_before(s, ns, &p))) ns = p;
            start = ns > start_offset ? ns : start_offset;
        }
        if (t->rstrip) {
            int cl;
            while (stop < len && (cl = whet_utf8_decode(s + stop, len - stop, &cp)) > 0 && is_space_cp(cp))
                stop += (size_t)cl;
        }
        if (start < start_offset) start = start_offset; /* only after an rstrip ate into this match */
        if (start_offset < start) WHET_TRY(push_split(out, start_offset, start, -1, err));
        WHET_TRY(push_split(out, start, stop, t->id, err));
        start_offset = stop;
    }
    if (start_offset != len) WHET_TRY(push_split(out, start_offset, len, -1, err));
    return WHET_OK;
}
