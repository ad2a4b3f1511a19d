/* tokenizer_gguf.c: a tokenizer from a GGUF file's tokenizer.ggml.* metadata
 * (llama.cpp's vocab layout). The metadata is turned into the equivalent
 * tokenizer.json document and loaded through the same code, so GGUF and HF
 * folders share one encoder:
 *   model "gpt2"  -> byte-level BPE with the merges, the pre-tokenizer regexes
 *                    llama.cpp uses for tokenizer.ggml.pre (src/llama-vocab.cpp),
 *                    Isolated splits then ByteLevel;
 *   model "llama" -> SentencePiece-style BPE: "▁" prefix and spaces, byte
 *                    fallback, and merges derived from the scores (every split
 *                    of a piece into two pieces, best score first), which is
 *                    what llama.cpp's SPM bigram loop computes.
 * Control tokens (type 3) become special added tokens, user-defined ones
 * (type 4) plain added tokens, both matched before pre-tokenization. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/gguf.h"
#include "tokenizer/bpe_tokenizer.h"

static const char GPT2_RE[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
static const char LLAMA3_RE[] =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char QWEN2_RE[] =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char DEEPSEEK_LATIN_RE[] = /* written as \\x{..} escapes: several of these code points change under NFC */
    "\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}\\x{1C4}-"
    "\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}\\x{37F}\\x{386}"
    "\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}"
    "\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}"
    "\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}"
    "\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}"
    "\\x{1F5D}\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}"
    "\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}"
    "\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}"
    "\\x{2126}\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-"
    "\\x{2149}\\x{214E}\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}"
    "\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}"
    "\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}"
    "\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-"
    "\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}]+";

/* llama.cpp's pre-tokenizer regex lists, by tokenizer.ggml.pre. */
static const struct {
    const char *names;  /* space-separated */
    const char *re[7];
    bool ignore_merges;
} PRE_TYPES[] = {
    {"llama-bpe llama3 dbrx smaug-bpe", {LLAMA3_RE}, true},
    {"qwen2 deepseek-r1-qwen stablelm2", {QWEN2_RE}, false},
    {"deepseek-llm", {"[\r\n]", DEEPSEEK_LATIN_RE, "\\s?[!-/:-~！-／：-～‘-‟　-。]+", "\\s+$", "[一-龥ࠀ-一가-퟿]+", "\\p{N}+"}, false},
    {"deepseek-coder", {"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[一-龥ࠀ-一가-퟿]+", "\\p{N}"}, false},
    {"deepseek-v3",
     {"\\p{N}{1,3}", "[一-龥぀-ゟ゠-ヿ]+",
      "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
      "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"},
     false},
    {"falcon", {"[\\p{P}\\$\\+<=>\\^~\\|`]+", GPT2_RE, "[0-9][0-9][0-9]"}, false},
    {"starcoder refact command-r smollm codeshell exaone minerva", {"\\p{N}", GPT2_RE}, false},
    {"gpt-2 mpt olmo jais", {GPT2_RE}, false},
    {"default", {"[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2_RE, "\\p{N}+", "[0-9][0-9][0-9]"}, false},
};

static bool name_in(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ' ');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0) return true;
        if (!e) break;
        p = e + 1;
    }
    return false;
}

typedef struct {
    const whet_gguf *g;
    const char *path;
    const whet_gguf_kv *tokens, *types, *scores, *merges;
    uint64_t n;
    char **text;  /* NUL-terminated copies of the token strings */
} gguf_vocab;

static int32_t token_type_at(const gguf_vocab *v, uint64_t i) {
    return v->types ? whet_gguf_arr_i32(v->types, i) : WHET_TOKEN_NORMAL;
}

static whet_status array_kv(const whet_gguf *g, const char *path, const char *key, whet_gguf_type type, uint64_t n,
                            bool required, const whet_gguf_kv **out, whet_error *err) {
    const whet_gguf_kv *kv = whet_gguf_find_kv(g, key);
    *out = NULL;
    if (!kv) return required ? whet_errorf(err, WHET_ERR_NOT_FOUND, "%s: no %s (not a GGUF with a vocabulary?)", path, key) : WHET_OK;
    if (kv->type != WHET_GGUF_ARRAY || kv->arr_type != type)
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: %s has the wrong type", path, key);
    if (n && kv->arr_n != n)
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: %s has %llu entries, tokenizer.ggml.tokens %llu", path, key,
                           (unsigned long long)kv->arr_n, (unsigned long long)n);
    *out = kv;
    return WHET_OK;
}

