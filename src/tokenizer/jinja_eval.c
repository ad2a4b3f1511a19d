/* jinja_eval.c: evaluates the AST jinja_parse.c builds, with Jinja2's
 * semantics as transformers' sandboxed environment runs chat templates:
 * Python operators on values, undefined names that render as "" but fail
 * when used, per-iteration scopes for for-loops (set inside a loop does not
 * leak; namespace attributes do), loop.* variables, macros with defaults,
 * set blocks and filter blocks, break/continue. Errors name line:col. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "tokenizer/jinja_impl.h"

whet_status jfail(jrender *r, const jnode *at, whet_status code, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (at) return whet_errorf(r->err, code, "%s:%d:%d: %s", r->what, at->line, at->col, msg);
    return whet_errorf(r->err, code, "%s: %s", r->what, msg);
}

static whet_status oom(jrender *r, const jnode *at) { return jfail(r, at, WHET_ERR_NOMEM, "out of memory"); }

/* ---------------- scopes ---------------- */
jscope *jscope_new(jarena *a, jscope *parent) {
    jscope *s = ja_alloc(a, sizeof *s);
    if (s) s->parent = parent;
    return s;
}

bool jscope_set(jarena *a, jscope *sc, jstr name, jv v) {
    for (size_t i = 0; i < sc->n; i++)
        if (sc->names[i].n == name.n && memcmp(sc->names[i].p, name.p, name.n) == 0) { sc->vals[i] = v; return true; }
    if (sc->n == sc->cap) {
        size_t cap = sc->cap ? sc->cap * 2 : 8;
        jstr *nn = ja_alloc(a, cap * sizeof *nn);
        jv *nv = ja_alloc(a, cap * sizeof *nv);
        if (!nn || !nv) return false;
        if (sc->n) memcpy(nn, sc->names, sc->n * sizeof *nn), memcpy(nv, sc->vals, sc->n * sizeof *nv);
        sc->names = nn, sc->vals = nv, sc->cap = cap;
    }
    sc->names[sc->n] = name, sc->vals[sc->n] = v, sc->n++;
    return true;
}

bool jscope_lookup(const jscope *sc, jstr name, jv *out) {
    for (; sc; sc = sc->parent)
        for (size_t i = sc->n; i-- > 0;)
            if (sc->names[i].n == name.n && memcmp(sc->names[i].p, name.p, name.n) == 0) { *out = sc->vals[i]; return true; }
    return false;
}

static whet_status undefined_use(jrender *r, const jnode *at, jv v) {
    return jfail(r, at, WHET_ERR_INVALID_ARG, "'%.*s' is undefined", (int)v.u.s.n, v.u.s.p);
}

/* ---------------- attribute / item access ---------------- */
whet_status jinja_getattr(jrender *r, const jnode *at, jv obj, jstr name, jv *out) {
    if (obj.kind == JV_UNDEFINED) return undefined_use(r, at, obj);
    if (jv_is_dictlike(obj) && jdict_get(obj.u.dict, jv_str(name), out)) return WHET_OK;
    *out = jv_undef(name);
    return WHET_OK;
}

static bool norm_index(int64_t i, size_t n, size_t *out) {
    if (i < 0) i += (int64_t)n;
    if (i < 0 || (uint64_t)i >= n) return false;
    *out = (size_t)i;
    return true;
}

whet_status jinja_getitem(jrender *r, const jnode *at, jv obj, jv key, jv *out) {
    if (obj.kind == JV_UNDEFINED) return undefined_use(r, at, obj);
    size_t idx;
    if ((key.kind == JV_INT || key.kind == JV_BOOL) && (obj.kind == JV_LIST || obj.kind == JV_STR)) {
        int64_t i = key.kind == JV_INT ? key.u.i : key.u.b;
        if (obj.kind == JV_LIST) {
            if (norm_index(i, obj.u.list->n, &idx)) { *out = obj.u.list->items[idx]; return WHET_OK; }
        } else if (norm_index(i, utf8_len(obj.u.s), &idx)) {
            size_t b = utf8_offset(obj.u.s, idx), e = utf8_offset(obj.u.s, idx + 1);
            *out = jv_str((jstr){obj.u.s.p + b, e - b});
            return WHET_OK;
        }
        *out = jv_undef((jstr){"<index out of range>", 20});
        return WHET_OK;
    }
    if (jv_is_dictlike(obj) && jdict_get(obj.u.dict, key, out)) return WHET_OK;
    *out = jv_undef(key.kind == JV_STR ? key.u.s : (jstr){"<missing key>", 13});
    return WHET_OK;
}

