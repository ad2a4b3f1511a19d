/* init_random.h: write a random-weight Hugging Face model folder of any
 * supported shape (`whet init-model`): config.json as given (torch_dtype set
 * to the written dtype) and safetensors shards with an index, every tensor
 * named and shaped exactly as transformers' LlamaForCausalLM /
 * Qwen2ForCausalLM / MistralForCausalLM / Qwen3ForCausalLM state dict.
 * Benchmarks use it for 0.5B-7B shapes without downloading weights. */
#ifndef WHET_MODEL_INIT_RANDOM_H
#define WHET_MODEL_INIT_RANDOM_H
#include <stdint.h>
#include "core/dtype.h"
#include "core/status.h"

typedef struct {
    uint64_t seed;
    whet_dtype dtype;            /* WHET_DT_F32, WHET_DT_BF16 or WHET_DT_F16 */
    double init_std;             /* <= 0: config's initializer_range, else 0.02 */
    int64_t max_shard_bytes;     /* <= 0: 2 GiB, like save_pretrained's max_shard_size="2GB" */
} whet_init_random_opts;

/* Read config_path, write the folder to out_dir (created through a temp
 * directory and renamed, so a failed run leaves nothing half-written; an
 * existing out_dir is an error, never overwritten). Weights ~ N(0, std),
 * biases 0, RMSNorm weights 1, as transformers' _init_weights. */
whet_status whet_model_init_random(const char *config_path, const char *out_dir, const whet_init_random_opts *opts,
                                   whet_error *err);
#endif
