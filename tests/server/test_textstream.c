/* test_textstream.c: generated ids -> streamed text. Pushing the ids of a
 * text one by one after its first ids as context yields exactly HF's
 * decode(all)[len(decode(context)):] (the tokenizer is checked against HF
 * in tests/tokenizer), with multi-byte characters held until complete; stop
 * strings that span token boundaries end the text just before them and
 * a partial stop-string prefix is released once it cannot match. */
#include <stdlib.h>
#include <string.h>
#include "server/textstream.h"
#include "test.h"

static char *decode(const whet_tokenizer *tok, const int32_t *ids, size_t n) {
    whet_strbuf sb;
    whet_sb_init(&sb);
    whet_sb_append(&sb, "", 0);
    whet_error err;
    CHECK_OK(whet_tokenizer_decode(tok, ids, n, true, &sb, &err), &err);
    return whet_sb_take(&sb);
}

/* Stream ids[n_ctx..n) after ids[0..n_ctx) with the given stops. */
static char *stream(const whet_tokenizer *tok, const whet_tokens *ids, int n_ctx, const char *const *stops, int n_stops,
                    bool *hit, int *n_pushed) {
    whet_textstream ts;
    whet_error err = {0};
    CHECK_OK(whet_textstream_init(&ts, tok, ids->ids, n_ctx, stops, n_stops, (int)ids->n, &err), &err);
    whet_strbuf out;
    whet_sb_init(&out);
    whet_sb_append(&out, "", 0);
    *hit = false;
    *n_pushed = 0;
    for (size_t i = (size_t)n_ctx; i < ids->n && !*hit; i++) {
        *hit = whet_textstream_push(&ts, ids->ids[i], &out);
        (*n_pushed)++;
    }
    if (!*hit) whet_textstream_flush(&ts, &out);
    whet_textstream_free(&ts);
    return whet_sb_take(&out);
}

static void check_text(const char *dir, const char *text) {
    whet_tokenizer *tok = NULL;
    whet_error err = {0};
    CHECK_OK(whet_tokenizer_load_dir(dir, &tok, &err), &err);
    if (!tok) return;
    whet_tokens ids = {0};
    CHECK_OK(whet_tokenizer_encode(tok, text, strlen(text), true, &ids, &err), &err);
    int n_ctx = 3;
    char *full = decode(tok, ids.ids, ids.n), *head = decode(tok, ids.ids, (size_t)n_ctx);
    const char *want = full + strlen(head);
    bool hit;
    int pushed;
    char *got = stream(tok, &ids, n_ctx, NULL, 0, &hit, &pushed);
    CHECK_STR_EQ(got, want);
    CHECK(!hit);
    free(got);

    /* a stop string across token boundaries: the text ends right before it */
    const char *stop = strstr(want, "ran to");
    CHECK(stop != NULL);
    const char *stops[] = {"zzz", "ran to"};
    got = stream(tok, &ids, n_ctx, stops, 2, &hit, &pushed);
    CHECK(hit);
    CHECK_MSG(stop && strlen(got) == (size_t)(stop - want) && strncmp(got, want, strlen(got)) == 0,
              "stop: got \"%s\"", got);
    CHECK(pushed < (int)ids.n - n_ctx);
    free(got);

    /* a stop string whose start appears but never completes: everything comes out */
    const char *never[] = {"ran to the moon"};
    got = stream(tok, &ids, n_ctx, never, 1, &hit, &pushed);
    CHECK(!hit);
    CHECK_STR_EQ(got, want);
    free(got);
    printf("%s: streamed text == HF-style decode difference, stops across tokens\n", strrchr(dir, '/') + 1);
    free(full);
    free(head);
    whet_tokens_free(&ids);
    whet_tokenizer_free(tok);
}

int main(void) {
    /* SentencePiece (leading-space rule, byte fallback for the CJK and emoji) and byte-level BPE */
    const char *text = "Once upon a time, the cat ran to the park. 猫がいた 🐱 and then it ran to the sea.";
    check_text(WHET_SOURCE_DIR "/models/stories260K-hf", text);
    check_text(WHET_FIXTURES "/models/qwen2-tiny", text);
    check_text(WHET_FIXTURES "/models/llama3-tiny", text);
    return TEST_SUMMARY();
}
