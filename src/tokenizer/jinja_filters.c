/* jinja_filters.c: Jinja2 3.1's filters and tests as chat templates use
 * them (trim, tojson as transformers overrides it, length, first/last,
 * join, default, list, string, int/float, map, select/reject(attr), unique,
 * sort, dictsort, items, indent, upper/lower/title/capitalize, replace, ...)
 * and the `is` tests (defined, none, string, mapping, iterable, sequence,
 * number, boolean, equalto, in, ...), with Jinja's exact behaviour. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer/jinja_impl.h"

static whet_status oom(jrender *r, const jnode *at) { return jfail(r, at, WHET_ERR_NOMEM, "out of memory"); }

static jv to_str(jrender *r, jv v) {
    if (v.kind == JV_STR) return v;
    whet_strbuf sb;
    whet_sb_init(&sb);
    jv_to_str(v, &sb);
    jv s = jv_sb_to_str(r->a, &sb);
    whet_sb_free(&sb);
    return s;
}

static jv list_val(jlist *l) { jv v = {.kind = JV_LIST}; v.u.list = l; return v; }

static bool argb(const jargs *a, size_t pos, const char *name, bool def) {
    jv v;
    return jarg(a, pos, name, &v) ? jv_truthy(v) : def;
}

/* Jinja's make_attrgetter: "a.b.0" looks up a, then b, then index 0. */
static whet_status attr_path(jrender *r, const jnode *at, jv item, jv attr, jv *out) {
    if (attr.kind != JV_STR) return jinja_getitem(r, at, item, attr, out);
    jstr p = attr.u.s;
    *out = item;
    size_t b = 0;
    for (size_t i = 0; i <= p.n; i++) {
        if (i < p.n && p.p[i] != '.') continue;
        jstr part = {p.p + b, i - b};
        bool digits = part.n > 0;
        for (size_t k = 0; k < part.n; k++) digits = digits && part.p[k] >= '0' && part.p[k] <= '9';
        jv key = digits ? jv_int(strtoll(part.p, NULL, 10)) : jv_str(part);
        WHET_TRY(jinja_getitem(r, at, *out, key, out));
        b = i + 1;
    }
    return WHET_OK;
}

/* Lower-cased key for case-insensitive sort/unique/min/max (Jinja's ignore_case). */
static jv fold(jrender *r, jv v, bool case_sensitive) {
    return (!case_sensitive && v.kind == JV_STR) ? jstr_case(r->a, v.u.s, 0) : v;
}

/* Stable merge sort of items by keys. */
static whet_status sort_items(jrender *r, const jnode *at, jv *items, jv *keys, size_t n, bool reverse) {
    if (n < 2) return WHET_OK;
    size_t h = n / 2;
    WHET_TRY(sort_items(r, at, items, keys, h, reverse));
    WHET_TRY(sort_items(r, at, items + h, keys + h, n - h, reverse));
    jv *ti = ja_alloc(r->a, n * sizeof *ti), *tk = ja_alloc(r->a, n * sizeof *tk);
    if (!ti || !tk) return oom(r, at);
    size_t i = 0, j = h, o = 0;
    while (i < h || j < n) {
        bool take_left = j >= n;
        if (i < h && j < n) {
            int c;
            if (!jv_compare(keys[i], keys[j], &c))
                return jfail(r, at, WHET_ERR_INVALID_ARG, "'<' not supported between instances of '%s' and '%s'",
                             jv_type_name(keys[i]), jv_type_name(keys[j]));
            take_left = reverse ? c >= 0 : c <= 0;
        }
        if (take_left || j >= n) ti[o] = items[i], tk[o++] = keys[i++];
        else ti[o] = items[j], tk[o++] = keys[j++];
    }
    memcpy(items, ti, n * sizeof *ti), memcpy(keys, tk, n * sizeof *tk);
    return WHET_OK;
}

