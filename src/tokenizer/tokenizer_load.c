/* tokenizer_load.c: building a whet_tokenizer from tokenizer.json: the BPE
 * model (vocab, merges as "a b" strings or [a, b] pairs, unk / byte_fallback /
 * fuse_unk / ignore_merges), added tokens, normalizer, pre-tokenizer,
 * post-processor and decoder. Every error names the file and the key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/json.h"
#include "tokenizer/bpe_tokenizer.h"

/* Lookup key of a vocab piece: byte-level pieces are decoded from the GPT-2
 * alphabet to raw bytes (a piece with a character outside it keeps its text). */
static char *piece_key(const char *piece, size_t len, bool byte_level, size_t *klen) {
    char *k = malloc(len + 1);
    if (!k) return NULL;
    size_t n = 0;
    bool raw_ok = byte_level;
    for (size_t i = 0; raw_ok && i < len;) {
        uint32_t cp;
        int cl = whet_utf8_decode(piece + i, len - i, &cp);
        int b = cl > 0 ? whet_unicode_to_byte(cp) : -1;
        if (b < 0) raw_ok = false;
        else k[n++] = (char)b, i += (size_t)cl;
    }
    if (!raw_ok) memcpy(k, piece, len), n = len;
    k[n] = 0;
    *klen = n;
    return k;
}

static whet_status parse_vocab(whet_bpe *m, const cJSON *vocab, const char *file, whet_error *err) {
    if (!cJSON_IsObject(vocab)) return whet_errorf(err, WHET_ERR_FORMAT, "%s: model.vocab: expected an object", file);
    int32_t max_id = -1;
    size_t count = 0;
    for (const cJSON *e = vocab->child; e; e = e->next, count++) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > 1e9 || e->valuedouble != (int32_t)e->valuedouble)
            return whet_errorf(err, WHET_ERR_FORMAT, "%s: model.vocab[\"%s\"]: expected a non-negative integer id", file,
                               e->string);
        if (e->valueint > max_id) max_id = e->valueint;
    }
    m->n_vocab = max_id + 1;
    m->pieces = calloc((size_t)m->n_vocab + 1, sizeof *m->pieces);
    m->piece_lens = calloc((size_t)m->n_vocab + 1, sizeof *m->piece_lens);
    m->keys = calloc((size_t)m->n_vocab + 1, sizeof *m->keys);
    m->key_lens = calloc((size_t)m->n_vocab + 1, sizeof *m->key_lens);
    if (!m->pieces || !m->piece_lens || !m->keys || !m->key_lens)
        return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory for %d vocab entries", file, m->n_vocab);
    WHET_TRY(whet_strmap_init(&m->vocab, count, err));
    for (const cJSON *e = vocab->child; e; e = e->next) {
        int32_t id = e->valueint;
        if (m->pieces[id]) return whet_errorf(err, WHET_ERR_FORMAT, "%s: model.vocab: id %d appears twice", file, id);
        size_t len = strlen(e->string), klen;
        m->pieces[id] = strdup(e->string);
        m->piece_lens[id] = (uint32_t)len;
        char *k = m->pieces[id] ? piece_key(e->string, len, m->byte_level, &klen) : NULL;
        if (!k) return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", file);
        if (!m->byte_level || (klen == len && memcmp(k, e->string, len) == 0)) {
            free(k);
            k = m->pieces[id];
        }
        m->keys[id] = k;
        m->key_lens[id] = (uint32_t)klen;
        WHET_TRY(whet_strmap_put(&m->vocab, k, klen, id, err));
    }
    return WHET_OK;
}

/* Resolve one merge's two sides to ids and the merged token's id. */
static whet_status add_merge(whet_bpe *m, const char *a, size_t alen, const char *b, size_t blen, size_t rank,
                             const char *file, whet_error *err) {
    size_t ka, kb;
    char *x = piece_key(a, alen, m->byte_level, &ka), *y = piece_key(b, blen, m->byte_level, &kb);
    char *xy = (x && y) ? malloc(ka + kb + 1) : NULL;
    whet_status s = WHET_OK;
    if (!xy) s = whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", file);
    else {
        memcpy(xy, x, ka);
        memcpy(xy + ka, y, kb);
        int32_t ia = whet_strmap_get(&m->vocab, x, ka), ib = whet_strmap_get(&m->vocab, y, kb);
        int32_t iab = whet_strmap_get(&m->vocab, xy, ka + kb);
        if (ia < 0 || ib < 0 || iab < 0)
            s = whet_errorf(err, WHET_ERR_FORMAT, "%s: model.merges[%zu]: \"%.*s %.*s\" uses a token missing from model.vocab",
                            file, rank, (int)alen, a, (int)blen, b);
        else s = whet_pairmap_put(&m->merges, ia, ib, (uint32_t)rank, iab, err);
    }
    if (s == WHET_OK) {
        char *str = malloc(alen + blen + 2);
        if (!str) s = whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", file);
        else {
            memcpy(str, a, alen);
            str[alen] = ' ';
            memcpy(str + alen + 1, b, blen);
            str[alen + blen + 1] = 0;
            m->merge_strs[m->n_merges++] = str;
        }
    }
    free(x);
    free(y);
    free(xy);
    return s;
}

