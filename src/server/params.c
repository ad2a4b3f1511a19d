/* params.c: typed, range-checked request fields with OpenAI-style errors
 * ("Invalid type for 'temperature': expected a number, but got a string
 * instead.") or Ollama's {"error": ...} (see params.h). */
#include "server/params.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/json.h"

static const char *type_name(const cJSON *v) {
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    return "null";
}

static api_reply fail(const param_ctx *c, const char *key, const char *msg) {
    if (c->ollama) return api_ollama_error(400, msg);
    char param[128];
    snprintf(param, sizeof param, "%s%s", c->prefix ? c->prefix : "", key);
    return api_error(400, "invalid_request_error", param, NULL, msg);
}

api_reply param_bad_value(const param_ctx *c, const char *key, const char *msg) { return fail(c, key, msg); }

api_reply param_type_error(const param_ctx *c, const char *key, const char *expected, const cJSON *got) {
    char msg[256];
    snprintf(msg, sizeof msg, "Invalid type for '%s%s': expected %s, but got %s instead.", c->prefix ? c->prefix : "",
             key, expected, type_name(got));
    return fail(c, key, msg);
}

api_reply param_parse_body(const char *body, size_t len, bool ollama, cJSON **out) {
    *out = NULL;
    whet_error err = {0};
    char msg[WHET_ERROR_MSG_MAX + 128];
    if (len == 0 || !body) {
        snprintf(msg, sizeof msg, "The request body is empty; send a JSON object (Content-Type: application/json).");
    } else if (whet_json_parse(body, len, "request body", out, &err) != WHET_OK) {
        snprintf(msg, sizeof msg, "We could not parse the JSON body of your request: %s", err.msg);
    } else if (!cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        *out = NULL;
        snprintf(msg, sizeof msg, "The JSON body of your request must be an object, not %s.", "another value");
    } else {
        return (api_reply){0};
    }
    return ollama ? api_ollama_error(400, msg) : api_error(400, "invalid_request_error", NULL, NULL, msg);
}

static const cJSON *field(const param_ctx *c, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->req, key);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

api_reply param_string_opt(const param_ctx *c, const char *key, const char **out, const char *def) {
    const cJSON *v = field(c, key);
    if (!v) {
        if (out) *out = def;
        return (api_reply){0};
    }
    if (!cJSON_IsString(v)) return param_type_error(c, key, "a string", v);
    if (out) *out = v->valuestring;
    return (api_reply){0};
}

api_reply param_number_opt(const param_ctx *c, const char *key, double lo, double hi, double *out) {
    const cJSON *v = field(c, key);
    if (!v) return (api_reply){0};
    if (!cJSON_IsNumber(v)) return param_type_error(c, key, "a number", v);
    double x = v->valuedouble;
    if (!(x >= lo && x <= hi)) {
        char msg[256];
        snprintf(msg, sizeof msg, "%g is out of range for '%s%s': it must be between %g and %g.", x,
                 c->prefix ? c->prefix : "", key, lo, hi);
        return fail(c, key, msg);
    }
    *out = x;
    return (api_reply){0};
}

api_reply param_int_opt(const param_ctx *c, const char *key, double lo, double hi, double *out) {
    const cJSON *v = field(c, key);
    if (v && cJSON_IsNumber(v) && v->valuedouble != floor(v->valuedouble))
        return param_type_error(c, key, "an integer", v);
    return param_number_opt(c, key, lo, hi, out);
}

api_reply param_bool_opt(const param_ctx *c, const char *key, bool *out) {
    const cJSON *v = field(c, key);
    if (!v) return (api_reply){0};
    if (!cJSON_IsBool(v)) return param_type_error(c, key, "a boolean", v);
    *out = cJSON_IsTrue(v);
    return (api_reply){0};
}

