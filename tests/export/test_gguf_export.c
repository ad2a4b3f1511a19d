/* test_gguf_export.c: the GGUF exporter (src/export/gguf_export.c).
 * - llama-tiny / qwen2-tiny / llama3-tiny (merged with their PEFT adapters)
 *   written as f32 and q8_0 GGUF, read back with whet_gguf_open: architecture
 *   and hyperparameter keys, llama.cpp tensor names, ggml dims, types
 *   (norms/biases f32, q8_0 elsewhere), output.weight absent when tied,
 *   rope_freqs for llama3 rope;
 * - f32 tensors equal the merged HF tensors exactly, for arch llama after
 *   undoing LlamaModel.permute on attn_q/attn_k (qwen2: stored unpermuted);
 * - the tokenizer loaded from the GGUF encodes strings as the folder's does;
 * - llama-quantize's type choices and fallbacks; a bad type name is refused;
 * - every mix's per-tensor types for the tiny models (rows of 64/160, so
 *   llama-quantize's fallbacks) and for full-size shapes (k-quants kept),
 *   each derived by hand from llama_tensor_get_type (comments below);
 * - q3_k_m (and q2_k) exports load back in whet (whet_model_load on the
 *   .gguf) with finite logits within the measured error of the f32 model:
 *   the tiny fixtures, and a random 256-wide model whose rows keep real
 *   Q2_K/Q3_K/Q4_K/Q5_K/Q6_K tensors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "export/gguf_export.h"
#include "io/gguf.h"
#include "model/init_random.h"
#include "model/model.h"
#include "ops/quant.h"
#include "export_fixture.h"
#include "test.h"
#include "tolerances.h"

static char tmpdir[256];

static void check_u32(const whet_gguf *g, const char *key, uint32_t want) {
    whet_error err = {0};
    uint32_t v = 0;
    CHECK_OK(whet_gguf_get_u32(g, key, &v, &err), &err);
    CHECK_MSG(v == want, "%s = %u, want %u", key, v, want);
}

/* Every HF tensor has its GGUF twin with the same values (un-permuted for llama). */
static void check_tensors_f32(const whet_gguf *g, const whet_export_model *m) {
    bool llama = m->cfg.arch == WHET_ARCH_LLAMA;
    size_t matched = 0;
    for (size_t i = 0; i < m->n; i++) {
        const whet_export_tensor *t = &m->t[i];
        char gname[96];
        int layer;
        CHECK_MSG(whet_gguf_tensor_name(t->name, gname, sizeof gname, &layer), "no name for %s", t->name);
        const whet_gguf_tensor *gt = whet_gguf_find_tensor(g, gname);
        if (m->cfg.tie_word_embeddings && strcmp(gname, "output.weight") == 0) {
            CHECK_MSG(gt == NULL, "tied model has output.weight");
            continue;
        }
        CHECK_MSG(gt != NULL, "GGUF lacks %s (from %s)", gname, t->name);
        if (!gt) continue;
        CHECK_EQ_INT(gt->n_dims, t->ndim);
        CHECK_EQ_INT(gt->ggml_type, 0);
        CHECK(gt->ne[0] == (t->ndim == 2 ? t->shape[1] : t->numel));
        if (t->ndim == 2) CHECK(gt->ne[1] == t->shape[0]);
        const float *data = gt->data;
        float *unperm = NULL;
        bool q = strstr(gname, "attn_q.") != NULL, k = strstr(gname, "attn_k.") != NULL;
        if (llama && (q || k)) {
            unperm = malloc((size_t)t->numel * sizeof(float));
            int64_t rows = t->ndim == 2 ? t->shape[0] : t->numel, in = t->ndim == 2 ? t->shape[1] : 1;
            whet_gguf_permute_qk(data, unperm, q ? m->cfg.n_heads : m->cfg.n_kv_heads, rows, in, true);
            CHECK_MSG(memcmp(data, t->data, (size_t)t->numel * 4) != 0, "%s stored without the permute", gname);
            data = unperm;
        }
        CHECK_MSG(memcmp(data, t->data, (size_t)t->numel * sizeof(float)) == 0, "%s differs from %s", gname,
                  t->name);
        free(unperm);
        matched++;
    }
    CHECK(matched > 0);
}

