/* server.h: `whet api`'s HTTP server (libmicrohttpd, one thread per
 * connection) in front of one whet_engine: OpenAI routes (/v1/models,
 * /v1/chat/completions, /v1/completions, with SSE streaming), Ollama routes
 * (/api/tags, /api/show, /api/version, /api/chat, /api/generate, NDJSON
 * streaming), /health and /metrics (Prometheus text). HTTP threads parse
 * and format only; the engine thread owns the model and the KV cache. A
 * client that disconnects cancels its request, which frees its blocks. */
#ifndef WHET_SERVER_SERVER_H
#define WHET_SERVER_SERVER_H
#include <stddef.h>
#include <stdint.h>
#include "core/status.h"
#include "infer/engine.h"
#include "tokenizer/tokenizer.h"

typedef struct {
    const char *host;              /* NULL: "0.0.0.0" */
    int port;                      /* 0: any free port (see whet_server_port) */
    const char *served_model_name; /* the `model` clients send; NULL: the model folder's base name */
    const char *model_dir;         /* shown by /v1/models and /api/show */
    const char *api_key;           /* NULL / "": no auth; else "Authorization: Bearer <key>" is required */
    const char *chat_template;     /* NULL: the tokenizer's chat template */
    size_t max_body_bytes;         /* 0: 8 MiB; larger bodies get 413 */
    const int32_t *eos_ids;        /* stop ids added to every request (generation_config eos) */
    int n_eos;
    whet_sampler_params defaults;  /* sampling when a request names none (generation_config) */
    /* Unmerged LoRA adapters (--lora_modules, as vLLM serves them): name i is
     * served as a model of its own (in /v1/models with "parent" = the base
     * model, in /api/tags) and runs as the engine's lora_id i + 1; a
     * request's `model` picks the base model or one of them. */
    const char *const *lora_names;  /* [n_lora] distinct, none equal to the served model name */
    const char *const *lora_paths;  /* [n_lora] the adapter folders, shown as "root" */
    int n_lora;
} whet_server_opts;

typedef struct whet_server whet_server;

/* Start listening. The engine must be started (whet_engine_start) or be
 * stepped by someone; model and tokenizer must outlive the server. */
whet_status whet_server_start(whet_engine *eng, whet_model *m, const whet_tokenizer *tok, const whet_server_opts *o,
                              whet_server **out, whet_error *err);
int whet_server_port(const whet_server *s);
/* Stop accepting, wait for the connection threads, free. */
void whet_server_stop(whet_server *s);
#endif
