/* gguf_export.c: a merged model as a GGUF llama.cpp loads (gguf_export.h).
 * Metadata and tensor layout follow llama.cpp's convert_hf_to_gguf.py
 * (TextModel / LlamaModel / Qwen2Model / Qwen3Model set_gguf_parameters,
 * LlamaModel.permute, _set_vocab_sentencepiece / _set_vocab_gpt2); the
 * quantization mixes follow llama-quantize's llama_tensor_get_type. */
#include "export/gguf_export.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "core/suggest.h"
#include "core/threadpool.h"
#include "io/gguf.h"
#include "ops/quant.h"

static const char *const FT_NAMES[WHET_GGUF_FT_COUNT] = {
    "f32", "f16", "bf16", "q8_0", "q4_0", "q4_k_m", "q5_k_m", "q6_k", "q4_1",
    "q5_0", "q5_1", "q2_k", "q3_k_s", "q3_k_m", "q3_k_l", "q4_k_s", "q5_k_s"};
/* llama.h's LLAMA_FTYPE_*: ALL_F32 0, MOSTLY_F16 1, MOSTLY_BF16 32, MOSTLY_Q8_0 7, MOSTLY_Q4_0 2,
 * Q4_K_M 15, Q5_K_M 17, Q6_K 18, Q4_1 3, Q5_0 8, Q5_1 9, Q2_K 10, Q3_K_S 11, Q3_K_M 12, Q3_K_L 13,
 * Q4_K_S 14, Q5_K_S 16 */
static const int FT_IDS[WHET_GGUF_FT_COUNT] = {0, 1, 32, 7, 2, 15, 17, 18, 3, 8, 9, 10, 11, 12, 13, 14, 16};
/* llama_ftype_get_default_type: the base tensor type of each mix */
static const whet_dtype FT_BASE[WHET_GGUF_FT_COUNT] = {
    WHET_DT_F32,  WHET_DT_F16,  WHET_DT_BF16, WHET_DT_Q8_0, WHET_DT_Q4_0, WHET_DT_Q4_K,
    WHET_DT_Q5_K, WHET_DT_Q6_K, WHET_DT_Q4_1, WHET_DT_Q5_0, WHET_DT_Q5_1, WHET_DT_Q2_K,
    WHET_DT_Q3_K, WHET_DT_Q3_K, WHET_DT_Q3_K, WHET_DT_Q4_K, WHET_DT_Q5_K};

whet_status whet_gguf_ftype_parse(const char *name, whet_gguf_ftype *out, whet_error *err) {
    for (int i = 0; i < WHET_GGUF_FT_COUNT; i++)
        if (strcasecmp(name, FT_NAMES[i]) == 0) return *out = (whet_gguf_ftype)i, WHET_OK;
    const char *near = whet_suggest(name, FT_NAMES, WHET_GGUF_FT_COUNT);
    return whet_errorf(err, WHET_ERR_INVALID_ARG,
                       "export_gguf: unknown type \"%s\"%s%s%s (use one of f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, "
                       "q5_1, q2_k, q3_k_s, q3_k_m, q3_k_l, q4_k_s, q4_k_m, q5_k_s, q5_k_m, q6_k)",
                       name, near ? "; did you mean \"" : "", near ? near : "", near ? "\"?" : "");
}

const char *whet_gguf_ftype_name(whet_gguf_ftype ft) { return FT_NAMES[ft]; }
int whet_gguf_ftype_id(whet_gguf_ftype ft) { return FT_IDS[ft]; }

/* llama-quantize's use_more_bits: first and last eighth, every third in between. */
static bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* tensor_type_fallback: a type whose block does not divide the row falls
 * back: Q2_K/Q3_K -> Q4_0 (llama.cpp master; releases before 2025 used
 * IQ4_NL, which whet does not write), Q4_K -> Q5_0, Q5_K -> Q5_1,
 * Q6_K -> Q8_0; still no fit -> F16. (llama.cpp refuses a 32-element type
 * whose block does not divide the row; whet writes F16 there too.) */
