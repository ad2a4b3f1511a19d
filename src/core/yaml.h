/* yaml.h: load a YAML document (LLaMA-Factory configs) into a cJSON tree with
 * PyYAML's scalar typing: unquoted true/false/yes/no/on/off are booleans,
 * null/~/empty is null, integers and floats (incl. 1e-4) are numbers, quoted
 * scalars are always strings. Anchors/aliases are rejected with a clear error. */
#ifndef WHET_CORE_YAML_H
#define WHET_CORE_YAML_H
#include <stddef.h>
#include <cjson/cJSON.h>
#include "core/status.h"

whet_status whet_yaml_parse(const char *text, size_t len, const char *what, cJSON **out, whet_error *err);
whet_status whet_yaml_parse_file(const char *path, cJSON **out, whet_error *err);
#endif
