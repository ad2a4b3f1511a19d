/* json.c: cJSON wrappers with located error messages. */
#include "core/json.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/atomic_file.h"
#include "core/file.h"

static void locate(const char *text, const char *at, int *line, int *col) {
    *line = 1;
    *col = 1;
    for (const char *p = text; p < at && *p; p++) {
        if (*p == '\n') { (*line)++; *col = 1; } else (*col)++;
    }
}

whet_status whet_json_parse(const char *text, size_t len, const char *what, cJSON **out, whet_error *err) {
    const char *end = NULL;
    *out = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (*out) {
        /* trailing garbage after the value is an error too */
        const char *p = end;
        while (p && p < text + len && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
        if (p && p < text + len && *p) {
            int line, col;
            locate(text, p, &line, &col);
            cJSON_Delete(*out);
            *out = NULL;
            return whet_errorf(err, WHET_ERR_FORMAT, "%s:%d:%d: unexpected text after the JSON value", what, line, col);
        }
        return WHET_OK;
    }
    const char *at = end ? end : cJSON_GetErrorPtr();
    if (!at || at < text || at > text + len) at = text + len;
    int line, col;
    locate(text, at, &line, &col);
    char near[24] = {0};
    size_t k = 0;
    for (const char *p = at; p < text + len && *p && *p != '\n' && k < sizeof near - 1; p++) near[k++] = *p;
    return whet_errorf(err, WHET_ERR_FORMAT, "%s:%d:%d: malformed JSON near '%s' (check for a missing comma, quote or bracket)",
                       what, line, col, near);
}

whet_status whet_json_parse_file(const char *path, cJSON **out, whet_error *err) {
    char *text;
    size_t len;
    *out = NULL;
    WHET_TRY(whet_read_file(path, &text, &len, err));
    whet_status s = whet_json_parse(text, len, path, out, err);
    free(text);
    return s;
}

static const cJSON *lookup(const cJSON *obj, const char *key) {
    return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

static whet_status missing(whet_error *err, const char *where, const char *key) {
    return whet_errorf(err, WHET_ERR_NOT_FOUND, "%s: missing key \"%s\"", where, key);
}

static whet_status wrong(whet_error *err, const char *where, const char *key, const char *want) {
    return whet_errorf(err, WHET_ERR_FORMAT, "%s: key \"%s\" must be %s", where, key, want);
}

whet_status whet_json_get_int(const cJSON *obj, const char *key, const char *where, int64_t *out, whet_error *err) {
    const cJSON *v = lookup(obj, key);
    if (!v) return missing(err, where, key);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 9.0e15)
        return wrong(err, where, key, "an integer");
    *out = (int64_t)v->valuedouble;
    return WHET_OK;
}

whet_status whet_json_get_double(const cJSON *obj, const char *key, const char *where, double *out, whet_error *err) {
    const cJSON *v = lookup(obj, key);
    if (!v) return missing(err, where, key);
    if (!cJSON_IsNumber(v)) return wrong(err, where, key, "a number");
    *out = v->valuedouble;
    return WHET_OK;
}

whet_status whet_json_get_string(const cJSON *obj, const char *key, const char *where, const char **out, whet_error *err) {
    const cJSON *v = lookup(obj, key);
    if (!v) return missing(err, where, key);
    if (!cJSON_IsString(v)) return wrong(err, where, key, "a string");
    *out = v->valuestring;
    return WHET_OK;
}

whet_status whet_json_get_bool(const cJSON *obj, const char *key, const char *where, bool *out, whet_error *err) {
    const cJSON *v = lookup(obj, key);
    if (!v) return missing(err, where, key);
    if (!cJSON_IsBool(v)) return wrong(err, where, key, "true or false");
    *out = cJSON_IsTrue(v);
    return WHET_OK;
}

#define OR_VARIANT(name, type, getter)                                                        \
    whet_status name(const cJSON *obj, const char *key, const char *where, type def, type *out, \
                     whet_error *err) {                                                      \
        const cJSON *v = lookup(obj, key);                                                   \
        if (!v || cJSON_IsNull(v)) { *out = def; return WHET_OK; }                           \
        return getter(obj, key, where, out, err);                                            \
    }
OR_VARIANT(whet_json_int_or, int64_t, whet_json_get_int)
OR_VARIANT(whet_json_double_or, double, whet_json_get_double)
OR_VARIANT(whet_json_string_or, const char *, whet_json_get_string)
OR_VARIANT(whet_json_bool_or, bool, whet_json_get_bool)

char *whet_json_print(const cJSON *v, bool pretty) {
    return pretty ? cJSON_Print(v) : cJSON_PrintUnformatted(v);
}

whet_status whet_json_write_file(const char *path, const cJSON *v, whet_error *err) {
    char *s = cJSON_Print(v);
    if (!s) return whet_errorf(err, WHET_ERR_NOMEM, "%s: cannot serialize JSON", path);
    size_t n = strlen(s);
    char *t = realloc(s, n + 2);
    if (!t) { free(s); return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", path); }
    t[n] = '\n';
    t[n + 1] = 0;
    whet_status st = whet_atomic_write(path, t, n + 1, err);
    free(t);
    return st;
}
