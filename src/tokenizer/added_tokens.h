/* added_tokens.h: added and special tokens, matched in the text before the
 * model runs, as tokenizers' AddedVocabulary does: leftmost-longest matching,
 * single_word / lstrip / rstrip, and two sets (raw text for normalized=false
 * tokens, normalized text for normalized=true ones). Internal to src/tokenizer. */
#ifndef WHET_TOKENIZER_ADDED_TOKENS_H
#define WHET_TOKENIZER_ADDED_TOKENS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/status.h"

typedef struct {
    char *content;
    size_t len;
    int32_t id;
    bool single_word, lstrip, rstrip, normalized, special;
    char *pattern;        /* what is searched for: content, or content normalized when `normalized` */
    size_t pattern_len;
    bool renamed;         /* normalizing changed the content: tokenizers then names the token by its
                           * normalized form (decode emits that) and skip_special_tokens no longer
                           * recognises it as special (as tokenizers 0.23 does) */
} whet_added_token;

/* One matching set: token indices bucketed by the pattern's first byte. */
typedef struct {
    int32_t *idx;          /* token indices, grouped by first byte, longest pattern first */
    uint32_t start[257];   /* bucket b is idx[start[b] .. start[b+1]) */
} whet_added_set;

typedef struct {
    whet_added_token *v;
    size_t n;
    whet_added_set raw, norm;
} whet_added_vocab;

/* A piece of a segment: [start, end) bytes, id >= 0 when it is an added token. */
typedef struct {
    size_t start, end;
    int32_t id;
} whet_added_split;

typedef struct {
    whet_added_split *v;
    size_t n, cap;
} whet_added_splits;

void whet_added_vocab_free(whet_added_vocab *av);
/* Build both matching sets once every token's `pattern` is set. */
whet_status whet_added_vocab_build(whet_added_vocab *av, whet_error *err);
/* Split `s` with the raw (normalized=false) or normalized set, like
 * AddedVocabulary::find_matches. `skip_special` ignores special tokens. */
whet_status whet_added_find(const whet_added_vocab *av, bool normalized_set, bool skip_special, const char *s,
                            size_t len, whet_added_splits *out, whet_error *err);
#endif
