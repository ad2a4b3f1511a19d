/* openai.c: the OpenAI routes' request side (/v1/models,
 * /v1/chat/completions, /v1/completions): strict validation of every field
 * clients send (wrong types and ranges are 400s naming the `param`, as
 * OpenAI does), prompts through the model's chat template and tokenizer,
 * the context-length check, and the helpers the Ollama routes share. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/json.h"
#include "server/params.h"
#include "server/server_impl.h"
#include "tokenizer/jinja.h"

api_reply api_json(int status, cJSON *v) {
    api_reply r = {.status = status, .body = cJSON_PrintUnformatted(v)};
    cJSON_Delete(v);
    return r;
}

api_reply api_error(int status, const char *type, const char *param, const char *code, const char *msg) {
    cJSON *root = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(e, "message", msg);
    cJSON_AddStringToObject(e, "type", type);
    if (param) cJSON_AddStringToObject(e, "param", param); else cJSON_AddNullToObject(e, "param");
    if (code) cJSON_AddStringToObject(e, "code", code); else cJSON_AddNullToObject(e, "code");
    return api_json(status, root);
}

api_reply api_ollama_error(int status, const char *msg) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "error", msg);
    return api_json(status, root);
}

void api_call_free(api_call *c) {
    if (!c) return;
    job_release(c->j);
    free(c->model);
    for (int i = 0; c->echo && i < c->n_prompts; i++) free(c->echo[i]);
    free(c->echo);
    free(c);
}

int api_model_lookup(const whet_server *s, const char *name, bool ollama) {
    for (int k = 0; k <= s->n_lora; k++) {
        const char *served = k ? s->lora_names[k - 1] : s->model_name;
        size_t n = strlen(served);
        if (!strcmp(name, served) || (ollama && !strncmp(name, served, n) && !strcmp(name + n, ":latest"))) return k;
    }
    return -1;
}

/* vLLM's model card: a LoRA module has its folder as "root" and the base model as "parent". */
static cJSON *model_object(whet_server *s, int lora_id) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "id", lora_id ? s->lora_names[lora_id - 1] : s->model_name);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(m, "created", (double)s->started);
    cJSON_AddStringToObject(m, "owned_by", "whet");
    cJSON_AddStringToObject(m, "root", lora_id ? s->lora_paths[lora_id - 1] : s->model_dir);
    if (lora_id) cJSON_AddStringToObject(m, "parent", s->model_name);
    else cJSON_AddNullToObject(m, "parent");
    cJSON_AddNumberToObject(m, "max_model_len", whet_engine_max_model_len(s->eng));
    return m;
}

api_reply openai_models(whet_server *s) {
    cJSON *root = cJSON_CreateObject(), *data = cJSON_AddArrayToObject(root, "data");
    cJSON_AddStringToObject(root, "object", "list");
    for (int k = 0; k <= s->n_lora; k++) cJSON_AddItemToArray(data, model_object(s, k));
    return api_json(200, root);
}

api_reply openai_model(whet_server *s, const char *id) {
    int k = api_model_lookup(s, id, false);
    if (k < 0) {
        char msg[512];
        snprintf(msg, sizeof msg, "The model `%.300s` does not exist. This server serves `%.100s`%s.", id,
                 s->model_name, s->n_lora ? " and its LoRA modules (see /v1/models)" : "");
        return api_error(404, "invalid_request_error", "model", "model_not_found", msg);
    }
    return api_json(200, model_object(s, k));
}

/* ---- prompts ---- */

static api_reply encode(whet_server *s, const char *text, bool add_special, bool ollama, whet_tokens *ids) {
    whet_error err = {0};
    if (whet_tokenizer_encode_opts(s->tok, text, strlen(text), add_special, true, ids, &err) != WHET_OK)
        return ollama ? api_ollama_error(400, err.msg) : api_error(400, "invalid_request_error", "prompt", NULL, err.msg);
    return (api_reply){0};
}

api_reply api_text_prompt(whet_server *s, const char *text, bool ollama, whet_tokens *ids) {
    return encode(s, text, true, ollama, ids);
}