static whet_dtype fallback(whet_dtype t, int64_t row_len) {
    if (row_len % (int64_t)whet_dtype_block_elems(t) == 0) return t;
    if (t == WHET_DT_Q2_K || t == WHET_DT_Q3_K) t = WHET_DT_Q4_0;
    else if (t == WHET_DT_Q4_K) t = WHET_DT_Q5_0;
    else if (t == WHET_DT_Q5_K) t = WHET_DT_Q5_1;
    else if (t == WHET_DT_Q6_K) t = WHET_DT_Q8_0;
    return row_len % (int64_t)whet_dtype_block_elems(t) == 0 ? t : WHET_DT_F16;
}

/* llama.cpp's LLM_TYPE_70B for these archs: 80 layers (arch llama: with GQA). */
static bool is_70b(const whet_model_config *c) {
    if (c->n_layers != 80) return false;
    if (c->arch == WHET_ARCH_QWEN2) return true;
    return (c->arch == WHET_ARCH_LLAMA || c->arch == WHET_ARCH_MISTRAL) && c->n_heads != c->n_kv_heads;
}

/* llama_tensor_get_type_impl for a dense llama/qwen2/qwen3 model (not
 * falcon, no experts, no imatrix), the branches of the mixes whet writes.
 * Layer counters: llama.cpp counts attn_v / ffn_down tensors in its
 * layer-sorted tensor order, which for a dense model is the layer index. */
whet_dtype whet_gguf_tensor_type(whet_gguf_ftype ft, const char *name, int layer, const whet_model_config *c,
                                 int64_t row_len, int ndim, bool tied) {
    if (ndim < 2 || ends_with(name, "_norm.weight") || ends_with(name, ".bias")) return WHET_DT_F32;
    whet_dtype t = FT_BASE[ft];
    if (t == WHET_DT_F32 || t == WHET_DT_F16 || t == WHET_DT_BF16) return t;
    const int n = c->n_layers, gqa = c->n_kv_heads > 0 ? c->n_heads / c->n_kv_heads : 1;
    const bool is_output = strcmp(name, "output.weight") == 0 || (tied && strcmp(name, "token_embd.weight") == 0);
    if (is_output) {
        /* the base type's block must divide the row, else Q8_0; Q6_K unless Q8_0 */
        if (row_len % (int64_t)whet_dtype_block_elems(t) != 0) t = WHET_DT_Q8_0;
        else if (t != WHET_DT_Q8_0) t = WHET_DT_Q6_K;
    } else if (strcmp(name, "token_embd.weight") == 0) {
        /* untied token_embd keeps the base type in these mixes */
    } else if (strstr(name, "attn_v.weight")) {
        if (ft == WHET_GGUF_FT_Q2_K) t = gqa >= 4 ? WHET_DT_Q4_K : WHET_DT_Q3_K;
        else if (ft == WHET_GGUF_FT_Q3_K_M) t = layer < 2 ? WHET_DT_Q5_K : WHET_DT_Q4_K;
        else if (ft == WHET_GGUF_FT_Q3_K_L) t = WHET_DT_Q5_K;
        else if ((ft == WHET_GGUF_FT_Q4_K_M || ft == WHET_GGUF_FT_Q5_K_M) && use_more_bits(layer, n)) t = WHET_DT_Q6_K;
        else if (ft == WHET_GGUF_FT_Q4_K_S && layer < 4) t = WHET_DT_Q5_K;
        if (is_70b(c) && (t == WHET_DT_Q3_K || t == WHET_DT_Q4_K)) t = WHET_DT_Q5_K;
    } else if (strstr(name, "ffn_down")) {
        if (ft == WHET_GGUF_FT_Q2_K) t = WHET_DT_Q3_K;
        else if (ft == WHET_GGUF_FT_Q3_K_M) t = layer < n / 16 ? WHET_DT_Q5_K : WHET_DT_Q4_K;
        else if (ft == WHET_GGUF_FT_Q3_K_L) t = WHET_DT_Q5_K;
        else if ((ft == WHET_GGUF_FT_Q4_K_M || ft == WHET_GGUF_FT_Q5_K_M) && use_more_bits(layer, n)) t = WHET_DT_Q6_K;
        else if (ft == WHET_GGUF_FT_Q4_K_S && layer < n / 8) t = WHET_DT_Q5_K;
    } else if (strstr(name, "attn_output.weight")) {
        if (ft == WHET_GGUF_FT_Q2_K) t = WHET_DT_Q3_K;
        else if (ft == WHET_GGUF_FT_Q3_K_M) t = WHET_DT_Q4_K;
        else if (ft == WHET_GGUF_FT_Q3_K_L) t = WHET_DT_Q5_K;
    }
    return fallback(t, row_len);
}

