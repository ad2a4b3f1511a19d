/* test_forward.c: the CPU forward pass against transformers' float32
 * outputs for the three tiny models (tests/fixtures/reference/<name>/
 * forward.safetensors, a right-padded batch of two chat samples): logits,
 * every hidden state, the masked-mean causal-LM loss, and the 24-token
 * greedy continuation through the paged KV cache (prefill + decode). Also:
 * paged prefill of both rows in one step agrees with the padded forward, a
 * two-shard copy gives identical logits, stories260K greedy from BOS matches
 * its reference, and bad folders (missing tensor, shape vs config.json) are
 * refused with messages naming the tensor. Prints the measured max errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/file.h"
#include "core/json.h"
#include "model/model.h"
#include "ops/softmax.h"
#include "ref_fixture.h"
#include "test.h"
#include "tolerances.h"

typedef struct {
    int B, L, V, H;
    int32_t *ids;
    uint8_t *mask;
    int32_t *labels;
} ref_batch;

/* max |a-b| over the positions whose mask is 1 (rows of `width` floats). */
static double masked_max_diff(const float *a, const float *b, const uint8_t *mask, size_t rows, size_t width) {
    double m = 0;
    for (size_t r = 0; r < rows; r++)
        if (mask[r]) {
            double d = test_max_abs_diff(a + r * width, b + r * width, width);
            m = d > m ? d : m;
        }
    return m;
}

/* transformers' causal-LM loss: labels shifted by one, mean over labels != -100. */
static double causal_lm_loss(const float *logits, const int32_t *labels, int B, int L, int V) {
    double sum = 0;
    int n = 0;
    for (int b = 0; b < B; b++)
        for (int p = 0; p + 1 < L; p++) {
            int32_t y = labels[b * L + p + 1];
            if (y == -100) continue;
            const float *row = logits + ((size_t)b * L + p) * V;
            sum += (double)whet_logsumexp(row, V) - row[y];
            n++;
        }
    return n ? sum / n : NAN;
}

/* Greedy decode `n_new` tokens after `prompt` through the paged KV cache
 * (prefill in one step, then one token per step), blocks of 4 slots handed
 * out in reverse order so the table is not the identity. */
static void greedy_paged(whet_model *m, const int32_t *prompt, int P, int n_new, int32_t *out) {
    whet_error err = {0};
    int total = P + n_new, bs = 4, nb = (total + bs - 1) / bs;
    whet_kv_pool kv;
    CHECK_OK(whet_kv_pool_init(&kv, &m->cfg, bs, nb + 3, &err), &err);
    int32_t *table = malloc((size_t)nb * sizeof *table);
    for (int i = 0; i < nb; i++) table[i] = nb + 2 - i;
    const int32_t *tables[1] = {table};
    int32_t *tokens = malloc((size_t)total * sizeof *tokens), *pos = malloc((size_t)total * sizeof *pos);
    int32_t *seq = calloc((size_t)total, sizeof *seq);
    float *logits = malloc((size_t)m->cfg.vocab_size * sizeof *logits);
    memcpy(tokens, prompt, (size_t)P * sizeof *tokens);
    for (int i = 0; i < total; i++) pos[i] = i;
    whet_forward_ws ws = {0};
    int done = P, start = 0;
    for (int step = 0; step < n_new; step++) {
        int32_t last = (int32_t)(done - start - 1);
        whet_forward_batch b = {.n_tokens = done - start, .tokens = tokens + start, .pos = pos + start, .seq_of = seq,
                                .n_seqs = 1, .block_tables = tables, .n_logits = 1, .logit_rows = &last};
        CHECK_OK(whet_model_forward(m, &kv, &b, logits, &ws, &err), &err);
        int best = 0;
        for (int v = 1; v < m->cfg.vocab_size; v++) best = logits[v] > logits[best] ? v : best;
        out[step] = best;
        tokens[done] = best;
        start = done;
        done++;
    }
    whet_forward_ws_free(&ws);
    whet_kv_pool_free(&kv);
    free(table);
    free(tokens);
    free(pos);
    free(seq);
    free(logits);
}

/* Both rows of the batch as two sequences in ONE paged step (interleaved
 * blocks); their logits equal the padded forward's on the real positions. */
