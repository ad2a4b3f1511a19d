/* bpe.h: the BPE model shared by the byte-level (GPT-2 / Qwen / Llama-3) and
 * SentencePiece-style (Llama-2 / Mistral) tokenizers: vocabulary hash map,
 * merge table, and the per-word merge loop. Internal to src/tokenizer. */
#ifndef WHET_TOKENIZER_BPE_H
#define WHET_TOKENIZER_BPE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/status.h"
#include "tokenizer/tokenizer.h"

/* Byte string -> id, open addressing (linear probing), keys not owned. */
typedef struct {
    const char **keys;
    uint32_t *lens;
    uint32_t *hashes;
    int32_t *vals;     /* -1 marks an empty slot */
    size_t cap;        /* power of two */
    size_t n;
} whet_strmap;

whet_status whet_strmap_init(whet_strmap *m, size_t expected, whet_error *err);
void whet_strmap_free(whet_strmap *m);
/* Insert or overwrite; `key` must outlive the map. */
whet_status whet_strmap_put(whet_strmap *m, const char *key, size_t len, int32_t val, whet_error *err);
int32_t whet_strmap_get(const whet_strmap *m, const char *key, size_t len); /* -1 when absent */
uint32_t whet_hash_bytes(const char *s, size_t len);

/* (left id, right id) -> (rank, merged id). */
typedef struct {
    uint64_t *keys;    /* UINT64_MAX marks an empty slot */
    uint32_t *ranks;
    int32_t *merged;
    size_t cap, n;
} whet_pairmap;

whet_status whet_pairmap_init(whet_pairmap *m, size_t expected, whet_error *err);
void whet_pairmap_free(whet_pairmap *m);
whet_status whet_pairmap_put(whet_pairmap *m, int32_t a, int32_t b, uint32_t rank, int32_t merged, whet_error *err);
/* Returns true and fills rank/merged when the pair merges. */
bool whet_pairmap_get(const whet_pairmap *m, int32_t a, int32_t b, uint32_t *rank, int32_t *merged);

typedef struct {
    bool byte_level;       /* vocab keys are raw bytes (GPT-2 alphabet decoded) */
    int32_t n_vocab;       /* model ids are 0..n_vocab-1 (holes allowed) */
    char **pieces;         /* id -> vocab string as written in tokenizer.json (NULL for holes) */
    uint32_t *piece_lens;
    char **keys;           /* id -> lookup key (raw bytes when byte_level, else == pieces[id]) */
    uint32_t *key_lens;
    whet_strmap vocab;     /* key -> id */
    whet_pairmap merges;
    char **merge_strs;     /* rank -> "a b" */
    size_t n_merges;
    int32_t unk_id;        /* -1 when the model has no unk token */
    bool fuse_unk, byte_fallback, ignore_merges;
    int32_t byte_ids[256]; /* byte_level: id of each single byte; else <0xNN> ids (-1 when absent) */
} whet_bpe;

void whet_bpe_free(whet_bpe *m);

/* Per-call scratch for the merge loop (reused across words). */
typedef struct {
    struct whet_bpe_symbol *syms;
    size_t syms_cap;
    struct whet_bpe_merge *heap;
    size_t heap_cap;
} whet_bpe_scratch;

void whet_bpe_scratch_free(whet_bpe_scratch *s);

/* Tokenize one pre-tokenized word (raw bytes for byte-level models, UTF-8
 * text for SentencePiece-style ones), appending ids to `out`. */
whet_status whet_bpe_encode_word(const whet_bpe *m, const char *word, size_t len, whet_bpe_scratch *s,
                                 whet_tokens *out, whet_error *err);

/* GPT-2's byte <-> unicode alphabet. */
uint32_t whet_byte_to_unicode(uint8_t b);
int whet_unicode_to_byte(uint32_t cp); /* -1 when cp is not in the alphabet */

/* UTF-8 helpers. Returns the length of the sequence at s (1..4), or 0 when
 * it is not valid UTF-8; *cp receives the code point. */
int whet_utf8_decode(const char *s, size_t len, uint32_t *cp);
int whet_utf8_encode(uint32_t cp, char out[4]);
#endif