static whet_status parse_merges(whet_bpe *m, const cJSON *merges, const char *file, whet_error *err) {
    if (!merges || cJSON_IsNull(merges)) merges = NULL;
    else if (!cJSON_IsArray(merges)) return whet_errorf(err, WHET_ERR_FORMAT, "%s: model.merges: expected an array", file);
    size_t n = merges ? (size_t)cJSON_GetArraySize(merges) : 0;
    m->merge_strs = calloc(n + 1, sizeof *m->merge_strs);
    if (!m->merge_strs) return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", file);
    WHET_TRY(whet_pairmap_init(&m->merges, n, err));
    size_t rank = 0;
    for (const cJSON *e = merges ? merges->child : NULL; e; e = e->next, rank++) {
        if (cJSON_IsString(e)) {
            const char *s = e->valuestring, *sp = strchr(s, ' ');
            if (!sp || sp == s)
                return whet_errorf(err, WHET_ERR_FORMAT, "%s: model.merges[%zu]: \"%s\" is not \"left right\"", file, rank, s);
            WHET_TRY(add_merge(m, s, (size_t)(sp - s), sp + 1, strlen(sp + 1), rank, file, err));
        } else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 && cJSON_IsString(e->child) &&
                   cJSON_IsString(e->child->next)) {
            const char *a = e->child->valuestring, *b = e->child->next->valuestring;
            WHET_TRY(add_merge(m, a, strlen(a), b, strlen(b), rank, file, err));
        } else {
            return whet_errorf(err, WHET_ERR_FORMAT, "%s: model.merges[%zu]: expected \"a b\" or [\"a\", \"b\"]", file, rank);
        }
    }
    return WHET_OK;
}

static bool json_bool(const cJSON *j, const char *key, bool def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

static whet_status parse_model(whet_tokenizer *t, const cJSON *model, const char *file, whet_error *err) {
    if (!cJSON_IsObject(model)) return whet_errorf(err, WHET_ERR_FORMAT, "%s: missing object \"model\"", file);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(model, "type");
    if (cJSON_IsString(type) && strcmp(type->valuestring, "BPE") != 0)
        return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: model.type \"%s\" is not supported (only \"BPE\")", file,
                           type->valuestring);
    whet_bpe *m = &t->bpe;
    m->byte_level = t->pre.byte_level;
    const cJSON *drop = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (cJSON_IsNumber(drop) && drop->valuedouble > 0)
        return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: model.dropout %g: BPE dropout is a training-time option; set it to null",
                           file, drop->valuedouble);
    static const char *affixes[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(model, affixes[i]);
        if (cJSON_IsString(v) && v->valuestring[0])
            return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: model.%s \"%s\" is not supported (Llama-family tokenizers leave it empty)",
                               file, affixes[i], v->valuestring);
    }
    m->fuse_unk = json_bool(model, "fuse_unk", false);
    m->byte_fallback = json_bool(model, "byte_fallback", false);
    m->ignore_merges = json_bool(model, "ignore_merges", false);
    WHET_TRY(parse_vocab(m, cJSON_GetObjectItemCaseSensitive(model, "vocab"), file, err));
    WHET_TRY(parse_merges(m, cJSON_GetObjectItemCaseSensitive(model, "merges"), file, err));
    m->unk_id = -1;
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_token");
    if (cJSON_IsString(unk)) {
        m->unk_id = whet_strmap_get(&m->vocab, unk->valuestring, strlen(unk->valuestring));
        if (m->unk_id < 0)
            return whet_errorf(err, WHET_ERR_FORMAT, "%s: model.unk_token \"%s\" is not in model.vocab", file, unk->valuestring);
    }
    for (int b = 0; b < 256; b++) {
        char key[8];
        if (m->byte_level) key[0] = (char)b, key[1] = 0;
        else snprintf(key, sizeof key, "<0x%02X>", b);
        m->byte_ids[b] = whet_strmap_get(&m->vocab, key, m->byte_level ? 1 : strlen(key));
    }
    return WHET_OK;
}

