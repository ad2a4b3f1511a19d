/* attention.h: causal grouped-query attention of inference, reading K and V
 * through per-sequence block tables into a paged pool (model.h's
 * whet_kv_pool layout for one layer). Query t attends to positions
 * 0..pos[t] of its own sequence (within the sliding window when set), minus
 * any position a key mask marks padding. */
#ifndef WHET_OPS_ATTENTION_H
#define WHET_OPS_ATTENTION_H
#include <stdint.h>
#include "core/status.h"
#include "core/threadpool.h"

typedef struct {
    int n_tokens;
    int n_heads, n_kv_heads, head_dim;      /* n_heads % n_kv_heads == 0 (GQA) */
    const int32_t *pos;                     /* [n_tokens] */
    const int32_t *seq_of;                  /* [n_tokens] */
    const int32_t *const *block_tables;     /* [n_seqs][...] block ids */
    int block_size;
    int n_blocks;                           /* blocks in the pool (ids are checked against it) */
    const float *k_cache, *v_cache;         /* this layer: [n_blocks, block_size, n_kv_heads, head_dim] */
    const uint8_t *const *key_mask;         /* NULL, or [n_seqs][positions]: 0 = padding, never attended */
    int sliding_window;                     /* 0 = none; else keys with pos[t] - p >= window are skipped */
    float scale;                            /* 1/sqrt(head_dim) */
} whet_paged_attention;

/* out[n_tokens, n_heads, hd] = softmax(q·kᵀ·scale) · v with q[n_tokens, n_heads, hd].
 * A query with no key to attend to gets zeros. */
whet_status whet_attention_paged(float *out, const float *q, const whet_paged_attention *a, whet_threadpool *pool,
                                 whet_error *err);
#endif