bool whet_gguf_tensor_name(const char *hf, char *out, size_t cap, int *layer) {
    static const char *const MAP[][2] = {
        {"input_layernorm.weight", "attn_norm.weight"}, {"self_attn.q_proj.weight", "attn_q.weight"},
        {"self_attn.k_proj.weight", "attn_k.weight"},   {"self_attn.v_proj.weight", "attn_v.weight"},
        {"self_attn.o_proj.weight", "attn_output.weight"}, {"self_attn.q_proj.bias", "attn_q.bias"},
        {"self_attn.k_proj.bias", "attn_k.bias"},       {"self_attn.v_proj.bias", "attn_v.bias"},
        {"self_attn.o_proj.bias", "attn_output.bias"},  {"self_attn.q_norm.weight", "attn_q_norm.weight"},
        {"self_attn.k_norm.weight", "attn_k_norm.weight"}, {"post_attention_layernorm.weight", "ffn_norm.weight"},
        {"mlp.gate_proj.weight", "ffn_gate.weight"},    {"mlp.up_proj.weight", "ffn_up.weight"},
        {"mlp.down_proj.weight", "ffn_down.weight"},    {"mlp.gate_proj.bias", "ffn_gate.bias"},
        {"mlp.up_proj.bias", "ffn_up.bias"},            {"mlp.down_proj.bias", "ffn_down.bias"},
    };
    *layer = -1;
    if (strcmp(hf, "model.embed_tokens.weight") == 0) return snprintf(out, cap, "token_embd.weight"), true;
    if (strcmp(hf, "model.norm.weight") == 0) return snprintf(out, cap, "output_norm.weight"), true;
    if (strcmp(hf, "lm_head.weight") == 0) return snprintf(out, cap, "output.weight"), true;
    int n = 0, consumed = 0;
    if (sscanf(hf, "model.layers.%d.%n", &n, &consumed) != 1 || consumed == 0 || n < 0) return false;
    for (size_t i = 0; i < sizeof MAP / sizeof MAP[0]; i++)
        if (strcmp(hf + consumed, MAP[i][0]) == 0) {
            *layer = n;
            snprintf(out, cap, "blk.%d.%s", n, MAP[i][1]);
            return true;
        }
    return false;
}

/* Row r of head h in HF order is (h, j, i) with j in {0,1} the rotate_half
 * half and i < hd/2; LlamaModel.permute stores it at (h, i, j). */
void whet_gguf_permute_qk(const float *w, float *out, int n_head, int64_t rows, int64_t in, bool inverse) {
    const int64_t hd = rows / n_head, half = hd / 2;
    for (int h = 0; h < n_head; h++)
        for (int64_t j = 0; j < 2; j++)
            for (int64_t i = 0; i < half; i++) {
                int64_t hf_row = h * hd + j * half + i, gg_row = h * hd + i * 2 + j;
                int64_t src = inverse ? gg_row : hf_row, dst = inverse ? hf_row : gg_row;
                memcpy(out + dst * in, w + src * in, (size_t)in * sizeof(float));
            }
}

static const char *arch_name(whet_arch a) {
    return a == WHET_ARCH_QWEN2 ? "qwen2" : a == WHET_ARCH_QWEN3 ? "qwen3" : "llama";
}

