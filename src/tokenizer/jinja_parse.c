/* jinja_parse.c: tokens -> AST, following Jinja2's grammar and operator
 * precedence (or < and < not < comparisons/in < + - < ~ < * / // % < ** <
 * unary < postfix . [] () < filters | and tests `is`). Statements: if/elif/
 * else, for (tuple targets, `if` filter, else), set (name, ns.attr, tuple,
 * block form), macro, filter blocks, break/continue (loopcontrols) and
 * transformers' {% generation %}. Anything else is an error naming line:col. */
#include <stdio.h>
#include <string.h>
#include "tokenizer/jinja_impl.h"

typedef struct {
    const jtoken *t;
    size_t n, i;
    const char *what;
    jarena *a;
    whet_error *err;
} parser;

static const jtoken *cur(parser *P) { return &P->t[P->i]; }
static const jtoken *peek(parser *P, size_t k) { return &P->t[P->i + k < P->n ? P->i + k : P->n - 1]; }
static void next(parser *P) { if (P->i + 1 < P->n) P->i++; }

static bool is_op(const jtoken *t, const char *op) {
    return t->kind == JT_OP && t->text.n == strlen(op) && memcmp(t->text.p, op, t->text.n) == 0;
}
static bool is_name(const jtoken *t, const char *name) { return t->kind == JT_NAME && jstr_eq(t->text, name); }

static const char *tok_desc(const jtoken *t, char *buf, size_t cap) {
    switch (t->kind) {
    case JT_EOF: return "end of template";
    case JT_VAR_END: return "'}}'";
    case JT_BLOCK_END: return "'%}'";
    case JT_TEXT: return "template text";
    case JT_VAR_BEGIN: return "'{{'";
    case JT_BLOCK_BEGIN: return "'{%'";
    default: snprintf(buf, cap, "'%.*s'", (int)(t->text.n > 40 ? 40 : t->text.n), t->text.p); return buf;
    }
}

static whet_status pfail(parser *P, const jtoken *at, const char *fmt, const char *arg) {
    char msg[256];
    snprintf(msg, sizeof msg, fmt, arg);
    return whet_errorf(P->err, WHET_ERR_FORMAT, "%s:%d:%d: %s", P->what, at->line, at->col, msg);
}

static whet_status oom(parser *P) { return whet_errorf(P->err, WHET_ERR_NOMEM, "%s: out of memory", P->what); }

static whet_status expect_op(parser *P, const char *op) {
    if (!is_op(cur(P), op)) {
        char buf[64];
        return whet_errorf(P->err, WHET_ERR_FORMAT, "%s:%d:%d: expected '%s', found %s", P->what, cur(P)->line, cur(P)->col,
                           op, tok_desc(cur(P), buf, sizeof buf));
    }
    next(P);
    return WHET_OK;
}

static whet_status expect_kind(parser *P, jtok_kind k, const char *desc) {
    if (cur(P)->kind != k) { /* desc may hold '%' ("'%}'"): never a format string */
        char buf[64];
        return whet_errorf(P->err, WHET_ERR_FORMAT, "%s:%d:%d: expected %s, found %s", P->what, cur(P)->line, cur(P)->col,
                           desc, tok_desc(cur(P), buf, sizeof buf));
    }
    next(P);
    return WHET_OK;
}

static jnode *mk(parser *P, jnode_kind kind, const jtoken *at) {
    jnode *n = ja_alloc(P->a, sizeof *n);
    if (n) n->kind = kind, n->line = at->line, n->col = at->col;
    return n;
}

static bool list_push(jarena *a, jnode_list *l, jnode *n) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        jnode **v = ja_alloc(a, cap * sizeof *v);
        if (!v) return false;
        if (l->n) memcpy(v, l->v, l->n * sizeof *v);
        l->v = v, l->cap = cap;
    }
    l->v[l->n++] = n;
    return true;
}

static bool names_push(jarena *a, jname_list *l, jstr s) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        jstr *v = ja_alloc(a, cap * sizeof *v);
        if (!v) return false;
        if (l->n) memcpy(v, l->v, l->n * sizeof *v);
        l->v = v, l->cap = cap;
    }
    l->v[l->n++] = s;
    return true;
}

static whet_status parse_expr(parser *P, bool with_cond, jnode **out);
static whet_status parse_unary(parser *P, bool with_filter, jnode **out);
static whet_status parse_or(parser *P, jnode **out);

