/* test_convert_cli.c: `whet convert` (src/cli/cmd_convert.c) as a user runs
 * it, and the GGUF importer under it (src/export/gguf_import*.c), on the
 * tiny models in tests/fixtures/models (llama-tiny: arch llama, permuted
 * Q/K, SentencePiece vocab; qwen2-tiny: biases, byte-level BPE; llama3-tiny:
 * Llama 3.1 rope_freqs):
 * 1. HF folder -> f32 GGUF loads in whet with the folder's logits (bit for
 *    bit; llama3 within TOL_GGUF_F32_LLAMA3_ROPE, as test_gguf_load), and
 *    reading it back with whet_export_load_gguf gives the folder's tensors
 *    under their HF names, bit for bit (names mapped back, Q/K un-permuted);
 * 2. HF -> f32 GGUF -> convert to q8_0 / q4_k_m gives the same tensor types
 *    and block bytes as HF -> q8_0 / q4_k_m directly (f32 -> f32 is exact,
 *    so the requantizer sees the same floats);
 * 3. GGUF f32 -> GGUF f32 gives the same metadata (every key, type and
 *    value: arch keys, tokens, scores, token types, merges, special ids,
 *    add_bos/eos, chat_template) and tensors (names, types, shapes, bytes);
 *    for llama3 this checks that the rope parameters recovered from
 *    rope_freqs rebuild the same factors; the same for the real Llama 3.1 /
 *    3.2 rope shapes written by whet_export_gguf;
 * 4. HF + PEFT adapter -> f32 GGUF holds PEFT's merge_and_unload weights;
 * 5. errors: a missing model, a .gguf of architecture gpt2, an unknown
 *    outtype (did-you-mean), a GGUF tensor with no HF name, rope_freqs no
 *    Llama 3 parameters produce: non-zero exit, message naming the file/key,
 *    and no output file; an existing outfile is refused and left untouched,
 *    replaced with --overwrite_output_dir;
 * 6. the default --outfile names (convert_hf_to_gguf / llama-quantize) and
 *    the requantization warning for an already-quantized input;
 * 7. real vocabularies (llama.cpp's vocab GGUFs, the Qwen2.5 / Llama-3 HF
 *    tokenizers) under random tiny models keep every tokenizer key. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli_run.h"
#include "core/file.h"
#include "export/gguf_export.h"
#include "export/gguf_import.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "export_fixture.h"
#include "test.h"
#include "tolerances.h"

static char root[] = "/tmp/whet_test_convert_XXXXXX";
static const char *const MODELS[] = {"llama-tiny", "qwen2-tiny", "llama3-tiny"};

static const char *text(const whet_strbuf *sb) { return sb->data ? sb->data : ""; }

/* `whet convert <args>` with stderr folded into `out`. */
static int convert(const char *args, whet_strbuf *out) {
    whet_strbuf cmd;
    whet_sb_init(&cmd);
    whet_sb_printf(&cmd, "%s convert %s 2>&1", WHET_BINARY, args);
    whet_sb_clear(out);
    const int rc = cli_run(cmd.data, out);
    whet_sb_free(&cmd);
    return rc;
}

static int convertf(whet_strbuf *out, const char *fmt, const char *a, const char *b, const char *c) {
    char args[16000];
    snprintf(args, sizeof args, fmt, a, b, c);
    return convert(args, out);
}

static void model_dir(const char *name, char *out, size_t cap) { snprintf(out, cap, "%s/models/%s", WHET_FIXTURES, name); }

enum { B = EXPORT_TEST_B, L = EXPORT_TEST_L };


