/* jinja_methods.c: Python methods templates call on values (str.strip,
 * str.split, str.startswith, dict.items/get/keys/values, list.index,
 * loop.cycle, ...) with Python's exact results, the Unicode case and
 * whitespace helpers the filters share, and the globals transformers'
 * environment provides: range, namespace, dict, raise_exception,
 * strftime_now. Mutating methods (list.append, dict.update) are refused as
 * the ImmutableSandboxedEnvironment transformers uses refuses them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>
#include "tokenizer/jinja_impl.h"

static whet_status oom(jrender *r, const jnode *at) { return jfail(r, at, WHET_ERR_NOMEM, "out of memory"); }

bool jarg(const jargs *a, size_t pos, const char *name, jv *out) {
    if (pos < a->n) { *out = a->args[pos]; return true; }
    for (size_t k = 0; k < a->n_kw; k++)
        if (jstr_eq(a->kw_names[k], name)) { *out = a->kw_vals[k]; return true; }
    return false;
}

/* Decode one code point at s[*i] (advancing *i); invalid bytes come back as themselves. */
uint32_t jutf8_next(jstr s, size_t *i) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s.p + *i, (utf8proc_ssize_t)(s.n - *i), &cp);
    if (n <= 0) { cp = (unsigned char)s.p[*i]; n = 1; }
    *i += (size_t)n;
    return (uint32_t)cp;
}

static void put_cp(whet_strbuf *sb, uint32_t cp) {
    utf8proc_uint8_t buf[4];
    utf8proc_ssize_t n = utf8proc_encode_char((utf8proc_int32_t)cp, buf);
    whet_sb_append(sb, (const char *)buf, (size_t)n);
}

/* Python's str.isspace() set. */
bool jis_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

static bool is_cased(uint32_t c) {
    return utf8proc_toupper((utf8proc_int32_t)c) != (utf8proc_int32_t)c ||
           utf8proc_tolower((utf8proc_int32_t)c) != (utf8proc_int32_t)c || utf8proc_totitle((utf8proc_int32_t)c) != (utf8proc_int32_t)c;
}

