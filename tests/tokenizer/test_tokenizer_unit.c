/* test_tokenizer_unit.c: the tokenizer API around the encoder: what
 * tokenizer_config.json / chat_template.jinja provide (checked against the
 * files' own values), vocabulary accessors, parse_special=false, errors for
 * malformed files (they must name the file and the key), the streaming
 * detokenizer (its pieces must concatenate to decode() and each be valid
 * UTF-8), O(n log n) merging on one long SentencePiece word, and the
 * vocab.json + merges.txt layout against the HF goldens. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "core/file.h"
#include "core/json.h"
#include "test.h"
#include "tokenizer/bpe.h"
#include "tokenizer/tokenizer.h"

#define QWEN_TINY WHET_FIXTURES "/models/qwen2-tiny"
#define LLAMA2 WHET_FIXTURES "/tokenizer/llama2"

static whet_tokenizer *load(const char *dir) {
    whet_error err = {0};
    whet_tokenizer *t = NULL;
    CHECK_OK(whet_tokenizer_load_dir(dir, &t, &err), &err);
    return t;
}

/* The real Qwen2.5 tokenizer (tests/fixtures/real-tokenizers.tar.xz, unpacked by CMake). */
static void test_config_qwen(void) {
    whet_tokenizer *q = load(WHET_REAL_FIXTURES "/tokenizers/qwen2.5");
    if (!q) return;
    /* qwen2.5 tokenizer_config.json: eos "<|im_end|>", pad "<|endoftext|>", bos null, add_bos_token false */
    CHECK_EQ_INT(whet_tokenizer_get_kind(q), WHET_TOK_BPE_BYTELEVEL);
    CHECK_STR_EQ(whet_tokenizer_eos_token(q), "<|im_end|>");
    CHECK_EQ_INT(whet_tokenizer_eos_id(q), whet_tokenizer_piece_to_id(q, "<|im_end|>"));
    CHECK_EQ_INT(whet_tokenizer_pad_id(q), whet_tokenizer_piece_to_id(q, "<|endoftext|>"));
    CHECK_EQ_INT(whet_tokenizer_bos_id(q), -1);
    CHECK_STR_EQ(whet_tokenizer_bos_token(q), "");
    CHECK(!whet_tokenizer_add_bos(q) && !whet_tokenizer_add_eos(q));
    CHECK(whet_tokenizer_chat_template(q) && strstr(whet_tokenizer_chat_template(q), "<|im_start|>"));
    CHECK_STR_EQ(whet_tokenizer_pre_name(q), "qwen2");
    CHECK_EQ_INT(whet_tokenizer_vocab_size(q), 151665);
    CHECK_EQ_INT(whet_tokenizer_n_merges(q), 151387);
    CHECK_STR_EQ(whet_tokenizer_merge(q, 0), "\xc4\xa0 \xc4\xa0"); /* "Ġ Ġ" */
    int32_t the = whet_tokenizer_piece_to_id(q, "\xc4\xa0the");
    CHECK(the >= 0);
    CHECK_STR_EQ(whet_tokenizer_id_to_piece(q, the), "\xc4\xa0the");
    CHECK_EQ_INT(whet_tokenizer_piece_to_id(q, " the"), -1); /* raw text is not a piece */
    CHECK(whet_tokenizer_is_special(q, whet_tokenizer_eos_id(q)) && !whet_tokenizer_is_special(q, the));
    CHECK_EQ_INT(whet_tokenizer_token_type(q, whet_tokenizer_eos_id(q)), WHET_TOKEN_CONTROL);
    CHECK_EQ_INT(whet_tokenizer_token_type(q, the), WHET_TOKEN_NORMAL);
    CHECK_EQ_INT(whet_tokenizer_score(q, the), 0);
    whet_tokenizer_free(q);
}

