/* engine.h: the serving engine (vLLM's LLMEngine + scheduler): one model,
 * one paged KV pool, a queue of requests and continuous batching. Every
 * step (whet_engine_step) schedules chunks of prompt (chunked prefill) and
 * one decode token for every running sequence, runs them through ONE
 * whet_model_forward call, samples each sequence with its own sampler
 * (parameters and seed per request) and reports the new tokens through the
 * request's callback. Sequences join and leave the running batch every
 * step. When the pool runs out of blocks the newest running sequence is
 * preempted: its blocks are released and it is recomputed later from its
 * prompt plus what it generated (never an error for the user). Full blocks
 * are registered for prefix caching, so a repeated prompt prefix (a shared
 * system prompt) is computed once. Each sequence may use its own unmerged
 * LoRA adapter (whet_request_params.lora_id): the forward gets the row ->
 * adapter map, and the adapter is part of the prefix-cache hash.
 *
 * Threads: whet_engine_submit / _cancel / _get_stats may be called from any
 * thread. Steps run on one thread only: the caller of whet_engine_step
 * (tests, offline use) or the engine thread of whet_engine_start (server).
 * Callbacks run on the stepping thread with no engine lock held, so they
 * may call whet_engine_cancel / _submit.
 *
 * Events: each submitted request gets token events until exactly one event
 * with finish != WHET_FINISH_NONE (the last token's event for stop / length,
 * or a token-less event with id -1 for abort / error). A callback that
 * returns false ends its request on the spot (its blocks are freed) and is
 * not called again. */
#ifndef WHET_INFER_ENGINE_H
#define WHET_INFER_ENGINE_H
#include <stdbool.h>
#include <stdint.h>
#include "core/status.h"
#include "infer/sampler.h"
#include "model/model.h"

#define WHET_MAX_TOP_LOGPROBS 20

typedef enum {
    WHET_FINISH_NONE = 0,
    WHET_FINISH_STOP,    /* an eos / stop id was generated (it is the event's id) */
    WHET_FINISH_LENGTH,  /* max_tokens or the model's context reached */
    WHET_FINISH_ABORT,   /* cancelled (client gone) or the engine stopped */
    WHET_FINISH_ERROR,   /* the forward step failed; see event.error */
} whet_finish_reason;

/* "stop", "length", "abort", "error" ("" for NONE). */
const char *whet_finish_reason_name(whet_finish_reason r);

typedef struct {
    uint64_t request_id;
    int32_t id;                 /* the new token, -1 on a token-less final event */
    int index;                  /* position of the token in the completion (0-based) */
    float logprob;              /* log softmax of the raw logits (when logprobs >= 0) */
    int n_top;                  /* entries in top_* (the request's logprobs, <= 20) */
    int32_t top_ids[WHET_MAX_TOP_LOGPROBS];
    float top_logprobs[WHET_MAX_TOP_LOGPROBS];  /* descending */
    whet_finish_reason finish;
    int n_prompt, n_generated;  /* tokens so far, this one included */
    int n_cached_prompt;        /* prompt tokens served from the prefix cache at admission */
    const char *error;          /* message on WHET_FINISH_ERROR */
} whet_token_event;

/* Return false to end the request now (no further event). */
typedef bool (*whet_request_fn)(void *ctx, const whet_token_event *ev);

typedef struct {
    const int32_t *prompt;      /* [n_prompt] copied at submit */
    int n_prompt;
    whet_sampler_params sampling;
    int max_tokens;             /* new tokens at most (clipped to the model length left) */
    const int32_t *stop_ids;    /* [n_stop_ids] ids that finish the request (eos); copied */
    int n_stop_ids;
    int logprobs;               /* < 0: none; 0..20: the chosen token's logprob and that many top ones */
    /* OpenAI penalties over the tokens generated so far, applied to the
     * logits before the sampler: l -= presence * (count > 0) + frequency * count */
    float presence_penalty, frequency_penalty;  /* [-2, 2]; 0 = off */
    uint64_t cache_salt;        /* prefix-cache namespace; 0 by default (the adapter is mixed in by the engine) */
    /* vLLM's lora_int_id: 0 = the base model, k >= 1 = adapter k-1 of
     * whet_engine_opts.lora (unmerged, model/lora_infer.h). Requests for
     * different adapters run in the same batch and never share KV blocks. */
    int lora_id;
    whet_request_fn on_event;   /* required */
    void *ctx;
} whet_request_params;

typedef struct {
    int max_num_seqs;           /* running sequences at most (<= 0: 64) */
    int max_num_batched_tokens; /* tokens per forward step (<= 0: 512) */
    int block_size;             /* tokens per KV block (<= 0: 16) */
    int n_blocks;               /* KV pool size in blocks (<= 0: enough for max_num_seqs full-length sequences, capped at 4096) */
    int max_model_len;          /* <= 0: the model's max_position_embeddings; clipped to the pool */
    bool no_prefix_caching;
    /* Unmerged LoRA adapters requests may pick by lora_id (NULL: none); must
     * outlive the engine. */
    const struct whet_lora_set *lora;
} whet_engine_opts;

typedef struct {
    int waiting, running;
    int kv_blocks_total, kv_blocks_used, kv_blocks_free;
    uint64_t requests_submitted, requests_finished, requests_aborted;
    uint64_t prompt_tokens, generation_tokens, prefix_cache_hit_tokens;
    uint64_t preemptions, steps, batched_tokens;
    uint64_t kv_cow_copies;     /* shared KV blocks copied before a write (forked n > 1 samples) */
    int max_running_seen;       /* largest number of sequences in one step */
} whet_engine_stats;

typedef struct whet_engine whet_engine;

whet_status whet_engine_create(whet_model *m, const whet_engine_opts *o, whet_engine **out, whet_error *err);
/* Stops the engine thread if started; pending requests get an ABORT event. */
void whet_engine_free(whet_engine *e);

int whet_engine_max_model_len(const whet_engine *e);
int whet_engine_block_size(const whet_engine *e);

/* Queue a request. Refused (WHET_ERR_INVALID_ARG, message for the user)
 * when lora_id names no adapter, the prompt is empty, holds ids outside
 * the vocabulary, or leaves no
 * room for one new token within max_model_len; and the sampling parameters
 * are validated. *id is the request's id for whet_engine_cancel. */
whet_status whet_engine_submit(whet_engine *e, const whet_request_params *p, uint64_t *id, whet_error *err);
/* End a request (client gone): it gets an ABORT event at the next step. Unknown ids are ignored. */
void whet_engine_cancel(whet_engine *e, uint64_t id);

/* One scheduling step + forward + sampling on the calling thread. *n_active
 * (may be NULL): requests still waiting or running afterwards. Errors of the
 * forward pass finish the affected requests with WHET_FINISH_ERROR and are
 * also returned. */
whet_status whet_engine_step(whet_engine *e, int *n_active, whet_error *err);
/* Step until no request is left (tests, offline batches). */
whet_status whet_engine_run_until_idle(whet_engine *e, whet_error *err);

/* Run steps on an engine thread that sleeps while there is no work. */
whet_status whet_engine_start(whet_engine *e, whet_error *err);
/* Stop the thread after its current step; requests left get ABORT events. */
void whet_engine_stop(whet_engine *e);

whet_engine_stats whet_engine_get_stats(whet_engine *e);
/* Tests: block refcounts match the sequences' tables, nothing leaked. */
bool whet_engine_check_blocks(whet_engine *e, char *why, int why_len);
#endif
