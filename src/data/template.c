/* template.c: LLaMA-Factory's Template / Llama2Template / ReasoningTemplate
 * encoding (data/template.py): slots -> elements -> ids, each string element
 * encoded on its own; encode_multiturn for training and encode_oneturn's
 * prompt for inference; fix_special_tokens' eos and the stop ids. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/suggest.h"
#include "data/template_impl.h"

const whet_template *whet_template_find(const char *name) {
    for (size_t i = 0; name && i < whet_template_table_n; i++)
        if (strcmp(whet_template_table[i].name, name) == 0) return &whet_template_table[i];
    return NULL;
}

whet_status whet_template_lookup(const char *name, const whet_template **out, whet_error *err) {
    *out = whet_template_find(name);
    if (*out) return WHET_OK;
    if (!name)
        return whet_errorf(err, WHET_ERR_INVALID_ARG,
                           "no template: set `template:` to the chat template the model was trained with "
                           "(e.g. qwen, llama3, llama2, default, empty; docs/data.md lists all %zu)",
                           whet_template_table_n);
    const char **names = malloc(whet_template_table_n * sizeof *names);
    if (!names) return whet_errorf(err, WHET_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < whet_template_table_n; i++) names[i] = whet_template_table[i].name;
    const char *best = whet_suggest(name, names, whet_template_table_n);
    whet_status s = whet_errorf(err, WHET_ERR_NOT_FOUND, "template: unknown template '%s'%s%s%s (docs/data.md lists all %zu)",
                                name, best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "",
                                whet_template_table_n);
    free(names);
    return s;
}

whet_status whet_chat_format_init(whet_chat_format *f, const whet_template *t, const whet_tokenizer *tok,
                                  whet_error *err) {
    memset(f, 0, sizeof *f);
    f->tmpl = t;
    f->tok = tok;
    f->bos_id = whet_tokenizer_bos_id(tok);
    f->eos_id = whet_tokenizer_eos_id(tok);
    f->eos_text = whet_tokenizer_eos_token(tok);
    if (t->replace_eos && t->n_stop_words > 0) {
        int32_t id = whet_tokenizer_piece_to_id(tok, t->stop_words[0]);
        if (id < 0)
            return whet_errorf(err, WHET_ERR_INVALID_ARG,
                               "template %s: its eos token '%s' is not in the tokenizer's vocabulary (wrong template "
                               "for this model?)",
                               t->name, t->stop_words[0]);
        f->eos_id = id;
        f->eos_text = t->stop_words[0];
    }
    if (f->eos_id < 0) {   /* fix_special_tokens: eos := <|endoftext|> */
        f->eos_id = whet_tokenizer_piece_to_id(tok, "<|endoftext|>");
        f->eos_text = "<|endoftext|>";
    }
    if (f->eos_id < 0)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "template %s: the tokenizer has no eos token", t->name);
    f->default_system = t->default_system;
    f->tool_format = t->tool_format;
    f->enable_thinking = t->enable_thinking;
    return WHET_OK;
}

static bool is_reasoning(const whet_template *t) {
    return strcmp(t->cls, "ReasoningTemplate") == 0 || strcmp(t->cls, "Glm47ReasoningTemplate") == 0;
}

/* Element sink: pending string text, flushed (encoded alone) before a token id and at slot end. */
typedef struct {
    const whet_chat_format *f;
    whet_tokens *ids;
    whet_strbuf *text;   /* NULL: no rendering */
    whet_strbuf seg;
} sink;

static whet_status flush(sink *k, whet_error *err) {
    whet_status s = WHET_OK;
    if (k->seg.len) {
        s = whet_tokenizer_encode(k->f->tok, k->seg.data, k->seg.len, false, k->ids, err);
        if (k->text) whet_sb_append(k->text, k->seg.data, k->seg.len);
    }
    whet_sb_clear(&k->seg);
    return s;
}

