/* alert.h: the AlertManager's pure part: alerts with a severity, a dedup key
 * "<name>/<run>/<step>/<attempt>" (the same alert for one step attempt is sent once: the caller
 * rate-limits on it in Redis), a group key "<run>" (alerts of one run form one group), silences
 * given as label matchers, and the Alertmanager webhook JSON (version "4") that receivers of
 * Prometheus Alertmanager understand. Everything lives in the arena given; no I/O here. */
#ifndef MONITOR_ALERT_H
#define MONITOR_ALERT_H

#include "pb.h"

typedef struct monitor_alert {
    const char *name;     /* StepDurationAnomaly, StepKilledForMemory, ... */
    const char *severity; /* critical | warning | info */
    const char *pipeline;
    const char *environment;
    const char *step;
    const char *run_id;
    uint32_t attempt;
    const char *summary;
    const char *description;
    double observed;
    double expected;
    int64_t starts_at_ms;
    const char *dedup_key; /* set by monitor_alert_new */
    const char *group_key; /* "<run>" */
} monitor_alert;

/* A new alert in the arena with its dedup and group keys; summary/description are copied. */
monitor_alert *monitor_alert_new(acms_arena *a, const char *name, const char *severity, const char *pipeline,
                                 const char *environment, const char *step, const char *run_id, uint32_t attempt,
                                 const char *summary, const char *description);
/* "<name>/<run>/<step>/<attempt>" into the arena. */
const char *monitor_alert_dedup_key(acms_arena *a, const char *name, const char *run_id, const char *step,
                                    uint32_t attempt);
/* Label value of an alert: alertname (alias name), severity, pipeline, step, run_id, environment,
 * attempt. NULL for other keys. */
const char *monitor_alert_label(acms_arena *a, const monitor_alert *al, const char *key);

/* Silences: "name=StepDurationAnomaly,pipeline=foo;severity=info" = two silences; a silence
 * matches an alert when every one of its matchers equals the alert's label. */
typedef struct monitor_matcher {
    const char *key;
    const char *value;
} monitor_matcher;

typedef struct monitor_silence {
    monitor_matcher *m;
    size_t n;
    const char *text; /* as configured, for logs */
} monitor_silence;

typedef struct monitor_silences {
    monitor_silence *v;
    size_t n;
} monitor_silences;

/* Parses spec (NULL or "" = none) into the arena. ACMS_OK, or ACMS_ERR_INVALID with errstr naming
 * the bad matcher (a matcher needs key=value; empty silences between ';' are skipped). */
int monitor_silences_parse(acms_arena *a, const char *spec, monitor_silences *out, char *errstr, size_t errstr_size);
/* The first silence matching al, or NULL. */
const monitor_silence *monitor_alert_silenced(acms_arena *a, const monitor_silences *s, const monitor_alert *al);

/* Alertmanager webhook payload for alerts of one group (n >= 1, same group key), status "firing":
 * {version "4", groupKey, truncatedAlerts 0, status, receiver, groupLabels {run_id}, commonLabels,
 *  commonAnnotations, externalURL, alerts [{status, labels{alertname, severity, pipeline, step, run_id,
 *  environment, attempt}, annotations{summary, description}, startsAt, endsAt, generatorURL, fingerprint}]}
 * Returns a malloc'd compact JSON string (caller frees) or NULL when out of memory. */
char *monitor_alert_webhook_json(acms_arena *a, monitor_alert *const *alerts, size_t n, const char *receiver,
                                 const char *external_url);
/* Alertmanager-style fingerprint: 16 hex digits of SHA-256 over the sorted labels, into out[17]. */
void monitor_alert_fingerprint(acms_arena *a, const monitor_alert *al, char out[17]);
/* RFC 3339 UTC time with milliseconds ("2026-11-25T16:54:28.123Z") into out (>= 32 bytes). */
void monitor_rfc3339(int64_t ms, char *out, size_t size);

/* The Alert event (acms.monitor.alerts) for al with the given meta; everything in the arena. */
Acms__V1__Alert *monitor_alert_to_pb(acms_arena *a, const monitor_alert *al, Acms__V1__EventMeta *meta);

#endif
