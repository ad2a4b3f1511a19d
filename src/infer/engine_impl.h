/* engine_impl.h: the engine's private state, shared by engine.c (queues,
 * threads, stats) and scheduler.c (one step: schedule, forward, sample).
 * Not for use outside src/infer/engine*.c and scheduler.c. */
#ifndef WHET_INFER_ENGINE_IMPL_H
#define WHET_INFER_ENGINE_IMPL_H
#include <pthread.h>
#include "infer/engine.h"
#include "infer/kv_blocks.h"

/* One request's sequence. Fields below `queue link` belong to the stepping
 * thread once the sequence left the inbox. */
typedef struct engine_seq {
    uint64_t id;
    whet_request_params p;      /* prompt / stop_ids point into `tokens` / `stop_ids` below */
    int32_t *tokens;            /* [cap] prompt then generated ids */
    int n_tokens, cap;
    int n_prompt, n_generated;
    int n_computed;             /* tokens whose K/V are in the cache */
    int n_cached_prompt;        /* prompt tokens the prefix cache supplied at first admission */
    int32_t *stop_ids;          /* [n_stop_ids] */
    whet_sampler *sampler;
    int32_t *counts;            /* [vocab] generated-token counts, only with presence/frequency penalties */
    whet_kv_seq kv;
    bool cancelled;             /* set under the engine lock */
    bool admitted_once;
    struct engine_seq *next;    /* queue link (inbox / waiting) */
} engine_seq;

typedef struct { engine_seq *head, *tail; int n; } seq_queue;

struct whet_engine {
    whet_model *m;
    whet_engine_opts o;         /* resolved: every field > 0 */
    int max_model_len;
    whet_kv_pool kv;
    whet_kv_blocks blocks;

    /* shared with submitters, under `lock` */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    seq_queue inbox;
    uint64_t *cancel_ids;       /* [cancel_cap] */
    int n_cancel, cancel_cap;
    uint64_t next_id;
    bool stop_requested, thread_started;
    pthread_t thread;
    whet_engine_stats stats;

    /* stepping thread only */
    seq_queue waiting;          /* preempted ones at the head */
    engine_seq **running;       /* [max_num_seqs] arrival order */
    int n_running;
    /* per-step scratch, sized at create for max_num_batched_tokens / max_num_seqs */
    int32_t *b_tokens, *b_pos, *b_seq;      /* [max_num_batched_tokens] */
    int32_t *b_lora;                        /* [max_num_batched_tokens] adapter of each row, -1 = base */
    const int32_t **b_tables;               /* [max_num_seqs] */
    int32_t *b_logit_rows;                  /* [max_num_seqs] */
    engine_seq **b_sched;                   /* [max_num_seqs] sequences in this step */
    int *b_chunk;                           /* [max_num_seqs] their token counts */
    float *logits;                          /* [max_num_seqs, vocab] */
    float *raw_row;                         /* [vocab] logits before the sampler edits them */
    whet_forward_ws ws;
    uint64_t preemptions, prefix_hit_tokens, gen_tokens, prompt_tokens, steps, batched_tokens, finished, aborted;
    int max_running_seen;
};

void engine_queue_push_tail(seq_queue *q, engine_seq *s);
void engine_queue_push_head(seq_queue *q, engine_seq *s);
engine_seq *engine_queue_pop(seq_queue *q);
void engine_seq_free(whet_engine *e, engine_seq *s);
/* Release s's blocks, deliver a token-less final event, free it. */
void engine_finish_abort(whet_engine *e, engine_seq *s, whet_finish_reason r, const char *error);
#endif