api_reply api_chat_prompt(whet_server *s, const cJSON *messages, const cJSON *tools, bool ollama, whet_tokens *ids) {
    if (!s->chat_template) {
        const char *msg = "this model has no chat template (tokenizer_config.json chat_template or chat_template.jinja); "
                          "start `whet api` with --template FILE, or use /v1/completions";
        return ollama ? api_ollama_error(400, msg) : api_error(400, "invalid_request_error", "messages", NULL, msg);
    }
    whet_strbuf text;
    whet_sb_init(&text);
    whet_error err = {0};
    whet_status st = whet_chat_template_apply(s->chat_template, messages, tools, whet_tokenizer_bos_token(s->tok),
                                              whet_tokenizer_eos_token(s->tok), true, &text, &err);
    api_reply r = {0};
    if (st != WHET_OK) {
        char msg[WHET_ERROR_MSG_MAX + 64];
        snprintf(msg, sizeof msg, "chat template: %s", err.msg);
        r = ollama ? api_ollama_error(400, msg) : api_error(400, "invalid_request_error", "messages", NULL, msg);
    } else {
        r = encode(s, text.data ? text.data : "", false, ollama, ids);
    }
    whet_sb_free(&text);
    return r;
}

char *api_token_text(whet_server *s, int32_t id) {
    whet_strbuf sb;
    whet_sb_init(&sb);
    whet_error err;
    if (whet_tokenizer_decode(s->tok, &id, 1, false, &sb, &err) != WHET_OK) whet_sb_clear(&sb);
    if (!sb.data) whet_sb_append(&sb, "", 0);
    return whet_sb_take(&sb);
}

/* ---- the job ---- */

static uint64_t fresh_seed(void) {
    static atomic_ullong counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)ts.tv_sec ^ (atomic_fetch_add(&counter, 1) << 32);
}

api_reply api_start_job(whet_server *s, api_call *c, const job_input *in, int n_in, bool ollama) {
    int max_len = whet_engine_max_model_len(s->eng);
    char msg[512];
    for (int i = 0; i < n_in; i++) {
        int want = in[i].max_tokens > 0 ? in[i].n_prompt + in[i].max_tokens : in[i].n_prompt + 1;
        if (want > max_len) {
            if (in[i].max_tokens > 0)
                snprintf(msg, sizeof msg, "This model's maximum context length is %d tokens. However, you requested %d "
                         "tokens (%d in the messages, %d in the completion). Please reduce the length of the messages "
                         "or completion.", max_len, want, in[i].n_prompt, in[i].max_tokens);
            else
                snprintf(msg, sizeof msg, "This model's maximum context length is %d tokens. However, your messages "
                         "resulted in %d tokens. Please reduce the length of the messages.", max_len, in[i].n_prompt);
            return ollama ? api_ollama_error(400, msg)
                          : api_error(400, "invalid_request_error", "messages", "context_length_exceeded", msg);
        }
    }
    job_input *fixed = malloc((size_t)n_in * sizeof *fixed);
    if (!fixed) return api_error(500, "server_error", NULL, NULL, "out of memory");
    for (int i = 0; i < n_in; i++) {
        fixed[i] = in[i];
        if (fixed[i].max_tokens <= 0) fixed[i].max_tokens = max_len - in[i].n_prompt;
    }
    job_common cm = {.stop_ids = s->eos_ids, .n_stop_ids = s->n_eos, .logprobs = c->logprobs, .lora_id = c->lora_id};
    whet_error err = {0};
    whet_status st = job_start(s->eng, s->tok, fixed, n_in, &cm, &c->j, &err);
    free(fixed);
    if (st == WHET_OK) return (api_reply){0};
    int code = st == WHET_ERR_INVALID_ARG ? 400 : 500;
    return ollama ? api_ollama_error(code, err.msg)
                  : api_error(code, code == 400 ? "invalid_request_error" : "server_error", NULL, NULL, err.msg);
}

/* ---- shared OpenAI fields ---- */

typedef struct {
    param_sampling_out ps;
    int max_tokens, n, logprobs;
    bool stream, include_usage, echo;
    char *stops[PARAM_MAX_STOPS];
    int n_stops;
} oa_common;

static void oa_common_free(oa_common *o) {
    for (int i = 0; i < o->n_stops; i++) free(o->stops[i]);
}