/* 1. */
static void test_hf_to_f32(const char *name) {
    char dir[4096], out[4200];
    model_dir(name, dir, sizeof dir);
    snprintf(out, sizeof out, "%s/%s-f32.gguf", root, name);
    whet_strbuf o;
    whet_sb_init(&o);
    CHECK_MSG(convertf(&o, "--model_name_or_path '%s' --outtype f32 --outfile '%s'%s", dir, out, "") == 0, "%s", text(&o));
    CHECK_MSG(strstr(text(&o), "warning") == NULL, "%s: unexpected warning: %s", name, text(&o));
    whet_error err = {0};
    const whet_model_load_opts lo = {.n_threads = 1};
    whet_model *hf = NULL, *g = NULL;
    CHECK_OK(whet_model_load(dir, &lo, &hf, &err), &err);
    CHECK_OK(whet_model_load(out, &lo, &g, &err), &err);
    if (hf && g) {
        const size_t n = (size_t)B * L * (size_t)hf->cfg.vocab_size;
        float *want = export_test_logits(hf), *got = export_test_logits(g);
        double scale = 0;
        for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
        const double d = test_max_abs_diff(got, want, n);
        if (hf->cfg.rope_type == WHET_ROPE_LLAMA3) CHECK_MSG(d <= TOL_GGUF_F32_LLAMA3_ROPE * scale, "%s: %.3g", name, d);
        else CHECK_MSG(d == 0, "%s: f32 GGUF logits differ from the folder's by %.3g", name, d);
        printf("%-12s HF -> f32 GGUF: logits max abs err %.3g (max |logit| %.3g)\n", name, d, scale);
        free(want);
        free(got);
    }
    whet_model_free(hf);
    whet_model_free(g);

    /* the importer gives back the folder's tensors, bit for bit */
    whet_export_model a, b;
    CHECK_OK(whet_export_load(dir, &a, &err), &err);
    CHECK_OK(whet_export_load_gguf(out, &b, NULL, &err), &err);
    size_t compared = 0;
    for (size_t i = 0; i < a.n; i++) {
        const whet_export_tensor *t = &a.t[i], *u = whet_export_find(&b, t->name);
        if (!strcmp(t->name, "lm_head.weight") && a.cfg.tie_word_embeddings) continue;
        CHECK_MSG(u != NULL, "%s: %s missing after the round trip", name, t->name);
        if (!u) continue;
        CHECK_MSG(u->numel == t->numel && u->shape[0] == t->shape[0] && u->shape[1] == t->shape[1], "%s: %s shape",
                  name, t->name);
        if (u->numel == t->numel)
            CHECK_MSG(memcmp(u->data, t->data, (size_t)t->numel * sizeof(float)) == 0, "%s: %s differs", name, t->name);
        compared++;
    }
    CHECK_EQ_INT((int)b.n, (int)compared);
    CHECK_EQ_INT(b.cfg.tie_word_embeddings, a.cfg.tie_word_embeddings || !whet_export_find(&a, "lm_head.weight"));
    whet_export_free(&a);
    whet_export_free(&b);
    whet_sb_free(&o);
}

/* Two GGUFs hold the same tensors: names, order, types, shapes, bytes. */
static void same_tensors(const char *pa, const char *pb, const char *what) {
    whet_error err = {0};
    whet_gguf *a = NULL, *b = NULL;
    CHECK_OK(whet_gguf_open(pa, &a, &err), &err);
    CHECK_OK(whet_gguf_open(pb, &b, &err), &err);
    if (!a || !b) goto done;
    CHECK_EQ_INT((int)whet_gguf_n_tensors(a), (int)whet_gguf_n_tensors(b));
    size_t differ = 0, n = whet_gguf_n_tensors(a) < whet_gguf_n_tensors(b) ? whet_gguf_n_tensors(a) : whet_gguf_n_tensors(b);
    for (size_t i = 0; i < n; i++) {
        const whet_gguf_tensor *x = whet_gguf_tensor_at(a, i), *y = whet_gguf_tensor_at(b, i);
        bool same = !strcmp(x->name, y->name) && x->ggml_type == y->ggml_type && x->n_dims == y->n_dims &&
                    x->ne[0] == y->ne[0] && x->ne[1] == y->ne[1] && x->nbytes == y->nbytes &&
                    memcmp(x->data, y->data, x->nbytes) == 0;
        if (!same) {
            differ++;
            printf("  %s: tensor %zu %s (type %d) vs %s (type %d) differ\n", what, i, x->name, x->ggml_type, y->name,
                   y->ggml_type);
        }
    }
    CHECK_MSG(differ == 0, "%s: %zu tensors differ", what, differ);
done:
    whet_gguf_close(a);
    whet_gguf_close(b);
}

static bool kv_equal(const whet_gguf_kv *x, const whet_gguf_kv *y) {
    if (x->type != y->type) return false;
    switch (x->type) {
    case WHET_GGUF_STRING: return x->str_len == y->str_len && memcmp(x->str, y->str, x->str_len) == 0;
    case WHET_GGUF_FLOAT32: case WHET_GGUF_FLOAT64: return x->f == y->f;
    case WHET_GGUF_INT8: case WHET_GGUF_INT16: case WHET_GGUF_INT32: case WHET_GGUF_INT64: return x->i == y->i;
    case WHET_GGUF_ARRAY:
        if (x->arr_type != y->arr_type || x->arr_n != y->arr_n) return false;
        for (uint64_t i = 0; i < x->arr_n; i++) {
            if (x->arr_type == WHET_GGUF_STRING) {
                uint64_t la, lb;
                const char *sa = whet_gguf_arr_str(x, i, &la), *sb = whet_gguf_arr_str(y, i, &lb);
                if (la != lb || memcmp(sa, sb, la)) return false;
            } else if (x->arr_type == WHET_GGUF_INT32) {
                if (whet_gguf_arr_i32(x, i) != whet_gguf_arr_i32(y, i)) return false;
            } else if (x->arr_type == WHET_GGUF_FLOAT32) {
                float fa = whet_gguf_arr_f32(x, i), fb = whet_gguf_arr_f32(y, i);
                if (memcmp(&fa, &fb, sizeof fa)) return false;
            } else {
                return false;   /* the writer stores no other array types */
            }
        }
        return true;
    default: return x->u == y->u;
    }
}