whet_status jinja_iter_list(jrender *r, const jnode *at, jv v, jlist **out) {
    switch (v.kind) {
    case JV_LIST: *out = v.u.list; return WHET_OK;
    case JV_UNDEFINED: *out = jlist_new(r->a, 0); return *out ? WHET_OK : oom(r, at);
    case JV_DICT: case JV_NAMESPACE: {
        jlist *l = jlist_new(r->a, v.u.dict->n);
        if (!l) return oom(r, at);
        for (size_t i = 0; i < v.u.dict->n; i++) jlist_push(r->a, l, v.u.dict->keys[i]);
        *out = l;
        return WHET_OK;
    }
    case JV_STR: {
        jlist *l = jlist_new(r->a, v.u.s.n);
        if (!l) return oom(r, at);
        for (size_t i = 0; i < v.u.s.n;) {
            size_t j = i + 1;
            while (j < v.u.s.n && ((unsigned char)v.u.s.p[j] & 0xC0) == 0x80) j++;
            jlist_push(r->a, l, jv_str((jstr){v.u.s.p + i, j - i}));
            i = j;
        }
        *out = l;
        return WHET_OK;
    }
    default: return jfail(r, at, WHET_ERR_INVALID_ARG, "'%s' object is not iterable", jv_type_name(v));
    }
}

/* Python slice semantics for lists and (code point) strings. */
static whet_status eval_slice(jrender *r, jscope *sc, const jnode *e, jv *out) {
    jv obj, bounds[3] = {jv_none(), jv_none(), jv_none()};
    WHET_TRY(jinja_eval(r, sc, e->a, &obj));
    const jnode *parts[3] = {e->b, e->c, e->args.n ? e->args.v[0] : NULL};
    for (int k = 0; k < 3; k++) {
        if (!parts[k]) continue;
        WHET_TRY(jinja_eval(r, sc, parts[k], &bounds[k]));
        if (bounds[k].kind != JV_NONE && bounds[k].kind != JV_INT && bounds[k].kind != JV_BOOL)
            return jfail(r, e, WHET_ERR_INVALID_ARG, "slice indices must be integers or None, not %s", jv_type_name(bounds[k]));
    }
    if (obj.kind == JV_UNDEFINED) return undefined_use(r, e, obj);
    if (obj.kind != JV_LIST && obj.kind != JV_STR)
        return jfail(r, e, WHET_ERR_INVALID_ARG, "'%s' object is not subscriptable", jv_type_name(obj));
    int64_t n = obj.kind == JV_LIST ? (int64_t)obj.u.list->n : (int64_t)utf8_len(obj.u.s);
    int64_t step = bounds[2].kind == JV_NONE ? 1 : bounds[2].u.i;
    if (step == 0) return jfail(r, e, WHET_ERR_INVALID_ARG, "slice step cannot be zero");
    int64_t lo = step < 0 ? -1 : 0, hi = step < 0 ? n - 1 : n;
    int64_t start = step < 0 ? hi : lo, stop = step < 0 ? lo : hi;
    for (int k = 0; k < 2; k++) {
        if (bounds[k].kind == JV_NONE) continue;
        int64_t v = bounds[k].u.i;
        if (v < 0) { v += n; if (v < lo) v = lo; }
        else if (v > hi) v = hi;
        if (k == 0) start = v; else stop = v;
    }
    jlist *l = obj.kind == JV_LIST ? jlist_new(r->a, 0) : NULL;
    whet_strbuf sb;
    whet_sb_init(&sb);
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
        if (l) {
            if (!jlist_push(r->a, l, obj.u.list->items[i])) return oom(r, e);
        } else {
            size_t b = utf8_offset(obj.u.s, (size_t)i), en = utf8_offset(obj.u.s, (size_t)i + 1);
            whet_sb_append(&sb, obj.u.s.p + b, en - b);
        }
    }
    if (l) {
        out->kind = JV_LIST, out->u.list = l;
    } else {
        *out = jv_sb_to_str(r->a, &sb);
        whet_sb_free(&sb);
    }
    return WHET_OK;
}