/* ( args, kw=val ) with the '(' current. */
static whet_status parse_call_args(parser *P, jnode *n) {
    WHET_TRY(expect_op(P, "("));
    while (!is_op(cur(P), ")")) {
        if (n->args.n + n->names.n) WHET_TRY(expect_op(P, ","));
        if (is_op(cur(P), ")")) break;
        if (cur(P)->kind == JT_NAME && is_op(peek(P, 1), "=")) {
            if (!names_push(P->a, &n->names, cur(P)->text)) return oom(P);
            next(P), next(P);
            jnode *v;
            WHET_TRY(parse_expr(P, true, &v));
            if (!list_push(P->a, &n->args2, v)) return oom(P);
        } else {
            if (n->names.n) return pfail(P, cur(P), "%spositional argument after a keyword argument", "");
            jnode *v;
            WHET_TRY(parse_expr(P, true, &v));
            if (!list_push(P->a, &n->args, v)) return oom(P);
        }
    }
    next(P);
    return WHET_OK;
}

static whet_status parse_subscript(parser *P, jnode *obj, jnode **out) {
    const jtoken *at = cur(P);
    if (is_op(at, ".")) {
        next(P);
        const jtoken *t = cur(P);
        if (t->kind == JT_NAME) {
            jnode *n = mk(P, JN_ATTR, at);
            if (!n) return oom(P);
            n->a = obj, n->name = t->text;
            next(P);
            *out = n;
            return WHET_OK;
        }
        if (t->kind == JT_INT) {
            jnode *n = mk(P, JN_INDEX, at), *k = mk(P, JN_LITERAL, t);
            if (!n || !k) return oom(P);
            k->lit = jv_int(t->ival);
            n->a = obj, n->b = k;
            next(P);
            *out = n;
            return WHET_OK;
        }
        char buf[64];
        return pfail(P, t, "expected an attribute name after '.', found %s", tok_desc(t, buf, sizeof buf));
    }
    next(P); /* '[' */
    jnode *parts[3] = {NULL, NULL, NULL};
    int part = 0;
    bool is_slice = false;
    while (!is_op(cur(P), "]")) {
        if (is_op(cur(P), ":")) {
            if (++part > 2) return pfail(P, cur(P), "%stoo many ':' in a slice", "");
            is_slice = true;
            next(P);
            continue;
        }
        if (parts[part]) return pfail(P, cur(P), "%sexpected ']' or ':' in a subscript", "");
        WHET_TRY(parse_expr(P, true, &parts[part]));
    }
    next(P);
    jnode *n = mk(P, is_slice ? JN_SLICE : JN_INDEX, at);
    if (!n) return oom(P);
    n->a = obj;
    if (is_slice) {
        n->b = parts[0], n->c = parts[1];
        if (!list_push(P->a, &n->args, parts[2])) return oom(P);
    } else {
        if (!parts[0]) return pfail(P, at, "%sempty subscript '[]'", "");
        n->b = parts[0];
    }
    *out = n;
    return WHET_OK;
}

static whet_status parse_postfix(parser *P, jnode *node, jnode **out) {
    for (;;) {
        const jtoken *t = cur(P);
        if (is_op(t, ".") || is_op(t, "[")) {
            WHET_TRY(parse_subscript(P, node, &node));
        } else if (is_op(t, "(")) {
            jnode *c = mk(P, JN_CALL, t);
            if (!c) return oom(P);
            c->a = node;
            WHET_TRY(parse_call_args(P, c));
            node = c;
        } else {
            break;
        }
    }
    *out = node;
    return WHET_OK;
}

static whet_status parse_primary(parser *P, jnode **out);

