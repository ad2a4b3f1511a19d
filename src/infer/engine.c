/* engine.c: the serving engine's life cycle, its thread-safe front door
 * (submit / cancel / stats), the engine thread, and the per-request
 * bookkeeping. The step itself (scheduling, the batched forward, sampling)
 * is in scheduler.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "infer/engine_impl.h"
#include "model/lora_infer.h"

const char *whet_finish_reason_name(whet_finish_reason r) {
    switch (r) {
    case WHET_FINISH_STOP: return "stop";
    case WHET_FINISH_LENGTH: return "length";
    case WHET_FINISH_ABORT: return "abort";
    case WHET_FINISH_ERROR: return "error";
    default: return "";
    }
}

void engine_queue_push_tail(seq_queue *q, engine_seq *s) {
    s->next = NULL;
    if (q->tail) q->tail->next = s; else q->head = s;
    q->tail = s;
    q->n++;
}

void engine_queue_push_head(seq_queue *q, engine_seq *s) {
    s->next = q->head;
    q->head = s;
    if (!q->tail) q->tail = s;
    q->n++;
}

engine_seq *engine_queue_pop(seq_queue *q) {
    engine_seq *s = q->head;
    if (!s) return NULL;
    q->head = s->next;
    if (!q->head) q->tail = NULL;
    s->next = NULL;
    q->n--;
    return s;
}

void engine_seq_free(whet_engine *e, engine_seq *s) {
    if (!s) return;
    if (e) whet_kv_seq_release(&e->blocks, &s->kv);
    whet_kv_seq_free(&s->kv);
    whet_sampler_free(s->sampler);
    free(s->tokens);
    free(s->stop_ids);
    free(s->counts);
    free(s);
}

void engine_finish_abort(whet_engine *e, engine_seq *s, whet_finish_reason r, const char *error) {
    whet_kv_seq_release(&e->blocks, &s->kv);
    whet_token_event ev = {.request_id = s->id, .id = -1, .index = s->n_generated, .finish = r,
                           .n_prompt = s->n_prompt, .n_generated = s->n_generated,
                           .n_cached_prompt = s->n_cached_prompt, .error = error};
    s->p.on_event(s->p.ctx, &ev);
    e->aborted++;
    e->finished++;
    engine_seq_free(e, s);
}

static whet_status resolve_opts(whet_engine *e, const whet_model *m, const whet_engine_opts *in, whet_error *err) {
    whet_engine_opts o = in ? *in : (whet_engine_opts){0};
    if (o.max_num_seqs <= 0) o.max_num_seqs = 64;
    if (o.max_num_batched_tokens <= 0) o.max_num_batched_tokens = 512;
    if (o.block_size <= 0) o.block_size = 16;
    if (o.max_num_batched_tokens < o.max_num_seqs)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "engine: max_num_batched_tokens %d is below max_num_seqs %d; "
                           "every running sequence needs one token per step", o.max_num_batched_tokens, o.max_num_seqs);
    int model_len = o.max_model_len > 0 ? o.max_model_len : m->cfg.max_position_embeddings;
    if (model_len <= 0) model_len = 2048;
    if (o.max_model_len > m->cfg.max_position_embeddings && m->cfg.max_position_embeddings > 0)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "engine: max_model_len %d exceeds the model's "
                           "max_position_embeddings %d", o.max_model_len, m->cfg.max_position_embeddings);
    if (o.n_blocks <= 0) {
        long long want = (long long)o.max_num_seqs * ((model_len + o.block_size - 1) / o.block_size);
        o.n_blocks = (int)(want < 4096 ? want : 4096);
    }
    int pool_tokens = o.n_blocks * o.block_size;
    /* one sequence alone must always fit, so preemption can always make progress */
    e->max_model_len = model_len < pool_tokens ? model_len : pool_tokens;
    if (e->max_model_len < 2)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "engine: a KV pool of %d blocks x %d tokens holds no prompt",
                           o.n_blocks, o.block_size);
    e->o = o;
    return WHET_OK;
}