/* Hyperparameters as TextModel/LlamaModel.set_gguf_parameters write them. */
static whet_status write_hparams(whet_gguf_writer *w, const whet_export_model *m, const whet_gguf_export_opts *o,
                                 whet_error *err) {
    const whet_model_config *c = &m->cfg;
    const char *a = arch_name(c->arch);
    char key[128], name[4096];
    const char *base = strrchr(m->model_dir, '/');
    base = base && base[1] ? base + 1 : m->model_dir;
    snprintf(name, sizeof name, "%s", o->name ? o->name : base);
    WHET_TRY(whet_gguf_set_str(w, "general.architecture", a, err));
    WHET_TRY(whet_gguf_set_str(w, "general.name", name, err));
#define SET_U32(k, v) (snprintf(key, sizeof key, "%s." k, a), whet_gguf_set_u32(w, key, (uint32_t)(v), err))
#define SET_F32(k, v) (snprintf(key, sizeof key, "%s." k, a), whet_gguf_set_f32(w, key, (float)(v), err))
    WHET_TRY(SET_U32("block_count", c->n_layers));
    WHET_TRY(SET_U32("context_length", c->max_position_embeddings));
    WHET_TRY(SET_U32("embedding_length", c->hidden_size));
    WHET_TRY(SET_U32("feed_forward_length", c->intermediate_size));
    WHET_TRY(SET_U32("attention.head_count", c->n_heads));
    WHET_TRY(SET_U32("attention.head_count_kv", c->n_kv_heads));
    WHET_TRY(SET_F32("rope.freq_base", c->rope_theta));
    WHET_TRY(SET_F32("attention.layer_norm_rms_epsilon", c->rms_norm_eps));
    WHET_TRY(SET_U32("attention.key_length", c->head_dim));
    WHET_TRY(SET_U32("attention.value_length", c->head_dim));
    if (c->arch == WHET_ARCH_LLAMA || c->arch == WHET_ARCH_MISTRAL) {
        WHET_TRY(SET_U32("vocab_size", c->vocab_size));
        WHET_TRY(SET_U32("rope.dimension_count", c->head_dim));
    }
    if (c->rope_type == WHET_ROPE_LINEAR) {
        snprintf(key, sizeof key, "%s.rope.scaling.type", a);
        WHET_TRY(whet_gguf_set_str(w, key, "linear", err));
        WHET_TRY(SET_F32("rope.scaling.factor", c->rope_factor));
    } else if (c->rope_type == WHET_ROPE_DYNAMIC) {
        return whet_errorf(err, WHET_ERR_UNSUPPORTED,
                           "%s/config.json: rope_scaling type \"dynamic\" has no GGUF form (llama.cpp's converter "
                           "does not support it); export the Hugging Face folder only",
                           m->model_dir);
    }
#undef SET_U32
#undef SET_F32
    WHET_TRY(whet_gguf_set_u32(w, "general.file_type", (uint32_t)whet_gguf_ftype_id(o->ftype), err));
    if (o->ftype >= WHET_GGUF_FT_Q8_0) WHET_TRY(whet_gguf_set_u32(w, "general.quantization_version", 2, err));
    return WHET_OK;
}

/* convert_hf_to_gguf's does_token_look_special: an added token that is not
 * marked special but is spelled like a control token (<|...|>, <｜...｜>,
 * <unused...>, <pad>, <mask>, <2mass>, [@BOS@]) is written CONTROL, not
 * USER_DEFINED (Qwen2.5's <|fim_prefix|>, <|repo_name|>, ...). llama.cpp
 * warns "control-looking token ... was not control-type; this is probably a
 * bug in the model" for each one written USER_DEFINED. */
static bool looks_special(const char *p) {
    static const char *const exact[] = {"<pad>", "<mask>", "<2mass>", "[@BOS@]"};
    size_t n = strlen(p);
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (!strcmp(p, exact[i])) return true;
    static const char *const pairs[][2] = {{"<|", "|>"}, {"<\xef\xbd\x9c", "\xef\xbd\x9c>"}, {"<unused", ">"}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        size_t a = strlen(pairs[i][0]), b = strlen(pairs[i][1]);
        if (n >= a && n >= b && !strncmp(p, pairs[i][0], a) && !strcmp(p + n - b, pairs[i][1])) return true;
    }
    return false;
}

/* tokenizer.ggml.*: tokens padded to the model's vocab_size with [PADi]
 * (UNUSED), as convert_hf_to_gguf pads a tokenizer smaller than the embedding. */
