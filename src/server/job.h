/* job.h: one HTTP generation call = one job of n_choices engine requests
 * (OpenAI's n, or several prompts). The engine thread turns each choice's
 * token events into text (textstream.h: detokenization, stop strings) and
 * logprob entries under the job's lock; the connection thread waits on the
 * job's condition variable and formats whatever is new. The job is
 * reference counted: the connection holds one reference and every running
 * choice one, so neither side can free it under the other. */
#ifndef WHET_SERVER_JOB_H
#define WHET_SERVER_JOB_H
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "core/strbuf.h"
#include "infer/engine.h"
#include "server/textstream.h"

typedef struct {
    int32_t id;
    float logprob;
    int n_top;
    int32_t top_ids[WHET_MAX_TOP_LOGPROBS];
    float top_logprobs[WHET_MAX_TOP_LOGPROBS];
    size_t text_offset;           /* where this token's text starts in the choice's text */
} job_logprob;

struct job;
typedef struct {
    struct job *job;
    int index;
    uint64_t request_id;
    bool submitted;
    whet_textstream ts;           /* engine thread only */
    /* under job->mu */
    whet_strbuf text;             /* text emitted so far */
    int32_t *out_ids;             /* [cap_ids] generated ids (eos included) */
    int n_ids, cap_ids;
    job_logprob *lps;             /* [cap_ids] when logprobs were asked for */
    int n_tokens;                 /* completion tokens (eos included) */
    int n_prompt, n_cached_prompt;
    const char *finish;           /* NULL while running: "stop", "length", "abort", "error" */
    char *stop_reason;            /* the stop string that ended it, or NULL */
    char error[256];
    double t_first, t_done;       /* seconds since the job started */
    /* connection thread only */
    size_t sent_text;
    int sent_lps;
    bool sent_role, sent_final;
} job_choice;

typedef struct job {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    whet_engine *eng;
    int n_choices, n_done;
    job_choice *ch;
    bool want_logprobs;
    double t0;                    /* monotonic seconds at creation */
} job;

/* One choice's input. */
typedef struct {
    const int32_t *prompt;
    int n_prompt;
    whet_sampler_params sampling;
    float presence_penalty, frequency_penalty;
    int max_tokens;
    const char *const *stops;
    int n_stops;
} job_input;

typedef struct {
    const int32_t *stop_ids;
    int n_stop_ids;
    int logprobs;                 /* < 0: none */
    int lora_id;                  /* the engine's LoRA adapter, 0 = the base model */
} job_common;

double job_now(void);
/* Create the job and submit every choice. On error nothing is left running
 * and the message is for the client (err->code INVALID_ARG: a 400). */
whet_status job_start(whet_engine *eng, const whet_tokenizer *tok, const job_input *in, int n_in, const job_common *c,
                      job **out, whet_error *err);
/* The connection is done with the job: cancel what still runs, drop its reference. */
void job_release(job *j);
#endif