/* ---------------- operators ---------------- */
static bool is_num(jv v) { return v.kind == JV_INT || v.kind == JV_FLOAT || v.kind == JV_BOOL; }
static double as_f(jv v) { return v.kind == JV_FLOAT ? v.u.f : v.kind == JV_INT ? (double)v.u.i : (double)v.u.b; }
static int64_t as_i(jv v) { return v.kind == JV_INT ? v.u.i : v.kind == JV_BOOL ? (int64_t)v.u.b : 0; }

static whet_status concat2(jrender *r, const jnode *at, jstr a, jstr b, jv *out) {
    char *s = ja_alloc(r->a, a.n + b.n + 1);
    if (!s) return oom(r, at);
    if (a.n) memcpy(s, a.p, a.n);
    if (b.n) memcpy(s + a.n, b.p, b.n);
    *out = jv_str((jstr){s, a.n + b.n});
    return WHET_OK;
}

static whet_status binop(jrender *r, const jnode *e, jv a, jv b, jv *out) {
    jstr op = e->op;
    if (a.kind == JV_UNDEFINED) return undefined_use(r, e, a);
    if (b.kind == JV_UNDEFINED) return undefined_use(r, e, b);
    char o0 = op.p[0];
    bool two = op.n == 2;
    if (o0 == '+' && a.kind == JV_STR && b.kind == JV_STR) return concat2(r, e, a.u.s, b.u.s, out);
    if (o0 == '+' && a.kind == JV_LIST && b.kind == JV_LIST) {
        jlist *l = jlist_new(r->a, a.u.list->n + b.u.list->n);
        if (!l) return oom(r, e);
        for (size_t i = 0; i < a.u.list->n; i++) jlist_push(r->a, l, a.u.list->items[i]);
        for (size_t i = 0; i < b.u.list->n; i++) jlist_push(r->a, l, b.u.list->items[i]);
        out->kind = JV_LIST, out->u.list = l;
        return WHET_OK;
    }
    if (o0 == '*' && !two && ((a.kind == JV_STR && b.kind == JV_INT) || (a.kind == JV_INT && b.kind == JV_STR))) {
        jstr s = a.kind == JV_STR ? a.u.s : b.u.s;
        int64_t k = a.kind == JV_INT ? a.u.i : b.u.i;
        whet_strbuf sb;
        whet_sb_init(&sb);
        for (int64_t i = 0; i < k; i++) whet_sb_append(&sb, s.p, s.n);
        *out = jv_sb_to_str(r->a, &sb);
        whet_sb_free(&sb);
        return WHET_OK;
    }
    if (!is_num(a) || !is_num(b))
        return jfail(r, e, WHET_ERR_INVALID_ARG, "unsupported operand type(s) for %.*s: '%s' and '%s'", (int)op.n, op.p,
                     jv_type_name(a), jv_type_name(b));
    bool fl = a.kind == JV_FLOAT || b.kind == JV_FLOAT;
    double x = as_f(a), y = as_f(b);
    int64_t i = as_i(a), j = as_i(b);
    if (o0 == '/' && !two) {
        if (y == 0) return jfail(r, e, WHET_ERR_INVALID_ARG, "division by zero");
        *out = jv_float(x / y);
        return WHET_OK;
    }
    if ((o0 == '/' || o0 == '%') && (fl ? y == 0 : j == 0))
        return jfail(r, e, WHET_ERR_INVALID_ARG, "integer division or modulo by zero");
    switch (o0) {
    case '+': *out = fl ? jv_float(x + y) : jv_int(i + j); return WHET_OK;
    case '-': *out = fl ? jv_float(x - y) : jv_int(i - j); return WHET_OK;
    case '*':
        if (two) {
            if (!fl && j >= 0) {
                int64_t p = 1;
                for (int64_t k = 0; k < j; k++) p *= i;
                *out = jv_int(p);
            } else {
                *out = jv_float(pow(x, y));
            }
        } else {
            *out = fl ? jv_float(x * y) : jv_int(i * j);
        }
        return WHET_OK;
    case '/': /* // floor division */
        if (fl) *out = jv_float(floor(x / y));
        else { int64_t q = i / j; if ((i % j != 0) && ((i < 0) != (j < 0))) q--; *out = jv_int(q); }
        return WHET_OK;
    case '%':
        if (fl) { double m = fmod(x, y); if (m != 0 && ((m < 0) != (y < 0))) m += y; *out = jv_float(m); }
        else { int64_t m = i % j; if (m != 0 && ((m < 0) != (j < 0))) m += j; *out = jv_int(m); }
        return WHET_OK;
    default: return jfail(r, e, WHET_ERR_UNSUPPORTED, "unsupported operator '%.*s'", (int)op.n, op.p);
    }
}

