/* log.h: leveled logging to stderr. The level is read once from the
 * WHET_LOG_LEVEL environment variable (error|warn|info|debug) or set by the CLI. */
#ifndef WHET_CORE_LOG_H
#define WHET_CORE_LOG_H

typedef enum { WHET_LOG_ERROR = 0, WHET_LOG_WARN, WHET_LOG_INFO, WHET_LOG_DEBUG } whet_log_level;

void whet_log_set_level(whet_log_level level);
whet_log_level whet_log_get_level(void);
void whet_log(whet_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define WHET_LOGE(...) whet_log(WHET_LOG_ERROR, __VA_ARGS__)
#define WHET_LOGW(...) whet_log(WHET_LOG_WARN, __VA_ARGS__)
#define WHET_LOGI(...) whet_log(WHET_LOG_INFO, __VA_ARGS__)
#define WHET_LOGD(...) whet_log(WHET_LOG_DEBUG, __VA_ARGS__)

#endif