/* mode: 0 lower, 1 upper, 2 str.title(), 3 str.capitalize(), 4 Jinja's title filter. */
jv jstr_case(jarena *a, jstr s, int mode) {
    whet_strbuf sb;
    whet_sb_init(&sb);
    bool prev_cased = false, first = true, word_start = true;
    for (size_t i = 0; i < s.n;) {
        uint32_t c = jutf8_next(s, &i), o = c;
        switch (mode) {
        case 0: o = (uint32_t)utf8proc_tolower((utf8proc_int32_t)c); break;
        case 1: o = (uint32_t)utf8proc_toupper((utf8proc_int32_t)c); break;
        case 2:
            o = (uint32_t)(prev_cased ? utf8proc_tolower((utf8proc_int32_t)c) : utf8proc_totitle((utf8proc_int32_t)c));
            prev_cased = is_cased(c);
            break;
        case 3: o = (uint32_t)(first ? utf8proc_totitle((utf8proc_int32_t)c) : utf8proc_tolower((utf8proc_int32_t)c)); break;
        default: /* jinja: words split at whitespace and -([{< ; first char upper, rest lower */
            o = (uint32_t)(word_start ? utf8proc_totitle((utf8proc_int32_t)c) : utf8proc_tolower((utf8proc_int32_t)c));
            word_start = jis_space(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
        }
        first = false;
        put_cp(&sb, o);
    }
    jv v = jv_sb_to_str(a, &sb);
    whet_sb_free(&sb);
    return v;
}

static bool in_chars(uint32_t c, const jv *chars) {
    if (!chars) return jis_space(c);
    for (size_t i = 0; i < chars->u.s.n;)
        if (jutf8_next(chars->u.s, &i) == c) return true;
    return false;
}

/* str.strip/lstrip/rstrip; which: 1 left, 2 right, 3 both; chars NULL = whitespace. */
jv jstr_strip(jstr s, const jv *chars, int which) {
    size_t b = 0, e = s.n;
    if (which & 1)
        while (b < e) {
            size_t i = b;
            if (!in_chars(jutf8_next(s, &i), chars)) break;
            b = i;
        }
    if (which & 2)
        while (e > b) {
            size_t st = e - 1;
            while (st > b && ((unsigned char)s.p[st] & 0xC0) == 0x80) st--;
            size_t i = st;
            if (!in_chars(jutf8_next(s, &i), chars)) break;
            e = st;
        }
    return jv_str((jstr){s.p + b, e - b});
}

static const char *find_sub(jstr h, jstr n, size_t from) {
    if (n.n == 0) return h.p + from;
    for (size_t i = from; i + n.n <= h.n; i++)
        if (memcmp(h.p + i, n.p, n.n) == 0) return h.p + i;
    return NULL;
}

jv jstr_replace(jarena *a, jstr s, jstr old, jstr new_, int64_t count) {
    whet_strbuf sb;
    whet_sb_init(&sb);
    size_t i = 0;
    int64_t done = 0;
    if (old.n == 0) { /* Python inserts `new` between every character */
        for (size_t k = 0; k <= s.n && (count < 0 || done < count);) {
            whet_sb_append(&sb, new_.p, new_.n), done++;
            if (k == s.n) { k++; i = s.n; break; }
            size_t k2 = k;
            jutf8_next(s, &k2);
            whet_sb_append(&sb, s.p + k, k2 - k);
            k = i = k2;
        }
    } else {
        for (const char *f; (count < 0 || done < count) && (f = find_sub(s, old, i)); done++) {
            whet_sb_append(&sb, s.p + i, (size_t)(f - s.p) - i);
            whet_sb_append(&sb, new_.p, new_.n);
            i = (size_t)(f - s.p) + old.n;
        }
    }
    if (i < s.n) whet_sb_append(&sb, s.p + i, s.n - i);
    jv v = jv_sb_to_str(a, &sb);
    whet_sb_free(&sb);
    return v;
}

static whet_status want_str(jrender *r, const jnode *at, const char *what, jv v) {
    if (v.kind == JV_STR) return WHET_OK;
    return jfail(r, at, WHET_ERR_INVALID_ARG, "%s: expected a string argument, got %s", what, jv_type_name(v));
}

static whet_status str_split(jrender *r, const jnode *at, jstr s, const jargs *args, jv *out) {
    jv sep, maxv;
    bool has_sep = jarg(args, 0, "sep", &sep) && sep.kind != JV_NONE;
    int64_t maxsplit = jarg(args, 1, "maxsplit", &maxv) && maxv.kind == JV_INT ? maxv.u.i : -1;
    jlist *l = jlist_new(r->a, 0);
    if (!l) return oom(r, at);
    if (has_sep) {
        WHET_TRY(want_str(r, at, "split", sep));
        if (!sep.u.s.n) return jfail(r, at, WHET_ERR_INVALID_ARG, "split: empty separator");
        size_t i = 0;
        for (const char *f; (maxsplit < 0 || (int64_t)l->n < maxsplit) && (f = find_sub(s, sep.u.s, i));) {
            jlist_push(r->a, l, jv_str((jstr){s.p + i, (size_t)(f - s.p) - i}));
            i = (size_t)(f - s.p) + sep.u.s.n;
        }
        jlist_push(r->a, l, jv_str((jstr){s.p + i, s.n - i}));
    } else { /* runs of whitespace; no empty strings */
        size_t i = 0;
        for (;;) {
            while (i < s.n) { size_t k = i; if (!jis_space(jutf8_next(s, &k))) break; i = k; }
            if (i >= s.n) break;
            if (maxsplit >= 0 && (int64_t)l->n >= maxsplit) {
                jv rest = jstr_strip((jstr){s.p + i, s.n - i}, NULL, 2);
                jlist_push(r->a, l, rest);
                break;
            }
            size_t b = i;
            while (i < s.n) { size_t k = i; if (jis_space(jutf8_next(s, &k))) break; i = k; }
            jlist_push(r->a, l, jv_str((jstr){s.p + b, i - b}));
        }
    }
    out->kind = JV_LIST, out->u.list = l;
    return WHET_OK;
}

/* startswith/endswith with a string or a tuple of strings. */
static whet_status str_affix(jrender *r, const jnode *at, jstr s, jv arg, bool end, jv *out) {
    jv one[1] = {arg};
    const jv *cands = one;
    size_t n = 1;
    if (arg.kind == JV_LIST) cands = arg.u.list->items, n = arg.u.list->n;
    for (size_t k = 0; k < n; k++) {
        WHET_TRY(want_str(r, at, end ? "endswith" : "startswith", cands[k]));
        jstr p = cands[k].u.s;
        if (p.n <= s.n && memcmp(end ? s.p + s.n - p.n : s.p, p.p, p.n) == 0) { *out = jv_bool(true); return WHET_OK; }
    }
    *out = jv_bool(false);
    return WHET_OK;
}

/* str.format with {} / {0} / {name} fields and {{ }} escapes. */
static whet_status str_format(jrender *r, const jnode *at, jstr s, const jargs *args, jv *out) {
    whet_strbuf sb;
    whet_sb_init(&sb);
    size_t auto_idx = 0;
    for (size_t i = 0; i < s.n; i++) {
        char c = s.p[i];
        if ((c == '{' || c == '}') && i + 1 < s.n && s.p[i + 1] == c) { whet_sb_putc(&sb, c); i++; continue; }
        if (c != '{') { whet_sb_putc(&sb, c); continue; }
        const char *close = memchr(s.p + i, '}', s.n - i);
        if (!close) { whet_sb_free(&sb); return jfail(r, at, WHET_ERR_INVALID_ARG, "format: single '{' in format string"); }
        jstr field = {s.p + i + 1, (size_t)(close - s.p) - i - 1};
        jv v;
        bool ok;
        if (!field.n) ok = jarg(args, auto_idx++, "", &v);
        else if (field.p[0] >= '0' && field.p[0] <= '9') ok = jarg(args, (size_t)atoi(field.p), "", &v);
        else {
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)field.n, field.p);
            ok = jarg(args, (size_t)-1, name, &v);
        }
        if (!ok) { whet_sb_free(&sb); return jfail(r, at, WHET_ERR_INVALID_ARG, "format: no argument for '{%.*s}'", (int)field.n, field.p); }
        jv_to_str(v, &sb);
        i = (size_t)(close - s.p);
    }
    *out = jv_sb_to_str(r->a, &sb);
    whet_sb_free(&sb);
    return WHET_OK;
}