static whet_status push_token(sink *k, int32_t id, const char *piece, whet_error *err) {
    WHET_TRY(flush(k, err));
    if (id < 0) return WHET_OK;   /* LLaMA-Factory skips a bos/eos the tokenizer lacks */
    if (k->text) whet_sb_puts(k->text, piece);
    return whet_tokens_push(k->ids, id, err);
}

/* Apply one formatter slot string with {{content}} (and {{idx}}). */
static whet_status emit_slot(sink *k, const char *slot, const char *content, size_t idx, whet_error *err) {
    for (const char *p = slot; *p;) {
        if (strncmp(p, "{{content}}", 11) == 0) { whet_sb_puts(&k->seg, content); p += 11; }
        else if (strncmp(p, "{{idx}}", 7) == 0) { whet_sb_printf(&k->seg, "%zu", idx); p += 7; }
        else if (strncmp(p, "{BOS_TOKEN}", 11) == 0) {
            WHET_TRY(push_token(k, k->f->bos_id, whet_tokenizer_bos_token(k->f->tok), err));
            p += 11;
        } else if (strncmp(p, "{EOS_TOKEN}", 11) == 0) {
            WHET_TRY(push_token(k, k->f->eos_id, k->f->eos_text, err));
            p += 11;
        } else if (strncmp(p, "{TOKEN:", 7) == 0 && strchr(p, '}')) {
            const char *end = strchr(p + 7, '}');
            char piece[128];
            snprintf(piece, sizeof piece, "%.*s", (int)(end - p - 7), p + 7);
            int32_t id = whet_tokenizer_piece_to_id(k->f->tok, piece);
            if (id < 0)
                return whet_errorf(err, WHET_ERR_INVALID_ARG, "template %s: token '%s' is not in the vocabulary",
                                   k->f->tmpl->name, piece);
            WHET_TRY(push_token(k, id, piece, err));
            p = end + 1;
        } else {
            whet_sb_putc(&k->seg, *p++);
        }
    }
    return flush(k, err);
}

/* Llama2Template: format_system(...)[0], the first slot element as text. */
static void first_string_element(const char *slot, const char *content, whet_strbuf *out) {
    for (const char *p = slot; *p;) {
        if (strncmp(p, "{{content}}", 11) == 0) { whet_sb_puts(out, content); p += 11; }
        else if (*p == '{' && (strncmp(p, "{BOS_TOKEN}", 11) == 0 || strncmp(p, "{EOS_TOKEN}", 11) == 0 ||
                               strncmp(p, "{TOKEN:", 7) == 0))
            break;
        else whet_sb_putc(out, *p++);
    }
}

