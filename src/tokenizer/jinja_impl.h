/* jinja_impl.h: internals of the Jinja subset interpreter shared by
 * jinja_lex.c (source -> tokens), jinja_parse.c (tokens -> AST),
 * jinja_value.c (values, Python-like str/repr/json), jinja_eval.c
 * (statements and expressions), jinja_filters.c (filters, tests) and
 * jinja_methods.c (methods, globals); jinja_render.c is the public API. Not part of the public API (see jinja.h). */
#ifndef WHET_TOKENIZER_JINJA_IMPL_H
#define WHET_TOKENIZER_JINJA_IMPL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "core/status.h"
#include "core/strbuf.h"

/* ---- bump allocator: everything a compile or a render allocates ---- */
typedef struct jarena_chunk jarena_chunk;
typedef struct { jarena_chunk *head; } jarena;
void *ja_alloc(jarena *a, size_t bytes);          /* zeroed, 8-byte aligned; NULL when out of memory */
void ja_free_all(jarena *a);

typedef struct { const char *p; size_t n; } jstr;
bool jstr_eq(jstr a, const char *lit);

/* ---- tokens ---- */
typedef enum {
    JT_TEXT, JT_VAR_BEGIN, JT_VAR_END, JT_BLOCK_BEGIN, JT_BLOCK_END,
    JT_NAME, JT_STRING, JT_INT, JT_FLOAT, JT_OP, JT_EOF,
} jtok_kind;

typedef struct {
    jtok_kind kind;
    jstr text;        /* TEXT: the data; NAME/OP: the spelling; STRING: the decoded value */
    int64_t ival;
    double fval;
    int line, col;
} jtoken;

typedef struct {
    jtoken *v;
    size_t n;
} jtokens;

whet_status jinja_lex(const char *src, size_t len, const char *what, jarena *a, jtokens *out, whet_error *err);

/* ---- values ---- */
typedef enum {
    JV_UNDEFINED, JV_NONE, JV_BOOL, JV_INT, JV_FLOAT, JV_STR, JV_LIST, JV_DICT,
    JV_NAMESPACE, JV_LOOP, JV_MACRO, JV_BUILTIN,
} jv_kind;

typedef struct jv jv;
typedef struct jlist jlist;
typedef struct jdict jdict;
typedef struct jmacro jmacro;

struct jv {
    jv_kind kind;
    union {
        bool b;
        int64_t i;
        double f;
        jstr s;          /* STR (UTF-8), UNDEFINED (the missing name, for messages) */
        jlist *list;
        jdict *dict;     /* DICT, NAMESPACE, LOOP */
        jmacro *macro;
        int builtin;
    } u;
};

struct jlist { jv *items; size_t n, cap; bool tuple; /* repr as (a, b) */ };
struct jdict { jv *keys; jv *vals; size_t n, cap; };

jv jv_undef(jstr name);
jv jv_none(void);
jv jv_bool(bool b);
jv jv_int(int64_t i);
jv jv_float(double f);
jv jv_str(jstr s);
jv jv_cstr(const char *s);
bool jv_is_dictlike(jv v);
bool jv_truthy(jv v);
jlist *jlist_new(jarena *a, size_t cap);
bool jlist_push(jarena *a, jlist *l, jv v);
jdict *jdict_new(jarena *a, size_t cap);
bool jdict_set(jarena *a, jdict *d, jv key, jv val);
bool jdict_get(const jdict *d, jv key, jv *out);
bool jdict_get_str(const jdict *d, const char *key, jv *out);
bool jv_equal(jv a, jv b);
/* -1/0/1 ordering; false when the types do not order (numbers, strings, lists). */
bool jv_compare(jv a, jv b, int *out);
const char *jv_type_name(jv v);
/* cJSON -> value (deep) and value -> cJSON for callers. */
bool jv_from_cjson(jarena *a, const cJSON *j, jv *out);
/* str(v) like Python (None, True, 1.5, ['a'], {'k': 1}); undefined renders "". */
void jv_to_str(jv v, whet_strbuf *out);
/* repr(v) like Python. */
void jv_repr(jv v, whet_strbuf *out);
/* json.dumps(v, ensure_ascii=False, indent=..., separators=..., sort_keys=...) as transformers' tojson;
 * indent < 0 is indent=None (one line). */
typedef struct { int indent; const char *item_sep, *key_sep; bool sort_keys; } jjson_opts;
bool jv_to_json(jv v, const jjson_opts *o, whet_strbuf *out);   /* false: not serialisable */
void jfloat_repr(double f, whet_strbuf *out);
/* Strings in the arena. */
jv jv_str_copy(jarena *a, const char *p, size_t n);
jv jv_sb_to_str(jarena *a, whet_strbuf *sb);   /* copies, then clears sb */
size_t utf8_len(jstr s);                        /* code points */
/* Byte offset of code point index `cp` (clamped to the end). */
size_t utf8_offset(jstr s, size_t cp);