static whet_status f_tojson(jrender *r, const jnode *at, jv v, const jargs *a, jv *out) {
    jv ind, sep;
    jjson_opts o = {.indent = -1, .item_sep = ", ", .key_sep = ": ", .sort_keys = argb(a, 3, "sort_keys", false)};
    if (jarg(a, 0, "indent", &ind) && ind.kind != JV_NONE) {
        if (ind.kind != JV_INT) return jfail(r, at, WHET_ERR_INVALID_ARG, "tojson: indent must be an integer");
        o.indent = (int)ind.u.i, o.item_sep = ",";
    }
    if (jarg(a, 2, "separators", &sep) && sep.kind != JV_NONE) {
        if (sep.kind != JV_LIST || sep.u.list->n != 2 || sep.u.list->items[0].kind != JV_STR ||
            sep.u.list->items[1].kind != JV_STR)
            return jfail(r, at, WHET_ERR_INVALID_ARG, "tojson: separators must be a pair of strings");
        o.item_sep = jv_str_copy(r->a, sep.u.list->items[0].u.s.p, sep.u.list->items[0].u.s.n).u.s.p;
        o.key_sep = jv_str_copy(r->a, sep.u.list->items[1].u.s.p, sep.u.list->items[1].u.s.n).u.s.p;
    }
    whet_strbuf sb;
    whet_sb_init(&sb);
    if (!jv_to_json(v, &o, &sb)) {
        whet_sb_free(&sb);
        return jfail(r, at, WHET_ERR_INVALID_ARG, "tojson: Object of type %s is not JSON serializable", jv_type_name(v));
    }
    if (argb(a, 1, "ensure_ascii", false)) { /* \uXXXX (surrogate pairs) for every non-ASCII code point */
        whet_strbuf esc;
        whet_sb_init(&esc);
        jstr s = {sb.data ? sb.data : "", sb.len};
        for (size_t i = 0; i < s.n;) {
            uint32_t c = jutf8_next(s, &i);
            if (c < 0x80) whet_sb_putc(&esc, (char)c);
            else if (c < 0x10000) whet_sb_printf(&esc, "\\u%04x", c);
            else c -= 0x10000, whet_sb_printf(&esc, "\\u%04x\\u%04x", 0xD800 + (c >> 10), 0xDC00 + (c & 0x3FF));
        }
        whet_sb_free(&sb);
        sb = esc;
    }
    *out = jv_sb_to_str(r->a, &sb);
    whet_sb_free(&sb);
    return WHET_OK;
}

static whet_status f_indent(jrender *r, jv v, const jargs *a, jv *out) {
    jv w;
    jstr ind = {"    ", 4};
    whet_strbuf sp;
    whet_sb_init(&sp);
    if (jarg(a, 0, "width", &w)) {
        if (w.kind == JV_STR) ind = w.u.s;
        else if (w.kind == JV_INT) {
            for (int64_t k = 0; k < w.u.i; k++) whet_sb_putc(&sp, ' ');
            ind = jv_sb_to_str(r->a, &sp).u.s;
        }
    }
    whet_sb_free(&sp);
    bool first = argb(a, 1, "first", false), blank = argb(a, 2, "blank", false);
    jstr s = to_str(r, v).u.s;
    jv lines_v;
    jv s_nl = jv_str_copy(r->a, s.p, s.n + 1);
    ((char *)s_nl.u.s.p)[s.n] = '\n'; /* Jinja appends "\n" before splitlines */
    jargs none = {0};
    bool found;
    WHET_TRY(jinja_method(r, NULL, s_nl, (jstr){"splitlines", 10}, &none, &lines_v, &found));
    jlist *lines = lines_v.u.list;
    whet_strbuf sb;
    whet_sb_init(&sb);
    if (first) whet_sb_append(&sb, ind.p, ind.n);
    for (size_t i = 0; i < lines->n; i++) {
        jstr ln = lines->items[i].u.s;
        if (i) {
            whet_sb_putc(&sb, '\n');
            if (blank || ln.n) whet_sb_append(&sb, ind.p, ind.n);
        }
        whet_sb_append(&sb, ln.p, ln.n);
    }
    *out = jv_sb_to_str(r->a, &sb);
    whet_sb_free(&sb);
    return WHET_OK;
}