/* Template._encode for message i (Llama2Template when merge_system). */
static whet_status encode_message(const whet_chat_format *f, const whet_message *msgs, size_t i, const char *system,
                                  const char *tool_text, whet_tokens *ids, whet_strbuf *text, whet_error *err) {
    const whet_template *t = f->tmpl;
    bool llama2 = strcmp(t->cls, "Llama2Template") == 0;
    sink k = {f, ids, text, {0}};
    whet_sb_init(&k.seg);
    whet_strbuf sys_merged;
    whet_sb_init(&sys_merged);
    whet_strbuf sys_content;
    whet_sb_init(&sys_content);
    whet_status s = WHET_OK;
    if (i == 0) {
        s = emit_slot(&k, t->prefix, "", 0, err);
        if (s == WHET_OK && ((system && *system) || (tool_text && *tool_text))) {
            whet_sb_puts(&sys_content, system ? system : "");
            whet_sb_puts(&sys_content, tool_text ? tool_text : "");
            if (llama2) first_string_element(t->system, sys_content.data, &sys_merged);
            else s = emit_slot(&k, t->system, sys_content.data, 0, err);
        }
    }
    const whet_message *m = &msgs[i];
    if (s == WHET_OK) {
        switch (m->role) {
        case WHET_ROLE_USER:
            if (llama2 && sys_merged.len) {
                whet_sb_puts(&sys_merged, m->content);
                s = emit_slot(&k, t->user, sys_merged.data, i / 2, err);
            } else {
                s = emit_slot(&k, t->user, m->content, i / 2, err);
            }
            break;
        case WHET_ROLE_ASSISTANT: s = emit_slot(&k, t->assistant, m->content, i / 2, err); break;
        case WHET_ROLE_OBSERVATION: s = emit_slot(&k, t->observation, m->content, i / 2, err); break;
        case WHET_ROLE_FUNCTION: {
            whet_strbuf fn;
            whet_sb_init(&fn);
            /* a leading thought is kept in front of the rendered call */
            const char *c = m->content, *t0 = t->thought_words[0], *t1 = t->thought_words[1];
            const char *a = strstr(c, t0), *b = a ? strstr(a + strlen(t0), t1) : NULL;
            whet_strbuf rest;
            whet_sb_init(&rest);
            if (a && b) {
                whet_sb_append(&fn, a, (size_t)(b + strlen(t1) - a));
                whet_sb_append(&rest, c, (size_t)(a - c));
                whet_sb_puts(&rest, b + strlen(t1));
            } else {
                whet_sb_puts(&rest, c);
            }
            s = whet_template_function_text(f->tool_format ? f->tool_format : t->function_format,
                                            rest.data ? rest.data : "", &fn, err);
            if (s == WHET_OK) s = emit_slot(&k, t->function, fn.data ? fn.data : "", i / 2, err);
            whet_sb_free(&fn);
            whet_sb_free(&rest);
            break;
        }
        case WHET_ROLE_SYSTEM:
            s = whet_errorf(err, WHET_ERR_FORMAT, "a system message must come first");
            break;
        }
    }
    whet_sb_free(&k.seg);
    whet_sb_free(&sys_merged);
    whet_sb_free(&sys_content);
    return s;
}

/* remove_thought: drop every thought_words[0]...thought_words[1] span, then lstrip("\n"). */
static char *remove_thought(const whet_template *t, const char *c) {
    whet_strbuf out;
    whet_sb_init(&out);
    const char *t0 = t->thought_words[0], *t1 = t->thought_words[1];
    for (const char *p = c;;) {
        const char *a = strstr(p, t0), *b = a ? strstr(a + strlen(t0), t1) : NULL;
        if (!b) { whet_sb_puts(&out, p); break; }
        whet_sb_append(&out, p, (size_t)(a - p));
        p = b + strlen(t1);
    }
    char *s = out.data ? whet_sb_take(&out) : strdup("");
    if (!s) return NULL;
    size_t lead = strspn(s, "\n");
    memmove(s, s + lead, strlen(s + lead) + 1);
    return s;
}

/* Does the response already hold a thought (either stripped tag)? */
static bool has_thought(const whet_template *t, const char *c) {
    char a[64], b[64];
    const char *t0 = t->thought_words[0], *t1 = t->thought_words[1];
    while (*t0 == ' ' || *t0 == '\n') t0++;
    while (*t1 == ' ' || *t1 == '\n') t1++;
    snprintf(a, sizeof a, "%s", t0);
    snprintf(b, sizeof b, "%s", t1);
    for (size_t n = strlen(a); n && (a[n - 1] == '\n' || a[n - 1] == ' '); n--) a[n - 1] = 0;
    for (size_t n = strlen(b); n && (b[n - 1] == '\n' || b[n - 1] == ' '); n--) b[n - 1] = 0;
    return strstr(c, a) || strstr(c, b);
}

static const char *empty_thought(const whet_template *t, char *buf, size_t cap) {
    if (strcmp(t->cls, "Glm47ReasoningTemplate") == 0) snprintf(buf, cap, "</think>");
    else snprintf(buf, cap, "%s%s", t->thought_words[0], t->thought_words[1]);
    return buf;
}