/* str.isdigit / isspace / isalpha / isalnum / isupper / islower. */
static bool str_predicate(jstr s, jstr name) {
    bool all = s.n > 0, any_cased = false;
    for (size_t i = 0; i < s.n && all;) {
        uint32_t c = jutf8_next(s, &i);
        utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)c);
        bool alpha = cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
        bool digit = cat == UTF8PROC_CATEGORY_ND;
        if (name.p[2] == 'd') all = digit;
        else if (name.p[2] == 's') all = jis_space(c);
        else if (jstr_eq(name, "isalpha")) all = alpha;
        else if (jstr_eq(name, "isalnum")) all = alpha || digit;
        else if (is_cased(c)) {
            any_cased = true;
            all = name.p[2] == 'u' ? cat != UTF8PROC_CATEGORY_LL : cat != UTF8PROC_CATEGORY_LU;
        }
    }
    if (jstr_eq(name, "isupper") || jstr_eq(name, "islower")) all = all && any_cased;
    return all;
}

static whet_status str_method(jrender *r, const jnode *at, jstr s, jstr name, const jargs *args, jv *out, bool *found) {
    jv a0 = jv_none(), a1 = jv_none(), a2 = jv_none();
    bool h0 = jarg(args, 0, "", &a0), h1 = jarg(args, 1, "", &a1), h2 = jarg(args, 2, "count", &a2);
    *found = true;
    if (jstr_eq(name, "strip") || jstr_eq(name, "lstrip") || jstr_eq(name, "rstrip")) {
        if (h0 && a0.kind != JV_NONE) WHET_TRY(want_str(r, at, "strip", a0));
        int which = name.p[0] == 'l' ? 1 : name.p[0] == 'r' ? 2 : 3;
        *out = jstr_strip(s, h0 && a0.kind == JV_STR ? &a0 : NULL, which);
    } else if (jstr_eq(name, "startswith") || jstr_eq(name, "endswith")) {
        if (!h0) return jfail(r, at, WHET_ERR_INVALID_ARG, "%.*s() takes a prefix argument", (int)name.n, name.p);
        return str_affix(r, at, s, a0, name.p[0] == 'e', out);
    } else if (jstr_eq(name, "split")) {
        return str_split(r, at, s, args, out);
    } else if (jstr_eq(name, "replace")) {
        if (!h0 || !h1) return jfail(r, at, WHET_ERR_INVALID_ARG, "replace() takes old and new strings");
        WHET_TRY(want_str(r, at, "replace", a0));
        WHET_TRY(want_str(r, at, "replace", a1));
        *out = jstr_replace(r->a, s, a0.u.s, a1.u.s, h2 && a2.kind == JV_INT ? a2.u.i : -1);
    } else if (jstr_eq(name, "upper") || jstr_eq(name, "lower") || jstr_eq(name, "title") || jstr_eq(name, "capitalize")) {
        int mode = name.p[0] == 'l' ? 0 : name.p[0] == 'u' ? 1 : name.p[0] == 't' ? 2 : 3;
        *out = jstr_case(r->a, s, mode);
    } else if (jstr_eq(name, "find") || jstr_eq(name, "rfind") || jstr_eq(name, "count")) {
        if (!h0) return jfail(r, at, WHET_ERR_INVALID_ARG, "%.*s() takes a substring", (int)name.n, name.p);
        WHET_TRY(want_str(r, at, "find", a0));
        int64_t pos = -1, count = 0;
        for (size_t i = 0; i + a0.u.s.n <= s.n;) {
            const char *f = find_sub(s, a0.u.s, i);
            if (!f) break;
            size_t b = (size_t)(f - s.p);
            if (pos < 0 || name.p[0] == 'r') pos = (int64_t)utf8_len((jstr){s.p, b});
            count++;
            i = b + (a0.u.s.n ? a0.u.s.n : 1);
            if (name.p[0] == 'f') break;
        }
        *out = jv_int(name.p[0] == 'c' ? count : pos);
    } else if (jstr_eq(name, "join")) {
        jlist *l;
        if (!h0) return jfail(r, at, WHET_ERR_INVALID_ARG, "join() takes an iterable");
        WHET_TRY(jinja_iter_list(r, at, a0, &l));
        whet_strbuf sb;
        whet_sb_init(&sb);
        for (size_t i = 0; i < l->n; i++) {
            if (i) whet_sb_append(&sb, s.p, s.n);
            jv_to_str(l->items[i], &sb);
        }
        *out = jv_sb_to_str(r->a, &sb);
        whet_sb_free(&sb);
    } else if (jstr_eq(name, "format")) {
        return str_format(r, at, s, args, out);
    } else if (jstr_eq(name, "removeprefix") || jstr_eq(name, "removesuffix")) {
        if (!h0) return jfail(r, at, WHET_ERR_INVALID_ARG, "%.*s() takes a string", (int)name.n, name.p);
        WHET_TRY(want_str(r, at, "removeprefix", a0));
        jstr p = a0.u.s;
        bool suf = name.p[6] == 's';
        *out = jv_str(s);
        if (p.n <= s.n && memcmp(suf ? s.p + s.n - p.n : s.p, p.p, p.n) == 0)
            *out = jv_str((jstr){suf ? s.p : s.p + p.n, s.n - p.n});
    } else if (jstr_eq(name, "isdigit") || jstr_eq(name, "isspace") || jstr_eq(name, "isalpha") ||
               jstr_eq(name, "isalnum") || jstr_eq(name, "isupper") || jstr_eq(name, "islower")) {
        *out = jv_bool(str_predicate(s, name));
    } else if (jstr_eq(name, "splitlines")) {
        jlist *l = jlist_new(r->a, 0);
        if (!l) return oom(r, at);
        size_t b = 0;
        for (size_t i = 0; i < s.n;) {
            size_t st = i;
            uint32_t c = jutf8_next(s, &i);
            if (c == '\n' || c == '\r' || c == 0x0b || c == 0x0c || (c >= 0x1c && c <= 0x1e) || c == 0x85 ||
                c == 0x2028 || c == 0x2029) {
                jlist_push(r->a, l, jv_str((jstr){s.p + b, st - b}));
                if (c == '\r' && i < s.n && s.p[i] == '\n') i++;
                b = i;
            }
        }
        if (b < s.n) jlist_push(r->a, l, jv_str((jstr){s.p + b, s.n - b}));
        out->kind = JV_LIST, out->u.list = l;
    } else {
        *found = false;
    }
    return WHET_OK;
}

