/* log.h: JSON-lines logging on stderr, one object per line:
 *   {"ts":"2026-11-25T16:54:28.123Z","level":"info","service":"acms-adapter","run_id":"..","event_id":"..","msg":".."}
 * The level is checked before anything is formatted. acms_log_init() is called once at start-up
 * (it sets the service name and level for the process); logging is thread-safe.
 * Never log secret values: messages carry references only. */
#ifndef ACMS_LOG_H
#define ACMS_LOG_H

typedef enum { ACMS_LOG_DEBUG = 0, ACMS_LOG_INFO, ACMS_LOG_WARN, ACMS_LOG_ERROR, ACMS_LOG_OFF } acms_log_level;

/* level_name: debug|info|warn|error|off (NULL or unknown = info). */
void acms_log_init(const char *service, const char *level_name);
int acms_log_enabled(acms_log_level lvl);
void acms_log_write(acms_log_level lvl, const char *run_id, const char *event_id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The trace id to attach to following lines of this thread ("" to clear). */
void acms_log_set_trace(const char *traceparent);

#define ACMS_LOG_(lvl, run, ev, ...)                                                                                   \
    do {                                                                                                               \
        if (acms_log_enabled(lvl))                                                                                     \
            acms_log_write(lvl, run, ev, __VA_ARGS__);                                                                 \
    } while (0)
#define acms_log_debug(run, ev, ...) ACMS_LOG_(ACMS_LOG_DEBUG, run, ev, __VA_ARGS__)
#define acms_log_info(run, ev, ...) ACMS_LOG_(ACMS_LOG_INFO, run, ev, __VA_ARGS__)
#define acms_log_warn(run, ev, ...) ACMS_LOG_(ACMS_LOG_WARN, run, ev, __VA_ARGS__)
#define acms_log_error(run, ev, ...) ACMS_LOG_(ACMS_LOG_ERROR, run, ev, __VA_ARGS__)

#endif
