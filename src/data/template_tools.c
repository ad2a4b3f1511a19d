/* template_tools.c: LLaMA-Factory's tool formats (data/tool_utils.py) for the
 * `default`, `qwen`, `llama3` and `mistral` tool_format: the tool list appended to the system
 * prompt and the rendering of an assistant's function call, plus Python's
 * json.dumps(ensure_ascii=False) that both rely on. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "data/template_impl.h"

static void dump_string(const char *s, whet_strbuf *out) {
    whet_sb_putc(out, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': whet_sb_puts(out, "\\\""); break;
        case '\\': whet_sb_puts(out, "\\\\"); break;
        case '\n': whet_sb_puts(out, "\\n"); break;
        case '\r': whet_sb_puts(out, "\\r"); break;
        case '\t': whet_sb_puts(out, "\\t"); break;
        case '\b': whet_sb_puts(out, "\\b"); break;
        case '\f': whet_sb_puts(out, "\\f"); break;
        default:
            if (*p < 0x20 || *p == 0x7f) whet_sb_printf(out, "\\u%04x", *p);
            else whet_sb_putc(out, (char)*p);
        }
    }
    whet_sb_putc(out, '"');
}

/* Python's float repr: the shortest text that reads back the same double.
 * cJSON keeps no int/float distinction: integral values print as ints. */
static void dump_number(double d, whet_strbuf *out) {
    if (d == floor(d) && fabs(d) < 1e16) { whet_sb_printf(out, "%lld", (long long)d); return; }
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) break;
    }
    whet_sb_puts(out, buf);
}

static void newline_indent(whet_strbuf *out, int indent, int level) {
    whet_sb_putc(out, '\n');
    for (int i = 0; i < indent * level; i++) whet_sb_putc(out, ' ');
}

/* json.dumps(v, indent=indent, ensure_ascii=False): indent > 0 puts every item on its own line
 * (item separator ",", key separator ": "), as Python does. */
static void dumps_indent(const cJSON *v, int indent, int level, whet_strbuf *out) {
    bool arr = cJSON_IsArray(v);
    if ((!arr && !cJSON_IsObject(v)) || !v->child) { whet_py_json_dumps(v, out); return; }
    whet_sb_putc(out, arr ? '[' : '{');
    for (const cJSON *it = v->child; it; it = it->next) {
        newline_indent(out, indent, level + 1);
        if (!arr) {
            cJSON key = {0};
            key.type = cJSON_String;
            key.valuestring = it->string;
            whet_py_json_dumps(&key, out);
            whet_sb_puts(out, ": ");
        }
        dumps_indent(it, indent, level + 1, out);
        if (it->next) whet_sb_putc(out, ',');
    }
    newline_indent(out, indent, level);
    whet_sb_putc(out, arr ? ']' : '}');
}

void whet_py_json_dumps(const cJSON *v, whet_strbuf *out) {
    if (!v || cJSON_IsNull(v)) whet_sb_puts(out, "null");
    else if (cJSON_IsTrue(v)) whet_sb_puts(out, "true");
    else if (cJSON_IsFalse(v)) whet_sb_puts(out, "false");
    else if (cJSON_IsNumber(v)) dump_number(v->valuedouble, out);
    else if (cJSON_IsString(v)) dump_string(v->valuestring, out);
    else if (cJSON_IsArray(v)) {
        whet_sb_putc(out, '[');
        for (const cJSON *it = v->child; it; it = it->next) {
            whet_py_json_dumps(it, out);
            if (it->next) whet_sb_puts(out, ", ");
        }
        whet_sb_putc(out, ']');
    } else if (cJSON_IsObject(v)) {
        whet_sb_putc(out, '{');
        for (const cJSON *it = v->child; it; it = it->next) {
            dump_string(it->string, out);
            whet_sb_puts(out, ": ");
            whet_py_json_dumps(it, out);
            if (it->next) whet_sb_puts(out, ", ");
        }
        whet_sb_putc(out, '}');
    }
}

static const char *str_or(const cJSON *o, const char *key, const char *def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : def;
}

