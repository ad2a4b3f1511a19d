/* template.h: LLaMA-Factory chat templates (data/template.py, formatter.py,
 * tool_utils.py; shared/reference/llamafactory.md §4) by name, and their
 * encoding into token ids exactly as LLaMA-Factory does it: every slot
 * element is tokenized on its own (add_special_tokens=False) and the ids are
 * concatenated; {BOS_TOKEN}/{EOS_TOKEN}/{TOKEN:x} are inserted as ids.
 * Used by the SFT dataset (sft_dataset.h) and by chat/serve for prompts. */
#ifndef WHET_DATA_TEMPLATE_H
#define WHET_DATA_TEMPLATE_H
#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>
#include "core/status.h"
#include "core/strbuf.h"
#include "tokenizer/tokenizer.h"

/* One registered template; slot strings in LLaMA-Factory's notation. */
typedef struct {
    const char *name;
    const char *cls;            /* Template | Llama2Template | ReasoningTemplate | ... */
    const char *prefix, *system, *user, *assistant, *observation, *function;
    const char *function_format; /* tool_format of the function slot */
    const char *tool_format;     /* format_tools */
    const char *default_system;
    const char *stop_words[4];
    int n_stop_words;
    const char *thought_words[2];
    bool efficient_eos, replace_eos, replace_jinja_template, enable_thinking;
    const char *mm_plugin;
} whet_template;

extern const whet_template whet_template_table[];   /* template_table.c, generated */
extern const size_t whet_template_table_n;

/* NULL when unknown. */
const whet_template *whet_template_find(const char *name);
/* Same, with an error naming the template and a did-you-mean. */
whet_status whet_template_lookup(const char *name, const whet_template **out, whet_error *err);

typedef enum { WHET_ROLE_USER, WHET_ROLE_ASSISTANT, WHET_ROLE_SYSTEM, WHET_ROLE_FUNCTION, WHET_ROLE_OBSERVATION } whet_role;
typedef struct {
    whet_role role;
    const char *content;
} whet_message;

/* A template bound to a tokenizer, with LLaMA-Factory's fix_special_tokens
 * applied: eos = stop_words[0] when replace_eos; stop ids = {eos} ∪ stop words. */
typedef struct {
    const whet_template *tmpl;
    const whet_tokenizer *tok;
    int32_t bos_id, eos_id;      /* -1 when the tokenizer has none */
    const char *eos_text;
    const char *default_system;  /* the template's, or data_args.default_system */
    const char *tool_format;     /* the template's, or data_args.tool_format */
    bool enable_thinking;        /* ReasoningTemplate: see llamafactory.md §2.3 */
} whet_chat_format;

whet_status whet_chat_format_init(whet_chat_format *f, const whet_template *t, const whet_tokenizer *tok,
                                  whet_error *err);

/* One (prompt, response) pair of encode_multiturn; text is the rendered
 * string (bos/eos as their token text) when asked for. */
typedef struct {
    whet_tokens prompt, response;
    whet_strbuf prompt_text, response_text;
} whet_turn;

/* encode_multiturn: `msgs` alternate user|observation, assistant|function
 * (n even); `system` may be NULL/"" (-> default system); `tools` is a JSON
 * string of tool schemas or NULL. *turns gets n/2 pairs; free with whet_turns_free. */
whet_status whet_template_encode_multiturn(const whet_chat_format *f, const whet_message *msgs, size_t n,
                                           const char *system, const char *tools, bool want_text,
                                           whet_turn **turns, size_t *n_turns, whet_error *err);
void whet_turns_free(whet_turn *turns, size_t n);

/* Inference prompt (LLaMA-Factory's chat/API: messages + an empty assistant
 * message -> encode_oneturn -> prompt ids). `messages` is an OpenAI-style
 * array of {"role": user|assistant|system|tool|function|observation,
 * "content": str}; a leading system message overrides `system`. Appends to `ids`. */
whet_status whet_template_encode_prompt(const whet_chat_format *f, const cJSON *messages, const char *system,
                                        const char *tools, whet_tokens *ids, whet_error *err);
/* The same prompt as text (bos/eos written as their token text), for
 * `whet template`. A conversation that ends with an assistant message is
 * rendered whole, as encode_multiturn lays it out for training. */
whet_status whet_template_render(const whet_chat_format *f, const cJSON *messages, const char *system,
                                 const char *tools, whet_strbuf *out, whet_error *err);
/* The ids generation stops on: {eos} ∪ stop words, ascending, no duplicates. */
whet_status whet_template_stop_ids(const whet_chat_format *f, whet_tokens *ids, whet_error *err);
/* The stop words as strings (the template's stop_words; NULL-terminated, static). */
const char *const *whet_template_stop_words(const whet_template *t, size_t *n);

/* LLaMA-Factory's Template.get_ollama_modelfile (llamafactory.md §7.1): the
 * Ollama Modelfile for this template and tokenizer, byte for byte. A
 * template with {TOKEN:x} slots is an error (LLaMA-Factory: "Dict is not supported"). */
whet_status whet_template_ollama_modelfile(const whet_chat_format *f, whet_strbuf *out, whet_error *err);

/* Python's json.dumps(v, ensure_ascii=False) with the default separators. */
void whet_py_json_dumps(const cJSON *v, whet_strbuf *out);
#endif
