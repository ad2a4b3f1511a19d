/* jinja_value.c: the values a chat template computes with (Python's None,
 * bool, int, float, str, list, dict plus Jinja's undefined, namespace and
 * loop objects), the bump arena they live in, and their Python-exact text
 * forms: str(), repr() and json.dumps(ensure_ascii=False) as transformers'
 * tojson filter writes it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include "tokenizer/jinja_impl.h"

/* ---------------- arena ---------------- */
struct jarena_chunk { jarena_chunk *next; size_t used, cap; _Alignas(16) unsigned char data[]; };

void *ja_alloc(jarena *a, size_t bytes) {
    bytes = (bytes + 15) & ~(size_t)15;
    if (!bytes) bytes = 16;
    jarena_chunk *c = a->head;
    if (!c || c->cap - c->used < bytes) {
        size_t cap = bytes > 60000 ? bytes : 64000;
        jarena_chunk *n = malloc(sizeof *n + cap);
        if (!n) return NULL;
        n->next = c, n->used = 0, n->cap = cap;
        a->head = c = n;
    }
    void *p = c->data + c->used;
    c->used += bytes;
    memset(p, 0, bytes);
    return p;
}

void ja_free_all(jarena *a) {
    for (jarena_chunk *c = a->head, *n; c; c = n) n = c->next, free(c);
    a->head = NULL;
}

bool jstr_eq(jstr a, const char *lit) { size_t n = strlen(lit); return a.n == n && memcmp(a.p, lit, n) == 0; }

/* ---------------- constructors ---------------- */
jv jv_undef(jstr name) { jv v = {.kind = JV_UNDEFINED}; v.u.s = name; return v; }
jv jv_none(void) { jv v = {.kind = JV_NONE}; return v; }
jv jv_bool(bool b) { jv v = {.kind = JV_BOOL}; v.u.b = b; return v; }
jv jv_int(int64_t i) { jv v = {.kind = JV_INT}; v.u.i = i; return v; }
jv jv_float(double f) { jv v = {.kind = JV_FLOAT}; v.u.f = f; return v; }
jv jv_str(jstr s) { jv v = {.kind = JV_STR}; v.u.s = s; return v; }
jv jv_cstr(const char *s) { return jv_str((jstr){s, strlen(s)}); }
bool jv_is_dictlike(jv v) { return v.kind == JV_DICT || v.kind == JV_NAMESPACE || v.kind == JV_LOOP; }

jv jv_str_copy(jarena *a, const char *p, size_t n) {
    char *s = ja_alloc(a, n + 1);
    if (!s) return jv_undef((jstr){"<out of memory>", 15});
    if (n) memcpy(s, p, n);
    return jv_str((jstr){s, n});
}

jv jv_sb_to_str(jarena *a, whet_strbuf *sb) {
    jv v = jv_str_copy(a, sb->len ? sb->data : "", sb->len);
    whet_sb_clear(sb);
    return v;
}

bool jv_truthy(jv v) {
    switch (v.kind) {
    case JV_UNDEFINED: case JV_NONE: return false;
    case JV_BOOL: return v.u.b;
    case JV_INT: return v.u.i != 0;
    case JV_FLOAT: return v.u.f != 0.0;
    case JV_STR: return v.u.s.n != 0;
    case JV_LIST: return v.u.list->n != 0;
    case JV_DICT: return v.u.dict->n != 0;
    default: return true;
    }
}

jlist *jlist_new(jarena *a, size_t cap) {
    jlist *l = ja_alloc(a, sizeof *l);
    if (!l) return NULL;
    if (cap) {
        l->items = ja_alloc(a, cap * sizeof *l->items);
        if (!l->items) return NULL;
        l->cap = cap;
    }
    return l;
}

bool jlist_push(jarena *a, jlist *l, jv v) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        jv *nv = ja_alloc(a, cap * sizeof *nv);
        if (!nv) return false;
        if (l->n) memcpy(nv, l->items, l->n * sizeof *nv);
        l->items = nv, l->cap = cap;
    }
    l->items[l->n++] = v;
    return true;
}

jdict *jdict_new(jarena *a, size_t cap) {
    jdict *d = ja_alloc(a, sizeof *d);
    if (!d) return NULL;
    if (cap) {
        d->keys = ja_alloc(a, cap * sizeof *d->keys);
        d->vals = ja_alloc(a, cap * sizeof *d->vals);
        if (!d->keys || !d->vals) return NULL;
        d->cap = cap;
    }
    return d;
}

