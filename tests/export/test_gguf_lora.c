/* test_gguf_lora.c: PEFT adapter -> GGUF LoRA adapter (export/gguf_lora_export.h)
 * and back (--adapter_name_or_path x.gguf, model/lora_gguf.h via
 * whet_model_apply_lora), on the three tiny models and PEFT's reference
 * adapters (tests/fixtures/export/<m>/adapter, from shared/testdata/reference).
 * Expectations come from llama.cpp's loader (src/llama-adapter.cpp) and
 * convert_lora_to_gguf.py, not from whet's writer:
 * - metadata: general.architecture = the base's arch, general.type
 *   "adapter", adapter.type "lora", adapter.lora.alpha a FLOAT32 equal to
 *   lora_alpha (rsLoRA: lora_alpha·sqrt(r), since llama.cpp scales by
 *   alpha / lora_b.ne0), general.quantization_version 2, no hparams/vocab;
 * - tensors: "blk.<L>.<llama.cpp name>.weight.lora_a|b" (names from
 *   llama.cpp's tensor map, written out below), lora_a ne {in, r}, lora_b
 *   ne {r, out}, ggml type ids from ggml.h (F32 0, F16 1, Q8_0 8, BF16 30;
 *   Q8_0 falls back to F16 where ne0 % 32, as gguf-py's QuantError path);
 * - values: A as PEFT's bytes; B rows of q/k in LlamaModel.permute's order
 *   for arch llama (GGUF row h*hd + 2i + j holds HF row h*hd + j*hd/2 + i);
 *   (alpha/r)·B·A from the file, un-permuted, equals PEFT's scale·B·A to
 *   double rounding in F32 and within the error the stored type allows
 *   (bounded element by element from the format) for F16/BF16/Q8_0;
 * - end to end: base + x.gguf gives PEFT's merged logits
 *   (merged_forward.safetensors), for an HF folder base and an f32 GGUF base,
 *   bit-identical to base + the PEFT folder;
 * - errors: a module the base lacks, a shape mismatch, a dtype convert does
 *   not allow, an existing out file (kept unless overwrite), lora_alpha 0;
 *   the reader refuses an arch mismatch, a model GGUF, a lone lora_a and a
 *   transposed lora_a, leaving the model as it was. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/file.h"
#include "core/half.h"
#include "export/gguf_export.h"
#include "export/gguf_lora_export.h"
#include "export/merge.h"
#include "io/gguf.h"
#include "io/hf_config.h"
#include "io/peft_adapter.h"
#include "io/safetensors.h"
#include "model/lora_apply_infer.h"
#include "model/model.h"
#include "ops/quant.h"
#include "ref_fixture.h"
#include "test.h"
#include "tolerances.h"

static char tmpdir[256];
static const char *const MODELS[3] = {"llama-tiny", "qwen2-tiny", "llama3-tiny"};

/* ggml.h's enum ggml_type */
enum { GGML_F32 = 0, GGML_F16 = 1, GGML_Q8_0 = 8, GGML_BF16 = 30 };

/* llama.cpp's tensor names (gguf-py MODEL_TENSOR_NAMES) for the PEFT modules */
static const char *gg_name(const char *module) {
    static const char *const map[][2] = {{"q_proj", "attn_q"},      {"k_proj", "attn_k"},  {"v_proj", "attn_v"},
                                         {"o_proj", "attn_output"}, {"gate_proj", "ffn_gate"},
                                         {"up_proj", "ffn_up"},     {"down_proj", "ffn_down"}};
    for (int i = 0; i < 7; i++)
        if (!strcmp(module, map[i][0])) return map[i][1];
    return "?";
}

static void paths(const char *name, char *base, char *adapter, size_t cap) {
    snprintf(base, cap, "%s/models/%s", WHET_FIXTURES, name);
    snprintf(adapter, cap, "%s/export/%s/adapter", WHET_FIXTURES, name);
}

static const char *dtype_tag(whet_dtype dt) {
    return dt == WHET_DT_F32 ? "f32" : dt == WHET_DT_F16 ? "f16" : dt == WHET_DT_BF16 ? "bf16" : "q8_0";
}

/* ---- reading the file independently of the writer ---- */

