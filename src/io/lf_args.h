/* lf_args.h: LLaMA-Factory's arguments (model, data, finetuning, training,
 * generating, export, eval), read from a YAML/JSON file and `--key value`
 * command-line overrides, checked against one registry of every known key
 * (shared/reference/llamafactory.md). An unknown key is an error naming the
 * key with a did-you-mean; a known-but-unsupported key is an error saying so.
 * Values are kept as a cJSON object with defaults filled, read via typed
 * getters, so every command shares one parser. */
#ifndef WHET_IO_LF_ARGS_H
#define WHET_IO_LF_ARGS_H
#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>
#include "core/status.h"

typedef struct whet_lf_args whet_lf_args;

/* `argv` holds what follows the command name: an optional config file
 * (*.yaml|*.yml|*.json) and `--key value` / `--key=value` pairs (a bare
 * `--flag` sets a bool to true). Later sources override earlier ones. */
whet_status whet_lf_args_parse(int argc, char **argv, whet_lf_args **out, whet_error *err);
/* Same from an in-memory cJSON object (tests, the web UI, the API). */
whet_status whet_lf_args_from_json(const cJSON *obj, const char *origin, whet_lf_args **out, whet_error *err);
void whet_lf_args_free(whet_lf_args *a);

/* Typed getters; the key must be in the registry (WHET_ASSERT otherwise).
 * Unset string keys return NULL; unset numbers return the registry default. */
const char *whet_lf_args_str(const whet_lf_args *a, const char *key);
long long whet_lf_args_int(const whet_lf_args *a, const char *key);
double whet_lf_args_double(const whet_lf_args *a, const char *key);
bool whet_lf_args_bool(const whet_lf_args *a, const char *key);
/* Was the key given by the user (file or command line)? */
bool whet_lf_args_is_set(const whet_lf_args *a, const char *key);
/* The whole resolved object (for logging and writing training_args.yaml). */
const cJSON *whet_lf_args_json(const whet_lf_args *a);
/* Split a comma list value ("q_proj,v_proj", "alpaca_en_demo,identity")
 * into a NULL-terminated array of owned strings; free with whet_lf_args_list_free. */
char **whet_lf_args_list(const whet_lf_args *a, const char *key);
void whet_lf_args_list_free(char **list);

/* The registry (src/io/lf_args_registry.c): every LLaMA-Factory key whet
 * knows. Added for `--help` generation and docs/config.md. `def` is the
 * default as text (NULL = None: unset strings read NULL, unset ints -1,
 * unset floats NAN). `choices` lists LLaMA-Factory's valid values ("a|b"),
 * `supported_values` the subset whet implements (NULL = all). A key with
 * supported == false is accepted only at its default value. */
/* WHET_LF_PATH_OR_BOOL: a path string or a bool, as transformers'
 * resume_from_checkpoint (true = newest checkpoint in output_dir). It reads
 * through whet_lf_args_str: a path as given, true as "true"; false reads NULL. */
typedef enum { WHET_LF_STR, WHET_LF_INT, WHET_LF_FLOAT, WHET_LF_BOOL, WHET_LF_LIST, WHET_LF_PATH_OR_BOOL } whet_lf_type;
typedef struct {
    const char *name;
    const char *group;            /* model|data|finetuning|training|generating|export|eval */
    whet_lf_type type;
    const char *def;
    bool supported;
    const char *choices;
    const char *supported_values;
    const char *help;
} whet_lf_key;
const whet_lf_key *whet_lf_args_registry(size_t *n);
const whet_lf_key *whet_lf_args_find_key(const char *name);
const char *whet_lf_type_name(whet_lf_type t);
/* `--help` text from the registry: the supported keys of the groups listed
 * in `groups` ("model,data,finetuning,training"), one line each with type,
 * default and help, then a count of the LLaMA-Factory keys whet rejects.
 * Returns a malloc'd string (free with free()). */
char *whet_lf_args_help(const char *groups);
#endif