/* map / select / reject / selectattr / rejectattr. */
static whet_status f_select(jrender *r, jscope *sc, const jnode *at, jstr name, jv v, const jargs *a, jv *out) {
    jlist *in, *res = jlist_new(r->a, 0);
    if (!res) return oom(r, at);
    WHET_TRY(jinja_iter_list(r, at, v, &in));
    bool is_map = jstr_eq(name, "map"), by_attr = name.n > 6; /* selectattr / rejectattr */
    bool reject = name.p[0] == 'r';
    jv attr = jv_none(), def, test;
    size_t first_extra = 0;
    bool have_def = jarg(a, (size_t)-1, "default", &def);
    if (is_map) {
        if (!jarg(a, (size_t)-1, "attribute", &attr)) {
            if (!a->n || a->args[0].kind != JV_STR)
                return jfail(r, at, WHET_ERR_INVALID_ARG, "map: give attribute='name' or a filter name");
            test = a->args[0], first_extra = 1;
        }
    } else if (by_attr) {
        if (!a->n) return jfail(r, at, WHET_ERR_INVALID_ARG, "%.*s: missing the attribute name", (int)name.n, name.p);
        attr = a->args[0], first_extra = 1;
    }
    bool have_test = !is_map && a->n > first_extra;
    if (have_test) {
        test = a->args[first_extra++];
        if (test.kind != JV_STR) return jfail(r, at, WHET_ERR_INVALID_ARG, "%.*s: the test name must be a string", (int)name.n, name.p);
    }
    jargs extra = {a->args + first_extra, a->n - first_extra, NULL, NULL, 0};
    for (size_t i = 0; i < in->n; i++) {
        jv item = in->items[i], x = item;
        if (attr.kind != JV_NONE) {
            WHET_TRY(attr_path(r, at, item, attr, &x));
            if (is_map && x.kind == JV_UNDEFINED && have_def) x = def;
        }
        if (is_map) {
            if (attr.kind == JV_NONE) WHET_TRY(jinja_filter(r, sc, at, test.u.s, item, &extra, &x));
            if (!jlist_push(r->a, res, x)) return oom(r, at);
            continue;
        }
        bool ok = jv_truthy(x);
        if (have_test) WHET_TRY(jinja_test(r, sc, at, test.u.s, x, &extra, &ok));
        if (ok != reject && !jlist_push(r->a, res, item)) return oom(r, at);
    }
    *out = list_val(res);
    return WHET_OK;
}

