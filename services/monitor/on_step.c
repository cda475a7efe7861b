/* on_step.c: one StepEvent, by kind. Starts and skips update the run's monitoring session;
 * heartbeats judge the running step's wall time and propose live opportunities; a finished step is
 * judged against its per-step baselines, which only its successful attempts teach; RUN_FINISHED
 * closes the session with a summary. Invariants: counters and baselines change only in the
 * seen-guarded script, which runs after everything produced for the event was acknowledged; a
 * baseline write carries the version it was computed from (a stale one is re-read and retried). */
#include <string.h>

#include "monitor.h"
#include "session.h"

#define FLUSH_TIMEOUT_MS 5000
#define APPLY_TRIES 8
#define BASELINE_TTL_S (90 * 24 * 3600)

/* --- baselines -------------------------------------------------------------------------------- */

static void baselines_load(const char *const *kv, size_t nkv, monitor_baseline bl[MONITOR_METRIC__COUNT])
{
    for (int i = 0; i < MONITOR_METRIC__COUNT; i++) {
        monitor_baseline_init(&bl[i], monitor_metric_min_delta((monitor_metric)i));
        if (monitor_baseline_parse(&bl[i], monitor_kv_get(kv, nkv, monitor_metric_name((monitor_metric)i))) != ACMS_OK)
            acms_log_warn(NULL, NULL, "malformed %s baseline ignored", monitor_metric_name((monitor_metric)i));
    }
}

static int baselines_read(monitor_job *j, monitor_baseline bl[MONITOR_METRIC__COUNT], const char **version)
{
    const char **kv;
    size_t nkv;
    const char *key = monitor_key_baseline(j->a, j->ev->pipeline, j->ev->step);
    if (acms_redis_hgetall(j->r, j->a, key, &kv, &nkv) != ACMS_OK)
        return ACMS_ERR_RETRY;
    baselines_load(kv, nkv, bl);
    const char *v = monitor_kv_get(kv, nkv, "version");
    *version = v ? v : "0";
    return ACMS_OK;
}

static void observations(const Acms__V1__StepMetrics *m, double obs[MONITOR_METRIC__COUNT])
{
    obs[MONITOR_METRIC_WALL] = (double)m->wall_ms;
    obs[MONITOR_METRIC_PEAK] = (double)m->peak_rss_kb / 1024.0;
    obs[MONITOR_METRIC_CPU] = (double)(m->user_cpu_ms + m->sys_cpu_ms);
}

/* --- event kinds ------------------------------------------------------------------------------ */

static int apply_session(monitor_job *j, const char *summary)
{
    monitor_hash_op op;
    monitor_session_op(j->a, j->ev, summary, &op);
    const char *seen = monitor_session_needs_guard(j->ev) ? monitor_key_seen(j->a, j->id) : NULL;
    int rc = monitor_store_apply(j->r, seen, &op, 1);
    return rc < 0 ? ACMS_ERR_RETRY : ACMS_OK;
}

static int on_heartbeat(monitor_job *j)
{
    const Acms__V1__StepEvent *ev = j->ev;
    if (apply_session(j, NULL) != ACMS_OK)
        return ACMS_ERR_RETRY;
    if (!ev->metrics)
        return ACMS_OK;
    monitor_baseline bl[MONITOR_METRIC__COUNT];
    const char *version;
    if (baselines_read(j, bl, &version) != ACMS_OK)
        return ACMS_ERR_RETRY;
    monitor_anomaly an;
    monitor_alert *alerts[1];
    size_t nal = 0;
    if (monitor_anomaly_check(&bl[MONITOR_METRIC_WALL], (double)ev->metrics->wall_ms, &an))
        alerts[nal++] = monitor_alert_anomaly(j, MONITOR_METRIC_WALL, &an, 1, &bl[MONITOR_METRIC_WALL]);
    monitor_usage u;
    monitor_opportunity opps[MONITOR_MAX_OPPS];
    monitor_usage_of(ev, ev->metrics, 1, bl[MONITOR_METRIC_PEAK].n, &u);
    size_t nopp = monitor_analyze(&u, opps);
    if (monitor_emit_opportunities(j, opps, nopp, 1) != ACMS_OK || monitor_emit_alerts(j, alerts, nal) != ACMS_OK)
        return ACMS_ERR_RETRY;
    return ACMS_OK;
}