static bool kv_str_is(const whet_gguf *g, const char *key, const char *want) {
    const whet_gguf_kv *kv = whet_gguf_find_kv(g, key);
    return kv && kv->type == WHET_GGUF_STRING && kv->str_len == strlen(want) && !memcmp(kv->str, want, kv->str_len);
}

/* A tensor's values as f32 [ne1, ne0]. */
static float *tensor_f32(const whet_gguf_tensor *t) {
    const int64_t cols = t->ne[0], rows = t->ne[1];
    float *f = malloc((size_t)(cols * rows) * sizeof *f);
    const size_t rb = whet_dtype_nbytes((whet_dtype)t->dtype, (size_t)cols);
    for (int64_t r = 0; f && r < rows; r++)
        whet_dequantize_row((whet_dtype)t->dtype, (const uint8_t *)t->data + (size_t)r * rb, cols, f + r * cols);
    return f;
}

/* The largest error storing x[0..n) (one row) in ggml type `gt` may make, per
 * element, from the formats: f16/bf16 round to nearest (half an ulp:
 * |x|·2^-11 / |x|·2^-8, f16 subnormals 2^-25); Q8_0 blocks of 32 store
 * q = round(x/d), d = amax/127 rounded to f16, so |err| <= d/2 + 127·d·2^-11. */
static void elem_bounds(int gt, const float *x, int64_t n, double *bound) {
    for (int64_t i = 0; i < n; i++) {
        double a = fabs(x[i]);
        bound[i] = gt == GGML_F32 ? 0 : gt == GGML_F16 ? fmax(a * 0x1p-11, 0x1p-25) : gt == GGML_BF16 ? a * 0x1p-8 : 0;
    }
    if (gt != GGML_Q8_0) return;
    for (int64_t b0 = 0; b0 < n; b0 += 32) {
        double amax = 0;
        for (int64_t i = b0; i < b0 + 32 && i < n; i++) amax = fmax(amax, fabs(x[i]));
        double d = amax / 127.0;
        for (int64_t i = b0; i < b0 + 32 && i < n; i++) bound[i] = d * (0.5 + 127.0 / 2048.0) + 1e-12;
    }
}

/* GGUF row holding HF row `hf` of a q/k matrix with `heads` heads (LlamaModel.permute). */
static int64_t permuted_row(int64_t hf, int64_t rows, int heads) {
    int64_t hd = rows / heads, half = hd / 2, h = hf / hd, k = hf % hd, j = k / half, i = k % half;
    return h * hd + 2 * i + j;
}

typedef struct {
    double max_err, worst_ratio, delta_scale, elem_over;   /* worst_ratio: |err| / its format bound */
} check_stats;