/* Every key of `pa` is in `pb` with the same type and value, in the same order. */
static void same_metadata(const char *pa, const char *pb, const char *what) {
    whet_error err = {0};
    whet_gguf *a = NULL, *b = NULL;
    CHECK_OK(whet_gguf_open(pa, &a, &err), &err);
    CHECK_OK(whet_gguf_open(pb, &b, &err), &err);
    if (!a || !b) goto done;
    CHECK_EQ_INT((int)whet_gguf_n_kv(a), (int)whet_gguf_n_kv(b));
    for (size_t i = 0; i < whet_gguf_n_kv(a) && i < whet_gguf_n_kv(b); i++) {
        const whet_gguf_kv *x = whet_gguf_kv_at(a, i), *y = whet_gguf_kv_at(b, i);
        CHECK_MSG(!strcmp(x->key, y->key) && kv_equal(x, y), "%s: key %zu: %s vs %s differ", what, i, x->key, y->key);
    }
    /* the keys this check is about are there to be compared */
    static const char *const keys[] = {"general.architecture", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type",
                                       "tokenizer.ggml.merges", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.add_bos_token",
                                       "tokenizer.ggml.add_eos_token", "tokenizer.chat_template"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        CHECK_MSG(whet_gguf_find_kv(a, keys[k]) != NULL, "%s: %s has no %s", what, pa, keys[k]);
    bool add_bos = false;   /* Llama's BOS (Qwen has none) */
    if (whet_gguf_get_bool(a, "tokenizer.ggml.add_bos_token", &add_bos, &err) == WHET_OK && add_bos)
        CHECK_MSG(whet_gguf_find_kv(a, "tokenizer.ggml.bos_token_id") != NULL, "%s: add_bos without a bos id", what);
done:
    whet_gguf_close(a);
    whet_gguf_close(b);
}

/* 2. and 3. */
static void test_requantize(const char *name) {
    char dir[4096], f32[4200], rt[4200], direct[4200], re[4200];
    model_dir(name, dir, sizeof dir);
    snprintf(f32, sizeof f32, "%s/%s-f32.gguf", root, name);
    snprintf(rt, sizeof rt, "%s/%s-f32-again.gguf", root, name);
    whet_strbuf o;
    whet_sb_init(&o);
    CHECK_MSG(convertf(&o, "--model_name_or_path '%s' --outtype f32 --outfile '%s'%s", f32, rt, "") == 0, "%s", text(&o));
    CHECK_MSG(strstr(text(&o), "warning") == NULL, "%s: f32 input warned: %s", name, text(&o));
    same_metadata(f32, rt, name);
    same_tensors(f32, rt, name);
    static const char *const types[] = {"q8_0", "q4_k_m"};
    for (size_t k = 0; k < 2; k++) {
        snprintf(direct, sizeof direct, "%s/%s-direct-%s.gguf", root, name, types[k]);
        snprintf(re, sizeof re, "%s/%s-re-%s.gguf", root, name, types[k]);
        CHECK_MSG(convertf(&o, "--model_name_or_path '%s' --outfile '%s' --outtype %s", dir, direct, types[k]) == 0, "%s",
                  text(&o));
        CHECK_MSG(convertf(&o, "--model_name_or_path '%s' --outfile '%s' --outtype %s", f32, re, types[k]) == 0, "%s",
                  text(&o));
        char what[128];
        snprintf(what, sizeof what, "%s %s: requantized vs direct", name, types[k]);
        same_tensors(direct, re, what);
        same_metadata(direct, re, what);
        printf("%-12s HF -> f32 -> %s == HF -> %s (tensor bytes and metadata)\n", name, types[k], types[k]);
        unlink(direct);
        unlink(re);
    }
    unlink(rt);
    whet_sb_free(&o);
}

/* 3. for rope shapes bigger than the fixture's: whet_export_gguf writes
 * rope_freqs for the given Llama 3 rope, the importer recovers parameters,
 * and writing again gives the same floats. */
static void test_rope_shapes(void) {
    static const struct { const char *what; int head_dim; double theta, factor, lo, hi; int old; } R[] = {
        {"Llama 3.1 (hd 128)", 128, 500000.0, 8.0, 1.0, 4.0, 8192},
        {"Llama 3.2 (hd 64)", 64, 500000.0, 32.0, 1.0, 4.0, 8192},
        {"odd (hd 64)", 64, 10000.0, 16.0, 1.5, 3.7, 4096},
    };
    char dir[4096], a[4200], b[4200];
    model_dir("llama3-tiny", dir, sizeof dir);
    whet_error err = {0};
    whet_export_model m;
    CHECK_OK(whet_export_load(dir, &m, &err), &err);
    if (!m.t) return;
    for (size_t k = 0; k < sizeof R / sizeof R[0]; k++) {
        /* only key_length and rope_freqs see head_dim: the tensors stay the fixture's */
        m.cfg.head_dim = R[k].head_dim;
        m.cfg.rope_theta = R[k].theta;
        m.cfg.rope_factor = R[k].factor;
        m.cfg.rope_low_freq_factor = R[k].lo;
        m.cfg.rope_high_freq_factor = R[k].hi;
        m.cfg.rope_original_max_pos = R[k].old;
        snprintf(a, sizeof a, "%s/rope-a.gguf", root);
        snprintf(b, sizeof b, "%s/rope-b.gguf", root);
        const whet_gguf_export_opts oa = {.path = a, .ftype = WHET_GGUF_FT_F32, .name = "rope"};
        CHECK_OK(whet_export_gguf(&m, &oa, &err), &err);
        whet_export_model back;
        CHECK_OK(whet_export_load_gguf(a, &back, NULL, &err), &err);
        if (!back.t) continue;
        CHECK_EQ_INT(back.cfg.rope_type, WHET_ROPE_LLAMA3);
        whet_tokenizer *tok = NULL;
        CHECK_OK(whet_tokenizer_load_gguf(a, &tok, &err), &err);
        const whet_gguf_export_opts ob = {.path = b, .ftype = WHET_GGUF_FT_F32, .name = "rope", .tok = tok};
        CHECK_OK(whet_export_gguf(&back, &ob, &err), &err);
        same_tensors(a, b, R[k].what);
        printf("rope_freqs %-20s recovered as factor %g low %g high %g original_max_pos %d: factors identical\n",
               R[k].what, back.cfg.rope_factor, back.cfg.rope_low_freq_factor, back.cfg.rope_high_freq_factor,
               back.cfg.rope_original_max_pos);
        whet_tokenizer_free(tok);
        whet_export_free(&back);
        unlink(a);
        unlink(b);
    }
    whet_export_free(&m);
}

/* 4. */
static void test_adapter(void) {
    char base[4096], ad[4200], ref[4200], out[4200];
    model_dir("llama-tiny", base, sizeof base);
    snprintf(ad, sizeof ad, "%s/export/llama-tiny/adapter", WHET_FIXTURES);
    snprintf(ref, sizeof ref, "%s/export/llama-tiny/merged/model.safetensors", WHET_FIXTURES);
    snprintf(out, sizeof out, "%s/merged-f32.gguf", root);
    whet_strbuf o;
    whet_sb_init(&o);
    CHECK_MSG(convertf(&o, "--model_name_or_path '%s' --adapter_name_or_path '%s' --outtype f32 --outfile '%s'", base,
                       ad, out) == 0, "%s", text(&o));
    CHECK_MSG(strstr(text(&o), "merged") != NULL, "%s", text(&o));
    whet_error err = {0};
    whet_export_model m;
    whet_safetensors *st = NULL;
    CHECK_OK(whet_export_load_gguf(out, &m, NULL, &err), &err);
    CHECK_OK(whet_safetensors_open(ref, &st, &err), &err);
    double worst = 0;
    for (size_t i = 0; st && m.t && i < whet_safetensors_count(st); i++) {
        const whet_st_tensor *r = whet_safetensors_at(st, i);
        const whet_export_tensor *t = whet_export_find(&m, r->name);
        CHECK_MSG(t && t->numel == r->numel, "%s missing from the GGUF", r->name);
        if (!t || t->numel != r->numel) continue;
        float *want = malloc((size_t)r->numel * sizeof(float));
        CHECK_OK(whet_st_tensor_to_f32(r, want, &err), &err);
        worst = fmax(worst, test_max_abs_diff(t->data, want, (size_t)r->numel));
        free(want);
    }
    printf("HF + adapter -> f32 GGUF vs PEFT merge_and_unload: max|err| %.3g\n", worst);
    CHECK(worst <= TOL_MERGE_ATOL);
    whet_safetensors_close(st);
    whet_export_free(&m);
    unlink(out);
    whet_sb_free(&o);
}

/* A minimal llama GGUF: config keys, token_embd, and `extra` (a vector of 8) when given. */
static void write_small_gguf(const char *path, const char *arch, const char *extra, const float *extra_data) {
    whet_error err = {0};
    whet_gguf_writer *w = NULL;
    CHECK_OK(whet_gguf_writer_create(&w, &err), &err);
    if (!w) return;
    char key[96];
    CHECK_OK(whet_gguf_set_str(w, "general.architecture", arch, &err), &err);
    static const struct { const char *k; uint32_t v; } U[] = {
        {"block_count", 1}, {"embedding_length", 8}, {"feed_forward_length", 16}, {"attention.head_count", 1},
        {"attention.key_length", 16}};
    for (size_t i = 0; i < sizeof U / sizeof U[0]; i++) {
        snprintf(key, sizeof key, "%s.%s", arch, U[i].k);
        CHECK_OK(whet_gguf_set_u32(w, key, U[i].v, &err), &err);
    }
    static float emb[8 * 4];
    const int64_t ne[2] = {8, 4}, ne1[1] = {8};
    CHECK_OK(whet_gguf_add_tensor(w, "token_embd.weight", WHET_DT_F32, 2, ne, emb, false, &err), &err);
    if (extra) CHECK_OK(whet_gguf_add_tensor(w, extra, WHET_DT_F32, 1, ne1, (void *)extra_data, false, &err), &err);
    CHECK_OK(whet_gguf_writer_write(w, path, &err), &err);
    whet_gguf_writer_free(w);
}

/* 5. Each case: non-zero exit, the message names `needle` and `needle2`, no output file. */
static void expect_error(const char *args, const char *needle, const char *needle2, const char *outfile) {
    whet_strbuf o;
    whet_sb_init(&o);
    const int rc = convert(args, &o);
    CHECK_MSG(rc != 0, "whet convert %s: exit 0", args);
    CHECK_MSG(strstr(text(&o), needle) != NULL && (!needle2 || strstr(text(&o), needle2) != NULL),
              "whet convert %s: the message does not name %s / %s:\n%s", args, needle, needle2 ? needle2 : "", text(&o));
    if (outfile) CHECK_MSG(!whet_file_exists(outfile), "%s was created by a failed convert", outfile);
    printf("error case: %s", text(&o));
    whet_sb_free(&o);
}

static void test_errors(void) {
    char args[16000], out[4200], path[4200], dir[4096];
    snprintf(out, sizeof out, "%s/never.gguf", root);
    model_dir("llama-tiny", dir, sizeof dir);

    snprintf(path, sizeof path, "%s/no-such-model", root);
    snprintf(args, sizeof args, "--model_name_or_path '%s' --outfile '%s'", path, out);
    expect_error(args, path, "does not exist", out);

    snprintf(path, sizeof path, "%s/gpt2.gguf", root);
    write_small_gguf(path, "gpt2", NULL, NULL);
    snprintf(args, sizeof args, "--model_name_or_path '%s' --outfile '%s'", path, out);
    expect_error(args, path, "\"gpt2\"", out);

    snprintf(args, sizeof args, "--model_name_or_path '%s' --outtype q8_O --outfile '%s'", dir, out);
    expect_error(args, "q8_O", "did you mean \"q8_0\"", out);

    static const float ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    snprintf(path, sizeof path, "%s/stray.gguf", root);
    write_small_gguf(path, "llama", "blk.0.ffn_gate_inp.weight", ones);
    snprintf(args, sizeof args, "--model_name_or_path '%s' --outfile '%s' --outtype f32", path, out);
    expect_error(args, path, "blk.0.ffn_gate_inp.weight", out);

    /* factors no Llama 3 rope produces (not monotonic); head_dim 16 -> 8 values */
    static const float bad[8] = {1, 3, 2, 8, 8, 8, 8, 8};
    snprintf(path, sizeof path, "%s/badrope.gguf", root);
    write_small_gguf(path, "llama", "rope_freqs.weight", bad);
    snprintf(args, sizeof args, "--model_name_or_path '%s' --outfile '%s' --outtype f32", path, out);
    expect_error(args, path, "rope_freqs.weight", out);

    snprintf(path, sizeof path, "%s/no-such-folder/x.gguf", root);
    snprintf(args, sizeof args, "--model_name_or_path '%s' --outfile '%s'", dir, path);
    expect_error(args, path, "does not exist", path);

    snprintf(args, sizeof args, "--model_name_or_path '%s' --outfile '%s' --outtyp f32", dir, out);
    expect_error(args, "--outtyp", "did you mean --outtype", out);

    snprintf(args, sizeof args, "--model_name_or_path '%s' --adapter_name_or_path '%s/nope' --outfile '%s'", dir, root, out);
    expect_error(args, "nope", "adapter", out);

    /* an existing outfile is refused and left as it was, replaced when told */
    snprintf(path, sizeof path, "%s/existing.gguf", root);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) fputs("keep me", f), fclose(f);
    snprintf(args, sizeof args, "--model_name_or_path '%s' --outtype q8_0 --outfile '%s'", dir, path);
    expect_error(args, path, "--overwrite_output_dir", NULL);
    char *body = NULL;
    size_t len = 0;
    whet_error err = {0};
    CHECK_OK(whet_read_file(path, &body, &len, &err), &err);
    CHECK_MSG(body && !strcmp(body, "keep me"), "the existing outfile was changed");
    free(body);
    whet_strbuf o;
    whet_sb_init(&o);
    snprintf(args, sizeof args, "--model_name_or_path '%s' --outtype q8_0 --outfile '%s' --overwrite_output_dir", dir, path);
    CHECK_MSG(convert(args, &o) == 0, "%s", text(&o));
    whet_gguf *g = NULL;
    CHECK_OK(whet_gguf_open(path, &g, &err), &err);
    whet_gguf_close(g);
    unlink(path);
    whet_sb_free(&o);

    /* nothing but the files this test wrote is left in root: no temp names */
    whet_sb_init(&o);
    snprintf(args, sizeof args, "ls -A '%s' | grep -v -e '-f32.gguf$' -e '^gpt2.gguf$' -e '^stray.gguf$' -e '^badrope.gguf$'",
             root);
    cli_run(args, &o);
    CHECK_MSG(o.len == 0, "left in %s:\n%s", root, text(&o));
    whet_sb_free(&o);
}