/* ---- AST ---- */
typedef enum {
    /* expressions */
    JN_LITERAL, JN_NAME, JN_LIST, JN_DICT, JN_ATTR, JN_INDEX, JN_SLICE, JN_CALL, JN_FILTER, JN_TEST,
    JN_NEG, JN_POS, JN_NOT, JN_AND, JN_OR, JN_BINOP, JN_COMPARE, JN_CONCAT, JN_COND,
    /* statements */
    JN_TEXT, JN_OUTPUT, JN_IF, JN_FOR, JN_SET, JN_SET_BLOCK, JN_MACRO, JN_BREAK, JN_CONTINUE,
    JN_FILTER_BLOCK, JN_CALL_STMT, JN_SCOPE,
} jnode_kind;

typedef struct jnode jnode;
typedef struct { jnode **v; size_t n, cap; } jnode_list;
typedef struct { jstr *v; size_t n, cap; } jname_list;

struct jnode {
    jnode_kind kind;
    int line, col;
    jstr op;            /* BINOP/COMPARE operator spelling ("+", "//", "==", "in", "not in"); LIST: "(" for a tuple */
    bool negate;        /* TEST: `is not` */
    jstr name;          /* NAME, ATTR, FILTER, TEST, SET attr target, MACRO, FOR */
    jv lit;             /* LITERAL, TEXT */
    jnode *a, *b, *c;   /* operands: object / left / condition / iterable; right / then; else / loop filter */
    jnode_list args;    /* call/filter/test args, list items, dict keys, body of a block statement */
    jnode_list args2;   /* dict values, kwarg values, macro defaults (NULL entries: none), else body */
    jname_list names;   /* kwarg names, for targets, macro parameters, set targets */
};

whet_status jinja_parse(const jtokens *toks, const char *what, jarena *a, jnode_list *body, whet_error *err);

/* ---- rendering ---- */
typedef struct jscope jscope;
struct jscope {
    jscope *parent;
    jstr *names;
    jv *vals;
    size_t n, cap;
};

struct jmacro { const jnode *node; jscope *closure; };

typedef struct {
    jarena *a;
    whet_error *err;
    const char *what;
    whet_strbuf *out;
    int depth;          /* macro recursion guard */
} jrender;

/* Fail with "<what>:<line>:<col>: <message>". */
whet_status jfail(jrender *r, const jnode *at, whet_status code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
whet_status jinja_eval(jrender *r, jscope *sc, const jnode *e, jv *out);
whet_status jinja_exec_body(jrender *r, jscope *sc, const jnode_list *body, int *ctl);
whet_status jinja_call_value(jrender *r, jscope *sc, const jnode *at, jv callee, const jv *args, size_t n_args,
                             const jstr *kw_names, const jv *kw_vals, size_t n_kw, jv *out);
jscope *jscope_new(jarena *a, jscope *parent);
bool jscope_set(jarena *a, jscope *sc, jstr name, jv v);
bool jscope_lookup(const jscope *sc, jstr name, jv *out);

/* Filters and tests (jinja_filters.c), methods and globals (jinja_methods.c); an unknown name is a
 * WHET_ERR_UNSUPPORTED error naming it and its line:col. */
typedef struct {
    const jv *args; size_t n;
    const jstr *kw_names; const jv *kw_vals; size_t n_kw;
} jargs;
whet_status jinja_filter(jrender *r, jscope *sc, const jnode *at, jstr name, jv v, const jargs *args, jv *out);
whet_status jinja_test(jrender *r, jscope *sc, const jnode *at, jstr name, jv v, const jargs *args, bool *out);
whet_status jinja_method(jrender *r, const jnode *at, jv obj, jstr name, const jargs *args, jv *out, bool *found);
bool jinja_builtin_lookup(jstr name, jv *out);
whet_status jinja_builtin_call(jrender *r, const jnode *at, int id, const jargs *args, jv *out);
/* Shared by the evaluator and filters. */
whet_status jinja_getattr(jrender *r, const jnode *at, jv obj, jstr name, jv *out);
whet_status jinja_getitem(jrender *r, const jnode *at, jv obj, jv key, jv *out);
/* Iterate: list items, dict keys, string characters; undefined/none as empty for undefined only. */
whet_status jinja_iter_list(jrender *r, const jnode *at, jv v, jlist **out);
/* Argument `pos` (positional) or keyword `name`; false when absent. */
bool jarg(const jargs *a, size_t pos, const char *name, jv *out);
/* String helpers (jinja_methods.c), Python's Unicode rules. */
uint32_t jutf8_next(jstr s, size_t *i);
bool jis_space(uint32_t cp);                                  /* str.isspace() */
jv jstr_case(jarena *a, jstr s, int mode);   /* 0 lower, 1 upper, 2 str.title, 3 capitalize, 4 Jinja title */
jv jstr_strip(jstr s, const jv *chars, int which);            /* 1 left, 2 right, 3 both; chars NULL: whitespace */
jv jstr_replace(jarena *a, jstr s, jstr old, jstr new_, int64_t count);   /* count < 0: all */
#endif
