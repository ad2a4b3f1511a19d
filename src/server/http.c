/* http.c: the libmicrohttpd daemon (thread per connection): body
 * collection with a size limit (413), Bearer auth (401), CORS, routing
 * (404 / 405 with OpenAI-shaped errors), /health and /metrics, and the two
 * ways a generation is answered: wait for the whole job, or stream it (SSE
 * / NDJSON) from a content-reader callback that sleeps on the job's
 * condition variable. While it waits, the connection thread polls its
 * socket; a client that went away cancels its requests, freeing their KV
 * blocks. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "core/log.h"
#include "server/server_impl.h"

typedef struct {
    whet_server *srv;
    struct MHD_Connection *conn;
    whet_strbuf body;
    bool too_big;
    api_call *call;
    whet_strbuf out;     /* streaming: formatted bytes not yet handed to MHD */
    size_t out_sent;
    bool finished;
} conn_state;

/* ---- responses ---- */

static enum MHD_Result send_text(struct MHD_Connection *conn, int status, const char *type, char *body,
                                 const char *allow) {
    const char *b = body ? body : "";
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(b), (void *)b, MHD_RESPMEM_MUST_COPY);
    free(body);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
    if (allow) MHD_add_response_header(r, "Allow", allow);
    enum MHD_Result ok = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result send_reply(conn_state *cs, api_reply r, const char *allow) {
    if (r.status >= 400) atomic_fetch_add(&cs->srv->http_errors, 1);
    return send_text(cs->conn, r.status, "application/json", r.body, allow);
}

/* ---- client liveness ---- */

static bool client_gone(struct MHD_Connection *conn) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return false;
    struct pollfd p = {.fd = ci->connect_fd, .events = POLLIN | POLLRDHUP};
    if (poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return true;
    char c;
    ssize_t n = recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static void wait_job(job *j, double seconds) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long ns = ts.tv_nsec + (long)(seconds * 1e9);
    ts.tv_sec += ns / 1000000000L;
    ts.tv_nsec = ns % 1000000000L;
    pthread_cond_timedwait(&j->cv, &j->mu, &ts);
}

/* ---- streaming ---- */

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    conn_state *cs = cls;
    while (cs->out_sent == cs->out.len) {
        if (cs->finished) return MHD_CONTENT_READER_END_OF_STREAM;
        whet_sb_clear(&cs->out);
        cs->out_sent = 0;
        job *j = cs->call->j;
        pthread_mutex_lock(&j->mu);
        api_format_stream(cs->srv, cs->call, &cs->out, &cs->finished);
        if (cs->out.len == 0 && !cs->finished) wait_job(j, 0.2);
        pthread_mutex_unlock(&j->mu);
        if (cs->out.len == 0 && !cs->finished && client_gone(cs->conn)) {
            job_release(cs->call->j);  /* cancel now rather than at the completion callback */
            cs->call->j = NULL;
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
    }
    size_t n = cs->out.len - cs->out_sent;
    if (n > max) n = max;
    memcpy(buf, cs->out.data + cs->out_sent, n);
    cs->out_sent += n;
    return (ssize_t)n;
}

static enum MHD_Result answer_call(conn_state *cs) {
    api_call *c = cs->call;
    if (c->stream) {
        struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_reader, cs, NULL);
        if (!r) return MHD_NO;
        MHD_add_response_header(r, "Content-Type", api_stream_content_type(c));
        MHD_add_response_header(r, "Cache-Control", "no-cache");
        MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
        enum MHD_Result ok = MHD_queue_response(cs->conn, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ok;
    }
    job *j = c->j;
    pthread_mutex_lock(&j->mu);
    while (j->n_done < j->n_choices) {
        wait_job(j, 0.2);
        if (j->n_done < j->n_choices) {
            pthread_mutex_unlock(&j->mu);
            bool gone = client_gone(cs->conn);
            pthread_mutex_lock(&j->mu);
            if (gone) {
                pthread_mutex_unlock(&j->mu);
                return MHD_NO;  /* closes; the completion callback cancels the job */
            }
        }
    }
    char *body = api_format_full(cs->srv, c);
    bool failed = body && strstr(body, "\"error\"") == body + 1;
    pthread_mutex_unlock(&j->mu);
    if (failed) atomic_fetch_add(&cs->srv->http_errors, 1);
    return send_text(cs->conn, failed ? 500 : 200, "application/json", body, NULL);
}

/* ---- /health, /metrics ---- */

