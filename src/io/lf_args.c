/* lf_args.c: LLaMA-Factory arguments from a YAML/JSON file and command-line
 * overrides, checked against the registry (lf_args_registry.c): unknown key
 * -> did-you-mean, wrong type -> key + expected type + value, a value whet
 * does not implement -> "not supported", never silently ignored. The result
 * is one cJSON object with defaults filled, read through typed getters. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/json.h"
#include "core/suggest.h"
#include "core/yaml.h"
#include "io/lf_args.h"

struct whet_lf_args {
    cJSON *obj;   /* resolved values, defaults filled */
    cJSON *set;   /* keys the user gave: key -> origin string */
};

static whet_lf_args *args_new(void) {
    whet_lf_args *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->obj = cJSON_CreateObject();
    a->set = cJSON_CreateObject();
    if (!a->obj || !a->set) { whet_lf_args_free(a); return NULL; }
    return a;
}

void whet_lf_args_free(whet_lf_args *a) {
    if (!a) return;
    cJSON_Delete(a->obj);
    cJSON_Delete(a->set);
    free(a);
}

static whet_status unknown_key(const char *key, const char *origin, whet_error *err) {
    size_t n;
    const whet_lf_key *reg = whet_lf_args_registry(&n);
    const char **names = malloc(n * sizeof *names);
    if (!names) return whet_errorf(err, WHET_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) names[i] = reg[i].name;
    const char *best = whet_suggest(key, names, n);
    whet_status s;
    if (best)
        s = whet_errorf(err, WHET_ERR_INVALID_ARG, "%s: unknown key '%s' (did you mean '%s'?)", origin, key, best);
    else
        s = whet_errorf(err, WHET_ERR_INVALID_ARG,
                        "%s: unknown key '%s' (not a LLaMA-Factory argument whet knows; docs/config.md lists them)",
                        origin, key);
    free(names);
    return s;
}

static bool parse_bool_text(const char *s, bool *out) {
    static const char *const T[] = {"true", "True", "TRUE", "yes", "Yes", "on", "1"};
    static const char *const Fv[] = {"false", "False", "FALSE", "no", "No", "off", "0"};
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++)
        if (strcmp(s, T[i]) == 0) { *out = true; return true; }
    for (size_t i = 0; i < sizeof Fv / sizeof Fv[0]; i++)
        if (strcmp(s, Fv[i]) == 0) { *out = false; return true; }
    return false;
}

static bool parse_int_text(const char *s, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno) {
        double d = strtod(s, &end);   /* "5.0" or "1e3" written for an integer */
        if (end == s || *end || d != floor(d) || fabs(d) > 9e15) return false;
        v = (long long)d;
    }
    *out = v;
    return true;
}

static bool parse_double_text(const char *s, double *out) {
    char *end;
    double d = strtod(s, &end);
    if (end == s || *end) return false;
    *out = d;
    return true;
}

/* Join a string or an array of strings into "a,b,c" (spaces around items trimmed). */
static char *list_text(const cJSON *v) {
    size_t cap = 64, len = 0;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    buf[0] = 0;
    const cJSON *it = cJSON_IsArray(v) ? v->child : v;
    for (; it; it = cJSON_IsArray(v) ? it->next : NULL) {
        if (!cJSON_IsString(it)) { free(buf); return NULL; }
        size_t n = strlen(it->valuestring);
        if (len + n + 2 > cap) {
            cap = (len + n + 2) * 2;
            char *nb = realloc(buf, cap);
            if (!nb) { free(buf); return NULL; }
            buf = nb;
        }
        if (len) buf[len++] = ',';
        memcpy(buf + len, it->valuestring, n + 1);
        len += n;
    }
    return buf;
}