static void check_tokenizer(const char *gguf_path, const char *model_dir, int model_vocab) {
    whet_error err = {0};
    whet_tokenizer *a = NULL, *b = NULL;
    CHECK_OK(whet_tokenizer_load_dir(model_dir, &a, &err), &err);
    CHECK_OK(whet_tokenizer_load_gguf(gguf_path, &b, &err), &err);
    if (!a || !b) return;
    /* padded with [PADi] up to the embedding's rows, as convert_hf_to_gguf does */
    int na = whet_tokenizer_vocab_size(a);
    CHECK_EQ_INT(whet_tokenizer_vocab_size(b), na > model_vocab ? na : model_vocab);
    for (int i = 0; i < na; i++)
        CHECK_MSG(strcmp(whet_tokenizer_id_to_piece(a, i), whet_tokenizer_id_to_piece(b, i)) == 0, "piece %d", i);
    if (model_vocab > na) CHECK_STR_EQ(whet_tokenizer_id_to_piece(b, model_vocab - 1), "[PAD511]");
    CHECK_EQ_INT(whet_tokenizer_bos_id(b), whet_tokenizer_bos_id(a));
    CHECK_EQ_INT(whet_tokenizer_eos_id(b), whet_tokenizer_eos_id(a));
    static const char *const TEXTS[] = {"Hello world", " Once upon a time, there was a little girl.",
                                        "numbers 12345 and\nnewlines\n\n  spaces", "héllo wörld ✓"};
    for (size_t i = 0; i < sizeof TEXTS / sizeof TEXTS[0]; i++) {
        whet_tokens x = {0}, y = {0};
        CHECK_OK(whet_tokenizer_encode(a, TEXTS[i], strlen(TEXTS[i]), true, &x, &err), &err);
        CHECK_OK(whet_tokenizer_encode(b, TEXTS[i], strlen(TEXTS[i]), true, &y, &err), &err);
        CHECK_MSG(x.n == y.n && (x.n == 0 || memcmp(x.ids, y.ids, x.n * sizeof(int32_t)) == 0),
                  "%s: GGUF tokenizer encodes \"%s\" differently (%zu vs %zu ids)", model_dir, TEXTS[i], y.n, x.n);
        whet_tokens_free(&x), whet_tokens_free(&y);
    }
    CHECK((whet_tokenizer_chat_template(a) == NULL) == (whet_tokenizer_chat_template(b) == NULL));
    whet_tokenizer_free(a), whet_tokenizer_free(b);
}

static void test_model(const char *name, const char *arch) {
    whet_error err = {0};
    char base[4096], adapter[4096], out[4096], key[128], buf[64];
    snprintf(base, sizeof base, "%s/models/%s", WHET_FIXTURES, name);
    snprintf(adapter, sizeof adapter, "%s/export/%s/adapter", WHET_FIXTURES, name);
    whet_export_model m;
    CHECK_OK(whet_export_load(base, &m, &err), &err);
    CHECK_OK(whet_export_merge_adapter(&m, adapter, &err), &err);
    for (int ft = WHET_GGUF_FT_F32; ft <= WHET_GGUF_FT_Q8_0; ft += WHET_GGUF_FT_Q8_0) {
        snprintf(out, sizeof out, "%s/%s-%s.gguf", tmpdir, name, whet_gguf_ftype_name((whet_gguf_ftype)ft));
        whet_gguf_export_opts o = {.path = out, .ftype = (whet_gguf_ftype)ft, .name = name};
        CHECK_OK(whet_export_gguf(&m, &o, &err), &err);
        whet_gguf *g = NULL;
        CHECK_OK(whet_gguf_open(out, &g, &err), &err);
        if (!g) continue;
        CHECK_OK(whet_gguf_get_str(g, "general.architecture", buf, sizeof buf, &err), &err);
        CHECK_STR_EQ(buf, arch);
        CHECK_OK(whet_gguf_get_str(g, "general.name", buf, sizeof buf, &err), &err);
        CHECK_STR_EQ(buf, name);
        check_u32(g, "general.file_type", (uint32_t)whet_gguf_ftype_id((whet_gguf_ftype)ft));
#define K(s) (snprintf(key, sizeof key, "%s." s, arch), key)
        check_u32(g, K("block_count"), (uint32_t)m.cfg.n_layers);
        check_u32(g, K("context_length"), (uint32_t)m.cfg.max_position_embeddings);
        check_u32(g, K("embedding_length"), (uint32_t)m.cfg.hidden_size);
        check_u32(g, K("feed_forward_length"), (uint32_t)m.cfg.intermediate_size);
        check_u32(g, K("attention.head_count"), (uint32_t)m.cfg.n_heads);
        check_u32(g, K("attention.head_count_kv"), (uint32_t)m.cfg.n_kv_heads);
        float eps = 0, theta = 0;
        CHECK_OK(whet_gguf_get_f32(g, K("attention.layer_norm_rms_epsilon"), &eps, &err), &err);
        CHECK(eps == m.cfg.rms_norm_eps);
        CHECK_OK(whet_gguf_get_f32(g, K("rope.freq_base"), &theta, &err), &err);
        CHECK(theta == (float)m.cfg.rope_theta);
        if (strcmp(arch, "llama") == 0) check_u32(g, K("rope.dimension_count"), (uint32_t)m.cfg.head_dim);
#undef K
        CHECK((whet_gguf_find_tensor(g, "rope_freqs.weight") != NULL) == (m.cfg.rope_type == WHET_ROPE_LLAMA3));
        if (strcmp(arch, "qwen2") == 0) CHECK(whet_gguf_find_tensor(g, "blk.0.attn_q.bias") != NULL);
        if (ft == WHET_GGUF_FT_F32) check_tensors_f32(g, &m);
        else {
            const whet_gguf_tensor *q = whet_gguf_find_tensor(g, "blk.0.attn_q.weight");
            const whet_gguf_tensor *n = whet_gguf_find_tensor(g, "blk.0.attn_norm.weight");
            const whet_gguf_tensor *e = whet_gguf_find_tensor(g, "token_embd.weight");
            CHECK(q && q->ggml_type == 8);
            CHECK(n && n->ggml_type == 0);
            CHECK(e && e->ggml_type == 8);
        }
        whet_gguf_close(g);
        check_tokenizer(out, base, m.cfg.vocab_size);
        unlink(out);
    }
    whet_export_free(&m);
}

