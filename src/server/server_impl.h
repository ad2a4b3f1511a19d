/* server_impl.h: what http.c (transport, routing, waiting, streaming)
 * shares with the API formats in openai.c and ollama.c: the server state,
 * a parsed generation call, and the error reply. Private to src/server. */
#ifndef WHET_SERVER_SERVER_IMPL_H
#define WHET_SERVER_SERVER_IMPL_H
#include <cjson/cJSON.h>
#include <stdatomic.h>
#include "core/strbuf.h"
#include "server/job.h"
#include "server/server.h"

struct whet_server {
    struct MHD_Daemon *daemon;
    whet_engine *eng;
    whet_model *m;
    const whet_tokenizer *tok;
    char *model_name, *model_dir, *api_key, *chat_template;
    size_t max_body;
    int32_t *eos_ids;
    int n_eos;
    whet_sampler_params defaults;
    char **lora_names, **lora_paths; /* [n_lora]; name i is the engine's lora_id i + 1 */
    int n_lora;
    int port;
    long started;                 /* unix seconds */
    atomic_ullong http_requests, http_errors;
};

typedef enum { API_CHAT, API_COMPLETION, API_OLLAMA_CHAT, API_OLLAMA_GENERATE } api_kind;

/* A generation call after parsing: what to run and how to answer. */
typedef struct {
    api_kind kind;
    char id[64];                  /* chatcmpl-... / cmpl-... */
    long created;
    char *model;                  /* echoed back */
    int lora_id;                  /* 0 = the base model, else the LoRA adapter `model` named */
    bool stream, include_usage;
    int logprobs;                 /* < 0: none; else top-n (chat: top_logprobs) */
    int n_per_prompt;             /* OpenAI n */
    char **echo;                  /* [n_prompts] prompt texts to prepend (completions echo), or NULL */
    int n_prompts;
    job *j;
    /* streaming state (connection thread) */
    bool sent_usage, sent_done;
} api_call;

void api_call_free(api_call *c);

/* An error reply: status, OpenAI-shaped JSON (or Ollama's {"error": msg}). */
typedef struct {
    int status;
    char *body;                   /* malloc'd JSON */
} api_reply;

api_reply api_error(int status, const char *type, const char *param, const char *code, const char *msg);
api_reply api_ollama_error(int status, const char *msg);
api_reply api_json(int status, cJSON *v);   /* takes v */

/* Route handlers. Either *call is set (a generation to run: the caller
 * waits or streams) or the reply is final. */
api_reply openai_models(whet_server *s);
api_reply openai_model(whet_server *s, const char *id);  /* GET /v1/models/{id} */
api_reply openai_chat(whet_server *s, const char *body, size_t len, api_call **call);
api_reply openai_completions(whet_server *s, const char *body, size_t len, api_call **call);
api_reply ollama_tags(whet_server *s);
api_reply ollama_show(whet_server *s, const char *body, size_t len);
api_reply ollama_chat(whet_server *s, const char *body, size_t len, api_call **call);
api_reply ollama_generate(whet_server *s, const char *body, size_t len, api_call **call);

/* Formatting of a call's results (job lock held by the caller). */
char *api_format_full(whet_server *s, api_call *c);
/* Append what is new since the last call (SSE events or NDJSON lines);
 * *finished once everything including [DONE] is out. */
void api_format_stream(whet_server *s, api_call *c, whet_strbuf *out, bool *finished);
const char *api_stream_content_type(const api_call *c);

/* Shared helpers of the two formats (openai.c). */
/* The lora_id a request's `model` names: 0 = the served model, k = LoRA
 * module k-1, -1 = none of them. Ollama names may carry ":latest". */
int api_model_lookup(const whet_server *s, const char *name, bool ollama);
/* Render messages (array of {role, content}) with the chat template and tokenize. */
api_reply api_chat_prompt(whet_server *s, const cJSON *messages, const cJSON *tools, bool ollama, whet_tokens *ids);
/* Tokenize a raw prompt string (add_special: BOS as the tokenizer's post-processor adds it). */
api_reply api_text_prompt(whet_server *s, const char *text, bool ollama, whet_tokens *ids);
/* Decode one id to its text (for logprobs). */
char *api_token_text(whet_server *s, int32_t id);
/* Start the job for the prepared inputs; a reply with status 0 means success. */
api_reply api_start_job(whet_server *s, api_call *c, const job_input *in, int n_in, bool ollama);
#endif