static whet_status read_vocab(gguf_vocab *v, whet_error *err) {
    WHET_TRY(array_kv(v->g, v->path, "tokenizer.ggml.tokens", WHET_GGUF_STRING, 0, true, &v->tokens, err));
    v->n = v->tokens->arr_n;
    WHET_TRY(array_kv(v->g, v->path, "tokenizer.ggml.token_type", WHET_GGUF_INT32, v->n, false, &v->types, err));
    WHET_TRY(array_kv(v->g, v->path, "tokenizer.ggml.scores", WHET_GGUF_FLOAT32, v->n, false, &v->scores, err));
    WHET_TRY(array_kv(v->g, v->path, "tokenizer.ggml.merges", WHET_GGUF_STRING, 0, false, &v->merges, err));
    v->text = calloc(v->n + 1, sizeof *v->text);
    if (!v->text) return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", v->path);
    for (uint64_t i = 0; i < v->n; i++) {
        uint64_t len;
        const char *s = whet_gguf_arr_str(v->tokens, i, &len);
        v->text[i] = malloc(len + 1);
        if (!v->text[i]) return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", v->path);
        memcpy(v->text[i], s, len);
        v->text[i][len] = 0;
    }
    return WHET_OK;
}

static void free_vocab(gguf_vocab *v) {
    for (uint64_t i = 0; v->text && i < v->n; i++) free(v->text[i]);
    free(v->text);
}

static bool in_model_vocab(int32_t type) { return type != WHET_TOKEN_CONTROL && type != WHET_TOKEN_USER_DEFINED; }

/* SPM merges: each (left, right) split of a normal piece, ordered by the
 * piece's score (best first), then by id. */
typedef struct {
    float score;
    int32_t id;
    uint32_t split;
} spm_merge;

static int by_score(const void *a, const void *b) {
    const spm_merge *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    if (x->id != y->id) return x->id < y->id ? -1 : 1;
    return x->split < y->split ? -1 : (x->split > y->split);
}

static whet_status spm_merges(const gguf_vocab *v, const whet_strmap *ids, cJSON *merges, whet_error *err) {
    size_t cap = 1024, n = 0;
    spm_merge *m = malloc(cap * sizeof *m);
    if (!m) return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", v->path);
    for (uint64_t i = 0; i < v->n; i++) {
        if (token_type_at(v, i) != WHET_TOKEN_NORMAL) continue;
        const char *s = v->text[i];
        size_t len = strlen(s);
        for (size_t k = 1; k < len; k++) {
            if (((unsigned char)s[k] & 0xC0) == 0x80) continue;
            if (whet_strmap_get(ids, s, k) < 0 || whet_strmap_get(ids, s + k, len - k) < 0) continue;
            if (n == cap) {
                spm_merge *nm = realloc(m, (cap *= 2) * sizeof *m);
                if (!nm) return free(m), whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", v->path);
                m = nm;
            }
            m[n++] = (spm_merge){v->scores ? whet_gguf_arr_f32(v->scores, i) : -(float)i, (int32_t)i, (uint32_t)k};
        }
    }
    qsort(m, n, sizeof *m, by_score);
    for (size_t i = 0; i < n; i++) {
        const char *s = v->text[m[i].id];
        char *left = strndup(s, m[i].split);
        cJSON *pair = cJSON_CreateArray();
        if (!left || !pair) return free(left), free(m), whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", v->path);
        cJSON_AddItemToArray(pair, cJSON_CreateString(left));
        cJSON_AddItemToArray(pair, cJSON_CreateString(s + m[i].split));
        cJSON_AddItemToArray(merges, pair);
        free(left);
    }
    free(m);
    return WHET_OK;
}

static cJSON *add_obj(cJSON *array) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToArray(array, o);
    return o;
}