static bool key_eq(jv a, jv b) {
    if (a.kind == JV_STR && b.kind == JV_STR) return a.u.s.n == b.u.s.n && memcmp(a.u.s.p, b.u.s.p, a.u.s.n) == 0;
    return jv_equal(a, b);
}

bool jdict_set(jarena *a, jdict *d, jv key, jv val) {
    for (size_t i = 0; i < d->n; i++)
        if (key_eq(d->keys[i], key)) { d->vals[i] = val; return true; }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        jv *k = ja_alloc(a, cap * sizeof *k), *v = ja_alloc(a, cap * sizeof *v);
        if (!k || !v) return false;
        if (d->n) memcpy(k, d->keys, d->n * sizeof *k), memcpy(v, d->vals, d->n * sizeof *v);
        d->keys = k, d->vals = v, d->cap = cap;
    }
    d->keys[d->n] = key, d->vals[d->n] = val, d->n++;
    return true;
}

bool jdict_get(const jdict *d, jv key, jv *out) {
    for (size_t i = 0; i < d->n; i++)
        if (key_eq(d->keys[i], key)) { *out = d->vals[i]; return true; }
    return false;
}

bool jdict_get_str(const jdict *d, const char *key, jv *out) { return jdict_get(d, jv_cstr(key), out); }

/* ---------------- comparison ---------------- */
static bool is_num(jv v) { return v.kind == JV_INT || v.kind == JV_FLOAT || v.kind == JV_BOOL; }
static double num_f(jv v) { return v.kind == JV_FLOAT ? v.u.f : v.kind == JV_INT ? (double)v.u.i : (double)v.u.b; }
static int64_t num_i(jv v) { return v.kind == JV_INT ? v.u.i : v.kind == JV_BOOL ? (int64_t)v.u.b : 0; }

bool jv_equal(jv a, jv b) {
    if (is_num(a) && is_num(b)) {
        if (a.kind == JV_FLOAT || b.kind == JV_FLOAT) return num_f(a) == num_f(b);
        return num_i(a) == num_i(b);
    }
    if (a.kind != b.kind) return false;
    switch (a.kind) {
    case JV_UNDEFINED: case JV_NONE: return true;
    case JV_STR: return a.u.s.n == b.u.s.n && memcmp(a.u.s.p, b.u.s.p, a.u.s.n) == 0;
    case JV_LIST:
        if (a.u.list->n != b.u.list->n) return false;
        for (size_t i = 0; i < a.u.list->n; i++)
            if (!jv_equal(a.u.list->items[i], b.u.list->items[i])) return false;
        return true;
    case JV_DICT: case JV_NAMESPACE: {
        if (a.u.dict->n != b.u.dict->n) return false;
        for (size_t i = 0; i < a.u.dict->n; i++) {
            jv o;
            if (!jdict_get(b.u.dict, a.u.dict->keys[i], &o) || !jv_equal(a.u.dict->vals[i], o)) return false;
        }
        return true;
    }
    case JV_MACRO: return a.u.macro == b.u.macro;
    case JV_BUILTIN: return a.u.builtin == b.u.builtin;
    default: return a.u.dict == b.u.dict;
    }
}

bool jv_compare(jv a, jv b, int *out) {
    if (is_num(a) && is_num(b)) {
        if (a.kind == JV_FLOAT || b.kind == JV_FLOAT) {
            double x = num_f(a), y = num_f(b);
            *out = x < y ? -1 : x > y ? 1 : 0;
        } else {
            int64_t x = num_i(a), y = num_i(b);
            *out = x < y ? -1 : x > y ? 1 : 0;
        }
        return true;
    }
    if (a.kind == JV_STR && b.kind == JV_STR) { /* UTF-8 byte order == code point order */
        size_t n = a.u.s.n < b.u.s.n ? a.u.s.n : b.u.s.n;
        int c = n ? memcmp(a.u.s.p, b.u.s.p, n) : 0;
        *out = c < 0 ? -1 : c > 0 ? 1 : a.u.s.n < b.u.s.n ? -1 : a.u.s.n > b.u.s.n ? 1 : 0;
        return true;
    }
    if (a.kind == JV_LIST && b.kind == JV_LIST) {
        size_t n = a.u.list->n < b.u.list->n ? a.u.list->n : b.u.list->n;
        for (size_t i = 0; i < n; i++) {
            if (jv_equal(a.u.list->items[i], b.u.list->items[i])) continue;
            return jv_compare(a.u.list->items[i], b.u.list->items[i], out);
        }
        *out = a.u.list->n < b.u.list->n ? -1 : a.u.list->n > b.u.list->n ? 1 : 0;
        return true;
    }
    return false;
}

