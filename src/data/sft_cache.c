/* sft_cache.c: the tokenized-dataset cache. A 64-bit FNV-1a fingerprint of
 * everything the encoding depends on (data file bytes, dataset_info entries,
 * template and its options, the tokenizer's vocabulary, merges and special
 * ids, cutoff and masking options) names a binary file in $WHET_CACHE_DIR
 * (default ~/.cache/whet/datasets; "none" turns the cache off), so a second
 * run loads the ids at once. Format: "WHETSFT2", u64 fingerprint, u64 n,
 * then per example i64 len, u32 origin length, u32 flags (1: positions,
 * 2: segments), origin, ids[len], labels[len], [positions[len]], [segments[len]]. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/atomic_file.h"
#include "core/file.h"
#include "core/log.h"
#include "data/dataset.h"
#include "data/sft_cache.h"

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static void h_bytes(uint64_t *h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) *h = (*h ^ b[i]) * FNV_PRIME;
}

static void h_str(uint64_t *h, const char *s) {
    h_bytes(h, s ? s : "(null)", strlen(s ? s : "(null)") + 1);
}

static void h_i64(uint64_t *h, long long v) { h_bytes(h, &v, sizeof v); }

static whet_status h_file(uint64_t *h, const char *path, whet_error *err) {
    whet_mmap m;
    WHET_TRY(whet_mmap_open(path, &m, err));
    h_str(h, path);
    h_i64(h, (long long)m.size);
    if (m.data) h_bytes(h, m.data, m.size);
    whet_mmap_close(&m);
    return WHET_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static whet_status h_path(uint64_t *h, const char *path, whet_error *err) {
    if (!whet_dir_exists(path)) return whet_file_exists(path) ? h_file(h, path, err) : WHET_OK;
    DIR *d = opendir(path);
    if (!d) return WHET_OK;
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
    if (n) qsort(names, n, sizeof *names, cmp_str);
    whet_status s = WHET_OK;
    for (size_t i = 0; i < n; i++) {
        char p[4096];
        whet_path_join(p, sizeof p, path, names[i]);
        if (s == WHET_OK && names[i]) s = h_file(h, p, err);
        free(names[i]);
    }
    free(names);
    return s;
}

static void h_tokenizer(uint64_t *h, const whet_tokenizer *tok) {
    int n = whet_tokenizer_vocab_size(tok);
    h_i64(h, n);
    for (int i = 0; i < n; i++) h_str(h, whet_tokenizer_id_to_piece(tok, i));
    size_t nm = whet_tokenizer_n_merges(tok);
    h_i64(h, (long long)nm);
    for (size_t i = 0; i < nm; i++) h_str(h, whet_tokenizer_merge(tok, i));
    h_i64(h, whet_tokenizer_bos_id(tok));
    h_i64(h, whet_tokenizer_eos_id(tok));
    h_i64(h, whet_tokenizer_add_bos(tok));
    h_i64(h, whet_tokenizer_get_kind(tok));
}

whet_status whet_sft_cache_fingerprint(const whet_lf_args *args, const char *key, const whet_tokenizer *tok,
                                       uint64_t *out, whet_error *err) {
    uint64_t h = FNV_OFFSET;
    h_str(&h, "whet-sft-cache-v2");
    static const char *const STR[] = {"stage", "template", "default_system", "tool_format", "dataset_dir"};
    for (size_t i = 0; i < sizeof STR / sizeof STR[0]; i++) h_str(&h, whet_lf_args_str(args, STR[i]));
    h_str(&h, whet_lf_args_str(args, key));
    static const char *const INT[] = {"cutoff_len", "max_samples"};
    for (size_t i = 0; i < 2; i++) h_i64(&h, whet_lf_args_int(args, INT[i]));
    static const char *const BOOL[] = {"train_on_prompt", "mask_history", "packing", "neat_packing", "enable_thinking"};
    for (size_t i = 0; i < sizeof BOOL / sizeof BOOL[0]; i++) h_i64(&h, whet_lf_args_bool(args, BOOL[i]));
    h_tokenizer(&h, tok);
    char **names = whet_lf_args_list(args, key);
    if (!names) return whet_errorf(err, WHET_ERR_NOMEM, "out of memory");
    whet_status s = WHET_OK;
    for (char **nm = names; *nm && s == WHET_OK; nm++) {
        whet_dataset_attr a;
        s = whet_dataset_attr_load(whet_lf_args_str(args, "dataset_dir"), *nm, &a, err);
        if (s != WHET_OK) break;
        char *entry = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(a.info, *nm));
        h_str(&h, entry);
        free(entry);
        s = h_path(&h, a.path, err);
        whet_dataset_attr_free(&a);
    }
    whet_lf_args_list_free(names);
    *out = h;
    return s;
}

bool whet_sft_cache_path(uint64_t fp, char *out, size_t cap) {
    const char *dir = getenv("WHET_CACHE_DIR");
    char base[4096];
    if (dir && (strcmp(dir, "none") == 0 || !*dir)) return false;
    if (dir) snprintf(base, sizeof base, "%s", dir);
    else if (getenv("HOME")) snprintf(base, sizeof base, "%s/.cache/whet/datasets", getenv("HOME"));
    else return false;
    snprintf(out, cap, "%s/sft-%016llx.bin", base, (unsigned long long)fp);
    return true;
}

whet_status whet_sft_cache_load(const char *path, uint64_t fp, whet_sft_dataset *out, whet_error *err) {
    memset(out, 0, sizeof *out);
    whet_mmap m;
    WHET_TRY(whet_mmap_open(path, &m, err));
    const unsigned char *p = m.data, *end = p + m.size;
    uint64_t got_fp = 0, n = 0;
    whet_status s = WHET_OK;
    if (m.size < 24 || memcmp(p, "WHETSFT2", 8) != 0) s = whet_errorf(err, WHET_ERR_FORMAT, "%s: not a whet dataset cache", path);
    if (s == WHET_OK) {
        memcpy(&got_fp, p + 8, 8);
        memcpy(&n, p + 16, 8);
        p += 24;
        if (got_fp != fp) s = whet_errorf(err, WHET_ERR_FORMAT, "%s: fingerprint mismatch", path);
        else if (n > m.size) s = whet_errorf(err, WHET_ERR_FORMAT, "%s: truncated", path);
    }
    if (s == WHET_OK && !(out->items = calloc(n ? n : 1, sizeof *out->items))) s = whet_errorf(err, WHET_ERR_NOMEM, "out of memory");
    for (uint64_t i = 0; i < n && s == WHET_OK; i++) {
        int64_t len;
        uint32_t olen, flags;
        if (end - p < 16) { s = whet_errorf(err, WHET_ERR_FORMAT, "%s: truncated", path); break; }
        memcpy(&len, p, 8);
        memcpy(&olen, p + 8, 4);
        memcpy(&flags, p + 12, 4);
        p += 16;
        uint64_t arrays = 2 + !!(flags & 1) + !!(flags & 2);
        if (len < 0 || (uint64_t)(end - p) < olen + 4ull * arrays * (uint64_t)len) { s = whet_errorf(err, WHET_ERR_FORMAT, "%s: truncated", path); break; }
        whet_sft_example *e = &out->items[out->n];
        char *origin = malloc(olen + 1);
        e->input_ids = malloc((size_t)(len ? len : 1) * 4);
        e->labels = malloc((size_t)(len ? len : 1) * 4);
        e->origin = origin;
        out->n++;
        if (!origin || !e->input_ids || !e->labels) { s = whet_errorf(err, WHET_ERR_NOMEM, "out of memory"); break; }
        memcpy(origin, p, olen);
        origin[olen] = 0;
        p += olen;
        memcpy(e->input_ids, p, (size_t)len * 4);
        p += (size_t)len * 4;
        memcpy(e->labels, p, (size_t)len * 4);
        p += (size_t)len * 4;
        e->len = len;
        int32_t **extra[2] = {&e->position_ids, &e->segment_ids};
        for (int k = 0; k < 2; k++) {
            if (!(flags & (1u << k))) continue;
            *extra[k] = malloc((size_t)(len ? len : 1) * 4);
            if (!*extra[k]) { s = whet_errorf(err, WHET_ERR_NOMEM, "out of memory"); break; }
            memcpy(*extra[k], p, (size_t)len * 4);
            p += (size_t)len * 4;
        }
    }
    whet_mmap_close(&m);
    if (s != WHET_OK) whet_sft_dataset_free(out);
    return s;
}

whet_status whet_sft_cache_save(const char *path, uint64_t fp, const whet_sft_dataset *d, whet_error *err) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) { *slash = 0; WHET_TRY(whet_mkdirs(dir, err)); }
    whet_atomic_file af;
    WHET_TRY(whet_atomic_open(&af, path, err));
    uint64_t n = d->n;
    bool ok = fwrite("WHETSFT2", 1, 8, af.fp) == 8 && fwrite(&fp, 8, 1, af.fp) == 1 && fwrite(&n, 8, 1, af.fp) == 1;
    for (size_t i = 0; i < d->n && ok; i++) {
        const whet_sft_example *e = &d->items[i];
        uint32_t olen = (uint32_t)strlen(e->origin);
        uint32_t flags = (e->position_ids ? 1u : 0u) | (e->segment_ids ? 2u : 0u);
        size_t n = (size_t)e->len;
        ok = fwrite(&e->len, 8, 1, af.fp) == 1 && fwrite(&olen, 4, 1, af.fp) == 1 && fwrite(&flags, 4, 1, af.fp) == 1 &&
             fwrite(e->origin, 1, olen, af.fp) == olen && fwrite(e->input_ids, 4, n, af.fp) == n &&
             fwrite(e->labels, 4, n, af.fp) == n && (!e->position_ids || fwrite(e->position_ids, 4, n, af.fp) == n) &&
             (!e->segment_ids || fwrite(e->segment_ids, 4, n, af.fp) == n);
    }
    if (!ok) { whet_atomic_abort(&af); return whet_errorf(err, WHET_ERR_IO, "%s: write failed", path); }
    return whet_atomic_commit(&af, err);
}
