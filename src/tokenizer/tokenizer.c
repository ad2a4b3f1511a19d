/* tokenizer.c: the public tokenizer API: loading a model folder
 * (tokenizer.json + tokenizer_config.json + chat_template.jinja), the encode
 * pipeline in Hugging Face's order (added tokens on the raw text ->
 * normalizer -> added tokens on the normalized text -> pre-tokenizer -> BPE ->
 * post-processor), and the vocabulary accessors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/file.h"
#include "core/json.h"
#include "tokenizer/bpe_tokenizer.h"

void whet_tokens_free(whet_tokens *t) {
    free(t->ids);
    memset(t, 0, sizeof *t);
}

whet_status whet_tokens_push(whet_tokens *t, int32_t id, whet_error *err) {
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        int32_t *v = realloc(t->ids, cap * sizeof *v);
        if (!v) return whet_errorf(err, WHET_ERR_NOMEM, "tokenizer: out of memory for %zu ids", cap);
        t->ids = v;
        t->cap = cap;
    }
    t->ids[t->n++] = id;
    return WHET_OK;
}

void whet_tokenizer_free(whet_tokenizer *t) {
    if (!t) return;
    whet_bpe_free(&t->bpe);
    whet_added_vocab_free(&t->added);
    free(t->added_of_id);
    whet_normalizer_free(&t->normalizer);
    whet_pretokenizer_free(&t->pre);
    free(t->post_prefix);
    free(t->post_suffix);
    whet_decoder_free(&t->decoder);
    free(t->bos_token);
    free(t->eos_token);
    free(t->pad_token);
    free(t->chat_template);
    free(t->scores);
    free(t->gguf_types);
    for (size_t i = 0; i < t->n_gguf_merges; i++) free(t->gguf_merges[i]);
    free(t->gguf_merges);
    free(t);
}

static whet_tokenizer *tokenizer_new(void) {
    whet_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->bos_id = t->eos_id = t->pad_id = -1;
    t->bpe.unk_id = -1;
    return t;
}

whet_status whet_tokenizer_load_json(const char *path, whet_tokenizer **out, whet_error *err) {
    *out = NULL;
    cJSON *root;
    WHET_TRY(whet_json_parse_file(path, &root, err));
    whet_tokenizer *t = tokenizer_new();
    whet_status s = t ? whet_tokenizer_parse_json(t, root, path, err)
                      : whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", path);
    cJSON_Delete(root);
    /* without tokenizer_config.json: a single special token the post-processor
     * puts first is the BOS (Llama-2, Llama-3.2 style tokenizer.json) */
    if (s == WHET_OK && t->n_post_prefix == 1) {
        t->bos_id = t->post_prefix[0];
        t->add_bos = true;
        /* the model's own string first: a normalized added token is renamed ("▁<s>") */
        const char *piece = t->bos_id < t->bpe.n_vocab && t->bpe.pieces[t->bos_id] ? t->bpe.pieces[t->bos_id]
                                                                                  : whet_tokenizer_id_to_piece(t, t->bos_id);
        if (piece && !(t->bos_token = strdup(piece))) s = whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", path);
    }
    if (s != WHET_OK) {
        whet_tokenizer_free(t);
        return s;
    }
    *out = t;
    return WHET_OK;
}

/* ---- tokenizer_config.json ---------------------------------------------- */

/* A special token given as "text", {"content": "text", ...} or null. */
static whet_status config_token(const whet_tokenizer *t, const cJSON *cfg, const char *key, const char *file, char **text,
                                int32_t *id, whet_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (!v || cJSON_IsNull(v)) return WHET_OK;
    if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, "content");
    if (!cJSON_IsString(v))
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: %s: expected a string, {\"content\": ...} or null", file, key);
    free(*text);
    *text = strdup(v->valuestring);
    if (!*text) return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", file);
    *id = whet_tokenizer_piece_to_id(t, v->valuestring);
    if (*id < 0)
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: %s \"%s\" is not a token of the vocabulary", file, key, v->valuestring);
    return WHET_OK;
}

static bool ids_contain(const int32_t *v, size_t n, int32_t id) {
    for (size_t i = 0; i < n; i++)
        if (v[i] == id && id >= 0) return true;
    return false;
}