static whet_status encode_thought(const whet_chat_format *f, whet_tokens *ids, whet_strbuf *text, bool append,
                                  whet_error *err) {
    char buf[128];
    const char *th = empty_thought(f->tmpl, buf, sizeof buf);
    whet_tokens t = {0};
    whet_status s = whet_tokenizer_encode(f->tok, th, strlen(th), false, &t, err);
    if (s == WHET_OK && !append) {   /* prepend */
        for (size_t i = 0; i < ids->n && s == WHET_OK; i++) s = whet_tokens_push(&t, ids->ids[i], err);
        if (s == WHET_OK) { whet_tokens_free(ids); *ids = t; t = (whet_tokens){0}; }
        if (text) {
            whet_strbuf nt;
            whet_sb_init(&nt);
            whet_sb_puts(&nt, th);
            if (text->data) whet_sb_puts(&nt, text->data);
            whet_sb_free(text);
            *text = nt;
        }
    } else if (s == WHET_OK) {
        for (size_t i = 0; i < t.n && s == WHET_OK; i++) s = whet_tokens_push(ids, t.ids[i], err);
        if (text) whet_sb_puts(text, th);
    }
    whet_tokens_free(&t);
    return s;
}

void whet_turns_free(whet_turn *turns, size_t n) {
    for (size_t i = 0; turns && i < n; i++) {
        whet_tokens_free(&turns[i].prompt);
        whet_tokens_free(&turns[i].response);
        whet_sb_free(&turns[i].prompt_text);
        whet_sb_free(&turns[i].response_text);
    }
    free(turns);
}

static whet_status tool_text_for(const whet_chat_format *f, const char *tools, whet_strbuf *out, whet_error *err) {
    if (!tools || !*tools) return WHET_OK;
    return whet_template_tool_text(f->tool_format ? f->tool_format : f->tmpl->tool_format, tools, out, err);
}

/* encode_multiturn, or (last_only) the thought handling of ReasoningTemplate.encode_oneturn, which only
 * looks at the final pair. */
static whet_status encode_turns(const whet_chat_format *f, const whet_message *msgs, size_t n, const char *system,
                                const char *tools, bool want_text, bool last_only, whet_turn **turns, size_t *n_turns,
                                whet_error *err) {
    *turns = NULL;
    *n_turns = 0;
    if (n == 0 || n % 2)
        return whet_errorf(err, WHET_ERR_FORMAT, "a conversation needs (prompt, response) pairs, got %zu messages", n);
    const whet_template *t = f->tmpl;
    bool reasoning = is_reasoning(t);
    whet_turn *out = calloc(n / 2, sizeof *out);
    if (!out) return whet_errorf(err, WHET_ERR_NOMEM, "out of memory");
    if (!system || !*system) system = f->default_system;
    whet_strbuf tool_text;
    whet_sb_init(&tool_text);
    whet_status s = tool_text_for(f, tools, &tool_text, err);
    for (size_t i = 0; i < n && s == WHET_OK; i++) {
        whet_turn *tu = &out[i / 2];
        whet_tokens *ids = i % 2 ? &tu->response : &tu->prompt;
        whet_strbuf *text = want_text ? (i % 2 ? &tu->response_text : &tu->prompt_text) : NULL;
        char *stripped = NULL;
        whet_message m = msgs[i];
        if (reasoning && i % 2 && !f->enable_thinking) {   /* remove all CoT */
            stripped = remove_thought(t, m.content);
            if (!stripped) { s = whet_errorf(err, WHET_ERR_NOMEM, "out of memory"); break; }
            m.content = stripped;
        }
        const whet_message *base = msgs;
        whet_message *copy = NULL;
        if (stripped) {
            copy = malloc(n * sizeof *copy);
            if (!copy) { free(stripped); s = whet_errorf(err, WHET_ERR_NOMEM, "out of memory"); break; }
            memcpy(copy, msgs, n * sizeof *copy);
            copy[i] = m;
            base = copy;
        }
        s = encode_message(f, base, i, system, tool_text.data, ids, text, err);
        if (s == WHET_OK && reasoning && i % 2 && (!last_only || i + 1 == n) && !has_thought(t, m.content))
            s = f->enable_thinking ? encode_thought(f, &tu->response, text, false, err)
                                   : encode_thought(f, &tu->prompt, want_text ? &tu->prompt_text : NULL, true, err);
        free(copy);
        free(stripped);
    }
    whet_sb_free(&tool_text);
    if (s != WHET_OK) { whet_turns_free(out, n / 2); return s; }
    *turns = out;
    *n_turns = n / 2;
    return WHET_OK;
}

