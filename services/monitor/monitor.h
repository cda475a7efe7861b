/* monitor.h: the monitor service's context and the handling of one StepEvent. The context holds
 * the configuration read once at start (silences, webhooks, receiver); a monitor_job is one event
 * in hand, living in its own arena. Handlers return ACMS_OK, ACMS_ERR_RETRY (nothing lost: the event
 * is redelivered) or ACMS_ERR_POISON (dead-lettered with *reason). */
#ifndef MONITOR_MONITOR_H
#define MONITOR_MONITOR_H

#include "alert.h"
#include "analyze.h"
#include "anomaly.h"
#include "service.h"
#include "webhook.h"

#define MONITOR_SOURCE "acms-monitor"

typedef struct monitor_ctx {
    acms_arena *arena;         /* configuration lifetime */
    monitor_silences silences; /* ACMS_ALERT_SILENCES */
    monitor_webhooks hooks;    /* ACMS_ALERT_WEBHOOKS */
    const char *receiver;      /* ACMS_ALERT_RECEIVER, default "acms" */
    const char *external_url;  /* ACMS_ALERT_EXTERNAL_URL, default http://localhost */
} monitor_ctx;

/* One event in hand. */
typedef struct monitor_job {
    monitor_ctx *ctx;
    acms_service *svc;
    acms_redis *r;
    acms_metrics *metrics;
    acms_arena *a;
    const Acms__V1__StepEvent *ev;
    const char *run;
    const char *id;
    int published; /* something was queued: flush before the guarded apply */
} monitor_job;

/* config.c: reads the ACMS_ALERT_* settings and initialises libcurl. On failure *out is untouched
 * and errstr says why. The context is freed with monitor_ctx_free (NULL is fine). */
int monitor_ctx_new(monitor_ctx **out, char *errstr, size_t errstr_size);
void monitor_ctx_free(monitor_ctx *ctx);

/* on_step.c: decodes one acms.exec.steps message and handles it by kind. */
int monitor_handle(monitor_ctx *ctx, acms_service *svc, const acms_msg *m, const char **reason);

/* emit.c: what an event produces. Alerts and opportunities are built in j->a. */
void monitor_count(monitor_job *j, const char *name, const char *labels, const char *help, double v);
monitor_alert *monitor_alert_anomaly(monitor_job *j, monitor_metric mt, const monitor_anomaly *an, int running,
                                     const monitor_baseline *b);
/* NULL unless the step was killed for memory, time or CPU time. */
monitor_alert *monitor_alert_kill(monitor_job *j, const Acms__V1__StepMetrics *m);
/* Publishes alerts (silences applied, rate-limited per dedup key) and posts the fresh ones to the
 * webhooks as one group. ACMS_OK or ACMS_ERR_RETRY. */
int monitor_emit_alerts(monitor_job *j, monitor_alert **alerts, size_t n);
/* Publishes opportunities. Live ones (running) are rate-limited once per step attempt and kind.
 * ACMS_OK or ACMS_ERR_RETRY. */
int monitor_emit_opportunities(monitor_job *j, const monitor_opportunity *opps, size_t n, int running);
/* The analyzer's input from a step's metrics (limits fall back to the step's configuration). */
void monitor_usage_of(const Acms__V1__StepEvent *ev, const Acms__V1__StepMetrics *m, int running, uint32_t runs,
                      monitor_usage *u);

#endif
