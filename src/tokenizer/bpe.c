/* bpe.c: the BPE merge loop, its hash maps and the GPT-2 byte alphabet.
 *
 * Written by hand rather than taken from a library because it must reproduce
 * Hugging Face tokenizers' `Word::merge_all` exactly (same tie-breaking: lowest
 * merge rank first, then leftmost position; stale queue entries skipped when the
 * pair under them changed) while staying fast on long inputs. SentencePiece-style
 * tokenizers (Llama-2) have no pre-tokenizer, so one "word" can be a whole
 * paragraph: a naive "rescan for the best pair" loop is O(n^2) there. Here the
 * symbols form a doubly linked list over an array and candidate merges sit in a
 * binary min-heap keyed by (rank, position), so a word of n symbols costs
 * O(n log n). Vocabulary and merges live in open-addressing hash maps (FNV-1a on
 * the bytes; a 64-bit (left id, right id) key for merges), one probe sequence per
 * lookup and no allocation per word. */
#include "tokenizer/bpe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- hash maps ---------------------------------------------------------- */

uint32_t whet_hash_bytes(const char *s, size_t len) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)s[i];
        h *= 16777619u;
    }
    return h;
}

static size_t pow2_at_least(size_t n) {
    size_t c = 16;
    while (c < n) c <<= 1;
    return c;
}

whet_status whet_strmap_init(whet_strmap *m, size_t expected, whet_error *err) {
    memset(m, 0, sizeof *m);
    m->cap = pow2_at_least(expected * 2 + 1);
    m->keys = calloc(m->cap, sizeof *m->keys);
    m->lens = calloc(m->cap, sizeof *m->lens);
    m->hashes = calloc(m->cap, sizeof *m->hashes);
    m->vals = malloc(m->cap * sizeof *m->vals);
    if (!m->keys || !m->lens || !m->hashes || !m->vals) {
        whet_strmap_free(m);
        return whet_errorf(err, WHET_ERR_NOMEM, "tokenizer: out of memory for a %zu-entry vocabulary map", expected);
    }
    for (size_t i = 0; i < m->cap; i++) m->vals[i] = -1;
    return WHET_OK;
}

void whet_strmap_free(whet_strmap *m) {
    free(m->keys);
    free(m->lens);
    free(m->hashes);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static whet_status strmap_grow(whet_strmap *m, whet_error *err) {
    whet_strmap bigger;
    WHET_TRY(whet_strmap_init(&bigger, m->cap, err));
    for (size_t i = 0; i < m->cap; i++)
        if (m->vals[i] >= 0) WHET_TRY(whet_strmap_put(&bigger, m->keys[i], m->lens[i], m->vals[i], err));
    whet_strmap_free(m);
    *m = bigger;
    return WHET_OK;
}

whet_status whet_strmap_put(whet_strmap *m, const char *key, size_t len, int32_t val, whet_error *err) {
    if ((m->n + 1) * 2 > m->cap) WHET_TRY(strmap_grow(m, err));
    uint32_t h = whet_hash_bytes(key, len);
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        if (m->vals[i] < 0) {
            m->keys[i] = key;
            m->lens[i] = (uint32_t)len;
            m->hashes[i] = h;
            m->vals[i] = val;
            m->n++;
            return WHET_OK;
        }
        if (m->hashes[i] == h && m->lens[i] == len && memcmp(m->keys[i], key, len) == 0) {
            m->vals[i] = val;
            return WHET_OK;
        }
    }
}

int32_t whet_strmap_get(const whet_strmap *m, const char *key, size_t len) {
    if (!m->cap) return -1;
    uint32_t h = whet_hash_bytes(key, len);
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        if (m->vals[i] < 0) return -1;
        if (m->hashes[i] == h && m->lens[i] == len && memcmp(m->keys[i], key, len) == 0) return m->vals[i];
    }
}

static uint64_t pair_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

static size_t pair_hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k;
}

