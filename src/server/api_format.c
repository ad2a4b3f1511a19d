/* api_format.c: a finished or running job rendered as OpenAI JSON
 * (chat.completion / text_completion, their SSE chunks, usage, logprobs)
 * or Ollama's objects (NDJSON lines with done / done_reason / eval_count).
 * Called with the job's lock held. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "server/server_impl.h"

static bool is_ollama(const api_call *c) { return c->kind == API_OLLAMA_CHAT || c->kind == API_OLLAMA_GENERATE; }

const char *api_stream_content_type(const api_call *c) {
    return is_ollama(c) ? "application/x-ndjson" : "text/event-stream";
}

/* ---- logprobs ---- */

static cJSON *bytes_of(const char *t) {
    cJSON *a = cJSON_CreateArray();
    for (const unsigned char *p = (const unsigned char *)t; *p; p++) cJSON_AddItemToArray(a, cJSON_CreateNumber(*p));
    return a;
}

static cJSON *chat_token_lp(whet_server *s, int32_t id, float lp) {
    cJSON *o = cJSON_CreateObject();
    char *t = api_token_text(s, id);
    cJSON_AddStringToObject(o, "token", t);
    cJSON_AddNumberToObject(o, "logprob", lp);
    cJSON_AddItemToObject(o, "bytes", bytes_of(t));
    free(t);
    return o;
}

/* chat: {"content": [{token, logprob, bytes, top_logprobs}]} for lps[from, to) */
static cJSON *chat_logprobs(whet_server *s, const job_choice *ch, int from, int to) {
    cJSON *o = cJSON_CreateObject(), *content = cJSON_AddArrayToObject(o, "content");
    for (int i = from; i < to; i++) {
        const job_logprob *lp = &ch->lps[i];
        cJSON *e = chat_token_lp(s, lp->id, lp->logprob), *top = cJSON_AddArrayToObject(e, "top_logprobs");
        for (int k = 0; k < lp->n_top; k++) cJSON_AddItemToArray(top, chat_token_lp(s, lp->top_ids[k], lp->top_logprobs[k]));
        cJSON_AddItemToArray(content, e);
    }
    return o;
}

/* completions: {tokens, token_logprobs, top_logprobs: [{text: lp}], text_offset} */
static cJSON *completion_logprobs(whet_server *s, const job_choice *ch, int from, int to, size_t base) {
    cJSON *o = cJSON_CreateObject(), *toks = cJSON_AddArrayToObject(o, "tokens"),
          *lps = cJSON_AddArrayToObject(o, "token_logprobs"), *tops = cJSON_AddArrayToObject(o, "top_logprobs"),
          *offs = cJSON_AddArrayToObject(o, "text_offset");
    for (int i = from; i < to; i++) {
        const job_logprob *lp = &ch->lps[i];
        char *t = api_token_text(s, lp->id);
        cJSON_AddItemToArray(toks, cJSON_CreateString(t));
        free(t);
        cJSON_AddItemToArray(lps, cJSON_CreateNumber(lp->logprob));
        cJSON *top = cJSON_CreateObject();
        for (int k = 0; k < lp->n_top; k++) {
            char *tt = api_token_text(s, lp->top_ids[k]);
            if (!cJSON_GetObjectItemCaseSensitive(top, tt)) cJSON_AddNumberToObject(top, tt, lp->top_logprobs[k]);
            free(tt);
        }
        cJSON_AddItemToArray(tops, top);
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(base + lp->text_offset)));
    }
    return o;
}

/* ---- usage ---- */

static cJSON *usage(const api_call *c) {
    long prompt = 0, completion = 0, cached = 0;
    for (int i = 0; i < c->j->n_choices; i++) {
        const job_choice *ch = &c->j->ch[i];
        if (i % c->n_per_prompt == 0) {  /* each prompt counted once, as OpenAI does for n > 1 */
            prompt += ch->n_prompt;
            cached += ch->n_cached_prompt;
        }
        completion += ch->n_tokens;
    }
    cJSON *u = cJSON_CreateObject();
    cJSON_AddNumberToObject(u, "prompt_tokens", (double)prompt);
    cJSON_AddNumberToObject(u, "completion_tokens", (double)completion);
    cJSON_AddNumberToObject(u, "total_tokens", (double)(prompt + completion));
    cJSON *d = cJSON_AddObjectToObject(u, "prompt_tokens_details");
    cJSON_AddNumberToObject(d, "cached_tokens", (double)cached);
    return u;
}

static const char *public_finish(const job_choice *ch) {
    return ch->finish && strcmp(ch->finish, "length") == 0 ? "length" : "stop";
}

static cJSON *head(const api_call *c, const char *object) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", c->id);
    cJSON_AddStringToObject(o, "object", object);
    cJSON_AddNumberToObject(o, "created", (double)c->created);
    cJSON_AddStringToObject(o, "model", c->model);
    return o;
}