static whet_status contains(jrender *r, const jnode *e, jv item, jv seq, bool *out) {
    switch (seq.kind) {
    case JV_UNDEFINED: *out = false; return WHET_OK;
    case JV_STR:
        if (item.kind != JV_STR)
            return jfail(r, e, WHET_ERR_INVALID_ARG, "'in <string>' requires string as left operand, not %s", jv_type_name(item));
        if (!item.u.s.n) { *out = true; return WHET_OK; }
        *out = false;
        for (size_t i = 0; i + item.u.s.n <= seq.u.s.n && !*out; i++)
            *out = memcmp(seq.u.s.p + i, item.u.s.p, item.u.s.n) == 0;
        return WHET_OK;
    case JV_LIST:
        *out = false;
        for (size_t i = 0; i < seq.u.list->n && !*out; i++) *out = jv_equal(item, seq.u.list->items[i]);
        return WHET_OK;
    case JV_DICT: case JV_NAMESPACE: case JV_LOOP: {
        jv tmp;
        *out = jdict_get(seq.u.dict, item, &tmp);
        return WHET_OK;
    }
    default: return jfail(r, e, WHET_ERR_INVALID_ARG, "argument of type '%s' is not iterable", jv_type_name(seq));
    }
}

static whet_status compare(jrender *r, const jnode *e, jv a, jv b, jv *out) {
    jstr op = e->op;
    if (jstr_eq(op, "==")) { *out = jv_bool(jv_equal(a, b)); return WHET_OK; }
    if (jstr_eq(op, "!=")) { *out = jv_bool(!jv_equal(a, b)); return WHET_OK; }
    if (jstr_eq(op, "in") || jstr_eq(op, "not in")) {
        bool in = false;
        WHET_TRY(contains(r, e, a, b, &in));
        *out = jv_bool(jstr_eq(op, "in") ? in : !in);
        return WHET_OK;
    }
    if (a.kind == JV_UNDEFINED) return undefined_use(r, e, a);
    if (b.kind == JV_UNDEFINED) return undefined_use(r, e, b);
    int c;
    if (!jv_compare(a, b, &c))
        return jfail(r, e, WHET_ERR_INVALID_ARG, "'%.*s' not supported between instances of '%s' and '%s'", (int)op.n,
                     op.p, jv_type_name(a), jv_type_name(b));
    bool res = op.p[0] == '<' ? (op.n == 2 ? c <= 0 : c < 0) : (op.n == 2 ? c >= 0 : c > 0);
    *out = jv_bool(res);
    return WHET_OK;
}

/* Evaluate call arguments (positional and keyword) of node n. */
static whet_status eval_args(jrender *r, jscope *sc, const jnode *n, jv **args, jv **kw) {
    *args = n->args.n ? ja_alloc(r->a, n->args.n * sizeof **args) : NULL;
    *kw = n->names.n ? ja_alloc(r->a, n->names.n * sizeof **kw) : NULL;
    if ((n->args.n && !*args) || (n->names.n && !*kw)) return oom(r, n);
    for (size_t i = 0; i < n->args.n; i++) WHET_TRY(jinja_eval(r, sc, n->args.v[i], &(*args)[i]));
    for (size_t i = 0; i < n->names.n; i++) WHET_TRY(jinja_eval(r, sc, n->args2.v[i], &(*kw)[i]));
    return WHET_OK;
}