static char *metrics_text(whet_server *s) {
    whet_engine_stats st = whet_engine_get_stats(s->eng);
    whet_strbuf sb;
    whet_sb_init(&sb);
    struct { const char *name, *help, *type; double v; } rows[] = {
        {"whet_http_requests_total", "HTTP requests received", "counter", (double)atomic_load(&s->http_requests)},
        {"whet_http_errors_total", "HTTP requests answered with an error", "counter", (double)atomic_load(&s->http_errors)},
        {"whet_requests_submitted_total", "generation requests queued", "counter", (double)st.requests_submitted},
        {"whet_requests_finished_total", "generation requests finished", "counter", (double)st.requests_finished},
        {"whet_requests_aborted_total", "generation requests cancelled", "counter", (double)st.requests_aborted},
        {"whet_num_requests_running", "sequences in the running batch", "gauge", (double)st.running},
        {"whet_num_requests_waiting", "requests waiting for a seat", "gauge", (double)st.waiting},
        {"whet_prompt_tokens_total", "prompt tokens admitted", "counter", (double)st.prompt_tokens},
        {"whet_generation_tokens_total", "tokens generated", "counter", (double)st.generation_tokens},
        {"whet_prefix_cache_hit_tokens_total", "prompt tokens served from the prefix cache", "counter",
         (double)st.prefix_cache_hit_tokens},
        {"whet_preemptions_total", "sequences preempted for lack of KV blocks", "counter", (double)st.preemptions},
        {"whet_kv_blocks_total", "KV cache blocks", "gauge", (double)st.kv_blocks_total},
        {"whet_kv_blocks_used", "KV cache blocks referenced by sequences", "gauge", (double)st.kv_blocks_used},
        {"whet_kv_blocks_free", "KV cache blocks free or evictable", "gauge", (double)st.kv_blocks_free},
        {"whet_engine_steps_total", "batched forward steps", "counter", (double)st.steps},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
        whet_sb_printf(&sb, "# HELP %s %s\n# TYPE %s %s\n%s %.0f\n", rows[i].name, rows[i].help, rows[i].name,
                       rows[i].type, rows[i].name, rows[i].v);
    return whet_sb_take(&sb);
}

/* ---- routing ---- */

typedef enum { R_HEALTH, R_METRICS, R_MODELS, R_CHAT, R_COMPLETIONS, R_TAGS, R_SHOW, R_VERSION, R_OCHAT, R_OGEN,
               R_ROOT } route_id;

static const struct { const char *path, *method; route_id id; } routes[] = {
    {"/health", "GET", R_HEALTH}, {"/metrics", "GET", R_METRICS}, {"/v1/models", "GET", R_MODELS},
    {"/v1/chat/completions", "POST", R_CHAT}, {"/v1/completions", "POST", R_COMPLETIONS},
    {"/api/tags", "GET", R_TAGS}, {"/api/show", "POST", R_SHOW}, {"/api/version", "GET", R_VERSION},
    {"/api/chat", "POST", R_OCHAT}, {"/api/generate", "POST", R_OGEN}, {"/", "GET", R_ROOT},
};

static bool is_ollama_path(const char *url) { return strncmp(url, "/api/", 5) == 0; }

static api_reply route_error(const char *url, int status, const char *msg) {
    return is_ollama_path(url) ? api_ollama_error(status, msg) : api_error(status, "invalid_request_error", NULL, NULL, msg);
}

static bool authorized(whet_server *s, struct MHD_Connection *conn, const char *url) {
    if (!s->api_key || strcmp(url, "/health") == 0 || strcmp(url, "/") == 0) return true;
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    return h && strncmp(h, "Bearer ", 7) == 0 && strcmp(h + 7, s->api_key) == 0;
}

static enum MHD_Result dispatch(conn_state *cs, const char *url, const char *method) {
    whet_server *s = cs->srv;
    if (strcmp(method, "OPTIONS") == 0) {  /* CORS preflight */
        struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
        MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        MHD_add_response_header(r, "Access-Control-Allow-Headers", "Authorization, Content-Type");
        enum MHD_Result ok = MHD_queue_response(cs->conn, MHD_HTTP_NO_CONTENT, r);
        MHD_destroy_response(r);
        return ok;
    }
    if (!authorized(s, cs->conn, url)) {
        api_reply r = is_ollama_path(url) ? api_ollama_error(401, "Invalid API key.")
                                          : api_error(401, "invalid_request_error", NULL, "invalid_api_key",
                                                      "Invalid API key. Send `Authorization: Bearer <key>` with the key "
                                                      "given to `whet api --api_key`.");
        return send_reply(cs, r, NULL);
    }
    if (cs->too_big) {
        char msg[160];
        snprintf(msg, sizeof msg, "The request body exceeds the server's limit of %zu bytes.", s->max_body);
        return send_reply(cs, route_error(url, 413, msg), NULL);
    }
    int found = -1;
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++)
        if (strcmp(url, routes[i].path) == 0) found = (int)i;
    if (found < 0 && strncmp(url, "/v1/models/", 11) == 0 && url[11]) {
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
            return send_reply(cs, route_error(url, 405, "Use GET for /v1/models/{model}."), "GET");
        return send_reply(cs, openai_model(s, url + 11), NULL);
    }
    if (found < 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "Invalid URL (%.16s %.200s)", method, url);
        return send_reply(cs, route_error(url, 404, msg), NULL);
    }
    bool head = strcmp(method, "HEAD") == 0 && strcmp(routes[found].method, "GET") == 0;
    if (strcmp(method, routes[found].method) != 0 && !head) {
        char msg[300];
        snprintf(msg, sizeof msg, "Method %.16s is not allowed for %.200s; use %s.", method, url, routes[found].method);
        return send_reply(cs, route_error(url, 405, msg), routes[found].method);
    }
    const char *b = cs->body.data;
    size_t n = cs->body.len;
    api_reply r = {0};
    switch (routes[found].id) {
    case R_HEALTH: return send_text(cs->conn, 200, "application/json", strdup("{\"status\":\"ok\"}"), NULL);
    case R_ROOT: return send_text(cs->conn, 200, "text/plain", strdup("whet is running"), NULL);
    case R_METRICS: return send_text(cs->conn, 200, "text/plain; version=0.0.4", metrics_text(s), NULL);
    case R_VERSION: return send_text(cs->conn, 200, "application/json", strdup("{\"version\":\"0.6.0\"}"), NULL);
    case R_MODELS: r = openai_models(s); break;
    case R_TAGS: r = ollama_tags(s); break;
    case R_SHOW: r = ollama_show(s, b, n); break;
    case R_CHAT: r = openai_chat(s, b, n, &cs->call); break;
    case R_COMPLETIONS: r = openai_completions(s, b, n, &cs->call); break;
    case R_OCHAT: r = ollama_chat(s, b, n, &cs->call); break;
    case R_OGEN: r = ollama_generate(s, b, n, &cs->call); break;
    }
    if (cs->call) return answer_call(cs);
    if (!r.body) r = route_error(url, 500, "out of memory while formatting the reply");
    return send_reply(cs, r, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    whet_server *s = cls;
    conn_state *cs = *con_cls;
    if (!cs) {
        cs = calloc(1, sizeof *cs);
        if (!cs) return MHD_NO;
        cs->srv = s;
        cs->conn = conn;
        whet_sb_init(&cs->body);
        whet_sb_init(&cs->out);
        *con_cls = cs;
        atomic_fetch_add(&s->http_requests, 1);
        return MHD_YES;
    }
    if (*upload_size) {
        if (cs->body.len + *upload_size > s->max_body) cs->too_big = true;
        else whet_sb_append(&cs->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (cs->body.oom) cs->too_big = true;
    return dispatch(cs, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)conn;
    (void)toe;
    conn_state *cs = *con_cls;
    if (!cs) return;
    api_call_free(cs->call);  /* cancels whatever still runs */
    whet_sb_free(&cs->body);
    whet_sb_free(&cs->out);
    free(cs);
    *con_cls = NULL;
}

/* ---- life cycle ---- */

static whet_status resolve_host(const char *host, int port, struct sockaddr_storage *ss, whet_error *err) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int rc = getaddrinfo(host, ps, &hints, &res);
    if (rc != 0 || !res)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "--host %s: %s (give an address such as 0.0.0.0 or 127.0.0.1)",
                           host, gai_strerror(rc));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return WHET_OK;
}

