/* test_chat_lora.c: `whet chat --adapter_name_or_path`'s LoRA-at-load
 * (src/model/lora_apply_infer.c) against PEFT: llama-tiny + the reference
 * adapter (tests/fixtures/chat/llama-tiny-lora, copied from
 * shared/testdata/reference/llama-tiny/adapter) gives the logits of PEFT's
 * merge_and_unload() model on the reference batch (every unmasked position),
 * and the merged weights equal shared/.../merged/model.safetensors when
 * present. Bad adapters are errors naming the folder, never a crash. */
#include <stdlib.h>
#include <string.h>
#include "core/file.h"
#include "io/safetensors.h"
#include "model/lora_apply_infer.h"
#include "test.h"
#include "tolerances.h"

#define LORA_DIR WHET_FIXTURES "/chat/llama-tiny-lora"

static void check_merged_weights(whet_model *m) {
    const char *dir = WHET_FIXTURES "/export/llama-tiny/merged";   /* PEFT's merge_and_unload of the same adapter */
    whet_safetensors *st = NULL;
    whet_error err = {0};
    CHECK_OK(whet_safetensors_open_dir(dir, &st, &err), &err);
    if (!st) return;
    static const char *const mods[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                                       "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"};
    double worst = 0;
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int k = 0; k < 7; k++) {
            char name[128];
            snprintf(name, sizeof name, "model.layers.%d.%s.weight", l, mods[k]);
            whet_weight *w = whet_model_find_weight(m, name);
            const whet_st_tensor *t = whet_safetensors_find(st, name);
            CHECK_MSG(w && t && w->dtype == WHET_DT_F32 && t->numel == w->rows * w->cols, "%s", name);
            if (!w || !t || w->dtype != WHET_DT_F32 || t->numel != w->rows * w->cols) continue;
            float *ref = malloc((size_t)t->numel * sizeof *ref);
            CHECK_OK(whet_st_tensor_to_f32(t, ref, &err), &err);
            double d = test_max_abs_diff(w->data, ref, (size_t)t->numel);
            if (d > worst) worst = d;
            free(ref);
        }
    printf("merged weights vs PEFT merge_and_unload: max abs err %.3g\n", worst);
    CHECK(worst <= TOL_OPS_F32);
    whet_safetensors_close(st);
}

static void check_logits(whet_model *m) {
    whet_safetensors *st = NULL;
    whet_error err = {0};
    CHECK_OK(whet_safetensors_open(LORA_DIR "/merged_logits.safetensors", &st, &err), &err);
    if (!st) return;
    const int B = 2, L = 96, V = m->cfg.vocab_size;
    float *idf = malloc(sizeof(float) * B * L), *maskf = malloc(sizeof(float) * B * L);
    float *ref = malloc(sizeof(float) * B * L * V), *got = malloc(sizeof(float) * B * L * V);
    int32_t ids[2 * 96];
    uint8_t mask[2 * 96];
    int64_t s2[2] = {B, L}, s3[3] = {B, L, V};
    CHECK_OK(whet_safetensors_read_f32(st, "input_ids", 2, s2, idf, &err), &err);
    CHECK_OK(whet_safetensors_read_f32(st, "attention_mask", 2, s2, maskf, &err), &err);
    CHECK_OK(whet_safetensors_read_f32(st, "logits", 3, s3, ref, &err), &err);
    for (int i = 0; i < B * L; i++) ids[i] = (int32_t)idf[i], mask[i] = maskf[i] != 0;
    CHECK_OK(whet_model_forward_padded(m, ids, mask, B, L, got, NULL, &err), &err);
    double worst = 0;
    int rows = 0, over = 0;
    for (int i = 0; i < B * L; i++) {
        if (!mask[i]) continue;
        rows++;
        for (int v = 0; v < V; v++) {
            double d = fabs((double)got[(size_t)i * V + v] - ref[(size_t)i * V + v]);
            double lim = TOL_LOGITS_ATOL + TOL_LOGITS_RTOL * fabs(ref[(size_t)i * V + v]);
            if (d > worst) worst = d;
            over += d > lim;
        }
    }
    CHECK_MSG(over == 0, "%d logits outside TOL_LOGITS", over);
    printf("base + adapter logits vs PEFT merged model (%d positions): max abs err %.3g\n", rows, worst);
    free(idf), free(maskf), free(ref), free(got);
    whet_safetensors_close(st);
}

int main(void) {
    whet_error err = {0};
    whet_model *m = NULL;
    whet_model_load_opts lo = {.n_threads = 1};
    CHECK_OK(whet_model_load(WHET_FIXTURES "/models/llama-tiny", &lo, &m, &err), &err);
    if (!m) return TEST_SUMMARY();
    /* A missing adapter folder is an error naming it; the model is untouched. */
    whet_lora_merged *bad = NULL;
    CHECK(whet_model_apply_lora(m, WHET_FIXTURES "/chat/no-such-adapter", &bad, &err) != WHET_OK);
    CHECK_MSG(strstr(err.msg, "no-such-adapter") != NULL, "%s", err.msg);
    CHECK(bad == NULL);
    /* An adapter for another base (qwen2-tiny's shapes differ) is refused before anything changes. */
    whet_model *q = NULL;
    CHECK_OK(whet_model_load(WHET_FIXTURES "/models/qwen2-tiny", &lo, &q, &err), &err);
    if (q) {
        const void *before = q->layers[0].q_proj.data;
        whet_status s = whet_model_apply_lora(q, LORA_DIR, &bad, &err);
        if (s != WHET_OK) CHECK(q->layers[0].q_proj.data == before);
        if (s != WHET_OK) printf("wrong-base adapter: %s\n", err.msg);
        whet_lora_merged_free(bad);
        bad = NULL;
        whet_model_free(q);
    }
    whet_lora_merged *h = NULL;
    CHECK_OK(whet_model_apply_lora(m, LORA_DIR, &h, &err), &err);
    if (h) {
        check_logits(m);
        check_merged_weights(m);
    }
    whet_model_free(m);
    whet_lora_merged_free(h);
    return TEST_SUMMARY();
}