static whet_status dict_method(jrender *r, const jnode *at, jv obj, jstr name, const jargs *args, jv *out, bool *found) {
    const jdict *d = obj.u.dict;
    *found = true;
    if (jstr_eq(name, "items") || jstr_eq(name, "keys") || jstr_eq(name, "values")) {
        jlist *l = jlist_new(r->a, d->n);
        if (!l) return oom(r, at);
        for (size_t i = 0; i < d->n; i++) {
            if (name.p[0] == 'k') { jlist_push(r->a, l, d->keys[i]); continue; }
            if (name.p[0] == 'v') { jlist_push(r->a, l, d->vals[i]); continue; }
            jlist *pair = jlist_new(r->a, 2);
            if (!pair) return oom(r, at);
            jlist_push(r->a, pair, d->keys[i]), jlist_push(r->a, pair, d->vals[i]);
            pair->tuple = true;
            jv pv = {.kind = JV_LIST};
            pv.u.list = pair;
            jlist_push(r->a, l, pv);
        }
        out->kind = JV_LIST, out->u.list = l;
        return WHET_OK;
    }
    if (jstr_eq(name, "get")) {
        jv key, def = jv_none();
        if (!jarg(args, 0, "key", &key)) return jfail(r, at, WHET_ERR_INVALID_ARG, "get() takes a key");
        jarg(args, 1, "default", &def);
        if (!jdict_get(d, key, out)) *out = def;
        return WHET_OK;
    }
    if (jstr_eq(name, "update") || jstr_eq(name, "pop") || jstr_eq(name, "setdefault") || jstr_eq(name, "clear"))
        return jfail(r, at, WHET_ERR_UNSUPPORTED, "dict.%.*s() is unsafe in the sandbox transformers renders chat templates in",
                     (int)name.n, name.p);
    *found = false;
    return WHET_OK;
}