static cJSON *split_step(const char *re) {
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "type", "Split");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(s, "pattern"), "Regex", re);
    cJSON_AddStringToObject(s, "behavior", "Isolated");
    cJSON_AddBoolToObject(s, "invert", false);
    return s;
}

static whet_status bytelevel_pipeline(const gguf_vocab *v, cJSON *root, cJSON *model, whet_error *err) {
    char pre[64] = "default";
    const whet_gguf_kv *kv = whet_gguf_find_kv(v->g, "tokenizer.ggml.pre");
    if (kv && kv->type == WHET_GGUF_STRING) snprintf(pre, sizeof pre, "%.*s", (int)kv->str_len, kv->str);
    size_t t = 0, nt = sizeof PRE_TYPES / sizeof PRE_TYPES[0];
    while (t < nt && !name_in(PRE_TYPES[t].names, pre)) t++;
    if (t == nt)
        return whet_errorf(err, WHET_ERR_UNSUPPORTED,
                           "%s: tokenizer.ggml.pre \"%s\" is not supported (supported: llama-bpe, qwen2, deepseek-llm, "
                           "deepseek-coder, deepseek-v3, falcon, starcoder, gpt-2, mpt, default and their aliases)",
                           v->path, pre);
    cJSON *seq = cJSON_AddObjectToObject(root, "pre_tokenizer");
    cJSON_AddStringToObject(seq, "type", "Sequence");
    cJSON *list = cJSON_AddArrayToObject(seq, "pretokenizers");
    for (int i = 0; i < 7 && PRE_TYPES[t].re[i]; i++) cJSON_AddItemToArray(list, split_step(PRE_TYPES[t].re[i]));
    cJSON *bl = cJSON_CreateObject();
    cJSON_AddStringToObject(bl, "type", "ByteLevel");
    cJSON_AddBoolToObject(bl, "add_prefix_space", false);
    cJSON_AddBoolToObject(bl, "use_regex", false);
    cJSON_AddItemToArray(list, bl);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(root, "decoder"), "type", "ByteLevel");
    cJSON_AddBoolToObject(model, "ignore_merges", PRE_TYPES[t].ignore_merges);
    cJSON *merges = cJSON_AddArrayToObject(model, "merges");
    for (uint64_t i = 0; v->merges && i < v->merges->arr_n; i++) {
        uint64_t len;
        const char *s = whet_gguf_arr_str(v->merges, i, &len);
        char *c = strndup(s, len);
        if (!c) return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", v->path);
        cJSON_AddItemToArray(merges, cJSON_CreateString(c));
        free(c);
    }
    return WHET_OK;
}

static bool gguf_bool(const whet_gguf *g, const char *key, bool def) {
    bool b;
    return whet_gguf_get_bool(g, key, &b, NULL) == WHET_OK ? b : def;
}

static whet_status spm_pipeline(const gguf_vocab *v, cJSON *root, cJSON *model, whet_error *err) {
    bool prefix = gguf_bool(v->g, "tokenizer.ggml.add_space_prefix", true);
    cJSON *norm = cJSON_AddObjectToObject(root, "normalizer");
    cJSON_AddStringToObject(norm, "type", "Sequence");
    cJSON *nl = cJSON_AddArrayToObject(norm, "normalizers");
    if (prefix) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "type", "Prepend");
        cJSON_AddStringToObject(p, "prepend", "\xe2\x96\x81");
        cJSON_AddItemToArray(nl, p);
    }
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "type", "Replace");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(r, "pattern"), "String", " ");
    cJSON_AddStringToObject(r, "content", "\xe2\x96\x81");
    cJSON_AddItemToArray(nl, r);
    cJSON *dec = cJSON_AddObjectToObject(root, "decoder");
    cJSON_AddStringToObject(dec, "type", "Sequence");
    cJSON *dl = cJSON_AddArrayToObject(dec, "decoders");
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "type", "Replace");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(d, "pattern"), "String", "\xe2\x96\x81");
    cJSON_AddStringToObject(d, "content", " ");
    cJSON_AddItemToArray(dl, d);
    cJSON_AddStringToObject(add_obj(dl), "type", "ByteFallback");
    cJSON_AddStringToObject(add_obj(dl), "type", "Fuse");
    if (prefix) {
        cJSON *strip = add_obj(dl);
        cJSON_AddStringToObject(strip, "type", "Strip");
        cJSON_AddStringToObject(strip, "content", " ");
        cJSON_AddNumberToObject(strip, "start", 1);
        cJSON_AddNumberToObject(strip, "stop", 0);
    }
    cJSON_AddBoolToObject(model, "byte_fallback", true);
    cJSON_AddBoolToObject(model, "fuse_unk", true);
    whet_strmap ids;
    WHET_TRY(whet_strmap_init(&ids, v->n, err));
    whet_status s = WHET_OK;
    for (uint64_t i = 0; i < v->n && s == WHET_OK; i++)
        if (in_model_vocab(token_type_at(v, i))) s = whet_strmap_put(&ids, v->text[i], strlen(v->text[i]), (int32_t)i, err);
    if (s == WHET_OK) s = spm_merges(v, &ids, cJSON_AddArrayToObject(model, "merges"), err);
    whet_strmap_free(&ids);
    return s;
}