/* Convert a raw value (YAML/JSON node, or a command-line string) to the key's type. */
static whet_status coerce(const whet_lf_key *k, const cJSON *v, const char *origin, cJSON **out, whet_error *err) {
    const char *txt = cJSON_IsString(v) ? v->valuestring : NULL;
    *out = NULL;
    switch (k->type) {
    case WHET_LF_STR:
        if (txt) *out = cJSON_CreateString(txt);
        else if (cJSON_IsNumber(v)) {
            char num[64];
            if (v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 1e15)
                snprintf(num, sizeof num, "%lld", (long long)v->valuedouble);
            else
                snprintf(num, sizeof num, "%.17g", v->valuedouble);
            *out = cJSON_CreateString(num);
        }
        break;
    case WHET_LF_LIST: {
        char *s = (txt || cJSON_IsArray(v)) ? list_text(v) : NULL;
        if (s) { *out = cJSON_CreateString(s); free(s); }
        break;
    }
    case WHET_LF_INT: {
        long long i;
        if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble)) *out = cJSON_CreateNumber(v->valuedouble);
        else if (txt && parse_int_text(txt, &i)) *out = cJSON_CreateNumber((double)i);
        break;
    }
    case WHET_LF_FLOAT: {
        double d;
        if (cJSON_IsNumber(v)) *out = cJSON_CreateNumber(v->valuedouble);
        else if (txt && parse_double_text(txt, &d)) *out = cJSON_CreateNumber(d);
        break;
    }
    case WHET_LF_BOOL: {
        bool b;
        if (cJSON_IsBool(v)) *out = cJSON_CreateBool(cJSON_IsTrue(v));
        else if (txt && parse_bool_text(txt, &b)) *out = cJSON_CreateBool(b);
        break;
    }
    case WHET_LF_PATH_OR_BOOL: {   /* kept as a bool, or as the path text */
        bool b;
        if (cJSON_IsBool(v)) *out = cJSON_CreateBool(cJSON_IsTrue(v));
        else if (txt && parse_bool_text(txt, &b)) *out = cJSON_CreateBool(b);
        else if (txt && txt[0]) *out = cJSON_CreateString(txt);
        break;
    }
    }
    if (*out) return WHET_OK;
    char *shown = cJSON_PrintUnformatted(v);
    whet_status s = whet_errorf(err, WHET_ERR_INVALID_ARG, "%s: key '%s' expects %s, got %s", origin, k->name,
                                whet_lf_type_name(k->type), shown ? shown : "?");
    free(shown);
    return s;
}

/* Is `word` one of the '|'-separated names in `set`? */
static bool in_set(const char *set, const char *word) {
    size_t n = strlen(word);
    for (const char *p = set; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, word, n) == 0) return true;
        if (!bar) break;
        p = bar + 1;
    }
    return false;
}

/* Text of a typed value for comparisons with the registry's choice sets. */
static void value_text(const cJSON *v, char *buf, size_t cap) {
    if (cJSON_IsString(v)) snprintf(buf, cap, "%s", v->valuestring);
    else if (cJSON_IsBool(v)) snprintf(buf, cap, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble)) snprintf(buf, cap, "%lld", (long long)v->valuedouble);
    else if (cJSON_IsNumber(v)) snprintf(buf, cap, "%.17g", v->valuedouble);
    else buf[0] = 0;
}

/* Check one value (one list item for list keys) against choices / supported_values. */
static whet_status check_choice(const whet_lf_key *k, const char *word, const char *origin, whet_error *err) {
    if (k->choices && !in_set(k->choices, word))
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "%s: %s: '%s' is not a valid value (one of %s)", origin, k->name,
                           word, k->choices);
    if (k->supported_values && !in_set(k->supported_values, word))
        return whet_errorf(err, WHET_ERR_UNSUPPORTED,
                           "%s: %s: %s is a LLaMA-Factory value whet does not support (yet); whet supports %s", origin,
                           k->name, word, k->supported_values);
    return WHET_OK;
}

