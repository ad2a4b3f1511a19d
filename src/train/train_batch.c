/* train_batch.c: packing examples into a micro-batch (see train_batch.h). */
#include "train/train_batch.h"

#include <stdlib.h>

static whet_status grow(whet_batch_buf *b, int64_t tokens, int64_t seqs, whet_error *err) {
    if (tokens > b->cap_tokens) {
        int32_t *t = realloc(b->tokens, sizeof(int32_t) * (size_t)tokens);
        if (t) b->tokens = t;
        int32_t *p = realloc(b->pos, sizeof(int32_t) * (size_t)tokens);
        if (p) b->pos = p;
        int32_t *g = realloc(b->targets, sizeof(int32_t) * (size_t)tokens);
        if (g) b->targets = g;
        if (!t || !p || !g) return whet_errorf(err, WHET_ERR_NOMEM, "batch: cannot hold %lld tokens", (long long)tokens);
        b->cap_tokens = tokens;
    }
    if (seqs > b->cap_seqs) {
        int32_t *c = realloc(b->cu_seqlens, sizeof(int32_t) * (size_t)(seqs + 1));
        if (!c) return whet_errorf(err, WHET_ERR_NOMEM, "batch: cannot hold %lld sequences", (long long)seqs);
        b->cu_seqlens = c;
        b->cap_seqs = seqs;
    }
    return WHET_OK;
}

int64_t whet_example_n_targets(const whet_sft_example *e) {
    int64_t n = 0;
    for (int64_t i = 1; i < e->len; i++) n += e->labels[i] != WHET_IGNORE_INDEX;
    return n;
}

/* Append one example (or one packed row) as a sequence. The labels shift over the whole row as
 * transformers does; with neat_packing each segment becomes its own attention sequence and the pad
 * (segment 0, label -100, after every real token) is dropped, which changes no loss. Plain packing
 * keeps one sequence with LLaMA-Factory's restarting position_ids (attention crosses, as in LF). */
static void append_example(whet_batch_buf *b, const whet_sft_example *e) {
    int32_t seg = -1;
    for (int64_t t = 0; t < e->len; t++) {
        const int32_t s = e->segment_ids ? e->segment_ids[t] : 1;
        if (s == 0) continue;
        if (s != seg && seg != -1) b->cu_seqlens[++b->n_seqs] = (int32_t)b->T;
        seg = s;
        const int64_t k = b->T++;
        b->tokens[k] = e->input_ids[t];
        b->pos[k] = e->position_ids ? e->position_ids[t] : (int32_t)t;
        b->targets[k] = t + 1 < e->len ? e->labels[t + 1] : WHET_IGNORE_INDEX;
        b->n_labels += b->targets[k] != WHET_IGNORE_INDEX;
    }
    if (seg != -1) b->cu_seqlens[++b->n_seqs] = (int32_t)b->T;
}

whet_status whet_batch_pack(whet_batch_buf *b, const whet_sft_dataset *ds, const uint32_t *idx, int n,
                            whet_error *err) {
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        if (idx[i] >= ds->n)
            return whet_errorf(err, WHET_ERR_INTERNAL, "batch: example %u of %zu", idx[i], ds->n);
        total += ds->items[idx[i]].len;
    }
    if (total > INT32_MAX) return whet_errorf(err, WHET_ERR_INVALID_ARG, "batch: %lld tokens is too many", (long long)total);
    int64_t max_seqs = 0;  /* neat_packing rows hold several attention segments */
    for (int i = 0; i < n; i++) {
        const whet_sft_example *e = &ds->items[idx[i]];
        max_seqs += e->segment_ids ? e->len : 1;
    }
    WHET_TRY(grow(b, total > 0 ? total : 1, max_seqs, err));
    b->T = 0;
    b->n_labels = 0;
    b->n_seqs = 0;
    b->cu_seqlens[0] = 0;
    for (int i = 0; i < n; i++) append_example(b, &ds->items[idx[i]]);
    return WHET_OK;
}

whet_train_batch whet_batch_view(const whet_batch_buf *b, uint64_t noise_seed, bool training) {
    whet_train_batch v = {.T = b->T,
                          .tokens = b->tokens,
                          .pos = b->pos,
                          .targets = b->targets,
                          .n_seqs = b->n_seqs,
                          .cu_seqlens = b->cu_seqlens,
                          .noise_seed = noise_seed,
                          .training = training};
    return v;
}

void whet_batch_buf_free(whet_batch_buf *b) {
    free(b->tokens);
    free(b->pos);
    free(b->targets);
    free(b->cu_seqlens);
    *b = (whet_batch_buf){0};
}
