/* cmd_convert.c: `whet convert --model_name_or_path DIR|F.gguf --outtype T
 * --outfile F.gguf`: what llama.cpp's convert_hf_to_gguf.py and
 * llama-quantize do, in one command (docs/export.md "whet convert"):
 * - a Hugging Face folder is loaded as f32 (whet_export_load), optional
 *   PEFT adapters are merged in order, and it is written as a GGUF of the
 *   chosen type (whet_export_gguf: llama.cpp's names, metadata, quant mixes);
 * - a .gguf is requantized: dequantized to f32 (whet_export_load_gguf), its
 *   tokenizer read from the same file, and written again, with
 *   llama-quantize --allow-requantize's warning when it was block-quantized.
 * The output is written to a temp name and renamed, so a failure leaves no
 * partial file; an existing --outfile is refused unless --overwrite_output_dir. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "cli/cli_flags.h"
#include "cli/command.h"
#include "core/file.h"
#include "export/gguf_export.h"
#include "export/gguf_import.h"
#include "export/gguf_lora_export.h"
#include "export/merge.h"
#include "tokenizer/tokenizer.h"

static void usage(void) {
    printf("usage: whet convert --model_name_or_path DIR|MODEL.gguf [--outtype TYPE] [--outfile F.gguf]\n"
           "                    [--adapter_name_or_path A[,B]] [--overwrite_output_dir] [--name NAME]\n"
           "       whet convert --model_name_or_path DIR --adapter_name_or_path A --lora_only\n"
           "                    [--outtype f32|f16|bf16|q8_0] [--outfile A.gguf] [--overwrite_output_dir]\n"
           "  Write a GGUF for llama.cpp / Ollama from a Hugging Face folder (convert_hf_to_gguf.py +\n"
           "  llama-quantize), or requantize a GGUF (llama-quantize --allow-requantize).\n"
           "  --model_name_or_path P     Hugging Face model folder, or a .gguf (llama, qwen2, qwen3)\n"
           "  --outtype TYPE             f32|f16|bf16|q8_0|q4_0|q4_k_m|q6_k|... any of whet export's gguf_type\n"
           "                             (default f16, as convert_hf_to_gguf.py)\n"
           "  --outfile F.gguf           output file (default: a folder: DIR/<NAME>-<TYPE>.gguf as\n"
           "                             convert_hf_to_gguf.py names it; a .gguf: ggml-model-<TYPE>.gguf next\n"
           "                             to it, as llama-quantize)\n"
           "  --adapter_name_or_path A,B PEFT LoRA adapter folder(s), merged in order before writing\n"
           "  --lora_only                write the one adapter A as a GGUF LoRA adapter for llama.cpp's --lora\n"
           "                             (convert_lora_to_gguf.py --base DIR); DIR is the HF base it was trained\n"
           "                             on; default --outfile A/<basename of A>-<TYPE>.gguf\n"
           "  --overwrite_output_dir     replace an existing --outfile (refused otherwise)\n"
           "  --name NAME                general.name (default: the folder's basename, or the GGUF's general.name)\n"
           "  --threads N                quantize on N threads (default: all cores, WHET_NUM_THREADS)\n"
           "  Requantizing an already-quantized GGUF loses more quality than quantizing from f16/f32.\n"
           "  See docs/export.md.\n");
}

typedef struct {
    const char *model, *outtype, *outfile, *adapters, *name;
    bool overwrite, lora_only;
    int threads;
} convert_args;

/* "q4_k_m" -> "Q4_K_M" (the ftype spelling in llama.cpp's default file names). */
static void upper(const char *s, char *out, size_t cap) {
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++) out[i] = (char)toupper((unsigned char)s[i]);
    out[i] = 0;
}

static void strip_slashes(char *p) {
    for (size_t n = strlen(p); n > 1 && p[n - 1] == '/'; n--) p[n - 1] = 0;
}

/* The default --outfile (see usage). */
static void default_outfile(const char *model, bool is_gguf, const char *name, whet_gguf_ftype ft, char *out,
                            size_t cap) {
    char dir[4096], type[32];
    snprintf(dir, sizeof dir, "%s", model);
    strip_slashes(dir);
    upper(whet_gguf_ftype_name(ft), type, sizeof type);
    if (is_gguf) {
        char *slash = strrchr(dir, '/');
        if (slash) slash[slash == dir ? 1 : 0] = 0;
        else snprintf(dir, sizeof dir, ".");
        snprintf(out, cap, "%s/ggml-model-%s.gguf", dir, type);
    } else {
        const char *base = strrchr(dir, '/');
        base = base ? base + 1 : dir;
        snprintf(out, cap, "%s/%s-%s.gguf", dir, name ? name : base, type);
    }
}