static whet_status alloc_scratch(whet_engine *e, whet_error *err) {
    size_t T = (size_t)e->o.max_num_batched_tokens, S = (size_t)e->o.max_num_seqs, V = (size_t)e->m->cfg.vocab_size;
    e->running = calloc(S, sizeof *e->running);
    e->b_tokens = malloc(T * sizeof *e->b_tokens);
    e->b_pos = malloc(T * sizeof *e->b_pos);
    e->b_seq = malloc(T * sizeof *e->b_seq);
    e->b_lora = malloc(T * sizeof *e->b_lora);
    e->b_tables = malloc(S * sizeof *e->b_tables);
    e->b_logit_rows = malloc(S * sizeof *e->b_logit_rows);
    e->b_sched = malloc(S * sizeof *e->b_sched);
    e->b_chunk = malloc(S * sizeof *e->b_chunk);
    e->logits = malloc(S * V * sizeof *e->logits);
    e->raw_row = malloc(V * sizeof *e->raw_row);
    e->cancel_cap = 64;
    e->cancel_ids = malloc((size_t)e->cancel_cap * sizeof *e->cancel_ids);
    if (!e->running || !e->b_tokens || !e->b_pos || !e->b_seq || !e->b_lora || !e->b_tables || !e->b_logit_rows ||
        !e->b_sched || !e->b_chunk || !e->logits || !e->raw_row || !e->cancel_ids)
        return whet_errorf(err, WHET_ERR_NOMEM, "engine: out of memory for step buffers (%zu tokens, %zu sequences)", T,
                           S);
    return WHET_OK;
}

whet_status whet_engine_create(whet_model *m, const whet_engine_opts *o, whet_engine **out, whet_error *err) {
    *out = NULL;
    whet_engine *e = calloc(1, sizeof *e);
    if (!e) return whet_errorf(err, WHET_ERR_NOMEM, "engine: out of memory");
    e->m = m;
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->wake, NULL);
    e->next_id = 1;
    whet_status s = resolve_opts(e, m, o, err);
    if (s == WHET_OK) s = whet_kv_pool_init(&e->kv, &m->cfg, e->o.block_size, e->o.n_blocks, err);
    if (s == WHET_OK)
        s = whet_kv_blocks_init(&e->blocks, e->o.n_blocks, e->o.block_size, whet_kv_pool_copy_block, &e->kv, err);
    if (s == WHET_OK) s = alloc_scratch(e, err);
    if (s != WHET_OK) {
        whet_engine_free(e);
        return s;
    }
    *out = e;
    return WHET_OK;
}

static void abort_all(whet_engine *e) {
    pthread_mutex_lock(&e->lock);
    seq_queue inbox = e->inbox;
    e->inbox = (seq_queue){0};
    pthread_mutex_unlock(&e->lock);
    engine_seq *s;
    while ((s = engine_queue_pop(&inbox))) engine_finish_abort(e, s, WHET_FINISH_ABORT, NULL);
    while ((s = engine_queue_pop(&e->waiting))) engine_finish_abort(e, s, WHET_FINISH_ABORT, NULL);
    for (int i = 0; i < e->n_running; i++) engine_finish_abort(e, e->running[i], WHET_FINISH_ABORT, NULL);
    e->n_running = 0;
}

void whet_engine_free(whet_engine *e) {
    if (!e) return;
    whet_engine_stop(e);
    if (e->running) abort_all(e);
    whet_kv_blocks_free(&e->blocks);
    whet_kv_pool_free(&e->kv);
    free(e->running);
    free(e->b_tokens);
    free(e->b_pos);
    free(e->b_seq);
    free(e->b_lora);
    free(e->b_tables);
    free(e->b_logit_rows);
    free(e->b_sched);
    free(e->b_chunk);
    free(e->logits);
    free(e->raw_row);
    free(e->cancel_ids);
    whet_forward_ws_free(&e->ws);
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->wake);
    free(e);
}

int whet_engine_max_model_len(const whet_engine *e) { return e->max_model_len; }
int whet_engine_block_size(const whet_engine *e) { return e->o.block_size; }