static whet_status eval_call(jrender *r, jscope *sc, const jnode *e, jv *out) {
    jv *args, *kw;
    const jnode *fn = e->a;
    if (fn->kind == JN_ATTR) { /* obj.method(...) */
        jv obj;
        WHET_TRY(jinja_eval(r, sc, fn->a, &obj));
        if (obj.kind == JV_UNDEFINED) return undefined_use(r, fn, obj);
        WHET_TRY(eval_args(r, sc, e, &args, &kw));
        jargs ja = {args, e->args.n, e->names.v, kw, e->names.n};
        bool found = false;
        WHET_TRY(jinja_method(r, e, obj, fn->name, &ja, out, &found));
        if (found) return WHET_OK;
        jv callee;
        WHET_TRY(jinja_getattr(r, fn, obj, fn->name, &callee));
        if (callee.kind == JV_UNDEFINED)
            return jfail(r, e, WHET_ERR_UNSUPPORTED, "'%s' object has no method '%.*s'", jv_type_name(obj),
                         (int)fn->name.n, fn->name.p);
        return jinja_call_value(r, sc, e, callee, args, e->args.n, e->names.v, kw, e->names.n, out);
    }
    jv callee;
    WHET_TRY(jinja_eval(r, sc, fn, &callee));
    WHET_TRY(eval_args(r, sc, e, &args, &kw));
    return jinja_call_value(r, sc, e, callee, args, e->args.n, e->names.v, kw, e->names.n, out);
}

whet_status jinja_call_value(jrender *r, jscope *sc, const jnode *at, jv callee, const jv *args, size_t n_args,
                             const jstr *kw_names, const jv *kw_vals, size_t n_kw, jv *out) {
    (void)sc;
    if (callee.kind == JV_BUILTIN) {
        jargs ja = {args, n_args, kw_names, kw_vals, n_kw};
        return jinja_builtin_call(r, at, callee.u.builtin, &ja, out);
    }
    if (callee.kind == JV_UNDEFINED)
        return jfail(r, at, WHET_ERR_INVALID_ARG, "'%.*s' is undefined (not a function or macro this template defines)",
                     (int)callee.u.s.n, callee.u.s.p);
    if (callee.kind != JV_MACRO) return jfail(r, at, WHET_ERR_INVALID_ARG, "'%s' object is not callable", jv_type_name(callee));
    const jnode *m = callee.u.macro->node;
    if (r->depth > 200) return jfail(r, at, WHET_ERR_INVALID_ARG, "macro recursion deeper than 200 calls");
    if (n_args > m->names.n)
        return jfail(r, at, WHET_ERR_INVALID_ARG, "macro '%.*s' takes %zu arguments, %zu given", (int)m->name.n, m->name.p,
                     m->names.n, n_args);
    jscope *ms = jscope_new(r->a, callee.u.macro->closure);
    if (!ms) return oom(r, at);
    for (size_t p = 0; p < m->names.n; p++) {
        jv v = jv_undef(m->names.v[p]);
        bool have = false;
        if (p < n_args) v = args[p], have = true;
        for (size_t k = 0; k < n_kw && !have; k++)
            if (kw_names[k].n == m->names.v[p].n && memcmp(kw_names[k].p, m->names.v[p].p, kw_names[k].n) == 0)
                v = kw_vals[k], have = true;
        if (!have && m->args2.v[p]) WHET_TRY(jinja_eval(r, ms, m->args2.v[p], &v));
        if (!jscope_set(r->a, ms, m->names.v[p], v)) return oom(r, at);
    }
    whet_strbuf body, *saved = r->out;
    whet_sb_init(&body);
    r->out = &body;
    r->depth++;
    int ctl = 0;
    whet_status st = jinja_exec_body(r, ms, &m->args, &ctl);
    r->depth--;
    r->out = saved;
    if (st == WHET_OK) *out = jv_sb_to_str(r->a, &body);
    whet_sb_free(&body);
    return st;
}

