/* pretokenize.h: Hugging Face pre-tokenizers (Split with PCRE2 regexes,
 * ByteLevel, Metaspace, Digits, Whitespace, WhitespaceSplit, Punctuation,
 * Sequence) over a list of pieces, plus the compiled-regex helper the
 * normalizers share. Internal to src/tokenizer. */
#ifndef WHET_TOKENIZER_PRETOKENIZE_H
#define WHET_TOKENIZER_PRETOKENIZE_H
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>
#include "core/status.h"
#include "core/strbuf.h"

/* A regex compiled with UTF + UCP (Unicode \s \w \d, \p{..}) and JIT when available. */
typedef struct {
    pcre2_code *code;
} whet_regex;

whet_status whet_regex_compile(whet_regex *re, const char *pattern, bool literal, const char *where, whet_error *err);
void whet_regex_free(whet_regex *re);
/* Find the next non-empty match at or after `start`: 1 found, 0 none, or an
 * error status when PCRE2 gives up (match/heap/JIT-stack limit). */
int whet_regex_next(const whet_regex *re, pcre2_match_data *md, const char *s, size_t len, size_t start,
                    size_t *mstart, size_t *mend, whet_error *err);

/* Pieces of text being pre-tokenized: ranges into `buf`. `at_origin` marks a
 * piece that begins at offset 0 of the original input (Metaspace "first"). */
typedef struct {
    size_t off, len;
    bool at_origin;
} whet_piece;

typedef struct {
    whet_strbuf buf;
    whet_piece *v;
    size_t n, cap;
} whet_pieces;

void whet_pieces_init(whet_pieces *p);
void whet_pieces_free(whet_pieces *p);
void whet_pieces_clear(whet_pieces *p);
whet_status whet_pieces_push(whet_pieces *p, size_t off, size_t len, bool at_origin, whet_error *err);

typedef enum {
    WHET_SPLIT_REMOVED, WHET_SPLIT_ISOLATED, WHET_SPLIT_MERGED_PREV, WHET_SPLIT_MERGED_NEXT, WHET_SPLIT_CONTIGUOUS,
} whet_split_behavior;

typedef enum {
    WHET_PRE_SPLIT, WHET_PRE_BYTELEVEL, WHET_PRE_METASPACE, WHET_PRE_DIGITS, WHET_PRE_WHITESPACE,
    WHET_PRE_WHITESPACE_SPLIT, WHET_PRE_PUNCTUATION,
} whet_pre_kind;

typedef enum { WHET_PREPEND_ALWAYS, WHET_PREPEND_FIRST, WHET_PREPEND_NEVER } whet_prepend_scheme;

typedef struct {
    whet_pre_kind kind;
    whet_regex re;                /* Split / ByteLevel(use_regex) / Whitespace */
    whet_split_behavior behavior; /* Split, Punctuation */
    bool invert;                  /* Split */
    bool add_prefix_space;        /* ByteLevel */
    bool individual_digits;       /* Digits */
    char replacement[8];          /* Metaspace, UTF-8 */
    whet_prepend_scheme prepend;  /* Metaspace */
    bool split;                   /* Metaspace */
} whet_pre_step;

typedef struct {
    whet_pre_step *steps;
    size_t n;
    bool byte_level;              /* a ByteLevel step is present: pieces are raw bytes for the model */
} whet_pretokenizer;

/* Parse the tokenizer.json "pre_tokenizer" value (NULL / JSON null = none). */
whet_status whet_pretokenizer_parse(const cJSON *j, const char *file, whet_pretokenizer *out, whet_error *err);
void whet_pretokenizer_free(whet_pretokenizer *p);
/* Split one (normalized) segment into words. `in` holds the segment as its
 * only piece; the result is in `out` (`tmp` is scratch). */
whet_status whet_pretokenize(const whet_pretokenizer *p, whet_pieces *in, whet_pieces *out, pcre2_match_data *md,
                             whet_error *err);
#endif