static whet_model_config cfg_of(whet_arch arch, int n_layers, int n_heads, int n_kv_heads) {
    whet_model_config c;
    memset(&c, 0, sizeof c);
    c.arch = arch;
    c.n_layers = n_layers;
    c.n_heads = n_heads;
    c.n_kv_heads = n_kv_heads;
    return c;
}

static void test_type_rules(void) {
    const whet_model_config c16 = cfg_of(WHET_ARCH_LLAMA, 16, 8, 8), c5 = cfg_of(WHET_ARCH_LLAMA, 5, 8, 8);
    /* llama-quantize: k-quant rows not a multiple of 256 fall back (Q4_K->Q5_0, Q6_K->Q8_0, then F16) */
    CHECK_EQ_INT(whet_gguf_tensor_type(WHET_GGUF_FT_Q4_K_M, "blk.1.attn_q.weight", 1, &c16, 64, 2, false), WHET_DT_Q5_0);
    CHECK_EQ_INT(whet_gguf_tensor_type(WHET_GGUF_FT_Q4_K_M, "blk.1.attn_q.weight", 1, &c16, 512, 2, false), WHET_DT_Q4_K);
    CHECK_EQ_INT(whet_gguf_tensor_type(WHET_GGUF_FT_Q4_K_M, "blk.0.attn_v.weight", 0, &c16, 512, 2, false), WHET_DT_Q6_K);
    CHECK_EQ_INT(whet_gguf_tensor_type(WHET_GGUF_FT_Q4_K_M, "blk.3.attn_v.weight", 3, &c16, 512, 2, false), WHET_DT_Q4_K);
    CHECK_EQ_INT(whet_gguf_tensor_type(WHET_GGUF_FT_Q4_K_M, "blk.4.ffn_down.weight", 4, &c16, 512, 2, false), WHET_DT_Q6_K);
    CHECK_EQ_INT(whet_gguf_tensor_type(WHET_GGUF_FT_Q5_K_M, "blk.0.ffn_down.weight", 0, &c16, 172, 2, false), WHET_DT_F16);
    CHECK_EQ_INT(whet_gguf_tensor_type(WHET_GGUF_FT_Q6_K, "blk.0.ffn_up.weight", 0, &c16, 64, 2, false), WHET_DT_Q8_0);
    CHECK_EQ_INT(whet_gguf_tensor_type(WHET_GGUF_FT_Q4_0, "output.weight", -1, &c16, 512, 2, false), WHET_DT_Q6_K);
    CHECK_EQ_INT(whet_gguf_tensor_type(WHET_GGUF_FT_Q4_0, "token_embd.weight", -1, &c16, 64, 2, true), WHET_DT_Q8_0);
    CHECK_EQ_INT(whet_gguf_tensor_type(WHET_GGUF_FT_Q8_0, "blk.0.ffn_down.weight", 0, &c5, 172, 2, false), WHET_DT_F16);
    CHECK_EQ_INT(whet_gguf_tensor_type(WHET_GGUF_FT_Q8_0, "blk.0.ffn_norm.weight", 0, &c5, 64, 1, false), WHET_DT_F32);
    CHECK_EQ_INT(whet_gguf_tensor_type(WHET_GGUF_FT_Q8_0, "blk.0.attn_q.bias", 0, &c5, 64, 1, false), WHET_DT_F32);
    whet_error err = {0};
    whet_gguf_ftype ft;
    CHECK_OK(whet_gguf_ftype_parse("Q4_K_M", &ft, &err), &err);
    CHECK_EQ_INT(ft, WHET_GGUF_FT_Q4_K_M);
    CHECK(whet_gguf_ftype_parse("q8_O", &ft, &err) == WHET_ERR_INVALID_ARG);
    CHECK_MSG(strstr(err.msg, "did you mean \"q8_0\"") != NULL, "error does not suggest q8_0: %s", err.msg);
    /* permute then inverse is the identity; a row moves as LlamaModel.permute moves it */
    float w[8 * 2], p[8 * 2], back[8 * 2];
    for (int i = 0; i < 16; i++) w[i] = (float)i;
    whet_gguf_permute_qk(w, p, 2, 8, 2, false);
    whet_gguf_permute_qk(p, back, 2, 8, 2, true);
    CHECK(memcmp(w, back, sizeof w) == 0);
    /* head 0, hd 4: HF rows (0,1 | 2,3) -> 0,2,1,3 */
    CHECK(p[2] == w[4] && p[4] == w[2] && p[6] == w[6]);
}

