/* file.c: whole-file reads, mmap, directory helpers. */
#include <dirent.h>
#include "core/file.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

whet_status whet_read_file(const char *path, char **out, size_t *len, whet_error *err) {
    *out = NULL;
    if (len) *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return whet_errorf(err, errno == ENOENT ? WHET_ERR_NOT_FOUND : WHET_ERR_IO,
                               "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) { fclose(f); return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", path); }
    for (;;) {
        if (n == cap) {
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb) { free(buf); fclose(f); return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", path); }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(buf); return whet_errorf(err, WHET_ERR_IO, "%s: read failed", path); }
    buf[n] = 0;
    *out = buf;
    if (len) *len = n;
    return WHET_OK;
}

whet_status whet_mmap_open(const char *path, whet_mmap *out, whet_error *err) {
    out->data = NULL;
    out->size = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return whet_errorf(err, errno == ENOENT ? WHET_ERR_NOT_FOUND : WHET_ERR_IO,
                                   "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) { close(fd); return whet_errorf(err, WHET_ERR_IO, "%s: stat failed", path); }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) { close(fd); return whet_errorf(err, WHET_ERR_IO, "%s: mmap failed: %s", path, strerror(errno)); }
        out->data = p;
        out->size = (size_t)st.st_size;
    }
    close(fd);
    return WHET_OK;
}

void whet_mmap_close(whet_mmap *m) {
    if (m->data) munmap(m->data, m->size);
    m->data = NULL;
    m->size = 0;
}

bool whet_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

bool whet_dir_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

whet_status whet_mkdirs(const char *path, whet_error *err) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) return whet_errorf(err, WHET_ERR_INVALID_ARG, "bad directory path '%s'", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == 0) {
            char c = buf[i];
            buf[i] = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return whet_errorf(err, WHET_ERR_IO, "%s: cannot create directory: %s", buf, strerror(errno));
            buf[i] = c;
        }
    }
    if (!whet_dir_exists(path)) return whet_errorf(err, WHET_ERR_IO, "%s: exists and is not a directory", path);
    return WHET_OK;
}

void whet_path_join(char *out, size_t cap, const char *dir, const char *name) {
    size_t n = strlen(dir);
    if (n > 0 && dir[n - 1] == '/') snprintf(out, cap, "%s%s", dir, name);
    else snprintf(out, cap, "%s/%s", dir, name);
}

void whet_remove_flat_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[4400];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

bool whet_is_gguf_file(const char *path) {
    size_t n = strlen(path);
    return n > 5 && !strcmp(path + n - 5, ".gguf") && whet_file_exists(path);
}
