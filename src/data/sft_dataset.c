/* sft_dataset.c: LLaMA-Factory's get_dataset for stage sft and pt: resolve
 * each name of `dataset` in dataset_info.json, read max_samples records of
 * each, convert, drop invalid samples with a warning that names them, encode
 * (supervised processor, or pre-training text + eos with block packing), and
 * concatenate the datasets (mix_strategy concat). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/log.h"
#include "core/file.h"
#include "core/rng.h"
#include <time.h>
#include "data/dataset.h"
#include "data/sft_cache.h"
#include "data/sft_pack.h"
#include "data/sft_dataset.h"


static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

whet_status whet_ex_push(whet_ex_list *l, int32_t *ids, int32_t *labels, int64_t len, const char *origin,
                         whet_error *err) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        whet_sft_example *ni = realloc(l->items, cap * sizeof *ni);
        if (!ni) return whet_errorf(err, WHET_ERR_NOMEM, "out of memory");
        l->items = ni;
        l->cap = cap;
    }
    char *o = strdup(origin);
    if (!o) return whet_errorf(err, WHET_ERR_NOMEM, "out of memory");
    l->items[l->n++] = (whet_sft_example){ids, labels, len, o, NULL, NULL};
    return WHET_OK;
}

/* "records 3, 17, 40 and 12 more" */
static void note_index(char *buf, size_t cap, size_t *count, size_t idx) {
    size_t len = strlen(buf);
    if (*count < 8) snprintf(buf + len, cap - len, "%s%zu", *count ? ", " : "", idx);
    (*count)++;
}

static whet_status encode_sft(const whet_dataset_attr *a, const cJSON *recs, const whet_chat_format *f,
                              const whet_sft_options *o, whet_ex_list *out, whet_error *err) {
    size_t idx = 0, n_bad = 0, n_nolabel = 0;
    char bad[200] = "", nolabel[200] = "";
    whet_status s = WHET_OK;
    for (const cJSON *r = recs->child; r && s == WHET_OK; r = r->next, idx++) {
        whet_conv_sample smp;
        s = whet_dataset_convert(a, r, &smp, err);
        if (s != WHET_OK) break;
        if (smp.n_prompt % 2 != 1 || smp.n_response != 1) {
            note_index(bad, sizeof bad, &n_bad, idx);
            whet_conv_sample_free(&smp);
            continue;
        }
        int32_t *ids, *labels;
        int64_t len;
        s = whet_sft_encode_example(f, &smp, o, &ids, &labels, &len, err);
        whet_conv_sample_free(&smp);
        if (s != WHET_OK) { whet_error_prefix(err, "%s record %zu", a->path, idx); break; }
        bool any = false;
        for (int64_t i = 0; i < len && !any; i++) any = labels[i] != WHET_IGNORE_INDEX;
        if (!any) {
            note_index(nolabel, sizeof nolabel, &n_nolabel, idx);
            free(ids);
            free(labels);
            continue;
        }
        char origin[4200];
        snprintf(origin, sizeof origin, "%s record %zu", a->path, idx);
        s = whet_ex_push(out, ids, labels, len, origin, err);
        if (s != WHET_OK) { free(ids); free(labels); }
    }
    if (n_bad)
        WHET_LOGW("%s: dropped %zu invalid example%s (records %s%s): need user/assistant turns that alternate and end "
                  "with a response (see LLaMA-Factory's data/README.md)",
                  a->path, n_bad, n_bad > 1 ? "s" : "", bad, n_bad > 8 ? ", ..." : "");
    if (n_nolabel)
        WHET_LOGW("%s: dropped %zu example%s with no response token left after cutoff_len (records %s%s)", a->path,
                  n_nolabel, n_nolabel > 1 ? "s" : "", nolabel, n_nolabel > 8 ? ", ..." : "");
    return s;
}

