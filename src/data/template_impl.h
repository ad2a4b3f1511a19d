/* template_impl.h: internals shared by template.c and template_tools.c. */
#ifndef WHET_DATA_TEMPLATE_IMPL_H
#define WHET_DATA_TEMPLATE_IMPL_H
#include "data/template.h"

/* Text the tool format adds to the system prompt for `tools_json`. */
whet_status whet_template_tool_text(const char *format, const char *tools_json, whet_strbuf *out, whet_error *err);
/* An assistant function-call message (JSON {"name","arguments"} or a list) rendered by the tool format. */
whet_status whet_template_function_text(const char *format, const char *content, whet_strbuf *out, whet_error *err);
#endif
