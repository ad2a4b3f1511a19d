/* textstream.h: generated ids -> text as it is generated, the way vLLM's
 * detokenizer does it: a window of already-decoded ids is decoded with each
 * new id and only the new suffix is emitted, held back while it ends in an
 * incomplete UTF-8 sequence (U+FFFD); the last prompt ids seed the window
 * so SentencePiece's leading-space rule applies as in one full decode.
 * Stop strings are matched across token boundaries: text that could be the
 * start of a stop string is held until it is known not to be one, and the
 * stop string itself is never emitted (OpenAI's behaviour). */
#ifndef WHET_SERVER_TEXTSTREAM_H
#define WHET_SERVER_TEXTSTREAM_H
#include <stdbool.h>
#include <stdint.h>
#include "core/status.h"
#include "core/strbuf.h"
#include "tokenizer/tokenizer.h"

typedef struct {
    const whet_tokenizer *tok;
    int32_t *ids;                 /* [cap] context ids then generated ids */
    int n, cap;
    int prefix_offset, read_offset;
    whet_strbuf held;             /* decoded text not yet emitted (a possible stop-string start) */
    char **stops;                 /* [n_stops] owned copies */
    int n_stops;
    bool stopped;                 /* a stop string was found; nothing more is emitted */
    char *stop_hit;               /* the stop string that ended the text, or NULL */
} whet_textstream;

/* context: the last prompt ids (up to 6 are used). stops may be NULL. */
whet_status whet_textstream_init(whet_textstream *ts, const whet_tokenizer *tok, const int32_t *context, int n_context,
                                 const char *const *stops, int n_stops, int max_new, whet_error *err);
void whet_textstream_free(whet_textstream *ts);

/* Add one generated id; text that is final is appended to `out`. Returns
 * true when a stop string completed (out then ends just before it). */
bool whet_textstream_push(whet_textstream *ts, int32_t id, whet_strbuf *out);
/* The generation ended: emit whatever is held (incomplete UTF-8 included). */
void whet_textstream_flush(whet_textstream *ts, whet_strbuf *out);
#endif
