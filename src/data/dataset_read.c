/* dataset_read.c: dataset files as LLaMA-Factory (HF datasets' json loader)
 * reads them: a JSON array of objects, or JSON lines (one object a line);
 * a folder means all its .json/.jsonl files in name order. Errors name the
 * file with line:column or the record / line number. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/file.h"
#include "core/json.h"
#include "data/dataset.h"

static bool ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static whet_status read_jsonl(const char *path, const char *text, size_t len, long long max, cJSON *records,
                              whet_error *err) {
    size_t line = 1;
    long long idx = 0;
    for (size_t pos = 0; pos < len && (max < 0 || idx < max); line++) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t a = pos;
        while (a < end && (text[a] == ' ' || text[a] == '\t' || text[a] == '\r')) a++;
        if (a < end) {
            const char *stop = NULL;
            cJSON *v = cJSON_ParseWithLengthOpts(text + a, end - a, &stop, false);
            if (!v) {
                return whet_errorf(err, WHET_ERR_FORMAT, "%s:%zu:%zu: not valid JSON (JSON lines: one object per line)",
                                   path, line, stop ? (size_t)(stop - (text + pos)) + 1 : 1);
            }
            if (!cJSON_IsObject(v)) {
                cJSON_Delete(v);
                return whet_errorf(err, WHET_ERR_FORMAT, "%s:%zu: record %lld is not a JSON object", path, line, idx);
            }
            cJSON_AddItemToArray(records, v);
            idx++;
        }
        pos = end + 1;
    }
    return WHET_OK;
}

whet_status whet_dataset_read_file(const char *path, long long max, cJSON *records, whet_error *err) {
    if (!ends_with(path, ".json") && !ends_with(path, ".jsonl"))
        return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: whet reads .json and .jsonl datasets (convert csv/parquet/arrow/txt first)",
                           path);
    char *text;
    size_t len;
    WHET_TRY(whet_read_file(path, &text, &len, err));
    size_t bom = len >= 3 && (unsigned char)text[0] == 0xEF && (unsigned char)text[1] == 0xBB &&
                         (unsigned char)text[2] == 0xBF ? 3 : 0;
    size_t a = bom;
    while (a < len && (text[a] == ' ' || text[a] == '\n' || text[a] == '\t' || text[a] == '\r')) a++;
    whet_status s = WHET_OK;
    if (a < len && text[a] == '[') {
        cJSON *arr;
        s = whet_json_parse(text + bom, len - bom, path, &arr, err);
        if (s == WHET_OK) {
            long long idx = 0;
            while (arr->child && (max < 0 || idx < max)) {
                cJSON *rec = cJSON_DetachItemViaPointer(arr, arr->child);
                if (!cJSON_IsObject(rec)) {
                    cJSON_Delete(rec);
                    s = whet_errorf(err, WHET_ERR_FORMAT, "%s: record %lld is not a JSON object", path, idx);
                    break;
                }
                cJSON_AddItemToArray(records, rec);
                idx++;
            }
            cJSON_Delete(arr);
        }
    } else {
        s = read_jsonl(path, text + bom, len - bom, max, records, err);
    }
    free(text);
    return s;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

whet_status whet_dataset_read(const whet_dataset_attr *a, long long max, cJSON **out, whet_error *err) {
    *out = cJSON_CreateArray();
    if (!*out) return whet_errorf(err, WHET_ERR_NOMEM, "out of memory");
    whet_status s = WHET_OK;
    if (whet_dir_exists(a->path)) {
        DIR *d = opendir(a->path);
        if (!d) { cJSON_Delete(*out); *out = NULL; return whet_errorf(err, WHET_ERR_IO, "%s: cannot open folder", a->path); }
        char **names = NULL;
        size_t n = 0;
        for (struct dirent *e; (e = readdir(d));) {
            if (e->d_name[0] == '.') continue;
            char **nn = realloc(names, (n + 1) * sizeof *names);
            if (!nn) break;
            names = nn;
            names[n++] = strdup(e->d_name);
        }
        closedir(d);
        qsort(names, n, sizeof *names, cmp_str);
        for (size_t i = 0; i < n && s == WHET_OK; i++) {
            char p[4096];
            whet_path_join(p, sizeof p, a->path, names[i]);
            long long left = max < 0 ? -1 : max - cJSON_GetArraySize(*out);
            if (left != 0) s = whet_dataset_read_file(p, left, *out, err);
        }
        for (size_t i = 0; i < n; i++) free(names[i]);
        free(names);
        if (s == WHET_OK && cJSON_GetArraySize(*out) == 0)
            s = whet_errorf(err, WHET_ERR_NOT_FOUND, "%s: no .json/.jsonl records in the folder", a->path);
    } else if (!whet_file_exists(a->path)) {
        s = whet_errorf(err, WHET_ERR_NOT_FOUND, "dataset '%s': file %s not found (file_name is relative to dataset_dir)",
                        a->name, a->path);
    } else {
        s = whet_dataset_read_file(a->path, max, *out, err);
    }
    if (s != WHET_OK) { cJSON_Delete(*out); *out = NULL; }
    return s;
}