/* PretrainDatasetProcessor: text + eos; packing concatenates and cuts cutoff_len blocks. */
static whet_status encode_pt(const whet_dataset_attr *a, const cJSON *recs, const whet_chat_format *f, long long cutoff,
                             bool packing, const char *template_name, whet_ex_list *out, whet_error *err) {
    const whet_tokenizer *tok = f->tok;
    const char *eos = strcmp(template_name, "llama3") == 0 ? "<|end_of_text|>" : f->eos_text;
    bool add_bos = whet_tokenizer_add_bos(tok) && whet_tokenizer_bos_id(tok) >= 0;
    whet_tokens all = {0};
    whet_status s = WHET_OK;
    size_t idx = 0;
    whet_strbuf text;
    whet_sb_init(&text);
    for (const cJSON *r = recs->child; r && s == WHET_OK; r = r->next, idx++) {
        whet_conv_sample smp;
        WHET_TRY(whet_dataset_convert(a, r, &smp, err));
        whet_sb_clear(&text);
        if (!packing && add_bos) whet_sb_puts(&text, whet_tokenizer_bos_token(tok));
        whet_sb_puts(&text, smp.n_prompt ? smp.prompt[0].content : "");
        whet_sb_puts(&text, eos);
        whet_conv_sample_free(&smp);
        whet_tokens t = {0};
        s = whet_tokenizer_encode(tok, text.data, text.len, false, packing ? &all : &t, err);
        if (s == WHET_OK && !packing) {
            int64_t len = (int64_t)t.n < cutoff ? (int64_t)t.n : cutoff;
            int32_t *ids = malloc((size_t)(len ? len : 1) * sizeof *ids), *lab = malloc((size_t)(len ? len : 1) * sizeof *lab);
            if (!ids || !lab) { free(ids); free(lab); s = whet_errorf(err, WHET_ERR_NOMEM, "out of memory"); }
            else {
                memcpy(ids, t.ids, (size_t)len * sizeof *ids);
                memcpy(lab, t.ids, (size_t)len * sizeof *lab);
                char origin[4200];
                snprintf(origin, sizeof origin, "%s record %zu", a->path, idx);
                s = whet_ex_push(out, ids, lab, len, origin, err);
            }
        }
        whet_tokens_free(&t);
    }
    whet_sb_free(&text);
    for (size_t b = 0; s == WHET_OK && packing && (long long)(b + 1) * cutoff <= (long long)all.n; b++) {
        int32_t *ids = malloc((size_t)cutoff * sizeof *ids), *lab = malloc((size_t)cutoff * sizeof *lab);
        if (!ids || !lab) { free(ids); free(lab); s = whet_errorf(err, WHET_ERR_NOMEM, "out of memory"); break; }
        memcpy(ids, all.ids + b * (size_t)cutoff, (size_t)cutoff * sizeof *ids);
        if (add_bos) ids[0] = whet_tokenizer_bos_id(tok);
        memcpy(lab, ids, (size_t)cutoff * sizeof *lab);
        char origin[4200];
        snprintf(origin, sizeof origin, "%s block %zu", a->path, b);
        s = whet_ex_push(out, ids, lab, cutoff, origin, err);
    }
    whet_tokens_free(&all);
    return s;
}

static whet_status format_from_args(const whet_lf_args *args, const whet_tokenizer *tok, whet_chat_format *f,
                                    whet_error *err) {
    const whet_template *t;
    WHET_TRY(whet_template_lookup(whet_lf_args_str(args, "template"), &t, err));
    if (strcmp(t->mm_plugin, "base") != 0)
        WHET_LOGI("template %s: multimodal plugin %s is not used (text only)", t->name, t->mm_plugin);
    WHET_TRY(whet_chat_format_init(f, t, tok, err));
    if (whet_lf_args_str(args, "default_system")) f->default_system = whet_lf_args_str(args, "default_system");
    if (whet_lf_args_str(args, "tool_format")) f->tool_format = whet_lf_args_str(args, "tool_format");
    f->enable_thinking = whet_lf_args_bool(args, "enable_thinking");
    if (t->efficient_eos && whet_lf_args_bool(args, "train_on_prompt"))
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "train_on_prompt is not allowed with template %s (efficient_eos)",
                           t->name);
    return WHET_OK;
}

static whet_status build(const whet_lf_args *args, const char *key, const whet_tokenizer *tok, whet_sft_dataset *out,
                         whet_error *err) {
    memset(out, 0, sizeof *out);
    const char *stage = whet_lf_args_str(args, "stage");
    bool pt = strcmp(stage, "pt") == 0;
    whet_chat_format f;
    WHET_TRY(format_from_args(args, tok, &f, err));
    char **names = whet_lf_args_list(args, key);
    if (!names) return whet_errorf(err, WHET_ERR_NOMEM, "out of memory");
    if (!names[0]) { whet_lf_args_list_free(names); return whet_errorf(err, WHET_ERR_INVALID_ARG, "no %s given: set `%s: name1,name2` (names from dataset_info.json)", key, key); }
    const char *dir = whet_lf_args_str(args, "dataset_dir");
    long long max = whet_lf_args_is_set(args, "max_samples") ? whet_lf_args_int(args, "max_samples") : -1;
    bool sft_pack = !pt && whet_lf_args_bool(args, "packing");
    /* DataArguments.__post_init__: cutoff_len -= 1 when packing is given true (or neat_packing), before
       stage pt's packing default is filled in: so `stage: pt` alone keeps cutoff_len, `packing: true` does not */
    bool dec = (whet_lf_args_is_set(args, "packing") && whet_lf_args_bool(args, "packing")) ||
               whet_lf_args_bool(args, "neat_packing");
    whet_sft_options o = {whet_lf_args_int(args, "cutoff_len") - (dec ? 1 : 0),
                          whet_lf_args_bool(args, "train_on_prompt"), whet_lf_args_bool(args, "mask_history")};
    whet_ex_list l = {0};
    whet_status s = WHET_OK;
    for (char **nm = names; *nm && s == WHET_OK; nm++) {
        whet_dataset_attr a;
        s = whet_dataset_attr_load(dir, *nm, &a, err);
        if (s != WHET_OK) break;
        cJSON *recs = NULL;
        s = whet_dataset_read(&a, max, &recs, err);
        size_t before = l.n;
        if (s == WHET_OK) s = whet_dataset_check_columns(&a, recs, err);
        if (s == WHET_OK)
            s = pt ? encode_pt(&a, recs, &f, o.cutoff_len, whet_lf_args_bool(args, "packing"), f.tmpl->name, &l, err)
                   : encode_sft(&a, recs, &f, &o, &l, err);
        if (s == WHET_OK) WHET_LOGI("dataset %s: %zu examples from %s", *nm, l.n - before, a.path);
        cJSON_Delete(recs);
        whet_dataset_attr_free(&a);
    }
    whet_lf_args_list_free(names);
    if (s == WHET_OK && sft_pack) s = whet_sft_pack(&l, o.cutoff_len, whet_lf_args_bool(args, "neat_packing"),
                                                   whet_tokenizer_pad_id(tok) >= 0 ? whet_tokenizer_pad_id(tok) : f.eos_id, err);
    out->items = l.items;
    out->n = l.n;
    if (s == WHET_OK && l.n == 0)
        s = whet_errorf(err, WHET_ERR_INVALID_ARG,
                        "cannot find valid samples in %s: check the columns/tags in dataset_info.json against the "
                        "records (LLaMA-Factory's data/README.md)", key);
    if (s != WHET_OK) whet_sft_dataset_free(out);
    return s;
}