/* One expected type per tensor of a 2-layer model, for each new mix. */
typedef struct { const char *name; int layer; int64_t row; whet_dtype want; } want_type;

static void check_mix(const char *what, whet_gguf_ftype ft, const whet_model_config *c, bool tied,
                      const want_type *w, size_t n) {
    for (size_t i = 0; i < n; i++) {
        whet_dtype got = whet_gguf_tensor_type(ft, w[i].name, w[i].layer, c, w[i].row, 2, tied);
        CHECK_MSG(got == w[i].want, "%s %s: %s (row %lld) is %s, llama-quantize gives %s", what,
                  whet_gguf_ftype_name(ft), w[i].name, (long long)w[i].row, whet_dtype_name(got),
                  whet_dtype_name(w[i].want));
    }
}

/* The tiny models: hidden 64 (rows of attn_*, ffn_gate/up, token_embd,
 * output), intermediate 160 (ffn_down's rows), 2 layers. No row is a
 * multiple of 256, so every k-quant falls back (tensor_type_fallback:
 * Q2_K/Q3_K -> Q4_0, Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0; 64 and 160 are
 * multiples of 32). output.weight (or a tied token_embd): the base block
 * divides 64 for the 32-element bases -> Q6_K -> fallback Q8_0; for the
 * 256-element bases 64 % 256 != 0 -> Q8_0 directly. Per mix, before the
 * fallback (llama_tensor_get_type_impl, n_layer 2, so n/8 = n/16 = 0):
 *   q4_1/q5_0/q5_1: the base everywhere;
 *   q2_k: attn_v Q3_K (n_gqa = 4/2 = 2 < 4 for llama-tiny; qwen2-tiny has
 *         4/1 = 4 -> Q4_K), ffn_down Q3_K, attn_output Q3_K, rest Q2_K;
 *   q3_k_s: Q3_K everywhere;
 *   q3_k_m: attn_v Q5_K (i_attention_wv < 2), ffn_down Q4_K (layer < 0 is
 *         false), attn_output Q4_K, rest Q3_K;
 *   q3_k_l: attn_v, ffn_down, attn_output Q5_K, rest Q3_K;
 *   q4_k_s: attn_v Q5_K (layer < 4), ffn_down Q4_K (layer < 0 false), rest Q4_K;
 *   q5_k_s: Q5_K everywhere. */
