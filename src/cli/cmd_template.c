/* cmd_template.c: `whet template`: print exactly the prompt text a model is
 * fed for a conversation (no added newline), so a template mismatch is seen
 * before it ruins a fine-tune. By default the model's own Jinja chat
 * template (as transformers' apply_chat_template(tokenize=False) renders
 * it); with --template NAME, LLaMA-Factory's named template (as its
 * encode_oneturn / encode_multiturn lay the pieces out). */
#include <stdio.h>
#include <string.h>
#include "cli/cli_flags.h"
#include "cli/command.h"
#include "core/json.h"
#include "core/strbuf.h"
#include "data/template.h"
#include "tokenizer/jinja.h"
#include "tokenizer/tokenizer.h"

static void usage(void) {
    printf("usage: whet template --model_name_or_path DIR --messages FILE.json [--template NAME] [--tools FILE.json]\n"
           "                     [--add_generation_prompt] [--enable_thinking true|false]\n"
           "  Print the rendered prompt exactly, with no added newline.\n"
           "  --messages FILE.json     an array of {\"role\", \"content\"} messages (or an object with \"messages\"\n"
           "                           and optionally \"tools\", as an OpenAI request body has them)\n"
           "  --template NAME          a LLaMA-Factory template (qwen, llama3, ...) instead of the model's Jinja\n"
           "                           template; an open conversation (last message from the user) ends with the\n"
           "                           assistant prefix, a closed one is rendered whole as training encodes it\n"
           "  --tools FILE.json        an array of tool (function) schemas\n"
           "  --add_generation_prompt  Jinja path: append the assistant header (default false, as transformers)\n"
           "  --enable_thinking B      Jinja path: passed to the template (Qwen3's reasoning switch)\n");
}

typedef struct {
    const char *model_dir, *template_name, *messages_path, *tools_path;
    bool add_generation_prompt, enable_thinking, set_thinking;
} template_args;

/* messages (and tools) from the files; *owned_* are what to free. */
static whet_status read_inputs(const template_args *a, cJSON **doc, const cJSON **messages, cJSON **tools_doc,
                               const cJSON **tools, whet_error *err) {
    WHET_TRY(whet_json_parse_file(a->messages_path, doc, err));
    *messages = *doc;
    if (cJSON_IsObject(*doc)) {
        *messages = cJSON_GetObjectItemCaseSensitive(*doc, "messages");
        *tools = cJSON_GetObjectItemCaseSensitive(*doc, "tools");
    }
    if (!cJSON_IsArray(*messages) || cJSON_GetArraySize(*messages) == 0)
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: expected a non-empty array of {\"role\", \"content\"} messages "
                           "(or an object with a \"messages\" array)", a->messages_path);
    int i = 0;
    for (const cJSON *m = (*messages)->child; m; m = m->next, i++)
        if (!cJSON_IsObject(m) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(m, "role")))
            return whet_errorf(err, WHET_ERR_FORMAT, "%s: messages[%d] needs a string \"role\"", a->messages_path, i);
    if (a->tools_path) {
        WHET_TRY(whet_json_parse_file(a->tools_path, tools_doc, err));
        *tools = *tools_doc;
    }
    if (*tools && !cJSON_IsArray(*tools))
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: tools must be an array of tool schemas",
                           a->tools_path ? a->tools_path : a->messages_path);
    return WHET_OK;
}

static whet_status render_named(const template_args *a, const whet_tokenizer *tok, const cJSON *messages,
                                const cJSON *tools, whet_strbuf *out, whet_error *err) {
    const whet_template *t;
    WHET_TRY(whet_template_lookup(a->template_name, &t, err));
    whet_chat_format f;
    WHET_TRY(whet_chat_format_init(&f, t, tok, err));
    if (a->set_thinking) f.enable_thinking = a->enable_thinking;
    char *tools_json = tools && cJSON_GetArraySize(tools) ? cJSON_PrintUnformatted(tools) : NULL;
    whet_status s = whet_template_render(&f, messages, NULL, tools_json, out, err);
    cJSON_free(tools_json);
    return s;
}

static whet_status render_jinja(const template_args *a, const whet_tokenizer *tok, const cJSON *messages,
                                const cJSON *tools, whet_strbuf *out, whet_error *err) {
    const char *src = whet_tokenizer_chat_template(tok);
    if (!src)
        return whet_errorf(err, WHET_ERR_NOT_FOUND, "%s has no chat template (no chat_template in tokenizer_config.json, "
                           "no chat_template.jinja); name a LLaMA-Factory one with --template NAME", a->model_dir);
    cJSON *extra = cJSON_CreateObject();
    if (!extra) return whet_errorf(err, WHET_ERR_NOMEM, "out of memory");
    if (a->set_thinking) cJSON_AddBoolToObject(extra, "enable_thinking", a->enable_thinking);
    whet_status s = whet_chat_template_apply_ext(src, messages, tools, whet_tokenizer_bos_token(tok),
                                                 whet_tokenizer_eos_token(tok), a->add_generation_prompt, extra, out, err);
    cJSON_Delete(extra);
    return s;
}

static int run_template(int argc, char **argv) {
    if (whet_cli_wants_help(argc, argv)) return usage(), 0;
    template_args a = {0};
    const whet_flag flags[] = {
        {"model_name_or_path", WHET_FLAG_STR, &a.model_dir, NULL},
        {"template", WHET_FLAG_STR, &a.template_name, NULL},
        {"messages", WHET_FLAG_STR, &a.messages_path, NULL},
        {"tools", WHET_FLAG_STR, &a.tools_path, NULL},
        {"add_generation_prompt", WHET_FLAG_BOOL, &a.add_generation_prompt, NULL},
        {"enable_thinking", WHET_FLAG_BOOL, &a.enable_thinking, &a.set_thinking},
    };
    if (whet_cli_parse_flags("template", argc, argv, flags, sizeof flags / sizeof flags[0])) return 2;
    if (!a.model_dir) return whet_cli_fail("template", "--model_name_or_path is required (a model or tokenizer folder)");
    if (!a.messages_path) return whet_cli_fail("template", "--messages FILE.json is required");
    whet_error err = {0};
    whet_tokenizer *tok = NULL;
    cJSON *doc = NULL, *tools_doc = NULL;
    const cJSON *messages = NULL, *tools = NULL;
    whet_strbuf out;
    whet_sb_init(&out);
    whet_status s = whet_tokenizer_load_dir(a.model_dir, &tok, &err);
    if (s == WHET_OK) s = read_inputs(&a, &doc, &messages, &tools_doc, &tools, &err);
    if (s == WHET_OK)
        s = a.template_name ? render_named(&a, tok, messages, tools, &out, &err)
                            : render_jinja(&a, tok, messages, tools, &out, &err);
    if (s == WHET_OK && out.oom) s = whet_errorf(&err, WHET_ERR_NOMEM, "out of memory");
    int rc = 0;
    if (s == WHET_OK) fwrite(out.data ? out.data : "", 1, out.len, stdout);
    else rc = whet_cli_fail("template", err.msg);
    whet_sb_free(&out);
    cJSON_Delete(doc);
    cJSON_Delete(tools_doc);
    whet_tokenizer_free(tok);
    return rc;
}

const whet_command whet_cmd_template = {"template", "print the exact prompt a conversation renders to (Jinja or --template)",
                                        run_template};