/* One pair: names, shapes, types, element bounds and the scaled delta. */
static void check_pair(const whet_gguf *g, const whet_peft_adapter *ad, const whet_lora_pair *p, bool llama,
                       const whet_model_config *cfg, int want_type, float file_alpha, check_stats *cs) {
    char na[128], nb[128];
    snprintf(na, sizeof na, "blk.%d.%s.weight.lora_a", p->layer, gg_name(p->module));
    snprintf(nb, sizeof nb, "blk.%d.%s.weight.lora_b", p->layer, gg_name(p->module));
    const whet_gguf_tensor *ta = whet_gguf_find_tensor(g, na), *tb = whet_gguf_find_tensor(g, nb);
    CHECK_MSG(ta && tb, "%s / %s missing", na, nb);
    if (!ta || !tb) return;
    const int64_t r = ad->r, in = p->in_features, out = p->out_features;
    CHECK_MSG(ta->n_dims == 2 && ta->ne[0] == in && ta->ne[1] == r, "%s ne {%lld, %lld}, want {%lld, %lld}", na,
              (long long)ta->ne[0], (long long)ta->ne[1], (long long)in, (long long)r);
    CHECK_MSG(tb->n_dims == 2 && tb->ne[0] == r && tb->ne[1] == out, "%s ne {%lld, %lld}, want {%lld, %lld}", nb,
              (long long)tb->ne[0], (long long)tb->ne[1], (long long)r, (long long)out);
    if (ta->ne[0] != in || ta->ne[1] != r || tb->ne[0] != r || tb->ne[1] != out) return;
    const int ga = want_type == GGML_Q8_0 && in % 32 ? GGML_F16 : want_type;
    const int gb = want_type == GGML_Q8_0 && r % 32 ? GGML_F16 : want_type;
    CHECK_MSG(ta->ggml_type == ga, "%s: ggml type %d, want %d", na, ta->ggml_type, ga);
    CHECK_MSG(tb->ggml_type == gb, "%s: ggml type %d, want %d", nb, tb->ggml_type, gb);
    float *fa = tensor_f32(ta), *fb = tensor_f32(tb);   /* [r, in], [out, r] as stored */
    double *ba = malloc((size_t)(r * in) * sizeof *ba), *bb = malloc((size_t)(out * r) * sizeof *bb);
    /* element bounds; hb/hfb: B back in HF row order */
    float *hb = malloc((size_t)(out * r) * sizeof *hb);
    const bool perm = llama && (!strcmp(p->module, "q_proj") || !strcmp(p->module, "k_proj"));
    const int heads = !strcmp(p->module, "q_proj") ? cfg->n_heads : cfg->n_kv_heads;
    for (int64_t row = 0; row < out; row++) {
        int64_t src = perm ? permuted_row(row, out, heads) : row;
        memcpy(hb + row * r, fb + src * r, (size_t)r * sizeof *hb);
    }
    for (int64_t k = 0; k < r; k++) elem_bounds(ga, p->a + k * in, in, ba + k * in);
    for (int64_t o = 0; o < out; o++) elem_bounds(gb, p->b + o * r, r, bb + o * r);
    for (int64_t i = 0; i < r * in; i++) cs->elem_over += fabs((double)fa[i] - p->a[i]) > ba[i];
    for (int64_t i = 0; i < out * r; i++) cs->elem_over += fabs((double)hb[i] - p->b[i]) > bb[i];
    if (ga == GGML_F32) CHECK_MSG(!memcmp(ta->data, p->a, (size_t)(r * in) * 4), "%s: f32 bytes differ from PEFT's A", na);
    /* delta: file (alpha/r)·B·A un-permuted vs PEFT scale·B·A; bound from the element bounds */
    const double fscale = file_alpha / (double)tb->ne[0], pscale = whet_peft_adapter_scale(ad);
    for (int64_t o = 0; o < out; o++)
        for (int64_t i = 0; i < in; i++) {
            double got = 0, want = 0, bound = 0;
            for (int64_t k = 0; k < r; k++) {
                double A = p->a[k * in + i], B = p->b[o * r + k], eA = ba[k * in + i], eB = bb[o * r + k];
                got += (double)hb[o * r + k] * fa[k * in + i];
                want += B * A;
                bound += fabs(B) * eA + fabs(A) * eB + eA * eB;
            }
            got *= fscale, want *= pscale;
            double e = fabs(got - want), lim = pscale * bound * (1 + 1e-9) + 1e-12 * fabs(want) + 1e-30;
            cs->max_err = fmax(cs->max_err, e);
            cs->worst_ratio = fmax(cs->worst_ratio, e / lim);
            cs->delta_scale = fmax(cs->delta_scale, fabs(want));
        }
    free(fa), free(fb), free(ba), free(bb), free(hb);
}

