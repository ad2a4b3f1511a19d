/* jinja_render.c: the public Jinja API (jinja.h): compile a template once,
 * render it with a cJSON context, and apply_chat_template the way
 * transformers calls it: render(messages=..., tools=... or None,
 * documents=None, add_generation_prompt=..., bos_token=..., eos_token=...,
 * **extra kwargs) in a sandbox with trim_blocks and lstrip_blocks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer/jinja.h"
#include "tokenizer/jinja_impl.h"

struct whet_jinja {
    jarena arena;
    jnode_list body;
    char what[128];
};

whet_status whet_jinja_compile(const char *source, const char *what, whet_jinja **out, whet_error *err) {
    *out = NULL;
    if (!source) return whet_errorf(err, WHET_ERR_INVALID_ARG, "%s: no template source", what ? what : "template");
    whet_jinja *t = calloc(1, sizeof *t);
    if (!t) return whet_errorf(err, WHET_ERR_NOMEM, "out of memory compiling a template");
    snprintf(t->what, sizeof t->what, "%s", what ? what : "template");
    jtokens toks;
    whet_status st = jinja_lex(source, strlen(source), t->what, &t->arena, &toks, err);
    if (st == WHET_OK) st = jinja_parse(&toks, t->what, &t->arena, &t->body, err);
    if (st != WHET_OK) {
        whet_jinja_free(t);
        return st;
    }
    *out = t;
    return WHET_OK;
}

void whet_jinja_free(whet_jinja *t) {
    if (!t) return;
    ja_free_all(&t->arena);
    free(t);
}

whet_status whet_jinja_render(const whet_jinja *t, const cJSON *context, whet_strbuf *out, whet_error *err) {
    jarena arena = {0};
    jrender r = {.a = &arena, .err = err, .what = t->what, .out = out};
    whet_status st = WHET_OK;
    jscope *globals = jscope_new(&arena, NULL);
    if (!globals) st = whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", t->what);
    if (st == WHET_OK && context && !cJSON_IsObject(context))
        st = whet_errorf(err, WHET_ERR_INVALID_ARG, "%s: the render context must be a JSON object", t->what);
    for (const cJSON *c = context ? context->child : NULL; st == WHET_OK && c; c = c->next) {
        jv v, name = jv_str_copy(&arena, c->string, strlen(c->string));
        if (name.kind != JV_STR || !jv_from_cjson(&arena, c, &v) || !jscope_set(&arena, globals, name.u.s, v))
            st = whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", t->what);
    }
    size_t start = out->len;
    if (st == WHET_OK) {
        int ctl = 0;
        st = jinja_exec_body(&r, globals, &t->body, &ctl);
    }
    if (st == WHET_OK && out->oom) st = whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", t->what);
    if (st != WHET_OK) { /* nothing half-rendered is left behind */
        out->len = start;
        if (out->data) out->data[start] = 0;
    }
    ja_free_all(&arena);
    return st;
}

whet_status whet_chat_template_apply_ext(const char *template_src, const cJSON *messages, const cJSON *tools,
                                         const char *bos_token, const char *eos_token, bool add_generation_prompt,
                                         const cJSON *extra, whet_strbuf *out, whet_error *err) {
    if (!template_src)
        return whet_errorf(err, WHET_ERR_NOT_FOUND, "the model has no chat template (no chat_template in tokenizer_config.json "
                                                    "and no chat_template.jinja); pass --template NAME");
    if (!cJSON_IsArray(messages))
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "chat template: messages must be a JSON array of {role, content}");
    if (extra && !cJSON_IsObject(extra))
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "chat template: extra template arguments must be a JSON object");
    cJSON *ctx = cJSON_CreateObject();
    if (!ctx) return whet_errorf(err, WHET_ERR_NOMEM, "out of memory");
    bool ok = cJSON_AddItemToObject(ctx, "messages", cJSON_Duplicate(messages, 1)) &&
              cJSON_AddItemToObject(ctx, "tools", tools ? cJSON_Duplicate(tools, 1) : cJSON_CreateNull()) &&
              cJSON_AddItemToObject(ctx, "documents", cJSON_CreateNull()) &&
              cJSON_AddItemToObject(ctx, "add_generation_prompt", cJSON_CreateBool(add_generation_prompt)) &&
              cJSON_AddItemToObject(ctx, "bos_token", cJSON_CreateString(bos_token ? bos_token : "")) &&
              cJSON_AddItemToObject(ctx, "eos_token", cJSON_CreateString(eos_token ? eos_token : ""));
    for (const cJSON *c = extra ? extra->child : NULL; ok && c; c = c->next) {
        cJSON *dup = cJSON_Duplicate(c, 1);
        ok = dup && (cJSON_GetObjectItemCaseSensitive(ctx, c->string) ? cJSON_ReplaceItemInObjectCaseSensitive(ctx, c->string, dup)
                                                                     : cJSON_AddItemToObject(ctx, c->string, dup));
    }
    if (!ok) {
        cJSON_Delete(ctx);
        return whet_errorf(err, WHET_ERR_NOMEM, "out of memory");
    }
    whet_jinja *t = NULL;
    whet_status st = whet_jinja_compile(template_src, "chat_template", &t, err);
    if (st == WHET_OK) st = whet_jinja_render(t, ctx, out, err);
    whet_jinja_free(t);
    cJSON_Delete(ctx);
    return st;
}

whet_status whet_chat_template_apply(const char *template_src, const cJSON *messages, const cJSON *tools,
                                     const char *bos_token, const char *eos_token, bool add_generation_prompt,
                                     whet_strbuf *out, whet_error *err) {
    return whet_chat_template_apply_ext(template_src, messages, tools, bos_token, eos_token, add_generation_prompt,
                                        NULL, out, err);
}