static whet_status chat_template_from_config(whet_tokenizer *t, const cJSON *cfg, const char *file, whet_error *err) {
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(cfg, "chat_template");
    const char *text = NULL;
    if (!ct || cJSON_IsNull(ct)) return WHET_OK;
    if (cJSON_IsString(ct)) text = ct->valuestring;
    else if (cJSON_IsArray(ct)) {
        /* [{"name": ..., "template": ...}]: the "default" one, else the first */
        for (const cJSON *e = ct->child; e; e = e->next) {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name");
            const cJSON *tpl = cJSON_GetObjectItemCaseSensitive(e, "template");
            if (!cJSON_IsString(tpl))
                return whet_errorf(err, WHET_ERR_FORMAT, "%s: chat_template: list entries need a string \"template\"", file);
            if (!text || (cJSON_IsString(name) && strcmp(name->valuestring, "default") == 0)) {
                bool is_default = cJSON_IsString(name) && strcmp(name->valuestring, "default") == 0;
                text = tpl->valuestring;
                if (is_default) break;
            }
        }
    } else {
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: chat_template: expected a string or a list of {name, template}", file);
    }
    if (!text) return WHET_OK;
    t->chat_template = strdup(text);
    return t->chat_template ? WHET_OK : whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", file);
}

static whet_status load_config(whet_tokenizer *t, const char *file, whet_error *err) {
    cJSON *cfg;
    WHET_TRY(whet_json_parse_file(file, &cfg, err));
    whet_status s = cJSON_IsObject(cfg) ? WHET_OK : whet_errorf(err, WHET_ERR_FORMAT, "%s: expected a JSON object", file);
    if (s == WHET_OK) s = config_token(t, cfg, "bos_token", file, &t->bos_token, &t->bos_id, err);
    if (s == WHET_OK) s = config_token(t, cfg, "eos_token", file, &t->eos_token, &t->eos_id, err);
    if (s == WHET_OK) s = config_token(t, cfg, "pad_token", file, &t->pad_token, &t->pad_id, err);
    bool def_bos = ids_contain(t->post_prefix, t->n_post_prefix, t->bos_id);
    bool def_eos = ids_contain(t->post_suffix, t->n_post_suffix, t->eos_id);
    if (s == WHET_OK) s = whet_json_bool_or(cfg, "add_bos_token", file, def_bos, &t->add_bos, err);
    if (s == WHET_OK) s = whet_json_bool_or(cfg, "add_eos_token", file, def_eos, &t->add_eos, err);
    if (s == WHET_OK) s = chat_template_from_config(t, cfg, file, err);
    cJSON_Delete(cfg);
    return s;
}

whet_status whet_tokenizer_load_dir(const char *dir, whet_tokenizer **out, whet_error *err) {
    char path[4096];
    *out = NULL;
    if (whet_is_gguf_file(dir))
        return whet_tokenizer_load_gguf(dir, out, err);   /* a GGUF model carries its vocabulary */
    whet_tokenizer *t;
    whet_path_join(path, sizeof path, dir, "tokenizer.json");
    if (whet_file_exists(path)) {
        WHET_TRY(whet_tokenizer_load_json(path, &t, err));
    } else {
        char merges[4096];
        whet_path_join(path, sizeof path, dir, "vocab.json");
        whet_path_join(merges, sizeof merges, dir, "merges.txt");
        if (!whet_file_exists(path) || !whet_file_exists(merges))
            return whet_errorf(err, WHET_ERR_NOT_FOUND,
                               "%s: no tokenizer.json (nor vocab.json + merges.txt) in this folder; save the "
                               "tokenizer there with tokenizer.save_pretrained(dir) from transformers",
                               dir);
        WHET_TRY(whet_tokenizer_load_vocab_merges(dir, &t, err));
    }
    whet_status s = WHET_OK;
    whet_path_join(path, sizeof path, dir, "tokenizer_config.json");
    if (whet_file_exists(path)) s = load_config(t, path, err);
    whet_path_join(path, sizeof path, dir, "chat_template.jinja");
    if (s == WHET_OK && whet_file_exists(path)) {
        char *text;
        size_t len;
        s = whet_read_file(path, &text, &len, err);
        if (s == WHET_OK) {
            free(t->chat_template);
            t->chat_template = text;
        }
    }
    if (s != WHET_OK) {
        whet_tokenizer_free(t);
        return s;
    }
    *out = t;
    return WHET_OK;
}

/* ---- encoding ----------------------------------------------------------- */

typedef struct {
    pcre2_match_data *md;
    whet_added_splits raw, norm;
    whet_strbuf normalized;
    whet_pieces a, b;
    whet_bpe_scratch bpe;
} encode_state;

static void state_free(encode_state *st) {
    if (st->md) pcre2_match_data_free(st->md);
    free(st->raw.v);
    free(st->norm.v);
    whet_sb_free(&st->normalized);
    whet_pieces_free(&st->a);
    whet_pieces_free(&st->b);
    whet_bpe_scratch_free(&st->bpe);
}