static void test_config(void) {
    whet_tokenizer *q = load(QWEN_TINY), *l = load(LLAMA2), *s = load(WHET_SOURCE_DIR "/models/stories260K-hf");
    whet_tokenizer *l3 = load(WHET_FIXTURES "/models/llama3-tiny");
    whet_error err = {0};
    if (!q || !l || !s || !l3) goto done;
    /* qwen2-tiny tokenizer_config.json: eos "<|im_end|>", pad "<|endoftext|>", no bos */
    CHECK_STR_EQ(whet_tokenizer_eos_token(q), "<|im_end|>");
    CHECK_EQ_INT(whet_tokenizer_eos_id(q), 482);
    CHECK_EQ_INT(whet_tokenizer_pad_id(q), 480);
    CHECK_EQ_INT(whet_tokenizer_bos_id(q), -1);
    CHECK(!whet_tokenizer_add_bos(q));
    CHECK_STR_EQ(whet_tokenizer_pre_name(q), "qwen2");
    CHECK_STR_EQ(whet_tokenizer_pre_name(l3), "llama-bpe");
    static const char *pre_names[][2] = {{"deepseek-llm", "deepseek-llm"}, {"deepseek-v3", "deepseek-v3"}, {"gpt2-bytelevel", "gpt-2"},
                                         {"metaspace-first", "default"}};
    for (int i = 0; i < 4; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/tokenizer/variants/%s.json", WHET_FIXTURES, pre_names[i][0]);
        whet_tokenizer *v = NULL;
        CHECK_OK(whet_tokenizer_load_json(path, &v, &err), &err);
        if (v) CHECK_STR_EQ(whet_tokenizer_pre_name(v), pre_names[i][1]);
        whet_tokenizer_free(v);
    }
    /* llama2 tokenizer_config.json: bos <s> (1), eos </s> (2), add_bos_token true, no chat_template */
    CHECK_EQ_INT(whet_tokenizer_get_kind(l), WHET_TOK_BPE_SPM);
    CHECK_EQ_INT(whet_tokenizer_bos_id(l), 1);
    CHECK_EQ_INT(whet_tokenizer_eos_id(l), 2);
    CHECK_STR_EQ(whet_tokenizer_bos_token(l), "<s>");
    CHECK(whet_tokenizer_add_bos(l) && !whet_tokenizer_add_eos(l));
    CHECK(whet_tokenizer_chat_template(l) == NULL);
    CHECK_STR_EQ(whet_tokenizer_pre_name(l), "default");
    CHECK_EQ_INT(whet_tokenizer_token_type(l, 0), WHET_TOKEN_UNKNOWN);  /* <unk>: also an added special token */
    CHECK_EQ_INT(whet_tokenizer_token_type(l, 1), WHET_TOKEN_CONTROL);  /* <s> */
    CHECK_EQ_INT(whet_tokenizer_token_type(l, 3), WHET_TOKEN_BYTE);     /* <0x00> */
    CHECK_STR_EQ(whet_tokenizer_id_to_piece(l, 3), "<0x00>");
    /* stories260K (the demo model): AddedToken objects in tokenizer_config.json */
    CHECK_EQ_INT(whet_tokenizer_vocab_size(s), 512);
    CHECK_EQ_INT(whet_tokenizer_bos_id(s), 1);
    CHECK_EQ_INT(whet_tokenizer_eos_id(s), 2);
    CHECK(whet_tokenizer_add_bos(s));
    /* llama3-tiny: chat_template.jinja wins over tokenizer_config.json */
    char *jinja = NULL;
    size_t jlen;
    CHECK_OK(whet_read_file(WHET_FIXTURES "/models/llama3-tiny/chat_template.jinja", &jinja, &jlen, &err), &err);
    CHECK(jinja && whet_tokenizer_chat_template(l3) && strcmp(jinja, whet_tokenizer_chat_template(l3)) == 0);
    free(jinja);
    CHECK_EQ_INT(whet_tokenizer_bos_id(l3), whet_tokenizer_piece_to_id(l3, "<|begin_of_text|>"));
    CHECK(whet_tokenizer_add_bos(l3));  /* from the TemplateProcessing post-processor */
    /* tokenizer.json alone: BOS from the post-processor, no EOS */
    whet_tokenizer *j = NULL;
    CHECK_OK(whet_tokenizer_load_json(LLAMA2 "/tokenizer.json", &j, &err), &err);
    if (j) {
        CHECK_EQ_INT(whet_tokenizer_bos_id(j), 1);
        CHECK_STR_EQ(whet_tokenizer_bos_token(j), "<s>");
        CHECK(whet_tokenizer_add_bos(j) && !whet_tokenizer_add_eos(j));
        CHECK_EQ_INT(whet_tokenizer_eos_id(j), -1);
        CHECK(whet_tokenizer_chat_template(j) == NULL);
    }
    whet_tokenizer_free(j);
done:
    whet_tokenizer_free(q);
    whet_tokenizer_free(l);
    whet_tokenizer_free(s);
    whet_tokenizer_free(l3);
}

/* Llama-2 from tokenizer.json vs llama.cpp's GGUF of the same vocabulary: the
 * token types agree for every id, and the derived scores order the pieces as
 * tokenizer.model's scores do. */