static whet_status merge_adapters(whet_export_model *m, const char *list, whet_error *err) {
    char *copy = strdup(list), *save = NULL;
    if (!copy) return whet_errorf(err, WHET_ERR_NOMEM, "adapter_name_or_path: out of memory");
    whet_status s = WHET_OK;
    for (char *a = strtok_r(copy, ",", &save); a && !s; a = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*a)) a++;
        for (size_t n = strlen(a); n && isspace((unsigned char)a[n - 1]); n--) a[n - 1] = 0;
        if (!*a) continue;
        if (!whet_dir_exists(a))
            s = whet_errorf(err, WHET_ERR_NOT_FOUND, "--adapter_name_or_path: %s is not a folder (a PEFT adapter folder "
                            "with adapter_config.json and adapter_model.safetensors)", a);
        else if (!(s = whet_export_merge_adapter(m, a, err)))
            fprintf(stderr, "whet convert: merged %s\n", a);
    }
    free(copy);
    return s;
}

static whet_status convert(const convert_args *a, whet_error *err) {
    whet_gguf_ftype ft;
    if (whet_gguf_ftype_parse(a->outtype, &ft, err)) {
        /* the parser names whet export's key ("export_gguf: unknown type ..."); name this flag instead */
        const char *colon = strstr(err->msg, ": ");
        const char *body = colon && strstr(colon, "unknown type") == colon + 2 ? colon + 2 : err->msg;
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%.900s", body);
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "--outtype: %.900s", msg);
    }
    const bool is_dir = whet_dir_exists(a->model), is_gguf = !is_dir && whet_is_gguf_file(a->model);
    if (!is_dir && !is_gguf)
        return whet_errorf(err, whet_file_exists(a->model) ? WHET_ERR_INVALID_ARG : WHET_ERR_NOT_FOUND,
                           "--model_name_or_path: %s %s (give a Hugging Face model folder or a .gguf file)", a->model,
                           whet_file_exists(a->model) ? "is neither a folder nor a .gguf file" : "does not exist");
    char outfile[4600];
    if (a->outfile) snprintf(outfile, sizeof outfile, "%s", a->outfile);
    else default_outfile(a->model, is_gguf, a->name, ft, outfile, sizeof outfile);
    char parent[4600];
    snprintf(parent, sizeof parent, "%s", outfile);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = 0;
        if (!whet_dir_exists(parent))
            return whet_errorf(err, WHET_ERR_NOT_FOUND, "--outfile: the folder %s of %s does not exist (create it first)",
                               parent, outfile);
    }
    struct stat st;
    if (stat(outfile, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return whet_errorf(err, WHET_ERR_INVALID_ARG, "--outfile: %s is a folder (name the .gguf file to write)",
                               outfile);
        if (!a->overwrite)
            return whet_errorf(err, WHET_ERR_INVALID_ARG, "--outfile: %s already exists (pass --overwrite_output_dir "
                               "to replace it)", outfile);
    }

    whet_export_model m;
    memset(&m, 0, sizeof m);
    whet_tokenizer *tok = NULL;
    whet_gguf_import_info info;
    memset(&info, 0, sizeof info);
    whet_status s;
    if (is_gguf) {
        s = whet_export_load_gguf(a->model, &m, &info, err);
        if (!s) s = whet_tokenizer_load_gguf(a->model, &tok, err);
        if (!s && info.quantized)
            fprintf(stderr, "whet convert: warning: %s is already quantized (%s); requantizing to %s loses more "
                            "quality than quantizing from the f16/f32 original (llama-quantize --allow-requantize)\n",
                    a->model, info.weight_type, whet_gguf_ftype_name(ft));
    } else {
        s = whet_export_load(a->model, &m, err);
        if (!s) s = whet_tokenizer_load_dir(a->model, &tok, err);
    }
    if (!s && a->adapters) s = merge_adapters(&m, a->adapters, err);
    if (!s) {
        const char *name = a->name ? a->name : info.name[0] ? info.name : NULL;
        char base[4096];
        if (!name && !is_gguf) {   /* general.name: the folder's basename, trailing slashes ignored */
            snprintf(base, sizeof base, "%s", a->model);
            strip_slashes(base);
            const char *b = strrchr(base, '/');
            name = b && b[1] ? b + 1 : base;
        }
        const whet_gguf_export_opts o = {.path = outfile, .ftype = ft, .name = name, .tok = tok, .n_threads = a->threads};
        s = whet_export_gguf(&m, &o, err);
    }
    if (!s) printf("whet convert: wrote %s (%s, %zu tensors from %s)\n", outfile, whet_gguf_ftype_name(ft), m.n, a->model);
    whet_tokenizer_free(tok);
    whet_export_free(&m);
    return s;
}