static void test_mix_rules_tiny(void) {
    const whet_model_config llama = cfg_of(WHET_ARCH_LLAMA, 2, 4, 2), qwen = cfg_of(WHET_ARCH_QWEN2, 2, 4, 1);
#define T(name, layer, row, want) {name, layer, row, WHET_DT_##want}
#define TINY(embd, q, v, o, gate, down, out)                                                                  \
    {T("token_embd.weight", -1, 64, embd), T("blk.0.attn_q.weight", 0, 64, q), T("blk.1.attn_k.weight", 1, 64, q), \
     T("blk.0.attn_v.weight", 0, 64, v),   T("blk.1.attn_v.weight", 1, 64, v), T("blk.1.attn_output.weight", 1, 64, o), \
     T("blk.0.ffn_gate.weight", 0, 64, gate), T("blk.1.ffn_up.weight", 1, 64, gate),                           \
     T("blk.0.ffn_down.weight", 0, 160, down), T("blk.1.ffn_down.weight", 1, 160, down),                      \
     T("output.weight", -1, 64, out)}
    static const struct { whet_gguf_ftype ft; want_type w[11]; } L[] = {
        {WHET_GGUF_FT_Q4_1, TINY(Q4_1, Q4_1, Q4_1, Q4_1, Q4_1, Q4_1, Q8_0)},
        {WHET_GGUF_FT_Q5_0, TINY(Q5_0, Q5_0, Q5_0, Q5_0, Q5_0, Q5_0, Q8_0)},
        {WHET_GGUF_FT_Q5_1, TINY(Q5_1, Q5_1, Q5_1, Q5_1, Q5_1, Q5_1, Q8_0)},
        {WHET_GGUF_FT_Q2_K, TINY(Q4_0, Q4_0, Q4_0, Q4_0, Q4_0, Q4_0, Q8_0)},
        {WHET_GGUF_FT_Q3_K_S, TINY(Q4_0, Q4_0, Q4_0, Q4_0, Q4_0, Q4_0, Q8_0)},
        {WHET_GGUF_FT_Q3_K_M, TINY(Q4_0, Q4_0, Q5_1, Q5_0, Q4_0, Q5_0, Q8_0)},
        {WHET_GGUF_FT_Q3_K_L, TINY(Q4_0, Q4_0, Q5_1, Q5_1, Q4_0, Q5_1, Q8_0)},
        {WHET_GGUF_FT_Q4_K_S, TINY(Q5_0, Q5_0, Q5_1, Q5_0, Q5_0, Q5_0, Q8_0)},
        {WHET_GGUF_FT_Q5_K_S, TINY(Q5_1, Q5_1, Q5_1, Q5_1, Q5_1, Q5_1, Q8_0)},
    };
    for (size_t k = 0; k < sizeof L / sizeof L[0]; k++) check_mix("llama-tiny", L[k].ft, &llama, false, L[k].w, 11);
    /* qwen2-tiny (tied, n_gqa 4): token_embd takes the output rule (Q8_0), and q2_k's attn_v is Q4_K -> Q5_0 */
    static const want_type q2[] = {T("token_embd.weight", -1, 64, Q8_0), T("blk.0.attn_v.weight", 0, 64, Q5_0),
                                   T("blk.1.attn_q.weight", 1, 64, Q4_0), T("blk.1.ffn_down.weight", 1, 160, Q4_0)};
    check_mix("qwen2-tiny", WHET_GGUF_FT_Q2_K, &qwen, true, q2, sizeof q2 / sizeof q2[0]);
    static const want_type q3m[] = {T("token_embd.weight", -1, 64, Q8_0), T("blk.1.attn_v.weight", 1, 64, Q5_1),
                                    T("blk.0.attn_output.weight", 0, 64, Q5_0)};
    check_mix("qwen2-tiny", WHET_GGUF_FT_Q3_K_M, &qwen, true, q3m, sizeof q3m / sizeof q3m[0]);
    /* general.file_type: llama.h's LLAMA_FTYPE_MOSTLY_* numbers */
    static const struct { whet_gguf_ftype ft; const char *name; int id; } ids[] = {
        {WHET_GGUF_FT_Q4_1, "q4_1", 3},     {WHET_GGUF_FT_Q5_0, "q5_0", 8},     {WHET_GGUF_FT_Q5_1, "q5_1", 9},
        {WHET_GGUF_FT_Q2_K, "q2_k", 10},    {WHET_GGUF_FT_Q3_K_S, "q3_k_s", 11}, {WHET_GGUF_FT_Q3_K_M, "q3_k_m", 12},
        {WHET_GGUF_FT_Q3_K_L, "q3_k_l", 13}, {WHET_GGUF_FT_Q4_K_S, "q4_k_s", 14}, {WHET_GGUF_FT_Q5_K_S, "q5_k_s", 16},
    };
    whet_error err = {0};
    for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++) {
        whet_gguf_ftype ft;
        CHECK_OK(whet_gguf_ftype_parse(ids[k].name, &ft, &err), &err);
        CHECK_EQ_INT(ft, ids[k].ft);
        CHECK_STR_EQ(whet_gguf_ftype_name(ft), ids[k].name);
        CHECK_EQ_INT(whet_gguf_ftype_id(ft), ids[k].id);
    }
}

/* Full-size shapes, rows a multiple of 256, so no fallback: a Llama-3-8B
 * shape (32 layers, 32 heads / 8 kv: n_gqa 4, untied, rows 4096 and
 * ffn_down 14336), then the 70B rule and Qwen2.5-0.5B's 896-wide rows.
 * Expectations from llama_tensor_get_type_impl:
 *   q2_k: attn_v Q4_K (n_gqa >= 4), ffn_down / attn_output Q3_K, token_embd
 *         (untied: no rule) Q2_K, output Q6_K;
 *   q3_k_m: attn_v Q5_K for i_attention_wv < 2, then Q4_K; ffn_down Q5_K
 *         for layer < 32/16 = 2, then Q4_K; attn_output Q4_K; attn_q Q3_K;
 *   q3_k_l: attn_v / ffn_down / attn_output Q5_K, ffn_up Q3_K;
 *   q4_k_s: attn_v Q5_K for layer < 4; ffn_down Q5_K for layer < 32/8 = 4;
 *   q3_k_s / q5_k_s: the base everywhere but output (Q6_K). */
