/* bpe_tokenizer.h: the whet_tokenizer struct (the whole tokenizer.json
 * pipeline: added tokens, normalizer, pre-tokenizer, BPE model,
 * post-processor, decoder) and tokenizer_config.json's special tokens. Shared
 * by tokenizer*.c and decode.c; internal to src/tokenizer. */
#ifndef WHET_TOKENIZER_BPE_TOKENIZER_H
#define WHET_TOKENIZER_BPE_TOKENIZER_H
#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/normalize.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/tokenizer.h"

typedef enum {
    WHET_DEC_BYTELEVEL, WHET_DEC_REPLACE, WHET_DEC_BYTEFALLBACK, WHET_DEC_FUSE, WHET_DEC_STRIP, WHET_DEC_METASPACE,
} whet_dec_kind;

typedef struct {
    whet_dec_kind kind;
    char *pattern, *content;      /* Replace (literal pattern); Strip content; Metaspace replacement */
    int start, stop;              /* Strip */
    bool prefix;                  /* Metaspace: prepend_scheme != never */
} whet_dec_step;

typedef struct {
    whet_dec_step *steps;
    size_t n;
} whet_decoder;

struct whet_tokenizer {
    whet_tokenizer_kind kind;
    whet_bpe bpe;
    whet_added_vocab added;
    int32_t *added_of_id;         /* id -> index into added.v, -1 when not added; length vocab_size */
    int32_t vocab_size;           /* max id + 1 over model and added tokens */
    whet_normalizer normalizer;
    whet_pretokenizer pre;
    int32_t *post_prefix, *post_suffix; /* post-processor ids around the single sequence */
    size_t n_post_prefix, n_post_suffix;
    whet_decoder decoder;
    bool has_decoder;
    char pre_name[32];            /* llama.cpp pre-tokenizer family */
    /* tokenizer_config.json */
    char *bos_token, *eos_token, *pad_token;
    int32_t bos_id, eos_id, pad_id;
    bool add_bos, add_eos;
    char *chat_template;
    float *scores;                /* SentencePiece-style only, length vocab_size (see whet_tokenizer_score) */
    /* Loaded from a GGUF: its token_type array as stored (length n_gguf_types), and for a
     * SentencePiece-style vocabulary its tokenizer.ggml.merges list (the encoder derives its
     * merges from the scores instead), so a GGUF written again keeps them (whet convert). */
    int32_t *gguf_types;
    int32_t n_gguf_types;
    char **gguf_merges;
    size_t n_gguf_merges;
    bool has_gguf_merges;
};

/* tokenizer_load.c: parse tokenizer.json's model/added tokens/post-processor/decoder. */
whet_status whet_tokenizer_parse_json(whet_tokenizer *t, const cJSON *root, const char *file, whet_error *err);
/* tokenizer_vocab.c: a folder with vocab.json + merges.txt (+ tokenizer_config.json). */
whet_status whet_tokenizer_load_vocab_merges(const char *dir, whet_tokenizer **out, whet_error *err);
/* decode.c */
whet_status whet_decoder_parse(const cJSON *j, const char *file, whet_decoder *out, whet_error *err);
void whet_decoder_free(whet_decoder *d);
#endif