/* --lora_only: the adapter as a GGUF LoRA adapter (export/gguf_lora_export.h). */
static whet_status convert_lora(const convert_args *a, whet_error *err) {
    if (!a->adapters || strchr(a->adapters, ','))
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "--lora_only needs exactly one --adapter_name_or_path folder "
                           "(got %s)", a->adapters ? a->adapters : "none");
    if (!whet_dir_exists(a->model))
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "--lora_only: --model_name_or_path %s must be the Hugging Face "
                           "base folder the adapter was trained on (as convert_lora_to_gguf.py --base)", a->model);
    static const struct { const char *name; whet_dtype dt; } types[] = {
        {"f32", WHET_DT_F32}, {"f16", WHET_DT_F16}, {"bf16", WHET_DT_BF16}, {"q8_0", WHET_DT_Q8_0}};
    whet_dtype dt = WHET_DT_F32;
    size_t k = 0;
    for (; k < sizeof types / sizeof types[0]; k++)
        if (strcasecmp(a->outtype, types[k].name) == 0) break;
    if (k == sizeof types / sizeof types[0])
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "--outtype %s: a LoRA adapter GGUF is f32, f16, bf16 or q8_0 "
                           "(convert_lora_to_gguf.py's types)", a->outtype);
    dt = types[k].dt;
    char outfile[4600], dir[4096], upper_type[16];
    if (a->outfile) {
        snprintf(outfile, sizeof outfile, "%s", a->outfile);
    } else {
        snprintf(dir, sizeof dir, "%s", a->adapters);
        strip_slashes(dir);
        const char *b = strrchr(dir, '/');
        upper(types[k].name, upper_type, sizeof upper_type);
        snprintf(outfile, sizeof outfile, "%s/%s-%s.gguf", dir, b && b[1] ? b + 1 : dir, upper_type);
    }
    whet_status s = whet_export_gguf_lora(a->model, a->adapters, outfile, dt, a->overwrite, err);
    if (!s) printf("whet convert: wrote %s (LoRA adapter, %s, from %s)\n", outfile, types[k].name, a->adapters);
    return s;
}

static int run(int argc, char **argv) {
    if (whet_cli_wants_help(argc, argv)) return usage(), 0;
    convert_args a = {.outtype = "f16"};
    const whet_flag flags[] = {
        {"model_name_or_path", WHET_FLAG_STR, &a.model, NULL},
        {"outtype", WHET_FLAG_STR, &a.outtype, NULL},
        {"outfile", WHET_FLAG_STR, &a.outfile, NULL},
        {"adapter_name_or_path", WHET_FLAG_STR, &a.adapters, NULL},
        {"overwrite_output_dir", WHET_FLAG_BOOL, &a.overwrite, NULL},
        {"name", WHET_FLAG_STR, &a.name, NULL},
        {"lora_only", WHET_FLAG_BOOL, &a.lora_only, NULL},
        {"threads", WHET_FLAG_INT, &a.threads, NULL},
    };
    if (whet_cli_parse_flags("convert", argc, argv, flags, sizeof flags / sizeof flags[0])) return 2;
    if (!a.model) {
        usage();
        return whet_cli_fail("convert", "--model_name_or_path is required (a Hugging Face folder or a .gguf)"), 2;
    }
    whet_error err = {0};
    if ((a.lora_only ? convert_lora(&a, &err) : convert(&a, &err)) != WHET_OK) return whet_cli_fail("convert", err.msg);
    return 0;
}

const whet_command whet_cmd_convert = {"convert", "HF folder -> GGUF, or GGUF -> GGUF requantization "
                                                  "(convert_hf_to_gguf.py + llama-quantize)", run};
