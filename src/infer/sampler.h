/* sampler.h: choose the next token from a row of logits the way
 * transformers' generate does: repetition penalty, then temperature, top-k,
 * top-p, min-p, then a draw from the renormalised distribution (or argmax
 * when greedy). A seed reproduces a sample exactly. */
#ifndef WHET_INFER_SAMPLER_H
#define WHET_INFER_SAMPLER_H
#include <stddef.h>
#include <stdint.h>
#include "core/rng.h"
#include "core/status.h"

typedef struct {
    float temperature;         /* <= 0: greedy (argmax; the first on ties, as torch.argmax) */
    int top_k;                 /* 0 = off */
    float top_p;               /* 1 = off; keep the smallest head of the sorted distribution reaching top_p */
    float min_p;               /* 0 = off; drop tokens below min_p x the top probability */
    float repetition_penalty;  /* 1 = off; HF/CTRL: a seen token's logit l becomes l/p if l > 0, l*p otherwise */
    uint64_t seed;
} whet_sampler_params;

/* Neutral parameters: greedy, no filters, no penalty, seed 0. */
whet_sampler_params whet_sampler_defaults(void);

typedef struct whet_sampler whet_sampler;

/* Validate `p` (ranges named in the message) and allocate scratch for `vocab_size` tokens. */
whet_status whet_sampler_create(const whet_sampler_params *p, int vocab_size, whet_sampler **out, whet_error *err);
void whet_sampler_free(whet_sampler *s);
/* The next token for logits[vocab_size] (modified in place by the penalty
 * and the filters). history[n_history]: the ids so far (prompt included),
 * which the repetition penalty applies to. */
int32_t whet_sampler_sample(whet_sampler *s, float *logits, const int32_t *history, size_t n_history);
#endif