static api_reply oa_parse_common(whet_server *s, const cJSON *req, bool chat, oa_common *o, api_call *c) {
    param_ctx pc = {.req = req, .ollama = false};
    o->ps.sp = s->defaults;
    o->n = 1;
    o->logprobs = -1;
    PARAM_TRY(param_string_opt(&pc, "model", NULL, NULL));
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(req, "model");
    c->lora_id = cJSON_IsString(model) ? api_model_lookup(s, model->valuestring, false) : 0;
    if (c->lora_id < 0) {
        char msg[512];
        snprintf(msg, sizeof msg, "The model `%.300s` does not exist. This server serves `%.100s`%s (see /v1/models).",
                 model->valuestring, s->model_name, s->n_lora ? " and its LoRA modules" : "");
        return api_error(404, "invalid_request_error", "model", "model_not_found", msg);
    }
    c->model = strdup(cJSON_IsString(model) ? model->valuestring : s->model_name);
    PARAM_TRY(param_sampling(&pc, &o->ps));
    double mt = -1, mct = -1, n = 1;
    PARAM_TRY(param_int_opt(&pc, "max_tokens", 1, 1e9, &mt));
    PARAM_TRY(param_int_opt(&pc, "max_completion_tokens", 1, 1e9, &mct));
    o->max_tokens = mct > 0 ? (int)mct : mt > 0 ? (int)mt : 0;
    PARAM_TRY(param_int_opt(&pc, "n", 1, 16, &n));
    o->n = (int)n;
    PARAM_TRY(param_stops(&pc, "stop", o->stops, &o->n_stops));
    PARAM_TRY(param_bool_opt(&pc, "stream", &o->stream));
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(req, "stream_options");
    if (so && !cJSON_IsNull(so)) {
        if (!cJSON_IsObject(so)) return param_type_error(&pc, "stream_options", "an object", so);
        param_ctx sc = {.req = so, .prefix = "stream_options."};
        PARAM_TRY(param_bool_opt(&sc, "include_usage", &o->include_usage));
    }
    if (chat) {
        bool lp = false;
        double top = 0;
        PARAM_TRY(param_bool_opt(&pc, "logprobs", &lp));
        PARAM_TRY(param_int_opt(&pc, "top_logprobs", 0, WHET_MAX_TOP_LOGPROBS, &top));
        if (!lp && cJSON_GetObjectItemCaseSensitive(req, "top_logprobs") && top > 0)
            return api_error(400, "invalid_request_error", "top_logprobs", NULL,
                             "top_logprobs requires logprobs to be true");
        o->logprobs = lp ? (int)top : -1;
    } else {
        double lp = -1;
        PARAM_TRY(param_int_opt(&pc, "logprobs", 0, WHET_MAX_TOP_LOGPROBS, &lp));
        o->logprobs = (int)lp;
        PARAM_TRY(param_bool_opt(&pc, "echo", &o->echo));
    }
    c->stream = o->stream;
    c->include_usage = o->include_usage && o->stream;
    c->logprobs = o->logprobs;
    c->n_per_prompt = o->n;
    c->created = (long)time(NULL);
    if (!o->ps.seeded) o->ps.sp.seed = fresh_seed();
    return (api_reply){0};
}

static void fill_inputs(job_input *in, const whet_tokens *prompt, int n, const oa_common *o) {
    for (int k = 0; k < n; k++) {
        in[k] = (job_input){.prompt = prompt->ids, .n_prompt = (int)prompt->n, .sampling = o->ps.sp,
                            .presence_penalty = o->ps.presence_penalty, .frequency_penalty = o->ps.frequency_penalty,
                            .max_tokens = o->max_tokens, .stops = (const char *const *)o->stops, .n_stops = o->n_stops};
        in[k].sampling.seed = o->ps.sp.seed + (uint64_t)k;
    }
}

static api_call *new_call(api_kind kind, const char *prefix) {
    api_call *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->kind = kind;
    uint64_t r = fresh_seed();
    snprintf(c->id, sizeof c->id, "%s-%016llx%08x", prefix, (unsigned long long)r, (unsigned)(r >> 17));
    return c;
}

/* ---- /v1/chat/completions ---- */

api_reply openai_chat(whet_server *s, const char *body, size_t len, api_call **out) {
    *out = NULL;
    cJSON *req = NULL;
    api_reply r = param_parse_body(body, len, false, &req);
    if (r.status) return r;
    api_call *c = new_call(API_CHAT, "chatcmpl");
    oa_common o = {0};
    cJSON *messages = NULL;
    whet_tokens prompt = {0};
    if (!c) r = api_error(500, "server_error", NULL, NULL, "out of memory");
    if (!r.status) r = oa_parse_common(s, req, true, &o, c);
    if (!r.status) r = param_messages(req, false, &messages);
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(req, "tools");
    if (!r.status && tools && !cJSON_IsNull(tools) && !cJSON_IsArray(tools))
        r = api_error(400, "invalid_request_error", "tools", NULL, "Invalid type for 'tools': expected an array");
    if (!r.status) r = api_chat_prompt(s, messages, cJSON_IsArray(tools) ? tools : NULL, false, &prompt);
    if (!r.status) {
        job_input in[16];
        fill_inputs(in, &prompt, o.n, &o);
        c->n_prompts = 1;
        r = api_start_job(s, c, in, o.n, false);
    }
    oa_common_free(&o);
    whet_tokens_free(&prompt);
    cJSON_Delete(messages);
    cJSON_Delete(req);
    if (r.status) {
        api_call_free(c);
        return r;
    }
    *out = c;
    return r;
}

/* ---- /v1/completions ---- */