static void test_spm_vocab_vs_gguf(void) {
    whet_tokenizer *l = load(LLAMA2);
    whet_error err = {0};
    if (!l) return;
    whet_tokenizer *g = NULL;
    CHECK_OK(whet_tokenizer_load_gguf(WHET_FIXTURES "/export/ggml-vocab-llama-spm.gguf", &g, &err), &err);
    if (g) {
        int inverted = 0, merged = 0;
        for (int32_t a = 3; a < 32000; a++) {
            if (whet_tokenizer_score(l, a) < -(float)whet_tokenizer_n_merges(l)) continue; /* no merge makes it */
            merged++;
            for (int32_t b = a + 1; b < a + 40 && b < 32000; b++)
                if (whet_tokenizer_score(l, b) >= -(float)whet_tokenizer_n_merges(l) &&
                    whet_tokenizer_score(g, a) != whet_tokenizer_score(g, b) && /* tokenizer.model ties (the -1e9 "▁▁▁" runs) */
                    (whet_tokenizer_score(l, a) > whet_tokenizer_score(l, b)) != (whet_tokenizer_score(g, a) > whet_tokenizer_score(g, b)))
                    inverted++;
        }
        CHECK_MSG(inverted == 0 && merged > 29000, "%d of %d merged pieces order differently from tokenizer.model's scores", inverted, merged);
        CHECK_EQ_INT(whet_tokenizer_score(g, 260), -1); /* "▁t" in the GGUF */
        int type_diff = 0;
        for (int32_t id = 0; id < 32000; id++) type_diff += whet_tokenizer_token_type(l, id) != whet_tokenizer_token_type(g, id);
        CHECK_MSG(type_diff == 0, "%d token types differ from llama.cpp's GGUF of the same vocabulary", type_diff);
        whet_tokenizer_free(g);
    }
    whet_tokenizer_free(l);
}

static void test_parse_special(void) {
    whet_tokenizer *q = load(QWEN_TINY);
    if (!q) return;
    whet_error err = {0};
    whet_tokens a = {0}, b = {0};
    const char *text = "<|im_start|>user";
    CHECK_OK(whet_tokenizer_encode_opts(q, text, strlen(text), false, true, &a, &err), &err);
    CHECK_OK(whet_tokenizer_encode_opts(q, text, strlen(text), false, false, &b, &err), &err);
    CHECK(a.n >= 2 && a.ids[0] == whet_tokenizer_piece_to_id(q, "<|im_start|>"));
    CHECK(b.n > a.n);
    for (size_t i = 0; i < b.n; i++) CHECK(!whet_tokenizer_is_special(q, b.ids[i]));
    whet_strbuf out;
    whet_sb_init(&out);
    CHECK_OK(whet_tokenizer_decode(q, b.ids, b.n, false, &out, &err), &err);
    CHECK_STR_EQ(out.data, text);
    whet_sb_clear(&out);
    CHECK_OK(whet_tokenizer_decode(q, a.ids, a.n, true, &out, &err), &err);
    CHECK_STR_EQ(out.data, "user");
    /* bad input */
    CHECK_EQ_INT(whet_tokenizer_encode(q, "ok\xff", 3, false, &a, &err), WHET_ERR_INVALID_ARG);
    CHECK_MSG(strstr(err.msg, "UTF-8") && strstr(err.msg, "byte 2"), "%s", err.msg);
    int32_t bad = 999999;  /* beyond any vocabulary here */
    CHECK_EQ_INT(whet_tokenizer_decode(q, &bad, 1, false, &out, &err), WHET_ERR_INVALID_ARG);
    CHECK_MSG(strstr(err.msg, "999999") != NULL, "%s", err.msg);
    whet_sb_free(&out);
    whet_tokens_free(&a);
    whet_tokens_free(&b);
    whet_tokenizer_free(q);
}

/* Write `json` as <tmp>/tokenizer.json, load the folder, expect failure whose message has all of `needles`. */
static void expect_load_error(const char *json, const char *needle1, const char *needle2) {
    char dir[] = "/tmp/whet_tok_XXXXXX", path[256];
    if (!mkdtemp(dir)) return;
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    FILE *f = fopen(path, "w");
    if (f) fputs(json, f), fclose(f);
    whet_error err = {0};
    whet_tokenizer *t = NULL;
    whet_status s = whet_tokenizer_load_dir(dir, &t, &err);
    CHECK_MSG(s != WHET_OK && t == NULL, "loading %s should fail", json);
    CHECK_MSG(strstr(err.msg, "tokenizer.json") && strstr(err.msg, needle1) && (!needle2 || strstr(err.msg, needle2)),
              "message \"%s\" should name the file, \"%s\"%s%s", err.msg, needle1, needle2 ? " and " : "", needle2 ? needle2 : "");
    whet_tokenizer_free(t);
    unlink(path);
    rmdir(dir);
}