static int32_t gguf_id(const whet_gguf *g, const char *key, uint64_t n) {
    uint32_t v;
    return whet_gguf_get_u32(g, key, &v, NULL) == WHET_OK && v < n ? (int32_t)v : -1;
}

/* Build the tokenizer.json equivalent of the GGUF vocabulary. */
static whet_status gguf_to_json(const gguf_vocab *v, bool spm, cJSON *root, whet_error *err) {
    cJSON *model = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    int32_t unk = gguf_id(v->g, "tokenizer.ggml.unknown_token_id", v->n);
    for (uint64_t i = 0; i < v->n; i++) {
        int32_t type = token_type_at(v, i);
        if (type == WHET_TOKEN_UNKNOWN && unk < 0) unk = (int32_t)i;
        if (in_model_vocab(type) || (spm && type == WHET_TOKEN_CONTROL))
            cJSON_AddItemToObject(vocab, v->text[i], cJSON_CreateNumber((double)i));
        if (type == WHET_TOKEN_CONTROL || type == WHET_TOKEN_USER_DEFINED) {
            cJSON *a = cJSON_CreateObject();
            cJSON_AddNumberToObject(a, "id", (double)i);
            cJSON_AddStringToObject(a, "content", v->text[i]);
            cJSON_AddBoolToObject(a, "normalized", false);
            cJSON_AddBoolToObject(a, "special", type == WHET_TOKEN_CONTROL);
            cJSON_AddItemToArray(added, a);
        }
    }
    if (unk >= 0 && in_model_vocab(token_type_at(v, (uint64_t)unk)))
        cJSON_AddStringToObject(model, "unk_token", v->text[unk]);
    WHET_TRY(spm ? spm_pipeline(v, root, model, err) : bytelevel_pipeline(v, root, model, err));
    int32_t bos = gguf_id(v->g, "tokenizer.ggml.bos_token_id", v->n);
    if (bos >= 0 && gguf_bool(v->g, "tokenizer.ggml.add_bos_token", spm)) {
        cJSON *pp = cJSON_AddObjectToObject(root, "post_processor");
        cJSON_AddStringToObject(pp, "type", "TemplateProcessing");
        cJSON *single = cJSON_AddArrayToObject(pp, "single");
        cJSON *st = cJSON_CreateObject();
        cJSON_AddStringToObject(cJSON_AddObjectToObject(st, "SpecialToken"), "id", "bos");
        cJSON_AddItemToArray(single, st);
        cJSON_AddStringToObject(cJSON_AddObjectToObject(add_obj(single), "Sequence"), "id", "A");
        cJSON_AddItemToObject(cJSON_AddObjectToObject(cJSON_AddObjectToObject(pp, "special_tokens"), "bos"), "ids", cJSON_CreateIntArray(&bos, 1));
    }
    return WHET_OK;
}

