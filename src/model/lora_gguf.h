/* lora_gguf.h: read a GGUF LoRA adapter (what llama.cpp's
 * convert_lora_to_gguf.py and whet's export/gguf_lora_export.h write, what
 * `llama-cli --lora` takes) into the PEFT layout whet merges
 * (io/peft_adapter.h), so `--adapter_name_or_path adapter.gguf` works like
 * an adapter folder. The checks are llama_adapter_lora_init_impl's:
 * general.type "adapter", adapter.type "lora", general.architecture equal
 * to the model's, every tensor "<base name>.lora_a|.lora_b" in complete
 * pairs (lora_a ne {in, r}, lora_b ne {r, out}; "*_norm.weight" tensors are
 * skipped as llama.cpp skips them). */
#ifndef WHET_MODEL_LORA_GGUF_H
#define WHET_MODEL_LORA_GGUF_H
#include "core/status.h"
#include "io/hf_config.h"
#include "io/peft_adapter.h"

/* Load `path` for a model with config `cfg` (from an HF folder or a GGUF;
 * whet holds both in Hugging Face's q/k row order). Pairs come out as
 * A [r, in] and B [out, r] in f32 (any stored float or block type is
 * dequantized), B rows of q/k un-permuted when the adapter's arch is llama,
 * and r / lora_alpha set so that whet_peft_adapter_scale() is llama.cpp's
 * scale: alpha / r, or 1 when adapter.lora.alpha is 0 or missing. One rank
 * for all pairs (a file mixing ranks is refused). Errors name the file and
 * the tensor or key; free with whet_peft_adapter_free. */
whet_status whet_lora_gguf_load(const char *path, const whet_model_config *cfg, whet_peft_adapter *out,
                                whet_error *err);
#endif
