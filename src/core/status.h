/* status.h: whet's error convention. Library functions that can fail for
 * outside reasons return a whet_status (0 = ok, negative = error) and fill a
 * caller-owned whet_error with a message that says what, where and what to do.
 * Programmer errors use WHET_ASSERT (file:line, abort). */
#ifndef WHET_CORE_STATUS_H
#define WHET_CORE_STATUS_H

#include <stdarg.h>

typedef enum {
    WHET_OK = 0,
    WHET_ERR_IO = -1,          /* open/read/write/mmap failed */
    WHET_ERR_FORMAT = -2,      /* malformed file contents */
    WHET_ERR_INVALID_ARG = -3, /* bad user argument / config value */
    WHET_ERR_UNSUPPORTED = -4, /* known feature not supported (yet) */
    WHET_ERR_NOT_FOUND = -5,   /* missing file, key, tensor, dataset... */
    WHET_ERR_NOMEM = -6,       /* allocation failed / does not fit */
    WHET_ERR_SHAPE = -7,       /* tensor shape disagrees */
    WHET_ERR_NUMERIC = -8,     /* NaN / inf where a number was needed */
    WHET_ERR_INTERRUPTED = -9, /* stopped by a signal or a cancel */
    WHET_ERR_DEVICE = -10,     /* CUDA / device failure */
    WHET_ERR_INTERNAL = -11,
} whet_status;

#define WHET_ERROR_MSG_MAX 1024

/* Filled by a failing function; `msg` is one human-readable line (or a few). */
typedef struct {
    whet_status code;
    char msg[WHET_ERROR_MSG_MAX];
} whet_error;

/* Name of a status code ("format error", ...). */
const char *whet_status_name(whet_status s);

/* Record an error and return `code`, so callers can write
 *   return whet_errorf(err, WHET_ERR_FORMAT, "%s: bad header", path);
 * `err` may be NULL (the message is dropped). */
whet_status whet_errorf(whet_error *err, whet_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
whet_status whet_verrorf(whet_error *err, whet_status code, const char *fmt, va_list ap);

/* Prepend context to an existing message: "loading X: <old message>". */
whet_status whet_error_prefix(whet_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void whet_error_clear(whet_error *err);

/* Propagate a failing status. */
#define WHET_TRY(expr)                                   \
    do {                                                 \
        whet_status whet_try_s_ = (expr);                \
        if (whet_try_s_ != WHET_OK) return whet_try_s_;  \
    } while (0)

void whet_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));
#define WHET_ASSERT(cond) \
    do { if (!(cond)) whet_assert_fail(#cond, __FILE__, __LINE__); } while (0)

#endif
