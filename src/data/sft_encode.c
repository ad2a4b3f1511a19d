/* sft_encode.c: one conversation -> input_ids + labels exactly as
 * LLaMA-Factory's SupervisedDatasetProcessor (data/processor/supervised.py):
 * turns from encode_multiturn, truncated turn by turn with infer_seqlen,
 * prompt labels -100 (unless train_on_prompt; efficient_eos puts eos on the
 * first prompt label of later turns), mask_history keeps the latest turns and
 * trains on the last one only, efficient_eos appends eos. */
#include <stdlib.h>
#include <string.h>
#include "data/dataset.h"
#include "data/sft_dataset.h"

typedef struct {
    int32_t *ids, *labels;
    int64_t n, cap;
} seq;

static bool seq_reserve(seq *s, int64_t more) {
    if (s->n + more <= s->cap) return true;
    int64_t cap = (s->n + more) * 2;
    int32_t *a = realloc(s->ids, (size_t)cap * sizeof *a);
    if (!a) return false;
    s->ids = a;
    int32_t *b = realloc(s->labels, (size_t)cap * sizeof *b);
    if (!b) return false;
    s->labels = b;
    s->cap = cap;
    return true;
}

/* Append (or prepend, for mask_history) one turn's ids and labels. */
static bool seq_add(seq *s, const int32_t *ids, const int32_t *labels, int64_t n, bool prepend) {
    if (!seq_reserve(s, n)) return false;
    if (prepend) {
        memmove(s->ids + n, s->ids, (size_t)s->n * sizeof *s->ids);
        memmove(s->labels + n, s->labels, (size_t)s->n * sizeof *s->labels);
        memcpy(s->ids, ids, (size_t)n * sizeof *ids);
        memcpy(s->labels, labels, (size_t)n * sizeof *labels);
    } else {
        memcpy(s->ids + s->n, ids, (size_t)n * sizeof *ids);
        memcpy(s->labels + s->n, labels, (size_t)n * sizeof *labels);
    }
    s->n += n;
    return true;
}

whet_status whet_sft_encode_example(const whet_chat_format *f, const whet_conv_sample *smp, const whet_sft_options *o,
                                    int32_t **ids_out, int32_t **labels_out, int64_t *len_out, whet_error *err) {
    *ids_out = *labels_out = NULL;
    *len_out = 0;
    size_t n = smp->n_prompt + smp->n_response;
    whet_message *msgs = malloc((n ? n : 1) * sizeof *msgs);
    if (!msgs) return whet_errorf(err, WHET_ERR_NOMEM, "out of memory");
    memcpy(msgs, smp->prompt, smp->n_prompt * sizeof *msgs);
    memcpy(msgs + smp->n_prompt, smp->response, smp->n_response * sizeof *msgs);
    whet_turn *turns;
    size_t nt;
    whet_status s = whet_template_encode_multiturn(f, msgs, n, smp->system, smp->tools, false, &turns, &nt, err);
    free(msgs);
    if (s != WHET_OK) return s;
    bool eff = f->tmpl->efficient_eos;
    long long total = eff ? 1 : 0;
    seq q = {0};
    int32_t *lab = NULL;
    for (size_t t = 0; t < nt && s == WHET_OK; t++) {
        if (total >= o->cutoff_len) break;
        const whet_turn *tu = &turns[o->mask_history ? nt - 1 - t : t];
        long long sl, tl;
        whet_infer_seqlen((long long)tu->prompt.n, (long long)tu->response.n, o->cutoff_len - total, &sl, &tl);
        total += sl + tl;
        int32_t *nl = realloc(lab, (size_t)(sl + tl + 1) * sizeof *lab);
        if (!nl) { s = whet_errorf(err, WHET_ERR_NOMEM, "out of memory"); break; }
        lab = nl;
        for (long long i = 0; i < sl; i++) lab[i] = o->train_on_prompt ? tu->prompt.ids[i] : WHET_IGNORE_INDEX;
        if (!o->train_on_prompt && eff && t != 0 && sl > 0) lab[0] = f->eos_id;
        for (long long i = 0; i < tl; i++)
            lab[sl + i] = (o->mask_history && t != 0) ? WHET_IGNORE_INDEX : tu->response.ids[i];
        /* ids: the prompt part then the response part, as one piece */
        int32_t *ids = malloc((size_t)(sl + tl + 1) * sizeof *ids);
        if (!ids) { s = whet_errorf(err, WHET_ERR_NOMEM, "out of memory"); break; }
        memcpy(ids, tu->prompt.ids, (size_t)sl * sizeof *ids);
        memcpy(ids + sl, tu->response.ids, (size_t)tl * sizeof *ids);
        if (!seq_add(&q, ids, lab, sl + tl, o->mask_history)) s = whet_errorf(err, WHET_ERR_NOMEM, "out of memory");
        free(ids);
    }
    free(lab);
    whet_turns_free(turns, nt);
    if (s == WHET_OK && eff) {
        int32_t e = f->eos_id;
        if (!seq_add(&q, &e, &e, 1, false)) s = whet_errorf(err, WHET_ERR_NOMEM, "out of memory");
    }
    if (s != WHET_OK) { free(q.ids); free(q.labels); return s; }
    *ids_out = q.ids;
    *labels_out = q.labels;
    *len_out = q.n;
    return WHET_OK;
}