static whet_status write_vocab(whet_gguf_writer *w, const whet_tokenizer *t, int vocab, whet_error *err) {
    int nt = whet_tokenizer_vocab_size(t);
    size_t n = (size_t)(vocab > nt ? vocab : nt);
    bool spm = whet_tokenizer_get_kind(t) == WHET_TOK_BPE_SPM;
    char **pad = calloc(n, sizeof *pad);
    const char **tokens = calloc(n, sizeof *tokens);
    int32_t *types = calloc(n, sizeof *types);
    float *scores = calloc(n, sizeof *scores);
    whet_status s = WHET_OK;
    int32_t unk = -1;
    if (!pad || !tokens || !types || !scores) s = whet_errorf(err, WHET_ERR_NOMEM, "GGUF export: vocab of %zu", n);
    for (size_t i = 0; s == WHET_OK && i < n; i++) {
        const char *p = (int)i < nt ? whet_tokenizer_id_to_piece(t, (int32_t)i) : NULL;
        /* SentencePiece: the vocabulary's own spelling ("</s>"), as convert_hf_to_gguf's
         * LlamaHfVocab writes it, not a normalized added token's renamed content ("▁</s>"),
         * which llama.cpp would not recognize as the end-of-generation token */
        if (p && spm && whet_tokenizer_model_piece(t, (int32_t)i)) p = whet_tokenizer_model_piece(t, (int32_t)i);
        if (p) {
            tokens[i] = p;
            types[i] = (int32_t)whet_tokenizer_token_type(t, (int32_t)i);
            if (types[i] == WHET_TOKEN_USER_DEFINED && looks_special(p)) types[i] = WHET_TOKEN_CONTROL;
            scores[i] = whet_tokenizer_score(t, (int32_t)i);
            if (types[i] == WHET_TOKEN_UNKNOWN && unk < 0) unk = (int32_t)i;
        } else {
            pad[i] = malloc(32);
            if (!pad[i]) { s = whet_errorf(err, WHET_ERR_NOMEM, "GGUF export: vocab"); break; }
            snprintf(pad[i], 32, "[PAD%zu]", i);
            tokens[i] = pad[i];
            types[i] = WHET_TOKEN_UNUSED;
        }
    }
    if (s == WHET_OK) s = whet_gguf_set_str(w, "tokenizer.ggml.model", spm ? "llama" : "gpt2", err);
    if (s == WHET_OK) s = whet_gguf_set_str(w, "tokenizer.ggml.pre", spm ? "default" : whet_tokenizer_pre_name(t), err);
    if (s == WHET_OK) s = whet_gguf_set_arr_str(w, "tokenizer.ggml.tokens", tokens, n, err);
    if (s == WHET_OK && spm) s = whet_gguf_set_arr_f32(w, "tokenizer.ggml.scores", scores, n, err);
    if (s == WHET_OK) s = whet_gguf_set_arr_i32(w, "tokenizer.ggml.token_type", types, n, err);
    size_t nm = whet_tokenizer_n_merges(t);
    if (s == WHET_OK && nm > 0) {
        const char **merges = malloc(nm * sizeof *merges);
        if (!merges) s = whet_errorf(err, WHET_ERR_NOMEM, "GGUF export: %zu merges", nm);
        for (size_t i = 0; s == WHET_OK && i < nm; i++) merges[i] = whet_tokenizer_merge(t, i);
        if (s == WHET_OK) s = whet_gguf_set_arr_str(w, "tokenizer.ggml.merges", merges, nm, err);
        free(merges);
    }
    for (size_t i = 0; i < n && pad; i++) free(pad[i]);
    free(pad), free(tokens), free(types), free(scores);
    WHET_TRY(s);
    const struct { const char *key; int32_t id; } ids[] = {
        {"tokenizer.ggml.bos_token_id", whet_tokenizer_bos_id(t)},
        {"tokenizer.ggml.eos_token_id", whet_tokenizer_eos_id(t)},
        {"tokenizer.ggml.unknown_token_id", unk},
        {"tokenizer.ggml.padding_token_id", whet_tokenizer_pad_id(t)},
    };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if (ids[i].id >= 0) WHET_TRY(whet_gguf_set_u32(w, ids[i].key, (uint32_t)ids[i].id, err));
    WHET_TRY(whet_gguf_set_bool(w, "tokenizer.ggml.add_bos_token", whet_tokenizer_add_bos(t), err));
    WHET_TRY(whet_gguf_set_bool(w, "tokenizer.ggml.add_eos_token", whet_tokenizer_add_eos(t), err));
    const char *tmpl = whet_tokenizer_chat_template(t);
    if (tmpl) WHET_TRY(whet_gguf_set_str(w, "tokenizer.chat_template", tmpl, err));
    return WHET_OK;
}