static whet_status f_sortlike(jrender *r, const jnode *at, jstr name, jv v, const jargs *a, jv *out) {
    jlist *in;
    bool dictsort = jstr_eq(name, "dictsort");
    if (dictsort) {
        if (!jv_is_dictlike(v)) return jfail(r, at, WHET_ERR_INVALID_ARG, "dictsort: expected a dict, got %s", jv_type_name(v));
        jargs none = {0};
        bool found;
        WHET_TRY(jinja_method(r, at, v, (jstr){"items", 5}, &none, &v, &found));
    }
    WHET_TRY(jinja_iter_list(r, at, v, &in));
    bool unique = jstr_eq(name, "unique"), minmax = jstr_eq(name, "min") || jstr_eq(name, "max");
    bool cs = argb(a, dictsort ? 0 : unique || minmax ? 0 : 1, "case_sensitive", false);
    bool reverse = dictsort ? argb(a, 2, "reverse", false) : (!unique && !minmax && argb(a, 0, "reverse", false));
    jv attr = jv_none(), by;
    jarg(a, unique || minmax ? 1 : 2, "attribute", &attr);
    size_t n = in->n;
    jv *items = ja_alloc(r->a, (n + 1) * sizeof *items), *keys = ja_alloc(r->a, (n + 1) * sizeof *keys);
    if (!items || !keys) return oom(r, at);
    int by_value = dictsort && jarg(a, 1, "by", &by) && jv_equal(by, jv_cstr("value"));
    for (size_t i = 0; i < n; i++) {
        jv k = items[i] = in->items[i];
        if (dictsort) k = k.u.list->items[by_value];
        else if (attr.kind != JV_NONE) WHET_TRY(attr_path(r, at, k, attr, &k));
        keys[i] = fold(r, k, cs);
    }
    if (unique) {
        jlist *res = jlist_new(r->a, n);
        if (!res) return oom(r, at);
        for (size_t i = 0; i < n; i++) {
            bool seen = false;
            for (size_t j = 0; j < i && !seen; j++) seen = jv_equal(keys[j], keys[i]);
            if (!seen) jlist_push(r->a, res, items[i]);
        }
        *out = list_val(res);
        return WHET_OK;
    }
    if (minmax) {
        if (!n) { *out = jv_undef((jstr){"<empty sequence>", 16}); return WHET_OK; }
        size_t best = 0;
        for (size_t i = 1; i < n; i++) {
            int c;
            if (!jv_compare(keys[i], keys[best], &c))
                return jfail(r, at, WHET_ERR_INVALID_ARG, "%.*s: values of types %s and %s do not compare", (int)name.n,
                             name.p, jv_type_name(keys[i]), jv_type_name(keys[best]));
            if (name.p[1] == 'i' ? c < 0 : c > 0) best = i;
        }
        *out = items[best];
        return WHET_OK;
    }
    WHET_TRY(sort_items(r, at, items, keys, n, reverse));
    jlist *res = jlist_new(r->a, n);
    if (!res) return oom(r, at);
    for (size_t i = 0; i < n; i++) jlist_push(r->a, res, items[i]);
    *out = list_val(res);
    return WHET_OK;
}

static whet_status f_length(jrender *r, const jnode *at, jv v, jv *out) {
    switch (v.kind) {
    case JV_UNDEFINED: *out = jv_int(0); return WHET_OK;
    case JV_STR: *out = jv_int((int64_t)utf8_len(v.u.s)); return WHET_OK;
    case JV_LIST: *out = jv_int((int64_t)v.u.list->n); return WHET_OK;
    case JV_DICT: case JV_NAMESPACE: *out = jv_int((int64_t)v.u.dict->n); return WHET_OK;
    default: return jfail(r, at, WHET_ERR_INVALID_ARG, "object of type '%s' has no len()", jv_type_name(v));
    }
}

static bool parse_int(jstr s, int base, int64_t *out) {
    char buf[80];
    jv t = jstr_strip(s, NULL, 3);
    if (!t.u.s.n || t.u.s.n >= sizeof buf) return false;
    memcpy(buf, t.u.s.p, t.u.s.n), buf[t.u.s.n] = 0;
    for (char *p = buf, *q = buf;; p++) { if (*p != '_') *q++ = *p; if (!*p) break; }
    char *end;
    long long i = strtoll(buf, &end, base);
    if (*end == 0) { *out = i; return true; }
    double d = strtod(buf, &end);
    if (*end == 0 && isfinite(d)) { *out = (int64_t)d; return true; }
    return false;
}