const char *jv_type_name(jv v) {
    static const char *const names[] = {"undefined", "NoneType", "bool", "int", "float", "str", "list", "dict",
                                        "Namespace", "LoopContext", "Macro", "builtin_function"};
    return names[v.kind];
}

/* ---------------- cJSON ---------------- */
bool jv_from_cjson(jarena *a, const cJSON *j, jv *out) {
    if (!j || cJSON_IsNull(j)) { *out = jv_none(); return true; }
    if (cJSON_IsBool(j)) { *out = jv_bool(cJSON_IsTrue(j)); return true; }
    if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        /* cJSON has no int/float distinction: an integral value within range is an int. */
        if (d == floor(d) && fabs(d) < 9.0e15) *out = jv_int((int64_t)d);
        else *out = jv_float(d);
        return true;
    }
    if (cJSON_IsString(j)) {
        *out = jv_str_copy(a, j->valuestring, strlen(j->valuestring));
        return out->kind == JV_STR;
    }
    if (cJSON_IsArray(j)) {
        jlist *l = jlist_new(a, (size_t)cJSON_GetArraySize(j));
        if (!l) return false;
        for (const cJSON *c = j->child; c; c = c->next) {
            jv v;
            if (!jv_from_cjson(a, c, &v) || !jlist_push(a, l, v)) return false;
        }
        out->kind = JV_LIST, out->u.list = l;
        return true;
    }
    if (cJSON_IsObject(j)) {
        jdict *d = jdict_new(a, (size_t)cJSON_GetArraySize(j));
        if (!d) return false;
        for (const cJSON *c = j->child; c; c = c->next) {
            jv v, k = jv_str_copy(a, c->string, strlen(c->string));
            if (k.kind != JV_STR || !jv_from_cjson(a, c, &v) || !jdict_set(a, d, k, v)) return false;
        }
        out->kind = JV_DICT, out->u.dict = d;
        return true;
    }
    *out = jv_none();
    return true;
}

/* ---------------- text forms ---------------- */
/* Python's repr(float): the shortest digits that read back, in exponent form below 1e-4 or from 1e16. */
void jfloat_repr(double f, whet_strbuf *out) {
    if (isnan(f)) { whet_sb_puts(out, "nan"); return; }
    if (isinf(f)) { whet_sb_puts(out, f < 0 ? "-inf" : "inf"); return; }
    char buf[64];
    int prec = 1;
    for (; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, f);
        if (strtod(buf, NULL) == f) break;
    }
    /* buf: [-]d.ddde[+-]XX */
    char digits[32];
    size_t nd = 0;
    const char *p = buf;
    bool neg = *p == '-';
    if (neg) p++;
    for (; *p && *p != 'e'; p++)
        if (*p != '.') digits[nd++] = *p;
    int exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    if (neg) whet_sb_putc(out, '-');
    if (exp10 < -4 || exp10 >= 16) {
        whet_sb_putc(out, digits[0]);
        if (nd > 1) whet_sb_putc(out, '.'), whet_sb_append(out, digits + 1, nd - 1);
        whet_sb_printf(out, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    } else if (exp10 < 0) {
        whet_sb_puts(out, "0.");
        for (int k = 0; k < -exp10 - 1; k++) whet_sb_putc(out, '0');
        whet_sb_append(out, digits, nd);
    } else {
        size_t int_digits = (size_t)exp10 + 1;
        for (size_t k = 0; k < int_digits; k++) whet_sb_putc(out, k < nd ? digits[k] : '0');
        whet_sb_putc(out, '.');
        if (nd > int_digits) whet_sb_append(out, digits + int_digits, nd - int_digits);
        else whet_sb_putc(out, '0');
    }
}