static whet_status check_value(const whet_lf_key *k, const cJSON *v, const char *origin, whet_error *err) {
    if (!k->supported) {
        bool is_default = false;
        if (k->def) {
            cJSON *dv = cJSON_CreateString(k->def), *typed = NULL;
            if (dv && coerce(k, dv, "registry", &typed, NULL) == WHET_OK) {
                char a[256], b[256];
                value_text(v, a, sizeof a);
                value_text(typed, b, sizeof b);
                is_default = strcmp(a, b) == 0;
            }
            cJSON_Delete(dv);
            cJSON_Delete(typed);
        }
        if (!is_default)
            return whet_errorf(err, WHET_ERR_UNSUPPORTED,
                               "%s: '%s' (%s) is a LLaMA-Factory argument whet does not support; remove it%s%s",
                               origin, k->name, k->help, k->def ? " or leave it at its default " : "",
                               k->def ? k->def : "");
        return WHET_OK;
    }
    if (strncmp(k->name, "deepspeed_", 10) == 0)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "%s: '%s' is read from the file named by 'deepspeed'; do not set it",
                           origin, k->name);
    if (!k->choices && !k->supported_values) return WHET_OK;
    char text[512];
    value_text(v, text, sizeof text);
    if (k->type != WHET_LF_LIST) return check_choice(k, text, origin, err);
    for (char *save = NULL, *tok = strtok_r(text, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        WHET_TRY(check_choice(k, tok, origin, err));
    return WHET_OK;
}

/* Set one user-given key. A null value resets the key to its default. */
static whet_status set_key(whet_lf_args *a, const char *key, const cJSON *v, const char *origin, whet_error *err) {
    const whet_lf_key *k = whet_lf_args_find_key(key);
    if (!k) return unknown_key(key, origin, err);
    cJSON_DeleteItemFromObjectCaseSensitive(a->obj, key);
    cJSON_DeleteItemFromObjectCaseSensitive(a->set, key);
    if (cJSON_IsNull(v)) return WHET_OK;
    cJSON *typed;
    WHET_TRY(coerce(k, v, origin, &typed, err));
    whet_status s = check_value(k, typed, origin, err);
    if (s != WHET_OK) { cJSON_Delete(typed); return s; }
    cJSON_AddItemToObject(a->obj, key, typed);
    cJSON_AddStringToObject(a->set, key, origin);
    return WHET_OK;
}

static whet_status apply_object(whet_lf_args *a, const cJSON *obj, const char *origin, whet_error *err) {
    if (!cJSON_IsObject(obj))
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: the config must be a mapping of key: value", origin);
    for (const cJSON *it = obj->child; it; it = it->next) WHET_TRY(set_key(a, it->string, it, origin, err));
    return WHET_OK;
}

/* deepspeed: ds_config.json -> zero_optimization.stage and offload devices. */
static whet_status read_deepspeed(whet_lf_args *a, whet_error *err) {
    const char *path = whet_lf_args_str(a, "deepspeed");
    if (!path) return WHET_OK;
    cJSON *ds;
    if (whet_json_parse_file(path, &ds, err) != WHET_OK)
        return whet_error_prefix(err, "deepspeed: reading the DeepSpeed config");
    const cJSON *zo = cJSON_GetObjectItemCaseSensitive(ds, "zero_optimization");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(zo, "stage");
    long long stage = 0;
    if (st && !(cJSON_IsNumber(st) && st->valuedouble >= 0 && st->valuedouble <= 3 &&
                st->valuedouble == floor(st->valuedouble))) {
        cJSON_Delete(ds);
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: zero_optimization.stage must be 0, 1, 2 or 3", path);
    }
    if (st) stage = (long long)st->valuedouble;
    cJSON_AddNumberToObject(a->obj, "deepspeed_zero_stage", (double)stage);
    static const char *const OFF[2][2] = {{"offload_optimizer", "deepspeed_offload_optimizer"},
                                          {"offload_param", "deepspeed_offload_param"}};
    for (int i = 0; i < 2; i++) {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(zo, OFF[i][0]);
        const cJSON *dev = cJSON_GetObjectItemCaseSensitive(o, "device");
        const char *d = cJSON_IsString(dev) ? dev->valuestring : "none";
        if (strcmp(d, "none") && strcmp(d, "cpu")) {
            cJSON_Delete(ds);
            return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: zero_optimization.%s.device '%s': whet supports none|cpu",
                               path, OFF[i][0], d);
        }
        cJSON_AddStringToObject(a->obj, OFF[i][1], d);
    }
    cJSON_Delete(ds);
    return WHET_OK;
}

