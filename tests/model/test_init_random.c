/* test_init_random.c: `whet init-model`'s library call. A random folder of
 * each tiny model's config (llama: tied/untied; qwen2: q/k/v biases) loads
 * with whet_model_load (so every tensor name and shape is what the loader and
 * transformers expect), shards with a correct index when the shard limit is
 * small, holds N(0, std) weights / zero biases / unit norms, and an existing
 * output folder or a bad config is refused without leaving files behind. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "core/file.h"
#include "core/json.h"
#include "model/init_random.h"
#include "model/model.h"
#include "test.h"

/* Sample mean and standard deviation of a weight widened to f32. */
static void weight_stats(const whet_weight *w, double *mean, double *sd) {
    int64_t n = w->rows * w->cols;
    const float *x = (const float *)w->data;
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) s += x[i], s2 += (double)x[i] * x[i];
    *mean = s / (double)n;
    *sd = sqrt(s2 / (double)n - *mean * *mean);
}

static void test_config(const char *name, const char *tmp) {
    char cfg[512], out[600];
    snprintf(cfg, sizeof cfg, "%s/models/%s/config.json", WHET_FIXTURES, name);
    snprintf(out, sizeof out, "%s/%s", tmp, name);
    whet_error err = {0};
    whet_init_random_opts o = {.seed = 3, .dtype = WHET_DT_BF16, .init_std = 0.05, .max_shard_bytes = 60000};
    CHECK_OK(whet_model_init_random(cfg, out, &o, &err), &err);
    char idx[700];
    snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", out);
    cJSON *index = NULL;
    CHECK_OK(whet_json_parse_file(idx, &index, &err), &err);
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(index, "weight_map");
    CHECK(cJSON_IsObject(map) && cJSON_GetArraySize(map) > 10);
    cJSON_Delete(index);

    whet_model *m = NULL;
    CHECK_OK(whet_model_load(out, NULL, &m, &err), &err);   /* f32 at load: stats below read floats */
    if (!m) return;
    double mean, sd;
    weight_stats(&m->layers[0].gate_proj, &mean, &sd);
    int64_t n = m->layers[0].gate_proj.rows * m->layers[0].gate_proj.cols;
    /* the sample sd of n normals has relative sd 1/sqrt(2n); allow 6 of them plus bf16 rounding */
    CHECK_MSG(fabs(sd / 0.05 - 1) < 6 / sqrt(2.0 * (double)n) + 1.0 / 256, "%s: weight sd %.5f, want 0.05", name, sd);
    CHECK_MSG(fabs(mean) < 6 * 0.05 / sqrt((double)n), "%s: weight mean %.5f", name, mean);
    for (int i = 0; i < m->cfg.hidden_size; i++) CHECK(m->layers[0].input_norm[i] == 1.0f);
    if (m->layers[0].q_bias)
        for (int i = 0; i < 8; i++) CHECK(m->layers[0].q_bias[i] == 0.0f);
    printf("%-12s random folder: %d layers, weight sd %.5f (want 0.05), sharded with an index\n", name,
           m->cfg.n_layers, sd);
    whet_model_free(m);

    /* the same folder again is refused and nothing is touched */
    CHECK(whet_model_init_random(cfg, out, &o, &err) == WHET_ERR_INVALID_ARG);
}

static void test_bad_config(const char *tmp) {
    char cfg[600], out[600], tmpdir[700];
    snprintf(cfg, sizeof cfg, "%s/bad_config.json", tmp);
    FILE *f = fopen(cfg, "w");
    fputs("{\"model_type\": \"gpt2\", \"hidden_size\": 8}", f);
    fclose(f);
    snprintf(out, sizeof out, "%s/bad_out", tmp);
    whet_error err = {0};
    CHECK(whet_model_init_random(cfg, out, NULL, &err) != WHET_OK);
    CHECK_MSG(strstr(err.msg, "gpt2") != NULL, "message should name the model_type: %s", err.msg);
    CHECK(!whet_dir_exists(out));
    snprintf(tmpdir, sizeof tmpdir, "%s.tmp.%ld", out, (long)getpid());
    CHECK(!whet_dir_exists(tmpdir));
}

int main(void) {
    char tmp[] = "/tmp/whet_test_init_XXXXXX";
    if (!mkdtemp(tmp)) TEST_SKIP("no temp dir");
    test_config("llama-tiny", tmp);
    test_config("qwen2-tiny", tmp);
    test_config("llama3-tiny", tmp);
    test_bad_config(tmp);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    return TEST_SUMMARY();
}
