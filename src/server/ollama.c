/* ollama.c: Ollama's routes on the same engine, so Ollama clients and
 * Open WebUI's Ollama connection work: /api/tags, /api/show, /api/chat and
 * /api/generate (streaming by default, NDJSON; `options` carries sampling:
 * temperature, top_p, top_k, min_p, repeat_penalty, presence/frequency
 * penalties, seed, num_predict, stop). Errors are {"error": "..."}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "server/params.h"
#include "server/server_impl.h"

static double parameter_count(const whet_model_config *c) {
    double H = c->hidden_size, qd = (double)c->n_heads * c->head_dim, kvd = (double)c->n_kv_heads * c->head_dim;
    double per_layer = H * (qd + 2 * kvd) + qd * H + 3 * H * c->intermediate_size + 2 * H;
    return (double)c->vocab_size * H * (c->tie_word_embeddings ? 1 : 2) + c->n_layers * per_layer + H;
}

/* parent: the base model's name for a LoRA module, "" for the base model. */
static cJSON *details(whet_server *s, const char *parent) {
    cJSON *d = cJSON_CreateObject(), *fams = cJSON_CreateArray();
    char size[32];
    double n = parameter_count(&s->m->cfg);
    if (n >= 1e9) snprintf(size, sizeof size, "%.1fB", n / 1e9);
    else if (n >= 1e6) snprintf(size, sizeof size, "%.1fM", n / 1e6);
    else snprintf(size, sizeof size, "%.1fK", n / 1e3);
    cJSON_AddStringToObject(d, "parent_model", parent);
    cJSON_AddStringToObject(d, "format", "safetensors");
    cJSON_AddStringToObject(d, "family", s->m->cfg.model_type);
    cJSON_AddItemToArray(fams, cJSON_CreateString(s->m->cfg.model_type));
    cJSON_AddItemToObject(d, "families", fams);
    cJSON_AddStringToObject(d, "parameter_size", size);
    cJSON_AddStringToObject(d, "quantization_level", s->m->cfg.torch_dtype[0] ? s->m->cfg.torch_dtype : "F32");
    return d;
}

/* The base model, then each LoRA module (details.parent_model = the base). */
api_reply ollama_tags(whet_server *s) {
    cJSON *root = cJSON_CreateObject(), *models = cJSON_AddArrayToObject(root, "models");
    char at[40];
    time_t t = (time_t)s->started;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    for (int k = 0; k <= s->n_lora; k++) {
        const char *name = k ? s->lora_names[k - 1] : s->model_name;
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "name", name);
        cJSON_AddStringToObject(m, "model", name);
        cJSON_AddStringToObject(m, "modified_at", at);
        cJSON_AddNumberToObject(m, "size", parameter_count(&s->m->cfg) * 4);
        cJSON_AddStringToObject(m, "digest", "");
        cJSON_AddItemToObject(m, "details", details(s, k ? s->model_name : ""));
        cJSON_AddItemToArray(models, m);
    }
    return api_json(200, root);
}

/* Ollama names carry a tag: "name" and "name:latest" are the same model.
 * *lora_id (may be NULL): the LoRA module the name picks, 0 = the base model. */
static api_reply check_model(whet_server *s, const cJSON *req, char **model, int *lora_id) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, "model");
    if (v && !cJSON_IsNull(v) && !cJSON_IsString(v)) return api_ollama_error(400, "'model' must be a string");
    const char *name = cJSON_IsString(v) ? v->valuestring : s->model_name;
    int k = api_model_lookup(s, name, true);
    if (k < 0) {
        char msg[512];
        snprintf(msg, sizeof msg, "model \"%.300s\" not found; this server serves \"%.100s\"%s (see /api/tags)", name,
                 s->model_name, s->n_lora ? " and its LoRA modules" : "");
        return api_ollama_error(404, msg);
    }
    if (model) *model = strdup(name);
    if (lora_id) *lora_id = k;
    return (api_reply){0};
}