static whet_status parse_filter_expr(parser *P, jnode *node, jnode **out) {
    for (;;) {
        const jtoken *t = cur(P);
        if (is_op(t, "|")) {
            next(P);
            if (cur(P)->kind != JT_NAME) return pfail(P, cur(P), "%sexpected a filter name after '|'", "");
            jnode *f = mk(P, JN_FILTER, cur(P));
            if (!f) return oom(P);
            f->a = node, f->name = cur(P)->text;
            next(P);
            if (is_op(cur(P), "(")) WHET_TRY(parse_call_args(P, f));
            node = f;
        } else if (is_name(t, "is")) {
            next(P);
            jnode *f = mk(P, JN_TEST, cur(P));
            if (!f) return oom(P);
            if (is_name(cur(P), "not")) f->negate = true, next(P);
            if (cur(P)->kind != JT_NAME) return pfail(P, cur(P), "%sexpected a test name after 'is'", "");
            f->a = node, f->name = cur(P)->text;
            next(P);
            const jtoken *c = cur(P);
            if (is_op(c, "(")) {
                WHET_TRY(parse_call_args(P, f));
            } else if ((c->kind == JT_NAME || c->kind == JT_STRING || c->kind == JT_INT || c->kind == JT_FLOAT ||
                        is_op(c, "[") || is_op(c, "{")) &&
                       !is_name(c, "else") && !is_name(c, "or") && !is_name(c, "and") && !is_name(c, "if") &&
                       !is_name(c, "is")) {
                jnode *arg;
                WHET_TRY(parse_primary(P, &arg));
                WHET_TRY(parse_postfix(P, arg, &arg));
                if (!list_push(P->a, &f->args, arg)) return oom(P);
            }
            node = f;
        } else if (is_op(t, "(")) {
            WHET_TRY(parse_postfix(P, node, &node));
        } else {
            break;
        }
    }
    *out = node;
    return WHET_OK;
}

static whet_status parse_primary(parser *P, jnode **out) {
    const jtoken *t = cur(P);
    jnode *n = NULL;
    if (t->kind == JT_NAME) {
        n = mk(P, JN_LITERAL, t);
        if (!n) return oom(P);
        if (jstr_eq(t->text, "true") || jstr_eq(t->text, "True")) n->lit = jv_bool(true);
        else if (jstr_eq(t->text, "false") || jstr_eq(t->text, "False")) n->lit = jv_bool(false);
        else if (jstr_eq(t->text, "none") || jstr_eq(t->text, "None")) n->lit = jv_none();
        else n->kind = JN_NAME, n->name = t->text;
        next(P);
    } else if (t->kind == JT_STRING) {
        n = mk(P, JN_LITERAL, t);
        if (!n) return oom(P);
        n->lit = jv_str(t->text);
        next(P);
        while (cur(P)->kind == JT_STRING) { /* adjacent literals concatenate */
            jstr a = n->lit.u.s, b = cur(P)->text;
            char *s = ja_alloc(P->a, a.n + b.n + 1);
            if (!s) return oom(P);
            memcpy(s, a.p, a.n), memcpy(s + a.n, b.p, b.n);
            n->lit = jv_str((jstr){s, a.n + b.n});
            next(P);
        }
    } else if (t->kind == JT_INT || t->kind == JT_FLOAT) {
        n = mk(P, JN_LITERAL, t);
        if (!n) return oom(P);
        n->lit = t->kind == JT_INT ? jv_int(t->ival) : jv_float(t->fval);
        next(P);
    } else if (is_op(t, "(")) {
        next(P);
        if (is_op(cur(P), ")")) {
            n = mk(P, JN_LIST, t);
            if (!n) return oom(P);
            n->op = (jstr){"(", 1};
            next(P);
        } else {
            WHET_TRY(parse_expr(P, true, &n));
            if (is_op(cur(P), ",")) {
                jnode *tup = mk(P, JN_LIST, t);
                if (!tup || !list_push(P->a, &tup->args, n)) return oom(P);
                tup->op = (jstr){"(", 1};
                while (is_op(cur(P), ",")) {
                    next(P);
                    if (is_op(cur(P), ")")) break;
                    jnode *e;
                    WHET_TRY(parse_expr(P, true, &e));
                    if (!list_push(P->a, &tup->args, e)) return oom(P);
                }
                n = tup;
            }
            WHET_TRY(expect_op(P, ")"));
        }
    } else if (is_op(t, "[")) {
        n = mk(P, JN_LIST, t);
        if (!n) return oom(P);
        next(P);
        while (!is_op(cur(P), "]")) {
            if (n->args.n) WHET_TRY(expect_op(P, ","));
            if (is_op(cur(P), "]")) break;
            jnode *e;
            WHET_TRY(parse_expr(P, true, &e));
            if (!list_push(P->a, &n->args, e)) return oom(P);
        }
        next(P);
    } else if (is_op(t, "{")) {
        n = mk(P, JN_DICT, t);
        if (!n) return oom(P);
        next(P);
        while (!is_op(cur(P), "}")) {
            if (n->args.n) WHET_TRY(expect_op(P, ","));
            if (is_op(cur(P), "}")) break;
            jnode *k, *v;
            WHET_TRY(parse_expr(P, true, &k));
            WHET_TRY(expect_op(P, ":"));
            WHET_TRY(parse_expr(P, true, &v));
            if (!list_push(P->a, &n->args, k) || !list_push(P->a, &n->args2, v)) return oom(P);
        }
        next(P);
    } else {
        char buf[64];
        return pfail(P, t, "unexpected %s in an expression", tok_desc(t, buf, sizeof buf));
    }
    *out = n;
    return WHET_OK;
}

