/* status.c: status names and the error-message helpers of status.h. */
#include "core/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *whet_status_name(whet_status s) {
    switch (s) {
    case WHET_OK: return "ok";
    case WHET_ERR_IO: return "I/O error";
    case WHET_ERR_FORMAT: return "format error";
    case WHET_ERR_INVALID_ARG: return "invalid argument";
    case WHET_ERR_UNSUPPORTED: return "not supported";
    case WHET_ERR_NOT_FOUND: return "not found";
    case WHET_ERR_NOMEM: return "out of memory";
    case WHET_ERR_SHAPE: return "shape mismatch";
    case WHET_ERR_NUMERIC: return "numeric error";
    case WHET_ERR_INTERRUPTED: return "interrupted";
    case WHET_ERR_DEVICE: return "device error";
    case WHET_ERR_INTERNAL: return "internal error";
    }
    return "unknown error";
}

whet_status whet_verrorf(whet_error *err, whet_status code, const char *fmt, va_list ap) {
    if (err) {
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    }
    return code;
}

whet_status whet_errorf(whet_error *err, whet_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    whet_verrorf(err, code, fmt, ap);
    va_end(ap);
    return code;
}

whet_status whet_error_prefix(whet_error *err, const char *fmt, ...) {
    if (!err) return WHET_ERR_INTERNAL;
    char prefix[WHET_ERROR_MSG_MAX], old[WHET_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* Truncation is acceptable here: an over-long message keeps its start. */
    size_t used = strlen(prefix);
    if (used > sizeof err->msg - 3) used = sizeof err->msg - 3;
    memcpy(err->msg, prefix, used);
    memcpy(err->msg + used, ": ", 2);
    used += 2;
    size_t rest = strlen(old);
    if (rest > sizeof err->msg - 1 - used) rest = sizeof err->msg - 1 - used;
    memcpy(err->msg + used, old, rest);
    err->msg[used + rest] = 0;
    return err->code;
}

void whet_error_clear(whet_error *err) {
    if (err) {
        err->code = WHET_OK;
        err->msg[0] = 0;
    }
}

void whet_assert_fail(const char *expr, const char *file, int line) {
    fprintf(stderr, "whet: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}
