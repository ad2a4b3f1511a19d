/* json.h: thin helpers over cJSON: parse a file with a line:column error,
 * typed getters that name the key when the type is wrong. */
#ifndef WHET_CORE_JSON_H
#define WHET_CORE_JSON_H
#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "core/status.h"

/* Parse `len` bytes of text; on error the message reads "<what>:<line>:<col>: ...". */
whet_status whet_json_parse(const char *text, size_t len, const char *what, cJSON **out, whet_error *err);
/* Read and parse a file. */
whet_status whet_json_parse_file(const char *path, cJSON **out, whet_error *err);

/* Getters: a missing key returns WHET_ERR_NOT_FOUND (message names `where`.`key`),
 * a wrong type WHET_ERR_FORMAT. The *_or variants return `def` when missing. */
whet_status whet_json_get_int(const cJSON *obj, const char *key, const char *where, int64_t *out, whet_error *err);
whet_status whet_json_get_double(const cJSON *obj, const char *key, const char *where, double *out, whet_error *err);
whet_status whet_json_get_string(const cJSON *obj, const char *key, const char *where, const char **out, whet_error *err);
whet_status whet_json_get_bool(const cJSON *obj, const char *key, const char *where, bool *out, whet_error *err);
whet_status whet_json_int_or(const cJSON *obj, const char *key, const char *where, int64_t def, int64_t *out, whet_error *err);
whet_status whet_json_double_or(const cJSON *obj, const char *key, const char *where, double def, double *out, whet_error *err);
whet_status whet_json_string_or(const cJSON *obj, const char *key, const char *where, const char *def, const char **out, whet_error *err);
whet_status whet_json_bool_or(const cJSON *obj, const char *key, const char *where, bool def, bool *out, whet_error *err);

/* Print compactly / indented into a malloc'd string (caller frees with free()). */
char *whet_json_print(const cJSON *v, bool pretty);
/* Write a JSON value to `path` atomically (indented, trailing newline). */
whet_status whet_json_write_file(const char *path, const cJSON *v, whet_error *err);
#endif
