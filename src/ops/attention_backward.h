/* attention_backward.h: causal grouped-query attention of training over
 * packed sequences. Sequence s holds tokens [cu_seqlens[s], cu_seqlens[s+1]);
 * a token attends to the tokens of its own sequence up to itself, so packing
 * and padding-free batches need no mask tensor. The forward keeps the
 * log-sum-exp of each score row; the backward recomputes the probabilities
 * from it (as FlashAttention does) instead of storing [T, T] per head.
 *   T = tokens, nh = query heads, nkv = K/V heads (nh % nkv == 0), hd = head_dim */
#ifndef WHET_OPS_ATTENTION_BACKWARD_H
#define WHET_OPS_ATTENTION_BACKWARD_H
#include <stdint.h>
#include "core/status.h"
#include "core/threadpool.h"

typedef struct {
    int64_t T;
    int n_seqs;
    const int32_t *cu_seqlens;   /* [n_seqs + 1], cu_seqlens[0] = 0, cu_seqlens[n_seqs] = T */
    int nh, nkv, hd;
    float scale;                 /* usually 1/sqrt(hd) */
} whet_attn_shape;

/* o[T, nh, hd] = softmax(q·kᵀ·scale + causal) · v; lse[T, nh] saved.
 * q [T, nh, hd], k and v [T, nkv, hd]. */
whet_status whet_attention_train_forward(float *o, float *lse, const float *q, const float *k, const float *v,
                                         const whet_attn_shape *s, whet_threadpool *pool, whet_error *err);

/* dq[T, nh, hd], dk and dv [T, nkv, hd] (overwritten) from dout[T, nh, hd]. */
whet_status whet_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q,
                                    const float *k, const float *v, const float *o, const float *lse,
                                    const whet_attn_shape *s, whet_threadpool *pool, whet_error *err);
#endif
