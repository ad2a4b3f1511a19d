/* jinja.h: the subset of Jinja2 that Hugging Face chat templates use
 * (for/if/elif/else, set (incl. namespace), macros, filters such as trim,
 * tojson, length, items, upper/lower, string slicing, tests like defined,
 * `raise_exception`, loop.* variables, whitespace control {%- -%}), rendering
 * exactly like transformers' apply_chat_template. Values are cJSON trees. */
#ifndef WHET_TOKENIZER_JINJA_H
#define WHET_TOKENIZER_JINJA_H
#include <stdbool.h>
#include <cjson/cJSON.h>
#include "core/status.h"
#include "core/strbuf.h"

typedef struct whet_jinja whet_jinja;

/* Parse a template; syntax errors name line:column. `what` names the source in messages. */
whet_status whet_jinja_compile(const char *source, const char *what, whet_jinja **out, whet_error *err);
/* Render with `context` (an object: messages, add_generation_prompt, bos_token, tools, ...). */
whet_status whet_jinja_render(const whet_jinja *t, const cJSON *context, whet_strbuf *out, whet_error *err);
void whet_jinja_free(whet_jinja *t);

/* apply_chat_template: messages (array of {role, content, ...}), tools (array or NULL),
 * bos/eos token strings, and add_generation_prompt. */
whet_status whet_chat_template_apply(const char *template_src, const cJSON *messages, const cJSON *tools,
                                     const char *bos_token, const char *eos_token, bool add_generation_prompt,
                                     whet_strbuf *out, whet_error *err);
/* The same with extra template keyword arguments (a JSON object or NULL), as
 * apply_chat_template(..., **kwargs) passes them: date_string, enable_thinking,
 * pad_token, ... They override the standard names. */
whet_status whet_chat_template_apply_ext(const char *template_src, const cJSON *messages, const cJSON *tools,
                                         const char *bos_token, const char *eos_token, bool add_generation_prompt,
                                         const cJSON *extra, whet_strbuf *out, whet_error *err);
#endif