static whet_status f_number(jrender *r, jstr name, jv v, const jargs *a, jv *out) {
    bool is_int = name.p[0] == 'i';
    jv def = is_int ? jv_int(0) : jv_float(0.0), basev;
    jarg(a, 0, "default", &def);
    int base = jarg(a, 1, "base", &basev) && basev.kind == JV_INT ? (int)basev.u.i : 10;
    (void)r;
    switch (v.kind) {
    case JV_INT: *out = is_int ? v : jv_float((double)v.u.i); return WHET_OK;
    case JV_BOOL: *out = is_int ? jv_int(v.u.b) : jv_float(v.u.b); return WHET_OK;
    case JV_FLOAT: *out = is_int ? jv_int((int64_t)v.u.f) : v; return WHET_OK;
    case JV_STR: {
        if (is_int) {
            int64_t i;
            *out = parse_int(v.u.s, base, &i) ? jv_int(i) : def;
        } else {
            char buf[80];
            jv t = jstr_strip(v.u.s, NULL, 3);
            char *end = buf;
            if (t.u.s.n && t.u.s.n < sizeof buf) memcpy(buf, t.u.s.p, t.u.s.n), buf[t.u.s.n] = 0;
            else buf[0] = 0;
            double d = buf[0] ? strtod(buf, &end) : 0;
            *out = buf[0] && !*end ? jv_float(d) : def;
        }
        return WHET_OK;
    }
    default: *out = def; return WHET_OK;
    }
}

static whet_status f_escape(jrender *r, jv v, jv *out) {
    jstr s = to_str(r, v).u.s;
    whet_strbuf sb;
    whet_sb_init(&sb);
    for (size_t i = 0; i < s.n; i++) {
        switch (s.p[i]) {
        case '&': whet_sb_puts(&sb, "&amp;"); break;
        case '<': whet_sb_puts(&sb, "&lt;"); break;
        case '>': whet_sb_puts(&sb, "&gt;"); break;
        case '"': whet_sb_puts(&sb, "&#34;"); break;
        case '\'': whet_sb_puts(&sb, "&#39;"); break;
        default: whet_sb_putc(&sb, s.p[i]);
        }
    }
    *out = jv_sb_to_str(r->a, &sb);
    whet_sb_free(&sb);
    return WHET_OK;
}

/* Filters that take only strings (Jinja's soft_str conversion first). */
static bool string_filter(jrender *r, jstr name, jv v, const jargs *a, jv *out) {
    static const char *const names[] = {"trim", "upper", "lower", "capitalize", "title", "string", "replace", "wordcount"};
    bool is_string_filter = false;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) is_string_filter |= jstr_eq(name, names[i]);
    if (!is_string_filter) return false;
    jv sv = to_str(r, v), x, y, c;
    jstr s = sv.u.s;
    if (jstr_eq(name, "trim")) *out = jstr_strip(s, jarg(a, 0, "chars", &x) && x.kind == JV_STR ? &x : NULL, 3);
    else if (jstr_eq(name, "upper")) *out = jstr_case(r->a, s, 1);
    else if (jstr_eq(name, "lower")) *out = jstr_case(r->a, s, 0);
    else if (jstr_eq(name, "capitalize")) *out = jstr_case(r->a, s, 3);
    else if (jstr_eq(name, "title")) *out = jstr_case(r->a, s, 4);
    else if (jstr_eq(name, "string")) *out = v.kind == JV_UNDEFINED ? jv_cstr("") : sv;
    else if (jstr_eq(name, "replace") && jarg(a, 0, "old", &x) && jarg(a, 1, "new", &y)) {
        jv xs = to_str(r, x), ys = to_str(r, y);
        *out = jstr_replace(r->a, s, xs.u.s, ys.u.s, jarg(a, 2, "count", &c) && c.kind == JV_INT ? c.u.i : -1);
    } else if (jstr_eq(name, "wordcount")) {
        jargs none = {0};
        bool found;
        jv parts;
        if (jinja_method(r, NULL, sv, (jstr){"split", 5}, &none, &parts, &found) != WHET_OK) return false;
        *out = jv_int((int64_t)parts.u.list->n);
    } else return false;
    return true;
}