api_reply ollama_show(whet_server *s, const char *body, size_t len) {
    cJSON *req = NULL;
    int k = 0;
    api_reply r = param_parse_body(body, len, true, &req);
    if (!r.status) {
        /* older clients send "name" */
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(req, "name");
        if (!cJSON_GetObjectItemCaseSensitive(req, "model") && cJSON_IsString(name))
            cJSON_AddStringToObject(req, "model", name->valuestring);
        r = check_model(s, req, NULL, &k);
    }
    cJSON_Delete(req);
    if (r.status) return r;
    cJSON *root = cJSON_CreateObject(), *info = cJSON_CreateObject(), *caps = cJSON_CreateArray();
    cJSON_AddStringToObject(root, "modelfile", "");
    cJSON_AddStringToObject(root, "parameters", "");
    cJSON_AddStringToObject(root, "template", s->chat_template ? s->chat_template : "");
    cJSON_AddItemToObject(root, "details", details(s, k ? s->model_name : ""));
    char key[64];
    cJSON_AddStringToObject(info, "general.architecture", s->m->cfg.model_type);
    cJSON_AddNumberToObject(info, "general.parameter_count", parameter_count(&s->m->cfg));
    snprintf(key, sizeof key, "%s.context_length", s->m->cfg.model_type);
    cJSON_AddNumberToObject(info, key, whet_engine_max_model_len(s->eng));
    snprintf(key, sizeof key, "%s.embedding_length", s->m->cfg.model_type);
    cJSON_AddNumberToObject(info, key, s->m->cfg.hidden_size);
    cJSON_AddItemToObject(root, "model_info", info);
    cJSON_AddItemToArray(caps, cJSON_CreateString("completion"));
    cJSON_AddItemToObject(root, "capabilities", caps);
    return api_json(200, root);
}

typedef struct {
    param_sampling_out ps;
    int max_tokens;
    char *stops[PARAM_MAX_STOPS];
    int n_stops;
} ollama_opts;

static api_reply parse_options(whet_server *s, const cJSON *req, api_call *c, ollama_opts *o) {
    o->ps.sp = s->defaults;
    c->stream = true;  /* Ollama streams unless told not to */
    param_ctx top = {.req = req, .ollama = true};
    PARAM_TRY(param_bool_opt(&top, "stream", &c->stream));
    const cJSON *opts = cJSON_GetObjectItemCaseSensitive(req, "options");
    if (opts && !cJSON_IsNull(opts) && !cJSON_IsObject(opts)) return param_type_error(&top, "options", "an object", opts);
    if (cJSON_IsObject(opts)) {
        param_ctx pc = {.req = opts, .ollama = true, .prefix = "options."};
        PARAM_TRY(param_sampling(&pc, &o->ps));
        double np = -1;
        PARAM_TRY(param_int_opt(&pc, "num_predict", -2, 1e9, &np));
        o->max_tokens = np > 0 ? (int)np : 0;
        PARAM_TRY(param_stops(&pc, "stop", o->stops, &o->n_stops));
    }
    if (!o->ps.seeded) o->ps.sp.seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)c;
    c->created = (long)time(NULL);
    c->n_per_prompt = 1;
    c->n_prompts = 1;
    c->logprobs = -1;
    return (api_reply){0};
}

static api_reply run(whet_server *s, api_call *c, ollama_opts *o, whet_tokens *prompt) {
    if (prompt->n == 0) return api_ollama_error(400, "the prompt is empty after tokenization");
    job_input in = {.prompt = prompt->ids, .n_prompt = (int)prompt->n, .sampling = o->ps.sp,
                    .presence_penalty = o->ps.presence_penalty, .frequency_penalty = o->ps.frequency_penalty,
                    .max_tokens = o->max_tokens, .stops = (const char *const *)o->stops, .n_stops = o->n_stops};
    return api_start_job(s, c, &in, 1, true);
}

static void finish_call(api_reply *r, api_call *c, api_call **out) {
    if (r->status) api_call_free(c);
    else *out = c;
}

