/* tokenizer_vocab.c: folders without tokenizer.json but with the older
 * vocab.json + merges.txt layout (GPT-2, Qwen/Qwen1.5/Qwen2 slow tokenizers).
 * The pair is turned into the tokenizer.json document transformers' converter
 * would write and loaded through the same code: byte-level BPE; for
 * tokenizer_class Qwen2Tokenizer the NFC normalizer and the Qwen2 split regex,
 * otherwise GPT-2's ByteLevel regex; added tokens from tokenizer_config.json's
 * added_tokens_decoder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/file.h"
#include "core/json.h"
#include "tokenizer/bpe_tokenizer.h"

static const char QWEN2_SPLIT[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static whet_status merges_txt(const char *path, cJSON *merges, whet_error *err) {
    char *text;
    size_t len;
    WHET_TRY(whet_read_file(path, &text, &len, err));
    size_t line = 0;
    for (char *p = text; p < text + len; line++) {
        char *eol = memchr(p, '\n', (size_t)(text + len - p));
        char *end = eol ? eol : text + len;
        if (end > p && end[-1] == '\r') end[-1] = 0;
        *end = 0;
        if (*p && !(line == 0 && strncmp(p, "#version", 8) == 0)) {
            char *sp = strchr(p, ' ');
            if (!sp || sp == p || !sp[1]) {
                free(text);
                return whet_errorf(err, WHET_ERR_FORMAT, "%s:%zu: expected \"left right\", got \"%.60s\"", path, line + 1, p);
            }
            cJSON_AddItemToArray(merges, cJSON_CreateString(p));
        }
        p = end + 1;
    }
    free(text);
    return WHET_OK;
}

static void add_split_pretokenizer(cJSON *root, bool qwen) {
    cJSON *seq = cJSON_AddObjectToObject(root, "pre_tokenizer");
    cJSON_AddStringToObject(seq, "type", "Sequence");
    cJSON *list = cJSON_AddArrayToObject(seq, "pretokenizers");
    if (qwen) {
        cJSON *split = cJSON_CreateObject();
        cJSON_AddStringToObject(split, "type", "Split");
        cJSON_AddStringToObject(cJSON_AddObjectToObject(split, "pattern"), "Regex", QWEN2_SPLIT);
        cJSON_AddStringToObject(split, "behavior", "Isolated");
        cJSON_AddItemToArray(list, split);
    }
    cJSON *bl = cJSON_CreateObject();
    cJSON_AddStringToObject(bl, "type", "ByteLevel");
    cJSON_AddBoolToObject(bl, "add_prefix_space", false);
    cJSON_AddBoolToObject(bl, "use_regex", !qwen);
    cJSON_AddItemToArray(list, bl);
}

/* tokenizer_config.json's added_tokens_decoder {"id": {content, lstrip, ...}} -> added_tokens. */
static whet_status added_from_config(const cJSON *cfg, const char *cfg_path, cJSON *root, whet_error *err) {
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    const cJSON *dec = cfg ? cJSON_GetObjectItemCaseSensitive(cfg, "added_tokens_decoder") : NULL;
    if (!dec || cJSON_IsNull(dec)) return WHET_OK;
    if (!cJSON_IsObject(dec)) return whet_errorf(err, WHET_ERR_FORMAT, "%s: added_tokens_decoder: expected an object", cfg_path);
    for (const cJSON *e = dec->child; e; e = e->next) {
        char *end;
        long id = strtol(e->string, &end, 10);
        if (*end || id < 0 || !cJSON_IsObject(e))
            return whet_errorf(err, WHET_ERR_FORMAT, "%s: added_tokens_decoder[\"%s\"]: expected an id key and an object", cfg_path,
                               e->string);
        cJSON *tok = cJSON_Duplicate(e, true);
        if (!tok) return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", cfg_path);
        cJSON_DeleteItemFromObjectCaseSensitive(tok, "__type");
        cJSON_AddNumberToObject(tok, "id", (double)id);
        cJSON_AddItemToArray(added, tok);
    }
    return WHET_OK;
}

whet_status whet_tokenizer_load_vocab_merges(const char *dir, whet_tokenizer **out, whet_error *err) {
    char vocab_path[4096], merges_path[4096], cfg_path[4096];
    *out = NULL;
    whet_path_join(vocab_path, sizeof vocab_path, dir, "vocab.json");
    whet_path_join(merges_path, sizeof merges_path, dir, "merges.txt");
    whet_path_join(cfg_path, sizeof cfg_path, dir, "tokenizer_config.json");
    cJSON *vocab = NULL, *cfg = NULL, *root = cJSON_CreateObject();
    whet_status s = root ? WHET_OK : whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", dir);
    if (s == WHET_OK) s = whet_json_parse_file(vocab_path, &vocab, err);
    if (s == WHET_OK && whet_file_exists(cfg_path)) s = whet_json_parse_file(cfg_path, &cfg, err);
    bool qwen = false;
    if (s == WHET_OK && cfg) {
        const cJSON *cls = cJSON_GetObjectItemCaseSensitive(cfg, "tokenizer_class");
        qwen = cJSON_IsString(cls) && strncmp(cls->valuestring, "Qwen2Tokenizer", 14) == 0;
    }
    if (s == WHET_OK) {
        cJSON *model = cJSON_AddObjectToObject(root, "model");
        cJSON_AddStringToObject(model, "type", "BPE");
        cJSON_AddItemToObject(model, "vocab", vocab);
        vocab = NULL;
        s = merges_txt(merges_path, cJSON_AddArrayToObject(model, "merges"), err);
    }
    if (s == WHET_OK) {
        if (qwen) cJSON_AddStringToObject(cJSON_AddObjectToObject(root, "normalizer"), "type", "NFC");
        add_split_pretokenizer(root, qwen);
        cJSON_AddStringToObject(cJSON_AddObjectToObject(root, "decoder"), "type", "ByteLevel");
        s = added_from_config(cfg, cfg_path, root, err);
    }
    whet_tokenizer *t = NULL;
    if (s == WHET_OK) {
        t = calloc(1, sizeof *t);
        if (!t) s = whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", dir);
        else t->bos_id = t->eos_id = t->pad_id = -1;
    }
    if (s == WHET_OK) s = whet_tokenizer_parse_json(t, root, vocab_path, err);
    cJSON_Delete(vocab);
    cJSON_Delete(cfg);
    cJSON_Delete(root);
    if (s != WHET_OK) {
        whet_tokenizer_free(t);
        return s;
    }
    *out = t;
    return WHET_OK;
}
