/* file.h: whole-file reads and read-only memory maps. */
#ifndef WHET_CORE_FILE_H
#define WHET_CORE_FILE_H
#include <stddef.h>
#include <stdbool.h>
#include "core/status.h"

/* Read a whole file into a malloc'd, NUL-terminated buffer (`*len` excludes the NUL). */
whet_status whet_read_file(const char *path, char **out, size_t *len, whet_error *err);

typedef struct {
    void *data;   /* read-only mapping of the whole file (NULL when size == 0) */
    size_t size;
} whet_mmap;

whet_status whet_mmap_open(const char *path, whet_mmap *out, whet_error *err);
void whet_mmap_close(whet_mmap *m);

bool whet_file_exists(const char *path);
bool whet_dir_exists(const char *path);
/* A regular file (not a folder) whose name ends in .gguf: a GGUF model or vocabulary. */
bool whet_is_gguf_file(const char *path);
/* mkdir -p. */
whet_status whet_mkdirs(const char *path, whet_error *err);
/* Join a directory and a file name into `out` (size `cap`). */
/* Remove a folder that holds only files (a staging or temp dir whet made); best effort. */
void whet_remove_flat_dir(const char *dir);
void whet_path_join(char *out, size_t cap, const char *dir, const char *name);
#endif
