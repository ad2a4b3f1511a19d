/* normalize.h: Hugging Face normalizers (NFC, NFD, NFKC, NFKD via utf8proc;
 * Lowercase, Prepend, Replace, Strip, Sequence). Internal to src/tokenizer. */
#ifndef WHET_TOKENIZER_NORMALIZE_H
#define WHET_TOKENIZER_NORMALIZE_H
#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>
#include "core/status.h"
#include "core/strbuf.h"
#include "tokenizer/pretokenize.h"

typedef enum {
    WHET_NORM_NFC, WHET_NORM_NFD, WHET_NORM_NFKC, WHET_NORM_NFKD, WHET_NORM_LOWERCASE, WHET_NORM_PREPEND,
    WHET_NORM_REPLACE, WHET_NORM_STRIP,
} whet_norm_kind;

typedef struct {
    whet_norm_kind kind;
    char *text;          /* Prepend: prefix; Replace: replacement content */
    whet_regex re;       /* Replace: pattern (literal or regex) */
    bool left, right;    /* Strip */
} whet_norm_step;

typedef struct {
    whet_norm_step *steps;
    size_t n;
} whet_normalizer;

/* Parse tokenizer.json's "normalizer" (NULL / JSON null = none). */
whet_status whet_normalizer_parse(const cJSON *j, const char *file, whet_normalizer *out, whet_error *err);
void whet_normalizer_free(whet_normalizer *n);
/* Normalize `len` bytes into `out` (cleared first). */
whet_status whet_normalize(const whet_normalizer *n, const char *s, size_t len, pcre2_match_data *md,
                           whet_strbuf *out, whet_error *err);
#endif