/* Pre-tokenize and run the model on one segment without added tokens. */
static whet_status encode_plain(const whet_tokenizer *t, encode_state *st, const char *s, size_t len, bool at_origin,
                                whet_tokens *out, whet_error *err) {
    whet_pieces_clear(&st->a);
    whet_sb_append(&st->a.buf, s, len);
    if (st->a.buf.oom) return whet_errorf(err, WHET_ERR_NOMEM, "tokenizer: out of memory");
    WHET_TRY(whet_pieces_push(&st->a, 0, len, at_origin, err));
    WHET_TRY(whet_pretokenize(&t->pre, &st->a, &st->b, st->md, err));
    /* with several steps the result may have ended in either list */
    const whet_pieces *words = &st->b;
    for (size_t i = 0; i < words->n; i++)
        WHET_TRY(whet_bpe_encode_word(&t->bpe, words->buf.data + words->v[i].off, words->v[i].len, &st->bpe, out, err));
    return WHET_OK;
}

static whet_status encode_segment(const whet_tokenizer *t, encode_state *st, const char *s, size_t len, bool at_origin,
                                  bool skip_special, whet_tokens *out, whet_error *err) {
    const char *ns = s;
    size_t nlen = len;
    if (t->normalizer.n > 0) {
        WHET_TRY(whet_normalize(&t->normalizer, s, len, st->md, &st->normalized, err));
        ns = st->normalized.data;
        nlen = st->normalized.len;
    }
    WHET_TRY(whet_added_find(&t->added, true, skip_special, ns, nlen, &st->norm, err));
    for (size_t i = 0; i < st->norm.n; i++) {
        const whet_added_split *sp = &st->norm.v[i];
        if (sp->id >= 0) WHET_TRY(whet_tokens_push(out, sp->id, err));
        else WHET_TRY(encode_plain(t, st, ns + sp->start, sp->end - sp->start, at_origin && sp->start == 0, out, err));
    }
    return WHET_OK;
}

static whet_status check_utf8(const char *text, size_t len, whet_error *err) {
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int cl = whet_utf8_decode(text + i, len - i, &cp);
        if (cl == 0)
            return whet_errorf(err, WHET_ERR_INVALID_ARG,
                               "tokenizer: the text is not valid UTF-8 at byte %zu (0x%02x); convert it to UTF-8 first", i,
                               (unsigned char)text[i]);
        i += (size_t)cl;
    }
    return WHET_OK;
}

whet_status whet_tokenizer_encode_opts(const whet_tokenizer *t, const char *text, size_t len, bool add_special,
                                       bool parse_special, whet_tokens *out, whet_error *err) {
    WHET_TRY(check_utf8(text, len, err));
    encode_state st;
    memset(&st, 0, sizeof st);
    whet_sb_init(&st.normalized);
    whet_pieces_init(&st.a);
    whet_pieces_init(&st.b);
    st.md = pcre2_match_data_create(8, NULL);
    whet_status s = st.md ? WHET_OK : whet_errorf(err, WHET_ERR_NOMEM, "tokenizer: out of memory");
    for (size_t i = 0; add_special && s == WHET_OK && i < t->n_post_prefix; i++) s = whet_tokens_push(out, t->post_prefix[i], err);
    if (s == WHET_OK) s = whet_added_find(&t->added, false, !parse_special, text, len, &st.raw, err);
    for (size_t i = 0; s == WHET_OK && i < st.raw.n; i++) {
        const whet_added_split *sp = &st.raw.v[i];
        if (sp->id >= 0) s = whet_tokens_push(out, sp->id, err);
        else s = encode_segment(t, &st, text + sp->start, sp->end - sp->start, sp->start == 0, !parse_special, out, err);
    }
    for (size_t i = 0; add_special && s == WHET_OK && i < t->n_post_suffix; i++) s = whet_tokens_push(out, t->post_suffix[i], err);
    state_free(&st);
    return s;
}

whet_status whet_tokenizer_encode(const whet_tokenizer *t, const char *text, size_t len, bool add_special,
                                  whet_tokens *out, whet_error *err) {
    return whet_tokenizer_encode_opts(t, text, len, add_special, true, out, err);
}

/* ---- accessors ---------------------------------------------------------- */

whet_tokenizer_kind whet_tokenizer_get_kind(const whet_tokenizer *t) { return t->kind; }
int whet_tokenizer_vocab_size(const whet_tokenizer *t) { return t->vocab_size; }

const char *whet_tokenizer_id_to_piece(const whet_tokenizer *t, int32_t id) {
    if (id < 0 || id >= t->vocab_size) return NULL;
    if (t->added_of_id[id] >= 0) return t->added.v[t->added_of_id[id]].content;
    return id < t->bpe.n_vocab ? t->bpe.pieces[id] : NULL;
}

