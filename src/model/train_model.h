/* train_model.h: the training forward and backward of a Llama-family model
 * (llama, qwen2, mistral, qwen3; GQA, q/k/v biases, tied or separate LM head,
 * Qwen3's q/k norm) with LoRA on its linears. The base weights are frozen
 * (never copied: used through their descriptors); only the LoRA slab gets
 * gradients. The forward keeps the activations the backward needs, or with
 * gradient checkpointing keeps only each layer's input and recomputes the
 * layer right before its backward. Batches are packed: several sequences of
 * different lengths, back to back, with cu_seqlens (no padding tokens).
 *   T = tokens of the batch, H = hidden, V = vocab */
#ifndef WHET_MODEL_TRAIN_MODEL_H
#define WHET_MODEL_TRAIN_MODEL_H
#include <stdbool.h>
#include <stdint.h>
#include "core/status.h"
#include "model/lora.h"
#include "model/model.h"
#include "ops/cross_entropy_backward.h"

/* Called in backward when the gradients of layer `layer` are final
 * (grads[0..n) of the LoRA slab): where a data-parallel all-reduce of that
 * range starts. */
typedef void (*whet_layer_grads_ready_fn)(void *ctx, int layer, float *grads, int64_t n);

typedef struct {
    bool gradient_checkpointing;
    whet_layer_grads_ready_fn on_layer_grads;   /* NULL: none */
    void *hook_ctx;
    int64_t ce_chunk_rows;                      /* <= 0: automatic */
    float neftune_alpha;                        /* > 0: NEFTune noise on the embeddings in training */
} whet_train_opts;

typedef struct {
    int64_t T;
    const int32_t *tokens;      /* [T] */
    const int32_t *pos;         /* [T] position within its sequence */
    const int32_t *targets;     /* [T] next-token label, WHET_IGNORE_INDEX = no loss */
    int n_seqs;
    const int32_t *cu_seqlens;  /* [n_seqs + 1] */
    uint64_t noise_seed;        /* dropout / NEFTune masks of this micro-batch */
    bool training;              /* dropout and NEFTune on */
} whet_train_batch;

typedef struct whet_train_model whet_train_model;

whet_status whet_train_model_create(whet_model *m, whet_lora *lora, const whet_train_opts *opts,
                                    whet_train_model **out, whet_error *err);
void whet_train_model_free(whet_train_model *tm);

/* Forward + backward of one micro-batch: lora->grads += grad_scale · ∂(Σ token losses)/∂params.
 * res gets the summed loss and the number of label tokens. */
whet_status whet_train_forward_backward(whet_train_model *tm, const whet_train_batch *b, float grad_scale,
                                        whet_ce_result *res, whet_error *err);
/* Forward only: the summed loss (eval), and logits [T, V] when non-NULL. */
whet_status whet_train_forward(whet_train_model *tm, const whet_train_batch *b, whet_ce_result *res, float *logits,
                               whet_error *err);
/* Peak activation bytes of the last step (for logs and the benchmark). */
size_t whet_train_model_peak_bytes(const whet_train_model *tm);
#endif
