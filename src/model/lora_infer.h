/* lora_infer.h: unmerged LoRA adapters for inference (vLLM's multi-LoRA,
 * punica's idea on the CPU). A set holds any number of PEFT adapters for one
 * base model, each as per-linear A [r, in] and B [out, r] f32 tensors plus its
 * scale (alpha/r, or alpha/sqrt(r) with use_rslora). The base weights stay
 * untouched and shared: the forward pass (model.h, whet_forward_batch.lora)
 * adds y += scale · (x·Aᵀ)·Bᵀ to every adapted linear of the token rows that
 * use an adapter, so one batch can mix sequences of different adapters and
 * of the base model. Each row's delta is computed from that row alone, so a
 * row's result does not depend on what else is in the batch. */
#ifndef WHET_MODEL_LORA_INFER_H
#define WHET_MODEL_LORA_INFER_H
#include <stdint.h>
#include "core/status.h"
#include "core/threadpool.h"
#include "model/model.h"

/* The linears an adapter may target, in whet_layer_weights order. */
typedef enum {
    WHET_LORA_Q, WHET_LORA_K, WHET_LORA_V, WHET_LORA_O, WHET_LORA_GATE, WHET_LORA_UP, WHET_LORA_DOWN,
    WHET_LORA_N_MODULES
} whet_lora_module;

typedef struct whet_lora_set whet_lora_set;

/* An empty set for model m (its layer count and linear shapes). */
whet_status whet_lora_set_create(const whet_model *m, whet_lora_set **out, whet_error *err);
void whet_lora_set_free(whet_lora_set *s);
/* Load a PEFT adapter folder (adapter_config.json + adapter_model.safetensors),
 * or a GGUF LoRA adapter (.gguf, model/lora_gguf.h), as the next adapter; *index (may be NULL) gets its index (0, 1, ...). A
 * layer or linear the model lacks, or a shape mismatch, is an error naming
 * the folder and the linear; the set is then unchanged. */
whet_status whet_lora_set_add(whet_lora_set *s, const char *adapter_dir, int *index, whet_error *err);
int whet_lora_set_count(const whet_lora_set *s);
/* The scale of adapter `index` (alpha/r or alpha/sqrt(r)). */
float whet_lora_set_scale(const whet_lora_set *s, int index);

/* y[T, out] += scale_a · (x[t]·A_aᵀ)·B_aᵀ for every row t with
 * a = lora_of[t] >= 0 that adapts (layer, module); rows with -1 (the base
 * model) are left as they are. x [T, in]. Rows run in parallel on `pool`
 * (may be NULL). lora_of values must be < whet_lora_set_count. */
void whet_lora_set_apply(const whet_lora_set *s, int layer, whet_lora_module module, const float *x, float *y,
                         int64_t T, const int32_t *lora_of, whet_threadpool *pool);
/* The same with adapter `index` on all T rows (the resident adapter of a
 * quantized base, whet_model.resident_lora). */
whet_status whet_lora_set_apply_all(const whet_lora_set *s, int index, int layer, whet_lora_module module,
                                    const float *x, float *y, int64_t T, whet_threadpool *pool, whet_error *err);
#endif
