/* cmd_chat.c: `whet chat`: talk to a model the way llamafactory-cli chat
 * does. Each turn the whole history is formatted with the model's own HF
 * chat template (tokenizer_config.json / chat_template.jinja, rendered as
 * transformers' apply_chat_template with add_generation_prompt) or, with
 * --template NAME, with a LLaMA-Factory template, then generated with
 * streamed output (never half a UTF-8 character, never text a later byte
 * token could change). Interactive on stdin
 * (`clear` resets the history, `exit` quits; /clear and /exit too), or one
 * turn with --prompt TEXT. --adapter_name_or_path merges a PEFT LoRA adapter
 * at load. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli_flags.h"
#include "cli/command.h"
#include "data/template.h"
#include "infer/generate.h"
#include "model/lora_apply_infer.h"
#include "tokenizer/jinja.h"
#include "tokenizer/tokenizer.h"

typedef struct {
    const char *model_dir, *adapter_dir, *template_name, *system, *prompt;
    bool enable_thinking, set_thinking;
    whet_gen_flags gen;
} chat_args;

typedef struct {
    chat_args a;
    whet_tokenizer *tok;
    whet_model *m;
    whet_lora_merged *lora;
    whet_generation_config gc;
    const whet_template *lf;       /* --template, or NULL: the HF chat template */
    whet_chat_format fmt;
    whet_tokens stop;              /* eos ids generation stops at */
    cJSON *history;                /* [{role, content}] without the system message */
} chat;

static void usage(void) {
    printf("usage: whet chat --model_name_or_path DIR [options]\n"
           "  Chat with a model: the history is formatted with the model's own chat template\n"
           "  (tokenizer_config.json or chat_template.jinja, exactly as transformers renders it),\n"
           "  or with a LLaMA-Factory template given by --template NAME.\n"
           "  Interactive: type a message; `clear` removes the history, `exit` quits.\n"
           "  --prompt TEXT             one turn: print the answer and exit\n"
           "  --adapter_name_or_path D  a PEFT LoRA adapter folder (or a GGUF LoRA adapter .gguf), merged at load\n"
           "  --template NAME           LLaMA-Factory template (qwen, llama3, chatml, ...) instead of the model's\n"
           "  --system TEXT             system prompt\n"
           "  --enable_thinking true|false  passed to the template (Qwen3-style reasoning switch)\n"
           "  --max_new_tokens N        per answer (default: generation_config.json or 1024)\n");
    whet_cli_gen_flags_help(stdout, 28);
    printf("  --verbose                 print prompt/answer token counts and speed to stderr\n");
}

static int parse_args(int argc, char **argv, chat_args *a) {
    const whet_flag flags[] = {
        {"model_name_or_path", WHET_FLAG_STR, &a->model_dir, NULL},
        {"adapter_name_or_path", WHET_FLAG_STR, &a->adapter_dir, NULL},
        {"template", WHET_FLAG_STR, &a->template_name, NULL},
        {"system", WHET_FLAG_STR, &a->system, NULL},
        {"prompt", WHET_FLAG_STR, &a->prompt, NULL},
        {"enable_thinking", WHET_FLAG_BOOL, &a->enable_thinking, &a->set_thinking},
    };
    return whet_cli_parse_gen_flags("chat", argc, argv, flags, sizeof flags / sizeof flags[0], &a->gen);
}

static void chat_free(chat *c) {
    whet_tokens_free(&c->stop);
    cJSON_Delete(c->history);
    whet_model_free(c->m);
    whet_lora_merged_free(c->lora);
    whet_tokenizer_free(c->tok);
}

static whet_status add_stop(chat *c, int32_t id, whet_error *err) {
    if (id < 0) return WHET_OK;
    for (size_t i = 0; i < c->stop.n; i++)
        if (c->stop.ids[i] == id) return WHET_OK;
    return whet_tokens_push(&c->stop, id, err);
}