api_reply param_sampling(const param_ctx *c, param_sampling_out *o) {
    double t = o->sp.temperature, tp = o->sp.top_p, tk = o->sp.top_k, mp = o->sp.min_p, rp = o->sp.repetition_penalty;
    double pp = 0, fp = 0, seed = -1;
    PARAM_TRY(param_number_opt(c, "temperature", 0, 2, &t));
    PARAM_TRY(param_number_opt(c, "top_p", 0, 1, &tp));
    if (tp <= 0) return fail(c, "top_p", "top_p must be greater than 0 (1 keeps every token).");
    PARAM_TRY(param_int_opt(c, "top_k", -1, 1e9, &tk));
    PARAM_TRY(param_number_opt(c, "min_p", 0, 1, &mp));
    PARAM_TRY(param_number_opt(c, c->ollama ? "repeat_penalty" : "repetition_penalty", 0, 10, &rp));
    if (rp <= 0) return fail(c, "repetition_penalty", "repetition_penalty must be greater than 0 (1 is off).");
    PARAM_TRY(param_number_opt(c, "presence_penalty", -2, 2, &pp));
    PARAM_TRY(param_number_opt(c, "frequency_penalty", -2, 2, &fp));
    PARAM_TRY(param_int_opt(c, "seed", -9.2e18, 9.2e18, &seed));
    o->sp.temperature = (float)t;
    o->sp.top_p = (float)tp;
    o->sp.top_k = tk < 0 ? 0 : (int)tk;
    o->sp.min_p = (float)mp;
    o->sp.repetition_penalty = (float)rp;
    o->presence_penalty = (float)pp;
    o->frequency_penalty = (float)fp;
    if (field(c, "seed")) {
        o->sp.seed = (uint64_t)(int64_t)seed;
        o->seeded = true;
    }
    return (api_reply){0};
}

api_reply param_stops(const param_ctx *c, const char *key, char **stops, int *n) {
    *n = 0;
    const cJSON *v = field(c, key);
    if (!v) return (api_reply){0};
    if (cJSON_IsString(v)) {
        if (v->valuestring[0]) stops[(*n)++] = strdup(v->valuestring);
        return (api_reply){0};
    }
    if (!cJSON_IsArray(v)) return param_type_error(c, key, "a string or an array of strings", v);
    if (cJSON_GetArraySize(v) > PARAM_MAX_STOPS) {
        char msg[128];
        snprintf(msg, sizeof msg, "'%s' holds %d strings; at most %d are allowed.", key, cJSON_GetArraySize(v),
                 PARAM_MAX_STOPS);
        return fail(c, key, msg);
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, v) {
        if (!cJSON_IsString(it)) return param_type_error(c, key, "an array of strings", it);
        if (it->valuestring[0]) stops[(*n)++] = strdup(it->valuestring);
    }
    return (api_reply){0};
}

static bool known_role(const char *r) {
    static const char *roles[] = {"system", "user", "assistant", "tool", "developer", "function"};
    for (size_t i = 0; i < sizeof roles / sizeof *roles; i++)
        if (strcmp(r, roles[i]) == 0) return true;
    return false;
}

/* content -> a plain string (text parts joined); NULL + error on other parts. */
static api_reply content_text(const param_ctx *pc, const cJSON *content, int i, whet_strbuf *out) {
    char key[64], msg[256];
    snprintf(key, sizeof key, "messages[%d].content", i);
    if (!content || cJSON_IsNull(content)) return (api_reply){0};
    if (cJSON_IsString(content)) {
        whet_sb_puts(out, content->valuestring);
        return (api_reply){0};
    }
    if (pc->ollama || !cJSON_IsArray(content)) return param_type_error(pc, key, "a string or an array of parts", content);
    const cJSON *part;
    cJSON_ArrayForEach(part, content) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (!cJSON_IsString(type)) return param_type_error(pc, key, "parts with a string 'type'", part);
        if (strcmp(type->valuestring, "text") != 0) {
            snprintf(msg, sizeof msg, "%s: content parts of type '%.40s' are not supported by this text-only model; "
                     "send text parts", key, type->valuestring);
            return fail(pc, key, msg);
        }
        if (!cJSON_IsString(text)) return param_type_error(pc, key, "text parts with a string 'text'", text);
        whet_sb_puts(out, text->valuestring);
    }
    return (api_reply){0};
}