static void test_errors(void) {
    const char *model = "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[\"a b\"]}";
    char buf[1024];
    expect_load_error("{\"model\": {\"type\": \"BPE\",\n  \"vocab\": {\"a\": 0,,}}}", ":2:", NULL);
    expect_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":[1,2],\"merges\":[]}}", "model.vocab", NULL);
    expect_load_error("{\"model\":{\"type\":\"Unigram\",\"vocab\":[]}}", "model.type", "Unigram");
    expect_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a zz\"]}}", "model.merges[0]", "a zz");
    expect_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[7]}}", "model.merges[0]", NULL);
    snprintf(buf, sizeof buf, "{%s,\"normalizer\":{\"type\":\"BertNormalizer\"}}", model);
    expect_load_error(buf, "normalizer", "\"BertNormalizer\"");
    snprintf(buf, sizeof buf, "{%s,\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(\"},\"behavior\":\"Isolated\"}]}}", model);
    expect_load_error(buf, "pre_tokenizer.pretokenizers[0]", "does not compile");
    snprintf(buf, sizeof buf, "{%s,\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"a\"},\"behavior\":\"Sideways\"}}", model);
    expect_load_error(buf, "pre_tokenizer.behavior", NULL);
    snprintf(buf, sizeof buf, "{%s,\"added_tokens\":[{\"content\":\"<x>\"}]}", model);
    expect_load_error(buf, "added_tokens[0]", "id");
    snprintf(buf, sizeof buf, "{%s,\"decoder\":{\"type\":\"WordPiece\"}}", model);
    expect_load_error(buf, "decoder", "\"WordPiece\"");
    snprintf(buf, sizeof buf, "{%s,\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\"}}],\"special_tokens\":{}}}", model);
    expect_load_error(buf, "post_processor", "<s>");
    whet_error err = {0};
    whet_tokenizer *t = NULL;
    CHECK_EQ_INT(whet_tokenizer_load_dir("/nonexistent/model", &t, &err), WHET_ERR_NOT_FOUND);
    CHECK_MSG(strstr(err.msg, "/nonexistent/model") && strstr(err.msg, "tokenizer.json"), "%s", err.msg);
}

static void test_stream(void) {
    const char *dirs[] = {QWEN_TINY, LLAMA2, WHET_FIXTURES "/models/llama-tiny", WHET_SOURCE_DIR "/models/stories260K-hf"};
    const char *texts[] = {"Hello world, 你好世界！ emoji 😀👍🏽 ok", "  leading\n\nand trailing  ", "日本語のテキスト",
                           "<s>[INST] hi [/INST] <|im_start|>x", "ǅ ß é (NFC) Ⅻ ½ ① \xe2\x80\x8b"};
    int streams = 0, ok = 0;
    for (size_t d = 0; d < 4; d++) {
        whet_tokenizer *t = load(dirs[d]);
        if (!t) continue;
        for (size_t i = 0; i < 5; i++)
            for (int skip = 0; skip < 2; skip++) {
                whet_error err = {0};
                whet_tokens ids = {0};
                CHECK_OK(whet_tokenizer_encode(t, texts[i], strlen(texts[i]), true, &ids, &err), &err);
                whet_strbuf whole, streamed, piece;
                whet_sb_init(&whole);
                whet_sb_init(&streamed);
                whet_sb_init(&piece);
                CHECK_OK(whet_tokenizer_decode(t, ids.ids, ids.n, skip, &whole, &err), &err);
                whet_detok_stream st;
                whet_detok_init(&st, t, skip);
                bool pieces_valid = true;
                for (size_t k = 0; k < ids.n; k++) {
                    whet_sb_clear(&piece);
                    CHECK_OK(whet_detok_feed(&st, ids.ids[k], &piece, &err), &err);
                    pieces_valid = pieces_valid && test_utf8_valid(piece.data ? piece.data : "", piece.len);
                    whet_sb_append(&streamed, piece.data ? piece.data : "", piece.len);
                }
                CHECK_OK(whet_detok_flush(&st, &streamed, &err), &err);
                whet_sb_append(&streamed, "", 0);
                bool same = strcmp(streamed.data, whole.data ? whole.data : "") == 0;
                CHECK_MSG(same && pieces_valid, "%s text %zu: streamed \"%s\" vs decode \"%s\"%s", dirs[d], i, streamed.data,
                          whole.data, pieces_valid ? "" : " (a piece was not valid UTF-8)");
                ok += same && pieces_valid;
                streams++;
                whet_detok_free(&st);
                whet_sb_free(&whole);
                whet_sb_free(&streamed);
                whet_sb_free(&piece);
                whet_tokens_free(&ids);
            }
        whet_tokenizer_free(t);
    }
    printf("streaming detokenizer: %d/%d streams equal decode()\n", ok, streams);
}