whet_status whet_pairmap_init(whet_pairmap *m, size_t expected, whet_error *err) {
    memset(m, 0, sizeof *m);
    m->cap = pow2_at_least(expected * 2 + 1);
    m->keys = malloc(m->cap * sizeof *m->keys);
    m->ranks = malloc(m->cap * sizeof *m->ranks);
    m->merged = malloc(m->cap * sizeof *m->merged);
    if (!m->keys || !m->ranks || !m->merged) {
        whet_pairmap_free(m);
        return whet_errorf(err, WHET_ERR_NOMEM, "tokenizer: out of memory for %zu merges", expected);
    }
    memset(m->keys, 0xff, m->cap * sizeof *m->keys);
    return WHET_OK;
}

void whet_pairmap_free(whet_pairmap *m) {
    free(m->keys);
    free(m->ranks);
    free(m->merged);
    memset(m, 0, sizeof *m);
}

whet_status whet_pairmap_put(whet_pairmap *m, int32_t a, int32_t b, uint32_t rank, int32_t merged, whet_error *err) {
    if ((m->n + 1) * 2 > m->cap) {
        whet_pairmap bigger;
        WHET_TRY(whet_pairmap_init(&bigger, m->cap, err));
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i] != UINT64_MAX)
                WHET_TRY(whet_pairmap_put(&bigger, (int32_t)(m->keys[i] >> 32), (int32_t)(uint32_t)m->keys[i],
                                          m->ranks[i], m->merged[i], err));
        whet_pairmap_free(m);
        *m = bigger;
    }
    uint64_t k = pair_key(a, b);
    size_t mask = m->cap - 1;
    for (size_t i = pair_hash(k) & mask;; i = (i + 1) & mask) {
        if (m->keys[i] == UINT64_MAX || m->keys[i] == k) {
            if (m->keys[i] == UINT64_MAX) m->n++;
            m->keys[i] = k;
            m->ranks[i] = rank;
            m->merged[i] = merged;
            return WHET_OK;
        }
    }
}

bool whet_pairmap_get(const whet_pairmap *m, int32_t a, int32_t b, uint32_t *rank, int32_t *merged) {
    if (!m->cap) return false;
    uint64_t k = pair_key(a, b);
    size_t mask = m->cap - 1;
    for (size_t i = pair_hash(k) & mask;; i = (i + 1) & mask) {
        if (m->keys[i] == UINT64_MAX) return false;
        if (m->keys[i] == k) {
            *rank = m->ranks[i];
            *merged = m->merged[i];
            return true;
        }
    }
}

void whet_bpe_free(whet_bpe *m) {
    for (int32_t i = 0; i < m->n_vocab; i++) {
        if (m->keys && m->keys[i] != m->pieces[i]) free(m->keys[i]);
        if (m->pieces) free(m->pieces[i]);
    }
    free(m->pieces);
    free(m->piece_lens);
    free(m->keys);
    free(m->key_lens);
    for (size_t i = 0; i < m->n_merges; i++) free(m->merge_strs[i]);
    free(m->merge_strs);
    whet_strmap_free(&m->vocab);
    whet_pairmap_free(&m->merges);
    memset(m, 0, sizeof *m);
}

/* ---- the merge loop ----------------------------------------------------- */

struct whet_bpe_symbol {
    int32_t id;
    int32_t prev, next;   /* indices into the symbol array, -1 at the ends */
    uint32_t len;         /* bytes covered; 0 once merged into its left neighbour */
};

struct whet_bpe_merge {
    uint32_t rank;
    uint32_t pos;         /* index of the left symbol */
    int32_t merged;
};

void whet_bpe_scratch_free(whet_bpe_scratch *s) {
    free(s->syms);
    free(s->heap);
    memset(s, 0, sizeof *s);
}

static bool merge_before(const struct whet_bpe_merge *a, const struct whet_bpe_merge *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(struct whet_bpe_merge *h, size_t *n, struct whet_bpe_merge v) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!merge_before(&v, &h[parent])) break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = v;
}

