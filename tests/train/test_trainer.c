/* test_trainer.c: the training loop end to end on the tiny llama fixture
 * (tests/fixtures/models/llama-tiny) with a synthetic in-memory dataset:
 *  - resume: K steps, stop (checkpoint), resume_from_checkpoint true, go on
 *    to 2K: every step loss and the final adapter are bit-identical to an
 *    uninterrupted 2K run (LoRA dropout on, so the noise seeds are covered);
 *  - learning: overfitting 2 fixed sequences drives the loss far down;
 *  - output_dir: PEFT adapter that whet_peft_adapter_load reads back with
 *    PEFT tensor names, trainer_log.jsonl lines, refusal of a non-empty dir. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/file.h"
#include "core/rng.h"
#include "io/peft_adapter.h"
#include "io/safetensors.h"
#include "test.h"
#include "tolerances.h"
#include "train/train_batch.h"
#include "train/trainer.h"

/* n examples of random tokens; the first 3 positions are prompt (no label). */
static void make_dataset(whet_sft_dataset *ds, size_t n, uint64_t seed) {
    ds->items = calloc(n, sizeof *ds->items);
    ds->n = n;
    ds->owner = NULL;
    whet_rng r;
    whet_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        whet_sft_example *e = &ds->items[i];
        e->len = 10 + (int64_t)whet_rng_below(&r, 12);
        e->input_ids = malloc(sizeof(int32_t) * (size_t)e->len);
        e->labels = malloc(sizeof(int32_t) * (size_t)e->len);
        for (int64_t t = 0; t < e->len; t++) {
            e->input_ids[t] = 3 + (int32_t)whet_rng_below(&r, 500);
            e->labels[t] = t < 3 ? -100 : e->input_ids[t];
        }
        e->origin = "synthetic";
    }
}

static void free_dataset(whet_sft_dataset *ds) {
    for (size_t i = 0; i < ds->n; i++) {
        free(ds->items[i].input_ids);
        free(ds->items[i].labels);
    }
    free(ds->items);
}

static void base_cfg(whet_trainer_cfg *c, const char *out) {
    memset(c, 0, sizeof *c);
    snprintf(c->output_dir, sizeof c->output_dir, "%s", out);
    snprintf(c->base_model, sizeof c->base_model, "llama-tiny");
    c->num_train_epochs = 3;
    c->batch_size = 2;
    c->grad_accum = 2;
    c->max_grad_norm = 1.0;
    c->learning_rate = 1e-2;
    c->adam_beta1 = 0.9;
    c->adam_beta2 = 0.999;
    c->adam_epsilon = 1e-8;
    c->weight_decay = 0.01;
    c->lr_kind = WHET_LR_COSINE;
    c->warmup_steps = 2;
    c->seed = 42;
    c->data_seed = 7;
    c->logging_steps = 1;
    c->quiet = true;
    c->overwrite_output_dir = true;
    c->lora = (whet_lora_config){.r = 4, .alpha = 8, .dropout = 0.1f};
    for (int k = 0; k < WHET_MOD_COUNT; k++) c->lora.target[k] = true;
}

