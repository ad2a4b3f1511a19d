/* test_gguf_export.c: the GGUF exporter (src/export/gguf_export.c).
 * - llama-tiny / qwen2-tiny / llama3-tiny (merged with their PEFT adapters)
 *   written as f32 and q8_0 GGUF, read back with whet_gguf_open: architecture
 *   and hyperparameter keys, llama.cpp tensor names, ggml dims, types
 *   (norms/biases f32, q8_0 elsewhere), output.weight absent when tied,
 *   rope_freqs for llama3 rope;
 * - f32 tensors equal the merged HF tensors exactly, for arch llama after
 *   undoing LlamaModel.permute on attn_q/attn_k (qwen2: stored unpermuted);
 * - the tokenizer loaded from the GGUF encodes strings as the folder's does;
 * - llama-quantize's type choices and fallbacks; a bad type name is refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "export/gguf_export.h"
#include "io/gguf.h"
#include "ops/quant.h"
#include "test.h"

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

static void test_type_rules(void) {
    /* llama-quantize: k-quant rows not a multiple of 256 fall back (Q4_K->Q5_0, Q6_K->Q8_0, then F16) */
    CHECK_EQ_INT(whet_gguf_tensor_type(WHET_GGUF_FT_Q4_K_M, "blk.1.attn_q.weight", 1, 16, 64, 2, false), WHET_DT_Q5_0);
    CHECK_EQ_INT(whet_gguf_tensor_type(WHET_GGUF_FT_Q4_K_M, "blk.1.attn_q.weight", 1, 16, 512, 2, false), WHET_DT_Q4_K);
    CHECK_EQ_INT(whet_gguf_tensor_type(WHET_GGUF_FT_Q4_K_M, "blk.0.attn_v.weight", 0, 16, 512, 2, false), WHET_DT_Q6_K);
    CHECK_EQ_INT(whet_gguf_tensor_type(WHET_GGUF_FT_Q4_K_M, "blk.3.attn_v.weight", 3, 16, 512, 2, false), WHET_DT_Q4_K);
    CHECK_EQ_INT(whet_gguf_tensor_type(WHET_GGUF_FT_Q4_K_M, "blk.4.ffn_down.weight", 4, 16, 512, 2, false), WHET_DT_Q6_K);
    CHECK_EQ_INT(whet_gguf_tensor_type(WHET_GGUF_FT_Q5_K_M, "blk.0.ffn_down.weight", 0, 16, 172, 2, false), WHET_DT_F16);
    CHECK_EQ_INT(whet_gguf_tensor_type(WHET_GGUF_FT_Q6_K, "blk.0.ffn_up.weight", 0, 16, 64, 2, false), WHET_DT_Q8_0);
    CHECK_EQ_INT(whet_gguf_tensor_type(WHET_GGUF_FT_Q4_0, "output.weight", -1, 16, 512, 2, false), WHET_DT_Q6_K);
    CHECK_EQ_INT(whet_gguf_tensor_type(WHET_GGUF_FT_Q4_0, "token_embd.weight", -1, 16, 64, 2, true), WHET_DT_Q8_0);
    CHECK_EQ_INT(whet_gguf_tensor_type(WHET_GGUF_FT_Q8_0, "blk.0.ffn_down.weight", 0, 5, 172, 2, false), WHET_DT_F16);
    CHECK_EQ_INT(whet_gguf_tensor_type(WHET_GGUF_FT_Q8_0, "blk.0.ffn_norm.weight", 0, 5, 64, 1, false), WHET_DT_F32);
    CHECK_EQ_INT(whet_gguf_tensor_type(WHET_GGUF_FT_Q8_0, "blk.0.attn_q.bias", 0, 5, 64, 1, false), WHET_DT_F32);
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

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/whet_test_gguf_export.%d", (int)getpid());
    CHECK(mkdir(tmpdir, 0755) == 0);
    test_type_rules();
    test_model("llama-tiny", "llama");
    test_model("qwen2-tiny", "qwen2");
    test_model("llama3-tiny", "llama");
    rmdir(tmpdir);
    return TEST_SUMMARY();
}