/* [a, b], (a, b) and {k: v} literals. */
static whet_status eval_collection(jrender *r, jscope *sc, const jnode *e, jv *out) {
    jv a, b;
    if (e->kind == JN_LIST) {
        jlist *l = jlist_new(r->a, e->args.n);
        if (!l) return oom(r, e);
        for (size_t i = 0; i < e->args.n; i++) {
            WHET_TRY(jinja_eval(r, sc, e->args.v[i], &a));
            jlist_push(r->a, l, a);
        }
        l->tuple = e->op.n == 1;
        out->kind = JV_LIST, out->u.list = l;
        return WHET_OK;
    }
    jdict *d = jdict_new(r->a, e->args.n);
    if (!d) return oom(r, e);
    for (size_t i = 0; i < e->args.n; i++) {
        WHET_TRY(jinja_eval(r, sc, e->args.v[i], &a));
        WHET_TRY(jinja_eval(r, sc, e->args2.v[i], &b));
        if (!jdict_set(r->a, d, a, b)) return oom(r, e);
    }
    out->kind = JV_DICT, out->u.dict = d;
    return WHET_OK;
}

whet_status jinja_eval(jrender *r, jscope *sc, const jnode *e, jv *out) {
    jv a, b;
    switch (e->kind) {
    case JN_LITERAL: *out = e->lit; return WHET_OK;
    case JN_NAME:
        if (jscope_lookup(sc, e->name, out)) return WHET_OK;
        if (jinja_builtin_lookup(e->name, out)) return WHET_OK;
        *out = jv_undef(e->name);
        return WHET_OK;
    case JN_LIST: case JN_DICT: return eval_collection(r, sc, e, out);
    case JN_ATTR:
        WHET_TRY(jinja_eval(r, sc, e->a, &a));
        return jinja_getattr(r, e, a, e->name, out);
    case JN_INDEX:
        WHET_TRY(jinja_eval(r, sc, e->a, &a));
        WHET_TRY(jinja_eval(r, sc, e->b, &b));
        return jinja_getitem(r, e, a, b, out);
    case JN_SLICE: return eval_slice(r, sc, e, out);
    case JN_CALL: return eval_call(r, sc, e, out);
    case JN_FILTER: case JN_TEST: {
        jv *args, *kw;
        WHET_TRY(jinja_eval(r, sc, e->a, &a));
        WHET_TRY(eval_args(r, sc, e, &args, &kw));
        jargs ja = {args, e->args.n, e->names.v, kw, e->names.n};
        if (e->kind == JN_FILTER) return jinja_filter(r, sc, e, e->name, a, &ja, out);
        bool t;
        WHET_TRY(jinja_test(r, sc, e, e->name, a, &ja, &t));
        *out = jv_bool(e->negate ? !t : t);
        return WHET_OK;
    }
    case JN_NEG: case JN_POS:
        WHET_TRY(jinja_eval(r, sc, e->a, &a));
        if (a.kind == JV_UNDEFINED) return undefined_use(r, e, a);
        if (!is_num(a)) return jfail(r, e, WHET_ERR_INVALID_ARG, "bad operand type for unary %c: '%s'",
                                     e->kind == JN_NEG ? '-' : '+', jv_type_name(a));
        if (e->kind == JN_POS) *out = a.kind == JV_BOOL ? jv_int(a.u.b) : a;
        else *out = a.kind == JV_FLOAT ? jv_float(-a.u.f) : jv_int(-as_i(a));
        return WHET_OK;
    case JN_NOT:
        WHET_TRY(jinja_eval(r, sc, e->a, &a));
        *out = jv_bool(!jv_truthy(a));
        return WHET_OK;
    case JN_AND: case JN_OR:
        WHET_TRY(jinja_eval(r, sc, e->a, &a));
        if (jv_truthy(a) == (e->kind == JN_OR)) { *out = a; return WHET_OK; }
        return jinja_eval(r, sc, e->b, out);
    case JN_BINOP:
        WHET_TRY(jinja_eval(r, sc, e->a, &a));
        WHET_TRY(jinja_eval(r, sc, e->b, &b));
        return binop(r, e, a, b, out);
    case JN_COMPARE:
        WHET_TRY(jinja_eval(r, sc, e->a, &a));
        WHET_TRY(jinja_eval(r, sc, e->b, &b));
        return compare(r, e, a, b, out);
    case JN_CONCAT: {
        whet_strbuf sb;
        whet_sb_init(&sb);
        WHET_TRY(jinja_eval(r, sc, e->a, &a));
        WHET_TRY(jinja_eval(r, sc, e->b, &b));
        jv_to_str(a, &sb);
        jv_to_str(b, &sb);
        bool bad = sb.oom;
        *out = jv_sb_to_str(r->a, &sb);
        whet_sb_free(&sb);
        return bad ? oom(r, e) : WHET_OK;
    }
    case JN_COND:
        WHET_TRY(jinja_eval(r, sc, e->a, &a));
        if (jv_truthy(a)) return jinja_eval(r, sc, e->b, out);
        if (e->c) return jinja_eval(r, sc, e->c, out);
        *out = jv_undef((jstr){"<inline if without else>", 24});
        return WHET_OK;
    default: return jfail(r, e, WHET_ERR_INTERNAL, "statement node used as an expression");
    }
}