static void test_mix_rules_full(void) {
    const whet_model_config l8b = cfg_of(WHET_ARCH_LLAMA, 32, 32, 8);
    static const want_type q2[] = {T("token_embd.weight", -1, 4096, Q2_K), T("output.weight", -1, 4096, Q6_K),
                                   T("blk.5.attn_q.weight", 5, 4096, Q2_K), T("blk.5.attn_v.weight", 5, 4096, Q4_K),
                                   T("blk.5.attn_output.weight", 5, 4096, Q3_K),
                                   T("blk.5.ffn_down.weight", 5, 14336, Q3_K), T("blk.5.ffn_up.weight", 5, 4096, Q2_K)};
    check_mix("llama-8b", WHET_GGUF_FT_Q2_K, &l8b, false, q2, sizeof q2 / sizeof q2[0]);
    static const want_type q3m[] = {
        T("blk.1.attn_v.weight", 1, 4096, Q5_K),     T("blk.2.attn_v.weight", 2, 4096, Q4_K),
        T("blk.1.ffn_down.weight", 1, 14336, Q5_K),  T("blk.2.ffn_down.weight", 2, 14336, Q4_K),
        T("blk.31.ffn_down.weight", 31, 14336, Q4_K), T("blk.7.attn_output.weight", 7, 4096, Q4_K),
        T("blk.7.attn_q.weight", 7, 4096, Q3_K),      T("token_embd.weight", -1, 4096, Q3_K),
        T("output.weight", -1, 4096, Q6_K)};
    check_mix("llama-8b", WHET_GGUF_FT_Q3_K_M, &l8b, false, q3m, sizeof q3m / sizeof q3m[0]);
    static const want_type q3l[] = {T("blk.9.attn_v.weight", 9, 4096, Q5_K), T("blk.9.ffn_down.weight", 9, 14336, Q5_K),
                                    T("blk.9.attn_output.weight", 9, 4096, Q5_K), T("blk.9.ffn_up.weight", 9, 4096, Q3_K)};
    check_mix("llama-8b", WHET_GGUF_FT_Q3_K_L, &l8b, false, q3l, sizeof q3l / sizeof q3l[0]);
    static const want_type q4s[] = {T("blk.3.attn_v.weight", 3, 4096, Q5_K), T("blk.4.attn_v.weight", 4, 4096, Q4_K),
                                    T("blk.3.ffn_down.weight", 3, 14336, Q5_K), T("blk.4.ffn_down.weight", 4, 14336, Q4_K),
                                    T("blk.0.attn_output.weight", 0, 4096, Q4_K), T("output.weight", -1, 4096, Q6_K)};
    check_mix("llama-8b", WHET_GGUF_FT_Q4_K_S, &l8b, false, q4s, sizeof q4s / sizeof q4s[0]);
    static const want_type q3s[] = {T("blk.0.attn_v.weight", 0, 4096, Q3_K), T("blk.0.ffn_down.weight", 0, 14336, Q3_K),
                                    T("output.weight", -1, 4096, Q6_K)};
    check_mix("llama-8b", WHET_GGUF_FT_Q3_K_S, &l8b, false, q3s, sizeof q3s / sizeof q3s[0]);
    static const want_type q5s[] = {T("blk.0.attn_v.weight", 0, 4096, Q5_K), T("blk.0.ffn_down.weight", 0, 14336, Q5_K),
                                    T("output.weight", -1, 4096, Q6_K)};
    check_mix("llama-8b", WHET_GGUF_FT_Q5_K_S, &l8b, false, q5s, sizeof q5s / sizeof q5s[0]);
    /* LLM_TYPE_70B (llama: 80 layers with GQA; qwen2: 80 layers): attn_v Q3_K/Q4_K -> Q5_K. 80 layers
     * without GQA is llama.cpp's 65B: no bump. */
    const whet_model_config l70 = cfg_of(WHET_ARCH_LLAMA, 80, 64, 8), q72 = cfg_of(WHET_ARCH_QWEN2, 80, 64, 8),
                            l65 = cfg_of(WHET_ARCH_LLAMA, 80, 64, 64);
    static const want_type b70[] = {T("blk.10.attn_v.weight", 10, 8192, Q5_K), T("blk.10.attn_q.weight", 10, 8192, Q3_K)};
    check_mix("llama-70b", WHET_GGUF_FT_Q3_K_M, &l70, false, b70, 2);
    check_mix("qwen2-72b", WHET_GGUF_FT_Q3_K_M, &q72, false, b70, 2);
    check_mix("llama-70b", WHET_GGUF_FT_Q3_K_S, &l70, false, b70, 1);
    static const want_type b65[] = {T("blk.10.attn_v.weight", 10, 8192, Q4_K)};
    check_mix("llama-65b", WHET_GGUF_FT_Q3_K_M, &l65, false, b65, 1);
    /* Qwen2.5-0.5B (24 layers, 14 heads / 2 kv, tied): rows of 896 fall back, ffn_down's 4864 = 19*256 keeps
     * its k-quant: Q5_K in layer 0 (< 24/16 = 1), Q4_K after */
    const whet_model_config q05 = cfg_of(WHET_ARCH_QWEN2, 24, 14, 2);
    static const want_type q05w[] = {T("token_embd.weight", -1, 896, Q8_0), T("blk.3.attn_q.weight", 3, 896, Q4_0),
                                     T("blk.3.attn_v.weight", 3, 896, Q5_0), T("blk.3.ffn_down.weight", 3, 4864, Q4_K),
                                     T("blk.0.ffn_down.weight", 0, 4864, Q5_K)};
    check_mix("qwen2.5-0.5b", WHET_GGUF_FT_Q3_K_M, &q05, true, q05w, sizeof q05w / sizeof q05w[0]);
#undef T
#undef TINY
}


