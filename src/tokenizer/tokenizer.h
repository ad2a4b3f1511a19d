/* tokenizer.h: Hugging Face tokenizers, byte-exact: byte-level BPE (GPT-2 /
 * Qwen / Llama-3 / DeepSeek) and SentencePiece-style BPE with byte fallback
 * (Llama-2 / Mistral), loaded from tokenizer.json (+ tokenizer_config.json
 * for special tokens and the chat template) or from GGUF tokenizer metadata.
 * A loaded tokenizer is never modified: encode/decode may run on many threads
 * at once (all scratch memory is per call). docs/tokenizer.md has the details. */
#ifndef WHET_TOKENIZER_TOKENIZER_H
#define WHET_TOKENIZER_TOKENIZER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/status.h"
#include "core/strbuf.h"

typedef struct whet_tokenizer whet_tokenizer;

typedef enum {
    WHET_TOK_BPE_BYTELEVEL,    /* GPT-2 byte-to-unicode alphabet */
    WHET_TOK_BPE_SPM,          /* ▁ for spaces, <0xNN> byte fallback */
} whet_tokenizer_kind;

typedef enum {
    WHET_TOKEN_NORMAL = 1, WHET_TOKEN_UNKNOWN = 2, WHET_TOKEN_CONTROL = 3,
    WHET_TOKEN_USER_DEFINED = 4, WHET_TOKEN_UNUSED = 5, WHET_TOKEN_BYTE = 6, /* GGUF token_type values */
} whet_token_type;

typedef struct {
    int32_t *ids;
    size_t n, cap;
} whet_tokens;

void whet_tokens_free(whet_tokens *t);
whet_status whet_tokens_push(whet_tokens *t, int32_t id, whet_error *err);

/* Load tokenizer.json, tokenizer_config.json (special tokens, chat_template,
 * add_bos/eos) and chat_template.jinja from a model folder; given a .gguf
 * file instead, its tokenizer.ggml.* vocabulary (whet_tokenizer_load_gguf). */
whet_status whet_tokenizer_load_dir(const char *dir, whet_tokenizer **out, whet_error *err);
/* Load from a tokenizer.json path alone (no tokenizer_config). */
whet_status whet_tokenizer_load_json(const char *path, whet_tokenizer **out, whet_error *err);
/* Load the vocabulary stored in a GGUF file (tokenizer.ggml.*: model gpt2 or
 * llama, tokens, token_type, scores, merges, pre, bos/eos/pad ids, add_bos,
 * chat_template), tokenizing as llama.cpp does for that vocabulary. */
whet_status whet_tokenizer_load_gguf(const char *path, whet_tokenizer **out, whet_error *err);
void whet_tokenizer_free(whet_tokenizer *t);

/* Encode UTF-8 text, appending ids to `out`. add_special: the tokenizer's
 * post-processor (BOS for Llama-2/3). Added/special tokens in the text are
 * matched as HF does (parse_special=false treats them as plain text). */
whet_status whet_tokenizer_encode(const whet_tokenizer *t, const char *text, size_t len, bool add_special,
                                  whet_tokens *out, whet_error *err);
whet_status whet_tokenizer_encode_opts(const whet_tokenizer *t, const char *text, size_t len, bool add_special,
                                       bool parse_special, whet_tokens *out, whet_error *err);
/* Decode like HF decode(ids, skip_special_tokens). */
whet_status whet_tokenizer_decode(const whet_tokenizer *t, const int32_t *ids, size_t n, bool skip_special,
                                  whet_strbuf *out, whet_error *err);

/* Streaming detokenizer: feed generated ids one at a time; text is appended
 * to `out` as soon as it is final: never a partial UTF-8 sequence and never
 * text a later id could still change (a SentencePiece leading space, a
 * byte-fallback run). Concatenating everything fed plus the flush equals
 * whet_tokenizer_decode of all the ids. */
typedef struct {
    const whet_tokenizer *tok;
    whet_tokens ids;
    size_t prefix, read;   /* ids[prefix..read) is the context decoded last time */
    bool skip_special;
} whet_detok_stream;

void whet_detok_init(whet_detok_stream *s, const whet_tokenizer *t, bool skip_special);
whet_status whet_detok_feed(whet_detok_stream *s, int32_t id, whet_strbuf *out, whet_error *err);
/* Append what is still held back (an incomplete tail becomes U+FFFD, as decode does). */
whet_status whet_detok_flush(whet_detok_stream *s, whet_strbuf *out, whet_error *err);
void whet_detok_free(whet_detok_stream *s);

whet_tokenizer_kind whet_tokenizer_get_kind(const whet_tokenizer *t);
int whet_tokenizer_vocab_size(const whet_tokenizer *t);      /* including added tokens */
const char *whet_tokenizer_id_to_piece(const whet_tokenizer *t, int32_t id);  /* raw vocab string or NULL */
/* The model vocabulary's own string for id, before any added token's content
 * (a normalized added token "</s>" is "▁</s>" in id_to_piece, "</s>" here);
 * NULL when id is not in the model vocabulary. */
const char *whet_tokenizer_model_piece(const whet_tokenizer *t, int32_t id);
int32_t whet_tokenizer_piece_to_id(const whet_tokenizer *t, const char *piece); /* -1 when absent */
whet_token_type whet_tokenizer_token_type(const whet_tokenizer *t, int32_t id);
bool whet_tokenizer_is_special(const whet_tokenizer *t, int32_t id);
float whet_tokenizer_score(const whet_tokenizer *t, int32_t id);   /* SPM scores (0 for BPE) */
/* Merges in rank order, "a b" strings (for GGUF export). */
size_t whet_tokenizer_n_merges(const whet_tokenizer *t);
const char *whet_tokenizer_merge(const whet_tokenizer *t, size_t rank);
/* The pre-tokenizer family name llama.cpp uses ("qwen2", "llama-bpe", "deepseek-llm", "default"...). */
const char *whet_tokenizer_pre_name(const whet_tokenizer *t);

/* Special tokens from tokenizer_config.json (-1 when unset) and their text. */
int32_t whet_tokenizer_bos_id(const whet_tokenizer *t);
int32_t whet_tokenizer_eos_id(const whet_tokenizer *t);
int32_t whet_tokenizer_pad_id(const whet_tokenizer *t);
const char *whet_tokenizer_bos_token(const whet_tokenizer *t);  /* "" when unset */
const char *whet_tokenizer_eos_token(const whet_tokenizer *t);
bool whet_tokenizer_add_bos(const whet_tokenizer *t);
bool whet_tokenizer_add_eos(const whet_tokenizer *t);
/* The Jinja chat template (tokenizer_config.json chat_template or
 * chat_template.jinja), NULL when the model has none. */
const char *whet_tokenizer_chat_template(const whet_tokenizer *t);
#endif