static double paged_two_rows(whet_model *m, const ref_batch *rb, const float *ref_logits) {
    whet_error err = {0};
    int bs = 8, per = (rb->L + bs - 1) / bs;
    whet_kv_pool kv;
    CHECK_OK(whet_kv_pool_init(&kv, &m->cfg, bs, 2 * per, &err), &err);
    int32_t *t0 = malloc((size_t)per * sizeof *t0), *t1 = malloc((size_t)per * sizeof *t1);
    for (int i = 0; i < per; i++) { t0[i] = 2 * i; t1[i] = 2 * i + 1; }
    const int32_t *tables[2] = {t0, t1};
    int n = 0;
    int32_t *tok = malloc(2 * (size_t)rb->L * sizeof *tok), *pos = malloc(2 * (size_t)rb->L * sizeof *pos);
    int32_t *seq = malloc(2 * (size_t)rb->L * sizeof *seq), *rows = malloc(2 * (size_t)rb->L * sizeof *rows);
    int32_t *src = malloc(2 * (size_t)rb->L * sizeof *src);
    for (int b = 0; b < 2; b++)
        for (int p = 0; p < rb->L; p++)
            if (rb->mask[b * rb->L + p]) {
                tok[n] = rb->ids[b * rb->L + p];
                pos[n] = p;
                seq[n] = b;
                rows[n] = n;
                src[n] = b * rb->L + p;
                n++;
            }
    float *logits = malloc((size_t)n * rb->V * sizeof *logits);
    whet_forward_batch fb = {.n_tokens = n, .tokens = tok, .pos = pos, .seq_of = seq, .n_seqs = 2,
                             .block_tables = tables, .n_logits = n, .logit_rows = rows};
    whet_forward_ws ws = {0};
    CHECK_OK(whet_model_forward(m, &kv, &fb, logits, &ws, &err), &err);
    double worst = 0;
    for (int i = 0; i < n; i++) {
        double d = test_max_abs_diff(logits + (size_t)i * rb->V, ref_logits + (size_t)src[i] * rb->V, (size_t)rb->V);
        worst = d > worst ? d : worst;
    }
    whet_forward_ws_free(&ws);
    whet_kv_pool_free(&kv);
    free(t0); free(t1); free(tok); free(pos); free(seq); free(rows); free(src); free(logits);
    return worst;
}

static void test_model(const char *name) {
    char mdir[512], rpath[512];
    snprintf(mdir, sizeof mdir, "%s/models/%s", WHET_FIXTURES, name);
    snprintf(rpath, sizeof rpath, "%s/reference/%s/forward.safetensors", WHET_FIXTURES, name);
    whet_error err = {0};
    whet_model *m = NULL;
    whet_model_load_opts opts = {.n_threads = 2};
    CHECK_OK(whet_model_load(mdir, &opts, &m, &err), &err);
    whet_safetensors *ref = NULL;
    CHECK_OK(whet_safetensors_open(rpath, &ref, &err), &err);
    if (!m || !ref) return;
    ref_batch rb = {0};
    int64_t n;
    rb.ids = ref_read_ids(ref, "input_ids", &n);
    int32_t *mask32 = ref_read_ids(ref, "attention_mask", &n);
    rb.labels = ref_read_ids(ref, "labels", &n);
    const whet_st_tensor *ti = whet_safetensors_find(ref, "input_ids");
    rb.B = (int)ti->shape[0];
    rb.L = (int)ti->shape[1];
    rb.V = m->cfg.vocab_size;
    rb.H = m->cfg.hidden_size;
    size_t BL = (size_t)rb.B * rb.L;
    rb.mask = malloc(BL);
    for (size_t i = 0; i < BL; i++) rb.mask[i] = (uint8_t)mask32[i];
    int NL = m->cfg.n_layers;
    float *logits = malloc(BL * rb.V * sizeof(float));
    float *hidden = malloc((size_t)(NL + 1) * BL * rb.H * sizeof(float));
    CHECK_OK(whet_model_forward_padded(m, rb.ids, rb.mask, rb.B, rb.L, logits, hidden, &err), &err);
    float *ref_logits = ref_read_f32(ref, "logits", (int64_t)(BL * rb.V));
    CHECK(ref_logits != NULL);
    double dl_real = masked_max_diff(logits, ref_logits, rb.mask, BL, (size_t)rb.V);
    double dl_all = test_max_abs_diff(logits, ref_logits, BL * rb.V);
    CHECK_MSG(dl_real <= TOL_LOGITS_ATOL, "%s logits max err %.3g", name, dl_real);
    /* padding rows follow transformers too (pad queries attend to the real keys only) */
    CHECK_MSG(dl_all <= TOL_LOGITS_ATOL, "%s logits (incl. padding) max err %.3g", name, dl_all);
    printf("%-12s logits max|err| %.3g (real tokens), %.3g (all, padding included)\n", name, dl_real, dl_all);
    for (int h = 0; h <= NL; h++) {
        char key[32];
        snprintf(key, sizeof key, "hidden_states.%d", h);
        float *rh = ref_read_f32(ref, key, (int64_t)(BL * rb.H));
        CHECK_MSG(rh != NULL, "%s: %s missing", name, key);
        if (!rh) continue;
        double d = test_max_abs_diff(hidden + (size_t)h * BL * rb.H, rh, BL * rb.H);
        CHECK_MSG(d <= TOL_HIDDEN_ATOL, "%s %s max err %.3g", name, key, d);
        printf("%-12s %s max|err| %.3g\n", name, key, d);
        free(rh);
    }
    float ref_loss;
    int64_t one = 1;
    CHECK_OK(whet_safetensors_read_f32(ref, "loss", 1, &one, &ref_loss, &err), &err);
    double loss = causal_lm_loss(logits, rb.labels, rb.B, rb.L, rb.V);
    CHECK_NEAR(loss, ref_loss, 0, TOL_LOSS_RTOL);
    printf("%-12s loss %.7f vs HF %.7f (rel err %.2g)\n", name, loss, ref_loss, fabs(loss - ref_loss) / ref_loss);

    double dp = paged_two_rows(m, &rb, ref_logits);
    CHECK_MSG(dp <= TOL_LOGITS_ATOL, "%s paged two-sequence logits max err %.3g", name, dp);
    printf("%-12s paged 2-sequence step logits max|err| %.3g\n", name, dp);

    int64_t np, no;
    int32_t *prompt = ref_read_ids(ref, "greedy_prompt", &np), *want = ref_read_ids(ref, "greedy_output", &no);
    CHECK(prompt && want && no == np + 24);
    if (prompt && want) {
        int32_t got[24];
        greedy_paged(m, prompt, (int)np, 24, got);
        int same = 0;
        while (same < 24 && got[same] == want[np + same]) same++;
        CHECK_MSG(same == 24, "%s greedy: first difference at new token %d (%d vs %d)", name, same,
                  same < 24 ? got[same] : -1, same < 24 ? want[np + same] : -1);
        printf("%-12s greedy: %d/24 tokens equal to transformers' generate\n", name, same);
    }
    free(prompt); free(want);
    free(rb.ids); free(mask32); free(rb.labels); free(rb.mask);
    free(logits); free(hidden); free(ref_logits);
    whet_safetensors_close(ref);
    whet_model_free(m);
}

