/* gguf_export.h: write a merged model (merge.h) as a GGUF file llama.cpp
 * loads, laid out as llama.cpp's convert_hf_to_gguf.py (+ llama-quantize for
 * the k-quant mixes) writes it: <arch>.* hyperparameters, tokenizer.ggml.*
 * vocabulary and chat template, llama.cpp tensor names, Q/K rows permuted
 * for arch "llama", norms and biases in f32, and llama-quantize's per-tensor
 * type choices and fallbacks for rows that are not a multiple of the block. */
#ifndef WHET_EXPORT_GGUF_EXPORT_H
#define WHET_EXPORT_GGUF_EXPORT_H
#include "core/dtype.h"
#include "core/status.h"
#include "export/merge.h"
#include "tokenizer/tokenizer.h"

typedef enum {
    WHET_GGUF_FT_F32, WHET_GGUF_FT_F16, WHET_GGUF_FT_BF16, WHET_GGUF_FT_Q8_0, WHET_GGUF_FT_Q4_0,
    WHET_GGUF_FT_Q4_K_M, WHET_GGUF_FT_Q5_K_M, WHET_GGUF_FT_Q6_K,
    WHET_GGUF_FT_Q4_1, WHET_GGUF_FT_Q5_0, WHET_GGUF_FT_Q5_1, WHET_GGUF_FT_Q2_K, WHET_GGUF_FT_Q3_K_S,
    WHET_GGUF_FT_Q3_K_M, WHET_GGUF_FT_Q3_K_L, WHET_GGUF_FT_Q4_K_S, WHET_GGUF_FT_Q5_K_S, WHET_GGUF_FT_COUNT
} whet_gguf_ftype;

/* "f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_k",
 * "q3_k_s", "q3_k_m", "q3_k_l", "q4_k_s", "q4_k_m", "q5_k_s", "q5_k_m",
 * "q6_k" (case-insensitive); an unknown name is an error listing them
 * (with a did-you-mean). */
whet_status whet_gguf_ftype_parse(const char *name, whet_gguf_ftype *out, whet_error *err);
const char *whet_gguf_ftype_name(whet_gguf_ftype ft);
/* llama.cpp's general.file_type (LLAMA_FTYPE_*) for the mix. */
int whet_gguf_ftype_id(whet_gguf_ftype ft);

/* The type llama-quantize (llama_tensor_get_type, no imatrix) would store
 * `gguf_name` in: layer `layer` (-1 outside the blocks) of model `c` (its
 * arch, n_layers, n_heads / n_kv_heads are read), rows of `row_len`
 * elements, `ndim` dims, `tied` when token_embd doubles as the output. */
whet_dtype whet_gguf_tensor_type(whet_gguf_ftype ft, const char *gguf_name, int layer, const whet_model_config *c,
                                 int64_t row_len, int ndim, bool tied);

/* HF tensor name -> llama.cpp name ("model.layers.3.mlp.up_proj.weight" ->
 * "blk.3.ffn_up.weight"); false for a tensor llama.cpp has no name for. */
bool whet_gguf_tensor_name(const char *hf_name, char *out, size_t cap, int *layer);

/* convert_hf_to_gguf's LlamaModel.permute on rows: w [n_head*hd, in] in HF's
 * rotate_half layout -> interleaved pairs; `inverse` undoes it. */
void whet_gguf_permute_qk(const float *w, float *out, int n_head, int64_t rows, int64_t in, bool inverse);

typedef struct {
    const char *path;          /* the .gguf to write (atomically) */
    whet_gguf_ftype ftype;
    const char *name;          /* general.name; NULL: the model folder's basename */
    const whet_tokenizer *tok; /* NULL: loaded from the model folder */
    int n_threads;             /* rows quantized in parallel; <= 0: all cores (WHET_NUM_THREADS) */
} whet_gguf_export_opts;

whet_status whet_export_gguf(const whet_export_model *m, const whet_gguf_export_opts *o, whet_error *err);
#endif