/* 6. */
static void test_defaults(void) {
    char copy[4200], args[16000], want[4400], dir[4096], f32[4200];
    model_dir("qwen2-tiny", dir, sizeof dir);
    snprintf(copy, sizeof copy, "%s/qwen2-copy", root);
    whet_strbuf o;
    whet_sb_init(&o);
    snprintf(args, sizeof args, "cp -r '%s' '%s'", dir, copy);
    CHECK_EQ_INT(cli_run(args, &o), 0);
    /* a folder: DIR/<basename>-<TYPE>.gguf (convert_hf_to_gguf's name, default type f16) */
    snprintf(args, sizeof args, "--model_name_or_path '%s/'", copy);
    CHECK_MSG(convert(args, &o) == 0, "%s", text(&o));
    snprintf(want, sizeof want, "%s/qwen2-copy-F16.gguf", copy);
    CHECK_MSG(whet_file_exists(want), "no %s:\n%s", want, text(&o));
    whet_error err = {0};
    whet_gguf *g = NULL;
    char name[64] = "";
    uint32_t ft = 99;
    CHECK_OK(whet_gguf_open(want, &g, &err), &err);
    if (g) {
        CHECK_OK(whet_gguf_get_str(g, "general.name", name, sizeof name, &err), &err);
        CHECK_STR_EQ(name, "qwen2-copy");
        CHECK_OK(whet_gguf_get_u32(g, "general.file_type", &ft, &err), &err);
        CHECK_EQ_INT((int)ft, whet_gguf_ftype_id(WHET_GGUF_FT_F16));
    }
    whet_gguf_close(g);
    /* --name names the file and general.name */
    snprintf(args, sizeof args, "--model_name_or_path '%s' --outtype q8_0 --name Tiny-Qwen", copy);
    CHECK_MSG(convert(args, &o) == 0, "%s", text(&o));
    snprintf(want, sizeof want, "%s/Tiny-Qwen-Q8_0.gguf", copy);
    CHECK_MSG(whet_file_exists(want), "no %s:\n%s", want, text(&o));
    /* a .gguf: ggml-model-<TYPE>.gguf next to it (llama-quantize), general.name kept, and the
     * requantization warning for an already-quantized input */
    snprintf(args, sizeof args, "--model_name_or_path '%s' --outtype q4_0", want);
    CHECK_MSG(convert(args, &o) == 0, "%s", text(&o));
    CHECK_MSG(strstr(text(&o), "warning") && strstr(text(&o), "already quantized") && strstr(text(&o), "Tiny-Qwen-Q8_0.gguf"),
              "no requantization warning:\n%s", text(&o));
    snprintf(want, sizeof want, "%s/ggml-model-Q4_0.gguf", copy);
    CHECK_MSG(whet_file_exists(want), "no %s:\n%s", want, text(&o));
    CHECK_OK(whet_gguf_open(want, &g, &err), &err);
    if (g) {
        CHECK_OK(whet_gguf_get_str(g, "general.name", name, sizeof name, &err), &err);
        CHECK_STR_EQ(name, "Tiny-Qwen");
    }
    whet_gguf_close(g);
    /* an f32 input gives no warning */
    snprintf(f32, sizeof f32, "%s/qwen2-tiny-f32.gguf", root);
    snprintf(args, sizeof args, "--model_name_or_path '%s' --outtype q4_0 --outfile '%s/x.gguf'", f32, copy);
    CHECK_MSG(convert(args, &o) == 0 && !strstr(text(&o), "warning"), "%s", text(&o));
    snprintf(args, sizeof args, "rm -r '%s'", copy);
    cli_run(args, &o);
    whet_sb_free(&o);
}