static whet_status parse_added(whet_tokenizer *t, const cJSON *list, const char *file, whet_error *err) {
    if (!list || cJSON_IsNull(list)) return whet_added_vocab_build(&t->added, err);
    if (!cJSON_IsArray(list)) return whet_errorf(err, WHET_ERR_FORMAT, "%s: added_tokens: expected an array", file);
    size_t n = (size_t)cJSON_GetArraySize(list);
    t->added.v = calloc(n + 1, sizeof *t->added.v);
    if (!t->added.v) return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", file);
    pcre2_match_data *md = pcre2_match_data_create(4, NULL);
    whet_strbuf norm;
    whet_sb_init(&norm);
    whet_status s = WHET_OK;
    size_t i = 0;
    for (const cJSON *e = list->child; e && s == WHET_OK; e = e->next, i++) {
        char where[300];
        snprintf(where, sizeof where, "%s: added_tokens[%zu]", file, i);
        int64_t id;
        const char *content;
        s = whet_json_get_int(e, "id", where, &id, err);
        if (s == WHET_OK) s = whet_json_get_string(e, "content", where, &content, err);
        if (s == WHET_OK && (id < 0 || id > 100000000)) s = whet_errorf(err, WHET_ERR_FORMAT, "%s.id: %lld is out of range", where, (long long)id);
        if (s != WHET_OK) break;
        whet_added_token *a = &t->added.v[t->added.n++];
        a->id = (int32_t)id;
        a->content = strdup(content);
        a->len = strlen(content);
        a->single_word = json_bool(e, "single_word", false);
        a->lstrip = json_bool(e, "lstrip", false);
        a->rstrip = json_bool(e, "rstrip", false);
        a->special = json_bool(e, "special", false);
        a->normalized = json_bool(e, "normalized", !a->special);
        a->pattern = a->content;
        a->pattern_len = a->len;
        if (!a->content) s = whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", file);
        else if (a->normalized && t->normalizer.n > 0 && md) {
            s = whet_normalize(&t->normalizer, a->content, a->len, md, &norm, err);
            if (s == WHET_OK) {
                a->renamed = norm.len != a->len || memcmp(norm.data, a->content, a->len) != 0;
                if (a->renamed) {
                    free(a->content);
                    a->content = strdup(norm.data ? norm.data : "");
                    a->len = norm.len;
                }
                a->pattern = a->content;
                a->pattern_len = a->len;
                if (!a->content) s = whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", file);
            }
        }
    }
    whet_sb_free(&norm);
    if (md) pcre2_match_data_free(md);
    else if (s == WHET_OK) s = whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", file);
    WHET_TRY(s);
    return whet_added_vocab_build(&t->added, err);
}

static whet_status push_ids(int32_t **v, size_t *n, const cJSON *ids, const char *where, whet_error *err) {
    if (!cJSON_IsArray(ids)) return whet_errorf(err, WHET_ERR_FORMAT, "%s: expected an array of ids", where);
    for (const cJSON *e = ids->child; e; e = e->next) {
        if (!cJSON_IsNumber(e)) return whet_errorf(err, WHET_ERR_FORMAT, "%s: expected integer ids", where);
        int32_t *nv = realloc(*v, (*n + 1) * sizeof *nv);
        if (!nv) return whet_errorf(err, WHET_ERR_NOMEM, "tokenizer: out of memory");
        *v = nv;
        (*v)[(*n)++] = e->valueint;
    }
    return WHET_OK;
}

