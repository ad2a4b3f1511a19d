/* bench_qwen05b.h: the Qwen2.5-0.5B shape the CPU benchmarks share
 * (bench_forward, bench_train, bench_export): its config.json and a writer
 * of a random-weight bf16 folder of that shape (whet_model_init_random, as
 * `whet init-model`), so no weights need downloading. */
#ifndef WHET_BENCH_QWEN05B_H
#define WHET_BENCH_QWEN05B_H
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include "core/file.h"
#include "model/init_random.h"

static const char *const k_qwen05b_config =
    "{\"architectures\":[\"Qwen2ForCausalLM\"],\"model_type\":\"qwen2\",\"hidden_size\":896,"
    "\"intermediate_size\":4864,\"num_hidden_layers\":24,\"num_attention_heads\":14,\"num_key_value_heads\":2,"
    "\"vocab_size\":151936,\"max_position_embeddings\":32768,\"rms_norm_eps\":1e-06,\"rope_theta\":1000000.0,"
    "\"tie_word_embeddings\":true,\"torch_dtype\":\"bfloat16\",\"bos_token_id\":151643,\"eos_token_id\":151645,"
    "\"hidden_act\":\"silu\",\"use_sliding_window\":false}";

/* The config -> <dir>/config.json -> random bf16 folder <dir>/model (path in model_dir). 0 on success. */
static inline int write_qwen05b(const char *dir, char *model_dir, size_t cap) {
    char cfg[600];
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    FILE *f = fopen(cfg, "w");
    if (!f) return perror(cfg), 1;
    fputs(k_qwen05b_config, f);
    fclose(f);
    snprintf(model_dir, cap, "%s/model", dir);
    whet_error err = {0};
    const whet_init_random_opts o = {.seed = 1, .dtype = WHET_DT_BF16};
    if (whet_model_init_random(cfg, model_dir, &o, &err) != WHET_OK) return fprintf(stderr, "%s\n", err.msg), 1;
    return 0;
}

/* The real Qwen2.5 tokenizer (bundled fixture, WHET_REAL_FIXTURES) into the
 * random folder: a GGUF needs a vocabulary. 0 on success. */
static inline int copy_qwen_tokenizer(const char *dir) {
    static const char *files[] = {"tokenizer.json", "tokenizer_config.json"};
    for (int i = 0; i < 2; i++) {
        char from[700], to[700], *buf = NULL;
        size_t n = 0;
        whet_error err = {0};
        snprintf(from, sizeof from, "%s/tokenizers/qwen2.5/%s", WHET_REAL_FIXTURES, files[i]);
        snprintf(to, sizeof to, "%s/%s", dir, files[i]);
        if (whet_read_file(from, &buf, &n, &err) != WHET_OK) return fprintf(stderr, "%s\n", err.msg), 1;
        FILE *f = fopen(to, "wb");
        bool ok = f && fwrite(buf, 1, n, f) == n;
        if (f) ok = fclose(f) == 0 && ok;
        free(buf);
        if (!ok) return perror(to), 1;
    }
    return 0;
}
#endif