static whet_status parse_unary(parser *P, bool with_filter, jnode **out) {
    const jtoken *t = cur(P);
    jnode *node;
    if (is_op(t, "-") || is_op(t, "+")) {
        next(P);
        node = mk(P, is_op(t, "-") ? JN_NEG : JN_POS, t);
        if (!node) return oom(P);
        WHET_TRY(parse_unary(P, false, &node->a));
    } else {
        WHET_TRY(parse_primary(P, &node));
    }
    WHET_TRY(parse_postfix(P, node, &node));
    if (with_filter) WHET_TRY(parse_filter_expr(P, node, &node));
    *out = node;
    return WHET_OK;
}

typedef whet_status (*sub_parser)(parser *P, jnode **out);

/* Left-associative binary level: operators in `ops` (NULL-terminated), operands from `sub`. */
static whet_status parse_binary(parser *P, sub_parser sub, const char *const *ops, jnode_kind kind, jnode **out) {
    jnode *left;
    WHET_TRY(sub(P, &left));
    for (;;) {
        const jtoken *t = cur(P);
        const char *hit = NULL;
        for (int k = 0; ops[k]; k++)
            if (is_op(t, ops[k])) hit = ops[k];
        if (!hit) break;
        next(P);
        jnode *n = mk(P, kind, t);
        if (!n) return oom(P);
        n->op = t->text, n->a = left;
        WHET_TRY(sub(P, &n->b));
        left = n;
    }
    *out = left;
    return WHET_OK;
}

static whet_status parse_unary_f(parser *P, jnode **out) { return parse_unary(P, true, out); }
static whet_status parse_pow(parser *P, jnode **out) {
    static const char *const ops[] = {"**", NULL};
    return parse_binary(P, parse_unary_f, ops, JN_BINOP, out);
}
static whet_status parse_math2(parser *P, jnode **out) {
    static const char *const ops[] = {"*", "/", "//", "%", NULL};
    return parse_binary(P, parse_pow, ops, JN_BINOP, out);
}
static whet_status parse_concat(parser *P, jnode **out) {
    static const char *const ops[] = {"~", NULL};
    return parse_binary(P, parse_math2, ops, JN_CONCAT, out);
}
static whet_status parse_math1(parser *P, jnode **out) {
    static const char *const ops[] = {"+", "-", NULL};
    return parse_binary(P, parse_concat, ops, JN_BINOP, out);
}

static whet_status parse_compare(parser *P, jnode **out) {
    static const char *const ops[] = {"==", "!=", "<", ">", "<=", ">=", NULL};
    jnode *left;
    WHET_TRY(parse_math1(P, &left));
    jnode *result = left, *prev_right = left;
    bool chained = false;
    for (;;) {
        const jtoken *t = cur(P);
        jstr op = {NULL, 0};
        for (int k = 0; ops[k]; k++)
            if (is_op(t, ops[k])) op = t->text;
        if (!op.p && is_name(t, "in")) op = t->text;
        if (!op.p && is_name(t, "not") && is_name(peek(P, 1), "in")) op = (jstr){"not in", 6}, next(P);
        if (!op.p) break;
        next(P);
        jnode *n = mk(P, JN_COMPARE, t);
        if (!n) return oom(P);
        n->op = op, n->a = prev_right;
        WHET_TRY(parse_math1(P, &n->b));
        prev_right = n->b;
        if (chained) { /* a < b < c == (a < b) and (b < c) */
            jnode *both = mk(P, JN_AND, t);
            if (!both) return oom(P);
            both->a = result, both->b = n;
            result = both;
        } else {
            result = n;
        }
        chained = true;
    }
    *out = result;
    return WHET_OK;
}

