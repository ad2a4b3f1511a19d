/* hf_config.h: a Hugging Face model folder's config.json and
 * generation_config.json for the Llama family (model_type llama, qwen2,
 * mistral, qwen3). Both rope spellings are read: rope_theta/rope_scaling and
 * the newer rope_parameters. Unsupported rope types (yarn, longrope...) are
 * an error that names the key. */
#ifndef WHET_IO_HF_CONFIG_H
#define WHET_IO_HF_CONFIG_H
#include <stdbool.h>
#include "core/status.h"

typedef enum { WHET_ARCH_LLAMA, WHET_ARCH_QWEN2, WHET_ARCH_MISTRAL, WHET_ARCH_QWEN3 } whet_arch;

typedef enum {
    WHET_ROPE_DEFAULT,   /* inv_freq = theta^(-2i/d) */
    WHET_ROPE_LINEAR,    /* positions / factor */
    WHET_ROPE_DYNAMIC,   /* NTK-aware theta scaling past the original length */
    WHET_ROPE_LLAMA3,    /* Llama 3.1 frequency-band scaling */
} whet_rope_type;

#define WHET_MAX_EOS 8

typedef struct {
    whet_arch arch;
    char model_type[32];           /* as written in config.json */
    int vocab_size;
    int hidden_size;
    int intermediate_size;
    int n_layers;
    int n_heads;
    int n_kv_heads;                /* GQA: n_heads % n_kv_heads == 0 */
    int head_dim;                  /* hidden_size / n_heads unless config says head_dim */
    int max_position_embeddings;
    float rms_norm_eps;
    bool tie_word_embeddings;
    bool attention_bias;           /* q/k/v biases (qwen2: always) */
    bool o_bias;                   /* o_proj bias (llama attention_bias=true) */
    bool mlp_bias;
    bool qk_norm;                  /* qwen3: RMSNorm on q and k per head */
    int sliding_window;            /* 0 = none */
    /* rope */
    double rope_theta;
    whet_rope_type rope_type;
    double rope_factor;
    double rope_low_freq_factor, rope_high_freq_factor;
    int rope_original_max_pos;
    /* special ids from config.json (-1 when absent) */
    int bos_token_id;
    int pad_token_id;
    int eos_token_ids[WHET_MAX_EOS];
    int n_eos;
    char torch_dtype[16];          /* "float32", "bfloat16", ... ("" if absent) */
} whet_model_config;

whet_status whet_hf_config_load(const char *model_dir, whet_model_config *cfg, whet_error *err);
/* Fill rope inverse frequencies [head_dim/2] for the config's rope type. */
void whet_rope_inv_freq(const whet_model_config *cfg, float *inv_freq);
/* Same for a forward whose longest sequence is `seq_len` positions: differs
 * from whet_rope_inv_freq only for dynamic NTK scaling past the original
 * length (transformers recomputes the base from the current length). */
void whet_rope_inv_freq_for_len(const whet_model_config *cfg, int seq_len, float *inv_freq);

typedef struct {
    bool do_sample;
    float temperature;
    float top_p;
    int top_k;
    float repetition_penalty;
    int max_new_tokens;            /* 0 = unset */
    int eos_token_ids[WHET_MAX_EOS];
    int n_eos;                     /* 0 = use the model config's */
} whet_generation_config;

/* Missing generation_config.json gives transformers' defaults (greedy off unless do_sample). */
whet_status whet_generation_config_load(const char *model_dir, whet_generation_config *gc, whet_error *err);
#endif
