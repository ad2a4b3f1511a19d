/* server_fixture.h: the server tests' fixture: a model folder, its
 * tokenizer, a started engine and a server on a random loopback port; and
 * the reference text of a greedy completion computed with single-sequence
 * whet_generate (checked against transformers in tests/infer). */
#ifndef WHET_TESTS_SERVER_FIXTURE_H
#define WHET_TESTS_SERVER_FIXTURE_H
#include <stdlib.h>
#include <string.h>
#include "infer/generate.h"
#include "server/server.h"
#include "test.h"

typedef struct {
    whet_model *m;
    whet_tokenizer *tok;
    whet_engine *eng;
    whet_server *srv;
    int port;
} fixture;

/* manual: the engine thread is not started; the test steps the engine itself. */
static inline int start_engine(fixture *f, const char *dir, const char *name, const char *api_key, int max_model_len,
                               bool manual) {
    whet_error err = {0};
    memset(f, 0, sizeof *f);
    whet_model_load_opts lo = {.n_threads = 1};
    CHECK_OK(whet_model_load(dir, &lo, &f->m, &err), &err);
    CHECK_OK(whet_tokenizer_load_dir(dir, &f->tok, &err), &err);
    if (!f->m || !f->tok) return -1;
    whet_engine_opts eo = {.max_num_seqs = 8, .max_num_batched_tokens = 256, .block_size = 16, .n_blocks = 64,
                           .max_model_len = max_model_len};
    CHECK_OK(whet_engine_create(f->m, &eo, &f->eng, &err), &err);
    if (!f->eng) return -1;
    if (!manual) CHECK_OK(whet_engine_start(f->eng, &err), &err);
    whet_server_opts so = {.host = "127.0.0.1", .port = 0, .served_model_name = name, .api_key = api_key,
                           .max_body_bytes = 1 << 16, .eos_ids = f->m->cfg.eos_token_ids, .n_eos = f->m->cfg.n_eos,
                           .defaults = whet_sampler_defaults()};
    CHECK_OK(whet_server_start(f->eng, f->m, f->tok, &so, &f->srv, &err), &err);
    if (!f->srv) return -1;
    f->port = whet_server_port(f->srv);
    return 0;
}

static inline int start(fixture *f, const char *dir, const char *name, const char *api_key, int max_model_len) {
    return start_engine(f, dir, name, api_key, max_model_len, false);
}

static inline void stop(fixture *f) {
    whet_server_stop(f->srv);
    whet_engine_free(f->eng);
    whet_tokenizer_free(f->tok);
    whet_model_free(f->m);
}

/* Greedy text of whet_generate for prompt ids, as the continuation of the
 * prompt's text: decode(prompt + new) minus decode(prompt) (eos dropped,
 * special tokens skipped), which keeps SentencePiece's leading space. */
static inline char *expected_text(fixture *f, const whet_tokens *ids, int max_new, int *n_new) {
    whet_error err = {0};
    whet_generate_opts o = {.max_new_tokens = max_new, .sampling = whet_sampler_defaults(),
                            .eos_ids = f->m->cfg.eos_token_ids, .n_eos = f->m->cfg.n_eos};
    int32_t *all = malloc((ids->n + (size_t)max_new) * sizeof *all);
    memcpy(all, ids->ids, ids->n * sizeof *all);
    *n_new = 0;
    CHECK_OK(whet_generate(f->m, ids->ids, (int)ids->n, &o, all + ids->n, n_new, NULL, &err), &err);
    int n = *n_new;
    if (n > 0 && o.n_eos && all[ids->n + (size_t)n - 1] == o.eos_ids[0]) n--;
    whet_strbuf head, full;
    whet_sb_init(&head);
    whet_sb_init(&full);
    whet_sb_append(&head, "", 0);
    whet_sb_append(&full, "", 0);
    CHECK_OK(whet_tokenizer_decode(f->tok, all, ids->n, true, &head, &err), &err);
    CHECK_OK(whet_tokenizer_decode(f->tok, all, ids->n + (size_t)n, true, &full, &err), &err);
    CHECK_MSG(strncmp(full.data, head.data, head.len) == 0, "decode(prompt) is not a prefix of decode(prompt + new)");
    char *out = strdup(full.data + (full.len >= head.len ? head.len : full.len));
    whet_sb_free(&head);
    whet_sb_free(&full);
    free(all);
    return out;
}

#endif