static whet_status parse_not(parser *P, jnode **out) {
    if (is_name(cur(P), "not")) {
        jnode *n = mk(P, JN_NOT, cur(P));
        if (!n) return oom(P);
        next(P);
        WHET_TRY(parse_not(P, &n->a));
        *out = n;
        return WHET_OK;
    }
    return parse_compare(P, out);
}

static whet_status parse_logic(parser *P, sub_parser sub, const char *word, jnode_kind kind, jnode **out) {
    jnode *left;
    WHET_TRY(sub(P, &left));
    while (is_name(cur(P), word)) {
        jnode *n = mk(P, kind, cur(P));
        if (!n) return oom(P);
        next(P);
        n->a = left;
        WHET_TRY(sub(P, &n->b));
        left = n;
    }
    *out = left;
    return WHET_OK;
}
static whet_status parse_and(parser *P, jnode **out) { return parse_logic(P, parse_not, "and", JN_AND, out); }
static whet_status parse_or(parser *P, jnode **out) { return parse_logic(P, parse_and, "or", JN_OR, out); }

static whet_status parse_expr(parser *P, bool with_cond, jnode **out) {
    jnode *e;
    WHET_TRY(parse_or(P, &e));
    while (with_cond && is_name(cur(P), "if")) {
        jnode *n = mk(P, JN_COND, cur(P));
        if (!n) return oom(P);
        next(P);
        n->b = e;
        WHET_TRY(parse_or(P, &n->a));
        if (is_name(cur(P), "else")) {
            next(P);
            WHET_TRY(parse_expr(P, true, &n->c));
        }
        e = n;
    }
    *out = e;
    return WHET_OK;
}

/* ---------------- statements ---------------- */

static whet_status parse_body(parser *P, const char *const *stops, jnode_list *body, const jtoken **stop_at);

static whet_status block_end(parser *P) { return expect_kind(P, JT_BLOCK_END, "'%}'"); }

/* Parse a body that must end with one of `stops`; consumes the stop tag's name and returns it. */
static whet_status body_until(parser *P, const char *const *stops, jnode_list *body, const jtoken *opener,
                              jstr *which) {
    const jtoken *stop = NULL;
    WHET_TRY(parse_body(P, stops, body, &stop));
    if (!stop)
        return whet_errorf(P->err, WHET_ERR_FORMAT, "%s:%d:%d: '%.*s' block is never closed (missing '{%% end%.*s %%}')",
                           P->what, opener->line, opener->col, (int)opener->text.n, opener->text.p,
                           (int)opener->text.n, opener->text.p);
    *which = stop->text;
    next(P);
    return WHET_OK;
}

static whet_status parse_if(parser *P, const jtoken *kw, jnode **out) {
    static const char *const stops[] = {"elif", "else", "endif", NULL};
    jnode *n = mk(P, JN_IF, kw);
    if (!n) return oom(P);
    WHET_TRY(parse_expr(P, true, &n->a));
    WHET_TRY(block_end(P));
    jstr which;
    WHET_TRY(body_until(P, stops, &n->args, kw, &which));
    if (jstr_eq(which, "elif")) {
        jnode *sub;
        WHET_TRY(parse_if(P, kw, &sub));
        if (!list_push(P->a, &n->args2, sub)) return oom(P);
        *out = n;
        return WHET_OK;
    }
    if (jstr_eq(which, "else")) {
        static const char *const end[] = {"endif", NULL};
        WHET_TRY(block_end(P));
        WHET_TRY(body_until(P, end, &n->args2, kw, &which));
    }
    WHET_TRY(block_end(P));
    *out = n;
    return WHET_OK;
}

static whet_status parse_for(parser *P, const jtoken *kw, jnode **out) {
    static const char *const stops[] = {"else", "endfor", NULL};
    jnode *n = mk(P, JN_FOR, kw);
    if (!n) return oom(P);
    bool paren = is_op(cur(P), "(");
    if (paren) next(P);
    do {
        if (n->names.n) next(P);
        if (cur(P)->kind != JT_NAME) return pfail(P, cur(P), "%sexpected a loop variable name after 'for'", "");
        if (!names_push(P->a, &n->names, cur(P)->text)) return oom(P);
        next(P);
    } while (is_op(cur(P), ","));
    if (paren) WHET_TRY(expect_op(P, ")"));
    if (!is_name(cur(P), "in")) return pfail(P, cur(P), "%sexpected 'in' in a for loop", "");
    next(P);
    WHET_TRY(parse_expr(P, false, &n->a));
    if (is_name(cur(P), "if")) {
        next(P);
        WHET_TRY(parse_expr(P, true, &n->c));
    }
    if (is_name(cur(P), "recursive")) return pfail(P, cur(P), "%srecursive for loops are not supported", "");
    WHET_TRY(block_end(P));
    jstr which;
    WHET_TRY(body_until(P, stops, &n->args, kw, &which));
    if (jstr_eq(which, "else")) {
        static const char *const end[] = {"endfor", NULL};
        WHET_TRY(block_end(P));
        WHET_TRY(body_until(P, end, &n->args2, kw, &which));
    }
    WHET_TRY(block_end(P));
    *out = n;
    return WHET_OK;
}

