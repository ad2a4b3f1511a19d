/* dataset_info.c: resolve a dataset name through dataset_dir/dataset_info.json
 * (LLaMA-Factory's data/parser.py): formatting, columns and tags with their
 * defaults; hub-only entries and preference data give clear errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/file.h"
#include "core/json.h"
#include "core/suggest.h"
#include "data/dataset.h"

static const char *str_field(const cJSON *o, const char *key, const char *def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : def;
}

static whet_status not_defined(const cJSON *info, const char *name, const char *path, whet_error *err) {
    size_t n = (size_t)cJSON_GetArraySize(info), i = 0;
    const char **names = malloc((n ? n : 1) * sizeof *names);
    if (!names) return whet_errorf(err, WHET_ERR_NOMEM, "out of memory");
    for (const cJSON *it = info->child; it; it = it->next) names[i++] = it->string;
    const char *best = whet_suggest(name, names, n);
    char listed[400] = "";
    size_t len = 0;
    for (size_t k = 0; k < n && len + 40 < sizeof listed; k++) len += (size_t)snprintf(listed + len, sizeof listed - len, "%s%s", k ? ", " : "", names[k]);
    if (n && len + 40 >= sizeof listed) snprintf(listed + len, sizeof listed - len, ", ... (%zu in all)", n);
    whet_status s = whet_errorf(err, WHET_ERR_NOT_FOUND, "dataset '%s' is not defined in %s%s%s%s; defined: %s", name, path,
                                best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "", listed);
    free(names);
    return s;
}

whet_status whet_dataset_attr_load(const char *dataset_dir, const char *name, whet_dataset_attr *out, whet_error *err) {
    memset(out, 0, sizeof *out);
    char info_path[4096];
    whet_path_join(info_path, sizeof info_path, dataset_dir, "dataset_info.json");
    if (!whet_file_exists(info_path))
        return whet_errorf(err, WHET_ERR_NOT_FOUND,
                           "%s not found: dataset_dir '%s' must hold LLaMA-Factory's dataset_info.json", info_path,
                           dataset_dir);
    WHET_TRY(whet_json_parse_file(info_path, &out->info, err));
    if (!cJSON_IsObject(out->info)) {
        whet_dataset_attr_free(out);
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: must be an object of dataset entries", info_path);
    }
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(out->info, name);
    whet_status s = WHET_OK;
    if (!e) s = not_defined(out->info, name, info_path, err);
    else if (!cJSON_IsObject(e)) s = whet_errorf(err, WHET_ERR_FORMAT, "%s: entry '%s' must be an object", info_path, name);
    if (s != WHET_OK) { whet_dataset_attr_free(out); return s; }
    snprintf(out->name, sizeof out->name, "%s", name);
    const char *file = str_field(e, "file_name", NULL);
    if (!file) {
        bool hub = cJSON_GetObjectItem(e, "hf_hub_url") || cJSON_GetObjectItem(e, "ms_hub_url") ||
                   cJSON_GetObjectItem(e, "om_hub_url");
        s = whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: dataset '%s' %s: download it and set file_name", info_path, name,
                        hub ? "is on a hub (hf_hub_url/ms_hub_url) and not available offline"
                            : "has no file_name (script_url/cloud_file_name are not supported)");
        whet_dataset_attr_free(out);
        return s;
    }
    if (file[0] == '/') snprintf(out->path, sizeof out->path, "%s", file);   /* os.path.join keeps an absolute name */
    else whet_path_join(out->path, sizeof out->path, dataset_dir, file);
    const char *fmt = str_field(e, "formatting", "alpaca");
    if (strcmp(fmt, "alpaca") == 0) out->formatting = WHET_FMT_ALPACA;
    else if (strcmp(fmt, "sharegpt") == 0) out->formatting = WHET_FMT_SHAREGPT;
    else if (strcmp(fmt, "openai") == 0) out->formatting = WHET_FMT_OPENAI;
    else s = whet_errorf(err, WHET_ERR_FORMAT, "%s: dataset '%s': formatting '%s' (alpaca|sharegpt|openai)", info_path, name, fmt);
    const cJSON *rk = cJSON_GetObjectItemCaseSensitive(e, "ranking");
    out->ranking = cJSON_IsTrue(rk);
    if (s == WHET_OK && out->ranking)
        s = whet_errorf(err, WHET_ERR_UNSUPPORTED,
                        "%s: dataset '%s' is preference data (ranking: true) for rm/dpo, which whet does not support yet",
                        info_path, name);
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(e, "columns");
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(e, "tags");
    out->columns = cJSON_IsObject(cols) ? cols : NULL;
    if (s == WHET_OK && cJSON_GetObjectItemCaseSensitive(cols, "kto_tag"))
        s = whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: dataset '%s' is KTO data (kto_tag), which whet does not support yet",
                        info_path, name);
    if (s == WHET_OK && (cJSON_GetObjectItem(cols, "images") || cJSON_GetObjectItem(cols, "videos") ||
                         cJSON_GetObjectItem(cols, "audios")))
        s = whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: dataset '%s' is multimodal; whet trains text models only",
                        info_path, name);
    if (s != WHET_OK) { whet_dataset_attr_free(out); return s; }
    out->prompt = str_field(cols, "prompt", "instruction");
    out->query = str_field(cols, "query", "input");
    out->response = str_field(cols, "response", "output");
    out->history = str_field(cols, "history", NULL);
    out->messages = str_field(cols, "messages", "conversations");
    out->system = str_field(cols, "system", NULL);
    out->tools = str_field(cols, "tools", NULL);
    bool oa = out->formatting == WHET_FMT_OPENAI;
    out->role_tag = str_field(tags, "role_tag", oa ? "role" : "from");
    out->content_tag = str_field(tags, "content_tag", oa ? "content" : "value");
    out->user_tag = str_field(tags, "user_tag", oa ? "user" : "human");
    out->assistant_tag = str_field(tags, "assistant_tag", oa ? "assistant" : "gpt");
    out->observation_tag = str_field(tags, "observation_tag", oa ? "tool" : "observation");
    out->function_tag = str_field(tags, "function_tag", "function_call");
    out->system_tag = str_field(tags, "system_tag", "system");
    return WHET_OK;
}

void whet_dataset_attr_free(whet_dataset_attr *a) {
    cJSON_Delete(a->info);
    a->info = NULL;
}

whet_status whet_dataset_check_columns(const whet_dataset_attr *a, const cJSON *records, whet_error *err) {
    for (const cJSON *c = a->columns ? a->columns->child : NULL; c; c = c->next) {
        if (!cJSON_IsString(c)) continue;
        bool found = false;
        for (const cJSON *r = records->child; r && !found; r = r->next)
            found = cJSON_GetObjectItemCaseSensitive(r, c->valuestring) != NULL;
        if (!found && records->child) {
            char keys[300] = "";
            size_t len = 0;
            for (const cJSON *k = records->child->child; k && len + 2 < sizeof keys; k = k->next)
                len += (size_t)snprintf(keys + len, sizeof keys - len, "%s%s", len ? ", " : "", k->string);
            return whet_errorf(err, WHET_ERR_FORMAT,
                               "dataset '%s': column '%s' (columns.%s in dataset_info.json) is in no record of %s; "
                               "record 0 has: %s",
                               a->name, c->valuestring, c->string, a->path, keys);
        }
    }
    return WHET_OK;
}
