/* merge.h: a model's weights as plain f32 tensors for export, with PEFT
 * LoRA adapters merged in (W' = W + scale·B·A, scale = alpha/r or
 * alpha/sqrt(r) for rsLoRA, in fp32, as PEFT's merge_and_unload does), and
 * the Hugging Face folder writer (sharded safetensors + index, config.json
 * with the export dtype, tokenizer/generation files copied, Modelfile),
 * built in a temp dir and renamed into place. */
#ifndef WHET_EXPORT_MERGE_H
#define WHET_EXPORT_MERGE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/dtype.h"
#include "core/status.h"
#include "io/hf_config.h"

typedef struct {
    char name[160];          /* HF name, e.g. "model.layers.0.self_attn.q_proj.weight" */
    int ndim;
    int64_t shape[2];        /* [out, in] for matrices, [n] for vectors */
    int64_t numel;
    float *data;             /* owned */
} whet_export_tensor;

typedef struct {
    whet_model_config cfg;
    char model_dir[4096];
    size_t n;
    whet_export_tensor *t;   /* in transformers' state_dict order (embed, layers..., norm, lm_head) */
} whet_export_model;

/* Load config.json and every tensor of a Hugging Face folder as f32. */
whet_status whet_export_load(const char *model_dir, whet_export_model *out, whet_error *err);
/* Merge one PEFT adapter folder into the weights. Errors (missing linear,
 * shape mismatch with the base) name the adapter and the tensor. */
whet_status whet_export_merge_adapter(whet_export_model *m, const char *adapter_dir, whet_error *err);
whet_export_tensor *whet_export_find(whet_export_model *m, const char *name);
void whet_export_free(whet_export_model *m);

typedef struct {
    const char *export_dir;
    double export_size_gb;   /* max bytes per shard / 1e9 (transformers' "5GB"); <= 0: one file */
    whet_dtype dtype;        /* F32, BF16 or F16 */
    bool overwrite;          /* replace a non-empty export_dir */
    const char *modelfile;   /* text of the Ollama Modelfile, NULL = none */
} whet_hf_export_opts;

/* Write the folder. A failure leaves export_dir as it was. */
whet_status whet_export_hf(const whet_export_model *m, const whet_hf_export_opts *o, whet_error *err);
/* "float32" / "bfloat16" / "float16" for config.json's torch_dtype. */
const char *whet_export_torch_dtype(whet_dtype t);
/* Refuse a non-empty directory unless `overwrite` (shared by the HF and GGUF writers). */
whet_status whet_export_check_dir(const char *dir, bool overwrite, whet_error *err);
#endif
