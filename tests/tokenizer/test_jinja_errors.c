/* test_jinja_errors.c: template mistakes are clear errors naming
 * <what>:line:col (syntax, unsupported statements/filters/tests, undefined
 * values used, non-iterables, unsafe mutation the sandbox refuses) and
 * raise_exception's message reaches the user; nothing half-rendered is left
 * in the output buffer; plus edge behaviour (whet_jinja_render reuse,
 * strftime_now, macros recursion guard). */
#include <string.h>
#include <time.h>
#include "tokenizer/jinja.h"
#include "test.h"

/* Compile + render src with an empty context; returns the status, message in err. */
static whet_status render(const char *src, const char *ctx_json, whet_strbuf *out, whet_error *err) {
    whet_jinja *t = NULL;
    whet_status st = whet_jinja_compile(src, "tpl.jinja", &t, err);
    if (st != WHET_OK) return st;
    cJSON *ctx = cJSON_Parse(ctx_json ? ctx_json : "{}");
    st = whet_jinja_render(t, ctx, out, err);
    cJSON_Delete(ctx);
    whet_jinja_free(t);
    return st;
}

static void expect_error(const char *src, const char *want) {
    whet_strbuf out;
    whet_sb_init(&out);
    whet_sb_puts(&out, "kept");
    whet_error err = {0};
    whet_status st = render(src, "{\"messages\": [{\"role\": \"user\"}], \"n\": null}", &out, &err);
    CHECK_MSG(st != WHET_OK && strstr(err.msg, want), "template %s: want error with \"%s\", got %d \"%s\"", src, want, st, err.msg);
    CHECK_STR_EQ(out.data, "kept");
    whet_sb_free(&out);
}

static void expect_text(const char *src, const char *ctx, const char *want) {
    whet_strbuf out;
    whet_sb_init(&out);
    whet_error err = {0};
    CHECK_OK(render(src, ctx, &out, &err), &err);
    CHECK_STR_EQ(out.len ? out.data : "", want);
    whet_sb_free(&out);
}

int main(void) {
    /* Syntax errors: line:col of the offending token. */
    expect_error("ok\n{% if x %}\nno end", "tpl.jinja:2:4: 'if' block is never closed");
    expect_error("{{ 1 + }}", "tpl.jinja:1:8: unexpected '}}'");
    expect_error("a\n  {% while x %}{% endwhile %}", "tpl.jinja:2:6: unsupported statement '{% while %}'");
    expect_error("{% endfor %}", "no open block it could close");
    expect_error("{% if x %}{% endif x %}", "tpl.jinja:1:20: expected '%}', found 'x'");
    expect_error("{{ 'abc }}", "tpl.jinja:1:4: unterminated string literal");
    expect_error("{# never closed", "unclosed comment");
    expect_error("{{ x | nosuchfilter }}", "tpl.jinja:1:8: no filter named 'nosuchfilter'");
    expect_error("{% if x is nosuchtest %}{% endif %}", "no test named 'nosuchtest'");
    /* Runtime errors. */
    expect_error("\n{{ missing.attr }}", "tpl.jinja:2:11: 'missing' is undefined");
    expect_error("{{ messages[0].content.strip() }}", "'content' is undefined");
    expect_error("{% for x in n %}{% endfor %}", "'NoneType' object is not iterable");
    expect_error("{{ 1 + 'a' }}", "unsupported operand type(s) for +: 'int' and 'str'");
    expect_error("{{ 1 // 0 }}", "division or modulo by zero");
    expect_error("{{ messages.append(1) }}", "unsafe in the sandbox");
    expect_error("{{ raise_exception('Only user and assistant roles are supported!') }}",
                 "the chat template raised an error: Only user and assistant roles are supported!");
    expect_error("{% macro f(x) %}{{ f(x) }}{% endmacro %}{{ f(1) }}", "macro recursion deeper than 200");
    expect_error("{{ range(1, 2, 0) }}", "must not be zero");
    expect_error("{% set n.x = 1 %}", "cannot assign attribute on non-namespace object 'n'");
    /* Behaviour around undefined and none, as Jinja's default Undefined. */
    expect_text("[{{ missing }}][{{ missing|length }}][{% for x in missing %}x{% endfor %}][{{ missing is defined }}]", NULL,
                "[][0][][False]");
    expect_text("{{ n }}|{{ n is none }}|{{ messages[5] is defined }}|{{ {'a': 1}.b is defined }}", "{\"n\": null, \"messages\": []}",
                "None|True|False|False");
    expect_text("{{ 'x' if false }}|{{ 1.5 + 1 }}|{{ 10 / 4 }}|{{ 3 * 1.0 }}|{{ -0.0 }}|{{ 1e-7 }}|{{ 123456789012345678 }}", NULL,
                "|2.5|2.5|3.0|-0.0|1e-07|123456789012345678");
    expect_text("{{ x|tojson }}", "{\"x\": {\"k\": [1, 2.5, \"\\u00e9\\n\", null, true]}}", "{\"k\": [1, 2.5, \"é\\n\", null, true]}");
    /* strftime_now gives today's date as the template asks for it. */
    char want[64];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(want, sizeof want, "%d %b %Y", &tm);
    expect_text("{{ strftime_now('%d %b %Y') }}", NULL, want);
    /* A compiled template renders many times, independently. */
    whet_jinja *t = NULL;
    whet_error err = {0};
    CHECK_OK(whet_jinja_compile("{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}",
                                "tpl", &t, &err), &err);
    for (int k = 1; k <= 3 && t; k++) {
        cJSON *ctx = cJSON_CreateObject(), *msgs = cJSON_AddArrayToObject(ctx, "messages");
        for (int i = 0; i < k; i++) cJSON_AddItemToArray(msgs, cJSON_CreateString("m"));
        whet_strbuf out;
        whet_sb_init(&out);
        CHECK_OK(whet_jinja_render(t, ctx, &out, &err), &err);
        CHECK_EQ_INT(out.data[0] - '0', k);
        whet_sb_free(&out);
        cJSON_Delete(ctx);
    }
    whet_jinja_free(t);
    /* whet_chat_template_apply: no template / bad messages are clear errors. */
    whet_strbuf out;
    whet_sb_init(&out);
    CHECK(whet_chat_template_apply(NULL, NULL, NULL, "", "", true, &out, &err) == WHET_ERR_NOT_FOUND);
    CHECK(strstr(err.msg, "--template") != NULL);
    cJSON *obj = cJSON_CreateObject();
    CHECK(whet_chat_template_apply("x", obj, NULL, "", "", true, &out, &err) == WHET_ERR_INVALID_ARG);
    cJSON_Delete(obj);
    whet_sb_free(&out);
    return TEST_SUMMARY();
}
