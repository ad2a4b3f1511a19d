/* lora.h: the LoRA adapters of a Llama-family model as training holds them:
 * every trainable number (lora_A [r, in], lora_B [out, r] of each adapted
 * linear) in ONE flat f32 slab, laid out layer by layer, with gradients in a
 * second slab of the same layout, so the optimizer, gradient clipping,
 * checkpoints and (later) ZeRO sharding treat them as one vector and
 * "layer L's gradients" are one contiguous range. Also: target parsing
 * (`lora_target: all` or a list), PEFT's initialisation, and conversion
 * to/from the PEFT adapter files (io/peft_adapter.h).
 *   y = x·Wᵀ + scale · (dropout(x)·Aᵀ)·Bᵀ,  scale = alpha/r (alpha/√r for rsLoRA) */
#ifndef WHET_MODEL_LORA_H
#define WHET_MODEL_LORA_H
#include <stdbool.h>
#include <stdint.h>
#include "core/status.h"
#include "io/hf_config.h"
#include "io/peft_adapter.h"

typedef enum {
    WHET_MOD_Q, WHET_MOD_K, WHET_MOD_V, WHET_MOD_O, WHET_MOD_GATE, WHET_MOD_UP, WHET_MOD_DOWN, WHET_MOD_COUNT
} whet_lora_module;

/* "q_proj", ..., "down_proj" (PEFT / HF module names). */
const char *whet_lora_module_name(whet_lora_module m);

typedef struct {
    int r;
    float alpha;
    float dropout;
    bool use_rslora;
    bool target[WHET_MOD_COUNT];
} whet_lora_config;

typedef struct {
    whet_lora_config cfg;
    float scale;
    int n_layers;
    int64_t in[WHET_MOD_COUNT], out[WHET_MOD_COUNT];  /* linear shapes of the model */
    int64_t *a_off;        /* [n_layers * WHET_MOD_COUNT] offset of A in the slabs, -1 = not adapted */
    int64_t *b_off;        /* same for B */
    int64_t *layer_off;    /* [n_layers + 1] slab range of each layer */
    int64_t n_params;
    float *params;         /* [n_params] */
    float *grads;          /* [n_params] */
} whet_lora;

/* Parse `lora_target` values: NULL-terminated names, "all" = every linear of
 * the decoder layers (not lm_head). A name the model has no linear for is an
 * error naming it and listing the valid ones. */
whet_status whet_lora_parse_targets(const char *const *names, bool target[WHET_MOD_COUNT], whet_error *err);

/* Allocate the slabs (zeroed) for `cfg` on a model. r >= 1, some target. */
whet_status whet_lora_create(const whet_model_config *mcfg, const whet_lora_config *cfg, whet_lora *out,
                             whet_error *err);
void whet_lora_free(whet_lora *l);

/* PEFT's init: A ~ kaiming_uniform(a=√5) = U(-1/√in, 1/√in), B = 0, from `seed`. */
void whet_lora_init_peft(whet_lora *l, uint64_t seed);

/* A/B of (layer, module), NULL when not adapted. */
float *whet_lora_a(const whet_lora *l, int layer, whet_lora_module m);
float *whet_lora_b(const whet_lora *l, int layer, whet_lora_module m);
float *whet_lora_grad_a(const whet_lora *l, int layer, whet_lora_module m);
float *whet_lora_grad_b(const whet_lora *l, int layer, whet_lora_module m);

/* Fill a PEFT adapter (pairs copied out of the slab; free with
 * whet_peft_adapter_free) for saving. */
whet_status whet_lora_to_peft(const whet_lora *l, const char *base_model, whet_peft_adapter *out, whet_error *err);
/* Copy an adapter's tensors into the slab; its r, alpha, rsLoRA and targets
 * must match `l` (else an error saying which differs). */
whet_status whet_lora_load_peft(whet_lora *l, const whet_peft_adapter *a, whet_error *err);
/* Config of an adapter file (to continue training it). */
whet_status whet_lora_config_from_peft(const whet_peft_adapter *a, whet_lora_config *cfg, whet_error *err);
#endif
