/* yaml.c: libyaml event stream -> cJSON. */
#include "core/yaml.h"
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>
#include "core/file.h"

static bool is_int_literal(const char *s) {
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    if (!*p) return false;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        p += 2;
        if (!*p) return false;
        for (; *p; p++) if (!isxdigit((unsigned char)*p)) return false;
        return true;
    }
    for (; *p; p++) if (!isdigit((unsigned char)*p) && *p != '_') return false;
    return true;
}

static bool is_float_literal(const char *s, double *out) {
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    if (!strcasecmp(p, ".inf") || !strcasecmp(p, ".nan")) {
        *out = strtod(s[0] == '-' ? "-inf" : (strcasecmp(p, ".nan") ? "inf" : "nan"), NULL);
        return true;
    }
    bool digit = false;
    for (const char *q = p; *q; q++) {
        if (isdigit((unsigned char)*q)) digit = true;
        else if (!strchr(".eE+-_", *q)) return false;
    }
    if (!digit) return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno) return false;
    *out = v;
    return true;
}

/* PyYAML (YAML 1.1) resolution of a plain scalar. */
static cJSON *plain_scalar(const char *s) {
    if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL")) return cJSON_CreateNull();
    static const char *truthy[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
    static const char *falsy[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
    for (size_t i = 0; i < sizeof truthy / sizeof *truthy; i++) if (!strcmp(s, truthy[i])) return cJSON_CreateTrue();
    for (size_t i = 0; i < sizeof falsy / sizeof *falsy; i++) if (!strcmp(s, falsy[i])) return cJSON_CreateFalse();
    if (is_int_literal(s)) {
        char buf[64];
        size_t k = 0;
        for (const char *p = s; *p && k < sizeof buf - 1; p++) if (*p != '_') buf[k++] = *p;
        buf[k] = 0;
        return cJSON_CreateNumber((double)strtoll(buf, NULL, 0));
    }
    double d;
    if (is_float_literal(s, &d)) return cJSON_CreateNumber(d);
    return cJSON_CreateString(s);
}

typedef struct {
    yaml_parser_t parser;
    const char *what;
    whet_error *err;
} yaml_ctx;

static whet_status parse_error(yaml_ctx *c) {
    return whet_errorf(c->err, WHET_ERR_FORMAT, "%s:%zu:%zu: malformed YAML: %s", c->what,
                       c->parser.problem_mark.line + 1, c->parser.problem_mark.column + 1,
                       c->parser.problem ? c->parser.problem : "syntax error");
}

static whet_status next_event(yaml_ctx *c, yaml_event_t *ev) {
    if (!yaml_parser_parse(&c->parser, ev)) return parse_error(c);
    return WHET_OK;
}

static whet_status parse_node(yaml_ctx *c, yaml_event_t *ev, cJSON **out);

static whet_status parse_sequence(yaml_ctx *c, cJSON **out) {
    cJSON *arr = cJSON_CreateArray();
    for (;;) {
        yaml_event_t ev;
        whet_status s = next_event(c, &ev);
        if (s) { cJSON_Delete(arr); return s; }
        if (ev.type == YAML_SEQUENCE_END_EVENT) { yaml_event_delete(&ev); break; }
        cJSON *item = NULL;
        s = parse_node(c, &ev, &item);
        yaml_event_delete(&ev);
        if (s) { cJSON_Delete(arr); return s; }
        cJSON_AddItemToArray(arr, item);
    }
    *out = arr;
    return WHET_OK;
}

static whet_status parse_mapping(yaml_ctx *c, cJSON **out) {
    cJSON *obj = cJSON_CreateObject();
    for (;;) {
        yaml_event_t kev;
        whet_status s = next_event(c, &kev);
        if (s) { cJSON_Delete(obj); return s; }
        if (kev.type == YAML_MAPPING_END_EVENT) { yaml_event_delete(&kev); break; }
        if (kev.type != YAML_SCALAR_EVENT) {
            size_t line = kev.start_mark.line + 1;
            yaml_event_delete(&kev);
            cJSON_Delete(obj);
            return whet_errorf(c->err, WHET_ERR_FORMAT, "%s:%zu: mapping keys must be plain strings", c->what, line);
        }
        char *key = strdup((const char *)kev.data.scalar.value);
        size_t line = kev.start_mark.line + 1;
        yaml_event_delete(&kev);
        yaml_event_t vev;
        s = next_event(c, &vev);
        if (s) { free(key); cJSON_Delete(obj); return s; }
        cJSON *val = NULL;
        s = parse_node(c, &vev, &val);
        yaml_event_delete(&vev);
        if (s) { free(key); cJSON_Delete(obj); return s; }
        if (cJSON_GetObjectItemCaseSensitive(obj, key)) {
            whet_errorf(c->err, WHET_ERR_FORMAT, "%s:%zu: key \"%s\" appears twice", c->what, line, key);
            free(key);
            cJSON_Delete(val);
            cJSON_Delete(obj);
            return WHET_ERR_FORMAT;
        }
        cJSON_AddItemToObject(obj, key, val);
        free(key);
    }
    *out = obj;
    return WHET_OK;
}

static whet_status parse_node(yaml_ctx *c, yaml_event_t *ev, cJSON **out) {
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        const char *v = (const char *)ev->data.scalar.value;
        if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.tag) *out = plain_scalar(v);
        else *out = cJSON_CreateString(v);
        return WHET_OK;
    }
    case YAML_SEQUENCE_START_EVENT: return parse_sequence(c, out);
    case YAML_MAPPING_START_EVENT: return parse_mapping(c, out);
    case YAML_ALIAS_EVENT:
        return whet_errorf(c->err, WHET_ERR_UNSUPPORTED, "%s:%zu: YAML aliases (*name) are not supported; write the value out",
                           c->what, ev->start_mark.line + 1);
    default:
        return whet_errorf(c->err, WHET_ERR_FORMAT, "%s:%zu: unexpected YAML structure", c->what, ev->start_mark.line + 1);
    }
}

whet_status whet_yaml_parse(const char *text, size_t len, const char *what, cJSON **out, whet_error *err) {
    yaml_ctx c = {.what = what, .err = err};
    *out = NULL;
    if (!yaml_parser_initialize(&c.parser)) return whet_errorf(err, WHET_ERR_NOMEM, "%s: cannot start YAML parser", what);
    yaml_parser_set_input_string(&c.parser, (const unsigned char *)text, len);
    whet_status s = WHET_OK;
    cJSON *root = NULL;
    bool done = false;
    while (!done && s == WHET_OK) {
        yaml_event_t ev;
        s = next_event(&c, &ev);
        if (s) break;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT: done = true; break;
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_END_EVENT: break;
        case YAML_DOCUMENT_START_EVENT:
            if (root) s = whet_errorf(err, WHET_ERR_FORMAT, "%s: holds more than one YAML document", what);
            break;
        default:
            s = parse_node(&c, &ev, &root);
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&c.parser);
    if (s) { cJSON_Delete(root); return s; }
    *out = root ? root : cJSON_CreateNull();
    return WHET_OK;
}

whet_status whet_yaml_parse_file(const char *path, cJSON **out, whet_error *err) {
    char *text;
    size_t len;
    *out = NULL;
    WHET_TRY(whet_read_file(path, &text, &len, err));
    whet_status s = whet_yaml_parse(text, len, path, out, err);
    free(text);
    return s;
}