/* Llama 3.1 rope_freqs.weight [head_dim/2], as LlamaModel.generate_extra_tensors computes it. */
static float *llama3_rope_factors(const whet_model_config *c) {
    int half = c->head_dim / 2;
    float *f = malloc((size_t)half * sizeof(float));
    if (!f) return NULL;
    double old = c->rope_original_max_pos > 0 ? c->rope_original_max_pos : 8192;
    double lo = c->rope_low_freq_factor > 0 ? c->rope_low_freq_factor : 1.0;
    double hi = c->rope_high_freq_factor > 0 ? c->rope_high_freq_factor : 4.0;
    double factor = c->rope_factor > 0 ? c->rope_factor : 8.0;
    double low_wl = old / lo, high_wl = old / hi;
    for (int i = 0; i < half; i++) {
        double freq = 1.0 / pow(c->rope_theta, (double)(2 * i) / c->head_dim), wl = 2 * M_PI / freq;
        if (wl < high_wl) f[i] = 1.0f;
        else if (wl > low_wl) f[i] = (float)factor;
        else {
            double smooth = (old / wl - lo) / (hi - lo);
            f[i] = (float)(1.0 / ((1 - smooth) / factor + smooth));
        }
    }
    return f;
}

/* Rows of one tensor quantized in parallel (llama-quantize is threaded the
 * same way); each worker keeps its own status so the first error survives. */
typedef struct {
    whet_dtype dt;
    const float *src;
    int64_t in;
    uint8_t *dst;
    size_t row_bytes;
    whet_status *st;    /* [pool size] */
    whet_error *err;    /* [pool size] */
} quant_ctx;

static void quantize_rows(void *p, size_t begin, size_t end, int worker) {
    quant_ctx *q = p;
    for (size_t r = begin; r < end && q->st[worker] == WHET_OK; r++)
        q->st[worker] = whet_quantize_row(q->dt, q->src + (int64_t)r * q->in, q->in, q->dst + r * q->row_bytes, NULL,
                                          &q->err[worker]);
}

/* One tensor converted to `dt` row by row (malloc'd; Q/K permuted first for arch llama). */
static whet_status convert_tensor(whet_threadpool *pool, const whet_export_tensor *t, const char *gname,
                                  const whet_model_config *c,
                                  whet_dtype dt, void **out, whet_error *err) {
    int64_t rows = t->ndim == 2 ? t->shape[0] : 1, in = t->ndim == 2 ? t->shape[1] : t->numel;
    const float *src = t->data;
    float *perm = NULL;
    bool is_q = ends_with(gname, "attn_q.weight") || ends_with(gname, "attn_q.bias");
    bool is_k = ends_with(gname, "attn_k.weight") || ends_with(gname, "attn_k.bias");
    if ((c->arch == WHET_ARCH_LLAMA || c->arch == WHET_ARCH_MISTRAL) && (is_q || is_k)) {
        int heads = is_q ? c->n_heads : c->n_kv_heads;
        int64_t prow = t->ndim == 2 ? rows : t->numel, pin = t->ndim == 2 ? in : 1;
        perm = malloc((size_t)t->numel * sizeof(float));
        if (!perm) return whet_errorf(err, WHET_ERR_NOMEM, "GGUF export: %s", t->name);
        whet_gguf_permute_qk(t->data, perm, heads, prow, pin, false);
        src = perm;
    }
    size_t row_bytes = whet_dtype_nbytes(dt, (size_t)in);
    uint8_t *buf = malloc(row_bytes * (size_t)rows);
    whet_status s = buf ? WHET_OK : whet_errorf(err, WHET_ERR_NOMEM, "GGUF export: %s", t->name);
    const int workers = whet_threadpool_size(pool);
    quant_ctx q = {.dt = dt, .src = src, .in = in, .dst = buf, .row_bytes = row_bytes,
                   .st = calloc((size_t)workers, sizeof *q.st), .err = calloc((size_t)workers, sizeof *q.err)};
    if (s == WHET_OK && (!q.st || !q.err)) s = whet_errorf(err, WHET_ERR_NOMEM, "GGUF export: %s", t->name);
    if (s == WHET_OK) {
        whet_parallel_for(rows > 1 ? pool : NULL, (size_t)rows, quantize_rows, &q);
        for (int k = 0; k < workers && s == WHET_OK; k++)
            if (q.st[k] != WHET_OK) s = q.st[k], *err = q.err[k];
    }
    free(q.st);
    free(q.err);
    free(perm);
    if (s != WHET_OK) {
        free(buf);
        return whet_error_prefix(err, "GGUF export: %s", t->name), s;
    }
    *out = buf;
    return WHET_OK;
}

