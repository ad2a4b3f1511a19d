/* test_lora_quantized_base.c: --adapter_name_or_path on a quantized GGUF
 * base (llama.cpp's `-m model-q8_0.gguf --lora adapter.gguf`). The base's
 * weights cannot take a merge without requantizing, so whet_model_apply_lora
 * keeps the adapter unmerged and the forward adds it to every token
 * (whet_model.resident_lora). For llama-tiny and qwen2-tiny exported to
 * q8_0 GGUF (whet's exporter):
 * - base + PEFT's adapter (tests/fixtures/export/<m>/adapter) is within the
 *   q8_0 bound (TOL_GGUF_Q8_0_LOGITS of the largest logit, as for the base
 *   alone in test_gguf_load) of PEFT's merged f32 model
 *   (merged_forward.safetensors), while the q8_0 base without the adapter
 *   is clearly farther from it (the adapter is in effect);
 * - the resident path equals, bit for bit, the same adapter applied through
 *   a LoRA set with every row marked for it (lora_infer.h);
 * - the adapter as a GGUF LoRA adapter (whet_export_gguf_lora, f32) gives
 *   the very logits of the folder;
 * - a second adapter on the same quantized model is refused, model unchanged. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "export/gguf_export.h"
#include "export/gguf_lora_export.h"
#include "export/merge.h"
#include "model/lora_apply_infer.h"
#include "model/lora_infer.h"
#include "model/model.h"
#include "ref_fixture.h"
#include "test.h"
#include "tolerances.h"

static char tmpdir[256];

static whet_model *load(const char *path) {
    whet_error err = {0};
    whet_model *m = NULL;
    whet_model_load_opts lo = {.n_threads = 1, .keep_dtype = true};
    CHECK_OK(whet_model_load(path, &lo, &m, &err), &err);
    return m;
}

static double max_abs(const float *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

static void test_model(const char *name) {
    char folder[600], adapter[600], mref[600], fwd[600], gguf[600], ad_gguf[600];
    snprintf(folder, sizeof folder, "%s/models/%s", WHET_FIXTURES, name);
    snprintf(adapter, sizeof adapter, "%s/export/%s/adapter", WHET_FIXTURES, name);
    snprintf(mref, sizeof mref, "%s/export/%s/merged_forward.safetensors", WHET_FIXTURES, name);
    snprintf(fwd, sizeof fwd, "%s/reference/%s/forward.safetensors", WHET_FIXTURES, name);
    snprintf(gguf, sizeof gguf, "%s/%s-q8_0.gguf", tmpdir, name);
    snprintf(ad_gguf, sizeof ad_gguf, "%s/%s-adapter.gguf", tmpdir, name);
    whet_error err = {0};
    whet_export_model em;
    CHECK_OK(whet_export_load(folder, &em, &err), &err);
    whet_gguf_export_opts go = {.path = gguf, .ftype = WHET_GGUF_FT_Q8_0, .name = name};
    CHECK_OK(whet_export_gguf(&em, &go, &err), &err);
    whet_export_free(&em);
    CHECK_OK(whet_export_gguf_lora(folder, adapter, ad_gguf, WHET_DT_F32, false, &err), &err);

    whet_safetensors *ref = NULL, *mr = NULL;
    CHECK_OK(whet_safetensors_open(fwd, &ref, &err), &err);
    CHECK_OK(whet_safetensors_open(mref, &mr, &err), &err);
    if (!ref || !mr) return;
    int64_t n_ids = 0;
    int32_t *ids = ref_read_ids(ref, "input_ids", &n_ids), *m32 = ref_read_ids(ref, "attention_mask", &n_ids);
    const whet_st_tensor *ti = whet_safetensors_find(ref, "input_ids");
    const int B = (int)ti->shape[0], L = (int)ti->shape[1];
    uint8_t *mask = malloc((size_t)n_ids);
    for (int64_t i = 0; i < n_ids; i++) mask[i] = (uint8_t)m32[i];

    whet_model *mq = load(gguf), *mb = load(gguf), *mg = load(gguf);
    if (!mq || !mb || !mg) return;
    const size_t n = (size_t)B * L * (size_t)mq->cfg.vocab_size;
    float *want = ref_read_f32(mr, "logits", (int64_t)n);
    float *with = malloc(n * 4), *base = malloc(n * 4), *via_set = malloc(n * 4), *via_gguf = malloc(n * 4);
    whet_lora_merged *h = NULL, *hg = NULL, *h2 = NULL;
    CHECK_OK(whet_model_apply_lora(mq, adapter, &h, &err), &err);
    CHECK(mq->resident_lora != NULL);
    CHECK_OK(whet_model_forward_padded(mq, ids, mask, B, L, with, NULL, &err), &err);
    CHECK_OK(whet_model_forward_padded(mb, ids, mask, B, L, base, NULL, &err), &err);

    const double scale = max_abs(want, n), d_with = test_max_abs_diff(with, want, n) / scale,
                 d_base = test_max_abs_diff(base, want, n) / scale;
    printf("%-11s q8_0 base + adapter vs PEFT merged f32: %.4f of max |logit| (q8_0 base alone: %.4f)\n", name,
           d_with, d_base);
    CHECK_MSG(d_with <= TOL_GGUF_Q8_0_LOGITS, "%s: q8_0 + adapter is %.4f of max |logit| from PEFT's merged model",
              name, d_with);
    CHECK_MSG(d_base > 3 * d_with, "%s: the adapter hardly moves the q8_0 model (%.4f vs %.4f)", name, d_base, d_with);

    /* the resident path == a LoRA set with every row on adapter 0 */
    whet_lora_set *set = NULL;
    CHECK_OK(whet_lora_set_create(mb, &set, &err), &err);
    CHECK_OK(whet_lora_set_add(set, adapter, NULL, &err), &err);
    int32_t rows_a[16];
    for (int b = 0; b < B && b < 16; b++) rows_a[b] = 0;
    CHECK_OK(whet_model_forward_padded_lora(mb, ids, mask, B, L, set, rows_a, via_set, NULL, &err), &err);
    CHECK_MSG(memcmp(via_set, with, n * 4) == 0, "%s: the resident adapter differs from the per-row path", name);

    /* the GGUF LoRA adapter == the folder */
    CHECK_OK(whet_model_apply_lora(mg, ad_gguf, &hg, &err), &err);
    CHECK_OK(whet_model_forward_padded(mg, ids, mask, B, L, via_gguf, NULL, &err), &err);
    CHECK_MSG(memcmp(via_gguf, with, n * 4) == 0, "%s: the GGUF adapter gives other logits than the folder", name);

    /* a second adapter is refused and leaves the model as it was */
    whet_status s2 = whet_model_apply_lora(mq, adapter, &h2, &err);
    CHECK_MSG(s2 != WHET_OK && strstr(err.msg, "already has an adapter"), "%s: second adapter: %d %s", name, (int)s2,
              err.msg);
    CHECK_OK(whet_model_forward_padded(mq, ids, mask, B, L, via_set, NULL, &err), &err);
    CHECK_MSG(memcmp(via_set, with, n * 4) == 0, "%s: a refused second adapter changed the model", name);

    whet_model_free(mq), whet_model_free(mb), whet_model_free(mg);
    whet_lora_merged_free(h), whet_lora_merged_free(hg), whet_lora_merged_free(h2);
    whet_lora_set_free(set);
    free(want), free(with), free(base), free(via_set), free(via_gguf), free(ids), free(m32), free(mask);
    whet_safetensors_close(ref);
    whet_safetensors_close(mr);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/whet_test_lora_qbase_%d", (int)getpid());
    mkdir(tmpdir, 0700);
    test_model("llama-tiny");
    test_model("qwen2-tiny");
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return TEST_SUMMARY();
}