static whet_status chat_open(chat *c, whet_error *err) {
    WHET_TRY(whet_tokenizer_load_dir(c->a.model_dir, &c->tok, err));
    if (c->a.template_name) {
        WHET_TRY(whet_template_lookup(c->a.template_name, &c->lf, err));
        WHET_TRY(whet_chat_format_init(&c->fmt, c->lf, c->tok, err));
        if (c->a.set_thinking) c->fmt.enable_thinking = c->a.enable_thinking;
        WHET_TRY(whet_template_stop_ids(&c->fmt, &c->stop, err));
    } else if (!whet_tokenizer_chat_template(c->tok)) {
        return whet_errorf(err, WHET_ERR_NOT_FOUND,
                           "%s has no chat template (no chat_template in tokenizer_config.json, no chat_template.jinja); "
                           "name a LLaMA-Factory one with --template NAME (e.g. --template default)", c->a.model_dir);
    }
    whet_model_load_opts lo = {.n_threads = (int)c->a.gen.threads};
    WHET_TRY(whet_model_load(c->a.model_dir, &lo, &c->m, err));
    WHET_TRY(whet_generation_config_load(c->a.model_dir, &c->gc, err));
    if (c->a.adapter_dir) WHET_TRY(whet_model_apply_lora(c->m, c->a.adapter_dir, &c->lora, err));
    const int32_t *eos;
    int n_eos = whet_generate_default_eos(c->m, &c->gc, &eos);
    for (int i = 0; i < n_eos; i++) WHET_TRY(add_stop(c, eos[i], err));
    WHET_TRY(add_stop(c, whet_tokenizer_eos_id(c->tok), err));
    c->history = cJSON_CreateArray();
    return c->history ? WHET_OK : whet_errorf(err, WHET_ERR_NOMEM, "out of memory");
}

/* The prompt ids for the history (which ends with the new user message). */
static whet_status build_prompt(chat *c, whet_tokens *ids, whet_error *err) {
    if (c->lf) return whet_template_encode_prompt(&c->fmt, c->history, c->a.system, NULL, ids, err);
    cJSON *msgs = cJSON_CreateArray(), *extra = cJSON_CreateObject();
    whet_status st = (!msgs || !extra) ? whet_errorf(err, WHET_ERR_NOMEM, "out of memory") : WHET_OK;
    if (st == WHET_OK && c->a.system && *c->a.system) {
        cJSON *sys = cJSON_CreateObject();
        cJSON_AddStringToObject(sys, "role", "system");
        cJSON_AddStringToObject(sys, "content", c->a.system);
        cJSON_AddItemToArray(msgs, sys);
    }
    for (const cJSON *h = c->history ? c->history->child : NULL; st == WHET_OK && h; h = h->next)
        cJSON_AddItemToArray(msgs, cJSON_Duplicate(h, 1));
    if (st == WHET_OK && c->a.set_thinking) cJSON_AddBoolToObject(extra, "enable_thinking", c->a.enable_thinking);
    whet_strbuf text;
    whet_sb_init(&text);
    if (st == WHET_OK)
        st = whet_chat_template_apply_ext(whet_tokenizer_chat_template(c->tok), msgs, NULL, whet_tokenizer_bos_token(c->tok),
                                          whet_tokenizer_eos_token(c->tok), true, extra, &text, err);
    /* transformers tokenizes the rendered prompt with add_special_tokens=False (the template writes BOS itself). */
    if (st == WHET_OK) st = whet_tokenizer_encode(c->tok, text.len ? text.data : "", text.len, false, ids, err);
    whet_sb_free(&text);
    cJSON_Delete(msgs);
    cJSON_Delete(extra);
    return st;
}

/* Streaming output of one answer, in the incremental scheme of vLLM's
 * detokenize_incrementally: the ids since `prefix` are decoded with and
 * without the ids since `read`, and the difference is printed once final.
 * Unlike the tokenizer's whet_detok_stream, nothing is printed while the
 * last id is a byte-fallback token: HF's ByteFallback decodes a whole run of
 * byte tokens at once (an invalid run becomes one U+FFFD per byte), so a
 * later byte can change text an earlier one produced ("E" + 0xC3 -> two
 * U+FFFD). Everything printed concatenates to HF's decode of the answer. */
