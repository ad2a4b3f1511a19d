/* sampler.c: next-token choice in transformers' processor order
 * (RepetitionPenalty -> Temperature -> TopK -> TopP -> MinP -> multinomial),
 * with HF's boundary rules: top-k keeps ties with the k-th value, top-p drops
 * a token when the tokens ranked above it already reach top_p (always
 * keeping the first), min-p compares against the top probability after the
 * earlier filters. Sorting touches only the survivors of top-k. */
#include "infer/sampler.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct { float logit; int32_t id; } cand;

struct whet_sampler {
    whet_sampler_params p;
    int vocab;
    whet_rng rng;
    cand *c;          /* [vocab] scratch */
    uint8_t *seen;    /* [vocab] penalty marks */
};

whet_sampler_params whet_sampler_defaults(void) {
    whet_sampler_params p = {.temperature = 0, .top_k = 0, .top_p = 1, .min_p = 0, .repetition_penalty = 1, .seed = 0};
    return p;
}

whet_status whet_sampler_create(const whet_sampler_params *p, int vocab_size, whet_sampler **out, whet_error *err) {
    *out = NULL;
    if (!(p->temperature >= 0) || !isfinite(p->temperature))
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "temperature %g must be >= 0 (0 = greedy)", p->temperature);
    if (!(p->top_p > 0 && p->top_p <= 1))
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "top_p %g must be in (0, 1]", p->top_p);
    if (!(p->min_p >= 0 && p->min_p <= 1))
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "min_p %g must be in [0, 1]", p->min_p);
    if (p->top_k < 0) return whet_errorf(err, WHET_ERR_INVALID_ARG, "top_k %d must be >= 0 (0 = off)", p->top_k);
    if (!(p->repetition_penalty > 0) || !isfinite(p->repetition_penalty))
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "repetition_penalty %g must be > 0 (1 = off)",
                           p->repetition_penalty);
    if (vocab_size <= 0) return whet_errorf(err, WHET_ERR_INVALID_ARG, "sampler: vocab_size %d", vocab_size);
    whet_sampler *s = calloc(1, sizeof *s);
    if (s) {
        s->c = malloc((size_t)vocab_size * sizeof *s->c);
        s->seen = calloc((size_t)vocab_size, 1);
    }
    if (!s || !s->c || !s->seen) {
        whet_sampler_free(s);
        return whet_errorf(err, WHET_ERR_NOMEM, "sampler: out of memory for %d tokens", vocab_size);
    }
    s->p = *p;
    s->vocab = vocab_size;
    whet_rng_seed(&s->rng, p->seed);
    *out = s;
    return WHET_OK;
}

void whet_sampler_free(whet_sampler *s) {
    if (!s) return;
    free(s->c);
    free(s->seen);
    free(s);
}

static void apply_penalty(whet_sampler *s, float *logits, const int32_t *history, size_t n) {
    float pen = s->p.repetition_penalty;
    if (pen == 1.0f) return;
    for (size_t i = 0; i < n; i++) {
        int32_t id = history[i];
        if (id < 0 || id >= s->vocab || s->seen[id]) continue;
        s->seen[id] = 1;
        logits[id] = logits[id] > 0 ? logits[id] / pen : logits[id] * pen;
    }
    for (size_t i = 0; i < n; i++)
        if (history[i] >= 0 && history[i] < s->vocab) s->seen[history[i]] = 0;
}

static int cmp_desc(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->logit != y->logit) return x->logit > y->logit ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;   /* stable by id for reproducibility */
}

/* Move the k largest logits to the front (quickselect); returns the k-th largest value. */
static float select_top_k(cand *c, int n, int k) {
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        float pivot = c[(lo + hi) / 2].logit;
        int i = lo, j = hi;
        while (i <= j) {
            while (c[i].logit > pivot) i++;
            while (c[j].logit < pivot) j--;
            if (i <= j) { cand t = c[i]; c[i] = c[j]; c[j] = t; i++; j--; }
        }
        if (k - 1 <= j) hi = j;
        else if (k - 1 >= i) lo = i;
        else break;
    }
    float kth = c[0].logit;
    for (int i = 0; i < k; i++) kth = c[i].logit < kth ? c[i].logit : kth;
    return kth;
}

int32_t whet_sampler_sample(whet_sampler *s, float *logits, const int32_t *history, size_t n_history) {
    apply_penalty(s, logits, history, n_history);
    int V = s->vocab;
    if (s->p.temperature <= 0) {
        int best = 0;
        for (int i = 1; i < V; i++) best = logits[i] > logits[best] ? i : best;
        return best;
    }
    cand *c = s->c;
    int n = V;
    for (int i = 0; i < V; i++) c[i] = (cand){logits[i] / s->p.temperature, i};
    if (s->p.top_k > 0 && s->p.top_k < V) {
        float kth = select_top_k(c, V, s->p.top_k);
        int m = 0;  /* HF keeps every logit >= the k-th value (ties included) */
        for (int i = 0; i < V; i++)
            if (c[i].logit >= kth) c[m++] = c[i];
        n = m;
    }
    qsort(c, (size_t)n, sizeof *c, cmp_desc);
    /* probabilities of the survivors, stored back into .logit */
    double sum = 0, mx = c[0].logit;
    for (int i = 0; i < n; i++) sum += exp((double)c[i].logit - mx);
    for (int i = 0; i < n; i++) c[i].logit = (float)(exp((double)c[i].logit - mx) / sum);
    if (s->p.top_p < 1.0f) {
        double above = 0;
        int m = 0;
        while (m < n && (m == 0 || above < s->p.top_p)) above += c[m++].logit;
        n = m;
    }
    if (s->p.min_p > 0) {
        double total = 0;
        for (int i = 0; i < n; i++) total += c[i].logit;
        double floor_p = s->p.min_p * (c[0].logit / total);
        int m = 1;
        while (m < n && c[m].logit / total >= floor_p) m++;
        n = m;
    }
    double total = 0;
    for (int i = 0; i < n; i++) total += c[i].logit;
    double u = whet_rng_uniform(&s->rng) * total, acc = 0;
    for (int i = 0; i < n; i++) {
        acc += c[i].logit;
        if (u < acc) return c[i].id;
    }
    return c[n - 1].id;
}