static void baseline_op(monitor_job *j, const monitor_baseline bl[MONITOR_METRIC__COUNT], const char *version,
                        monitor_hash_op *op)
{
    memset(op, 0, sizeof *op);
    op->key = monitor_key_baseline(j->a, j->ev->pipeline, j->ev->step);
    op->expect_version = version;
    op->ttl_s = BASELINE_TTL_S;
    for (int i = 0; i < MONITOR_METRIC__COUNT; i++) {
        char buf[1024];
        if (monitor_baseline_format(&bl[i], buf, sizeof buf) == ACMS_OK)
            acms_hash_op_add(j->a, &op->set, &op->nset, monitor_metric_name((monitor_metric)i), buf);
    }
    acms_hash_op_add(j->a, &op->set, &op->nset, "pipeline", j->ev->pipeline);
    acms_hash_op_add(j->a, &op->set, &op->nset, "step", j->ev->step);
    acms_hash_op_add(j->a, &op->set, &op->nset, "updated_ms",
                     acms_arena_printf(j->a, "%lld", (long long)j->ev->meta->timestamp_ms));
}

/* Judges a finished step against its baselines and publishes its anomaly and kill alerts and its
 * opportunities; fills obs with its metrics. ACMS_OK or ACMS_ERR_RETRY. */
static int finished_judge(monitor_job *j, const monitor_baseline bl[MONITOR_METRIC__COUNT],
                          double obs[MONITOR_METRIC__COUNT])
{
    const Acms__V1__StepMetrics *m = j->ev->metrics;
    monitor_alert *alerts[MONITOR_METRIC__COUNT + 1];
    size_t nal = 0;
    if (m) {
        int judged = m->exit_reason == ACMS__V1__EXIT_REASON__EXIT_REASON_OK ||
                     m->exit_reason == ACMS__V1__EXIT_REASON__EXIT_REASON_NONZERO;
        observations(m, obs);
        for (int i = 0; judged && i < MONITOR_METRIC__COUNT; i++) {
            monitor_anomaly an;
            if (monitor_anomaly_check(&bl[i], obs[i], &an)) {
                alerts[nal++] = monitor_alert_anomaly(j, (monitor_metric)i, &an, 0, &bl[i]);
                monitor_count(j, "acms_anomalies_total",
                              acms_arena_printf(j->a, "metric=\"%s\"", monitor_metric_name((monitor_metric)i)),
                              "Anomalous step metrics detected", 1);
            }
        }
        monitor_alert *kill = monitor_alert_kill(j, m);
        if (kill)
            alerts[nal++] = kill;
        monitor_usage u;
        monitor_opportunity opps[MONITOR_MAX_OPPS];
        monitor_usage_of(j->ev, m, 0, bl[MONITOR_METRIC_PEAK].n, &u);
        size_t nopp = monitor_analyze(&u, opps);
        if (monitor_emit_opportunities(j, opps, nopp, 0) != ACMS_OK)
            return ACMS_ERR_RETRY;
    }
    return monitor_emit_alerts(j, alerts, nal);
}

/* The session update and, for a successful attempt, the baselines taught by obs, under the seen
 * mark; a baseline another replica updated meanwhile is re-read. ACMS_OK or ACMS_ERR_RETRY. */
static int finished_apply(monitor_job *j, const char *seen, monitor_baseline bl[MONITOR_METRIC__COUNT],
                          const char *version, const double obs[MONITOR_METRIC__COUNT])
{
    const Acms__V1__StepMetrics *m = j->ev->metrics;
    int ok = m && m->exit_reason == ACMS__V1__EXIT_REASON__EXIT_REASON_OK;
    for (int t = 0; t < APPLY_TRIES; t++) {
        monitor_hash_op ops[2];
        size_t nops = 1;
        monitor_session_op(j->a, j->ev, NULL, &ops[0]);
        if (ok) { /* only successful attempts teach the baseline: a killed one is censored */
            monitor_baseline upd[MONITOR_METRIC__COUNT];
            memcpy(upd, bl, sizeof upd);
            for (int i = 0; i < MONITOR_METRIC__COUNT; i++)
                monitor_baseline_update(&upd[i], obs[i]);
            baseline_op(j, upd, version, &ops[nops++]);
        }
        int rc = monitor_store_apply(j->r, seen, ops, nops);
        if (rc < 0 && rc != ACMS_ERR_STALE)
            return ACMS_ERR_RETRY;
        if (rc >= 0)
            return ACMS_OK;
        if (baselines_read(j, bl, &version) != ACMS_OK) /* another replica updated it: re-read */
            return ACMS_ERR_RETRY;
    }
    acms_log_warn(j->run, j->id, "baseline update kept conflicting; retrying the event");
    return ACMS_ERR_RETRY;
}

