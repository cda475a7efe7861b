/* log.c: JSON-lines logger. The service name and level are set once by acms_log_init before any
 * thread starts (process-wide, read-only afterwards); each line is built in a local buffer and
 * written with one write(2), so lines from several threads never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static struct {
    char service[64];
    acms_log_level level;
} log_cfg = {"acms", ACMS_LOG_INFO};

static _Thread_local char log_trace[64];

void acms_log_init(const char *service, const char *level_name)
{
    snprintf(log_cfg.service, sizeof log_cfg.service, "%s", service ? service : "acms");
    log_cfg.level = ACMS_LOG_INFO;
    if (level_name) {
        if (!strcmp(level_name, "debug"))
            log_cfg.level = ACMS_LOG_DEBUG;
        else if (!strcmp(level_name, "warn") || !strcmp(level_name, "warning"))
            log_cfg.level = ACMS_LOG_WARN;
        else if (!strcmp(level_name, "error"))
            log_cfg.level = ACMS_LOG_ERROR;
        else if (!strcmp(level_name, "off"))
            log_cfg.level = ACMS_LOG_OFF;
    }
}

int acms_log_enabled(acms_log_level lvl)
{
    return lvl >= log_cfg.level && lvl != ACMS_LOG_OFF;
}

void acms_log_set_trace(const char *traceparent)
{
    snprintf(log_trace, sizeof log_trace, "%s", traceparent ? traceparent : "");
}

/* Appends s JSON-escaped to buf at *off (bounded). */
static void put_escaped(char *buf, size_t size, size_t *off, const char *s)
{
    for (; s && *s && *off + 7 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[(*off)++] = '\\';
            buf[(*off)++] = (char)c;
        } else if (c == '\n') {
            buf[(*off)++] = '\\';
            buf[(*off)++] = 'n';
        } else if (c < 0x20) {
            *off += (size_t)snprintf(buf + *off, size - *off, "\\u%04x", c);
        } else {
            buf[(*off)++] = (char)c;
        }
    }
}

static void put_raw(char *buf, size_t size, size_t *off, const char *s)
{
    size_t n = strlen(s);
    if (*off + n >= size)
        n = size - *off - 1;
    memcpy(buf + *off, s, n);
    *off += n;
}

void acms_log_write(acms_log_level lvl, const char *run_id, const char *event_id, const char *fmt, ...)
{
    static const char *const names[] = {"debug", "info", "warn", "error", "off"};
    char msg[2048], line[4096], ts[40];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    size_t tl = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + tl, sizeof ts - tl, ".%03ldZ", (long)(tv.tv_usec / 1000));

    size_t off = 0, size = sizeof line - 2;
    put_raw(line, size, &off, "{\"ts\":\"");
    put_raw(line, size, &off, ts);
    put_raw(line, size, &off, "\",\"level\":\"");
    put_raw(line, size, &off, names[lvl]);
    put_raw(line, size, &off, "\",\"service\":\"");
    put_escaped(line, size, &off, log_cfg.service);
    if (run_id && *run_id) {
        put_raw(line, size, &off, "\",\"run_id\":\"");
        put_escaped(line, size, &off, run_id);
    }
    if (event_id && *event_id) {
        put_raw(line, size, &off, "\",\"event_id\":\"");
        put_escaped(line, size, &off, event_id);
    }
    if (log_trace[0]) {
        put_raw(line, size, &off, "\",\"traceparent\":\"");
        put_escaped(line, size, &off, log_trace);
    }
    put_raw(line, size, &off, "\",\"msg\":\"");
    put_escaped(line, size, &off, msg);
    put_raw(line, size, &off, "\"}");
    line[off++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, off);
    (void)w;
}
