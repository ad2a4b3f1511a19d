/* cmd_export.c: `whet export merge.yaml [--key value ...]`: LLaMA-Factory's
 * export (llamafactory.md §7): load the base model (f32), merge the LoRA
 * adapters of adapter_name_or_path in order, and write export_dir as a
 * Hugging Face folder (sharded safetensors), a GGUF file, or both, with an
 * Ollama Modelfile (docs/export.md). Everything is built in a staging folder
 * next to export_dir and renamed into place, so a failed export leaves
 * export_dir as it was. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "cli/command.h"
#include "core/atomic_file.h"
#include "core/file.h"
#include "core/strbuf.h"
#include "data/template.h"
#include "export/gguf_export.h"
#include "export/merge.h"
#include "io/lf_args.h"
#include "tokenizer/tokenizer.h"

static void usage(void) {
    printf("usage: whet export MERGE.yaml [--key value ...]\n"
           "  Merge LoRA adapters into a model and write it for other tools (LLaMA-Factory's export):\n"
           "  --model_name_or_path DIR     base model (Hugging Face folder)\n"
           "  --adapter_name_or_path A,B   PEFT LoRA adapter folder(s), merged in order\n"
           "  --template NAME              chat template of the Ollama Modelfile (default: empty, as LLaMA-Factory)\n"
           "  --export_dir DIR             output folder (refused when non-empty unless --overwrite_output_dir true)\n"
           "  --export_format hf|gguf|both Hugging Face safetensors folder, GGUF file, or both (default hf)\n"
           "  --export_dtype bf16|f16|f32  safetensors dtype (default bf16)\n"
           "  --gguf_type TYPE             f32|f16|bf16|q8_0|q4_0|q4_1|q5_0|q5_1|q2_k|q3_k_s|q3_k_m|q3_k_l|\n"
           "                               q4_k_s|q4_k_m|q5_k_s|q5_k_m|q6_k (default q8_0)\n"
           "  --export_size GB             safetensors shard size in GB (default 5); --export_shard_size 500MB\n"
           "  The GGUF is export_dir/<basename of export_dir>-<gguf_type>.gguf. See docs/export.md.\n");
}

typedef enum { FMT_HF = 1, FMT_GGUF = 2, FMT_BOTH = 3 } export_format;

/* transformers' convert_file_size_to_int: "500MB", "100KB", "2GiB", "123" (bytes). */
static whet_status parse_size(const char *s, double *bytes, whet_error *err) {
    char *end = NULL;
    const double v = strtod(s, &end);
    while (end && *end == ' ') end++;
    static const struct { const char *unit; double mult; } U[] = {
        {"", 1}, {"B", 1}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"KIB", 1024.0}, {"MIB", 1048576.0},
        {"GIB", 1073741824.0}};
    if (end != s && v > 0)
        for (size_t i = 0; i < sizeof U / sizeof U[0]; i++)
            if (!strcasecmp(end, U[i].unit)) { *bytes = v * U[i].mult; return WHET_OK; }
    return whet_errorf(err, WHET_ERR_INVALID_ARG,
                       "export_shard_size: '%s' is not a size (write e.g. 500MB, 100KB, 2GB or 2GiB)", s);
}

typedef struct {
    const char *model_dir, *export_dir, *template_name;
    char **adapters;
    export_format fmt;
    whet_dtype dtype;
    whet_gguf_ftype gguf_type;
    double shard_gb;
    bool overwrite;
} export_plan;