/* DefaultToolUtils.tool_formatter */
static void default_tools(const cJSON *tools, whet_strbuf *out) {
    whet_strbuf text, names;
    whet_sb_init(&text);
    whet_sb_init(&names);
    for (const cJSON *t = tools->child; t; t = t->next) {
        const cJSON *tool = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(t, "type")) &&
                                    strcmp(str_or(t, "type", ""), "function") == 0
                                ? cJSON_GetObjectItemCaseSensitive(t, "function")
                                : t;
        const char *name = str_or(tool, "name", "");
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(tool, "parameters");
        const cJSON *req = cJSON_GetObjectItemCaseSensitive(params, "required");
        const cJSON *props = cJSON_GetObjectItemCaseSensitive(params, "properties");
        whet_strbuf p;
        whet_sb_init(&p);
        for (const cJSON *pr = props ? props->child : NULL; pr; pr = pr->next) {
            bool required = false;
            for (const cJSON *r = req ? req->child : NULL; r; r = r->next)
                if (cJSON_IsString(r) && strcmp(r->valuestring, pr->string) == 0) required = true;
            whet_sb_printf(&p, "  - %s (%s%s): %s", pr->string, str_or(pr, "type", ""), required ? ", required" : "",
                           str_or(pr, "description", ""));
            const cJSON *en = cJSON_GetObjectItemCaseSensitive(pr, "enum");
            if (cJSON_IsArray(en)) {
                whet_sb_puts(&p, ", should be one of [");
                for (const cJSON *e = en->child; e; e = e->next) {
                    if (cJSON_IsString(e)) whet_sb_puts(&p, e->valuestring);
                    else whet_py_json_dumps(e, &p);
                    if (e->next) whet_sb_puts(&p, ", ");
                }
                whet_sb_putc(&p, ']');
            }
            const cJSON *items = cJSON_GetObjectItemCaseSensitive(pr, "items");
            if (items) whet_sb_printf(&p, ", where each item should be %s", str_or(items, "type", ""));
            whet_sb_putc(&p, '\n');
        }
        whet_sb_printf(&text, "> Tool Name: %s\nTool Description: %s\nTool Args:\n%s\n", name,
                       str_or(tool, "description", ""), p.data ? p.data : "");
        whet_sb_free(&p);
        if (names.len) whet_sb_puts(&names, ", ");
        whet_sb_puts(&names, name);
    }
    whet_sb_puts(out, "You have access to the following tools:\n");
    if (text.data) whet_sb_puts(out, text.data);
    whet_sb_puts(out, "Use the following format if using a tool:\n```\nAction: tool name (one of [");
    if (names.data) whet_sb_puts(out, names.data);
    whet_sb_puts(out, "])\nAction Input: the input to the tool, in a JSON format representing the kwargs "
                      "(e.g. ```{\"input\": \"hello world\", \"num_beams\": 5}```)\n```\n");
    whet_sb_free(&text);
    whet_sb_free(&names);
}

/* {"type": "function", "function": tool} unless the tool is already wrapped. */
static void dump_wrapped(const cJSON *t, int indent, whet_strbuf *out) {
    if (strcmp(str_or(t, "type", ""), "function") == 0) { indent ? dumps_indent(t, indent, 0, out) : whet_py_json_dumps(t, out); return; }
    cJSON *w = cJSON_CreateObject();
    cJSON_AddStringToObject(w, "type", "function");
    cJSON_AddItemReferenceToObject(w, "function", (cJSON *)t);
    if (indent) dumps_indent(w, indent, 0, out);
    else whet_py_json_dumps(w, out);
    cJSON_Delete(w);
}

/* Llama3ToolUtils.tool_formatter; the date is today's ("%d %b %Y"), or $WHET_TOOL_DATE. */
static void llama3_tools(const cJSON *tools, whet_strbuf *out) {
    char date[64];
    const char *fixed = getenv("WHET_TOOL_DATE");
    if (fixed) snprintf(date, sizeof date, "%s", fixed);
    else {
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(date, sizeof date, "%d %b %Y", &tm);
    }
    whet_sb_printf(out, "Cutting Knowledge Date: December 2023\nToday Date: %s\n\nYou have access to the following "
                        "functions. To call a function, please respond with JSON for a function call. Respond in the "
                        "format {\"name\": function name, \"parameters\": dictionary of argument name and its value}. "
                        "Do not use variables.\n\n", date);
    for (const cJSON *t = tools->child; t; t = t->next) {
        dump_wrapped(t, 4, out);
        whet_sb_puts(out, "\n\n");
    }
}