static whet_status validate_request(const whet_engine *e, const whet_request_params *p, whet_error *err) {
    if (!p->on_event) return whet_errorf(err, WHET_ERR_INVALID_ARG, "engine: a request needs an event callback");
    int n_lora = whet_lora_set_count(e->o.lora);
    if (p->lora_id < 0 || p->lora_id > n_lora)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "lora_id %d: this engine serves %d LoRA adapter(s) (ids 1..%d; 0 "
                           "= the base model)", p->lora_id, n_lora, n_lora);
    if (p->n_prompt <= 0 || !p->prompt)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "the prompt is empty; give at least one token");
    if (p->n_prompt >= e->max_model_len)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "This model's maximum context length is %d tokens. However, your "
                           "prompt has %d tokens, which leaves no room for a completion. Please shorten the prompt.",
                           e->max_model_len, p->n_prompt);
    int V = e->m->cfg.vocab_size;
    for (int i = 0; i < p->n_prompt; i++)
        if (p->prompt[i] < 0 || p->prompt[i] >= V)
            return whet_errorf(err, WHET_ERR_INVALID_ARG, "prompt token %d is id %d, outside the vocabulary [0, %d)", i,
                               p->prompt[i], V);
    if (p->max_tokens < 1) return whet_errorf(err, WHET_ERR_INVALID_ARG, "max_tokens %d must be at least 1", p->max_tokens);
    if (p->logprobs > WHET_MAX_TOP_LOGPROBS)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "logprobs %d: at most %d top logprobs", p->logprobs,
                           WHET_MAX_TOP_LOGPROBS);
    if (!(fabsf(p->presence_penalty) <= 2) || !(fabsf(p->frequency_penalty) <= 2))
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "presence_penalty %g and frequency_penalty %g must be in [-2, 2]",
                           p->presence_penalty, p->frequency_penalty);
    if (p->n_stop_ids < 0 || (p->n_stop_ids > 0 && !p->stop_ids))
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "engine: %d stop ids without an array", p->n_stop_ids);
    return WHET_OK;
}

static whet_status seq_create(whet_engine *e, const whet_request_params *p, engine_seq **out, whet_error *err) {
    engine_seq *s = calloc(1, sizeof *s);
    if (!s) return whet_errorf(err, WHET_ERR_NOMEM, "engine: out of memory for a request");
    s->p = *p;
    int room = e->max_model_len - p->n_prompt;
    if (s->p.max_tokens > room) s->p.max_tokens = room;
    s->cap = p->n_prompt + s->p.max_tokens;
    s->tokens = malloc((size_t)s->cap * sizeof *s->tokens);
    s->stop_ids = malloc(((size_t)p->n_stop_ids + 1) * sizeof *s->stop_ids);
    whet_status st = WHET_OK;
    if (!s->tokens || !s->stop_ids) st = whet_errorf(err, WHET_ERR_NOMEM, "engine: out of memory for %d tokens", s->cap);
    if (st == WHET_OK) st = whet_kv_seq_init(&s->kv, s->cap, e->o.block_size, err);
    if (st == WHET_OK && (p->presence_penalty != 0 || p->frequency_penalty != 0)) {
        s->counts = calloc((size_t)e->m->cfg.vocab_size, sizeof *s->counts);
        if (!s->counts) st = whet_errorf(err, WHET_ERR_NOMEM, "engine: out of memory for penalty counts");
    }
    if (st == WHET_OK) st = whet_sampler_create(&p->sampling, e->m->cfg.vocab_size, &s->sampler, err);
    if (st != WHET_OK) {
        engine_seq_free(NULL, s);
        return st;
    }
    memcpy(s->tokens, p->prompt, (size_t)p->n_prompt * sizeof *s->tokens);
    if (p->n_stop_ids) memcpy(s->stop_ids, p->stop_ids, (size_t)p->n_stop_ids * sizeof *s->stop_ids);
    s->p.prompt = s->tokens;
    s->p.stop_ids = s->stop_ids;
    s->n_tokens = s->n_prompt = p->n_prompt;
    /* different adapters give different K/V for the same tokens: never share blocks across them */
    s->kv.salt = p->cache_salt + (uint64_t)p->lora_id * 0x9e3779b97f4a7c15ULL;
    *out = s;
    return WHET_OK;
}