static void test_stories(void) {
    whet_error err = {0};
    whet_model *m = NULL;
    CHECK_OK(whet_model_load(WHET_SOURCE_DIR "/models/stories260K-hf", NULL, &m, &err), &err);
    cJSON *ref = NULL;
    CHECK_OK(whet_json_parse_file(WHET_SOURCE_DIR "/models/stories260K-hf/reference_greedy.json", &ref, &err), &err);
    if (!m || !ref) return;
    const cJSON *ids = cJSON_GetObjectItem(ref, "greedy_ids");
    int n = cJSON_GetArraySize(ids);
    int32_t prompt[1] = {1};
    int32_t *got = malloc((size_t)n * sizeof *got);
    greedy_paged(m, prompt, 1, n, got);
    int same = 0;
    while (same < n && got[same] == cJSON_GetArrayItem(ids, same)->valueint) same++;
    CHECK_MSG(same == n, "stories260K greedy differs at token %d", same);
    printf("stories260K  greedy from BOS: %d/%d tokens equal to reference_greedy.json\n", same, n);
    free(got);
    cJSON_Delete(ref);
    whet_model_free(m);
}

static void copy_file(const char *from, const char *to) {
    char *buf;
    size_t len;
    whet_error err;
    if (whet_read_file(from, &buf, &len, &err) != WHET_OK) return;
    FILE *f = fopen(to, "wb");
    fwrite(buf, 1, len, f);
    fclose(f);
    free(buf);
}