/* list, first, last, reverse, join, sum: filters over an iterable. */
static whet_status f_iterable(jrender *r, const jnode *at, jstr name, jv v, const jargs *a, jv *out) {
    jlist *l;
    if (jstr_eq(name, "first") && v.kind == JV_UNDEFINED) { *out = v; return WHET_OK; }
    WHET_TRY(jinja_iter_list(r, at, v, &l));
    if (jstr_eq(name, "list")) {
        jlist *c = jlist_new(r->a, l->n);
        if (!c) return oom(r, at);
        for (size_t i = 0; i < l->n; i++) jlist_push(r->a, c, l->items[i]);
        *out = list_val(c);
    } else if (jstr_eq(name, "first") || jstr_eq(name, "last")) {
        if (!l->n) *out = jv_undef((jstr){"<empty sequence>", 16});
        else *out = l->items[name.p[0] == 'f' ? 0 : l->n - 1];
    } else if (jstr_eq(name, "reverse")) {
        jlist *c = jlist_new(r->a, l->n);
        if (!c) return oom(r, at);
        for (size_t i = l->n; i-- > 0;) jlist_push(r->a, c, l->items[i]);
        if (v.kind == JV_STR) {
            whet_strbuf sb;
            whet_sb_init(&sb);
            for (size_t i = 0; i < c->n; i++) whet_sb_append(&sb, c->items[i].u.s.p, c->items[i].u.s.n);
            *out = jv_sb_to_str(r->a, &sb);
            whet_sb_free(&sb);
        } else {
            *out = list_val(c);
        }
    } else if (jstr_eq(name, "join")) {
        jv sep = jv_cstr(""), attr;
        jarg(a, 0, "d", &sep);
        bool by_attr = jarg(a, 1, "attribute", &attr);
        sep = to_str(r, sep);
        whet_strbuf sb;
        whet_sb_init(&sb);
        for (size_t i = 0; i < l->n; i++) {
            jv item = l->items[i];
            if (by_attr) WHET_TRY(attr_path(r, at, item, attr, &item));
            if (i) whet_sb_append(&sb, sep.u.s.p, sep.u.s.n);
            jv_to_str(item, &sb);
        }
        *out = jv_sb_to_str(r->a, &sb);
        whet_sb_free(&sb);
    } else { /* sum */
        jv acc = jv_int(0), attr;
        jarg(a, 1, "start", &acc);
        bool by_attr = jarg(a, 0, "attribute", &attr);
        for (size_t i = 0; i < l->n; i++) {
            jv item = l->items[i];
            if (by_attr) WHET_TRY(attr_path(r, at, item, attr, &item));
            bool fl = acc.kind == JV_FLOAT || item.kind == JV_FLOAT;
            if ((acc.kind != JV_INT && acc.kind != JV_FLOAT) || (item.kind != JV_INT && item.kind != JV_FLOAT && item.kind != JV_BOOL))
                return jfail(r, at, WHET_ERR_INVALID_ARG, "sum: unsupported operand types %s and %s", jv_type_name(acc), jv_type_name(item));
            double xf = acc.kind == JV_FLOAT ? acc.u.f : (double)acc.u.i;
            double yf = item.kind == JV_FLOAT ? item.u.f : item.kind == JV_INT ? (double)item.u.i : item.u.b;
            acc = fl ? jv_float(xf + yf) : jv_int(acc.u.i + (item.kind == JV_INT ? item.u.i : item.u.b));
        }
        *out = acc;
    }
    return WHET_OK;
}