static whet_status special_from_gguf(whet_tokenizer *t, const gguf_vocab *v, whet_error *err) {
    t->bos_id = gguf_id(v->g, "tokenizer.ggml.bos_token_id", v->n);
    t->eos_id = gguf_id(v->g, "tokenizer.ggml.eos_token_id", v->n);
    t->pad_id = gguf_id(v->g, "tokenizer.ggml.padding_token_id", v->n);
    t->add_bos = t->n_post_prefix > 0;
    t->add_eos = gguf_bool(v->g, "tokenizer.ggml.add_eos_token", false);
    if (t->bos_id >= 0 && !(t->bos_token = strdup(v->text[t->bos_id]))) goto oom;
    if (t->eos_id >= 0 && !(t->eos_token = strdup(v->text[t->eos_id]))) goto oom;
    if (t->pad_id >= 0 && !(t->pad_token = strdup(v->text[t->pad_id]))) goto oom;
    if (v->scores) {
        if (!t->scores) t->scores = malloc(((size_t)t->vocab_size + 1) * sizeof *t->scores);
        if (!t->scores) goto oom;
        for (int32_t i = 0; i < t->vocab_size; i++) t->scores[i] = (uint64_t)i < v->n ? whet_gguf_arr_f32(v->scores, (uint64_t)i) : 0.0f;
    }
    if (v->types) {   /* as stored: llama.cpp's UNUSED padding and BYTE types survive a re-export */
        if (!(t->gguf_types = malloc((v->n ? v->n : 1) * sizeof *t->gguf_types))) goto oom;
        for (uint64_t i = 0; i < v->n; i++) t->gguf_types[i] = whet_gguf_arr_i32(v->types, i);
        t->n_gguf_types = (int32_t)v->n;
    }
    if (t->kind == WHET_TOK_BPE_SPM) {   /* the file's merges (or none), not the ones derived from the scores */
        t->has_gguf_merges = true;
        uint64_t nm = v->merges ? v->merges->arr_n : 0;
        if (nm && !(t->gguf_merges = calloc(nm, sizeof *t->gguf_merges))) goto oom;
        for (uint64_t i = 0; i < nm; i++, t->n_gguf_merges++) {
            uint64_t len;
            const char *m = whet_gguf_arr_str(v->merges, i, &len);
            if (!(t->gguf_merges[i] = strndup(m, len))) goto oom;
        }
    }
    const whet_gguf_kv *ct = whet_gguf_find_kv(v->g, "tokenizer.chat_template");
    if (ct && ct->type == WHET_GGUF_STRING && !(t->chat_template = strndup(ct->str, ct->str_len))) goto oom;
    return WHET_OK;
oom:
    return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", v->path);
}

whet_status whet_tokenizer_load_gguf(const char *path, whet_tokenizer **out, whet_error *err) {
    *out = NULL;
    whet_gguf *g;
    WHET_TRY(whet_gguf_open(path, &g, err));
    gguf_vocab v = {.g = g, .path = path};
    char model[32] = "";
    whet_status s = whet_gguf_get_str(g, "tokenizer.ggml.model", model, sizeof model, err);
    bool spm = strcmp(model, "llama") == 0;
    if (s == WHET_OK && !spm && strcmp(model, "gpt2") != 0)
        s = whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: tokenizer.ggml.model \"%s\" is not supported (gpt2 or llama)", path, model);
    if (s == WHET_OK) s = read_vocab(&v, err);
    cJSON *root = s == WHET_OK ? cJSON_CreateObject() : NULL;
    if (s == WHET_OK && !root) s = whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", path);
    if (s == WHET_OK) s = gguf_to_json(&v, spm, root, err);
    whet_tokenizer *t = NULL;
    if (s == WHET_OK) {
        t = calloc(1, sizeof *t);
        if (!t) s = whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", path);
        else t->bos_id = t->eos_id = t->pad_id = -1;
    }
    if (s == WHET_OK) s = whet_tokenizer_parse_json(t, root, path, err);
    if (s == WHET_OK) {
        const whet_gguf_kv *pre = whet_gguf_find_kv(g, "tokenizer.ggml.pre");
        if (pre && pre->type == WHET_GGUF_STRING) snprintf(t->pre_name, sizeof t->pre_name, "%.*s", (int)pre->str_len, pre->str);
        s = special_from_gguf(t, &v, err);
    }
    cJSON_Delete(root);
    free_vocab(&v);
    whet_gguf_close(g);
    if (s != WHET_OK) {
        whet_tokenizer_free(t);
        return s;
    }
    *out = t;
    return WHET_OK;
}