whet_status whet_sft_dataset_load_key(const whet_lf_args *args, const char *key, const whet_tokenizer *tok,
                                      whet_sft_dataset *out, whet_error *err) {
    memset(out, 0, sizeof *out);
    uint64_t fp;
    char path[4200];
    whet_status s = whet_sft_cache_fingerprint(args, key, tok, &fp, err);
    if (s != WHET_OK) return s;
    bool cached = whet_sft_cache_path(fp, path, sizeof path);
    if (cached && !whet_lf_args_bool(args, "overwrite_cache") && whet_file_exists(path)) {
        whet_error cerr = {0};
        if (whet_sft_cache_load(path, fp, out, &cerr) == WHET_OK) {
            out->from_cache = true;
            WHET_LOGI("%s: %zu examples from the cache %s", key, out->n, path);
            return WHET_OK;
        }
        WHET_LOGW("ignoring the dataset cache: %s", cerr.msg);
    }
    double t0 = now_seconds();
    WHET_TRY(build(args, key, tok, out, err));
    double dt = now_seconds() - t0;
    int64_t ntok = 0;
    for (size_t i = 0; i < out->n; i++) ntok += out->items[i].len;
    WHET_LOGI("%s: encoded %zu examples, %lld tokens in %.2f s (%.0f rows/s)", key, out->n, (long long)ntok, dt,
              dt > 0 ? (double)out->n / dt : 0.0);
    if (cached) {
        whet_error cerr = {0};
        if (whet_sft_cache_save(path, fp, out, &cerr) != WHET_OK) WHET_LOGW("dataset cache not written: %s", cerr.msg);
    }
    return WHET_OK;
}

whet_status whet_sft_dataset_load(const whet_lf_args *args, const whet_tokenizer *tok, whet_sft_dataset *out,
                                  whet_error *err) {
    return whet_sft_dataset_load_key(args, "dataset", tok, out, err);
}

whet_status whet_sft_dataset_split(whet_sft_dataset *all, double val_size, uint64_t seed, whet_sft_dataset *train,
                                   whet_sft_dataset *val, whet_error *err) {
    memset(train, 0, sizeof *train);
    memset(val, 0, sizeof *val);
    size_t n = all->n, n_val;
    if (!(val_size >= 0)) return whet_errorf(err, WHET_ERR_INVALID_ARG, "val_size must be >= 0");
    n_val = val_size < 1 ? (size_t)ceil(val_size * (double)n) : (size_t)val_size;
    if (n_val >= n && n_val > 0)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "val_size %g leaves no training examples (%zu in all)", val_size, n);
    uint32_t *idx = malloc((n ? n : 1) * sizeof *idx);
    train->items = malloc((n - n_val + 1) * sizeof *train->items);
    val->items = malloc((n_val + 1) * sizeof *val->items);
    if (!idx || !train->items || !val->items) {
        free(idx); free(train->items); free(val->items);
        train->items = val->items = NULL;
        return whet_errorf(err, WHET_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) idx[i] = (uint32_t)i;
    if (n_val > 0) {
        whet_rng r;
        whet_rng_seed(&r, seed);
        whet_rng_shuffle(&r, idx, (uint32_t)n);
    }
    for (size_t i = 0; i < n; i++) {
        if (i < n_val) val->items[val->n++] = all->items[idx[i]];
        else train->items[train->n++] = all->items[idx[i]];
    }
    free(idx);
    free(all->items);
    all->items = NULL;
    all->n = 0;
    return WHET_OK;
}

void whet_sft_dataset_free(whet_sft_dataset *d) {
    for (size_t i = 0; d->items && i < d->n; i++) {
        free(d->items[i].input_ids);
        free(d->items[i].labels);
        free(d->items[i].position_ids);
        free(d->items[i].segment_ids);
        free((char *)d->items[i].origin);
    }
    free(d->items);
    memset(d, 0, sizeof *d);
}