whet_status jinja_filter(jrender *r, jscope *sc, const jnode *at, jstr name, jv v, const jargs *a, jv *out) {
    jv x;
    if (string_filter(r, name, v, a, out)) return WHET_OK;
    if (jstr_eq(name, "tojson")) return f_tojson(r, at, v, a, out);
    if (jstr_eq(name, "length") || jstr_eq(name, "count")) return f_length(r, at, v, out);
    if (jstr_eq(name, "safe")) { *out = v; return WHET_OK; }
    if (jstr_eq(name, "default") || jstr_eq(name, "d")) {
        if (!jarg(a, 0, "default_value", &x)) x = jv_cstr("");
        *out = (v.kind == JV_UNDEFINED || (argb(a, 1, "boolean", false) && !jv_truthy(v))) ? x : v;
        return WHET_OK;
    }
    if (jstr_eq(name, "int") || jstr_eq(name, "float")) return f_number(r, name, v, a, out);
    if (jstr_eq(name, "indent")) return f_indent(r, v, a, out);
    if (jstr_eq(name, "escape") || jstr_eq(name, "e") || jstr_eq(name, "forceescape")) return f_escape(r, v, out);
    if (jstr_eq(name, "map") || jstr_eq(name, "select") || jstr_eq(name, "reject") || jstr_eq(name, "selectattr") ||
        jstr_eq(name, "rejectattr"))
        return f_select(r, sc, at, name, v, a, out);
    if (jstr_eq(name, "sort") || jstr_eq(name, "dictsort") || jstr_eq(name, "unique") || jstr_eq(name, "min") ||
        jstr_eq(name, "max"))
        return f_sortlike(r, at, name, v, a, out);
    if (jstr_eq(name, "attr")) {
        if (!jarg(a, 0, "name", &x) || x.kind != JV_STR) return jfail(r, at, WHET_ERR_INVALID_ARG, "attr: needs a name");
        return jinja_getattr(r, at, v, x.u.s, out);
    }
    if (jstr_eq(name, "items")) {
        if (v.kind == JV_UNDEFINED) { *out = list_val(jlist_new(r->a, 0)); return WHET_OK; }
        if (!jv_is_dictlike(v)) return jfail(r, at, WHET_ERR_INVALID_ARG, "items: expected a mapping, got %s", jv_type_name(v));
        bool found;
        jargs none = {0};
        return jinja_method(r, at, v, (jstr){"items", 5}, &none, out, &found);
    }
    if (jstr_eq(name, "list") || jstr_eq(name, "first") || jstr_eq(name, "last") || jstr_eq(name, "reverse") ||
        jstr_eq(name, "join") || jstr_eq(name, "sum"))
        return f_iterable(r, at, name, v, a, out);
    if (jstr_eq(name, "abs")) {
        if (v.kind == JV_INT) *out = jv_int(v.u.i < 0 ? -v.u.i : v.u.i);
        else if (v.kind == JV_FLOAT) *out = jv_float(fabs(v.u.f));
        else return jfail(r, at, WHET_ERR_INVALID_ARG, "bad operand type for abs(): '%s'", jv_type_name(v));
        return WHET_OK;
    }
    if (jstr_eq(name, "round")) {
        jv pv = jv_int(0), mv = jv_cstr("common");
        jarg(a, 0, "precision", &pv), jarg(a, 1, "method", &mv);
        if (v.kind != JV_INT && v.kind != JV_FLOAT) return jfail(r, at, WHET_ERR_INVALID_ARG, "round: expected a number");
        double f = v.kind == JV_INT ? (double)v.u.i : v.u.f, m = pow(10.0, (double)(pv.kind == JV_INT ? pv.u.i : 0));
        if (jv_equal(mv, jv_cstr("floor"))) f = floor(f * m) / m;
        else if (jv_equal(mv, jv_cstr("ceil"))) f = ceil(f * m) / m;
        else f = round(f * m) / m;
        *out = jv_float(f);
        return WHET_OK;
    }
    return jfail(r, at, WHET_ERR_UNSUPPORTED, "no filter named '%.*s' (not in whet's Jinja subset; see docs/chat.md)",
                 (int)name.n, name.p);
}