static void rm_rf(const char *dir) {
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

static bool same_adapters(const char *a_dir, const char *b_dir) {
    whet_peft_adapter a, b;
    whet_error err;
    if (whet_peft_adapter_load(a_dir, &a, &err) != WHET_OK) return false;
    if (whet_peft_adapter_load(b_dir, &b, &err) != WHET_OK) return false;
    bool same = a.n_pairs == b.n_pairs && a.n_pairs > 0;
    for (int i = 0; same && i < a.n_pairs; i++) {
        const whet_lora_pair *p = &a.pairs[i], *q = whet_peft_adapter_find(&b, p->layer, p->module);
        same = q && memcmp(p->a, q->a, sizeof(float) * (size_t)(a.r * p->in_features)) == 0 &&
               memcmp(p->b, q->b, sizeof(float) * (size_t)(a.r * p->out_features)) == 0;
    }
    whet_peft_adapter_free(&a);
    whet_peft_adapter_free(&b);
    return same;
}

static void test_resume(whet_model *m, const whet_sft_dataset *ds, const char *root) {
    char dir_a[4200], dir_b[4200];
    snprintf(dir_a, sizeof dir_a, "%s/full", root);
    snprintf(dir_b, sizeof dir_b, "%s/resumed", root);
    whet_trainer_cfg c;
    whet_error err;
    whet_trainer_result full = {0}, part1 = {0}, part2 = {0};
    base_cfg(&c, dir_a);
    c.max_steps = 8;   /* 7 examples, 4 micro-batches/epoch, 2 updates/epoch: crosses epochs */
    CHECK_OK(whet_trainer_run(&c, m, ds, &full, &err), &err);
    CHECK_EQ_INT(full.n_step_losses, 8);
    base_cfg(&c, dir_b);
    c.max_steps = 8;
    c.stop_after_steps = 3;
    CHECK_OK(whet_trainer_run(&c, m, ds, &part1, &err), &err);
    CHECK(part1.stopped_early);
    CHECK_EQ_INT(part1.global_step, 3);
    base_cfg(&c, dir_b);
    c.max_steps = 8;
    snprintf(c.resume, sizeof c.resume, "true");
    CHECK_OK(whet_trainer_run(&c, m, ds, &part2, &err), &err);
    CHECK_EQ_INT(part2.first_step, 4);
    CHECK_EQ_INT(part2.n_step_losses, 5);
    for (int64_t s = 0; s < 8 && full.step_losses && part1.n_step_losses == 3 && part2.n_step_losses == 5; s++) {
        const double resumed = s < 3 ? part1.step_losses[s] : part2.step_losses[s - 3];
        CHECK_MSG(resumed == full.step_losses[s], "step %lld: resumed loss %.17g != uninterrupted %.17g",
                  (long long)s + 1, resumed, full.step_losses[s]);
    }
    printf("resume: 8 step losses bit-identical (step 1 %.6f, step 8 %.6f)\n", full.step_losses[0],
           full.step_losses[7]);
    CHECK_MSG(same_adapters(dir_a, dir_b), "final adapters differ after resume");
    CHECK_NEAR(part2.train_loss, full.train_loss, 0, 0);
    whet_trainer_result_free(&full);
    whet_trainer_result_free(&part1);
    whet_trainer_result_free(&part2);
}

static int count_lines(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int n = 0, ch;
    while ((ch = fgetc(f)) != EOF) n += ch == '\n';
    fclose(f);
    return n;
}

static void test_output_dir(const char *root) {
    char path[4300];
    snprintf(path, sizeof path, "%s/full/adapter_model.safetensors", root);
    whet_safetensors *st = NULL;
    whet_error err;
    CHECK_OK(whet_safetensors_open(path, &st, &err), &err);
    if (st) {
        CHECK(whet_safetensors_find(st, "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight") != NULL);
        CHECK(whet_safetensors_find(st, "base_model.model.model.layers.1.mlp.down_proj.lora_B.weight") != NULL);
        whet_safetensors_close(st);
    }
    snprintf(path, sizeof path, "%s/full", root);
    whet_peft_adapter a;
    CHECK_OK(whet_peft_adapter_load(path, &a, &err), &err);
    CHECK_EQ_INT(a.r, 4);
    CHECK_EQ_INT(a.n_pairs, 14);
    CHECK(whet_peft_adapter_find(&a, 1, "gate_proj") != NULL);
    whet_peft_adapter_free(&a);
    static const char *const files[] = {"adapter_config.json", "trainer_state.json", "train_results.json",
                                        "all_results.json", "../resumed/checkpoint-3/whet_trainer_state.safetensors"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/full/%s", root, files[i]);
        CHECK_MSG(whet_file_exists(path), "missing %s", path);
    }
    snprintf(path, sizeof path, "%s/full/trainer_log.jsonl", root);
    CHECK_EQ_INT(count_lines(path), 8);
    snprintf(path, sizeof path, "%s/resumed/trainer_log.jsonl", root);
    CHECK_EQ_INT(count_lines(path), 8);  /* appended across the resume */
}

static void test_refuse_nonempty(whet_model *m, const whet_sft_dataset *ds, const char *root) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/full", root);
    whet_trainer_cfg c;
    base_cfg(&c, dir);
    c.overwrite_output_dir = false;
    c.max_steps = 1;
    whet_trainer_result r = {0};
    whet_error err = {0};
    CHECK(whet_trainer_run(&c, m, ds, &r, &err) == WHET_ERR_INVALID_ARG);
    CHECK(strstr(err.msg, "overwrite_output_dir") != NULL);
    whet_trainer_result_free(&r);
}

/* Two fixed sequences, 40 steps at a constant 1e-2: the model must memorise them. */
static void test_learns(whet_model *m, const char *root) {
    whet_sft_dataset ds;
    make_dataset(&ds, 2, 99);
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/overfit", root);
    whet_trainer_cfg c;
    base_cfg(&c, dir);
    c.lora.r = 8;
    c.lora.alpha = 16;
    c.lora.dropout = 0;
    c.grad_accum = 1;
    c.max_steps = 40;
    c.lr_kind = WHET_LR_CONSTANT;
    c.weight_decay = 0;
    whet_trainer_result r = {0};
    whet_error err;
    CHECK_OK(whet_trainer_run(&c, m, &ds, &r, &err), &err);
    if (r.n_step_losses == 40) {
        printf("overfit: loss %.4f -> %.4f after 40 steps\n", r.step_losses[0], r.step_losses[39]);
        CHECK(r.step_losses[0] > 6.0);                    /* random tiny model: about ln(512) = 6.24 */
        CHECK_MSG(r.step_losses[39] < TRAIN_OVERFIT_MAX_LOSS, "final loss %.4f", r.step_losses[39]);
    }
    whet_trainer_result_free(&r);
    free_dataset(&ds);
}

