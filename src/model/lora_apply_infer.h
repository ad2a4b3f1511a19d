/* lora_apply_infer.h: apply a PEFT LoRA adapter (a folder, or a GGUF LoRA
 * adapter file as llama.cpp's --lora takes, model/lora_gguf.h) to a loaded
 * model for inference (whet chat --adapter_name_or_path): every adapted linear gets a
 * new f32 weight W' = W + scale·B·A (scale alpha/r, or alpha/sqrt(r) for
 * rsLoRA), as PEFT's merge_and_unload computes it; the model's weight
 * descriptors point at the merged copies, which the returned handle owns.
 * When an adapted weight is quantized (a GGUF base, as llama.cpp's
 * `-m q4_k_m.gguf --lora x.gguf`), merging would mean requantizing it, so
 * the adapter stays unmerged instead: the handle owns a LoRA set
 * (model/lora_infer.h) that the model's forward adds to every token
 * (whet_model.resident_lora). */
#ifndef WHET_MODEL_LORA_APPLY_INFER_H
#define WHET_MODEL_LORA_APPLY_INFER_H
#include "core/status.h"
#include "model/model.h"

typedef struct whet_lora_merged whet_lora_merged;

/* Errors (missing adapter files, a layer/module the model lacks, shape
 * mismatch, a second adapter on a quantized base) name the adapter folder
 * and the linear; on error the model is unchanged. */
whet_status whet_model_apply_lora(whet_model *m, const char *adapter_dir, whet_lora_merged **out, whet_error *err);
/* Free after the model (the model's weights point into it). */
void whet_lora_merged_free(whet_lora_merged *h);
#endif