/* A random f32 folder of `model_type` with `vocab` rows (whet init-model), tokenizer files from `tok_dir` when given. */
static bool random_folder(const char *dir, const char *model_type, int vocab, const char *tok_dir) {
    char cfg[4400], cmd[16000];
    snprintf(cfg, sizeof cfg, "%s.json", dir);
    FILE *f = fopen(cfg, "w");
    if (!f) return false;
    fprintf(f, "{\"model_type\": \"%s\", \"vocab_size\": %d, \"hidden_size\": 16, \"intermediate_size\": 32, "
               "\"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"num_key_value_heads\": 1, \"head_dim\": 8, "
               "\"max_position_embeddings\": 64, \"rms_norm_eps\": 1e-6, \"rope_theta\": 10000.0, "
               "\"tie_word_embeddings\": true}\n", model_type, vocab);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s init-model --config '%s' --out '%s' --dtype float32 >/dev/null 2>&1", WHET_BINARY, cfg, dir);
    if (tok_dir)
        snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " && cp '%s/tokenizer.json' '%s/tokenizer_config.json' '%s'",
                 tok_dir, tok_dir, dir);
    whet_strbuf o;
    whet_sb_init(&o);
    const int rc = cli_run(cmd, &o);
    whet_sb_free(&o);
    unlink(cfg);
    CHECK_MSG(rc == 0, "could not make %s", dir);
    return rc == 0;
}