/* Defaults, derived values and LLaMA-Factory's cross-key rules. */
static whet_status finish(whet_lf_args *a, whet_error *err) {
    size_t n;
    const whet_lf_key *reg = whet_lf_args_registry(&n);
    for (size_t i = 0; i < n; i++) {
        if (!reg[i].def || cJSON_GetObjectItemCaseSensitive(a->obj, reg[i].name)) continue;
        cJSON *dv = cJSON_CreateString(reg[i].def), *typed = NULL;
        whet_status s = dv ? coerce(&reg[i], dv, "registry", &typed, err) : WHET_ERR_NOMEM;
        cJSON_Delete(dv);
        if (s != WHET_OK) return s;
        cJSON_AddItemToObject(a->obj, reg[i].name, typed);
    }
    if (!whet_lf_args_is_set(a, "lora_alpha"))
        cJSON_AddNumberToObject(a->obj, "lora_alpha", 2.0 * (double)whet_lf_args_int(a, "lora_rank"));
    const char *stage = whet_lf_args_str(a, "stage");
    if (whet_lf_args_bool(a, "neat_packing") && !whet_lf_args_is_set(a, "packing"))
        cJSON_AddBoolToObject(a->obj, "packing", 1);
    if (!cJSON_GetObjectItemCaseSensitive(a->obj, "packing"))
        cJSON_AddBoolToObject(a->obj, "packing", strcmp(stage, "pt") == 0);
    if (whet_lf_args_bool(a, "train_on_prompt") && whet_lf_args_bool(a, "mask_history"))
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "train_on_prompt and mask_history cannot both be true "
                                                      "(LLaMA-Factory: mask_history is incompatible with train_on_prompt)");
    if (whet_lf_args_bool(a, "bf16") && whet_lf_args_bool(a, "fp16"))
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "bf16 and fp16 cannot both be true");
    if (strcmp(stage, "sft") != 0) {
        static const char *const SFT_ONLY[] = {"neat_packing", "train_on_prompt", "mask_history"};
        for (size_t i = 0; i < 3; i++)
            if (whet_lf_args_bool(a, SFT_ONLY[i]))
                return whet_errorf(err, WHET_ERR_INVALID_ARG, "%s is only for stage: sft (stage is %s)", SFT_ONLY[i],
                                   stage);
    }
    double val = whet_lf_args_double(a, "val_size");
    if (val < 0 || (val > 1 && val != floor(val)))
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "val_size %g: give a fraction in [0,1) or a whole count", val);
    if (whet_lf_args_is_set(a, "val_size") && val > 0 && whet_lf_args_is_set(a, "eval_dataset"))
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "val_size cannot be combined with eval_dataset");
    if (whet_lf_args_int(a, "cutoff_len") <= 0)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "cutoff_len must be > 0");
    return read_deepspeed(a, err);
}

whet_status whet_lf_args_from_json(const cJSON *obj, const char *origin, whet_lf_args **out, whet_error *err) {
    *out = NULL;
    whet_lf_args *a = args_new();
    if (!a) return whet_errorf(err, WHET_ERR_NOMEM, "out of memory");
    whet_status s = apply_object(a, obj, origin ? origin : "arguments", err);
    if (s == WHET_OK) s = finish(a, err);
    if (s != WHET_OK) { whet_lf_args_free(a); return s; }
    *out = a;
    return WHET_OK;
}

static bool is_config_path(const char *s) {
    size_t n = strlen(s);
    if (strncmp(s, "--", 2) == 0 || strchr(s, '=')) return false;
    return (n > 5 && strcmp(s + n - 5, ".yaml") == 0) || (n > 4 && strcmp(s + n - 4, ".yml") == 0) ||
           (n > 5 && strcmp(s + n - 5, ".json") == 0);
}

static whet_status load_config_file(whet_lf_args *a, const char *path, whet_error *err) {
    cJSON *root = NULL;
    size_t n = strlen(path);
    whet_status s = (n > 5 && strcmp(path + n - 5, ".json") == 0) ? whet_json_parse_file(path, &root, err)
                                                                    : whet_yaml_parse_file(path, &root, err);
    if (s != WHET_OK) return s;
    if (!root) root = cJSON_CreateObject();   /* an empty YAML file */
    s = apply_object(a, root, path, err);
    cJSON_Delete(root);
    return s;
}

/* One command-line pair; `key` may use dashes for underscores. */
static whet_status set_cli(whet_lf_args *a, const char *key, size_t key_len, const char *value, whet_error *err) {
    char name[128];
    if (key_len == 0 || key_len >= sizeof name)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "command line: bad option '--%.*s'", (int)key_len, key);
    for (size_t i = 0; i < key_len; i++) name[i] = key[i] == '-' ? '_' : key[i];
    name[key_len] = 0;
    cJSON *v = cJSON_CreateString(value);
    if (!v) return whet_errorf(err, WHET_ERR_NOMEM, "out of memory");
    whet_status s = set_key(a, name, v, "command line", err);
    cJSON_Delete(v);
    return s;
}

static whet_status apply_argv(whet_lf_args *a, int argc, char **argv, whet_error *err) {
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (is_config_path(arg)) continue;
        const char *body = strncmp(arg, "--", 2) == 0 ? arg + 2 : arg;
        const char *eq = strchr(body, '=');
        if (eq) {   /* --key=value, or LLaMA-Factory's key=value */
            WHET_TRY(set_cli(a, body, (size_t)(eq - body), eq + 1, err));
            continue;
        }
        if (body == arg)
            return whet_errorf(err, WHET_ERR_INVALID_ARG,
                               "command line: unexpected argument '%s' (give a config *.yaml|*.yml|*.json, --key value or key=value)",
                               arg);
        char name[128];
        snprintf(name, sizeof name, "%s", body);
        for (char *p = name; *p; p++) if (*p == '-') *p = '_';
        const whet_lf_key *k = whet_lf_args_find_key(name);
        if (!k) return unknown_key(name, "command line", err);
        bool b;
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (k->type == WHET_LF_BOOL && (!next || strncmp(next, "--", 2) == 0 || !parse_bool_text(next, &b))) {
            WHET_TRY(set_cli(a, body, strlen(body), "true", err));
            continue;
        }
        if (!next)
            return whet_errorf(err, WHET_ERR_INVALID_ARG, "command line: --%s needs a value (%s)", name,
                               whet_lf_type_name(k->type));
        WHET_TRY(set_cli(a, body, strlen(body), next, err));
        i++;
    }
    return WHET_OK;
}