static int on_finished(monitor_job *j)
{
    const char *seen = monitor_key_seen(j->a, j->id);
    int s = acms_redis_exists(j->r, seen);
    if (s < 0)
        return ACMS_ERR_RETRY;
    if (s == 1) {
        acms_log_debug(j->run, j->id, "step event already processed");
        return ACMS_OK;
    }
    monitor_baseline bl[MONITOR_METRIC__COUNT];
    const char *version;
    if (baselines_read(j, bl, &version) != ACMS_OK)
        return ACMS_ERR_RETRY;
    double obs[MONITOR_METRIC__COUNT] = {0};
    if (finished_judge(j, bl, obs) != ACMS_OK)
        return ACMS_ERR_RETRY;
    /* What was produced must be acknowledged before the seen mark makes a redelivery skip it. */
    if (j->published && acms_kafka_flush(acms_service_kafka(j->svc), FLUSH_TIMEOUT_MS) != ACMS_OK)
        return ACMS_ERR_RETRY;
    return finished_apply(j, seen, bl, version, obs);
}

static int on_run_finished(monitor_job *j)
{
    const char **kv;
    size_t nkv;
    int s = acms_redis_exists(j->r, monitor_key_seen(j->a, j->id));
    if (s != 0)
        return s < 0 ? ACMS_ERR_RETRY : ACMS_OK;
    if (acms_redis_hgetall(j->r, j->a, monitor_key_session(j->a, j->run), &kv, &nkv) != ACMS_OK)
        return ACMS_ERR_RETRY;
    const char *summary = monitor_session_summary(j->a, kv, nkv, j->ev);
    acms_log_info(j->run, j->id, "session closed: %s", summary);
    int rc = apply_session(j, summary);
    if (rc == ACMS_OK)
        monitor_count(j, "acms_monitor_sessions_closed_total", NULL, "Monitoring sessions closed (runs finished)", 1);
    return rc;
}

/* --- decoding and dispatch ------------------------------------------------------------------- */

int monitor_handle(monitor_ctx *ctx, acms_service *svc, const acms_msg *m, const char **reason)
{
    acms_arena *a = acms_arena_new(0);
    int rc = ACMS_OK;
    Acms__V1__StepEvent *ev = (Acms__V1__StepEvent *)acms_pb_decode(a, &acms__v1__step_event__descriptor, m->payload,
                                                                    m->len, reason);
    if (!ev) {
        rc = ACMS_ERR_POISON;
        goto out;
    }
    if (!ev->meta->run_id || !*ev->meta->run_id || !ev->meta->event_id || !*ev->meta->event_id) {
        *reason = "step event without run_id or event_id";
        rc = ACMS_ERR_POISON;
        goto out;
    }
    if (!ev->pipeline || !*ev->pipeline) {
        *reason = "step event without pipeline";
        rc = ACMS_ERR_POISON;
        goto out;
    }
    int step_kind = ev->kind >= ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_STARTED &&
                    ev->kind <= ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_SKIPPED;
    if (step_kind && (!ev->step || !*ev->step)) {
        *reason = "step event without step name";
        rc = ACMS_ERR_POISON;
        goto out;
    }
    monitor_job j = {.ctx = ctx,
                     .svc = svc,
                     .r = acms_service_redis(svc),
                     .metrics = acms_service_metrics(svc),
                     .a = a,
                     .ev = ev,
                     .run = ev->meta->run_id,
                     .id = ev->meta->event_id};
    switch (ev->kind) {
    case ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_RUN_STARTED:
    case ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_STARTED:
    case ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_SKIPPED: rc = apply_session(&j, NULL); break;
    case ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_HEARTBEAT: rc = on_heartbeat(&j); break;
    case ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_FINISHED: rc = on_finished(&j); break;
    case ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_RUN_FINISHED: rc = on_run_finished(&j); break;
    default:
        *reason = "unknown step event kind";
        rc = ACMS_ERR_POISON;
        break;
    }
out:
    acms_arena_free(a);
    return rc;
}