static void server_free(whet_server *s) {
    free(s->model_name);
    free(s->model_dir);
    free(s->api_key);
    free(s->chat_template);
    free(s->eos_ids);
    for (int i = 0; i < s->n_lora; i++) {
        free(s->lora_names[i]);
        free(s->lora_paths[i]);
    }
    free(s->lora_names);
    free(s->lora_paths);
    free(s);
}

static char *dup_or_null(const char *s) { return s && s[0] ? strdup(s) : NULL; }

/* The served LoRA names: non-empty, distinct, none equal to the base model's name. */
static whet_status lora_init(whet_server *s, const whet_server_opts *o, whet_error *err) {
    if (o->n_lora <= 0) return WHET_OK;
    s->lora_names = calloc((size_t)o->n_lora, sizeof *s->lora_names);
    s->lora_paths = calloc((size_t)o->n_lora, sizeof *s->lora_paths);
    if (!s->lora_names || !s->lora_paths) return whet_errorf(err, WHET_ERR_NOMEM, "server: out of memory");
    for (int i = 0; i < o->n_lora; i++) {
        const char *name = o->lora_names[i];
        if (!name || !name[0])
            return whet_errorf(err, WHET_ERR_INVALID_ARG, "--lora_modules: LoRA module %d has no name", i + 1);
        if (!strcmp(name, s->model_name))
            return whet_errorf(err, WHET_ERR_INVALID_ARG, "--lora_modules: '%s' is the base model's served name; give "
                               "the adapter another name", name);
        for (int j = 0; j < i; j++)
            if (!strcmp(name, s->lora_names[j]))
                return whet_errorf(err, WHET_ERR_INVALID_ARG, "--lora_modules: the name '%s' is given twice", name);
        s->lora_names[i] = strdup(name);
        s->lora_paths[i] = strdup(o->lora_paths && o->lora_paths[i] ? o->lora_paths[i] : "");
        s->n_lora = i + 1;
        if (!s->lora_names[i] || !s->lora_paths[i]) return whet_errorf(err, WHET_ERR_NOMEM, "server: out of memory");
    }
    return WHET_OK;
}