/* Export `dir` (tokenizer from tok_dir) as `ft`, load the .gguf with
 * whet_model_load, check the stored types named in `want` and that the
 * logits are finite, within tol_max * max|logit| of the f32 folder's and
 * within tol_rel in relative RMS (||got - f32|| / ||f32||; all-zero or
 * unrelated logits give >= 1). */
static void check_quant_load(const char *label, const char *dir, const char *tok_dir, whet_gguf_ftype ft,
                             const want_type *want, size_t n_want, double tol_max, double tol_rel) {
    whet_error err = {0};
    char out[4300];
    snprintf(out, sizeof out, "%s/%s-%s.gguf", tmpdir, label, whet_gguf_ftype_name(ft));
    whet_export_model em;
    whet_tokenizer *tok = NULL;
    CHECK_OK(whet_export_load(dir, &em, &err), &err);
    CHECK_OK(whet_tokenizer_load_dir(tok_dir, &tok, &err), &err);
    if (!tok) return;
    whet_gguf_export_opts o = {.path = out, .ftype = ft, .name = label, .tok = tok};
    CHECK_OK(whet_export_gguf(&em, &o, &err), &err);
    whet_gguf *g = NULL;
    CHECK_OK(whet_gguf_open(out, &g, &err), &err);
    for (size_t i = 0; g && i < n_want; i++) {
        const whet_gguf_tensor *t = whet_gguf_find_tensor(g, want[i].name);
        CHECK_MSG(t && t->dtype == (int)want[i].want, "%s %s: %s stored as %s, want %s", label, whet_gguf_ftype_name(ft),
                  want[i].name, t && t->dtype >= 0 ? whet_dtype_name((whet_dtype)t->dtype) : "?",
                  whet_dtype_name(want[i].want));
    }
    if (g) whet_gguf_close(g);
    whet_model_load_opts lo = {.n_threads = 1};
    whet_model *hf = NULL, *q = NULL;
    CHECK_OK(whet_model_load(dir, &lo, &hf, &err), &err);
    CHECK_OK(whet_model_load(out, &lo, &q, &err), &err);
    if (hf && q) {
        const int vocab = hf->cfg.vocab_size;
        const size_t n = (size_t)EXPORT_TEST_B * EXPORT_TEST_L * (size_t)vocab;
        float *want_l = export_test_logits(hf), *got = export_test_logits(q);
        double scale = 0, d = 0, se = 0, sw = 0;
        int nonfinite = 0;
        for (size_t i = 0; i < n; i++) {
            const double e = (double)got[i] - want_l[i];
            scale = fmax(scale, fabs(want_l[i]));
            nonfinite += !isfinite(got[i]);
            d = fmax(d, fabs(e));
            se += e * e;
            sw += (double)want_l[i] * want_l[i];
        }
        const double rel = sqrt(se / sw);
        CHECK_MSG(nonfinite == 0, "%s %s: %d non-finite logits", label, whet_gguf_ftype_name(ft), nonfinite);
        printf("%-14s %-7s logits vs f32 folder: max abs err %.3g (%.3g of max |logit| %.3g), relative rms %.4f\n",
               label, whet_gguf_ftype_name(ft), d, d / scale, scale, rel);
        CHECK_MSG(d <= tol_max * scale, "%s %s: max err %.3g = %.3g of the logit range (bound %.3g)", label,
                  whet_gguf_ftype_name(ft), d, d / scale, tol_max);
        CHECK_MSG(rel <= tol_rel, "%s %s: relative rms %.4f > %.4f", label, whet_gguf_ftype_name(ft), rel, tol_rel);
        free(want_l), free(got);
    }
    whet_model_free(hf), whet_model_free(q);
    whet_tokenizer_free(tok);
    whet_export_free(&em);
    unlink(out);
}

