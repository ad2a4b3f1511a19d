/* test_gguf_load.c: whet runs the GGUF files it exports (src/model/model_gguf.c).
 * Each tiny model (llama-tiny: arch llama with permuted Q/K, untied head;
 * qwen2-tiny: biases, tied; llama3-tiny: Llama 3.1 rope_freqs) is exported
 * with whet_export_gguf and loaded back with whet_model_load:
 * - F32: the config read from the metadata equals config.json's, and the
 *   logits on a batch equal the Hugging Face folder's (bit for bit where the
 *   rope frequencies are the same floats; llama3's come back as
 *   theta_i / rope_freqs[i] as llama.cpp computes them, see tolerances.h);
 * - Q8_0 and Q4_K_M: weights stay quantized (not widened) and the logits stay
 *   within the measured quantization error of the f32 ones;
 * - a file that is not GGUF, and one with an unsupported architecture, are
 *   errors naming the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "export/gguf_export.h"
#include "io/gguf.h"
#include "model/model.h"
#include "export_fixture.h"
#include "test.h"
#include "tolerances.h"

static char tmpdir[] = "/tmp/whet_gguf_load_XXXXXX";

enum { B = EXPORT_TEST_B, L = EXPORT_TEST_L };


static double max_abs(const float *x, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fabs(x[i]) > m ? fabs(x[i]) : m;
    return m;
}

static void check_config(const whet_model_config *a, const whet_model_config *b) {
    CHECK_EQ_INT(a->arch, b->arch);
    CHECK_EQ_INT(a->vocab_size, b->vocab_size);
    CHECK_EQ_INT(a->hidden_size, b->hidden_size);
    CHECK_EQ_INT(a->intermediate_size, b->intermediate_size);
    CHECK_EQ_INT(a->n_layers, b->n_layers);
    CHECK_EQ_INT(a->n_heads, b->n_heads);
    CHECK_EQ_INT(a->n_kv_heads, b->n_kv_heads);
    CHECK_EQ_INT(a->head_dim, b->head_dim);
    CHECK_EQ_INT(a->tie_word_embeddings, b->tie_word_embeddings);
    CHECK_EQ_INT(a->attention_bias, b->attention_bias);
    CHECK_EQ_INT(a->qk_norm, b->qk_norm);
    CHECK(a->rms_norm_eps == b->rms_norm_eps);
    CHECK((float)a->rope_theta == (float)b->rope_theta);
}

static void test_model(const char *name) {
    whet_error err = {0};
    char base[4096], out[4200];
    snprintf(base, sizeof base, "%s/models/%s", WHET_FIXTURES, name);
    whet_export_model em;
    CHECK_OK(whet_export_load(base, &em, &err), &err);
    whet_model_load_opts lo = {.n_threads = 1};
    whet_model *hf = NULL;
    CHECK_OK(whet_model_load(base, &lo, &hf, &err), &err);
    if (!hf) return;
    const size_t n = (size_t)B * L * (size_t)hf->cfg.vocab_size;
    float *want = export_test_logits(hf);
    const double scale = max_abs(want, n);
    static const whet_gguf_ftype types[] = {WHET_GGUF_FT_F32, WHET_GGUF_FT_Q8_0, WHET_GGUF_FT_Q4_K_M};
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        snprintf(out, sizeof out, "%s/%s-%s.gguf", tmpdir, name, whet_gguf_ftype_name(types[k]));
        whet_gguf_export_opts o = {.path = out, .ftype = types[k], .name = name};
        CHECK_OK(whet_export_gguf(&em, &o, &err), &err);
        whet_model *g = NULL;
        CHECK_OK(whet_model_load(out, &lo, &g, &err), &err);
        if (!g) continue;
        check_config(&g->cfg, &hf->cfg);
        float *got = export_test_logits(g);
        double d = test_max_abs_diff(got, want, n);
        bool llama3_rope = hf->cfg.rope_type == WHET_ROPE_LLAMA3;
        if (types[k] == WHET_GGUF_FT_F32) {
            CHECK_EQ_INT(g->layers[0].q_proj.dtype, WHET_DT_F32);
            if (llama3_rope) CHECK_MSG(d <= TOL_GGUF_F32_LLAMA3_ROPE * scale, "%s f32: max err %.3g", name, d);
            else CHECK_MSG(d == 0, "%s f32 GGUF logits differ from the folder's by %.3g", name, d);
        } else {
            /* q4_k_m on rows of 64: llama-quantize's fallbacks (q5_0/q8_0...), still block-quantized */
            whet_dtype dt = g->layers[0].gate_proj.dtype;
            if (types[k] == WHET_GGUF_FT_Q8_0) CHECK_EQ_INT(dt, WHET_DT_Q8_0);
            else CHECK_MSG(whet_dtype_block_elems(dt) >= 32, "%s q4_k_m gate_proj loaded as %s", name, whet_dtype_name(dt));
            double tol = types[k] == WHET_GGUF_FT_Q8_0 ? TOL_GGUF_Q8_0_LOGITS : TOL_GGUF_Q4_K_M_LOGITS;
            CHECK_MSG(d <= tol * scale, "%s %s: max err %.3g (%.3g of the logit range)", name,
                      whet_gguf_ftype_name(types[k]), d, d / scale);
        }
        printf("%-12s %-7s logits vs HF folder: max abs err %.3g (%.3g of max |logit| %.3g)\n", name,
               whet_gguf_ftype_name(types[k]), d, d / scale, scale);
        free(got);
        whet_model_free(g);
        unlink(out);
    }
    free(want);
    whet_model_free(hf);
    whet_export_free(&em);
}

static void test_bad_files(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/not-a-model.gguf", tmpdir);
    FILE *f = fopen(path, "wb");
    if (f) { fputs("GGUF but not really", f); fclose(f); }
    whet_error err = {0};
    whet_model *m = NULL;
    CHECK(whet_model_load(path, NULL, &m, &err) != WHET_OK);
    CHECK_MSG(strstr(err.msg, "not-a-model.gguf") != NULL, "%s", err.msg);
    CHECK(m == NULL);
    unlink(path);

    /* A well-formed GGUF of another architecture. */
    snprintf(path, sizeof path, "%s/gpt2.gguf", tmpdir);
    whet_gguf_writer *w = NULL;
    CHECK_OK(whet_gguf_writer_create(&w, &err), &err);
    if (!w) return;
    CHECK_OK(whet_gguf_set_str(w, "general.architecture", "gpt2", &err), &err);
    CHECK_OK(whet_gguf_writer_write(w, path, &err), &err);
    whet_gguf_writer_free(w);
    err = (whet_error){0};
    CHECK(whet_model_load(path, NULL, &m, &err) == WHET_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(err.msg, "gpt2.gguf") && strstr(err.msg, "\"gpt2\""), "%s", err.msg);
    unlink(path);
}

int main(void) {
    CHECK(mkdtemp(tmpdir) != NULL);
    test_model("llama-tiny");
    test_model("qwen2-tiny");
    test_model("llama3-tiny");
    test_bad_files();
    rmdir(tmpdir);
    return TEST_SUMMARY();
}