/* ---------------- statements ---------------- */
static whet_status bind_targets(jrender *r, jscope *sc, const jnode *at, const jname_list *names, jv v) {
    if (names->n == 1) return jscope_set(r->a, sc, names->v[0], v) ? WHET_OK : oom(r, at);
    jlist *l;
    WHET_TRY(jinja_iter_list(r, at, v, &l));
    if (l->n != names->n)
        return jfail(r, at, WHET_ERR_INVALID_ARG, "cannot unpack %zu values into %zu names", l->n, names->n);
    for (size_t i = 0; i < names->n; i++)
        if (!jscope_set(r->a, sc, names->v[i], l->items[i])) return oom(r, at);
    return WHET_OK;
}

static void loop_fill(jrender *r, jdict *loop, const jlist *items, size_t i) {
    size_t n = items->n;
    jdict_set(r->a, loop, jv_cstr("index"), jv_int((int64_t)i + 1));
    jdict_set(r->a, loop, jv_cstr("index0"), jv_int((int64_t)i));
    jdict_set(r->a, loop, jv_cstr("revindex"), jv_int((int64_t)(n - i)));
    jdict_set(r->a, loop, jv_cstr("revindex0"), jv_int((int64_t)(n - i - 1)));
    jdict_set(r->a, loop, jv_cstr("first"), jv_bool(i == 0));
    jdict_set(r->a, loop, jv_cstr("last"), jv_bool(i + 1 == n));
    jdict_set(r->a, loop, jv_cstr("length"), jv_int((int64_t)n));
    jdict_set(r->a, loop, jv_cstr("depth"), jv_int(1));
    jdict_set(r->a, loop, jv_cstr("depth0"), jv_int(0));
    jdict_set(r->a, loop, jv_cstr("previtem"), i ? items->items[i - 1] : jv_undef((jstr){"previtem", 8}));
    jdict_set(r->a, loop, jv_cstr("nextitem"), i + 1 < n ? items->items[i + 1] : jv_undef((jstr){"nextitem", 8}));
}

static whet_status exec_for(jrender *r, jscope *sc, const jnode *n) {
    jv seq;
    jlist *items;
    WHET_TRY(jinja_eval(r, sc, n->a, &seq));
    if (seq.kind == JV_NONE) return jfail(r, n->a, WHET_ERR_INVALID_ARG, "'NoneType' object is not iterable");
    WHET_TRY(jinja_iter_list(r, n->a, seq, &items));
    if (n->c) { /* {% for x in xs if cond %}: filtered before loop.* counts */
        jlist *kept = jlist_new(r->a, items->n);
        if (!kept) return oom(r, n);
        for (size_t i = 0; i < items->n; i++) {
            jscope *fs = jscope_new(r->a, sc);
            if (!fs) return oom(r, n);
            WHET_TRY(bind_targets(r, fs, n, &n->names, items->items[i]));
            jv ok;
            WHET_TRY(jinja_eval(r, fs, n->c, &ok));
            if (jv_truthy(ok)) jlist_push(r->a, kept, items->items[i]);
        }
        items = kept;
    }
    jdict *loop = jdict_new(r->a, 12);
    if (!loop) return oom(r, n);
    jv loopv = {.kind = JV_LOOP};
    loopv.u.dict = loop;
    for (size_t i = 0; i < items->n; i++) {
        jscope *it = jscope_new(r->a, sc);
        if (!it) return oom(r, n);
        loop_fill(r, loop, items, i);
        if (!jscope_set(r->a, it, (jstr){"loop", 4}, loopv)) return oom(r, n);
        WHET_TRY(bind_targets(r, it, n, &n->names, items->items[i]));
        int ctl = 0;
        WHET_TRY(jinja_exec_body(r, it, &n->args, &ctl));
        if (ctl == 1) break;
    }
    if (!items->n && n->args2.n) {
        int ctl = 0;
        return jinja_exec_body(r, sc, &n->args2, &ctl);
    }
    return WHET_OK;
}

