/* gguf_lora_export.h: write a PEFT LoRA adapter folder as a GGUF LoRA
 * adapter, the file llama.cpp's convert_lora_to_gguf.py writes and
 * `llama-cli -m base.gguf --lora adapter.gguf` (llama_adapter_lora_init)
 * loads: general.type "adapter", adapter.type "lora", adapter.lora.alpha,
 * general.architecture of the base, tensors "<base gguf name>.lora_a" with
 * ne {in, r} and ".lora_b" with ne {r, out} (PEFT's A [r, in] and B [out, r]
 * bytes as they are), lora_b rows of q/k permuted for arch llama like the
 * base weights. whet reads the file back with --adapter_name_or_path
 * (model/lora_gguf.h). */
#ifndef WHET_EXPORT_GGUF_LORA_EXPORT_H
#define WHET_EXPORT_GGUF_LORA_EXPORT_H
#include <stdbool.h>
#include "core/dtype.h"
#include "core/status.h"

/* Convert `adapter_dir` (adapter_config.json + adapter_model.safetensors),
 * trained on the Hugging Face folder `base_model_dir` (config.json +
 * safetensors: only its config and tensor shapes are read), into the GGUF
 * `out_path`, written atomically (temp name + rename).
 * - dtype: WHET_DT_F32, F16, BF16 or Q8_0 (convert_lora_to_gguf's --outtype);
 *   with Q8_0 a tensor whose rows are not a multiple of 32 (every lora_b of
 *   rank < 32) is stored F16, as the converter falls back.
 * - rsLoRA (use_rslora) has no GGUF key: llama.cpp always scales by
 *   alpha / r, so adapter.lora.alpha is written as lora_alpha * sqrt(r),
 *   which gives PEFT's alpha / sqrt(r). (convert_lora_to_gguf ignores
 *   use_rslora and writes a file that is scaled wrong.) lora_alpha 0 is
 *   refused: llama.cpp reads alpha 0 as "unscaled".
 * - An existing out_path is refused unless `overwrite`; a folder is refused.
 * Errors name the adapter/base/out file and the tensor; nothing is left
 * behind on error. */
whet_status whet_export_gguf_lora(const char *base_model_dir, const char *adapter_dir, const char *out_path,
                                  whet_dtype dtype, bool overwrite, whet_error *err);
#endif