/* MistralToolUtils.tool_formatter */
static void mistral_tools(const cJSON *tools, whet_strbuf *out) {
    whet_sb_puts(out, "[AVAILABLE_TOOLS] [");
    for (const cJSON *t = tools->child; t; t = t->next) {
        dump_wrapped(t, 0, out);
        if (t->next) whet_sb_puts(out, ", ");
    }
    whet_sb_puts(out, "][/AVAILABLE_TOOLS]");
}

/* QwenToolUtils.tool_formatter */
static void qwen_tools(const cJSON *tools, whet_strbuf *out) {
    whet_sb_puts(out, "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
                      "You are provided with function signatures within <tools></tools> XML tags:\n<tools>");
    for (const cJSON *t = tools->child; t; t = t->next) {
        whet_sb_putc(out, '\n');
        dump_wrapped(t, 0, out);
    }
    whet_sb_puts(out, "\n</tools>\n\nFor each function call, return a json object with function name and arguments "
                      "within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, "
                      "\"arguments\": <args-json-object>}\n</tool_call>");
}

whet_status whet_template_tool_text(const char *format, const char *tools_json, whet_strbuf *out, whet_error *err) {
    cJSON *tools = cJSON_Parse(tools_json);
    if (!tools || !(cJSON_IsArray(tools) || cJSON_IsObject(tools))) {
        cJSON_Delete(tools);
        return whet_errorf(err, WHET_ERR_FORMAT, "invalid JSON in the tools column: %.80s", tools_json);
    }
    if (cJSON_GetArraySize(tools) == 0) { cJSON_Delete(tools); return WHET_OK; }
    if (cJSON_IsObject(tools)) {   /* one tool given on its own */
        cJSON *arr = cJSON_CreateArray();
        cJSON_AddItemToArray(arr, tools);
        tools = arr;
    }
    whet_status s = WHET_OK;
    if (strcmp(format, "default") == 0) default_tools(tools, out);
    else if (strcmp(format, "qwen") == 0) qwen_tools(tools, out);
    else if (strcmp(format, "llama3") == 0) llama3_tools(tools, out);
    else if (strcmp(format, "mistral") == 0) mistral_tools(tools, out);
    else s = whet_errorf(err, WHET_ERR_UNSUPPORTED, "tool_format '%s' is not supported yet (whet: default, qwen, llama3, mistral)", format);
    cJSON_Delete(tools);
    return s;
}

whet_status whet_template_function_text(const char *format, const char *content, whet_strbuf *out, whet_error *err) {
    cJSON *calls = cJSON_Parse(content);
    if (!calls) return whet_errorf(err, WHET_ERR_FORMAT, "invalid JSON in a function message: %.80s", content);
    if (!cJSON_IsArray(calls)) {
        cJSON *arr = cJSON_CreateArray();
        cJSON_AddItemToArray(arr, calls);
        calls = arr;
    }
    bool qwen = strcmp(format, "qwen") == 0, dflt = strcmp(format, "default") == 0;
    bool llama3 = strcmp(format, "llama3") == 0, mistral = strcmp(format, "mistral") == 0;
    whet_status s = WHET_OK;
    if (!qwen && !dflt && !llama3 && !mistral)
        s = whet_errorf(err, WHET_ERR_UNSUPPORTED, "tool_format '%s' is not supported yet (whet: default, qwen, llama3, mistral)", format);
    cJSON *objs = cJSON_CreateArray();   /* llama3 / mistral: re-keyed call objects */
    for (const cJSON *c = calls->child; c && s == WHET_OK; c = c->next) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(c, "arguments");
        if (!cJSON_IsString(name) || !args) {
            s = whet_errorf(err, WHET_ERR_FORMAT, "a function call needs \"name\" and \"arguments\": %.80s", content);
            break;
        }
        if (llama3 || mistral) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", name->valuestring);
            cJSON_AddItemToObject(o, llama3 ? "parameters" : "arguments", cJSON_Duplicate(args, true));
            cJSON_AddItemToArray(objs, o);
            continue;
        }
        if (c != calls->child) whet_sb_putc(out, '\n');
        if (qwen) {
            whet_sb_puts(out, "<tool_call>\n{\"name\": ");
            whet_py_json_dumps(name, out);
            whet_sb_puts(out, ", \"arguments\": ");
            whet_py_json_dumps(args, out);
            whet_sb_puts(out, "}\n</tool_call>");
        } else {
            whet_sb_printf(out, "Action: %s\nAction Input: ", name->valuestring);
            whet_py_json_dumps(args, out);
        }
    }
    if (s == WHET_OK && llama3) whet_py_json_dumps(cJSON_GetArraySize(objs) == 1 ? objs->child : objs, out);
    if (s == WHET_OK && mistral) whet_py_json_dumps(objs, out);
    cJSON_Delete(objs);
    cJSON_Delete(calls);
    return s;
}

