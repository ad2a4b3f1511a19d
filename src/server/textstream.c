/* textstream.c: incremental detokenization with prefix/read offsets and
 * stop-string matching over the held text (see textstream.h). */
#include "server/textstream.h"
#include <stdlib.h>
#include <string.h>

#define CONTEXT_IDS 6

whet_status whet_textstream_init(whet_textstream *ts, const whet_tokenizer *tok, const int32_t *context, int n_context,
                                 const char *const *stops, int n_stops, int max_new, whet_error *err) {
    memset(ts, 0, sizeof *ts);
    ts->tok = tok;
    int nc = n_context < CONTEXT_IDS ? n_context : CONTEXT_IDS;
    ts->cap = nc + (max_new > 0 ? max_new : 1) + 1;
    ts->ids = malloc((size_t)ts->cap * sizeof *ts->ids);
    ts->stops = n_stops > 0 ? calloc((size_t)n_stops, sizeof *ts->stops) : NULL;
    if (!ts->ids || (n_stops > 0 && !ts->stops)) {
        whet_textstream_free(ts);
        return whet_errorf(err, WHET_ERR_NOMEM, "out of memory for a text stream of %d tokens", max_new);
    }
    if (nc) memcpy(ts->ids, context + n_context - nc, (size_t)nc * sizeof *ts->ids);
    /* the window starts at the context, so its decoded text is the common prefix */
    ts->n = ts->read_offset = nc;
    ts->prefix_offset = 0;
    for (int i = 0; i < n_stops; i++) {
        ts->stops[i] = strdup(stops[i]);
        if (!ts->stops[i]) {
            whet_textstream_free(ts);
            return whet_errorf(err, WHET_ERR_NOMEM, "out of memory for stop strings");
        }
        ts->n_stops++;
    }
    whet_sb_init(&ts->held);
    return WHET_OK;
}

void whet_textstream_free(whet_textstream *ts) {
    free(ts->ids);
    for (int i = 0; i < ts->n_stops; i++) free(ts->stops[i]);
    free(ts->stops);
    whet_sb_free(&ts->held);
    memset(ts, 0, sizeof *ts);
}

static void decode_range(const whet_textstream *ts, int from, int to, whet_strbuf *out) {
    whet_sb_clear(out);
    whet_error err;
    if (to > from && whet_tokenizer_decode(ts->tok, ts->ids + from, (size_t)(to - from), true, out, &err) != WHET_OK)
        whet_sb_clear(out);
    if (!out->data) whet_sb_append(out, "", 0);
}

static bool ends_incomplete(const whet_strbuf *s) {
    return s->len >= 3 && memcmp(s->data + s->len - 3, "\xEF\xBF\xBD", 3) == 0;
}

/* Longest k < len(stop) such that text ends with stop[0..k). */
static size_t partial_stop_suffix(const char *text, size_t n, const char *stop) {
    size_t ls = strlen(stop);
    for (size_t k = ls > 0 ? ls - 1 : 0; k > 0; k--)
        if (k <= n && memcmp(text + n - k, stop, k) == 0) return k;
    return 0;
}

/* Move what is safe from `held` to `out`; true when a stop string completed. */
static bool release_held(whet_textstream *ts, whet_strbuf *out, bool final) {
    const char *h = ts->held.data ? ts->held.data : "";
    size_t n = ts->held.len, cut = n, keep_from = n;
    int hit = -1;
    for (int i = 0; i < ts->n_stops; i++) {
        if (!ts->stops[i][0]) continue;
        const char *at = memmem(h, n, ts->stops[i], strlen(ts->stops[i]));
        if (at && (size_t)(at - h) < cut) {
            cut = (size_t)(at - h);
            hit = i;
        }
    }
    if (hit >= 0) {
        whet_sb_append(out, h, cut);
        ts->stopped = true;
        ts->stop_hit = ts->stops[hit];
        whet_sb_clear(&ts->held);
        return true;
    }
    if (!final)
        for (int i = 0; i < ts->n_stops; i++) {
            size_t k = partial_stop_suffix(h, n, ts->stops[i]);
            if (n - k < keep_from) keep_from = n - k;
        }
    if (keep_from) whet_sb_append(out, h, keep_from);
    if (ts->held.data) {
        memmove(ts->held.data, h + keep_from, n - keep_from);
        ts->held.len = n - keep_from;
        ts->held.data[ts->held.len] = '\0';
    }
    return false;
}

bool whet_textstream_push(whet_textstream *ts, int32_t id, whet_strbuf *out) {
    if (ts->stopped) return true;
    if (ts->n == ts->cap) {
        int cap = ts->cap * 2;
        int32_t *p = realloc(ts->ids, (size_t)cap * sizeof *p);
        if (!p) return false;
        ts->ids = p;
        ts->cap = cap;
    }
    ts->ids[ts->n++] = id;
    whet_strbuf prefix, full;
    whet_sb_init(&prefix);
    whet_sb_init(&full);
    decode_range(ts, ts->prefix_offset, ts->read_offset, &prefix);
    decode_range(ts, ts->prefix_offset, ts->n, &full);
    if (full.len > prefix.len && !ends_incomplete(&full)) {
        whet_sb_append(&ts->held, full.data + prefix.len, full.len - prefix.len);
        ts->prefix_offset = ts->read_offset;
        ts->read_offset = ts->n;
    }
    whet_sb_free(&prefix);
    whet_sb_free(&full);
    return release_held(ts, out, false);
}

void whet_textstream_flush(whet_textstream *ts, whet_strbuf *out) {
    if (ts->stopped) return;
    if (ts->read_offset < ts->n) {
        whet_strbuf prefix, full;
        whet_sb_init(&prefix);
        whet_sb_init(&full);
        decode_range(ts, ts->prefix_offset, ts->read_offset, &prefix);
        decode_range(ts, ts->prefix_offset, ts->n, &full);
        if (full.len > prefix.len) whet_sb_append(&ts->held, full.data + prefix.len, full.len - prefix.len);
        ts->prefix_offset = ts->read_offset = ts->n;
        whet_sb_free(&prefix);
        whet_sb_free(&full);
    }
    release_held(ts, out, true);
}