/* ---------------- tests ---------------- */
whet_status jinja_test(jrender *r, jscope *sc, const jnode *at, jstr name, jv v, const jargs *a, bool *out) {
    (void)sc;
    jv x = jv_none();
    bool has = jarg(a, 0, "", &x);
    jv_kind k = v.kind;
    if (jstr_eq(name, "defined")) *out = k != JV_UNDEFINED;
    else if (jstr_eq(name, "undefined")) *out = k == JV_UNDEFINED;
    else if (jstr_eq(name, "none")) *out = k == JV_NONE;
    else if (jstr_eq(name, "string")) *out = k == JV_STR;
    else if (jstr_eq(name, "mapping")) *out = k == JV_DICT;
    else if (jstr_eq(name, "iterable")) *out = k == JV_STR || k == JV_LIST || k == JV_DICT || k == JV_UNDEFINED;
    else if (jstr_eq(name, "sequence")) *out = k == JV_STR || k == JV_LIST || k == JV_DICT || k == JV_UNDEFINED;
    else if (jstr_eq(name, "number")) *out = k == JV_INT || k == JV_FLOAT || k == JV_BOOL;
    else if (jstr_eq(name, "integer")) *out = k == JV_INT;
    else if (jstr_eq(name, "float")) *out = k == JV_FLOAT;
    else if (jstr_eq(name, "boolean")) *out = k == JV_BOOL;
    else if (jstr_eq(name, "true")) *out = k == JV_BOOL && v.u.b;
    else if (jstr_eq(name, "false")) *out = k == JV_BOOL && !v.u.b;
    else if (jstr_eq(name, "callable")) *out = k == JV_MACRO || k == JV_BUILTIN;
    else if (jstr_eq(name, "escaped")) *out = false;
    else if (jstr_eq(name, "lower") || jstr_eq(name, "upper")) {
        jargs none = {0};
        bool found;
        jv res = jv_bool(false);
        if (k == JV_STR) WHET_TRY(jinja_method(r, at, v, name.p[0] == 'l' ? (jstr){"islower", 7} : (jstr){"isupper", 7}, &none, &res, &found));
        *out = res.u.b;
    } else if (jstr_eq(name, "odd") || jstr_eq(name, "even") || jstr_eq(name, "divisibleby")) {
        if (k != JV_INT && k != JV_BOOL) return jfail(r, at, WHET_ERR_INVALID_ARG, "'%.*s' test needs an integer", (int)name.n, name.p);
        int64_t i = k == JV_INT ? v.u.i : v.u.b, d = 2;
        if (name.p[0] == 'd') {
            if (!has || x.kind != JV_INT || !x.u.i) return jfail(r, at, WHET_ERR_INVALID_ARG, "divisibleby needs a nonzero integer");
            d = x.u.i;
        }
        *out = name.p[0] == 'o' ? (i % 2 != 0) : (i % d == 0);
    } else if (jstr_eq(name, "sameas")) {
        *out = jv_equal(v, x) && v.kind == x.kind &&
               (k == JV_NONE || k == JV_BOOL || k == JV_UNDEFINED || k == JV_LIST || k == JV_DICT || k == JV_NAMESPACE);
    } else {
        static const char *const cmp[][2] = {{"equalto", "=="}, {"eq", "=="}, {"==", "=="}, {"ne", "!="}, {"!=", "!="},
                                             {"gt", ">"}, {">", ">"}, {"ge", ">="}, {">=", ">="}, {"lt", "<"},
                                             {"<", "<"}, {"le", "<="}, {"<=", "<="}, {"in", "in"}};
        for (size_t i = 0; i < sizeof cmp / sizeof cmp[0]; i++) {
            if (!jstr_eq(name, cmp[i][0])) continue;
            if (!has) return jfail(r, at, WHET_ERR_INVALID_ARG, "'%.*s' test needs an argument", (int)name.n, name.p);
            jnode tmp = {.kind = JN_COMPARE, .line = at ? at->line : 0, .col = at ? at->col : 0};
            tmp.op = (jstr){cmp[i][1], strlen(cmp[i][1])};
            jnode la = {.kind = JN_LITERAL}, lb = {.kind = JN_LITERAL};
            la.lit = v, lb.lit = x, tmp.a = &la, tmp.b = &lb;
            jv res;
            WHET_TRY(jinja_eval(r, sc, &tmp, &res));
            *out = res.u.b;
            return WHET_OK;
        }
        return jfail(r, at, WHET_ERR_UNSUPPORTED, "no test named '%.*s' (not in whet's Jinja subset; see docs/chat.md)",
                     (int)name.n, name.p);
    }
    return WHET_OK;
}