typedef struct {
    const chat *c;
    whet_tokens ids;
    size_t prefix, read;
    whet_status status;
    whet_error err;
} answer_stream;

static bool is_stop(const chat *c, int32_t id) {
    for (size_t i = 0; i < c->stop.n; i++)
        if (c->stop.ids[i] == id) return true;
    return false;
}

/* A model's embedding may have more rows than the tokenizer has tokens (padding rows, as in Qwen's
 * checkpoints); HF's decode skips such ids, and so does the chat output. */
static bool in_vocab(const chat *c, int32_t id) { return id >= 0 && id < whet_tokenizer_vocab_size(c->tok); }

static bool ends_incomplete(const whet_strbuf *b) {
    return b->len >= 3 && memcmp(b->data + b->len - 3, "\xef\xbf\xbd", 3) == 0;
}

/* Print what is final; `force` (the end of the answer) prints everything left. */
static whet_status stream_step(answer_stream *s, bool force, whet_error *err) {
    whet_strbuf ctx, all;
    whet_sb_init(&ctx);
    whet_sb_init(&all);
    const int32_t *ids = s->ids.ids + s->prefix;
    whet_status st = whet_tokenizer_decode(s->c->tok, ids, s->read - s->prefix, true, &ctx, err);
    if (st == WHET_OK) st = whet_tokenizer_decode(s->c->tok, ids, s->ids.n - s->prefix, true, &all, err);
    if (st == WHET_OK && (force || !ends_incomplete(&all))) {
        size_t from = ctx.len;
        if (all.len < ctx.len || memcmp(all.data, ctx.data ? ctx.data : "", ctx.len) != 0) /* never split a character */
            while (from < all.len && ((unsigned char)all.data[from] & 0xC0) == 0x80) from++;
        if (all.len > from) fwrite(all.data + from, 1, all.len - from, stdout);
        fflush(stdout);
        s->prefix = s->read;
        s->read = s->ids.n;
    }
    whet_sb_free(&ctx);
    whet_sb_free(&all);
    return st;
}

static bool on_token(void *ctx, int32_t id) {
    answer_stream *s = ctx;
    if (is_stop(s->c, id) || !in_vocab(s->c, id)) return true;
    s->status = whet_tokens_push(&s->ids, id, &s->err);
    if (s->status == WHET_OK && whet_tokenizer_token_type(s->c->tok, id) != WHET_TOKEN_BYTE)
        s->status = stream_step(s, false, &s->err);
    return s->status == WHET_OK;
}

static whet_status push_message(cJSON *history, const char *role, const char *content, whet_error *err) {
    cJSON *m = cJSON_CreateObject();
    if (!m || !cJSON_AddStringToObject(m, "role", role) || !cJSON_AddStringToObject(m, "content", content) ||
        !cJSON_AddItemToArray(history, m)) {
        cJSON_Delete(m);
        return whet_errorf(err, WHET_ERR_NOMEM, "out of memory");
    }
    return WHET_OK;
}