static whet_status list_method(jrender *r, const jnode *at, jv obj, jstr name, const jargs *args, jv *out, bool *found) {
    const jlist *l = obj.u.list;
    *found = true;
    jv x;
    if ((jstr_eq(name, "index") || jstr_eq(name, "count")) && jarg(args, 0, "", &x)) {
        int64_t count = 0, first = -1;
        for (size_t i = 0; i < l->n; i++)
            if (jv_equal(l->items[i], x)) { count++; if (first < 0) first = (int64_t)i; }
        if (name.p[0] == 'i' && first < 0) return jfail(r, at, WHET_ERR_INVALID_ARG, "list.index(x): x not in list");
        *out = jv_int(name.p[0] == 'i' ? first : count);
        return WHET_OK;
    }
    if (jstr_eq(name, "append") || jstr_eq(name, "pop") || jstr_eq(name, "extend") || jstr_eq(name, "insert") ||
        jstr_eq(name, "remove") || jstr_eq(name, "sort") || jstr_eq(name, "reverse") || jstr_eq(name, "clear"))
        return jfail(r, at, WHET_ERR_UNSUPPORTED, "list.%.*s() is unsafe in the sandbox transformers renders chat templates in",
                     (int)name.n, name.p);
    *found = false;
    return WHET_OK;
}

whet_status jinja_method(jrender *r, const jnode *at, jv obj, jstr name, const jargs *args, jv *out, bool *found) {
    *found = false;
    if (obj.kind == JV_STR) return str_method(r, at, obj.u.s, name, args, out, found);
    if (obj.kind == JV_DICT) return dict_method(r, at, obj, name, args, out, found);
    if (obj.kind == JV_LIST) return list_method(r, at, obj, name, args, out, found);
    if (obj.kind == JV_LOOP && jstr_eq(name, "cycle")) {
        jv idx;
        if (!args->n) return jfail(r, at, WHET_ERR_INVALID_ARG, "loop.cycle() needs at least one value");
        jdict_get_str(obj.u.dict, "index0", &idx);
        *out = args->args[(size_t)idx.u.i % args->n];
        *found = true;
    }
    return WHET_OK;
}

