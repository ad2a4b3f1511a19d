/* cmd_tokenize.c: `whet tokenize`: encode text (or decode ids) with a
 * model's tokenizer, exactly as Hugging Face tokenizers does: a model folder
 * (tokenizer.json + tokenizer_config.json), a bare tokenizer.json, or a
 * .gguf file's vocabulary (tokenized as llama.cpp does). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli_flags.h"
#include "cli/command.h"
#include "core/file.h"
#include "tokenizer/tokenizer.h"

static void usage(void) {
    printf("usage: whet tokenize --model_name_or_path DIR|tokenizer.json|model.gguf (--text T | --file F | --decode IDS)\n"
           "  Print the token ids of the text (one line, comma-separated), or the text of the ids.\n"
           "  --text T               text to encode (or --file F: its whole contents)\n"
           "  --decode 1,2,3         decode these ids instead\n"
           "  --add_special_tokens B add BOS/EOS as the tokenizer's post-processor does (default true)\n"
           "  --parse_special B      match special tokens written in the text (default true, as HF)\n"
           "  --skip_special_tokens B  with --decode: drop special tokens (default false)\n"
           "  --pieces               also print each token's vocabulary string, one per line\n");
}

static whet_status load_any(const char *path, whet_tokenizer **tok, whet_error *err) {
    size_t n = strlen(path);
    if (n > 5 && !strcmp(path + n - 5, ".gguf")) return whet_tokenizer_load_gguf(path, tok, err);
    if (n > 5 && !strcmp(path + n - 5, ".json")) return whet_tokenizer_load_json(path, tok, err);
    return whet_tokenizer_load_dir(path, tok, err);
}

static int print_ids(const whet_tokenizer *tok, const int32_t *ids, size_t n, bool pieces) {
    for (size_t i = 0; i < n; i++) printf("%s%d", i ? "," : "", ids[i]);
    printf("\n");
    for (size_t i = 0; pieces && i < n; i++) {
        const char *p = whet_tokenizer_id_to_piece(tok, ids[i]);
        printf("%d\t%s\n", ids[i], p ? p : "");
    }
    return 0;
}

static int run_tokenize(int argc, char **argv) {
    if (whet_cli_wants_help(argc, argv)) return usage(), 0;
    const char *model = NULL, *text = NULL, *file = NULL, *decode = NULL;
    bool add_special = true, parse_special = true, skip_special = false, pieces = false;
    const whet_flag flags[] = {
        {"model_name_or_path", WHET_FLAG_STR, &model, NULL},
        {"text", WHET_FLAG_STR, &text, NULL},
        {"file", WHET_FLAG_STR, &file, NULL},
        {"decode", WHET_FLAG_STR, &decode, NULL},
        {"add_special_tokens", WHET_FLAG_BOOL, &add_special, NULL},
        {"parse_special", WHET_FLAG_BOOL, &parse_special, NULL},
        {"skip_special_tokens", WHET_FLAG_BOOL, &skip_special, NULL},
        {"pieces", WHET_FLAG_BOOL, &pieces, NULL},
    };
    if (whet_cli_parse_flags("tokenize", argc, argv, flags, sizeof flags / sizeof flags[0])) return 2;
    if (!model) return whet_cli_fail("tokenize", "--model_name_or_path is required (a folder, tokenizer.json or .gguf)");
    if (!!text + !!file + !!decode != 1) return whet_cli_fail("tokenize", "give exactly one of --text, --file, --decode");
    whet_error err = {0};
    whet_tokenizer *tok = NULL;
    if (load_any(model, &tok, &err) != WHET_OK) return whet_cli_fail("tokenize", err.msg);
    int rc = 0;
    if (decode) {
        int32_t *ids = NULL;
        int64_t n = 0;
        whet_strbuf out;
        whet_sb_init(&out);
        if (whet_cli_parse_ids("tokenize", "--decode", decode, &ids, &n)) rc = 1;
        else if (whet_tokenizer_decode(tok, ids, (size_t)n, skip_special, &out, &err) != WHET_OK)
            rc = whet_cli_fail("tokenize", err.msg);
        else printf("%s\n", out.data ? out.data : "");
        free(ids);
        whet_sb_free(&out);
    } else {
        char *owned = NULL;
        size_t len = text ? strlen(text) : 0;
        if (file && whet_read_file(file, &owned, &len, &err) != WHET_OK) rc = whet_cli_fail("tokenize", err.msg);
        whet_tokens ids = {0};
        if (rc == 0 && whet_tokenizer_encode_opts(tok, file ? owned : text, len, add_special, parse_special, &ids, &err) !=
                           WHET_OK)
            rc = whet_cli_fail("tokenize", err.msg);
        else if (rc == 0) print_ids(tok, ids.ids, ids.n, pieces);
        whet_tokens_free(&ids);
        free(owned);
    }
    whet_tokenizer_free(tok);
    return rc;
}

const whet_command whet_cmd_tokenize = {"tokenize", "encode text or decode ids with a model's tokenizer", run_tokenize};