static whet_status parse_template(whet_tokenizer *t, const cJSON *pp, const char *where, whet_error *err) {
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(pp, "single");
    const cJSON *specials = cJSON_GetObjectItemCaseSensitive(pp, "special_tokens");
    if (!cJSON_IsArray(single)) return whet_errorf(err, WHET_ERR_FORMAT, "%s.single: expected an array", where);
    bool after = false;
    int i = 0;
    for (const cJSON *e = single->child; e; e = e->next, i++) {
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(e, "SpecialToken");
        if (cJSON_GetObjectItemCaseSensitive(e, "Sequence")) {
            after = true;
            continue;
        }
        const cJSON *name = sp ? cJSON_GetObjectItemCaseSensitive(sp, "id") : NULL;
        if (!cJSON_IsString(name))
            return whet_errorf(err, WHET_ERR_FORMAT, "%s.single[%d]: expected {\"SpecialToken\": {\"id\": ...}} or {\"Sequence\": ...}",
                               where, i);
        const cJSON *tok = specials ? cJSON_GetObjectItemCaseSensitive(specials, name->valuestring) : NULL;
        char sub[400];
        snprintf(sub, sizeof sub, "%s.special_tokens[\"%s\"].ids", where, name->valuestring);
        if (!tok) return whet_errorf(err, WHET_ERR_FORMAT, "%s.special_tokens: \"%s\" is used but not defined", where, name->valuestring);
        if (after) WHET_TRY(push_ids(&t->post_suffix, &t->n_post_suffix, cJSON_GetObjectItemCaseSensitive(tok, "ids"), sub, err));
        else WHET_TRY(push_ids(&t->post_prefix, &t->n_post_prefix, cJSON_GetObjectItemCaseSensitive(tok, "ids"), sub, err));
    }
    return WHET_OK;
}