whet_status whet_template_encode_multiturn(const whet_chat_format *f, const whet_message *msgs, size_t n,
                                           const char *system, const char *tools, bool want_text,
                                           whet_turn **turns, size_t *n_turns, whet_error *err) {
    return encode_turns(f, msgs, n, system, tools, want_text, false, turns, n_turns, err);
}

static bool role_from(const char *r, whet_role *out) {
    static const struct { const char *name; whet_role role; } R[] = {
        {"user", WHET_ROLE_USER}, {"assistant", WHET_ROLE_ASSISTANT}, {"system", WHET_ROLE_SYSTEM},
        {"tool", WHET_ROLE_OBSERVATION}, {"observation", WHET_ROLE_OBSERVATION}, {"function", WHET_ROLE_FUNCTION}};
    for (size_t i = 0; i < sizeof R / sizeof R[0]; i++)
        if (strcmp(r, R[i].name) == 0) { *out = R[i].role; return true; }
    return false;
}

/* Walk OpenAI-style messages into (prompt, response) turns: a leading system
 * message overrides `system`, roles must alternate u/a/u/a..., history CoT is
 * removed for reasoning templates. When the last message is from the user an
 * empty assistant message is appended (the generation prompt); when
 * `allow_closed`, a conversation that ends with the assistant is kept whole. */
static whet_status messages_to_turns(const whet_chat_format *f, const cJSON *messages, const char *system,
                                     const char *tools, bool want_text, bool allow_closed, whet_turn **turns,
                                     size_t *nt, bool *open, whet_error *err) {
    int n = cJSON_GetArraySize(messages);
    if (!cJSON_IsArray(messages) || n == 0) return whet_errorf(err, WHET_ERR_INVALID_ARG, "messages: invalid length");
    whet_message *m = calloc((size_t)n + 1, sizeof *m);
    char **owned = calloc((size_t)n + 1, sizeof *owned);
    if (!m || !owned) { free(m); free(owned); return whet_errorf(err, WHET_ERR_NOMEM, "out of memory"); }
    size_t k = 0;
    whet_status s = WHET_OK;
    int idx = 0;
    for (const cJSON *it = messages->child; it && s == WHET_OK; it = it->next, idx++) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(it, "role");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(it, "content");
        whet_role r;
        if (!cJSON_IsString(role) || !role_from(role->valuestring, &r)) {
            s = whet_errorf(err, WHET_ERR_INVALID_ARG, "messages[%d]: invalid role", idx);
            break;
        }
        const char *c = cJSON_IsString(content) ? content->valuestring : "";
        if (r == WHET_ROLE_SYSTEM) {
            if (idx != 0) s = whet_errorf(err, WHET_ERR_INVALID_ARG, "messages[%d]: system must be the first message", idx);
            system = c;
            continue;
        }
        bool odd = k % 2;   /* 0: user|observation, 1: assistant|function */
        bool ok = odd ? (r == WHET_ROLE_ASSISTANT || r == WHET_ROLE_FUNCTION)
                      : (r == WHET_ROLE_USER || r == WHET_ROLE_OBSERVATION);
        if (!ok) { s = whet_errorf(err, WHET_ERR_INVALID_ARG, "messages[%d]: invalid role (only u/a/u/a/u...)", idx); break; }
        if (odd && is_reasoning(f->tmpl) && k + 1 < (size_t)n) {   /* history CoT is removed */
            owned[k] = remove_thought(f->tmpl, c);
            if (!owned[k]) { s = whet_errorf(err, WHET_ERR_NOMEM, "out of memory"); break; }
            c = owned[k];
        }
        m[k].role = r;
        m[k].content = c;
        k++;
    }
    *open = k % 2 == 1;
    if (s == WHET_OK && !*open && !allow_closed)
        s = whet_errorf(err, WHET_ERR_INVALID_ARG, "messages: the last message must be from the user (u/a/u/a/u...)");
    if (s == WHET_OK && k == 0) s = whet_errorf(err, WHET_ERR_INVALID_ARG, "messages: no user message");
    if (s == WHET_OK) {
        if (*open) m[k++] = (whet_message){WHET_ROLE_ASSISTANT, ""};
        s = encode_turns(f, m, k, system, tools, want_text, *open, turns, nt, err);
    }
    for (size_t i = 0; i <= (size_t)n; i++) free(owned[i]);
    free(owned);
    free(m);
    return s;
}

