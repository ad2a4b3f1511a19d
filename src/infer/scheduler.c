/* scheduler.c: one engine step (vLLM V1's scheduler, recompute preemption):
 *   1. take new requests and cancellations from the thread-safe inbox;
 *   2. running sequences, oldest first, each get their next chunk (the
 *      rest of the prompt, or one decode token) within the step's token
 *      budget; when the pool has no block for a chunk, the NEWEST running
 *      sequence is preempted (blocks released, recomputed later from prompt
 *      + generated tokens) until the chunk fits;
 *   3. waiting sequences are admitted while there are seats, budget and
 *      blocks, first reusing cached full blocks of their prefix (one whose
 *      first block a running sequence is computing right now waits a step
 *      and then reuses it);
 *   4. one whet_model_forward over all scheduled tokens (each row with its
 *      sequence's LoRA adapter, if any); each sequence whose
 *      chunk reached its last known token samples its next token;
 *   5. finished sequences free their blocks; new full blocks are registered
 *      for prefix caching.
 * A preempted sequence keeps its sampler (and so its RNG state), so seeded
 * sampling gives the same text whether or not it was preempted. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "infer/engine_impl.h"

/* ---- 1. inbox ---- */

static bool take_cancel(uint64_t *ids, int n, uint64_t id) {
    for (int i = 0; i < n; i++)
        if (ids[i] == id) return true;
    return false;
}

static void drain_inbox(whet_engine *e) {
    pthread_mutex_lock(&e->lock);
    engine_seq *s;
    while ((s = engine_queue_pop(&e->inbox))) engine_queue_push_tail(&e->waiting, s);
    if (e->n_cancel > 0) {
        for (engine_seq *w = e->waiting.head; w; w = w->next)
            if (take_cancel(e->cancel_ids, e->n_cancel, w->id)) w->cancelled = true;
        for (int i = 0; i < e->n_running; i++)
            if (take_cancel(e->cancel_ids, e->n_cancel, e->running[i]->id)) e->running[i]->cancelled = true;
        e->n_cancel = 0;
    }
    pthread_mutex_unlock(&e->lock);
}

static void finish_cancelled(whet_engine *e) {
    seq_queue keep = {0};
    engine_seq *s;
    while ((s = engine_queue_pop(&e->waiting))) {
        if (s->cancelled) engine_finish_abort(e, s, WHET_FINISH_ABORT, NULL);
        else engine_queue_push_tail(&keep, s);
    }
    e->waiting = keep;
    int k = 0;
    for (int i = 0; i < e->n_running; i++) {
        if (e->running[i]->cancelled) engine_finish_abort(e, e->running[i], WHET_FINISH_ABORT, NULL);
        else e->running[k++] = e->running[i];
    }
    e->n_running = k;
}

/* ---- 2, 3. scheduling ---- */

static void preempt(whet_engine *e, int idx) {
    engine_seq *s = e->running[idx];
    whet_kv_seq_release(&e->blocks, &s->kv);
    s->n_computed = 0;
    memmove(e->running + idx, e->running + idx + 1, (size_t)(e->n_running - idx - 1) * sizeof *e->running);
    e->n_running--;
    engine_queue_push_head(&e->waiting, s);
    e->preemptions++;
}

static bool reserve_chunk(whet_engine *e, engine_seq *s, int chunk) {
    whet_error err;
    return whet_kv_seq_reserve(&e->blocks, &s->kv, s->n_computed, s->n_computed + chunk, &err) == WHET_OK;
}

/* Running sequences, oldest first. Returns the budget left; fills b_sched. */
static int schedule_running(whet_engine *e, int budget, int *n_sched) {
    for (int i = 0; i < e->n_running && budget > 0;) {
        engine_seq *s = e->running[i];
        int chunk = s->n_tokens - s->n_computed;
        if (chunk > budget) chunk = budget;
        bool fits = reserve_chunk(e, s, chunk);
        while (!fits && e->n_running - 1 > i) {
            preempt(e, e->n_running - 1);
            fits = reserve_chunk(e, s, chunk);
        }
        if (!fits) {  /* it is the newest one left: it waits itself */
            preempt(e, i);
            break;
        }
        e->b_sched[*n_sched] = s;
        e->b_chunk[(*n_sched)++] = chunk;
        budget -= chunk;
        i++;
    }
    return budget;
}