static double encode_seconds(const whet_tokenizer *t, const char *s, size_t n) {
    double best = 1e30;
    for (int r = 0; r < 3; r++) {
        whet_tokens ids = {0};
        whet_error err = {0};
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        CHECK_OK(whet_tokenizer_encode(t, s, n, false, &ids, &err), &err);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double dt = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
        if (dt < best) best = dt;
        whet_tokens_free(&ids);
    }
    return best;
}

/* Llama-2 has no pre-tokenizer: a text without spaces is one word for the merge loop. */
static void test_long_word(void) {
    whet_tokenizer *l = load(LLAMA2);
    if (!l) return;
    size_t big = 400000, small = 40000;
    char *s = malloc(big + 1);
    for (size_t i = 0; i < big; i++) s[i] = "abcdefgh"[(i * 7 + i / 5) % 8];
    s[big] = 0;
    double ts = encode_seconds(l, s, small), tb = encode_seconds(l, s, big);
    printf("one %zu-byte word: %.3f s; %zu bytes: %.4f s (ratio %.1f for 10x the input)\n", big, tb, small, ts, tb / ts);
    /* quadratic merging would take ~100x; n log n takes ~10-13x */
    CHECK_MSG(tb < 40 * ts, "merging is not n log n: %g s vs %g s", tb, ts);
    whet_tokens ids = {0};
    whet_error err = {0};
    whet_strbuf out;
    whet_sb_init(&out);
    CHECK_OK(whet_tokenizer_encode(l, s, big, false, &ids, &err), &err);
    CHECK_OK(whet_tokenizer_decode(l, ids.ids, ids.n, false, &out, &err), &err);
    CHECK(out.data && strcmp(out.data, s) == 0);
    whet_sb_free(&out);
    whet_tokens_free(&ids);
    free(s);
    whet_tokenizer_free(l);
}

/* vocab.json + merges.txt (+ tokenizer_config.json) of Qwen2.5 against the HF goldens. */
static void test_vocab_merges(void) {
    const char *src = WHET_REAL_FIXTURES "/tokenizers/qwen2.5";
    static const char *files[] = {"vocab.json", "merges.txt", "tokenizer_config.json"};
    char dir[] = "/tmp/whet_vm_XXXXXX", from[1200], to[1200];
    if (!mkdtemp(dir)) return;
    bool have = true;
    for (int i = 0; i < 3 && have; i++) {
        snprintf(from, sizeof from, "%s/%s", src, files[i]);
        snprintf(to, sizeof to, "%s/%s", dir, files[i]);
        have = whet_file_exists(from) && symlink(from, to) == 0;
    }
    whet_error err = {0};
    cJSON *gold = NULL;
    whet_tokenizer *t = NULL;
    CHECK_MSG(have, "vocab.json + merges.txt: %s missing (unpacked from tests/fixtures/real-tokenizers.tar.xz)", src);
    if (!have) goto done;
    CHECK_OK(whet_tokenizer_load_dir(dir, &t, &err), &err);
    CHECK_OK(whet_json_parse_file(WHET_REAL_FIXTURES "/tokenize_real.json", &gold, &err), &err);
    if (!t || !gold) goto done;
    const cJSON *corpus = cJSON_GetObjectItem(gold, "corpus");
    const cJSON *want = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(gold, "tokenizers"), "qwen2.5"), "ids");
    int ok = 0, n = 0;
    const cJSON *w = want->child;
    for (const cJSON *s = corpus->child; s && w; s = s->next, w = w->next, n++) {
        whet_tokens ids = {0};
        bool same = whet_tokenizer_encode(t, s->valuestring, strlen(s->valuestring), false, &ids, &err) == WHET_OK &&
                    (size_t)cJSON_GetArraySize(w) == ids.n;
        size_t k = 0;
        for (const cJSON *e = w->child; same && e; e = e->next, k++) same = e->valueint == ids.ids[k];
        CHECK_MSG(same, "vocab.json + merges.txt: corpus[%d] differs from HF", n);
        ok += same;
        whet_tokens_free(&ids);
    }
    printf("vocab.json + merges.txt (qwen2.5): %d/%d corpus strings match HF\n", ok, n);
    CHECK_EQ_INT(whet_tokenizer_eos_id(t), 151645);