/* Packing: back to back, positions restart, targets = labels shifted by one inside each example. */
static void test_pack(void) {
    int32_t ids0[4] = {5, 6, 7, 8}, lab0[4] = {-100, -100, 7, 8}, ids1[3] = {9, 10, 11}, lab1[3] = {-100, 10, 11};
    whet_sft_example ex[2] = {{.input_ids = ids0, .labels = lab0, .len = 4, .origin = "a"},
                              {.input_ids = ids1, .labels = lab1, .len = 3, .origin = "b"}};
    const whet_sft_dataset ds = {.items = ex, .n = 2};
    const uint32_t idx[2] = {1, 0};
    whet_batch_buf b = {0};
    whet_error err;
    CHECK_OK(whet_batch_pack(&b, &ds, idx, 2, &err), &err);
    const int32_t tokens[7] = {9, 10, 11, 5, 6, 7, 8}, pos[7] = {0, 1, 2, 0, 1, 2, 3};
    const int32_t targets[7] = {10, 11, -100, -100, 7, 8, -100};
    CHECK_EQ_INT(b.T, 7);
    CHECK_EQ_INT(b.n_labels, 4);
    CHECK(b.cu_seqlens[0] == 0 && b.cu_seqlens[1] == 3 && b.cu_seqlens[2] == 7);
    for (int t = 0; t < 7; t++) CHECK(b.tokens[t] == tokens[t] && b.pos[t] == pos[t] && b.targets[t] == targets[t]);
    CHECK_EQ_INT(whet_example_n_targets(&ex[0]), 2);
    /* a neat_packing row: two segments and a pad; segments become sequences, the pad is dropped */
    int32_t ids2[6] = {1, 2, 3, 4, 5, 0}, lab2[6] = {-100, 2, -100, 4, 5, -100};
    int32_t pos2[6] = {0, 1, 0, 1, 2, 0}, seg2[6] = {1, 1, 2, 2, 2, 0};
    whet_sft_example row = {.input_ids = ids2, .labels = lab2, .len = 6, .origin = "row", .position_ids = pos2,
                            .segment_ids = seg2};
    const whet_sft_dataset packed_ds = {.items = &row, .n = 1};
    const uint32_t zero = 0;
    CHECK_OK(whet_batch_pack(&b, &packed_ds, &zero, 1, &err), &err);
    CHECK_EQ_INT(b.T, 5);
    CHECK_EQ_INT(b.n_seqs, 2);
    CHECK(b.cu_seqlens[1] == 2 && b.cu_seqlens[2] == 5);
    const int32_t targets2[5] = {2, -100, 4, 5, -100}, pos2_out[5] = {0, 1, 0, 1, 2};
    for (int t = 0; t < 5; t++) CHECK(b.targets[t] == targets2[t] && b.pos[t] == pos2_out[t]);
    whet_batch_buf_free(&b);
}

/* num_items_in_batch: one step over 4 examples as 2 micro-batches x 2 accumulation equals the same
 * 4 examples as 1 micro-batch of 4 (both are the token mean of the group), up to float rounding. */
static void test_accumulation_is_token_mean(whet_model *m, const whet_sft_dataset *ds7, const char *root) {
    whet_sft_dataset ds = {.items = ds7->items, .n = 4};
    double loss[2] = {0, 0};
    for (int v = 0; v < 2; v++) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/accum%d", root, v);
        whet_trainer_cfg c;
        base_cfg(&c, dir);
        c.lora.dropout = 0;
        c.max_steps = 1;
        c.batch_size = v ? 4 : 2;
        c.grad_accum = v ? 1 : 2;
        whet_trainer_result r = {0};
        whet_error err;
        CHECK_OK(whet_trainer_run(&c, m, &ds, &r, &err), &err);
        if (r.n_step_losses == 1) loss[v] = r.step_losses[0];
        whet_trainer_result_free(&r);
    }
    printf("accumulation: 2x2 loss %.9f, 1x4 loss %.9f\n", loss[0], loss[1]);
    CHECK_NEAR(loss[0], loss[1], 1e-5, 1e-6);
    CHECK(loss[0] > 1);
}

int main(void) {
    whet_model *m = NULL;
    whet_error err;
    const whet_model_load_opts mo = {.keep_dtype = false, .n_threads = 2};
    CHECK_OK(whet_model_load(WHET_FIXTURES "/models/llama-tiny", &mo, &m, &err), &err);
    if (!m) return TEST_SUMMARY();
    char root[] = "/tmp/whet_test_trainer_XXXXXX";
    CHECK(mkdtemp(root) != NULL);
    whet_sft_dataset ds;
    make_dataset(&ds, 7, 1);
    test_pack();
    test_accumulation_is_token_mean(m, &ds, root);
    test_resume(m, &ds, root);
    test_output_dir(root);
    test_refuse_nonempty(m, &ds, root);
    test_learns(m, root);
    free_dataset(&ds);
    rm_rf(root);
    whet_model_free(m);
    return TEST_SUMMARY();
}