whet_status whet_template_encode_prompt(const whet_chat_format *f, const cJSON *messages, const char *system,
                                        const char *tools, whet_tokens *ids, whet_error *err) {
    whet_turn *turns;
    size_t nt;
    bool open;
    WHET_TRY(messages_to_turns(f, messages, system, tools, false, false, &turns, &nt, &open, err));
    whet_status s = WHET_OK;
    for (size_t i = 0; i < nt && s == WHET_OK; i++) {
        const whet_tokens *parts[2] = {&turns[i].prompt, &turns[i].response};
        for (int j = 0; j < (i + 1 < nt ? 2 : 1) && s == WHET_OK; j++)
            for (size_t q = 0; q < parts[j]->n && s == WHET_OK; q++) s = whet_tokens_push(ids, parts[j]->ids[q], err);
    }
    whet_turns_free(turns, nt);
    return s;
}

whet_status whet_template_render(const whet_chat_format *f, const cJSON *messages, const char *system,
                                 const char *tools, whet_strbuf *out, whet_error *err) {
    whet_turn *turns;
    size_t nt;
    bool open;
    WHET_TRY(messages_to_turns(f, messages, system, tools, true, true, &turns, &nt, &open, err));
    whet_status s = WHET_OK;
    for (size_t i = 0; i < nt && s == WHET_OK; i++) {
        const whet_strbuf *parts[2] = {&turns[i].prompt_text, &turns[i].response_text};
        for (int j = 0; j < (open && i + 1 == nt ? 1 : 2) && s == WHET_OK; j++)
            if (parts[j]->len) whet_sb_append(out, parts[j]->data, parts[j]->len);
    }
    whet_turns_free(turns, nt);
    return s;
}

static int cmp_id(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

whet_status whet_template_stop_ids(const whet_chat_format *f, whet_tokens *ids, whet_error *err) {
    whet_tokens t = {0};
    WHET_TRY(whet_tokens_push(&t, f->eos_id, err));
    for (int i = 0; i < f->tmpl->n_stop_words; i++) {
        int32_t id = whet_tokenizer_piece_to_id(f->tok, f->tmpl->stop_words[i]);
        if (id >= 0 && whet_tokens_push(&t, id, err) != WHET_OK) { whet_tokens_free(&t); return err->code; }
    }
    qsort(t.ids, t.n, sizeof *t.ids, cmp_id);
    whet_status s = WHET_OK;
    for (size_t i = 0; i < t.n && s == WHET_OK; i++)
        if (i == 0 || t.ids[i] != t.ids[i - 1]) s = whet_tokens_push(ids, t.ids[i], err);
    whet_tokens_free(&t);
    return s;
}

const char *const *whet_template_stop_words(const whet_template *t, size_t *n) {
    *n = (size_t)t->n_stop_words;
    return t->stop_words;
}