static api_reply one_message(const param_ctx *pc, const cJSON *m, int i, cJSON *norm) {
    char key[64];
    snprintf(key, sizeof key, "messages[%d]", i);
    if (!cJSON_IsObject(m)) return param_type_error(pc, key, "an object", m);
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
    snprintf(key, sizeof key, "messages[%d].role", i);
    if (!role) {
        char msg[96];
        snprintf(msg, sizeof msg, "Missing required parameter: '%s'.", key);
        return fail(pc, key, msg);
    }
    if (!cJSON_IsString(role)) return param_type_error(pc, key, "a string", role);
    if (!known_role(role->valuestring)) {
        char msg[320];
        snprintf(msg, sizeof msg, "Invalid value for '%s': '%.40s'. Supported values are: 'system', 'user', "
                 "'assistant', 'tool', 'developer' and 'function'.", key, role->valuestring);
        return fail(pc, key, msg);
    }
    whet_strbuf text;
    whet_sb_init(&text);
    api_reply r = content_text(pc, cJSON_GetObjectItemCaseSensitive(m, "content"), i, &text);
    if (!r.status) {
        cJSON *o = cJSON_CreateObject();
        /* developer is OpenAI's new name for system */
        cJSON_AddStringToObject(o, "role", strcmp(role->valuestring, "developer") == 0 ? "system" : role->valuestring);
        cJSON_AddStringToObject(o, "content", text.data ? text.data : "");
        static const char *keep[] = {"name", "tool_calls", "tool_call_id", "reasoning_content"};
        for (size_t k = 0; k < sizeof keep / sizeof *keep; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, keep[k]);
            if (v && !cJSON_IsNull(v)) cJSON_AddItemToObject(o, keep[k], cJSON_Duplicate(v, true));
        }
        cJSON_AddItemToArray(norm, o);
    }
    whet_sb_free(&text);
    return r;
}

api_reply param_messages(const cJSON *req, bool ollama, cJSON **out) {
    *out = NULL;
    param_ctx pc = {.req = req, .ollama = ollama};
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(req, "messages");
    if (!msgs || cJSON_IsNull(msgs)) return fail(&pc, "messages", "Missing required parameter: 'messages'.");
    if (!cJSON_IsArray(msgs)) return param_type_error(&pc, "messages", "an array", msgs);
    if (cJSON_GetArraySize(msgs) == 0)
        return fail(&pc, "messages", "Invalid 'messages': empty array. Expected an array with minimum length 1.");
    cJSON *norm = cJSON_CreateArray();
    int i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs) {
        api_reply r = one_message(&pc, m, i++, norm);
        if (r.status) {
            cJSON_Delete(norm);
            return r;
        }
    }
    *out = norm;
    return (api_reply){0};
}

api_reply param_token_ids(const cJSON *arr, const char *key, int vocab, whet_tokens *ids) {
    param_ctx pc = {0};
    const cJSON *it;
    whet_error err;
    cJSON_ArrayForEach(it, arr) {
        if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble))
            return param_type_error(&pc, key, "token ids (integers)", it);
        if (it->valuedouble < 0 || it->valuedouble >= vocab) {
            char msg[160];
            snprintf(msg, sizeof msg, "token id %g in '%s' is outside the vocabulary [0, %d).", it->valuedouble, key,
                     vocab);
            return fail(&pc, key, msg);
        }
        if (whet_tokens_push(ids, (int32_t)it->valuedouble, &err) != WHET_OK)
            return api_error(500, "server_error", NULL, NULL, err.msg);
    }
    return (api_reply){0};
}
