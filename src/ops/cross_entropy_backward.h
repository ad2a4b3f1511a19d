/* cross_entropy_backward.h: the LM head and token cross-entropy fused, in
 * chunks of rows, forward and backward in one pass: logits for at most
 * `chunk_rows` tokens exist at a time ([chunk_rows, V] fp32), never the
 * [T, V] matrix of the whole batch. Only tokens whose target is not
 * WHET_IGNORE_INDEX (-100, as HF's labels) are computed at all.
 *   T = tokens, H = hidden size, V = vocab size */
#ifndef WHET_OPS_CROSS_ENTROPY_BACKWARD_H
#define WHET_OPS_CROSS_ENTROPY_BACKWARD_H
#include <stdint.h>
#include "core/status.h"
#include "ops/weight.h"

#define WHET_IGNORE_INDEX (-100)

typedef struct {
    const float *hidden;         /* [T, H] final hidden states (after the last norm) */
    const whet_weight *lm_head;  /* [V, H] */
    const int32_t *targets;      /* [T] next-token ids, WHET_IGNORE_INDEX = no loss */
    int64_t T;
    int64_t chunk_rows;          /* <= 0: sized so a chunk's logits take ~64 MiB */
    float grad_scale;            /* dL/dloss_sum: 1/N for a mean over N label tokens */
} whet_ce_args;

typedef struct {
    double loss_sum;             /* Σ over counted tokens of −log softmax(logits)[target] */
    int64_t n_tokens;            /* tokens counted */
} whet_ce_result;

/* dhidden[T, H] += grad_scale · ∂loss_sum/∂hidden when non-NULL (NULL: loss only).
 * A target outside [0, V) is an error naming the token index. */
whet_status whet_lm_head_ce(const whet_ce_args *a, float *dhidden, whet_ce_result *res, whet_error *err);
#endif
