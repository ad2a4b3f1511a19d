/* convert.c: LLaMA-Factory's AlpacaDatasetConverter and
 * SharegptDatasetConverter (data/converter.py, llamafactory.md §2.2): a
 * record -> prompt messages, response, system, tools. A broken record gets
 * an empty prompt/response, which the SFT processor drops with a warning. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "data/dataset.h"

void whet_conv_sample_free(whet_conv_sample *s) {
    for (size_t i = 0; i < s->n_prompt; i++) free((char *)s->prompt[i].content);
    free(s->prompt);
    for (size_t i = 0; i < s->n_response; i++) free((char *)s->response[i].content);
    free(s->system);
    free(s->tools);
    memset(s, 0, sizeof *s);
}

static const cJSON *col(const cJSON *rec, const char *name) {
    return name ? cJSON_GetObjectItemCaseSensitive(rec, name) : NULL;
}

/* A system/tools column: a string, "" when absent/null; tools given as JSON are re-serialised. */
static char *text_column(const cJSON *rec, const char *name) {
    const cJSON *v = col(rec, name);
    if (cJSON_IsString(v)) return strdup(v->valuestring);
    if (v && (cJSON_IsArray(v) || cJSON_IsObject(v))) return cJSON_PrintUnformatted(v);
    return strdup("");
}

static whet_status push(whet_conv_sample *s, whet_role role, const char *text, whet_error *err) {
    whet_message *m = realloc(s->prompt, (s->n_prompt + 1) * sizeof *m);
    char *c = strdup(text);
    if (!m || !c) { free(c); if (m) s->prompt = m; return whet_errorf(err, WHET_ERR_NOMEM, "out of memory"); }
    s->prompt = m;
    s->prompt[s->n_prompt].role = role;
    s->prompt[s->n_prompt++].content = c;
    return WHET_OK;
}

static void make_broken(whet_conv_sample *s) {
    for (size_t i = 0; i < s->n_prompt; i++) free((char *)s->prompt[i].content);
    s->n_prompt = 0;
    for (size_t i = 0; i < s->n_response; i++) free((char *)s->response[i].content);
    s->n_response = 0;
}

/* The last prompt message becomes the response (sharegpt: prompt = msgs[:-1], response = msgs[-1:]). */
static void split_last(whet_conv_sample *s) {
    s->response[0] = s->prompt[--s->n_prompt];
    s->n_response = 1;
}

static whet_status convert_alpaca(const whet_dataset_attr *a, const cJSON *rec, whet_conv_sample *s, whet_error *err) {
    const cJSON *hist = col(rec, a->history);
    if (cJSON_IsArray(hist)) {
        for (const cJSON *pair = hist->child; pair; pair = pair->next) {
            const cJSON *q = cJSON_GetArrayItem(pair, 0), *r = cJSON_GetArrayItem(pair, 1);
            if (!cJSON_IsArray(pair) || !cJSON_IsString(q) || !cJSON_IsString(r)) { make_broken(s); return WHET_OK; }
            WHET_TRY(push(s, WHET_ROLE_USER, q->valuestring, err));
            WHET_TRY(push(s, WHET_ROLE_ASSISTANT, r->valuestring, err));
        }
    }
    const cJSON *ins = col(rec, a->prompt), *inp = col(rec, a->query), *out = col(rec, a->response);
    if ((ins && !cJSON_IsString(ins) && !cJSON_IsNull(ins)) || (inp && !cJSON_IsString(inp) && !cJSON_IsNull(inp))) {
        make_broken(s);
        return WHET_OK;
    }
    const char *i1 = cJSON_IsString(ins) ? ins->valuestring : "", *i2 = cJSON_IsString(inp) ? inp->valuestring : "";
    size_t n = strlen(i1) + strlen(i2) + 2;
    char *q = malloc(n);
    if (!q) return whet_errorf(err, WHET_ERR_NOMEM, "out of memory");
    snprintf(q, n, "%s%s%s", i1, (*i1 && *i2) ? "\n" : "", i2);
    whet_status st = push(s, WHET_ROLE_USER, q, err);
    free(q);
    WHET_TRY(st);
    if (cJSON_IsString(out)) {
        WHET_TRY(push(s, WHET_ROLE_ASSISTANT, out->valuestring, err));
        split_last(s);
    }
    return WHET_OK;
}

static whet_status convert_sharegpt(const whet_dataset_attr *a, const cJSON *rec, whet_conv_sample *s, whet_error *err) {
    const cJSON *msgs = col(rec, a->messages);
    if (!cJSON_IsArray(msgs)) return WHET_OK;   /* broken: no messages */
    const cJSON *m = msgs->child;
    const cJSON *r0 = m ? cJSON_GetObjectItemCaseSensitive(m, a->role_tag) : NULL;
    if (a->system_tag && cJSON_IsString(r0) && strcmp(r0->valuestring, a->system_tag) == 0) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, a->content_tag);
        free(s->system);
        s->system = strdup(cJSON_IsString(c) ? c->valuestring : "");
        if (!s->system) return whet_errorf(err, WHET_ERR_NOMEM, "out of memory");
        m = m->next;
    }
    for (size_t turn = 0; m; m = m->next, turn++) {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(m, a->role_tag);
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, a->content_tag);
        if (!cJSON_IsString(r) || !cJSON_IsString(c)) { make_broken(s); return WHET_OK; }
        const char *tag = r->valuestring;
        whet_role role;
        if (turn % 2 == 0 && strcmp(tag, a->user_tag) == 0) role = WHET_ROLE_USER;
        else if (turn % 2 == 0 && strcmp(tag, a->observation_tag) == 0) role = WHET_ROLE_OBSERVATION;
        else if (turn % 2 == 1 && strcmp(tag, a->assistant_tag) == 0) role = WHET_ROLE_ASSISTANT;
        else if (turn % 2 == 1 && strcmp(tag, a->function_tag) == 0) role = WHET_ROLE_FUNCTION;
        else { make_broken(s); return WHET_OK; }   /* invalid role tag / alternation */
        WHET_TRY(push(s, role, c->valuestring, err));
    }
    if (s->n_prompt % 2 != 0 || s->n_prompt == 0) { make_broken(s); return WHET_OK; }   /* invalid message count */
    split_last(s);
    return WHET_OK;
}

whet_status whet_dataset_convert(const whet_dataset_attr *a, const cJSON *rec, whet_conv_sample *out, whet_error *err) {
    memset(out, 0, sizeof *out);
    out->system = text_column(rec, a->system);
    out->tools = text_column(rec, a->tools);
    if (!out->system || !out->tools) { whet_conv_sample_free(out); return whet_errorf(err, WHET_ERR_NOMEM, "out of memory"); }
    whet_status s = a->formatting == WHET_FMT_ALPACA ? convert_alpaca(a, rec, out, err) : convert_sharegpt(a, rec, out, err);
    if (s != WHET_OK) whet_conv_sample_free(out);
    return s;
}

void whet_infer_seqlen(long long src, long long tgt, long long cutoff, long long *new_src, long long *new_tgt) {
    long long max_tgt;
    if (tgt * 2 < cutoff) max_tgt = cutoff;
    else if (src * 2 < cutoff) max_tgt = cutoff - src;
    else max_tgt = (long long)((double)cutoff * ((double)tgt / (double)(src + tgt)));
    *new_tgt = tgt < max_tgt ? tgt : max_tgt;
    long long max_src = cutoff - *new_tgt > 0 ? cutoff - *new_tgt : 0;
    *new_src = src < max_src ? src : max_src;
}
