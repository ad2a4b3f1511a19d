/* atomic_file.c: temp + fsync + rename. */
#include "core/atomic_file.h"
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fsync_parent(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    int fd = open(dirname(buf), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) { fsync(fd); close(fd); }
}

whet_status whet_atomic_open(whet_atomic_file *af, const char *path, whet_error *err) {
    memset(af, 0, sizeof *af);
    if (strlen(path) + 32 >= sizeof af->temp_path)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "path too long: %s", path);
    snprintf(af->final_path, sizeof af->final_path, "%s", path);
    snprintf(af->temp_path, sizeof af->temp_path, "%s.tmp.%ld", path, (long)getpid());
    af->fp = fopen(af->temp_path, "wb");
    if (!af->fp) return whet_errorf(err, WHET_ERR_IO, "%s: cannot create: %s", af->temp_path, strerror(errno));
    return WHET_OK;
}

whet_status whet_atomic_commit(whet_atomic_file *af, whet_error *err) {
    if (!af->fp) return whet_errorf(err, WHET_ERR_INTERNAL, "atomic file not open");
    int bad = fflush(af->fp) != 0 || ferror(af->fp) || fsync(fileno(af->fp)) != 0;
    int saved = errno;
    bad |= fclose(af->fp) != 0;
    af->fp = NULL;
    if (bad) {
        unlink(af->temp_path);
        return whet_errorf(err, WHET_ERR_IO, "%s: write failed (disk full?): %s", af->final_path, strerror(saved));
    }
    if (rename(af->temp_path, af->final_path) != 0) {
        saved = errno;
        unlink(af->temp_path);
        return whet_errorf(err, WHET_ERR_IO, "%s: rename failed: %s", af->final_path, strerror(saved));
    }
    fsync_parent(af->final_path);
    return WHET_OK;
}

void whet_atomic_abort(whet_atomic_file *af) {
    if (af->fp) fclose(af->fp);
    af->fp = NULL;
    if (af->temp_path[0]) unlink(af->temp_path);
}

whet_status whet_atomic_write(const char *path, const void *data, size_t len, whet_error *err) {
    whet_atomic_file af;
    WHET_TRY(whet_atomic_open(&af, path, err));
    if (len && fwrite(data, 1, len, af.fp) != len) {
        whet_atomic_abort(&af);
        return whet_errorf(err, WHET_ERR_IO, "%s: write failed", path);
    }
    return whet_atomic_commit(&af, err);
}

static int remove_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st; (void)flag; (void)ftw;
    return remove(p);
}

whet_status whet_atomic_rename_dir(const char *temp_dir, const char *final_dir, whet_error *err) {
    char old[4200];
    snprintf(old, sizeof old, "%s.old.%ld", final_dir, (long)getpid());
    int had_old = rename(final_dir, old) == 0;
    if (rename(temp_dir, final_dir) != 0) {
        int saved = errno;
        if (had_old) rename(old, final_dir);
        return whet_errorf(err, WHET_ERR_IO, "%s: cannot move %s into place: %s", final_dir, temp_dir, strerror(saved));
    }
    if (had_old) nftw(old, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    fsync_parent(final_dir);
    return WHET_OK;
}