/* A running sequence still computing its prompt starts with the same full
 * block as s: s waits a step and then takes those blocks from the prefix
 * cache instead of computing them a second time (n > 1 samples, a shared
 * system prompt arriving in a burst). */
static bool shares_pending_prefix(const whet_engine *e, const engine_seq *s) {
    int bs = e->o.block_size;
    if (e->o.no_prefix_caching || s->n_computed >= bs || s->n_tokens <= bs) return false;
    for (int i = 0; i < e->n_running; i++) {
        const engine_seq *r = e->running[i];
        if (r->kv.salt == s->kv.salt && r->n_computed < r->n_prompt && r->n_prompt > bs &&
            memcmp(r->tokens, s->tokens, (size_t)bs * sizeof *s->tokens) == 0)
            return true;
    }
    return false;
}

/* A running sequence that has already computed all of s's tokens but the
 * last (the n > 1 samples of one prompt): s shares its blocks for those
 * positions and computes only its last token, whose block is copied on the
 * write (copy-on-write), instead of recomputing the partial block the
 * prefix cache cannot give. The same adapter only (kv salt). */
static void fork_from_running(whet_engine *e, engine_seq *s) {
    const int need = s->n_tokens - 1;
    if (need <= s->n_computed) return;
    for (int i = 0; i < e->n_running; i++) {
        const engine_seq *r = e->running[i];
        if (r->kv.salt != s->kv.salt || r->n_computed < need ||
            memcmp(r->tokens, s->tokens, (size_t)need * sizeof *s->tokens) != 0)
            continue;
        whet_kv_seq_release(&e->blocks, &s->kv);
        whet_kv_seq_fork_prefix(&e->blocks, &s->kv, &r->kv, need);
        s->n_computed = need;
        return;
    }
}

static void unlink_waiting(whet_engine *e, engine_seq *prev, engine_seq *s) {
    if (prev) prev->next = s->next; else e->waiting.head = s->next;
    if (e->waiting.tail == s) e->waiting.tail = prev;
    s->next = NULL;
    e->waiting.n--;
}

/* Admit waiting sequences in order while there are seats, budget and blocks. */
static void schedule_waiting(whet_engine *e, int budget, int *n_sched) {
    bool prefix = !e->o.no_prefix_caching;
    engine_seq *prev = NULL, *s = e->waiting.head;
    while (s && e->n_running < e->o.max_num_seqs && budget > 0) {
        engine_seq *next = s->next;
        if (prefix && s->n_computed == 0 && s->kv.n_blocks == 0) {
            /* keep the last token uncached: its logits are needed */
            int max_blocks = (s->n_tokens - 1) / e->o.block_size;
            s->n_computed = whet_kv_seq_match_prefix(&e->blocks, &s->kv, s->tokens, s->n_tokens, max_blocks);
            fork_from_running(e, s);
        }
        if (shares_pending_prefix(e, s)) {
            whet_kv_seq_release(&e->blocks, &s->kv);
            s->n_computed = 0;
            prev = s;
            s = next;
            continue;
        }
        int chunk = s->n_tokens - s->n_computed;
        if (chunk > budget) chunk = budget;
        if (!reserve_chunk(e, s, chunk)) {
            whet_kv_seq_release(&e->blocks, &s->kv);
            s->n_computed = 0;
            break;
        }
        unlink_waiting(e, prev, s);
        if (!s->admitted_once) {
            s->admitted_once = true;
            s->n_cached_prompt = s->n_computed;
            e->prefix_hit_tokens += (uint64_t)s->n_computed;
            e->prompt_tokens += (uint64_t)s->n_prompt;
        }
        e->running[e->n_running++] = s;
        e->b_sched[*n_sched] = s;
        e->b_chunk[(*n_sched)++] = chunk;
        budget -= chunk;
        s = next;
    }
}

/* ---- 4. forward + sampling ---- */