whet_status whet_engine_submit(whet_engine *e, const whet_request_params *p, uint64_t *id, whet_error *err) {
    WHET_TRY(validate_request(e, p, err));
    engine_seq *s = NULL;
    WHET_TRY(seq_create(e, p, &s, err));
    pthread_mutex_lock(&e->lock);
    s->id = e->next_id++;
    if (id) *id = s->id;  /* before unlocking: the engine thread may finish and free s right away */
    engine_queue_push_tail(&e->inbox, s);
    e->stats.requests_submitted++;
    pthread_cond_signal(&e->wake);
    pthread_mutex_unlock(&e->lock);
    return WHET_OK;
}

void whet_engine_cancel(whet_engine *e, uint64_t id) {
    pthread_mutex_lock(&e->lock);
    if (e->n_cancel == e->cancel_cap) {
        uint64_t *p = realloc(e->cancel_ids, (size_t)e->cancel_cap * 2 * sizeof *p);
        if (p) {
            e->cancel_ids = p;
            e->cancel_cap *= 2;
        }
    }
    if (e->n_cancel < e->cancel_cap) e->cancel_ids[e->n_cancel++] = id;
    pthread_cond_signal(&e->wake);
    pthread_mutex_unlock(&e->lock);
}

whet_status whet_engine_run_until_idle(whet_engine *e, whet_error *err) {
    int active = 1;
    whet_status first = WHET_OK;
    while (active > 0) {
        whet_status s = whet_engine_step(e, &active, err);
        if (s != WHET_OK && first == WHET_OK) first = s;
    }
    return first;
}

static bool has_work_locked(const whet_engine *e) {
    return e->inbox.n > 0 || e->n_cancel > 0 || e->waiting.n > 0 || e->n_running > 0;
}

static void *engine_thread(void *arg) {
    whet_engine *e = arg;
    for (;;) {
        pthread_mutex_lock(&e->lock);
        while (!e->stop_requested && !has_work_locked(e)) pthread_cond_wait(&e->wake, &e->lock);
        bool stop = e->stop_requested;
        pthread_mutex_unlock(&e->lock);
        if (stop) break;
        whet_error err = {0};
        whet_engine_step(e, NULL, &err);  /* failures already reached the requests as ERROR events */
    }
    abort_all(e);
    return NULL;
}

whet_status whet_engine_start(whet_engine *e, whet_error *err) {
    pthread_mutex_lock(&e->lock);
    bool already = e->thread_started;
    e->stop_requested = false;
    int rc = already ? 0 : pthread_create(&e->thread, NULL, engine_thread, e);
    if (!already && rc == 0) e->thread_started = true;
    pthread_mutex_unlock(&e->lock);
    if (rc != 0) return whet_errorf(err, WHET_ERR_INTERNAL, "engine: cannot start the engine thread (error %d)", rc);
    return WHET_OK;
}

void whet_engine_stop(whet_engine *e) {
    pthread_mutex_lock(&e->lock);
    bool started = e->thread_started;
    e->stop_requested = true;
    pthread_cond_broadcast(&e->wake);
    pthread_mutex_unlock(&e->lock);
    if (started) pthread_join(e->thread, NULL);
    pthread_mutex_lock(&e->lock);
    e->thread_started = false;
    pthread_mutex_unlock(&e->lock);
}

whet_engine_stats whet_engine_get_stats(whet_engine *e) {
    pthread_mutex_lock(&e->lock);
    whet_engine_stats s = e->stats;
    s.waiting += e->inbox.n;
    pthread_mutex_unlock(&e->lock);
    return s;
}

bool whet_engine_check_blocks(whet_engine *e, char *why, int why_len) {
    int n = e->n_running + e->waiting.n, k = 0;
    const whet_kv_seq **seqs = malloc(((size_t)n + 1) * sizeof *seqs);
    if (!seqs) {
        snprintf(why, (size_t)why_len, "out of memory");
        return false;
    }
    for (int i = 0; i < e->n_running; i++) seqs[k++] = &e->running[i]->kv;
    for (engine_seq *s = e->waiting.head; s; s = s->next) seqs[k++] = &s->kv;
    bool ok = whet_kv_blocks_check(&e->blocks, (const whet_kv_seq *const *)seqs, k, why, why_len);
    free(seqs);
    return ok;
}
