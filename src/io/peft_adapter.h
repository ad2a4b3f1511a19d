/* peft_adapter.h: PEFT LoRA adapters on disk (adapter_config.json +
 * adapter_model.safetensors, PEFT's tensor names such as
 * base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight), read for
 * chat/export/merge and written by the trainer, so PEFT, vLLM and llama.cpp's
 * converter accept what whet writes. */
#ifndef WHET_IO_PEFT_ADAPTER_H
#define WHET_IO_PEFT_ADAPTER_H
#include <stdbool.h>
#include <stdint.h>
#include "core/status.h"

#define WHET_LORA_MAX_TARGETS 16

/* One adapted linear: lora_A [r, in], lora_B [out, r], both f32 here. */
typedef struct {
    int layer;              /* decoder layer index */
    char module[32];        /* "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj" */
    int64_t in_features, out_features;
    float *a;               /* [r, in]  */
    float *b;               /* [out, r] */
} whet_lora_pair;

typedef struct {
    int r;
    float lora_alpha;
    float lora_dropout;
    bool use_rslora;         /* scale = alpha / sqrt(r) instead of alpha / r */
    int n_targets;
    char targets[WHET_LORA_MAX_TARGETS][32]; /* target_modules as written */
    char base_model_name_or_path[1024];
    int n_pairs;
    whet_lora_pair *pairs;   /* owned */
} whet_peft_adapter;

/* alpha / r, or alpha / sqrt(r) for rsLoRA. */
float whet_peft_adapter_scale(const whet_peft_adapter *a);
/* Read a PEFT adapter folder. Errors name the file and key/tensor. */
whet_status whet_peft_adapter_load(const char *dir, whet_peft_adapter *out, whet_error *err);
/* Write adapter_config.json + adapter_model.safetensors into `dir` (created;
 * each file written atomically). `dtype_name` "float32"/"bfloat16"/"float16". */
whet_status whet_peft_adapter_save(const whet_peft_adapter *a, const char *dir, const char *dtype_name,
                                   whet_error *err);
/* The pair for (layer, module), NULL if that linear is not adapted. */
const whet_lora_pair *whet_peft_adapter_find(const whet_peft_adapter *a, int layer, const char *module);
void whet_peft_adapter_free(whet_peft_adapter *a);
#endif