api_reply ollama_chat(whet_server *s, const char *body, size_t len, api_call **out) {
    *out = NULL;
    cJSON *req = NULL, *messages = NULL;
    api_reply r = param_parse_body(body, len, true, &req);
    if (r.status) return r;
    api_call *c = calloc(1, sizeof *c);
    ollama_opts o = {0};
    whet_tokens prompt = {0};
    if (!c) r = api_ollama_error(500, "out of memory");
    if (!r.status) {
        c->kind = API_OLLAMA_CHAT;
        r = check_model(s, req, &c->model, &c->lora_id);
    }
    if (!r.status) r = parse_options(s, req, c, &o);
    if (!r.status) r = param_messages(req, true, &messages);
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(req, "tools");
    if (!r.status) r = api_chat_prompt(s, messages, cJSON_IsArray(tools) ? tools : NULL, true, &prompt);
    if (!r.status) r = run(s, c, &o, &prompt);
    for (int i = 0; i < o.n_stops; i++) free(o.stops[i]);
    whet_tokens_free(&prompt);
    cJSON_Delete(messages);
    cJSON_Delete(req);
    finish_call(&r, c, out);
    return r;
}

/* The prompt of /api/generate: raw text, or system + prompt through the chat template. */
static api_reply generate_prompt(whet_server *s, const cJSON *req, const char *prompt, whet_tokens *ids) {
    param_ctx pc = {.req = req, .ollama = true};
    bool raw = false;
    const char *system = NULL;
    PARAM_TRY(param_bool_opt(&pc, "raw", &raw));
    PARAM_TRY(param_string_opt(&pc, "system", &system, NULL));
    if (raw || !s->chat_template) return api_text_prompt(s, prompt, true, ids);
    cJSON *msgs = cJSON_CreateArray();
    if (system) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "role", "system");
        cJSON_AddStringToObject(m, "content", system);
        cJSON_AddItemToArray(msgs, m);
    }
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "user");
    cJSON_AddStringToObject(m, "content", prompt);
    cJSON_AddItemToArray(msgs, m);
    api_reply r = api_chat_prompt(s, msgs, NULL, true, ids);
    cJSON_Delete(msgs);
    return r;
}

api_reply ollama_generate(whet_server *s, const char *body, size_t len, api_call **out) {
    *out = NULL;
    cJSON *req = NULL;
    api_reply r = param_parse_body(body, len, true, &req);
    if (r.status) return r;
    api_call *c = calloc(1, sizeof *c);
    ollama_opts o = {0};
    whet_tokens prompt = {0};
    const char *text = "";
    param_ctx pc = {.req = req, .ollama = true};
    if (!c) r = api_ollama_error(500, "out of memory");
    if (!r.status) {
        c->kind = API_OLLAMA_GENERATE;
        r = check_model(s, req, &c->model, &c->lora_id);
    }
    if (!r.status) r = parse_options(s, req, c, &o);
    if (!r.status) r = param_string_opt(&pc, "prompt", &text, "");
    if (!r.status && !text[0]) {
        /* Ollama answers an empty prompt with "model loaded" */
        cJSON *root = cJSON_CreateObject();
        char at[40];
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm);
        cJSON_AddStringToObject(root, "model", c->model);
        cJSON_AddStringToObject(root, "created_at", at);
        cJSON_AddStringToObject(root, "response", "");
        cJSON_AddBoolToObject(root, "done", true);
        cJSON_AddStringToObject(root, "done_reason", "load");
        r = api_json(200, root);
        api_call_free(c);
        c = NULL;
    }
    if (!r.status) r = generate_prompt(s, req, text, &prompt);
    if (!r.status) r = run(s, c, &o, &prompt);
    for (int i = 0; i < o.n_stops; i++) free(o.stops[i]);
    whet_tokens_free(&prompt);
    cJSON_Delete(req);
    if (c) finish_call(&r, c, out);
    return r;
}