static struct whet_bpe_merge heap_pop(struct whet_bpe_merge *h, size_t *n) {
    struct whet_bpe_merge top = h[0], last = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && merge_before(&h[c + 1], &h[c])) c++;
        if (!merge_before(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n > 0) h[i] = last;
    return top;
}

static whet_status scratch_reserve(whet_bpe_scratch *s, size_t n, whet_error *err) {
    if (n <= s->syms_cap) return WHET_OK;
    size_t cap = n < 64 ? 64 : n * 2;
    void *a = realloc(s->syms, cap * sizeof *s->syms);
    if (!a) return whet_errorf(err, WHET_ERR_NOMEM, "tokenizer: out of memory for a %zu-byte word", n);
    s->syms = a;
    /* every merge pushes at most two entries, so 3n bounds the heap */
    void *b = realloc(s->heap, 3 * cap * sizeof *s->heap);
    if (!b) return whet_errorf(err, WHET_ERR_NOMEM, "tokenizer: out of memory for a %zu-byte word", n);
    s->heap = b;
    s->syms_cap = cap;
    s->heap_cap = 3 * cap;
    return WHET_OK;
}

static void add_symbol(whet_bpe_scratch *s, size_t *n, int32_t id, uint32_t len) {
    struct whet_bpe_symbol *sym = &s->syms[*n];
    sym->id = id;
    sym->len = len;
    sym->prev = (int32_t)*n - 1;
    sym->next = (int32_t)*n + 1;
    (*n)++;
}

/* Initial symbols, as HF's BPE::merge_word builds them: one per character
 * (per byte for byte-level), byte fallback <0xNN>, else (fused) unk. */
static size_t initial_symbols(const whet_bpe *m, const char *w, size_t len, whet_bpe_scratch *s) {
    size_t n = 0;
    if (m->byte_level) {
        for (size_t i = 0; i < len; i++) {
            int32_t id = m->byte_ids[(uint8_t)w[i]];
            if (id >= 0) add_symbol(s, &n, id, 1);
            else if (m->unk_id >= 0) {
                if (m->fuse_unk && n > 0 && s->syms[n - 1].id == m->unk_id) s->syms[n - 1].len++;
                else add_symbol(s, &n, m->unk_id, 1);
            }
        }
        return n;
    }
    int32_t pending_unk_len = 0;  /* HF keeps one pending unk and flushes it late */
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int cl = whet_utf8_decode(w + i, len - i, &cp);
        if (cl == 0) cl = 1;  /* input was validated; stay safe */
        int32_t id = whet_strmap_get(&m->vocab, w + i, (size_t)cl);
        if (id >= 0) {
            if (pending_unk_len) add_symbol(s, &n, m->unk_id, (uint32_t)pending_unk_len), pending_unk_len = 0;
            add_symbol(s, &n, id, (uint32_t)cl);
        } else {
            bool done = false;
            if (m->byte_fallback) {
                bool all = true;
                for (int k = 0; k < cl; k++) all = all && m->byte_ids[(uint8_t)w[i + k]] >= 0;
                if (all) {
                    for (int k = 0; k < cl; k++) add_symbol(s, &n, m->byte_ids[(uint8_t)w[i + k]], 1);
                    done = true;
                }
            }
            if (!done && m->unk_id >= 0) {
                if (pending_unk_len && m->fuse_unk) pending_unk_len += cl;
                else {
                    if (pending_unk_len) add_symbol(s, &n, m->unk_id, (uint32_t)pending_unk_len);
                    pending_unk_len = cl;
                }
            }
        }
        i += (size_t)cl;
    }
    if (pending_unk_len) add_symbol(s, &n, m->unk_id, (uint32_t)pending_unk_len);
    return n;
}

