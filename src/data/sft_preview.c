/* sft_preview.c: rendering, length statistics and format conversion for
 * the `whet data` command (see sft_preview.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/atomic_file.h"
#include "data/dataset.h"
#include "data/sft_preview.h"

whet_status whet_sft_render_spans(const whet_tokenizer *tok, const whet_sft_example *e, bool ansi, whet_strbuf *out,
                                  whet_error *err) {
    for (int64_t i = 0; i < e->len;) {
        bool masked = e->labels[i] == WHET_IGNORE_INDEX;
        int64_t j = i;
        while (j < e->len && (e->labels[j] == WHET_IGNORE_INDEX) == masked) j++;
        whet_strbuf d;
        whet_sb_init(&d);
        whet_status s = whet_tokenizer_decode(tok, e->input_ids + i, (size_t)(j - i), false, &d, err);
        if (s != WHET_OK) { whet_sb_free(&d); return s; }
        if (ansi) whet_sb_printf(out, "%s%s\033[0m", masked ? "\033[2m" : "\033[32m", d.data ? d.data : "");
        else whet_sb_printf(out, "[%c:%s]", masked ? 'P' : 'R', d.data ? d.data : "");
        whet_sb_free(&d);
        i = j;
    }
    return WHET_OK;
}

void whet_sft_compute_stats(const whet_sft_dataset *d, int64_t cutoff, whet_sft_stats *st) {
    memset(st, 0, sizeof *st);
    st->n = d->n;
    for (size_t i = 0; i < d->n; i++) {
        const whet_sft_example *e = &d->items[i];
        if (i == 0 || e->len < st->min_len) st->min_len = e->len;
        if (e->len > st->max_len) st->max_len = e->len;
        st->total_tokens += e->len;
        for (int64_t k = 0; k < e->len; k++) st->label_tokens += e->labels[k] != WHET_IGNORE_INDEX;
        if (e->len >= cutoff) st->at_cutoff++;
        int64_t bin = cutoff > 0 ? e->len * 10 / (cutoff + 1) : 0;
        st->hist[bin < 0 ? 0 : bin > 9 ? 9 : bin]++;
    }
    st->mean_len = d->n ? (double)st->total_tokens / (double)d->n : 0.0;
}

void whet_sft_format_stats(const whet_sft_stats *st, int64_t cutoff, whet_strbuf *out) {
    whet_sb_printf(out, "%zu examples, %lld tokens (%lld trained), length min %lld / mean %.1f / max %lld\n", st->n,
                   (long long)st->total_tokens, (long long)st->label_tokens, (long long)st->min_len, st->mean_len,
                   (long long)st->max_len);
    whet_sb_printf(out, "%zu examples reach cutoff_len %lld (truncated)\n", st->at_cutoff, (long long)cutoff);
    size_t top = 1;
    for (int b = 0; b < 10; b++) if (st->hist[b] > top) top = st->hist[b];
    for (int b = 0; b < 10; b++) {
        long long lo = (long long)(cutoff + 1) * b / 10, hi = (long long)(cutoff + 1) * (b + 1) / 10 - 1;
        whet_sb_printf(out, "%6lld-%-6lld %7zu ", lo, hi, st->hist[b]);
        for (size_t k = 0; k < st->hist[b] * 40 / top; k++) whet_sb_puts(out, "#");
        whet_sb_putc(out, '\n');
    }
}

whet_status whet_data_convert_file(const char *in, const char *out, const char *to, size_t *n_records, whet_error *err) {
    bool lines = strcmp(to, "jsonl") == 0;
    if (!lines && strcmp(to, "json") != 0)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "--to %s: give json or jsonl", to);
    cJSON *recs = cJSON_CreateArray();
    if (!recs) return whet_errorf(err, WHET_ERR_NOMEM, "out of memory");
    whet_status s = whet_dataset_read_file(in, -1, recs, err);
    whet_strbuf sb;
    whet_sb_init(&sb);
    size_t n = 0;
    if (!lines) whet_sb_puts(&sb, "[\n");
    for (const cJSON *r = recs->child; r && s == WHET_OK; r = r->next, n++) {
        if (lines) {
            whet_py_json_dumps(r, &sb);
            whet_sb_putc(&sb, '\n');
        } else {
            char *t = cJSON_Print(r);   /* indented, UTF-8 kept */
            if (!t) { s = whet_errorf(err, WHET_ERR_NOMEM, "out of memory"); break; }
            whet_sb_printf(&sb, "%s%s\n", t, r->next ? "," : "");
            free(t);
        }
    }
    if (!lines) whet_sb_puts(&sb, "]\n");
    if (s == WHET_OK && sb.oom) s = whet_errorf(err, WHET_ERR_NOMEM, "out of memory");
    if (s == WHET_OK) s = whet_atomic_write(out, sb.data, sb.len, err);
    if (n_records) *n_records = n;
    whet_sb_free(&sb);
    cJSON_Delete(recs);
    return s;
}