/* One turn: add the user message, generate (streamed), add the answer. */
static whet_status chat_turn(chat *c, const char *user, whet_error *err) {
    WHET_TRY(push_message(c->history, "user", user, err));
    whet_tokens ids = {0};
    whet_status st = build_prompt(c, &ids, err);
    int max_new = whet_cli_gen_max_new_tokens(&c->a.gen, &c->gc, 1024);
    int ctx = c->m->cfg.max_position_embeddings;
    if (st == WHET_OK && ctx > 0 && (int64_t)ids.n + max_new > ctx) {
        max_new = ctx - (int)ids.n;
        if (max_new <= 0)
            st = whet_errorf(err, WHET_ERR_INVALID_ARG, "the conversation is %zu tokens, the model's context is %d; "
                                                        "type `clear` to start over", ids.n, ctx);
    }
    int32_t *out = st == WHET_OK ? malloc((size_t)(max_new > 0 ? max_new : 1) * sizeof *out) : NULL;
    if (st == WHET_OK && !out) st = whet_errorf(err, WHET_ERR_NOMEM, "out of memory");
    answer_stream s = {.c = c};
    int n_out = 0;
    whet_generate_stats gs = {0};
    if (st == WHET_OK) {
        whet_generate_opts o = {.max_new_tokens = max_new, .eos_ids = c->stop.ids, .n_eos = (int)c->stop.n,
                                .on_token = on_token, .on_token_ctx = &s};
        whet_cli_gen_sampling(&c->a.gen, &c->gc, &o.sampling);
        st = whet_generate(c->m, ids.ids, (int)ids.n, &o, out, &n_out, &gs, err);
        if (st == WHET_OK && s.status != WHET_OK) st = s.status, *err = s.err;
    }
    if (st == WHET_OK && s.read < s.ids.n) st = stream_step(&s, true, err);
    if (st == WHET_OK) printf("\n"), fflush(stdout);
    whet_strbuf answer;
    whet_sb_init(&answer);
    if (st == WHET_OK) st = whet_tokenizer_decode(c->tok, s.ids.ids, s.ids.n, true, &answer, err);
    if (st == WHET_OK) st = push_message(c->history, "assistant", answer.len ? answer.data : "", err);
    else cJSON_DeleteItemFromArray(c->history, cJSON_GetArraySize(c->history) - 1); /* drop the failed user turn */
    if (st == WHET_OK && c->a.gen.verbose)
        fprintf(stderr, "[prompt %d tokens, %.1f tok/s prefill; answer %d tokens, %.1f tok/s%s]\n", gs.n_prompt,
                gs.prefill_seconds > 0 ? gs.n_prompt / gs.prefill_seconds : 0.0, gs.n_new,
                gs.decode_seconds > 0 ? (gs.n_new - 1) / gs.decode_seconds : 0.0, gs.stopped_at_eos ? ", stopped at eos" : "");
    whet_sb_free(&answer);
    whet_tokens_free(&s.ids);
    whet_tokens_free(&ids);
    free(out);
    return st;
}

/* Strip the trailing newline (and CR) getline keeps. */
static void chomp(char *line) {
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
}

static int repl(chat *c) {
    printf("Welcome to the CLI application, use `clear` to remove the history, use `exit` to exit the application.\n");
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    for (;;) {
        printf("\nUser: ");
        fflush(stdout);
        if (getline(&line, &cap, stdin) < 0) { printf("\n"); break; }
        chomp(line);
        if (!strcmp(line, "exit") || !strcmp(line, "/exit")) break;
        if (!strcmp(line, "clear") || !strcmp(line, "/clear")) {
            cJSON_Delete(c->history);
            c->history = cJSON_CreateArray();
            printf("History has been removed.\n");
            continue;
        }
        if (!line[0]) continue;
        printf("Assistant: ");
        fflush(stdout);
        whet_error err = {0};
        if (chat_turn(c, line, &err) != WHET_OK) {
            printf("\n");
            whet_cli_fail("chat", err.msg);
            if (err.code == WHET_ERR_NOMEM || err.code == WHET_ERR_INTERNAL) { rc = 1; break; }
        }
    }
    free(line);
    return rc;
}

static int run_chat(int argc, char **argv) {
    if (whet_cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    chat c = {0};
    if (parse_args(argc, argv, &c.a)) return 2;
    if (!c.a.model_dir) return whet_cli_fail("chat", "--model_name_or_path DIR is required (a Hugging Face model folder)");
    if (c.a.gen.set_max && c.a.gen.max_new_tokens <= 0) return whet_cli_fail("chat", "--max_new_tokens must be at least 1");
    whet_error err = {0};
    int rc = 0;
    if (chat_open(&c, &err) != WHET_OK) rc = whet_cli_fail("chat", err.msg);
    else if (c.a.prompt) rc = chat_turn(&c, c.a.prompt, &err) == WHET_OK ? 0 : whet_cli_fail("chat", err.msg);
    else rc = repl(&c);
    chat_free(&c);
    return rc;
}

const whet_command whet_cmd_chat = {"chat", "chat with a model (its chat template, streamed; --prompt for one turn)", run_chat};