static whet_status server_init(whet_server *s, whet_engine *eng, whet_model *m, const whet_tokenizer *tok,
                               const whet_server_opts *o, whet_error *err) {
    s->eng = eng;
    s->m = m;
    s->tok = tok;
    s->started = (long)time(NULL);
    const char *dir = o->model_dir ? o->model_dir : m->dir;
    const char *base = strrchr(dir, '/');
    base = base && base[1] ? base + 1 : dir;
    s->model_name = strdup(o->served_model_name && o->served_model_name[0] ? o->served_model_name : base);
    s->model_dir = strdup(dir);
    s->api_key = dup_or_null(o->api_key);
    const char *tmpl = o->chat_template ? o->chat_template : whet_tokenizer_chat_template(tok);
    s->chat_template = dup_or_null(tmpl);
    s->max_body = o->max_body_bytes ? o->max_body_bytes : (size_t)8 << 20;
    s->defaults = o->defaults;
    /* stop ids: the given eos ids plus the tokenizer's eos */
    int32_t tok_eos = whet_tokenizer_eos_id(tok);
    s->eos_ids = malloc(((size_t)o->n_eos + 1) * sizeof *s->eos_ids);
    if (!s->model_name || !s->model_dir || !s->eos_ids) return whet_errorf(err, WHET_ERR_NOMEM, "server: out of memory");
    bool have = false;
    for (int i = 0; i < o->n_eos; i++) {
        s->eos_ids[s->n_eos++] = o->eos_ids[i];
        have |= o->eos_ids[i] == tok_eos;
    }
    if (tok_eos >= 0 && !have) s->eos_ids[s->n_eos++] = tok_eos;
    return lora_init(s, o, err);
}

whet_status whet_server_start(whet_engine *eng, whet_model *m, const whet_tokenizer *tok, const whet_server_opts *o,
                              whet_server **out, whet_error *err) {
    *out = NULL;
    whet_server *s = calloc(1, sizeof *s);
    if (!s) return whet_errorf(err, WHET_ERR_NOMEM, "server: out of memory");
    whet_status st = server_init(s, eng, m, tok, o, err);
    struct sockaddr_storage ss = {0};
    const char *host = o->host && o->host[0] ? o->host : "0.0.0.0";
    if (st == WHET_OK) st = resolve_host(host, o->port, &ss, err);
    if (st != WHET_OK) {
        server_free(s);
        return st;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    s->daemon = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)600, MHD_OPTION_END);
    if (!s->daemon) {
        int e = errno;
        server_free(s);
        return whet_errorf(err, WHET_ERR_IO, "server: cannot listen on %s:%d (%s); is the port taken? try --port",
                           host, o->port, strerror(e));
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : o->port;
    WHET_LOGI("serving %s on http://%s:%d (OpenAI /v1, Ollama /api)", s->model_name, host, s->port);
    *out = s;
    return WHET_OK;
}

int whet_server_port(const whet_server *s) { return s->port; }

void whet_server_stop(whet_server *s) {
    if (!s) return;
    if (s->daemon) MHD_stop_daemon(s->daemon);
    server_free(s);
}