static whet_status parse_set(parser *P, const jtoken *kw, jnode **out) {
    jnode *n = mk(P, JN_SET, kw);
    if (!n) return oom(P);
    if (cur(P)->kind != JT_NAME) return pfail(P, cur(P), "%sexpected a variable name after 'set'", "");
    if (!names_push(P->a, &n->names, cur(P)->text)) return oom(P);
    next(P);
    if (is_op(cur(P), ".")) {
        next(P);
        if (cur(P)->kind != JT_NAME) return pfail(P, cur(P), "%sexpected an attribute name in 'set x.attr ='", "");
        n->name = cur(P)->text;
        next(P);
    } else {
        while (is_op(cur(P), ",")) {
            next(P);
            if (cur(P)->kind != JT_NAME) return pfail(P, cur(P), "%sexpected a variable name in 'set a, b ='", "");
            if (!names_push(P->a, &n->names, cur(P)->text)) return oom(P);
            next(P);
        }
    }
    if (is_op(cur(P), "=")) {
        next(P);
        WHET_TRY(parse_expr(P, true, &n->a));
        if (is_op(cur(P), ",")) { /* set a, b = x, y */
            jnode *tup = mk(P, JN_LIST, cur(P));
            if (!tup || !list_push(P->a, &tup->args, n->a)) return oom(P);
            tup->op = (jstr){"(", 1};
            while (is_op(cur(P), ",")) {
                next(P);
                jnode *e;
                WHET_TRY(parse_expr(P, true, &e));
                if (!list_push(P->a, &tup->args, e)) return oom(P);
            }
            n->a = tup;
        }
        WHET_TRY(block_end(P));
        *out = n;
        return WHET_OK;
    }
    if (n->name.p || n->names.n != 1) return pfail(P, cur(P), "%sexpected '=' in 'set'", "");
    /* block set: {% set x %}...{% endset %} */
    static const char *const end[] = {"endset", NULL};
    n->kind = JN_SET_BLOCK;
    WHET_TRY(block_end(P));
    jstr which;
    WHET_TRY(body_until(P, end, &n->args, kw, &which));
    WHET_TRY(block_end(P));
    *out = n;
    return WHET_OK;
}

static whet_status parse_macro(parser *P, const jtoken *kw, jnode **out) {
    jnode *n = mk(P, JN_MACRO, kw);
    if (!n) return oom(P);
    if (cur(P)->kind != JT_NAME) return pfail(P, cur(P), "%sexpected a macro name", "");
    n->name = cur(P)->text;
    next(P);
    WHET_TRY(expect_op(P, "("));
    while (!is_op(cur(P), ")")) {
        if (n->names.n) WHET_TRY(expect_op(P, ","));
        if (cur(P)->kind != JT_NAME) return pfail(P, cur(P), "%sexpected a parameter name", "");
        if (!names_push(P->a, &n->names, cur(P)->text)) return oom(P);
        next(P);
        jnode *def = NULL;
        if (is_op(cur(P), "=")) {
            next(P);
            WHET_TRY(parse_expr(P, true, &def));
        }
        if (!list_push(P->a, &n->args2, def)) return oom(P);
    }
    next(P);
    WHET_TRY(block_end(P));
    static const char *const end[] = {"endmacro", NULL};
    jstr which;
    WHET_TRY(body_until(P, end, &n->args, kw, &which));
    if (cur(P)->kind == JT_NAME) next(P); /* {% endmacro name %} */
    WHET_TRY(block_end(P));
    *out = n;
    return WHET_OK;
}