static void repr_str(jstr s, whet_strbuf *out) {
    bool has_sq = memchr(s.p, '\'', s.n) != NULL, has_dq = memchr(s.p, '"', s.n) != NULL;
    char q = has_sq && !has_dq ? '"' : '\'';
    whet_sb_putc(out, q);
    for (size_t i = 0; i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c == (unsigned char)q || c == '\\') whet_sb_putc(out, '\\'), whet_sb_putc(out, (char)c);
        else if (c == '\n') whet_sb_puts(out, "\\n");
        else if (c == '\r') whet_sb_puts(out, "\\r");
        else if (c == '\t') whet_sb_puts(out, "\\t");
        else if (c < 0x20 || c == 0x7f) whet_sb_printf(out, "\\x%02x", c);
        else if (c < 0x80) whet_sb_putc(out, (char)c);
        else { /* Python escapes the non-printable: categories C*, Z* other than the space */
            size_t j = i;
            uint32_t cp = jutf8_next(s, &j);
            utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)cp);
            bool printable = !(cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_CS ||
                               cat == UTF8PROC_CATEGORY_CO || cat == UTF8PROC_CATEGORY_CN || cat == UTF8PROC_CATEGORY_ZL ||
                               cat == UTF8PROC_CATEGORY_ZP || cat == UTF8PROC_CATEGORY_ZS);
            if (printable) whet_sb_append(out, s.p + i, j - i);
            else if (cp < 0x100) whet_sb_printf(out, "\\x%02x", cp);
            else if (cp < 0x10000) whet_sb_printf(out, "\\u%04x", cp);
            else whet_sb_printf(out, "\\U%08x", cp);
            i = j - 1;
        }
    }
    whet_sb_putc(out, q);
}

void jv_repr(jv v, whet_strbuf *out) {
    switch (v.kind) {
    case JV_STR: repr_str(v.u.s, out); return;
    case JV_LIST:
        whet_sb_putc(out, v.u.list->tuple ? '(' : '[');
        for (size_t i = 0; i < v.u.list->n; i++) {
            if (i) whet_sb_puts(out, ", ");
            jv_repr(v.u.list->items[i], out);
        }
        if (v.u.list->tuple && v.u.list->n == 1) whet_sb_putc(out, ',');
        whet_sb_putc(out, v.u.list->tuple ? ')' : ']');
        return;
    case JV_DICT:
        whet_sb_putc(out, '{');
        for (size_t i = 0; i < v.u.dict->n; i++) {
            if (i) whet_sb_puts(out, ", ");
            jv_repr(v.u.dict->keys[i], out);
            whet_sb_puts(out, ": ");
            jv_repr(v.u.dict->vals[i], out);
        }
        whet_sb_putc(out, '}');
        return;
    default: jv_to_str(v, out);
    }
}

void jv_to_str(jv v, whet_strbuf *out) {
    switch (v.kind) {
    case JV_UNDEFINED: return;
    case JV_NONE: whet_sb_puts(out, "None"); return;
    case JV_BOOL: whet_sb_puts(out, v.u.b ? "True" : "False"); return;
    case JV_INT: whet_sb_printf(out, "%lld", (long long)v.u.i); return;
    case JV_FLOAT: jfloat_repr(v.u.f, out); return;
    case JV_STR: whet_sb_append(out, v.u.s.p, v.u.s.n); return;
    case JV_LIST: case JV_DICT: jv_repr(v, out); return;
    case JV_NAMESPACE: whet_sb_puts(out, "<Namespace>"); return;
    case JV_LOOP: whet_sb_puts(out, "<LoopContext>"); return;
    case JV_MACRO: whet_sb_puts(out, "<Macro>"); return;
    case JV_BUILTIN: whet_sb_puts(out, "<built-in function>"); return;
    }
}

static void json_str(jstr s, whet_strbuf *out) {
    whet_sb_putc(out, '"');
    for (size_t i = 0; i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        switch (c) {
        case '"': whet_sb_puts(out, "\\\""); break;
        case '\\': whet_sb_puts(out, "\\\\"); break;
        case '\n': whet_sb_puts(out, "\\n"); break;
        case '\r': whet_sb_puts(out, "\\r"); break;
        case '\t': whet_sb_puts(out, "\\t"); break;
        case '\b': whet_sb_puts(out, "\\b"); break;
        case '\f': whet_sb_puts(out, "\\f"); break;
        default:
            if (c < 0x20) whet_sb_printf(out, "\\u%04x", c);
            else whet_sb_putc(out, (char)c);
        }
    }
    whet_sb_putc(out, '"');
}

