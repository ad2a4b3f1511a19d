/* sft_pack.c: LLaMA-Factory's PackedSupervisedDatasetProcessor
 * (data/processor/supervised.py, processor_utils.greedy_knapsack): drop
 * examples longer than cutoff, bin-pack the lengths greedily (sorted
 * ascending; a bin repeatedly takes the largest length that still fits, as
 * bisect does; equal lengths give their last example first), and pad every
 * bin to cutoff + 1 with pad / label -100 / position 0. position_ids restart
 * per example; neat_packing adds segment_ids i+1 (0 for pad). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/log.h"
#include "data/sft_pack.h"

static void free_example(whet_sft_example *e) {
    free(e->input_ids);
    free(e->labels);
    free(e->position_ids);
    free(e->segment_ids);
    free((char *)e->origin);
}

static int cmp_pair(const void *a, const void *b) {
    const int64_t *x = a, *y = b;
    if (x[0] != y[0]) return (x[0] > y[0]) - (x[0] < y[0]);
    return (x[1] > y[1]) - (x[1] < y[1]);
}

/* greedy_knapsack: order[] gets example indices bin after bin, bin_end[b] the end of bin b in order[]. */
static whet_status knapsack(const whet_ex_list *l, long long cap_total, size_t *order, size_t *bin_end, size_t *n_bins,
                            whet_error *err) {
    size_t n = l->n;
    int64_t *pairs = malloc((n ? n : 1) * 2 * sizeof *pairs);   /* (length, index), sorted */
    size_t *rest = malloc((n ? n : 1) * sizeof *rest);           /* positions into pairs still unpacked */
    if (!pairs || !rest) { free(pairs); free(rest); return whet_errorf(err, WHET_ERR_NOMEM, "out of memory"); }
    for (size_t i = 0; i < n; i++) { pairs[2 * i] = l->items[i].len; pairs[2 * i + 1] = (int64_t)i; }
    qsort(pairs, n, 2 * sizeof *pairs, cmp_pair);
    for (size_t i = 0; i < n; i++) rest[i] = i;
    size_t remaining = n, k = 0;
    *n_bins = 0;
    while (remaining) {
        long long cap = cap_total;
        for (;;) {
            size_t lo = 0, hi = remaining;   /* bisect_right(lengths, cap) */
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (pairs[2 * rest[mid]] <= cap) lo = mid + 1;
                else hi = mid;
            }
            if (lo == 0) break;
            /* the largest fitting length; among equal lengths the last index (length2indexes.pop()) */
            size_t pos = lo - 1;
            cap -= pairs[2 * rest[pos]];
            order[k++] = (size_t)pairs[2 * rest[pos] + 1];
            memmove(rest + pos, rest + pos + 1, (remaining - pos - 1) * sizeof *rest);
            remaining--;
        }
        bin_end[(*n_bins)++] = k;
    }
    free(pairs);
    free(rest);
    return WHET_OK;
}

/* One packed row of `row` tokens from order[from..to). */
static whet_status build_row(whet_ex_list *out, const whet_ex_list *l, const size_t *order, size_t from, size_t to,
                             int64_t row, bool neat, int32_t pad, size_t bin, whet_error *err) {
    int32_t *ids = malloc((size_t)row * 4), *lab = malloc((size_t)row * 4), *pos = malloc((size_t)row * 4);
    int32_t *seg = neat ? malloc((size_t)row * 4) : NULL;
    if (!ids || !lab || !pos || (neat && !seg)) {
        free(ids); free(lab); free(pos); free(seg);
        return whet_errorf(err, WHET_ERR_NOMEM, "out of memory");
    }
    int64_t at = 0;
    for (size_t m = from; m < to; m++) {
        const whet_sft_example *e = &l->items[order[m]];
        memcpy(ids + at, e->input_ids, (size_t)e->len * 4);
        memcpy(lab + at, e->labels, (size_t)e->len * 4);
        for (int64_t q = 0; q < e->len; q++) {
            pos[at + q] = (int32_t)q;
            if (seg) seg[at + q] = (int32_t)(m - from) + 1;
        }
        at += e->len;
    }
    for (; at < row; at++) {
        ids[at] = pad;
        lab[at] = WHET_IGNORE_INDEX;
        pos[at] = 0;
        if (seg) seg[at] = 0;
    }
    char origin[160];
    snprintf(origin, sizeof origin, "pack %zu (%zu examples, first %.80s)", bin, to - from,
             to > from ? l->items[order[from]].origin : "-");
    whet_status s = whet_ex_push(out, ids, lab, row, origin, err);
    if (s != WHET_OK) { free(ids); free(lab); free(pos); free(seg); return s; }
    out->items[out->n - 1].position_ids = pos;
    out->items[out->n - 1].segment_ids = seg;
    return WHET_OK;
}

whet_status whet_sft_pack(whet_ex_list *l, long long cutoff, bool neat, int32_t pad, whet_error *err) {
    size_t n = 0, dropped = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (l->items[i].len > cutoff) { free_example(&l->items[i]); dropped++; }
        else l->items[n++] = l->items[i];
    }
    l->n = n;
    if (dropped) WHET_LOGW("packing: dropped %zu examples longer than cutoff_len %lld", dropped, cutoff);
    size_t *order = malloc((n ? n : 1) * sizeof *order), *bin_end = malloc((n ? n : 1) * sizeof *bin_end), n_bins = 0;
    whet_ex_list out = {0};
    whet_status s = order && bin_end ? knapsack(l, cutoff, order, bin_end, &n_bins, err)
                                     : whet_errorf(err, WHET_ERR_NOMEM, "out of memory");
    for (size_t b = 0; b < n_bins && s == WHET_OK; b++)
        s = build_row(&out, l, order, b ? bin_end[b - 1] : 0, bin_end[b], cutoff + 1, neat, pad, b, err);
    for (size_t i = 0; i < l->n; i++) free_example(&l->items[i]);
    free(l->items);
    free(order);
    free(bin_end);
    if (s != WHET_OK) {
        for (size_t i = 0; i < out.n; i++) free_example(&out.items[i]);
        free(out.items);
        out = (whet_ex_list){0};
    }
    *l = out;
    return s;
}