/* Read and check every key before touching any file. */
static whet_status plan_from_args(const whet_lf_args *a, export_plan *p, whet_error *err) {
    p->model_dir = whet_lf_args_str(a, "model_name_or_path");
    if (!p->model_dir)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "model_name_or_path: required (the base model's folder)");
    if (!whet_dir_exists(p->model_dir))
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "model_name_or_path: %s is not a folder (whet export reads a "
                           "Hugging Face safetensors folder)", p->model_dir);
    p->export_dir = whet_lf_args_str(a, "export_dir");
    if (!p->export_dir || !p->export_dir[0])
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "export_dir: required (Please specify `export_dir` to save model.)");
    p->template_name = whet_lf_args_str(a, "template");
    if (!p->template_name) p->template_name = "empty";   /* LLaMA-Factory's placeholder for template: None */
    p->overwrite = whet_lf_args_bool(a, "overwrite_output_dir");

    const char *f = whet_lf_args_str(a, "export_format");
    const char *legacy = whet_lf_args_str(a, "export_gguf");   /* older whet key: also write a GGUF of this type */
    if (!strcmp(f, "hf")) p->fmt = FMT_HF;
    else if (!strcmp(f, "gguf")) p->fmt = FMT_GGUF;
    else p->fmt = FMT_BOTH;
    if (legacy && !whet_lf_args_is_set(a, "export_format")) p->fmt = FMT_BOTH;
    const char *gt = whet_lf_args_str(a, "gguf_type");
    if (legacy && whet_lf_args_is_set(a, "gguf_type") && strcasecmp(legacy, gt))
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "export_gguf: %s and gguf_type: %s disagree; set only gguf_type",
                           legacy, gt);
    WHET_TRY(whet_gguf_ftype_parse(legacy ? legacy : gt, &p->gguf_type, err));

    const char *dt = whet_lf_args_str(a, "export_dtype");
    p->dtype = !strcmp(dt, "f32") ? WHET_DT_F32 : !strcmp(dt, "f16") ? WHET_DT_F16 : WHET_DT_BF16;

    const char *shard = whet_lf_args_str(a, "export_shard_size");
    if (shard) {
        double bytes = 0;
        WHET_TRY(parse_size(shard, &bytes, err));
        p->shard_gb = bytes / 1e9;
    } else {
        const long long gb = whet_lf_args_int(a, "export_size");
        if (gb <= 0) return whet_errorf(err, WHET_ERR_INVALID_ARG, "export_size: %lld: the shard size must be >= 1 GB "
                                        "(use export_shard_size: 500MB for smaller shards)", gb);
        p->shard_gb = (double)gb;
    }
    p->adapters = whet_lf_args_list(a, "adapter_name_or_path");
    for (char **ad = p->adapters; ad && *ad; ad++)
        if (!whet_dir_exists(*ad))
            return whet_errorf(err, WHET_ERR_NOT_FOUND, "adapter_name_or_path: %s is not a folder (a PEFT adapter folder "
                               "with adapter_config.json and adapter_model.safetensors)", *ad);
    return WHET_OK;
}

/* LLaMA-Factory's Modelfile; "FROM ." is pointed at the GGUF when one is written. */
static whet_status make_modelfile(const export_plan *p, const char *gguf_name, whet_strbuf *out, whet_error *err) {
    const whet_template *t = NULL;
    whet_tokenizer *tok = NULL;
    WHET_TRY(whet_template_lookup(p->template_name, &t, err));
    WHET_TRY(whet_tokenizer_load_dir(p->model_dir, &tok, err));
    whet_chat_format cf;
    whet_strbuf mf;
    whet_sb_init(&mf);
    whet_status s = whet_chat_format_init(&cf, t, tok, err);
    if (!s) s = whet_template_ollama_modelfile(&cf, &mf, err);
    if (!s) {
        const char *text = (mf.data ? mf.data : "");
        const char *from = strstr(text, "\nFROM .\n");
        if (gguf_name && from) {
            whet_sb_append(out, text, (size_t)(from - text) + 1);
            whet_sb_printf(out, "FROM ./%s\n", gguf_name);
            whet_sb_puts(out, from + strlen("\nFROM .\n"));
        } else {
            whet_sb_puts(out, text);
        }
    }
    whet_sb_free(&mf);
    whet_tokenizer_free(tok);
    return s;
}

