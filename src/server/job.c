/* job.c: a generation job's engine callback (token -> text, stop strings,
 * logprobs, finish) and its reference-counted life cycle (see job.h). */
#include "server/job.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double job_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void job_free(job *j) {
    for (int i = 0; i < j->n_choices; i++) {
        job_choice *c = &j->ch[i];
        whet_textstream_free(&c->ts);
        whet_sb_free(&c->text);
        free(c->out_ids);
        free(c->lps);
    }
    free(j->ch);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
}

static void job_unref(job *j) {
    pthread_mutex_lock(&j->mu);
    bool last = --j->refs == 0;
    pthread_mutex_unlock(&j->mu);
    if (last) job_free(j);
}

static const char *finish_name(whet_finish_reason r) {
    return r == WHET_FINISH_NONE ? NULL : whet_finish_reason_name(r);
}

/* Engine thread: one token event of one choice. */
static bool on_event(void *ctx, const whet_token_event *ev) {
    job_choice *c = ctx;
    job *j = c->job;
    whet_strbuf delta;
    whet_sb_init(&delta);
    bool hit = false;
    size_t offset_before = 0;
    if (ev->id >= 0 && ev->finish != WHET_FINISH_STOP) hit = whet_textstream_push(&c->ts, ev->id, &delta);
    if (ev->finish != WHET_FINISH_NONE && !hit) whet_textstream_flush(&c->ts, &delta);
    pthread_mutex_lock(&j->mu);
    offset_before = c->text.len;
    if (delta.len) whet_sb_append(&c->text, delta.data, delta.len);
    if (ev->id >= 0 && c->n_ids < c->cap_ids) {
        if (c->lps) {
            job_logprob *lp = &c->lps[c->n_ids];
            lp->id = ev->id;
            lp->logprob = ev->logprob;
            lp->n_top = ev->n_top;
            memcpy(lp->top_ids, ev->top_ids, sizeof lp->top_ids);
            memcpy(lp->top_logprobs, ev->top_logprobs, sizeof lp->top_logprobs);
            lp->text_offset = offset_before;
        }
        c->out_ids[c->n_ids++] = ev->id;
    }
    c->n_tokens = ev->n_generated;
    c->n_prompt = ev->n_prompt;
    c->n_cached_prompt = ev->n_cached_prompt;
    if (c->n_tokens == 1 && ev->id >= 0) c->t_first = job_now() - j->t0;
    bool done = hit || ev->finish != WHET_FINISH_NONE;
    if (done) {
        c->finish = hit ? "stop" : finish_name(ev->finish);
        c->stop_reason = c->ts.stop_hit;
        if (ev->error) snprintf(c->error, sizeof c->error, "%s", ev->error);
        c->t_done = job_now() - j->t0;
        j->n_done++;
    }
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    whet_sb_free(&delta);
    if (done) job_unref(j);
    return !hit;
}

static whet_status choice_init(job *j, int i, const whet_tokenizer *tok, const job_input *in, bool lps,
                               whet_error *err) {
    job_choice *c = &j->ch[i];
    c->job = j;
    c->index = i;
    c->n_prompt = in->n_prompt;
    whet_sb_init(&c->text);
    c->cap_ids = in->max_tokens;
    c->out_ids = malloc((size_t)c->cap_ids * sizeof *c->out_ids);
    c->lps = lps ? calloc((size_t)c->cap_ids, sizeof *c->lps) : NULL;
    if (!c->out_ids || (lps && !c->lps))
        return whet_errorf(err, WHET_ERR_NOMEM, "out of memory for %d completion tokens", in->max_tokens);
    return whet_textstream_init(&c->ts, tok, in->prompt, in->n_prompt, in->stops, in->n_stops, in->max_tokens, err);
}

whet_status job_start(whet_engine *eng, const whet_tokenizer *tok, const job_input *in, int n_in, const job_common *cm,
                      job **out, whet_error *err) {
    *out = NULL;
    job *j = calloc(1, sizeof *j);
    if (!j) return whet_errorf(err, WHET_ERR_NOMEM, "out of memory for a request");
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    j->eng = eng;
    j->refs = 1;
    j->t0 = job_now();
    j->want_logprobs = cm->logprobs >= 0;
    j->ch = calloc((size_t)n_in, sizeof *j->ch);
    if (!j->ch) {
        job_free(j);
        return whet_errorf(err, WHET_ERR_NOMEM, "out of memory for %d choices", n_in);
    }
    j->n_choices = n_in;
    whet_status s = WHET_OK;
    for (int i = 0; i < n_in && s == WHET_OK; i++) s = choice_init(j, i, tok, &in[i], j->want_logprobs, err);
    for (int i = 0; i < n_in && s == WHET_OK; i++) {
        whet_request_params p = {.prompt = in[i].prompt, .n_prompt = in[i].n_prompt, .sampling = in[i].sampling,
                                 .presence_penalty = in[i].presence_penalty,
                                 .frequency_penalty = in[i].frequency_penalty,
                                 .max_tokens = in[i].max_tokens, .stop_ids = cm->stop_ids, .n_stop_ids = cm->n_stop_ids,
                                 .logprobs = cm->logprobs, .lora_id = cm->lora_id, .on_event = on_event,
                                 .ctx = &j->ch[i]};
        pthread_mutex_lock(&j->mu);
        j->refs++;  /* the choice's reference, dropped by its final event */
        pthread_mutex_unlock(&j->mu);
        s = whet_engine_submit(eng, &p, &j->ch[i].request_id, err);
        if (s != WHET_OK) {
            pthread_mutex_lock(&j->mu);
            j->refs--;
            pthread_mutex_unlock(&j->mu);
        } else {
            j->ch[i].submitted = true;
        }
    }
    if (s != WHET_OK) {
        job_release(j);
        return s;
    }
    *out = j;
    return WHET_OK;
}

void job_release(job *j) {
    if (!j) return;
    pthread_mutex_lock(&j->mu);
    for (int i = 0; i < j->n_choices; i++)
        if (j->ch[i].submitted && !j->ch[i].finish) whet_engine_cancel(j->eng, j->ch[i].request_id);
    pthread_mutex_unlock(&j->mu);
    job_unref(j);
}