static int build_batch(whet_engine *e, int n_sched, int *n_logits) {
    int T = 0;
    *n_logits = 0;
    for (int j = 0; j < n_sched; j++) {
        engine_seq *s = e->b_sched[j];
        e->b_tables[j] = s->kv.blocks;
        for (int k = 0; k < e->b_chunk[j]; k++) {
            int p = s->n_computed + k;
            e->b_tokens[T] = s->tokens[p];
            e->b_pos[T] = p;
            e->b_seq[T] = j;
            e->b_lora[T] = s->p.lora_id - 1;
            T++;
        }
        if (s->n_computed + e->b_chunk[j] == s->n_tokens) e->b_logit_rows[(*n_logits)++] = T - 1;
    }
    return T;
}

/* log-softmax of the raw row: the chosen token's logprob and the top n. */
static void fill_logprobs(const float *row, int V, int32_t id, int n_top, whet_token_event *ev) {
    float mx = row[0];
    for (int i = 1; i < V; i++) mx = row[i] > mx ? row[i] : mx;
    double sum = 0;
    for (int i = 0; i < V; i++) sum += exp((double)row[i] - mx);
    float lse = mx + (float)log(sum);
    ev->logprob = row[id] - lse;
    ev->n_top = 0;
    for (int i = 0; i < V; i++) {
        float v = row[i];
        int k = ev->n_top;
        if (k == n_top && (k == 0 || v <= ev->top_logprobs[k - 1])) continue;
        if (k < n_top) ev->n_top++;
        else k--;
        while (k > 0 && ev->top_logprobs[k - 1] < v) {
            ev->top_logprobs[k] = ev->top_logprobs[k - 1];
            ev->top_ids[k] = ev->top_ids[k - 1];
            k--;
        }
        ev->top_logprobs[k] = v;
        ev->top_ids[k] = i;
    }
    for (int k = 0; k < ev->n_top; k++) ev->top_logprobs[k] -= lse;
}

static bool is_stop_id(const engine_seq *s, int32_t id) {
    for (int i = 0; i < s->p.n_stop_ids; i++)
        if (s->stop_ids[i] == id) return true;
    return false;
}

/* Sample s's next token from logits row `row`; returns false when s is done
 * (its final event delivered or its callback asked to stop). */
static bool sample_and_report(whet_engine *e, engine_seq *s, float *row) {
    int V = e->m->cfg.vocab_size;
    if (s->p.logprobs >= 0) memcpy(e->raw_row, row, (size_t)V * sizeof *row);
    if (s->counts)
        for (int i = s->n_prompt; i < s->n_tokens; i++) {
            int32_t t = s->tokens[i];
            /* each distinct token once: presence once, frequency x its count */
            if (s->counts[t] < 0) continue;
            row[t] -= s->p.presence_penalty + s->p.frequency_penalty * (float)s->counts[t];
            s->counts[t] = -s->counts[t];
        }
    if (s->counts)
        for (int i = s->n_prompt; i < s->n_tokens; i++)
            if (s->counts[s->tokens[i]] < 0) s->counts[s->tokens[i]] = -s->counts[s->tokens[i]];
    int32_t id = whet_sampler_sample(s->sampler, row, s->tokens, (size_t)s->n_tokens);
    s->tokens[s->n_tokens++] = id;
    s->n_generated++;
    if (s->counts) s->counts[id]++;
    e->gen_tokens++;
    whet_token_event ev = {.request_id = s->id, .id = id, .index = s->n_generated - 1, .n_prompt = s->n_prompt,
                           .n_generated = s->n_generated, .n_cached_prompt = s->n_cached_prompt};
    if (s->p.logprobs >= 0) fill_logprobs(e->raw_row, V, id, s->p.logprobs, &ev);
    if (is_stop_id(s, id)) ev.finish = WHET_FINISH_STOP;
    else if (s->n_generated >= s->p.max_tokens) ev.finish = WHET_FINISH_LENGTH;
    bool go_on = s->p.on_event(s->p.ctx, &ev);
    if (ev.finish != WHET_FINISH_NONE || !go_on) {
        e->finished++;  /* a callback stop (e.g. a stop string) is a normal finish */
        return false;
    }
    return true;
}