static whet_status parse_filter_block(parser *P, const jtoken *kw, jnode **out) {
    jnode *n = mk(P, JN_FILTER_BLOCK, kw);
    if (!n) return oom(P);
    if (cur(P)->kind != JT_NAME) return pfail(P, cur(P), "%sexpected a filter name", "");
    jnode *f = mk(P, JN_FILTER, cur(P));
    if (!f) return oom(P);
    f->name = cur(P)->text;
    next(P);
    if (is_op(cur(P), "(")) WHET_TRY(parse_call_args(P, f));
    n->a = f;
    WHET_TRY(block_end(P));
    static const char *const end[] = {"endfilter", NULL};
    jstr which;
    WHET_TRY(body_until(P, end, &n->args, kw, &which));
    WHET_TRY(block_end(P));
    *out = n;
    return WHET_OK;
}

static whet_status parse_statement(parser *P, jnode **out) {
    const jtoken *kw = cur(P);
    if (kw->kind != JT_NAME) return pfail(P, kw, "%sexpected a statement name after '{%%'", "");
    next(P);
    if (jstr_eq(kw->text, "if")) return parse_if(P, kw, out);
    if (jstr_eq(kw->text, "for")) return parse_for(P, kw, out);
    if (jstr_eq(kw->text, "set")) return parse_set(P, kw, out);
    if (jstr_eq(kw->text, "macro")) return parse_macro(P, kw, out);
    if (jstr_eq(kw->text, "filter")) return parse_filter_block(P, kw, out);
    if (jstr_eq(kw->text, "break") || jstr_eq(kw->text, "continue")) {
        *out = mk(P, jstr_eq(kw->text, "break") ? JN_BREAK : JN_CONTINUE, kw);
        if (!*out) return oom(P);
        return block_end(P);
    }
    if (jstr_eq(kw->text, "generation")) { /* transformers' AssistantTracker: renders its body */
        jnode *n = mk(P, JN_SCOPE, kw);
        if (!n) return oom(P);
        WHET_TRY(block_end(P));
        static const char *const end[] = {"endgeneration", NULL};
        jstr which;
        WHET_TRY(body_until(P, end, &n->args, kw, &which));
        WHET_TRY(block_end(P));
        *out = n;
        return WHET_OK;
    }
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(kw->text.n > 40 ? 40 : kw->text.n), kw->text.p);
    if (strncmp(name, "end", 3) == 0 || !strcmp(name, "else") || !strcmp(name, "elif"))
        return pfail(P, kw, "unexpected '{%% %s %%}' (no open block it could close)", name);
    return pfail(P, kw, "unsupported statement '{%% %s %%}' (the chat-template subset has if/for/set/macro/filter/"
                        "break/continue/generation)", name);
}

static whet_status parse_body(parser *P, const char *const *stops, jnode_list *body, const jtoken **stop_at) {
    *stop_at = NULL;
    for (;;) {
        const jtoken *t = cur(P);
        if (t->kind == JT_EOF) return WHET_OK;
        jnode *n = NULL;
        if (t->kind == JT_TEXT) {
            n = mk(P, JN_TEXT, t);
            if (!n) return oom(P);
            n->lit = jv_str(t->text);
            next(P);
        } else if (t->kind == JT_VAR_BEGIN) {
            n = mk(P, JN_OUTPUT, t);
            if (!n) return oom(P);
            next(P);
            WHET_TRY(parse_expr(P, true, &n->a));
            WHET_TRY(expect_kind(P, JT_VAR_END, "'}}'"));
        } else if (t->kind == JT_BLOCK_BEGIN) {
            const jtoken *kw = peek(P, 1);
            for (int k = 0; stops && stops[k]; k++)
                if (is_name(kw, stops[k])) {
                    next(P);
                    *stop_at = kw;
                    return WHET_OK;
                }
            next(P);
            WHET_TRY(parse_statement(P, &n));
        } else {
            char buf[64];
            return pfail(P, t, "unexpected %s", tok_desc(t, buf, sizeof buf));
        }
        if (!list_push(P->a, body, n)) return oom(P);
    }
}

whet_status jinja_parse(const jtokens *toks, const char *what, jarena *a, jnode_list *body, whet_error *err) {
    parser P = {.t = toks->v, .n = toks->n, .what = what, .a = a, .err = err};
    memset(body, 0, sizeof *body);
    const jtoken *stop = NULL;
    return parse_body(&P, NULL, body, &stop);
}
