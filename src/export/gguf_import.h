/* gguf_import.h: read a GGUF file (llama.cpp's or whet's; archs llama,
 * qwen2, qwen3) back into a whet_export_model (merge.h), so it can be
 * merged with adapters and written again by whet_export_gguf: the
 * requantization half of `whet convert` (what llama-quantize does). The
 * config comes from the <arch>.* metadata (io/gguf_config.h), every tensor
 * is dequantized to f32, llama.cpp tensor names are mapped back to Hugging
 * Face names (the inverse of whet_gguf_tensor_name) and arch llama's Q/K
 * rows are un-permuted (whet_gguf_permute_qk inverse), and Llama 3.1's
 * rope_freqs factors turned back into rope parameters. The tokenizer is
 * not part of the model: load it from the same file with
 * whet_tokenizer_load_gguf. */
#ifndef WHET_EXPORT_GGUF_IMPORT_H
#define WHET_EXPORT_GGUF_IMPORT_H
#include <stdbool.h>
#include "core/status.h"
#include "export/merge.h"

typedef struct {
    char name[256];          /* general.name, "" when absent */
    char weight_type[16];    /* stored type of the first block-quantized matrix ("Q4_K"), else of token_embd */
    bool quantized;          /* some matrix is stored in a block type (Q8_0, Q4_K, ...): requantizing loses more */
} whet_gguf_import_info;

/* Load `path` as f32 tensors in the file's tensor order; out->model_dir is
 * set to `path`. Errors name the file and the key or tensor: an unknown
 * architecture, a tensor with no Hugging Face name, a type whet cannot
 * dequantize. A Llama 3.1 rope_freqs.weight becomes the config's rope
 * parameters (whet_llama3_rope_from_factors), not a tensor. `info` may be NULL. */
whet_status whet_export_load_gguf(const char *path, whet_export_model *out, whet_gguf_import_info *info,
                                  whet_error *err);

/* Set c's rope to Llama 3.1 scaling (rope_type, factor, low/high_freq_factor,
 * original_max_position_embeddings) from the n = head_dim/2 values of a
 * GGUF's rope_freqs.weight, such that the GGUF writer recomputes exactly
 * these floats (gguf_import_rope.c explains how). `path` names the file in
 * errors; parameters that reproduce them are not found -> WHET_ERR_UNSUPPORTED. */
whet_status whet_llama3_rope_from_factors(whet_model_config *c, const float *f, int n, const char *path,
                                          whet_error *err);

/* llama.cpp name -> HF name ("blk.3.ffn_up.weight" -> "model.layers.3.mlp.up_proj.weight");
 * false when whet_gguf_tensor_name maps no HF name to it. */
bool whet_gguf_tensor_hf_name(const char *gguf_name, char *out, size_t cap);
#endif
