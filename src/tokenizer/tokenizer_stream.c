/* tokenizer_stream.c: the streaming detokenizer. Each new id is decoded
 * together with a few previous ids as context (decoders such as Strip or
 * ByteFallback look across tokens); the text beyond the context's own decode is
 * emitted unless it ends in U+FFFD, which means an incomplete UTF-8 sequence
 * still waiting for its next byte token, or the newest id is itself a byte
 * token (a byte-fallback run can still change how the text before it
 * decodes). If a later id does change text already emitted, the stream
 * emits what follows the common prefix and goes on from there instead of
 * stalling. This is the incremental scheme of transformers' TextStreamer /
 * vLLM's detokenize_incrementally. */
#include <string.h>
#include "tokenizer/tokenizer.h"

void whet_detok_init(whet_detok_stream *s, const whet_tokenizer *t, bool skip_special) {
    memset(s, 0, sizeof *s);
    s->tok = t;
    s->skip_special = skip_special;
}

void whet_detok_free(whet_detok_stream *s) {
    whet_tokens_free(&s->ids);
    memset(s, 0, sizeof *s);
}

static bool ends_incomplete(const whet_strbuf *b) {
    return b->len >= 3 && memcmp(b->data + b->len - 3, "\xef\xbf\xbd", 3) == 0;
}

/* Decode ids[prefix..read) and ids[prefix..n); emit the new part when final (or `force`). */
static whet_status step(whet_detok_stream *s, bool force, whet_strbuf *out, whet_error *err) {
    whet_strbuf ctx, all;
    whet_sb_init(&ctx);
    whet_sb_init(&all);
    const int32_t *ids = s->ids.ids + s->prefix;
    whet_status st = whet_tokenizer_decode(s->tok, ids, s->read - s->prefix, s->skip_special, &ctx, err);
    if (st == WHET_OK) st = whet_tokenizer_decode(s->tok, ids, s->ids.n - s->prefix, s->skip_special, &all, err);
    bool last_is_byte = s->ids.n > 0 && whet_tokenizer_token_type(s->tok, s->ids.ids[s->ids.n - 1]) == WHET_TOKEN_BYTE;
    bool hold = !force && (ends_incomplete(&all) || last_is_byte);
    if (st == WHET_OK && !hold) {
        size_t common = 0;   /* = ctx.len unless a later id rewrote text already emitted */
        while (common < ctx.len && common < all.len && ctx.data[common] == all.data[common]) common++;
        if (all.len > common) whet_sb_append(out, all.data + common, all.len - common);
        s->prefix = s->read;
        s->read = s->ids.n;
    }
    whet_sb_free(&ctx);
    whet_sb_free(&all);
    return st;
}

whet_status whet_detok_feed(whet_detok_stream *s, int32_t id, whet_strbuf *out, whet_error *err) {
    WHET_TRY(whet_tokens_push(&s->ids, id, err));
    return step(s, false, out, err);
}

whet_status whet_detok_flush(whet_detok_stream *s, whet_strbuf *out, whet_error *err) {
    if (s->read == s->ids.n) return WHET_OK;
    return step(s, true, out, err);
}