/* Export `adapter` for `base` as `dtype` and check the file against PEFT. */
static void check_export(const char *label, const char *base, const char *adapter, whet_dtype dtype) {
    whet_error err = {0};
    char out[4096];
    snprintf(out, sizeof out, "%s/%s-%s.gguf", tmpdir, label, dtype_tag(dtype));
    CHECK_OK(whet_export_gguf_lora(base, adapter, out, dtype, false, &err), &err);
    whet_model_config cfg;
    whet_peft_adapter ad;
    memset(&ad, 0, sizeof ad);
    CHECK_OK(whet_hf_config_load(base, &cfg, &err), &err);
    CHECK_OK(whet_peft_adapter_load(adapter, &ad, &err), &err);
    whet_gguf *g = NULL;
    CHECK_OK(whet_gguf_open(out, &g, &err), &err);
    if (!g) return;
    const bool llama = !strcmp(cfg.model_type, "llama");
    const char *arch = llama ? "llama" : cfg.model_type;
    CHECK_MSG(kv_str_is(g, "general.architecture", arch), "%s: general.architecture", label);
    CHECK(kv_str_is(g, "general.type", "adapter"));
    CHECK(kv_str_is(g, "adapter.type", "lora"));
    const whet_gguf_kv *alpha = whet_gguf_find_kv(g, "adapter.lora.alpha");
    CHECK_MSG(alpha && alpha->type == WHET_GGUF_FLOAT32, "adapter.lora.alpha must be FLOAT32");
    const double want_alpha = ad.use_rslora ? ad.lora_alpha * sqrt((double)ad.r) : ad.lora_alpha;
    CHECK_MSG(alpha && (float)alpha->f == (float)want_alpha, "alpha %g, want %g", alpha ? alpha->f : -1, want_alpha);
    uint32_t qv = 0;
    CHECK_OK(whet_gguf_get_u32(g, "general.quantization_version", &qv, &err), &err);
    CHECK_EQ_INT(qv, 2);
    char hkey[64];
    snprintf(hkey, sizeof hkey, "%s.block_count", arch);
    CHECK_MSG(!whet_gguf_find_kv(g, hkey) && !whet_gguf_find_kv(g, "tokenizer.ggml.model"),
              "an adapter carries no hparams or vocabulary (convert_lora_to_gguf writes none)");
    CHECK_EQ_INT(whet_gguf_n_tensors(g), 2 * (size_t)ad.n_pairs);
    const int want_type = dtype == WHET_DT_F32 ? GGML_F32 : dtype == WHET_DT_F16 ? GGML_F16
                        : dtype == WHET_DT_BF16 ? GGML_BF16 : GGML_Q8_0;
    check_stats cs = {0};
    for (int i = 0; i < ad.n_pairs; i++)
        check_pair(g, &ad, &ad.pairs[i], llama, &cfg, want_type, alpha ? (float)alpha->f : 0, &cs);
    printf("%-18s %-4s %2d pairs: (alpha/r)BA vs PEFT max|err| %.3g (max|delta| %.3g, %.2f of the format bound), %g "
           "elements off\n", label, dtype_tag(dtype), ad.n_pairs, cs.max_err, cs.delta_scale, cs.worst_ratio,
           cs.elem_over);
    CHECK_MSG(cs.elem_over == 0, "%s %s: %g stored elements outside the format's rounding bound", label,
              dtype_tag(dtype), cs.elem_over);
    CHECK_MSG(cs.worst_ratio <= 1, "%s %s: (alpha/r) B A off PEFT's delta by %.3g, %.3g x the format's bound", label,
              dtype_tag(dtype), cs.max_err, cs.worst_ratio);
    whet_gguf_close(g);
    whet_peft_adapter_free(&ad);
}

/* ---- end to end: logits ---- */

static float *batch_logits(whet_model *m, const char *name, int *n_out) {
    char fwd[4096];
    snprintf(fwd, sizeof fwd, "%s/reference/%s/forward.safetensors", WHET_FIXTURES, name);
    whet_safetensors *ref = NULL;
    whet_error err = {0};
    CHECK_OK(whet_safetensors_open(fwd, &ref, &err), &err);
    if (!ref) return NULL;
    int64_t n = 0;
    int32_t *ids = ref_read_ids(ref, "input_ids", &n), *mask32 = ref_read_ids(ref, "attention_mask", &n);
    const whet_st_tensor *ti = whet_safetensors_find(ref, "input_ids");
    const int B = (int)ti->shape[0], L = (int)ti->shape[1], V = m->cfg.vocab_size;
    uint8_t *mask = malloc((size_t)n);
    for (int64_t i = 0; i < n; i++) mask[i] = (uint8_t)mask32[i];
    float *logits = malloc((size_t)B * L * V * sizeof(float));
    CHECK_OK(whet_model_forward_padded(m, ids, mask, B, L, logits, NULL, &err), &err);
    *n_out = B * L * V;
    free(mask), free(ids), free(mask32);
    whet_safetensors_close(ref);
    return logits;
}

static float *logits_with(const char *model_path, const char *adapter, const char *name, int *n) {
    whet_error err = {0};
    whet_model *m = NULL;
    whet_model_load_opts lo = {.n_threads = 1};
    whet_lora_merged *lora = NULL;
    CHECK_OK(whet_model_load(model_path, &lo, &m, &err), &err);
    if (!m) return NULL;
    CHECK_OK(whet_model_apply_lora(m, adapter, &lora, &err), &err);
    float *l = lora ? batch_logits(m, name, n) : NULL;
    whet_model_free(m);
    whet_lora_merged_free(lora);
    return l;
}