static whet_status export_model(const export_plan *p, whet_error *err) {
    /* refuse early: nothing is loaded or written for a non-empty export_dir */
    WHET_TRY(whet_export_check_dir(p->export_dir, p->overwrite, err));
    char dir[4096], stage[4200], gguf_name[512] = "", gguf_path[4800];
    snprintf(dir, sizeof dir, "%s", p->export_dir);
    for (size_t n = strlen(dir); n > 1 && dir[n - 1] == '/'; n--) dir[n - 1] = 0;
    const char *base = strrchr(dir, '/');
    base = base ? base + 1 : dir;
    if (p->fmt & FMT_GGUF) snprintf(gguf_name, sizeof gguf_name, "%s-%s.gguf", base, whet_gguf_ftype_name(p->gguf_type));

    whet_strbuf modelfile;
    whet_sb_init(&modelfile);
    whet_export_model m;
    memset(&m, 0, sizeof m);
    whet_status s = make_modelfile(p, gguf_name[0] ? gguf_name : NULL, &modelfile, err);
    if (!s) s = whet_export_load(p->model_dir, &m, err);
    for (char **ad = p->adapters; !s && ad && *ad; ad++) {
        s = whet_export_merge_adapter(&m, *ad, err);
        if (!s) fprintf(stderr, "whet export: merged %s\n", *ad);
    }
    if (s) {
        whet_sb_free(&modelfile);
        whet_export_free(&m);
        return s;
    }
    snprintf(stage, sizeof stage, "%s.staging.%ld", dir, (long)getpid());
    whet_remove_flat_dir(stage);
    if (p->fmt & FMT_HF) {
        const whet_hf_export_opts o = {.export_dir = stage, .export_size_gb = p->shard_gb, .dtype = p->dtype,
                                       .overwrite = false, .modelfile = (modelfile.data ? modelfile.data : "")};
        s = whet_export_hf(&m, &o, err);
    } else {
        s = whet_mkdirs(stage, err);
        char path[4400];
        snprintf(path, sizeof path, "%s/Modelfile", stage);
        if (!s) s = whet_atomic_write(path, (modelfile.data ? modelfile.data : ""), modelfile.len, err);
    }
    if (!s && (p->fmt & FMT_GGUF)) {
        snprintf(gguf_path, sizeof gguf_path, "%s/%s", stage, gguf_name);
        const whet_gguf_export_opts go = {.path = gguf_path, .ftype = p->gguf_type, .name = NULL, .tok = NULL};
        s = whet_export_gguf(&m, &go, err);
    }
    if (!s) s = whet_atomic_rename_dir(stage, dir, err);
    if (s) whet_remove_flat_dir(stage);
    else if (p->fmt & FMT_HF) printf("model exported to %s (safetensors %s)%s%s\n", dir, whet_export_torch_dtype(p->dtype),
                                     gguf_name[0] ? " and " : "", gguf_name);
    else printf("model exported to %s/%s\n", dir, gguf_name);
    whet_sb_free(&modelfile);
    whet_export_free(&m);
    return s;
}

static int run(int argc, char **argv) {
    if (whet_cli_wants_help(argc, argv) || argc < 2) {
        usage();
        return argc < 2 ? 2 : 0;
    }
    whet_error err = {0};
    whet_lf_args *args = NULL;
    if (whet_lf_args_parse(argc - 1, argv + 1, &args, &err) != WHET_OK) return whet_cli_fail("export", err.msg);
    export_plan p;
    memset(&p, 0, sizeof p);
    whet_status s = plan_from_args(args, &p, &err);
    if (!s) s = export_model(&p, &err);
    whet_lf_args_list_free(p.adapters);
    whet_lf_args_free(args);
    if (s != WHET_OK) return whet_cli_fail("export", err.msg);
    return 0;
}

const whet_command whet_cmd_export = {"export", "merge LoRA adapters and export HF safetensors / GGUF + Modelfile "
                                                "(whet export merge.yaml)", run};
