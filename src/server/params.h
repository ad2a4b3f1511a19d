/* params.h: request-body validation shared by the OpenAI and Ollama
 * routes. Each helper either fills its output or returns an error reply
 * in the route's format that names the field (OpenAI: 400 with `param`;
 * Ollama: {"error": "..."}), so no malformed body reaches the engine.
 * Absent or null optional fields leave the output untouched. */
#ifndef WHET_SERVER_PARAMS_H
#define WHET_SERVER_PARAMS_H
#include <cjson/cJSON.h>
#include <stdbool.h>
#include "infer/sampler.h"
#include "server/server_impl.h"

#define PARAM_MAX_STOPS 16
#define PARAM_MAX_PROMPTS 16

typedef struct {
    const cJSON *req;     /* the object the keys are looked up in */
    bool ollama;          /* error format */
    const char *prefix;   /* shown before key names ("options.", "stream_options."), may be NULL */
} param_ctx;

#define PARAM_TRY(expr)                     \
    do {                                    \
        api_reply r_ = (expr);              \
        if (r_.status) return r_;           \
    } while (0)

/* Sampling fields of a request (OpenAI names or Ollama options). */
typedef struct {
    whet_sampler_params sp;
    float presence_penalty, frequency_penalty;
    bool seeded;
} param_sampling_out;

/* Parse a JSON object body (400 on malformed JSON or a non-object). */
api_reply param_parse_body(const char *body, size_t len, bool ollama, cJSON **out);
api_reply param_type_error(const param_ctx *c, const char *key, const char *expected, const cJSON *got);
api_reply param_bad_value(const param_ctx *c, const char *key, const char *msg);
api_reply param_string_opt(const param_ctx *c, const char *key, const char **out, const char *def);
api_reply param_number_opt(const param_ctx *c, const char *key, double lo, double hi, double *out);
api_reply param_int_opt(const param_ctx *c, const char *key, double lo, double hi, double *out);
api_reply param_bool_opt(const param_ctx *c, const char *key, bool *out);
/* temperature, top_p, top_k, min_p, seed, presence/frequency penalties and
 * repetition_penalty (OpenAI/vLLM) or repeat_penalty (Ollama). */
api_reply param_sampling(const param_ctx *c, param_sampling_out *o);
/* A string or an array of strings (at most PARAM_MAX_STOPS); empty strings are dropped. */
api_reply param_stops(const param_ctx *c, const char *key, char **stops, int *n);
/* messages: a non-empty array of {role, content}; content a string, null or
 * an array of {"type":"text","text":...} parts. *out: a normalized copy
 * (string contents) for the chat template. */
api_reply param_messages(const cJSON *req, bool ollama, cJSON **out);
/* An array of token ids, each in [0, vocab). */
api_reply param_token_ids(const cJSON *arr, const char *key, int vocab, whet_tokens *ids);
#endif
