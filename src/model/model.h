/* model.h: a loaded Llama-family model (weights + config) and its inference
 * forward pass. K/V are read and written through per-sequence block tables
 * into a pool of fixed-size blocks (paged KV), so one forward call serves a
 * single prompt, `whet generate`, and the server's continuously batched steps
 * alike. Which blocks a sequence owns is decided by infer/ (the allocator);
 * this file only follows the tables. */
#ifndef WHET_MODEL_MODEL_H
#define WHET_MODEL_MODEL_H
#include <stdbool.h>
#include <stdint.h>
#include "core/status.h"
#include "core/threadpool.h"
#include "io/hf_config.h"
#include "io/safetensors.h"
#include "ops/weight.h"

typedef struct {
    whet_weight q_proj, k_proj, v_proj, o_proj;      /* [n_heads*hd, H], [n_kv*hd, H], [n_kv*hd, H], [H, n_heads*hd] */
    whet_weight gate_proj, up_proj, down_proj;       /* [I, H], [I, H], [H, I] */
    const float *q_bias, *k_bias, *v_bias, *o_bias;  /* NULL when the arch has none */
    const float *input_norm, *post_attn_norm;        /* [H] */
    const float *q_norm, *k_norm;                    /* [hd] (qwen3) or NULL */
} whet_layer_weights;

typedef struct whet_model {
    whet_model_config cfg;
    char dir[4096];
    whet_weight embed;             /* [V, H] */
    whet_weight lm_head;           /* [V, H]; same data as embed when tied */
    const float *final_norm;       /* [H] */
    whet_layer_weights *layers;    /* [n_layers] */
    float *rope_inv_freq;          /* [hd/2] */
    whet_safetensors *st;          /* the mapping the weights point into (HF folders) */
    struct whet_gguf *gguf;        /* or the GGUF file's mapping (model_gguf.c) */
    void *owned;                   /* converted / merged weights owned by the model */
    whet_threadpool *pool;         /* NULL = single-threaded */
    /* An adapter that cannot be merged (its base weights are quantized):
     * adapter 0 of this set is added to every token of every forward, before
     * any per-request adapters (whet_model_apply_lora sets it; not owned). */
    const struct whet_lora_set *resident_lora;
} whet_model;

typedef struct {
    /* Keep the on-disk dtype (bf16/f16 are converted per use) instead of
     * converting every weight to f32 at load. */
    bool keep_dtype;
    int n_threads;                 /* <= 0: whet_default_threads() */
} whet_model_load_opts;

/* Load config.json + safetensors from a Hugging Face folder, or a GGUF file
 * (a path ending in .gguf; model_gguf.c). Missing or misshapen tensors are
 * errors naming the tensor. */
whet_status whet_model_load(const char *dir, const whet_model_load_opts *opts, whet_model **out, whet_error *err);
void whet_model_free(whet_model *m);
/* Look a tensor of the model up by its HF name ("model.layers.0.self_attn.q_proj.weight"). */
whet_weight *whet_model_find_weight(whet_model *m, const char *hf_name);

/* ---- paged KV pool ---- */
typedef struct {
    int n_layers, n_kv_heads, head_dim;
    int block_size;                /* tokens per block */
    int n_blocks;
    float *k;                      /* [n_layers, n_blocks, block_size, n_kv_heads, head_dim] */
    float *v;                      /* same */
} whet_kv_pool;

whet_status whet_kv_pool_init(whet_kv_pool *kv, const whet_model_config *cfg, int block_size, int n_blocks, whet_error *err);
void whet_kv_pool_free(whet_kv_pool *kv);

struct whet_lora_set;              /* model/lora_infer.h */

/* One forward step over tokens from one or more sequences. Token t belongs to
 * sequence seq_of[t] and sits at position pos[t]; its K/V are written to
 * block block_tables[seq][pos / block_size], slot pos % block_size. Attention
 * of token t covers positions 0..pos[t] of its own sequence (causal). */
typedef struct {
    int n_tokens;
    const int32_t *tokens;         /* [n_tokens] */
    const int32_t *pos;            /* [n_tokens] */
    const int32_t *seq_of;         /* [n_tokens] index into block_tables */
    int n_seqs;
    const int32_t *const *block_tables; /* [n_seqs][ceil(max_pos+1 / block_size)] */
    int n_logits;                  /* rows of logits wanted */
    const int32_t *logit_rows;     /* [n_logits] token indices whose logits are returned */
    /* Unmerged LoRA (model/lora_infer.h), both NULL for the base model alone:
     * token t adds adapter lora_of[t]'s delta to every linear that adapter
     * adapts; -1 = the base model. One batch may mix adapters. */
    const struct whet_lora_set *lora;
    const int32_t *lora_of;        /* [n_tokens] adapter index or -1 */
} whet_forward_batch;

/* logits: [n_logits, vocab_size]. Scratch is allocated internally and reused
 * across calls through `ws` (init to {0}, free with whet_forward_ws_free). */
typedef struct { void *buf; size_t cap; } whet_forward_ws;
whet_status whet_model_forward(whet_model *m, whet_kv_pool *kv, const whet_forward_batch *b, float *logits,
                               whet_forward_ws *ws, whet_error *err);
/* Same, but also copy the final hidden states (after the last norm) of all
 * tokens into hidden [n_tokens, H] when non-NULL (for tests / embeddings). */
whet_status whet_model_forward_hidden(whet_model *m, whet_kv_pool *kv, const whet_forward_batch *b, float *logits,
                                      float *hidden, whet_forward_ws *ws, whet_error *err);
void whet_forward_ws_free(whet_forward_ws *ws);

/* transformers' model(input_ids, attention_mask) on a padded batch: row b's
 * token p sits at position p, keys whose mask is 0 are never attended (right
 * padding is exact; a left-padded query with no real key before it gets a
 * zero attention output). ids, mask: [B, L]. logits [B, L, V] and
 * hidden_states [n_layers + 1, B, L, H] (HF output_hidden_states: 0 = the
 * embeddings, i = after layer i-1, the last one after the final norm) are
 * filled when non-NULL. Uses a private KV pool; for tests, perplexity and
 * scoring, not for serving. */
whet_status whet_model_forward_padded(whet_model *m, const int32_t *ids, const uint8_t *mask, int B, int L,
                                      float *logits, float *hidden_states, whet_error *err);
/* Same with unmerged LoRA: row b uses adapter lora_of_row[b] of `lora`
 * (-1 = the base model); lora / lora_of_row NULL = the base model. */
whet_status whet_model_forward_padded_lora(whet_model *m, const int32_t *ids, const uint8_t *mask, int B, int L,
                                           const struct whet_lora_set *lora, const int32_t *lora_of_row,
                                           float *logits, float *hidden_states, whet_error *err);
#endif