done:
    cJSON_Delete(gold);
    whet_tokenizer_free(t);
    for (int i = 0; i < 3; i++) {
        snprintf(to, sizeof to, "%s/%s", dir, files[i]);
        unlink(to);
    }
    rmdir(dir);
}

/* GPT-2's bytes_to_unicode built as in its encoder.py: printable bytes map to
 * themselves, the other 68 to U+0100.. in byte order. */
static void test_byte_alphabet(void) {
    int bs[256], cs[256], nb = 0, n = 0;
    for (int b = 0; b < 256; b++)
        if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)) bs[nb] = cs[nb] = b, nb++;
    for (int b = 0; b < 256; b++) {
        bool listed = false;
        for (int k = 0; k < nb && !listed; k++) listed = bs[k] == b;
        if (!listed) bs[nb] = b, cs[nb] = 256 + n++, nb++;
    }
    int bad = 0;
    for (int k = 0; k < 256; k++)
        bad += whet_byte_to_unicode((uint8_t)bs[k]) != (uint32_t)cs[k] || whet_unicode_to_byte((uint32_t)cs[k]) != bs[k];
    for (uint32_t cp = 0; cp < 1024; cp++) {
        int b = whet_unicode_to_byte(cp);
        bad += b >= 0 && whet_byte_to_unicode((uint8_t)b) != cp;
    }
    CHECK_EQ_INT(bad, 0);
}

/* One tokenizer, four threads encoding the same texts at once: every result
 * equals the single-threaded one (the loaded tokenizer is read-only). */
typedef struct {
    const whet_tokenizer *t;
    const char *const *texts;
    int n;
    size_t *sums;   /* per text: sum of (i+1)*id */
    int failures;
} thread_job;

static size_t id_sum(const whet_tokens *ids) {
    size_t s = 0;
    for (size_t i = 0; i < ids->n; i++) s += (i + 1) * (size_t)ids->ids[i];
    return s;
}

static void *encode_all(void *arg) {
    thread_job *j = arg;
    for (int rep = 0; rep < 20; rep++)
        for (int i = 0; i < j->n; i++) {
            whet_tokens ids = {0};
            whet_error err = {0};
            if (whet_tokenizer_encode(j->t, j->texts[i], strlen(j->texts[i]), true, &ids, &err) != WHET_OK ||
                id_sum(&ids) != j->sums[i])
                j->failures++;
            whet_tokens_free(&ids);
        }
    return NULL;
}

static void test_threads(void) {
    whet_tokenizer *t = load(LLAMA2);
    if (!t) return;
    static const char *texts[] = {"Hello world, 你好世界！", "<s>[INST] hi [/INST]", "  spaces  and\ttabs\n", "emoji 😀👍🏽 ok",
                                  "def f(x):\n    return x**2\n", "ǅ ß é Ⅻ ½"};
    size_t sums[6];
    for (int i = 0; i < 6; i++) {
        whet_tokens ids = {0};
        whet_error err = {0};
        CHECK_OK(whet_tokenizer_encode(t, texts[i], strlen(texts[i]), true, &ids, &err), &err);
        sums[i] = id_sum(&ids);
        whet_tokens_free(&ids);
    }
    thread_job jobs[4];
    pthread_t th[4];
    for (int k = 0; k < 4; k++) {
        jobs[k] = (thread_job){t, texts, 6, sums, 0};
        CHECK(pthread_create(&th[k], NULL, encode_all, &jobs[k]) == 0);
    }
    for (int k = 0; k < 4; k++) {
        pthread_join(th[k], NULL);
        CHECK_EQ_INT(jobs[k].failures, 0);
    }
    whet_tokenizer_free(t);
}

int main(void) {
    test_byte_alphabet();
    test_threads();
    test_config_qwen();
    test_config();
    test_spm_vocab_vs_gguf();
    test_parse_special();
    test_errors();
    test_stream();
    test_long_word();
    test_vocab_merges();
    return TEST_SUMMARY();
}