const char *whet_tokenizer_model_piece(const whet_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->bpe.n_vocab ? t->bpe.pieces[id] : NULL;
}

int32_t whet_tokenizer_piece_to_id(const whet_tokenizer *t, const char *piece) {
    size_t len = strlen(piece);
    for (size_t i = 0; i < t->added.n; i++)
        if (t->added.v[i].len == len && memcmp(t->added.v[i].content, piece, len) == 0) return t->added.v[i].id;
    if (!t->bpe.byte_level) return whet_strmap_get(&t->bpe.vocab, piece, len);
    /* byte-level: the vocabulary is keyed by raw bytes; map the piece back */
    char *raw = malloc(len + 1);
    if (!raw) return -1;
    size_t n = 0;
    bool ok = true;
    for (size_t i = 0; i < len && ok;) {
        uint32_t cp;
        int cl = whet_utf8_decode(piece + i, len - i, &cp);
        int b = cl > 0 ? whet_unicode_to_byte(cp) : -1;
        if (b < 0) ok = false;
        else raw[n++] = (char)b, i += (size_t)cl;
    }
    int32_t id = ok ? whet_strmap_get(&t->bpe.vocab, raw, n) : whet_strmap_get(&t->bpe.vocab, piece, len);
    free(raw);
    if (id >= 0 && (t->bpe.piece_lens[id] != len || memcmp(t->bpe.pieces[id], piece, len) != 0)) return -1;
    return id;
}

whet_token_type whet_tokenizer_token_type(const whet_tokenizer *t, int32_t id) {
    if (id < 0 || id >= t->vocab_size) return WHET_TOKEN_UNUSED;
    if (t->gguf_types && id < t->n_gguf_types) return (whet_token_type)t->gguf_types[id];
    if (id == t->bpe.unk_id) return WHET_TOKEN_UNKNOWN;  /* before "added": Llama-2's <unk> is both */
    int32_t ai = t->added_of_id[id];
    if (ai >= 0) return t->added.v[ai].special ? WHET_TOKEN_CONTROL : WHET_TOKEN_USER_DEFINED;
    if (id >= t->bpe.n_vocab || !t->bpe.pieces[id]) return WHET_TOKEN_UNUSED;
    if (t->bpe.byte_fallback) {
        const char *p = t->bpe.pieces[id];
        if (t->bpe.piece_lens[id] == 6 && strncmp(p, "<0x", 3) == 0 && p[5] == '>') return WHET_TOKEN_BYTE;
    }
    return WHET_TOKEN_NORMAL;
}

bool whet_tokenizer_is_special(const whet_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->vocab_size && t->added_of_id[id] >= 0 && t->added.v[t->added_of_id[id]].special;
}

/* SentencePiece-style: the GGUF's scores, or ones derived from the merge
 * ranks (tokenizer_load.c spm_scores); byte-level BPE has none. */
float whet_tokenizer_score(const whet_tokenizer *t, int32_t id) {
    if (!t->scores || id < 0 || id >= t->vocab_size) return 0.0f;
    return t->scores[id];
}

size_t whet_tokenizer_n_merges(const whet_tokenizer *t) { return t->has_gguf_merges ? t->n_gguf_merges : t->bpe.n_merges; }
const char *whet_tokenizer_merge(const whet_tokenizer *t, size_t rank) {
    if (t->has_gguf_merges) return rank < t->n_gguf_merges ? t->gguf_merges[rank] : NULL;
    return rank < t->bpe.n_merges ? t->bpe.merge_strs[rank] : NULL;
}
const char *whet_tokenizer_pre_name(const whet_tokenizer *t) { return t->pre_name; }
int32_t whet_tokenizer_bos_id(const whet_tokenizer *t) { return t->bos_id; }
int32_t whet_tokenizer_eos_id(const whet_tokenizer *t) { return t->eos_id; }
int32_t whet_tokenizer_pad_id(const whet_tokenizer *t) { return t->pad_id; }
const char *whet_tokenizer_bos_token(const whet_tokenizer *t) { return t->bos_token ? t->bos_token : ""; }
const char *whet_tokenizer_eos_token(const whet_tokenizer *t) { return t->eos_token ? t->eos_token : ""; }
bool whet_tokenizer_add_bos(const whet_tokenizer *t) { return t->add_bos; }
bool whet_tokenizer_add_eos(const whet_tokenizer *t) { return t->add_eos; }
const char *whet_tokenizer_chat_template(const whet_tokenizer *t) { return t->chat_template; }