static void json_newline(const jjson_opts *o, int level, whet_strbuf *out) {
    whet_sb_putc(out, '\n');
    for (int k = 0; k < o->indent * level; k++) whet_sb_putc(out, ' ');
}

static int cmp_keys(const void *x, const void *y) {
    const jv *a = *(const jv *const *)x, *b = *(const jv *const *)y;
    int c = 0;
    jv_compare(*a, *b, &c);
    return c;
}

static bool to_json(jv v, const jjson_opts *o, int level, whet_strbuf *out) {
    switch (v.kind) {
    case JV_NONE: whet_sb_puts(out, "null"); return true;
    case JV_BOOL: whet_sb_puts(out, v.u.b ? "true" : "false"); return true;
    case JV_INT: whet_sb_printf(out, "%lld", (long long)v.u.i); return true;
    case JV_FLOAT:
        if (isnan(v.u.f)) whet_sb_puts(out, "NaN");
        else if (isinf(v.u.f)) whet_sb_puts(out, v.u.f < 0 ? "-Infinity" : "Infinity");
        else jfloat_repr(v.u.f, out);
        return true;
    case JV_STR: json_str(v.u.s, out); return true;
    case JV_LIST: {
        const jlist *l = v.u.list;
        if (!l->n) { whet_sb_puts(out, "[]"); return true; }
        whet_sb_putc(out, '[');
        for (size_t i = 0; i < l->n; i++) {
            if (i) whet_sb_puts(out, o->item_sep);
            if (o->indent >= 0) json_newline(o, level + 1, out);
            if (!to_json(l->items[i], o, level + 1, out)) return false;
        }
        if (o->indent >= 0) json_newline(o, level, out);
        whet_sb_putc(out, ']');
        return true;
    }
    case JV_DICT: case JV_NAMESPACE: {
        const jdict *d = v.u.dict;
        if (!d->n) { whet_sb_puts(out, "{}"); return true; }
        const jv **order = malloc(d->n * sizeof *order);
        if (!order) return false;
        for (size_t i = 0; i < d->n; i++) order[i] = &d->keys[i];
        if (o->sort_keys) qsort(order, d->n, sizeof *order, cmp_keys);
        whet_sb_putc(out, '{');
        bool ok = true;
        for (size_t i = 0; i < d->n && ok; i++) {
            size_t k = (size_t)(order[i] - d->keys);
            if (i) whet_sb_puts(out, o->item_sep);
            if (o->indent >= 0) json_newline(o, level + 1, out);
            jv key = d->keys[k];
            if (key.kind == JV_STR) json_str(key.u.s, out);
            else { /* json.dumps turns int/float/bool/None keys into strings */
                whet_strbuf tmp;
                whet_sb_init(&tmp);
                if (key.kind == JV_NONE) whet_sb_puts(&tmp, "null");
                else if (key.kind == JV_BOOL) whet_sb_puts(&tmp, key.u.b ? "true" : "false");
                else jv_to_str(key, &tmp);
                json_str((jstr){tmp.data ? tmp.data : "", tmp.len}, out);
                whet_sb_free(&tmp);
            }
            whet_sb_puts(out, o->key_sep);
            ok = to_json(d->vals[k], o, level + 1, out);
        }
        free(order);
        if (!ok) return false;
        if (o->indent >= 0) json_newline(o, level, out);
        whet_sb_putc(out, '}');
        return true;
    }
    default: return false;
    }
}

bool jv_to_json(jv v, const jjson_opts *o, whet_strbuf *out) { return to_json(v, o, 0, out); }

size_t utf8_len(jstr s) {
    size_t n = 0;
    for (size_t i = 0; i < s.n; i++) n += ((unsigned char)s.p[i] & 0xC0) != 0x80;
    return n;
}

size_t utf8_offset(jstr s, size_t cp) {
    size_t i = 0, k = 0;
    for (; i < s.n; i++) {
        if (((unsigned char)s.p[i] & 0xC0) != 0x80) {
            if (k == cp) return i;
            k++;
        }
    }
    return s.n;
}