static void push_pair(const whet_bpe *m, whet_bpe_scratch *s, size_t *hn, int32_t pos) {
    const struct whet_bpe_symbol *l = &s->syms[pos];
    if (l->next < 0) return;
    uint32_t rank;
    int32_t merged;
    if (whet_pairmap_get(&m->merges, l->id, s->syms[l->next].id, &rank, &merged))
        heap_push(s->heap, hn, (struct whet_bpe_merge){rank, (uint32_t)pos, merged});
}

whet_status whet_bpe_encode_word(const whet_bpe *m, const char *word, size_t len, whet_bpe_scratch *s,
                                 whet_tokens *out, whet_error *err) {
    if (len == 0) return WHET_OK;
    if (m->ignore_merges) {
        int32_t whole = whet_strmap_get(&m->vocab, word, len);
        if (whole >= 0) return whet_tokens_push(out, whole, err);
    }
    WHET_TRY(scratch_reserve(s, len, err));
    size_t n = initial_symbols(m, word, len, s);
    if (n == 0) return WHET_OK;
    s->syms[n - 1].next = -1;
    size_t hn = 0;
    for (size_t i = 0; i + 1 < n; i++) push_pair(m, s, &hn, (int32_t)i);
    while (hn > 0) {
        struct whet_bpe_merge top = heap_pop(s->heap, &hn);
        struct whet_bpe_symbol *left = &s->syms[top.pos];
        if (left->len == 0 || left->next < 0) continue;
        struct whet_bpe_symbol *right = &s->syms[left->next];
        uint32_t rank;
        int32_t merged;
        if (!whet_pairmap_get(&m->merges, left->id, right->id, &rank, &merged) || merged != top.merged) continue;
        left->id = top.merged;
        left->len += right->len;
        left->next = right->next;
        right->len = 0;
        if (left->next >= 0) s->syms[left->next].prev = (int32_t)top.pos;
        if (left->prev >= 0) push_pair(m, s, &hn, left->prev);
        push_pair(m, s, &hn, (int32_t)top.pos);
    }
    for (int32_t i = 0; i >= 0; i = s->syms[i].next) WHET_TRY(whet_tokens_push(out, s->syms[i].id, err));
    return WHET_OK;
}

/* ---- GPT-2 byte alphabet and UTF-8 ------------------------------------- */

static bool printable_byte(int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); }

/* The 68 bytes outside those ranges map, in byte order, to U+0100.. U+0143:
 * 0x00-0x20 (33), 0x7F-0xA0 (34), 0xAD (1). */
uint32_t whet_byte_to_unicode(uint8_t b) {
    if (printable_byte(b)) return b;
    if (b <= 0x20) return 256u + b;
    if (b >= 0x7F && b <= 0xA0) return 256u + 33u + (uint32_t)(b - 0x7F);
    return 256u + 67u; /* 0xAD */
}

int whet_unicode_to_byte(uint32_t cp) {
    if (cp < 256) return printable_byte((int)cp) ? (int)cp : -1;
    if (cp >= 256 + 68) return -1;
    uint32_t n = cp - 256;
    if (n < 33) return (int)n;
    if (n < 67) return (int)(0x7F + n - 33);
    return 0xAD;
}

int whet_utf8_decode(const char *str, size_t len, uint32_t *cp) {
    const uint8_t *s = (const uint8_t *)str;
    if (len == 0) return 0;
    if (s[0] < 0x80) return *cp = s[0], 1;
    int n;
    uint32_t c, min;
    if ((s[0] & 0xE0) == 0xC0) n = 2, c = s[0] & 0x1F, min = 0x80;
    else if ((s[0] & 0xF0) == 0xE0) n = 3, c = s[0] & 0x0F, min = 0x800;
    else if ((s[0] & 0xF8) == 0xF0) n = 4, c = s[0] & 0x07, min = 0x10000;
    else return 0;
    if ((size_t)n > len) return 0;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    *cp = c;
    return n;
}

int whet_utf8_encode(uint32_t cp, char out[4]) {
    if (cp < 0x80) return out[0] = (char)cp, 1;
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}