static whet_status add_tensors(whet_gguf_writer *w, const whet_export_model *m, whet_gguf_ftype ft,
                               whet_threadpool *pool, whet_error *err) {
    const whet_model_config *c = &m->cfg;
    bool tied = c->tie_word_embeddings;
    bool has_lm_head = false;
    for (size_t i = 0; i < m->n; i++) has_lm_head |= strcmp(m->t[i].name, "lm_head.weight") == 0;
    if (!has_lm_head) tied = true;
    if (c->rope_type == WHET_ROPE_LLAMA3) {
        float *f = llama3_rope_factors(c);
        if (!f) return whet_errorf(err, WHET_ERR_NOMEM, "GGUF export: rope_freqs");
        int64_t ne[1] = {c->head_dim / 2};
        WHET_TRY(whet_gguf_add_tensor(w, "rope_freqs.weight", WHET_DT_F32, 1, ne, f, true, err));
    }
    for (size_t i = 0; i < m->n; i++) {
        const whet_export_tensor *t = &m->t[i];
        char gname[96];
        int layer;
        if (ends_with(t->name, "rotary_emb.inv_freq")) continue;
        if (!whet_gguf_tensor_name(t->name, gname, sizeof gname, &layer))
            return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: tensor '%s' has no llama.cpp name", m->model_dir,
                               t->name);
        if (tied && strcmp(gname, "output.weight") == 0) continue;
        int64_t row = t->ndim == 2 ? t->shape[1] : t->numel;
        whet_dtype dt = whet_gguf_tensor_type(ft, gname, layer, c, row, t->ndim, tied);
        void *data = NULL;
        WHET_TRY(convert_tensor(pool, t, gname, c, dt, &data, err));
        int64_t ne[2] = {row, t->ndim == 2 ? t->shape[0] : 1};
        WHET_TRY(whet_gguf_add_tensor(w, gname, dt, t->ndim == 2 ? 2 : 1, ne, data, true, err));
    }
    return WHET_OK;
}

whet_status whet_export_gguf(const whet_export_model *m, const whet_gguf_export_opts *o, whet_error *err) {
    whet_tokenizer *own = NULL;
    const whet_tokenizer *tok = o->tok;
    if (!tok) {
        WHET_TRY(whet_tokenizer_load_dir(m->model_dir, &own, err));
        tok = own;
    }
    whet_gguf_writer *w = NULL;
    whet_threadpool *pool = NULL;
    whet_status s = whet_threadpool_create(o->n_threads, &pool, err);
    if (s == WHET_OK) s = whet_gguf_writer_create(&w, err);
    if (s == WHET_OK) s = write_hparams(w, m, o, err);
    if (s == WHET_OK) s = write_vocab(w, tok, m->cfg.vocab_size, err);
    if (s == WHET_OK) s = add_tensors(w, m, o->ftype, pool, err);
    if (s == WHET_OK) s = whet_gguf_writer_write(w, o->path, err);
    whet_gguf_writer_free(w);
    whet_threadpool_destroy(pool);
    whet_tokenizer_free(own);
    return s;
}