static bool same_file(const char *a, const char *b) {
    char *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    whet_error err = {0};
    bool same = whet_read_file(a, &x, &nx, &err) == WHET_OK && whet_read_file(b, &y, &ny, &err) == WHET_OK && nx == ny &&
                memcmp(x, y, nx) == 0;
    free(x);
    free(y);
    return same;
}

/* 7. Real vocabularies: llama.cpp's own vocab GGUFs (byte-level qwen2 / llama-bpe / deepseek-llm and
 * SentencePiece llama-spm with scores and byte tokens) under a random model: whet writes every
 * tokenizer.* key of llama.cpp's file unchanged, and a GGUF -> GGUF f32 conversion gives the same file
 * byte for byte; the real Qwen2.5 / Llama-3 HF tokenizers (Qwen2.5 padded from 151665 tokens to
 * 151936 rows with UNUSED [PADi]) survive HF -> f32 GGUF -> f32 GGUF the same way. */
static void test_real_vocab(void) {
    static const char *const VOCABS[] = {"llamacpp/reconstructed/ggml-vocab-qwen2.gguf",
                                         "llamacpp/reconstructed/ggml-vocab-llama-bpe.gguf",
                                         "llamacpp/ggml-vocab-deepseek-llm.gguf", "SPM"};
    char vocab[4200], dir[4200], a[4200], b[4200];
    whet_error err = {0};
    whet_strbuf o;
    whet_sb_init(&o);
    snprintf(dir, sizeof dir, "%s/random", root);
    snprintf(a, sizeof a, "%s/vocab-a.gguf", root);
    snprintf(b, sizeof b, "%s/vocab-b.gguf", root);
    for (size_t k = 0; k < sizeof VOCABS / sizeof VOCABS[0]; k++) {
        if (!strcmp(VOCABS[k], "SPM")) snprintf(vocab, sizeof vocab, "%s/export/ggml-vocab-llama-spm.gguf", WHET_FIXTURES);
        else snprintf(vocab, sizeof vocab, "%s/%s", WHET_REAL_FIXTURES, VOCABS[k]);
        whet_gguf *ref = NULL, *got = NULL;
        whet_tokenizer *tok = NULL;
        CHECK_OK(whet_gguf_open(vocab, &ref, &err), &err);
        CHECK_OK(whet_tokenizer_load_gguf(vocab, &tok, &err), &err);
        const whet_gguf_kv *tokens = ref ? whet_gguf_find_kv(ref, "tokenizer.ggml.tokens") : NULL;
        whet_export_model m;
        memset(&m, 0, sizeof m);
        if (tokens && tok && random_folder(dir, "llama", (int)tokens->arr_n, NULL)) {
            CHECK_OK(whet_export_load(dir, &m, &err), &err);
            const whet_gguf_export_opts opts = {.path = a, .ftype = WHET_GGUF_FT_F32, .name = "vocab", .tok = tok};
            CHECK_OK(whet_export_gguf(&m, &opts, &err), &err);
            CHECK_OK(whet_gguf_open(a, &got, &err), &err);
        }
        size_t n_keys = 0;
        for (size_t i = 0; got && i < whet_gguf_n_kv(ref); i++) {
            const whet_gguf_kv *x = whet_gguf_kv_at(ref, i), *y;
            if (strncmp(x->key, "tokenizer.", 10)) continue;
            y = whet_gguf_find_kv(got, x->key);
            CHECK_MSG(y && kv_equal(x, y), "%s: %s is not written as llama.cpp wrote it", vocab, x->key);
            n_keys++;
        }
        whet_gguf_close(got);
        char args[16000];
        snprintf(args, sizeof args, "--model_name_or_path '%s' --outtype f32 --outfile '%s' --overwrite_output_dir", a, b);
        CHECK_MSG(convert(args, &o) == 0, "%s", text(&o));
        CHECK_MSG(same_file(a, b), "%s: GGUF -> GGUF f32 changed the file", vocab);
        printf("llama.cpp vocab %-50s %zu tokenizer keys as llama.cpp wrote them; f32 -> f32 identical\n",
               strrchr(vocab, '/') + 1, n_keys);
        whet_export_free(&m);
        whet_tokenizer_free(tok);
        whet_gguf_close(ref);
        snprintf(args, sizeof args, "rm -r '%s'", dir);
        cli_run(args, &o);
    }
    static const struct { const char *tok, *type; int vocab; } HF[] = {
        {"qwen2.5", "qwen2", 151936}, {"llama3", "llama", 128256}};
    for (size_t k = 0; k < sizeof HF / sizeof HF[0]; k++) {
        char tdir[4200], args[16000];
        snprintf(tdir, sizeof tdir, "%s/tokenizers/%s", WHET_REAL_FIXTURES, HF[k].tok);
        if (!random_folder(dir, HF[k].type, HF[k].vocab, tdir)) continue;
        snprintf(args, sizeof args, "--model_name_or_path '%s' --outtype f32 --outfile '%s' --overwrite_output_dir", dir, a);
        CHECK_MSG(convert(args, &o) == 0, "%s", text(&o));
        snprintf(args, sizeof args, "--model_name_or_path '%s' --outtype f32 --outfile '%s' --overwrite_output_dir", a, b);
        CHECK_MSG(convert(args, &o) == 0, "%s", text(&o));
        CHECK_MSG(same_file(a, b), "%s: HF -> f32 -> f32 changed the file", HF[k].tok);
        same_metadata(a, b, HF[k].tok);
        printf("HF tokenizer %-10s HF -> f32 GGUF -> f32 GGUF identical\n", HF[k].tok);
        snprintf(args, sizeof args, "rm -r '%s'", dir);
        cli_run(args, &o);
    }
    unlink(a);
    unlink(b);
    whet_sb_free(&o);
}

int main(void) {
    CHECK(mkdtemp(root) != NULL);
    for (size_t i = 0; i < sizeof MODELS / sizeof MODELS[0]; i++) test_hf_to_f32(MODELS[i]);
    for (size_t i = 0; i < sizeof MODELS / sizeof MODELS[0]; i++) test_requantize(MODELS[i]);
    test_rope_shapes();
    test_adapter();
    test_errors();
    test_defaults();
    test_real_vocab();
    char cmd[4200];
    whet_strbuf o;
    whet_sb_init(&o);
    snprintf(cmd, sizeof cmd, "rm -r '%s'", root);
    cli_run(cmd, &o);
    whet_sb_free(&o);
    return TEST_SUMMARY();
}