static const char *echo_of(const api_call *c, int i) {
    return c->echo && c->echo[i / c->n_per_prompt] ? c->echo[i / c->n_per_prompt] : "";
}

static cJSON *stop_reason(const job_choice *ch) {
    return ch->stop_reason ? cJSON_CreateString(ch->stop_reason) : cJSON_CreateNull();
}

/* ---- Ollama ---- */

static void created_at(char *buf, size_t n) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t k = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + k, n - k, ".%09ldZ", ts.tv_nsec);
}

static cJSON *ollama_obj(const api_call *c, const char *text, bool done) {
    cJSON *o = cJSON_CreateObject();
    char at[64];
    created_at(at, sizeof at);
    cJSON_AddStringToObject(o, "model", c->model);
    cJSON_AddStringToObject(o, "created_at", at);
    if (c->kind == API_OLLAMA_CHAT) {
        cJSON *m = cJSON_AddObjectToObject(o, "message");
        cJSON_AddStringToObject(m, "role", "assistant");
        cJSON_AddStringToObject(m, "content", text);
    } else {
        cJSON_AddStringToObject(o, "response", text);
    }
    cJSON_AddBoolToObject(o, "done", done);
    return o;
}

static void ollama_final_fields(cJSON *o, const job_choice *ch) {
    cJSON_AddStringToObject(o, "done_reason", public_finish(ch));
    double first = ch->t_first > 0 ? ch->t_first : ch->t_done;
    cJSON_AddNumberToObject(o, "total_duration", ch->t_done * 1e9);
    cJSON_AddNumberToObject(o, "load_duration", 0);
    cJSON_AddNumberToObject(o, "prompt_eval_count", ch->n_prompt);
    cJSON_AddNumberToObject(o, "prompt_eval_duration", first * 1e9);
    cJSON_AddNumberToObject(o, "eval_count", ch->n_tokens);
    cJSON_AddNumberToObject(o, "eval_duration", (ch->t_done - first) * 1e9);
}

/* ---- full responses ---- */

static const char *first_error(const api_call *c) {
    for (int i = 0; i < c->j->n_choices; i++) {
        const char *f = c->j->ch[i].finish;
        if (f && strcmp(f, "error") == 0) return c->j->ch[i].error;
        if (f && strcmp(f, "abort") == 0) return "the request was cancelled: the server is shutting down";
    }
    return NULL;
}

char *api_format_full(whet_server *s, api_call *c) {
    const char *err = first_error(c);
    if (err) {
        api_reply r = is_ollama(c) ? api_ollama_error(500, err) : api_error(500, "server_error", NULL, NULL, err);
        return r.body;
    }
    cJSON *root;
    if (is_ollama(c)) {
        const job_choice *ch = &c->j->ch[0];
        root = ollama_obj(c, ch->text.data ? ch->text.data : "", true);
        ollama_final_fields(root, ch);
    } else {
        bool chat = c->kind == API_CHAT;
        root = head(c, chat ? "chat.completion" : "text_completion");
        cJSON *choices = cJSON_AddArrayToObject(root, "choices");
        for (int i = 0; i < c->j->n_choices; i++) {
            const job_choice *ch = &c->j->ch[i];
            const char *text = ch->text.data ? ch->text.data : "";
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "index", i);
            if (chat) {
                cJSON *m = cJSON_AddObjectToObject(o, "message");
                cJSON_AddStringToObject(m, "role", "assistant");
                cJSON_AddStringToObject(m, "content", text);
            } else {
                whet_strbuf t;
                whet_sb_init(&t);
                whet_sb_puts(&t, echo_of(c, i));
                whet_sb_puts(&t, text);
                cJSON_AddStringToObject(o, "text", t.data ? t.data : "");
                whet_sb_free(&t);
            }
            if (c->logprobs >= 0 && ch->lps)
                cJSON_AddItemToObject(o, "logprobs", chat ? chat_logprobs(s, ch, 0, ch->n_ids)
                                                          : completion_logprobs(s, ch, 0, ch->n_ids,
                                                                                strlen(echo_of(c, i))));
            else
                cJSON_AddNullToObject(o, "logprobs");
            cJSON_AddStringToObject(o, "finish_reason", public_finish(ch));
            cJSON_AddItemToObject(o, "stop_reason", stop_reason(ch));
            cJSON_AddItemToArray(choices, o);
        }
        cJSON_AddItemToObject(root, "usage", usage(c));
    }
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return out;
}

/* ---- streaming ---- */

static void emit(whet_strbuf *out, cJSON *v, bool ollama) {
    char *t = cJSON_PrintUnformatted(v);
    cJSON_Delete(v);
    if (!t) return;
    if (ollama) {
        whet_sb_puts(out, t);
        whet_sb_putc(out, '\n');
    } else {
        whet_sb_puts(out, "data: ");
        whet_sb_puts(out, t);
        whet_sb_puts(out, "\n\n");
    }
    free(t);
}