/* Render a body into a fresh string (set blocks, filter blocks). */
static whet_status capture(jrender *r, jscope *sc, const jnode_list *body, jv *out) {
    whet_strbuf sb, *saved = r->out;
    whet_sb_init(&sb);
    r->out = &sb;
    int ctl = 0;
    whet_status st = jinja_exec_body(r, sc, body, &ctl);
    r->out = saved;
    if (st == WHET_OK) *out = jv_sb_to_str(r->a, &sb);
    whet_sb_free(&sb);
    return st;
}

static whet_status exec_set(jrender *r, jscope *sc, const jnode *n) {
    jv v;
    if (n->kind == JN_SET_BLOCK) WHET_TRY(capture(r, sc, &n->args, &v));
    else WHET_TRY(jinja_eval(r, sc, n->a, &v));
    if (n->name.p) { /* set ns.attr = v */
        jv ns;
        if (!jscope_lookup(sc, n->names.v[0], &ns) || ns.kind != JV_NAMESPACE)
            return jfail(r, n, WHET_ERR_INVALID_ARG, "cannot assign attribute on non-namespace object '%.*s'",
                         (int)n->names.v[0].n, n->names.v[0].p);
        return jdict_set(r->a, ns.u.dict, jv_str(n->name), v) ? WHET_OK : oom(r, n);
    }
    return bind_targets(r, sc, n, &n->names, v);
}

/* ctl: 0 normal, 1 break, 2 continue (propagates to the enclosing for). */
whet_status jinja_exec_body(jrender *r, jscope *sc, const jnode_list *body, int *ctl) {
    for (size_t i = 0; i < body->n && !*ctl; i++) {
        const jnode *n = body->v[i];
        jv v;
        switch (n->kind) {
        case JN_TEXT: whet_sb_append(r->out, n->lit.u.s.p, n->lit.u.s.n); break;
        case JN_OUTPUT:
            WHET_TRY(jinja_eval(r, sc, n->a, &v));
            jv_to_str(v, r->out);
            break;
        case JN_IF:
            WHET_TRY(jinja_eval(r, sc, n->a, &v));
            WHET_TRY(jinja_exec_body(r, sc, jv_truthy(v) ? &n->args : &n->args2, ctl));
            break;
        case JN_FOR: WHET_TRY(exec_for(r, sc, n)); break;
        case JN_SET: case JN_SET_BLOCK: WHET_TRY(exec_set(r, sc, n)); break;
        case JN_MACRO: {
            jmacro *m = ja_alloc(r->a, sizeof *m);
            if (!m) return oom(r, n);
            m->node = n, m->closure = sc;
            v.kind = JV_MACRO, v.u.macro = m;
            if (!jscope_set(r->a, sc, n->name, v)) return oom(r, n);
            break;
        }
        case JN_BREAK: *ctl = 1; break;
        case JN_CONTINUE: *ctl = 2; break;
        case JN_FILTER_BLOCK: {
            WHET_TRY(capture(r, sc, &n->args, &v));
            jv *args, *kw, res;
            const jnode *f = n->a;
            WHET_TRY(eval_args(r, sc, f, &args, &kw));
            jargs ja = {args, f->args.n, f->names.v, kw, f->names.n};
            WHET_TRY(jinja_filter(r, sc, f, f->name, v, &ja, &res));
            jv_to_str(res, r->out);
            break;
        }
        case JN_SCOPE: WHET_TRY(jinja_exec_body(r, sc, &n->args, ctl)); break;
        default: return jfail(r, n, WHET_ERR_INTERNAL, "expression node used as a statement");
        }
        if (r->out->oom) return oom(r, n);
    }
    return WHET_OK;
}