/* ---------------- globals ---------------- */
enum { B_RANGE, B_NAMESPACE, B_DICT, B_RAISE, B_STRFTIME, B_COUNT };
static const char *const BUILTIN_NAMES[B_COUNT] = {"range", "namespace", "dict", "raise_exception", "strftime_now"};

bool jinja_builtin_lookup(jstr name, jv *out) {
    for (int i = 0; i < B_COUNT; i++)
        if (jstr_eq(name, BUILTIN_NAMES[i])) {
            out->kind = JV_BUILTIN, out->u.builtin = i;
            return true;
        }
    return false;
}

static whet_status call_range(jrender *r, const jnode *at, const jargs *a, jv *out) {
    int64_t v[3] = {0, 0, 1};
    if (a->n < 1 || a->n > 3) return jfail(r, at, WHET_ERR_INVALID_ARG, "range() takes 1 to 3 integers");
    for (size_t i = 0; i < a->n; i++) {
        if (a->args[i].kind != JV_INT && a->args[i].kind != JV_BOOL)
            return jfail(r, at, WHET_ERR_INVALID_ARG, "range(): '%s' object cannot be interpreted as an integer",
                         jv_type_name(a->args[i]));
        v[a->n == 1 ? 1 : i] = a->args[i].kind == JV_INT ? a->args[i].u.i : a->args[i].u.b;
    }
    if (!v[2]) return jfail(r, at, WHET_ERR_INVALID_ARG, "range() arg 3 must not be zero");
    jlist *l = jlist_new(r->a, 0);
    if (!l) return oom(r, at);
    for (int64_t i = v[0]; v[2] > 0 ? i < v[1] : i > v[1]; i += v[2]) {
        if (l->n >= 100000) return jfail(r, at, WHET_ERR_INVALID_ARG, "range() longer than the sandbox allows (100000 items)");
        if (!jlist_push(r->a, l, jv_int(i))) return oom(r, at);
    }
    out->kind = JV_LIST, out->u.list = l;
    return WHET_OK;
}

whet_status jinja_builtin_call(jrender *r, const jnode *at, int id, const jargs *a, jv *out) {
    switch (id) {
    case B_RANGE: return call_range(r, at, a, out);
    case B_NAMESPACE: case B_DICT: {
        jdict *d = jdict_new(r->a, a->n_kw);
        if (!d) return oom(r, at);
        for (size_t i = 0; i < a->n; i++) {
            if (!jv_is_dictlike(a->args[i]))
                return jfail(r, at, WHET_ERR_INVALID_ARG, "%s() positional arguments must be dicts", BUILTIN_NAMES[id]);
            for (size_t k = 0; k < a->args[i].u.dict->n; k++)
                jdict_set(r->a, d, a->args[i].u.dict->keys[k], a->args[i].u.dict->vals[k]);
        }
        for (size_t k = 0; k < a->n_kw; k++)
            if (!jdict_set(r->a, d, jv_str(a->kw_names[k]), a->kw_vals[k])) return oom(r, at);
        out->kind = id == B_NAMESPACE ? JV_NAMESPACE : JV_DICT, out->u.dict = d;
        return WHET_OK;
    }
    case B_RAISE: {
        whet_strbuf sb;
        whet_sb_init(&sb);
        if (a->n) jv_to_str(a->args[0], &sb);
        whet_status st = jfail(r, at, WHET_ERR_INVALID_ARG, "the chat template raised an error: %s", sb.len ? sb.data : "");
        whet_sb_free(&sb);
        return st;
    }
    case B_STRFTIME: {
        if (a->n != 1 || a->args[0].kind != JV_STR)
            return jfail(r, at, WHET_ERR_INVALID_ARG, "strftime_now() takes one format string");
        char fmt[256], buf[512];
        snprintf(fmt, sizeof fmt, "%.*s", (int)a->args[0].u.s.n, a->args[0].u.s.p);
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        size_t n = strftime(buf, sizeof buf, fmt, &tm);
        *out = jv_str_copy(r->a, buf, n);
        return WHET_OK;
    }
    default: return jfail(r, at, WHET_ERR_INTERNAL, "unknown builtin %d", id);
    }
}
