/* atomic_file.h: write a file so that readers see the old contents or the
 * complete new ones, never a torn file: write "<path>.tmp.<pid>", fsync,
 * rename over <path>, fsync the directory. Used for checkpoints and exports. */
#ifndef WHET_CORE_ATOMIC_FILE_H
#define WHET_CORE_ATOMIC_FILE_H
#include <stdio.h>
#include <stddef.h>
#include "core/status.h"

typedef struct {
    FILE *fp;             /* write through this */
    char final_path[4096];
    char temp_path[4096];
} whet_atomic_file;

whet_status whet_atomic_open(whet_atomic_file *af, const char *path, whet_error *err);
/* Flush, fsync, rename into place. Closes the file either way. */
whet_status whet_atomic_commit(whet_atomic_file *af, whet_error *err);
/* Drop the temp file (after an error). */
void whet_atomic_abort(whet_atomic_file *af);
/* One-shot: write `len` bytes atomically. */
whet_status whet_atomic_write(const char *path, const void *data, size_t len, whet_error *err);
/* Rename a finished temp directory over `final_dir` (old one removed first). */
whet_status whet_atomic_rename_dir(const char *temp_dir, const char *final_dir, whet_error *err);
#endif