whet_status whet_lf_args_parse(int argc, char **argv, whet_lf_args **out, whet_error *err) {
    *out = NULL;
    whet_lf_args *a = args_new();
    if (!a) return whet_errorf(err, WHET_ERR_NOMEM, "out of memory");
    const char *config = NULL;
    whet_status s = WHET_OK;
    for (int i = 0; i < argc && s == WHET_OK; i++) {
        if (!is_config_path(argv[i])) continue;
        if (i > 0 && strncmp(argv[i - 1], "--", 2) == 0 && !strchr(argv[i - 1], '=')) {
            const whet_lf_key *k = whet_lf_args_find_key(argv[i - 1] + 2);
            if (k && k->type != WHET_LF_BOOL) continue;   /* the value of --deepspeed x.json etc. */
        }
        if (config)
            s = whet_errorf(err, WHET_ERR_INVALID_ARG, "command line: two config files ('%s' and '%s'); give one", config,
                            argv[i]);
        config = argv[i];
    }
    if (s == WHET_OK && config) s = load_config_file(a, config, err);
    if (s == WHET_OK) s = apply_argv(a, argc, argv, err);
    if (s == WHET_OK) s = finish(a, err);
    if (s != WHET_OK) { whet_lf_args_free(a); return s; }
    *out = a;
    return WHET_OK;
}

static const cJSON *get(const whet_lf_args *a, const char *key, whet_lf_type want) {
    const whet_lf_key *k = whet_lf_args_find_key(key);
    WHET_ASSERT(k != NULL);
    WHET_ASSERT(k->type == want || (want == WHET_LF_STR && (k->type == WHET_LF_LIST || k->type == WHET_LF_PATH_OR_BOOL)) ||
                (want == WHET_LF_FLOAT && k->type == WHET_LF_INT));
    return cJSON_GetObjectItemCaseSensitive(a->obj, key);
}

const char *whet_lf_args_str(const whet_lf_args *a, const char *key) {
    const cJSON *v = get(a, key, WHET_LF_STR);
    if (cJSON_IsTrue(v)) return "true";   /* WHET_LF_PATH_OR_BOOL; false reads NULL */
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

long long whet_lf_args_int(const whet_lf_args *a, const char *key) {
    const cJSON *v = get(a, key, WHET_LF_INT);
    return cJSON_IsNumber(v) ? (long long)v->valuedouble : -1;
}

double whet_lf_args_double(const whet_lf_args *a, const char *key) {
    const cJSON *v = get(a, key, WHET_LF_FLOAT);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

bool whet_lf_args_bool(const whet_lf_args *a, const char *key) {
    return cJSON_IsTrue(get(a, key, WHET_LF_BOOL));
}

bool whet_lf_args_is_set(const whet_lf_args *a, const char *key) {
    WHET_ASSERT(whet_lf_args_find_key(key) != NULL);
    return cJSON_GetObjectItemCaseSensitive(a->set, key) != NULL;
}

const cJSON *whet_lf_args_json(const whet_lf_args *a) { return a->obj; }

char **whet_lf_args_list(const whet_lf_args *a, const char *key) {
    const char *s = whet_lf_args_str(a, key);
    size_t cap = 1;
    for (const char *p = s; p && *p; p++) cap += *p == ',';
    char **list = calloc(cap + 1, sizeof *list);
    if (!list || !s) return list;
    size_t n = 0;
    for (const char *p = s; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len && isspace((unsigned char)*p)) { p++; len--; }
        while (len && isspace((unsigned char)p[len - 1])) len--;
        if (len) {
            list[n] = strndup(p, len);
            if (!list[n]) { whet_lf_args_list_free(list); return NULL; }
            n++;
        }
        if (!comma) break;
        p = comma + 1;
    }
    return list;
}

void whet_lf_args_list_free(char **list) {
    if (!list) return;
    for (char **p = list; *p; p++) free(*p);
    free(list);
}