/* Write llama-tiny's tensors (all but `skip`) into `dir` as `n_shards` shards (+ index when > 1). */
static void write_copy(const char *dir, int n_shards, const char *skip, const char *config_text) {
    whet_error err = {0};
    whet_mkdirs(dir, &err);
    char p[700];
    snprintf(p, sizeof p, "%s/config.json", dir);
    if (config_text) {
        FILE *f = fopen(p, "w");
        fputs(config_text, f);
        fclose(f);
    } else {
        copy_file(WHET_FIXTURES "/models/llama-tiny/config.json", p);
    }
    whet_safetensors *st = NULL;
    whet_safetensors_open_dir(WHET_FIXTURES "/models/llama-tiny", &st, &err);
    cJSON *wm = cJSON_CreateObject();
    size_t cnt = whet_safetensors_count(st);
    for (int s = 0; s < n_shards; s++) {
        whet_st_writer *w = NULL;
        whet_st_writer_create(&w, &err);
        char fname[64];
        if (n_shards == 1) snprintf(fname, sizeof fname, "model.safetensors");
        else snprintf(fname, sizeof fname, "model-%05d-of-%05d.safetensors", s + 1, n_shards);
        for (size_t i = 0; i < cnt; i++) {
            const whet_st_tensor *t = whet_safetensors_at(st, i);
            if ((int)(i % (size_t)n_shards) != s || (skip && !strcmp(t->name, skip))) continue;
            whet_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data, &err);
            cJSON_AddStringToObject(wm, t->name, fname);
        }
        snprintf(p, sizeof p, "%s/%s", dir, fname);
        CHECK_OK(whet_st_writer_write(w, p, &err), &err);
        whet_st_writer_free(w);
    }
    if (n_shards > 1) {
        cJSON *idx = cJSON_CreateObject();
        cJSON_AddItemToObject(idx, "weight_map", wm);
        snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
        whet_json_write_file(p, idx, &err);
        cJSON_Delete(idx);
    } else {
        cJSON_Delete(wm);
    }
    whet_safetensors_close(st);
}

static void test_sharded_and_bad(const char *tmp) {
    whet_error err = {0};
    char dir[512];
    snprintf(dir, sizeof dir, "%s/sharded", tmp);
    write_copy(dir, 2, NULL, NULL);
    whet_model *a = NULL, *b = NULL;
    CHECK_OK(whet_model_load(WHET_FIXTURES "/models/llama-tiny", NULL, &a, &err), &err);
    CHECK_OK(whet_model_load(dir, NULL, &b, &err), &err);
    if (a && b) {
        int32_t ids[6] = {1, 50, 300, 7, 99, 2};
        float *la = malloc(6 * 512 * sizeof(float)), *lb = malloc(6 * 512 * sizeof(float));
        CHECK_OK(whet_model_forward_padded(a, ids, NULL, 1, 6, la, NULL, &err), &err);
        CHECK_OK(whet_model_forward_padded(b, ids, NULL, 1, 6, lb, NULL, &err), &err);
        CHECK_MSG(memcmp(la, lb, 6 * 512 * sizeof(float)) == 0, "two-shard logits differ from the single file");
        ids[2] = 512;
        CHECK_EQ_INT(whet_model_forward_padded(a, ids, NULL, 1, 6, la, NULL, &err), WHET_ERR_INVALID_ARG);
        CHECK(strstr(err.msg, "512") != NULL);
        free(la);
        free(lb);
    }
    whet_model_free(a);
    whet_model_free(b);

    snprintf(dir, sizeof dir, "%s/missing", tmp);
    write_copy(dir, 1, "model.layers.1.mlp.up_proj.weight", NULL);
    CHECK_EQ_INT(whet_model_load(dir, NULL, &a, &err), WHET_ERR_NOT_FOUND);
    CHECK_MSG(strstr(err.msg, "model.layers.1.mlp.up_proj.weight") != NULL, "%s", err.msg);
    printf("missing tensor  -> %s\n", err.msg);

    snprintf(dir, sizeof dir, "%s/shape", tmp);
    write_copy(dir, 1, NULL,
               "{\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":128,\"num_hidden_layers\":2,"
               "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"vocab_size\":512}");
    CHECK_EQ_INT(whet_model_load(dir, NULL, &a, &err), WHET_ERR_SHAPE);
    CHECK_MSG(strstr(err.msg, "gate_proj") && strstr(err.msg, "[160, 64]") && strstr(err.msg, "[128, 64]"), "%s",
              err.msg);
    printf("shape vs config -> %s\n", err.msg);

    snprintf(dir, sizeof dir, "%s/untied", tmp);
    write_copy(dir, 1, "lm_head.weight", NULL);
    CHECK_EQ_INT(whet_model_load(dir, NULL, &a, &err), WHET_ERR_NOT_FOUND);
    CHECK(strstr(err.msg, "tie_word_embeddings") != NULL);

    snprintf(dir, sizeof dir, "%s/arch", tmp);
    write_copy(dir, 1, NULL, "{\"model_type\":\"gemma\",\"hidden_size\":64}");
    CHECK_EQ_INT(whet_model_load(dir, NULL, &a, &err), WHET_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "gemma") != NULL);
}

int main(void) {
    test_model("llama-tiny");
    test_model("qwen2-tiny");
    test_model("llama3-tiny");
    test_stories();
    char tmp[64] = "/tmp/whet_test_fwd_XXXXXX";
    if (mkdtemp(tmp)) {
        test_sharded_and_bad(tmp);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    }
    return TEST_SUMMARY();
}