/* Drop finished sequences (marked NULL in running) and free them. */
static void compact_running(whet_engine *e) {
    int k = 0;
    for (int i = 0; i < e->n_running; i++)
        if (e->running[i]) e->running[k++] = e->running[i];
    e->n_running = k;
}

static void fail_scheduled(whet_engine *e, int n_sched, const char *msg) {
    for (int j = 0; j < n_sched; j++) {
        engine_seq *s = e->b_sched[j];
        for (int i = 0; i < e->n_running; i++)
            if (e->running[i] == s) e->running[i] = NULL;
        engine_finish_abort(e, s, WHET_FINISH_ERROR, msg);
        e->aborted--;  /* counted as finished, not as a client abort */
    }
    compact_running(e);
}

static whet_status run_batch(whet_engine *e, int n_sched, whet_error *err) {
    int n_logits;
    int T = build_batch(e, n_sched, &n_logits);
    whet_forward_batch b = {.n_tokens = T, .tokens = e->b_tokens, .pos = e->b_pos, .seq_of = e->b_seq,
                            .n_seqs = n_sched, .block_tables = e->b_tables, .n_logits = n_logits,
                            .logit_rows = e->b_logit_rows, .lora = e->o.lora,
                            .lora_of = e->o.lora ? e->b_lora : NULL};
    whet_status st = whet_model_forward(e->m, &e->kv, &b, e->logits, &e->ws, err);
    if (st != WHET_OK) {
        fail_scheduled(e, n_sched, err->msg);
        return st;
    }
    e->steps++;
    e->batched_tokens += (uint64_t)T;
    if (n_sched > e->max_running_seen) e->max_running_seen = n_sched;
    int r = 0;
    for (int j = 0; j < n_sched; j++) {
        engine_seq *s = e->b_sched[j];
        s->n_computed += e->b_chunk[j];
        bool sampled = s->n_computed == s->n_tokens;
        bool alive = !sampled || sample_and_report(e, s, e->logits + (size_t)r++ * e->m->cfg.vocab_size);
        if (!e->o.no_prefix_caching) whet_kv_seq_register_full(&e->blocks, &s->kv, s->tokens, s->n_computed);
        if (!alive) {
            for (int i = 0; i < e->n_running; i++)
                if (e->running[i] == s) e->running[i] = NULL;
            engine_seq_free(e, s);
        }
    }
    compact_running(e);
    return WHET_OK;
}

static void publish_stats(whet_engine *e) {
    pthread_mutex_lock(&e->lock);
    whet_engine_stats *st = &e->stats;
    st->waiting = e->waiting.n;
    st->running = e->n_running;
    st->kv_blocks_total = e->o.n_blocks;
    st->kv_blocks_used = whet_kv_blocks_used(&e->blocks);
    st->kv_blocks_free = whet_kv_blocks_available(&e->blocks);
    st->requests_finished = e->finished;
    st->requests_aborted = e->aborted;
    st->prompt_tokens = e->prompt_tokens;
    st->generation_tokens = e->gen_tokens;
    st->prefix_cache_hit_tokens = e->prefix_hit_tokens;
    st->preemptions = e->preemptions;
    st->kv_cow_copies = e->blocks.cow_copies;
    st->steps = e->steps;
    st->batched_tokens = e->batched_tokens;
    st->max_running_seen = e->max_running_seen;
    pthread_mutex_unlock(&e->lock);
}

whet_status whet_engine_step(whet_engine *e, int *n_active, whet_error *err) {
    drain_inbox(e);
    finish_cancelled(e);
    int n_sched = 0;
    int budget = schedule_running(e, e->o.max_num_batched_tokens, &n_sched);
    schedule_waiting(e, budget, &n_sched);
    whet_status st = WHET_OK;
    if (n_sched > 0) st = run_batch(e, n_sched, err);
    publish_stats(e);
    if (n_active) {
        pthread_mutex_lock(&e->lock);
        *n_active = e->waiting.n + e->n_running + e->inbox.n + e->n_cancel;
        pthread_mutex_unlock(&e->lock);
    }
    return st;
}
