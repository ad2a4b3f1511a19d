/* generate.h: prompt ids -> new ids with one model and its paged KV cache:
 * prefill the prompt in one forward step, then decode one token per step
 * until an end-of-sequence id or max_new_tokens (transformers' generate for
 * one sequence). Works on token ids only; text goes through the tokenizer
 * in the caller. */
#ifndef WHET_INFER_GENERATE_H
#define WHET_INFER_GENERATE_H
#include <stdbool.h>
#include <stdint.h>
#include "core/status.h"
#include "infer/sampler.h"
#include "model/model.h"

/* Called with each new id as it is chosen; return false to stop early. */
typedef bool (*whet_token_fn)(void *ctx, int32_t id);

typedef struct {
    int max_new_tokens;
    const int32_t *eos_ids;    /* stop after emitting one of these (it is included in the output) */
    int n_eos;                 /* 0: never stop early */
    whet_sampler_params sampling;
    int block_size;            /* KV block size; <= 0: 16 */
    whet_token_fn on_token;    /* may be NULL */
    void *on_token_ctx;
} whet_generate_opts;

typedef struct {
    int n_prompt, n_new;
    double prefill_seconds;    /* the prompt's forward step */
    double decode_seconds;     /* all later steps */
    bool stopped_at_eos;
} whet_generate_stats;

/* out[max_new_tokens] receives the new ids; *n_out how many. stats may be NULL. */
whet_status whet_generate(whet_model *m, const int32_t *prompt, int n_prompt, const whet_generate_opts *o,
                          int32_t *out, int *n_out, whet_generate_stats *stats, whet_error *err);
/* eos ids from generation_config.json when it lists them, else config.json's. */
int whet_generate_default_eos(const whet_model *m, const whet_generation_config *gc, const int32_t **ids);
#endif