static cJSON *chunk(const api_call *c, int index, cJSON *delta_or_text, cJSON *logprobs, const job_choice *fin) {
    bool chat = c->kind == API_CHAT;
    cJSON *root = head(c, chat ? "chat.completion.chunk" : "text_completion");
    cJSON *choices = cJSON_AddArrayToObject(root, "choices"), *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", index);
    cJSON_AddItemToObject(o, chat ? "delta" : "text", delta_or_text);
    cJSON_AddItemToObject(o, "logprobs", logprobs ? logprobs : cJSON_CreateNull());
    if (fin) {
        cJSON_AddStringToObject(o, "finish_reason", public_finish(fin));
        cJSON_AddItemToObject(o, "stop_reason", stop_reason(fin));
    } else {
        cJSON_AddNullToObject(o, "finish_reason");
    }
    cJSON_AddItemToArray(choices, o);
    return root;
}

static void stream_openai_choice(whet_server *s, api_call *c, job_choice *ch, whet_strbuf *out) {
    bool chat = c->kind == API_CHAT;
    if (!ch->sent_role) {
        ch->sent_role = true;
        if (chat) {
            cJSON *d = cJSON_CreateObject();
            cJSON_AddStringToObject(d, "role", "assistant");
            cJSON_AddStringToObject(d, "content", "");
            emit(out, chunk(c, ch->index, d, NULL, NULL), false);
        } else if (c->echo && echo_of(c, ch->index)[0]) {
            emit(out, chunk(c, ch->index, cJSON_CreateString(echo_of(c, ch->index)), NULL, NULL), false);
        }
    }
    bool new_text = ch->text.len > ch->sent_text, new_lps = ch->lps && ch->n_ids > ch->sent_lps;
    if (new_text || (new_lps && c->logprobs >= 0)) {
        const char *t = ch->text.data ? ch->text.data + ch->sent_text : "";
        cJSON *lp = NULL;
        if (c->logprobs >= 0 && ch->lps)
            lp = chat ? chat_logprobs(s, ch, ch->sent_lps, ch->n_ids)
                      : completion_logprobs(s, ch, ch->sent_lps, ch->n_ids, strlen(echo_of(c, ch->index)));
        cJSON *body;
        if (chat) {
            body = cJSON_CreateObject();
            cJSON_AddStringToObject(body, "content", t);
        } else {
            body = cJSON_CreateString(t);
        }
        emit(out, chunk(c, ch->index, body, lp, NULL), false);
        ch->sent_text = ch->text.len;
        ch->sent_lps = ch->n_ids;
    }
    if (ch->finish && !ch->sent_final) {
        ch->sent_final = true;
        if (strcmp(ch->finish, "error") == 0) {
            api_reply r = api_error(500, "server_error", NULL, NULL, ch->error);
            whet_sb_printf(out, "data: %s\n\n", r.body ? r.body : "{}");
            free(r.body);
        }
        emit(out, chunk(c, ch->index, chat ? cJSON_CreateObject() : cJSON_CreateString(""), NULL, ch), false);
    }
}

static void stream_ollama(api_call *c, job_choice *ch, whet_strbuf *out) {
    if (ch->text.len > ch->sent_text) {
        emit(out, ollama_obj(c, ch->text.data + ch->sent_text, false), true);
        ch->sent_text = ch->text.len;
    }
    if (ch->finish && !ch->sent_final) {
        ch->sent_final = true;
        if (strcmp(ch->finish, "error") == 0) {
            api_reply r = api_ollama_error(500, ch->error);
            whet_sb_printf(out, "%s\n", r.body ? r.body : "{}");
            free(r.body);
            return;
        }
        cJSON *o = ollama_obj(c, "", true);
        ollama_final_fields(o, ch);
        emit(out, o, true);
    }
}

void api_format_stream(whet_server *s, api_call *c, whet_strbuf *out, bool *finished) {
    *finished = false;
    bool all_final = true;
    for (int i = 0; i < c->j->n_choices; i++) {
        job_choice *ch = &c->j->ch[i];
        if (is_ollama(c)) stream_ollama(c, ch, out);
        else stream_openai_choice(s, c, ch, out);
        all_final &= ch->sent_final;
    }
    if (!all_final) return;
    if (!is_ollama(c)) {
        if (c->include_usage && !c->sent_usage) {
            cJSON *root = head(c, c->kind == API_CHAT ? "chat.completion.chunk" : "text_completion");
            cJSON_AddArrayToObject(root, "choices");
            cJSON_AddItemToObject(root, "usage", usage(c));
            emit(out, root, false);
            c->sent_usage = true;
        }
        if (!c->sent_done) {
            whet_sb_puts(out, "data: [DONE]\n\n");
            c->sent_done = true;
        }
    }
    *finished = true;
}