/* _convert_slots_to_ollama: {{content}} -> "{{ placeholder }}", bos/eos as their text. */
static whet_status slots_to_ollama(const whet_chat_format *f, const char *slot, const char *placeholder,
                                   whet_strbuf *out, whet_error *err) {
    for (const char *p = slot; *p;) {
        if (strncmp(p, "{{content}}", 11) == 0) {
            whet_sb_printf(out, "{{ %s }}", placeholder);
            p += 11;
        } else if (strncmp(p, "{BOS_TOKEN}", 11) == 0) {
            if (f->bos_id >= 0) whet_sb_puts(out, whet_tokenizer_bos_token(f->tok));
            p += 11;
        } else if (strncmp(p, "{EOS_TOKEN}", 11) == 0) {
            if (f->eos_id >= 0) whet_sb_puts(out, f->eos_text);
            p += 11;
        } else if (strncmp(p, "{TOKEN:", 7) == 0) {
            return whet_errorf(err, WHET_ERR_UNSUPPORTED, "template %s: a Modelfile cannot hold token slots "
                                                          "(LLaMA-Factory: Dict is not supported)", f->tmpl->name);
        } else {
            whet_sb_putc(out, *p++);
        }
    }
    return WHET_OK;
}

whet_status whet_template_ollama_modelfile(const whet_chat_format *f, whet_strbuf *out, whet_error *err) {
    const whet_template *t = f->tmpl;
    whet_sb_puts(out, "# ollama modelfile auto-generated by llamafactory\n\nFROM .\n\nTEMPLATE \"\"\"");
    WHET_TRY(slots_to_ollama(f, t->prefix, "content", out, err));
    whet_sb_puts(out, "{{ if .System }}");
    WHET_TRY(slots_to_ollama(f, t->system, ".System", out, err));
    whet_sb_puts(out, "{{ end }}{{ range .Messages }}{{ if eq .Role \"user\" }}");
    WHET_TRY(slots_to_ollama(f, t->user, ".Content", out, err));
    whet_sb_puts(out, "{{ else if eq .Role \"assistant\" }}");
    WHET_TRY(slots_to_ollama(f, t->assistant, ".Content", out, err));
    whet_sb_puts(out, "{{ end }}{{ end }}\"\"\"\n\n");
    if (f->default_system && *f->default_system) whet_sb_printf(out, "SYSTEM \"\"\"%s\"\"\"\n\n", f->default_system);
    whet_tokens stop = {0};
    WHET_TRY(whet_template_stop_ids(f, &stop, err));
    for (size_t i = 0; i < stop.n; i++) {
        const char *piece = whet_tokenizer_id_to_piece(f->tok, stop.ids[i]);
        whet_sb_printf(out, "PARAMETER stop \"%s\"\n", piece ? piece : "");
    }
    whet_tokens_free(&stop);
    whet_sb_puts(out, "PARAMETER num_ctx 4096\n");
    return out->oom ? whet_errorf(err, WHET_ERR_NOMEM, "out of memory") : WHET_OK;
}