static whet_status parse_post(whet_tokenizer *t, const cJSON *pp, const char *where, whet_error *err) {
    if (!pp || cJSON_IsNull(pp)) return WHET_OK;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(pp, "type");
    const char *ty = cJSON_IsString(type) ? type->valuestring : "";
    if (strcmp(ty, "ByteLevel") == 0) return WHET_OK;  /* offsets only */
    if (strcmp(ty, "TemplateProcessing") == 0) return parse_template(t, pp, where, err);
    if (strcmp(ty, "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(pp, "processors");
        if (!cJSON_IsArray(list)) return whet_errorf(err, WHET_ERR_FORMAT, "%s.processors: expected an array", where);
        int i = 0;
        char sub[400];
        for (const cJSON *e = list->child; e; e = e->next, i++) {
            snprintf(sub, sizeof sub, "%s.processors[%d]", where, i);
            WHET_TRY(parse_post(t, e, sub, err));
        }
        return WHET_OK;
    }
    if (strcmp(ty, "BertProcessing") == 0 || strcmp(ty, "RobertaProcessing") == 0) {
        const cJSON *cls = cJSON_GetObjectItemCaseSensitive(pp, "cls"), *sep = cJSON_GetObjectItemCaseSensitive(pp, "sep");
        if (!cJSON_IsArray(cls) || !cJSON_IsArray(sep) || !cJSON_IsNumber(cJSON_GetArrayItem(cls, 1)) ||
            !cJSON_IsNumber(cJSON_GetArrayItem(sep, 1)))
            return whet_errorf(err, WHET_ERR_FORMAT, "%s: expected \"cls\" and \"sep\" as [token, id]", where);
        int32_t c = cJSON_GetArrayItem(cls, 1)->valueint, s = cJSON_GetArrayItem(sep, 1)->valueint;
        int32_t *p = realloc(t->post_prefix, (t->n_post_prefix + 1) * sizeof *p);
        if (!p) return whet_errorf(err, WHET_ERR_NOMEM, "tokenizer: out of memory");
        t->post_prefix = p;
        t->post_prefix[t->n_post_prefix++] = c;
        p = realloc(t->post_suffix, (t->n_post_suffix + 1) * sizeof *p);
        if (!p) return whet_errorf(err, WHET_ERR_NOMEM, "tokenizer: out of memory");
        t->post_suffix = p;
        t->post_suffix[t->n_post_suffix++] = s;
        return WHET_OK;
    }
    return whet_errorf(err, WHET_ERR_UNSUPPORTED,
                       "%s: post-processor type \"%s\" is not supported (supported: TemplateProcessing, ByteLevel, "
                       "Sequence, BertProcessing, RobertaProcessing)",
                       where, ty);
}

/* llama.cpp's name for the pre-tokenizer family, from the first Split regex. */
static void detect_pre_name(whet_tokenizer *t, const cJSON *pre) {
    snprintf(t->pre_name, sizeof t->pre_name, "%s", t->kind == WHET_TOK_BPE_SPM ? "default" : "gpt-2");
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(pre, "pretokenizers");
    const cJSON *first = cJSON_IsArray(list) ? list->child : pre;
    const cJSON *pat = first ? cJSON_GetObjectItemCaseSensitive(first, "pattern") : NULL;
    const cJSON *re = pat ? cJSON_GetObjectItemCaseSensitive(pat, "Regex") : NULL;
    if (!cJSON_IsString(re)) return;
    const char *r = re->valuestring;
    static const char LLAMA3_HEAD[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}";
    if (strncmp(r, LLAMA3_HEAD, sizeof LLAMA3_HEAD - 1) == 0)
        snprintf(t->pre_name, sizeof t->pre_name, "%s", r[sizeof LLAMA3_HEAD - 1] == '{' ? "llama-bpe" : "qwen2");
    else if (strcmp(r, "\\p{N}{1,3}") == 0 && cJSON_IsArray(list) && cJSON_GetArraySize(list) >= 4)
        snprintf(t->pre_name, sizeof t->pre_name, "deepseek-v3");
    else if (strcmp(r, "[\r\n]") == 0 && cJSON_IsArray(list))  /* 6 splits + ByteLevel vs 5 + ByteLevel */
        snprintf(t->pre_name, sizeof t->pre_name, "%s", cJSON_GetArraySize(list) >= 7 ? "deepseek-llm" : "deepseek-coder");
}

/* SentencePiece scores for GGUF export (llama.cpp's SPM merges the pair whose
 * result scores highest): -(best merge rank producing the piece), so score
 * order is merge order; pieces no merge produces (single characters, bytes,
 * specials) score below every merged piece. Exact for the order of Llama-2's
 * tokenizer.model scores. */
static whet_status spm_scores(whet_tokenizer *t, const char *file, whet_error *err) {
    t->scores = malloc(((size_t)t->vocab_size + 1) * sizeof *t->scores);
    if (!t->scores) return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", file);
    float floor = -(float)t->bpe.n_merges - 1.0f;
    for (int32_t i = 0; i < t->vocab_size; i++) t->scores[i] = floor - (float)i;
    const whet_pairmap *m = &t->bpe.merges;
    for (size_t k = 0; k < m->cap; k++)
        if (m->keys[k] != UINT64_MAX && -(float)m->ranks[k] > t->scores[m->merged[k]]) t->scores[m->merged[k]] = -(float)m->ranks[k];
    return WHET_OK;
}

whet_status whet_tokenizer_parse_json(whet_tokenizer *t, const cJSON *root, const char *file, whet_error *err) {
    if (!cJSON_IsObject(root)) return whet_errorf(err, WHET_ERR_FORMAT, "%s: expected a JSON object", file);
    WHET_TRY(whet_normalizer_parse(cJSON_GetObjectItemCaseSensitive(root, "normalizer"), file, &t->normalizer, err));
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    WHET_TRY(whet_pretokenizer_parse(pre, file, &t->pre, err));
    t->kind = t->pre.byte_level ? WHET_TOK_BPE_BYTELEVEL : WHET_TOK_BPE_SPM;
    WHET_TRY(parse_model(t, cJSON_GetObjectItemCaseSensitive(root, "model"), file, err));
    WHET_TRY(parse_added(t, cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), file, err));
    char where[300];
    snprintf(where, sizeof where, "%s: post_processor", file);
    WHET_TRY(parse_post(t, cJSON_GetObjectItemCaseSensitive(root, "post_processor"), where, err));
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(root, "decoder");
    t->has_decoder = dec && !cJSON_IsNull(dec);
    if (t->has_decoder) WHET_TRY(whet_decoder_parse(dec, file, &t->decoder, err));
    detect_pre_name(t, pre);

    t->vocab_size = t->bpe.n_vocab;
    for (size_t i = 0; i < t->added.n; i++)
        if (t->added.v[i].id >= t->vocab_size) t->vocab_size = t->added.v[i].id + 1;
    t->added_of_id = malloc(((size_t)t->vocab_size + 1) * sizeof *t->added_of_id);
    if (!t->added_of_id) return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", file);
    for (int32_t i = 0; i < t->vocab_size; i++) t->added_of_id[i] = -1;
    for (size_t i = 0; i < t->added.n; i++) t->added_of_id[t->added.v[i].id] = (int32_t)i;
    if (t->kind == WHET_TOK_BPE_SPM) WHET_TRY(spm_scores(t, file, err));
    for (size_t i = 0; i < t->n_post_prefix + t->n_post_suffix; i++) {
        int32_t id = i < t->n_post_prefix ? t->post_prefix[i] : t->post_suffix[i - t->n_post_prefix];
        if (id < 0 || id >= t->vocab_size)
            return whet_errorf(err, WHET_ERR_FORMAT, "%s: post_processor: id %d is outside the vocabulary (size %d)", file, id,
                               t->vocab_size);
    }
    return WHET_OK;
}