static void check_logits(const char *name) {
    whet_error err = {0};
    char base[4096], adapter[4096], ad_gguf[4096], base_gguf[4096], mref[4096];
    paths(name, base, adapter, sizeof base);
    snprintf(ad_gguf, sizeof ad_gguf, "%s/%s-f32.gguf", tmpdir, name);   /* from check_export */
    snprintf(base_gguf, sizeof base_gguf, "%s/%s-base-f32.gguf", tmpdir, name);
    snprintf(mref, sizeof mref, "%s/export/%s/merged_forward.safetensors", WHET_FIXTURES, name);
    whet_export_model em;
    CHECK_OK(whet_export_load(base, &em, &err), &err);
    whet_gguf_export_opts go = {.path = base_gguf, .ftype = WHET_GGUF_FT_F32, .name = name};
    CHECK_OK(whet_export_gguf(&em, &go, &err), &err);
    whet_export_free(&em);
    whet_safetensors *mr = NULL;
    CHECK_OK(whet_safetensors_open(mref, &mr, &err), &err);
    if (!mr) return;
    int n = 0, n2 = 0;
    float *hf_gguf = logits_with(base, ad_gguf, name, &n), *hf_peft = logits_with(base, adapter, name, &n2);
    float *gg_gguf = logits_with(base_gguf, ad_gguf, name, &n2), *gg_peft = logits_with(base_gguf, adapter, name, &n2);
    float *want = n ? ref_read_f32(mr, "logits", n) : NULL;
    CHECK(hf_gguf && hf_peft && gg_gguf && gg_peft && want);
    if (hf_gguf && hf_peft && gg_gguf && gg_peft && want) {
        double scale = 0;
        for (int i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
        const bool llama3 = !strcmp(name, "llama3-tiny");   /* rope_freqs round trip, see tolerances.h */
        const double tol_gguf_base = TOL_LOGITS_ATOL + (llama3 ? TOL_GGUF_F32_LLAMA3_ROPE * scale : 0);
        double d_hf = test_max_abs_diff(hf_gguf, want, (size_t)n), d_gg = test_max_abs_diff(gg_gguf, want, (size_t)n);
        double s_hf = test_max_abs_diff(hf_gguf, hf_peft, (size_t)n), s_gg = test_max_abs_diff(gg_gguf, gg_peft, (size_t)n);
        printf("%-12s x.gguf adapter logits vs PEFT merged: HF base %.3g, GGUF base %.3g; vs the PEFT folder adapter: "
               "%.3g / %.3g\n", name, d_hf, d_gg, s_hf, s_gg);
        CHECK_MSG(d_hf <= TOL_LOGITS_ATOL, "%s: HF base + GGUF adapter logits off by %.3g", name, d_hf);
        CHECK_MSG(d_gg <= tol_gguf_base, "%s: GGUF base + GGUF adapter logits off by %.3g", name, d_gg);
        CHECK_MSG(s_hf == 0 && s_gg == 0, "%s: f32 GGUF adapter and PEFT folder give different logits (%.3g, %.3g)",
                  name, s_hf, s_gg);
    }
    free(hf_gguf), free(hf_peft), free(gg_gguf), free(gg_peft), free(want);
    whet_safetensors_close(mr);
}

/* ---- errors ---- */

static void check_export_errors(void) {
    whet_error err = {0};
    char base[4096], adapter[4096], bad[4096], out[4096];
    paths("llama-tiny", base, adapter, sizeof base);
    whet_peft_adapter ad;
    memset(&ad, 0, sizeof ad);
    CHECK_OK(whet_peft_adapter_load(adapter, &ad, &err), &err);
    if (!ad.n_pairs) return;
    snprintf(out, sizeof out, "%s/err.gguf", tmpdir);

    /* a layer the base lacks (llama-tiny has 2) */
    const int layer0 = ad.pairs[0].layer;
    ad.pairs[0].layer = 5;
    snprintf(bad, sizeof bad, "%s/bad-layer-adapter", tmpdir);
    CHECK_OK(whet_peft_adapter_save(&ad, bad, "float32", &err), &err);
    ad.pairs[0].layer = layer0;
    err = (whet_error){0};
    CHECK_EQ_INT(whet_export_gguf_lora(base, bad, out, WHET_DT_F16, false, &err), WHET_ERR_SHAPE);
    CHECK_MSG(strstr(err.msg, "model.layers.5.") && strstr(err.msg, "bad-layer-adapter"), "%s", err.msg);
    CHECK(!whet_file_exists(out));

    /* qwen2-tiny's adapter (1 kv head) on llama-tiny (2): k_proj shapes differ */
    char qbase[4096], qad[4096];
    paths("qwen2-tiny", qbase, qad, sizeof qbase);
    err = (whet_error){0};
    CHECK_EQ_INT(whet_export_gguf_lora(base, qad, out, WHET_DT_F16, false, &err), WHET_ERR_SHAPE);
    CHECK_MSG(strstr(err.msg, "k_proj") && strstr(err.msg, "base model"), "%s", err.msg);
    CHECK(!whet_file_exists(out));

    /* a type convert_lora_to_gguf does not offer */
    err = (whet_error){0};
    CHECK_EQ_INT(whet_export_gguf_lora(base, adapter, out, WHET_DT_Q4_K, false, &err), WHET_ERR_INVALID_ARG);
    CHECK_MSG(strstr(err.msg, "q8_0") != NULL, "%s", err.msg);
    CHECK(!whet_file_exists(out));

    /* lora_alpha 0: llama.cpp would read it as unscaled */
    const float alpha = ad.lora_alpha;
    ad.lora_alpha = 0;
    snprintf(bad, sizeof bad, "%s/alpha0-adapter", tmpdir);
    CHECK_OK(whet_peft_adapter_save(&ad, bad, "float32", &err), &err);
    ad.lora_alpha = alpha;
    err = (whet_error){0};
    CHECK_EQ_INT(whet_export_gguf_lora(base, bad, out, WHET_DT_F32, false, &err), WHET_ERR_UNSUPPORTED);
    CHECK(!whet_file_exists(out));

    /* an existing file is kept unless overwrite */
    FILE *f = fopen(out, "wb");
    if (f) fputs("keep me", f), fclose(f);
    err = (whet_error){0};
    CHECK_EQ_INT(whet_export_gguf_lora(base, adapter, out, WHET_DT_F16, false, &err), WHET_ERR_INVALID_ARG);
    CHECK_MSG(strstr(err.msg, "err.gguf") && strstr(err.msg, "exists"), "%s", err.msg);
    char *text = NULL;
    size_t len = 0;
    CHECK_OK(whet_read_file(out, &text, &len, &err), &err);
    CHECK(text && !strcmp(text, "keep me"));
    free(text);
    CHECK_OK(whet_export_gguf_lora(base, adapter, out, WHET_DT_F16, true, &err), &err);
    whet_gguf *g = NULL;
    CHECK_OK(whet_gguf_open(out, &g, &err), &err);
    if (g) CHECK(kv_str_is(g, "general.type", "adapter"));
    whet_gguf_close(g);
    /* a folder as the out path */
    err = (whet_error){0};
    CHECK(whet_export_gguf_lora(base, adapter, tmpdir, WHET_DT_F16, true, &err) == WHET_ERR_INVALID_ARG);
    /* no temp files left behind by any of the failures */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q '\\.tmp\\.'", tmpdir);
    CHECK_MSG(system(cmd) != 0, "a temp file was left in %s", tmpdir);
    unlink(out);
    whet_peft_adapter_free(&ad);
}

/* Apply `adapter` to llama-tiny; it must fail with `code` and `needle` in the message, model unchanged. */
static void expect_apply_error(const char *adapter, whet_status code, const char *needle) {
    char base[4096], unused[4096];
    paths("llama-tiny", base, unused, sizeof base);
    whet_error err = {0};
    whet_model *m = NULL;
    whet_model_load_opts lo = {.n_threads = 1};
    CHECK_OK(whet_model_load(base, &lo, &m, &err), &err);
    if (!m) return;
    const void *q = m->layers[0].q_proj.data;
    whet_lora_merged *lora = NULL;
    err = (whet_error){0};
    whet_status s = whet_model_apply_lora(m, adapter, &lora, &err);
    CHECK_MSG(s == code, "%s: status %d, want %d (%s)", adapter, s, code, err.msg);
    CHECK_MSG(strstr(err.msg, needle) != NULL, "message \"%s\" lacks \"%s\"", err.msg, needle);
    CHECK(lora == NULL && m->layers[0].q_proj.data == q);
    whet_model_free(m);
}

static void write_pair_file(const char *path, const int64_t *ne_a, const int64_t *ne_b) {
    whet_error err = {0};
    whet_gguf_writer *w = NULL;
    CHECK_OK(whet_gguf_writer_create(&w, &err), &err);
    if (!w) return;
    CHECK_OK(whet_gguf_set_str(w, "general.architecture", "llama", &err), &err);
    CHECK_OK(whet_gguf_set_str(w, "general.type", "adapter", &err), &err);
    CHECK_OK(whet_gguf_set_str(w, "adapter.type", "lora", &err), &err);
    CHECK_OK(whet_gguf_set_f32(w, "adapter.lora.alpha", 8.0f, &err), &err);
    float *a = calloc((size_t)(ne_a[0] * ne_a[1]), sizeof *a);
    CHECK_OK(whet_gguf_add_tensor(w, "blk.0.attn_v.weight.lora_a", WHET_DT_F32, 2, ne_a, a, true, &err), &err);
    if (ne_b) {
        float *b = calloc((size_t)(ne_b[0] * ne_b[1]), sizeof *b);
        CHECK_OK(whet_gguf_add_tensor(w, "blk.0.attn_v.weight.lora_b", WHET_DT_F32, 2, ne_b, b, true, &err), &err);
    }
    CHECK_OK(whet_gguf_writer_write(w, path, &err), &err);
    whet_gguf_writer_free(w);
}

static void check_reader_errors(void) {
    char path[4096];
    /* qwen2's adapter file on a llama model */
    snprintf(path, sizeof path, "%s/qwen2-tiny-f32.gguf", tmpdir);
    expect_apply_error(path, WHET_ERR_SHAPE, "arch");
    /* a model GGUF is not an adapter */
    snprintf(path, sizeof path, "%s/llama-tiny-base-f32.gguf", tmpdir);
    expect_apply_error(path, WHET_ERR_FORMAT, "general.type");
    /* a lone lora_a; a transposed lora_a (llama-tiny v_proj: in 64, out 32, r 4) */
    snprintf(path, sizeof path, "%s/lone.gguf", tmpdir);
    write_pair_file(path, (const int64_t[]){64, 4}, NULL);
    expect_apply_error(path, WHET_ERR_FORMAT, "missing its lora_b");
    snprintf(path, sizeof path, "%s/transposed.gguf", tmpdir);
    write_pair_file(path, (const int64_t[]){4, 64}, (const int64_t[]){4, 32});
    expect_apply_error(path, WHET_ERR_SHAPE, "lora_a is {in, r}");
    snprintf(path, sizeof path, "%s/absent.gguf", tmpdir);
    expect_apply_error(path, WHET_ERR_NOT_FOUND, "absent.gguf");
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/whet_test_gguf_lora_%d", (int)getpid());
    mkdir(tmpdir, 0700);
    static const whet_dtype types[] = {WHET_DT_F32, WHET_DT_F16, WHET_DT_BF16, WHET_DT_Q8_0};
    for (int i = 0; i < 3; i++) {
        char base[4096], adapter[4096];
        paths(MODELS[i], base, adapter, sizeof base);
        for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) check_export(MODELS[i], base, adapter, types[k]);
    }
    /* rsLoRA: the llama-tiny adapter with use_rslora (scale 8/sqrt(4) = 4 instead of 8/4) */
    {
        char base[4096], adapter[4096], rs[4096];
        paths("llama-tiny", base, adapter, sizeof base);
        snprintf(rs, sizeof rs, "%s/rslora-adapter", tmpdir);
        whet_peft_adapter ad;
        memset(&ad, 0, sizeof ad);
        whet_error err = {0};
        CHECK_OK(whet_peft_adapter_load(adapter, &ad, &err), &err);
        ad.use_rslora = true;
        CHECK_OK(whet_peft_adapter_save(&ad, rs, "float32", &err), &err);
        whet_peft_adapter_free(&ad);
        check_export("llama-tiny-rslora", base, rs, WHET_DT_F32);
        check_export("llama-tiny-rslora", base, rs, WHET_DT_Q8_0);
    }
    for (int i = 0; i < 3; i++) check_logits(MODELS[i]);
    check_export_errors();
    check_reader_errors();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return TEST_SUMMARY();
}