/* prompt: a string, [string...], [int...] or [[int...]...]. */
static api_reply completion_prompts(whet_server *s, const cJSON *p, whet_tokens *ids, char **texts, int *n) {
    *n = 0;
    if (cJSON_IsString(p)) {
        texts[0] = strdup(p->valuestring);
        (*n)++;
        return api_text_prompt(s, p->valuestring, false, &ids[0]);
    }
    const char *bad = "Invalid type for 'prompt': expected a string, an array of strings, an array of token ids or an "
                      "array of token-id arrays";
    if (!cJSON_IsArray(p) || cJSON_GetArraySize(p) == 0)
        return api_error(400, "invalid_request_error", "prompt", NULL,
                         cJSON_IsArray(p) ? "'prompt' is an empty array; give at least one prompt" : bad);
    const cJSON *first = cJSON_GetArrayItem(p, 0);
    whet_error err = {0};
    if (cJSON_IsNumber(first)) {
        api_reply r = param_token_ids(p, "prompt", whet_tokenizer_vocab_size(s->tok), &ids[0]);
        if (!r.status) texts[(*n)++] = NULL;
        return r;
    }
    if (cJSON_GetArraySize(p) > PARAM_MAX_PROMPTS)
        return api_error(400, "invalid_request_error", "prompt", NULL, "at most 16 prompts per request");
    const cJSON *it;
    cJSON_ArrayForEach(it, p) {
        api_reply r = {0};
        texts[*n] = NULL;
        if (cJSON_IsString(it)) {
            texts[*n] = strdup(it->valuestring);
            r = api_text_prompt(s, it->valuestring, false, &ids[*n]);
        } else if (cJSON_IsArray(it)) {
            r = param_token_ids(it, "prompt", whet_tokenizer_vocab_size(s->tok), &ids[*n]);
        } else {
            r = api_error(400, "invalid_request_error", "prompt", NULL, bad);
        }
        (*n)++;
        if (r.status) return r;
    }
    (void)err;
    return (api_reply){0};
}

api_reply openai_completions(whet_server *s, const char *body, size_t len, api_call **out) {
    *out = NULL;
    cJSON *req = NULL;
    api_reply r = param_parse_body(body, len, false, &req);
    if (r.status) return r;
    api_call *c = new_call(API_COMPLETION, "cmpl");
    oa_common o = {0};
    whet_tokens prompts[PARAM_MAX_PROMPTS] = {0};
    char *texts[PARAM_MAX_PROMPTS] = {0};
    int n_prompts = 0;
    if (!c) r = api_error(500, "server_error", NULL, NULL, "out of memory");
    if (!r.status) r = oa_parse_common(s, req, false, &o, c);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(req, "prompt");
    if (!r.status && !p) r = api_error(400, "invalid_request_error", "prompt", NULL, "Missing required parameter: 'prompt'.");
    if (!r.status) r = completion_prompts(s, p, prompts, texts, &n_prompts);
    if (!r.status && n_prompts * o.n > PARAM_MAX_PROMPTS)
        r = api_error(400, "invalid_request_error", "n", NULL, "prompts x n may be at most 16 per request");
    for (int i = 0; !r.status && i < n_prompts; i++)
        if (prompts[i].n == 0)
            r = api_error(400, "invalid_request_error", "prompt", NULL, "the prompt is empty after tokenization");
    if (!r.status) {
        job_input in[PARAM_MAX_PROMPTS];
        for (int i = 0; i < n_prompts; i++) fill_inputs(in + i * o.n, &prompts[i], o.n, &o);
        c->n_prompts = n_prompts;
        if (o.echo) {
            c->echo = calloc((size_t)n_prompts, sizeof *c->echo);
            for (int i = 0; c->echo && i < n_prompts; i++) {
                if (texts[i]) {
                    c->echo[i] = texts[i];
                    texts[i] = NULL;
                } else {
                    c->echo[i] = NULL;
                    whet_strbuf sb;
                    whet_sb_init(&sb);
                    whet_error err;
                    if (whet_tokenizer_decode(s->tok, prompts[i].ids, prompts[i].n, false, &sb, &err) == WHET_OK)
                        c->echo[i] = whet_sb_take(&sb);
                    whet_sb_free(&sb);
                }
            }
        }
        r = api_start_job(s, c, in, n_prompts * o.n, false);
    }
    for (int i = 0; i < PARAM_MAX_PROMPTS; i++) {
        whet_tokens_free(&prompts[i]);
        free(texts[i]);
    }
    oa_common_free(&o);
    cJSON_Delete(req);
    if (r.status) {
        api_call_free(c);
        return r;
    }
    *out = c;
    return r;
}
