/* log.c: the process-wide log level is the one deliberate global of core/:
 * it is configuration, set once at start-up, read with an atomic load. */
#include "core/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_int log_level = -1;

static int level_from_env(void) {
    const char *s = getenv("WHET_LOG_LEVEL");
    if (!s) return WHET_LOG_INFO;
    if (!strcmp(s, "error")) return WHET_LOG_ERROR;
    if (!strcmp(s, "warn")) return WHET_LOG_WARN;
    if (!strcmp(s, "debug")) return WHET_LOG_DEBUG;
    return WHET_LOG_INFO;
}

void whet_log_set_level(whet_log_level level) { atomic_store(&log_level, (int)level); }

whet_log_level whet_log_get_level(void) {
    int l = atomic_load(&log_level);
    if (l < 0) {
        l = level_from_env();
        atomic_store(&log_level, l);
    }
    return (whet_log_level)l;
}

void whet_log(whet_log_level level, const char *fmt, ...) {
    if ((int)level > (int)whet_log_get_level()) return;
    static const char *tags[] = {"error", "warning", "info", "debug"};
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "whet: %s: %s\n", tags[level], line);
}