static void test_quant_load(void) {
    char tiny[4096], tiny_q[4096];
    snprintf(tiny, sizeof tiny, "%s/models/llama-tiny", WHET_FIXTURES);
    snprintf(tiny_q, sizeof tiny_q, "%s/models/qwen2-tiny", WHET_FIXTURES);
    /* the tiny fixtures: every k-quant falls back (see test_mix_rules_tiny) */
#define T(name, want) {name, 0, 0, WHET_DT_##want}
    static const want_type tiny_w[] = {T("blk.0.attn_q.weight", Q4_0), T("blk.0.attn_v.weight", Q5_1),
                                       T("blk.1.ffn_down.weight", Q5_0), T("output.weight", Q8_0)};
    check_quant_load("llama-tiny", tiny, tiny, WHET_GGUF_FT_Q3_K_M, tiny_w, 4, TOL_GGUF_Q3_K_M_LOGITS, TOL_GGUF_Q3_K_M_REL);
    check_quant_load("qwen2-tiny", tiny_q, tiny_q, WHET_GGUF_FT_Q3_K_M, tiny_w, 3, TOL_GGUF_Q3_K_M_LOGITS, TOL_GGUF_Q3_K_M_REL);
    /* A random llama folder (std 0.02, transformers' default init) with 256-wide rows (hidden 256, ffn 512,
     * 2 layers, 4 heads / 1 kv: n_gqa 4, untied,
     * vocab 512 with llama-tiny's tokenizer): q3_k_m keeps Q3_K (token_embd, attn_q/k, ffn_gate/up), Q5_K
     * attn_v (layer < 2), Q4_K ffn_down and attn_output, Q6_K output; q2_k has Q2_K token_embd/attn_q/ffn_up,
     * Q4_K attn_v (n_gqa >= 4), Q3_K ffn_down/attn_output. */
    char cfg_path[512], wide[512];
    snprintf(cfg_path, sizeof cfg_path, "%s/wide-config.json", tmpdir);
    snprintf(wide, sizeof wide, "%s/wide-256", tmpdir);
    FILE *f = fopen(cfg_path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs("{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_size\": 256, "
          "\"intermediate_size\": 512, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, "
          "\"num_key_value_heads\": 1, \"vocab_size\": 512, \"max_position_embeddings\": 128, "
          "\"rms_norm_eps\": 1e-6, \"rope_theta\": 10000.0, \"tie_word_embeddings\": false, "
          "\"hidden_act\": \"silu\", \"bos_token_id\": 1, \"eos_token_id\": 2}\n", f);
    fclose(f);
    whet_error err = {0};
    whet_init_random_opts ro = {.seed = 5, .dtype = WHET_DT_F32, .init_std = 0.02};
    CHECK_OK(whet_model_init_random(cfg_path, wide, &ro, &err), &err);
    static const want_type q3m[] = {T("token_embd.weight", Q3_K), T("blk.0.attn_q.weight", Q3_K),
                                    T("blk.1.attn_v.weight", Q5_K), T("blk.0.ffn_down.weight", Q4_K),
                                    T("blk.0.attn_output.weight", Q4_K), T("blk.1.ffn_up.weight", Q3_K),
                                    T("output.weight", Q6_K)};
    check_quant_load("wide-256", wide, tiny, WHET_GGUF_FT_Q3_K_M, q3m, sizeof q3m / sizeof q3m[0],
                     TOL_GGUF_Q3_K_M_WIDE_LOGITS, TOL_GGUF_Q3_K_M_WIDE_REL);
    static const want_type q2[] = {T("token_embd.weight", Q2_K), T("blk.0.attn_q.weight", Q2_K),
                                   T("blk.0.attn_v.weight", Q4_K), T("blk.1.ffn_down.weight", Q3_K),
                                   T("blk.1.attn_output.weight", Q3_K), T("output.weight", Q6_K)};
    check_quant_load("wide-256", wide, tiny, WHET_GGUF_FT_Q2_K, q2, sizeof q2 / sizeof q2[0], TOL_GGUF_Q2_K_WIDE_LOGITS,
                     TOL_GGUF_Q2_K_WIDE_REL);
#undef T
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", wide, cfg_path);
    CHECK(system(cmd) == 0);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/whet_test_gguf_export.%d", (int)getpid());
    CHECK(mkdir(tmpdir, 0755) == 0);
    test_type_rules();
    test_mix_rules_tiny();
    test_mix_rules_full();
    test_quant_load();
    test_model("llama-tiny", "llama");
    test_model("qwen2-tiny", "qwen2");
    test_model("llama3-tiny", "llama");
    rmdir(tmpdir);
    return TEST_SUMMARY();
}
