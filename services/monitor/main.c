/* main.c: acms-monitor (MonitoringSystem) wiring. Consumes StepEvents; keeps the run's monitoring
 * session, judges anomalies against per-step baselines, proposes adaptation opportunities and
 * raises alerts (Kafka + Alertmanager webhooks). Invariants: produced events carry ids derived from
 * the step event (redeliveries are de-duplicated downstream); counters and baselines change only in
 * the seen-guarded script, which runs after everything produced for the event was acknowledged. */
#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "analyze.h"
#include "anomaly.h"
#include "doc.h"
#include "service.h"
#include "session.h"
#include "run_state.h"
#include "webhook.h"

#define SOURCE "acms-monitor"
#define FLUSH_TIMEOUT_MS 5000
#define APPLY_TRIES 8
#define BASELINE_TTL_S (90 * 24 * 3600)

typedef struct monitor_ctx {
    acms_arena *arena;             /* configuration lifetime */
    monitor_silences silences;     /* ACMS_ALERT_SILENCES */
    monitor_webhooks hooks;        /* ACMS_ALERT_WEBHOOKS */
    const char *receiver;          /* ACMS_ALERT_RECEIVER, default "acms" */
    const char *external_url;      /* ACMS_ALERT_EXTERNAL_URL, default http://localhost */
} monitor_ctx;

/* One event in hand. */
typedef struct job {
    monitor_ctx *ctx;
    acms_service *svc;
    acms_redis *r;
    acms_metrics *metrics;
    acms_arena *a;
    const Acms__V1__StepEvent *ev;
    const char *run;
    const char *id;
    int published;                 /* something was queued: flush before the guarded apply */
} job;

static const char *k_metric_alert[MONITOR_METRIC__COUNT] = {"StepDurationAnomaly", "StepMemoryAnomaly",
                                                            "StepCpuAnomaly"};
static const char *k_metric_unit[MONITOR_METRIC__COUNT] = {"ms", "MiB", "ms"};

static void count(job *j, const char *name, const char *labels, const char *help, double v)
{
    if (j->metrics)
        acms_metrics_add(j->metrics, name, labels, help, v);
}

/* --- baselines -------------------------------------------------------------------------------- */

static void baselines_load(const char *const *kv, size_t nkv, monitor_baseline bl[MONITOR_METRIC__COUNT])
{
    for (int i = 0; i < MONITOR_METRIC__COUNT; i++) {
        monitor_baseline_init(&bl[i], monitor_metric_min_delta((monitor_metric)i));
        if (monitor_baseline_parse(&bl[i], monitor_kv_get(kv, nkv, monitor_metric_name((monitor_metric)i))) != ACMS_OK)
            acms_log_warn(NULL, NULL, "malformed %s baseline ignored", monitor_metric_name((monitor_metric)i));
    }
}

static int baselines_read(job *j, monitor_baseline bl[MONITOR_METRIC__COUNT], const char **version)
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

/* --- outputs ---------------------------------------------------------------------------------- */

static monitor_alert *alert_anomaly(job *j, monitor_metric mt, const monitor_anomaly *an, int running,
                                    const monitor_baseline *b)
{
    const Acms__V1__StepEvent *ev = j->ev;
    const char *unit = k_metric_unit[mt];
    const char *what = mt == MONITOR_METRIC_WALL ? (running ? "has been running" : "took")
                       : mt == MONITOR_METRIC_PEAK ? "peaked at" : "used CPU";
    char summary[512], desc[1024];
    snprintf(summary, sizeof summary, "Step %s of %s %s %.0f %s, expected about %.0f %s", ev->step, ev->pipeline,
             what, an->observed, unit, an->median, unit);
    snprintf(desc, sizeof desc,
             "%s %.0f %s exceeds the anomaly threshold %.0f %s = median %.0f + max(6 x 1.4826 x MAD %.0f, "
             "0.5 x median, %.0f) over the last %u successful runs (EWMA mean %.0f, sd %.0f)%s",
             monitor_metric_name(mt), an->observed, unit, an->threshold, unit, an->median, an->mad, b->min_delta,
             (unsigned)b->wn, an->mean, an->stddev, running ? "; the step is still running" : "");
    monitor_alert *al = monitor_alert_new(j->a, k_metric_alert[mt], "warning", ev->pipeline, ev->environment, ev->step,
                                          j->run, ev->attempt, summary, desc);
    al->observed = an->observed;
    al->expected = an->median;
    return al;
}

static monitor_alert *alert_kill(job *j, const Acms__V1__StepMetrics *m)
{
    const Acms__V1__StepEvent *ev = j->ev;
    const char *name;
    char summary[512], desc[512];
    double observed, expected;
    switch (m->exit_reason) {
    case ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY:
        name = "StepKilledForMemory";
        observed = (double)m->peak_rss_kb / 1024.0;
        expected = (double)(m->mem_limit_mb ? m->mem_limit_mb : ev->memory_mb);
        snprintf(summary, sizeof summary, "Step %s of %s was killed for memory (attempt %u)", ev->step, ev->pipeline,
                 (unsigned)ev->attempt);
        snprintf(desc, sizeof desc, "peak RSS %.0f MiB reached the %.0f MiB limit", observed, expected);
        break;
    case ACMS__V1__EXIT_REASON__EXIT_REASON_TIME:
        name = "StepKilledForTime";
        observed = (double)m->wall_ms / 1000.0;
        expected = (double)(m->runtime_limit_s ? m->runtime_limit_s : ev->max_runtime_s);
        snprintf(summary, sizeof summary, "Step %s of %s was killed for time (attempt %u)", ev->step, ev->pipeline,
                 (unsigned)ev->attempt);
        snprintf(desc, sizeof desc, "ran %.1f s against max_runtime_s %.0f s", observed, expected);
        break;
    case ACMS__V1__EXIT_REASON__EXIT_REASON_CPU_TIME:
        name = "StepKilledForCpuTime";
        observed = (double)(m->user_cpu_ms + m->sys_cpu_ms) / 1000.0;
        expected = 0;
        snprintf(summary, sizeof summary, "Step %s of %s was killed for CPU time (attempt %u)", ev->step,
                 ev->pipeline, (unsigned)ev->attempt);
        snprintf(desc, sizeof desc, "used %.1f s of CPU time, beyond its CPU-time limit", observed);
        break;
    default:
        return NULL;
    }
    monitor_alert *al = monitor_alert_new(j->a, name, "warning", ev->pipeline, ev->environment, ev->step, j->run,
                                          ev->attempt, summary, desc);
    al->observed = observed;
    al->expected = expected;
    return al;
}

/* Publishes alerts (silences applied, rate-limited per dedup key) and posts the fresh ones to the
 * webhooks as one group. ACMS_OK or ACMS_ERR_RETRY. */
static int emit_alerts(job *j, monitor_alert **alerts, size_t n)
{
    const Acms__V1__StepEvent *ev = j->ev;
    monitor_alert **fresh = acms_arena_alloc(j->a, (n ? n : 1) * sizeof *fresh);
    size_t nfresh = 0;
    const char *session = monitor_key_session(j->a, j->run);
    for (size_t i = 0; i < n; i++) {
        monitor_alert *al = alerts[i];
        al->starts_at_ms = ev->meta->timestamp_ms;
        const monitor_silence *sil = monitor_alert_silenced(j->a, &j->ctx->silences, al);
        const char *lbl = acms_arena_printf(j->a, "alertname=\"%s\"", al->name);
        if (sil) {
            acms_log_info(j->run, j->id, "alert %s silenced by \"%s\"", al->dedup_key, sil->text);
            count(j, "acms_alerts_silenced_total", lbl, "Alerts muted by a configured silence", 1);
            continue;
        }
        Acms__V1__EventMeta *meta = acms_meta_new(j->a, j->run, SOURCE, j->id,
                                                  acms_arena_printf(j->a, "alert/%s", al->name), ev->meta->traceparent);
        int rl = monitor_store_rate_limit(j->r, monitor_key_alerted(j->a, al->dedup_key), meta->event_id,
                                          MONITOR_ALERTED_TTL_S, session, "alerts");
        if (rl < 0)
            return ACMS_ERR_RETRY;
        if (rl == 0) {
            acms_log_debug(j->run, j->id, "alert %s already sent", al->dedup_key);
            continue;
        }
        Acms__V1__Alert *msg = monitor_alert_to_pb(j->a, al, meta);
        /* the run keeps its alerts (acms:run:<run>:alerts), keyed by the derived event id */
        char *json = acms_json_message_string(&msg->base, 0);
        int w = json ? acms_state_run_record(j->r, j->run, ACMS_STATE_ALERTS, meta->event_id, json) : ACMS_ERR_RETRY;
        free(json);
        if (w != ACMS_OK)
            return ACMS_ERR_RETRY;
        if (acms_service_publish(j->svc, ACMS_TOPIC_MONITOR_ALERTS, j->run, &msg->base) != ACMS_OK)
            return ACMS_ERR_RETRY;
        j->published = 1;
        if (rl == 1) {
            fresh[nfresh++] = al;
            count(j, "acms_alerts_sent_total", lbl, "Alerts raised (published once per dedup key)", 1);
            acms_log_info(j->run, j->id, "alert %s: %s", al->name, al->summary);
        }
    }
    if (nfresh > 0 && j->ctx->hooks.n > 0) {
        char *json = monitor_alert_webhook_json(j->a, fresh, nfresh, j->ctx->receiver, j->ctx->external_url);
        monitor_webhook_result res;
        monitor_webhooks_post(&j->ctx->hooks, json, &res);
        free(json);
        if (res.errors)
            count(j, "acms_webhook_errors_total", NULL, "Failed webhook tries", res.errors);
        if (res.delivered)
            count(j, "acms_webhook_deliveries_total", NULL, "Alert groups delivered to a webhook", res.delivered);
    }
    return ACMS_OK;
}

/* Publishes opportunities. Live ones (running) are rate-limited once per step attempt and kind. */
static int emit_opportunities(job *j, const monitor_opportunity *opps, size_t n, int running)
{
    const Acms__V1__StepEvent *ev = j->ev;
    for (size_t i = 0; i < n; i++) {
        const monitor_opportunity *o = &opps[i];
        Acms__V1__AdaptationOpportunity *msg = acms_pb_new(j->a, &acms__v1__adaptation_opportunity__descriptor);
        msg->meta = acms_meta_new(j->a, j->run, SOURCE, j->id, acms_arena_printf(j->a, "%s/%s", o->kind, o->field),
                                  ev->meta->traceparent);
        if (running) {
            const char *key = monitor_key_alerted(
                j->a, acms_arena_printf(j->a, "opportunity/%s/%s/%s/%u", o->kind, j->run, ev->step, (unsigned)ev->attempt));
            int rl = monitor_store_rate_limit(j->r, key, msg->meta->event_id, 24 * 3600, NULL, NULL);
            if (rl < 0)
                return ACMS_ERR_RETRY;
            if (rl == 0)
                continue;
        }
        msg->pipeline = ev->pipeline;
        msg->environment = ev->environment;
        msg->step = ev->step;
        msg->attempt = ev->attempt;
        msg->kind = (char *)o->kind;
        msg->field = (char *)o->field;
        msg->current_value = acms_arena_strdup(j->a, o->current_value);
        msg->proposed_value = acms_arena_strdup(j->a, o->proposed_value);
        msg->reason = acms_arena_strdup(j->a, o->reason);
        msg->safety_score = o->safety;
        msg->step_running = running ? 1 : 0;
        if (acms_service_publish(j->svc, ACMS_TOPIC_EXEC_ADAPTATIONS, j->run, &msg->base) != ACMS_OK)
            return ACMS_ERR_RETRY;
        j->published = 1;
        count(j, "acms_adaptation_opportunities_total", acms_arena_printf(j->a, "kind=\"%s\"", o->kind),
              "Adaptation opportunities proposed", 1);
        acms_log_info(j->run, j->id, "opportunity %s for %s: %s -> %s (safety %.2f): %s", o->kind, ev->step,
                      o->current_value, o->proposed_value, o->safety, o->reason);
    }
    return ACMS_OK;
}

static void usage_of(const Acms__V1__StepEvent *ev, const Acms__V1__StepMetrics *m, int running, uint32_t runs,
                     monitor_usage *u)
{
    memset(u, 0, sizeof *u);
    u->running = running;
    u->succeeded = m->exit_reason == ACMS__V1__EXIT_REASON__EXIT_REASON_OK;
    u->killed_memory = m->exit_reason == ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY;
    u->killed_time = m->exit_reason == ACMS__V1__EXIT_REASON__EXIT_REASON_TIME;
    u->peak_rss_kb = m->peak_rss_kb;
    u->rss_kb = m->rss_kb;
    u->mem_limit_mb = m->mem_limit_mb ? m->mem_limit_mb : ev->memory_mb;
    u->cpu_ms = m->user_cpu_ms + m->sys_cpu_ms;
    u->wall_ms = m->wall_ms;
    u->vcpu = m->vcpu > 0 ? m->vcpu : ev->vcpu;
    u->runtime_limit_s = m->runtime_limit_s ? m->runtime_limit_s : ev->max_runtime_s;
    u->baseline_runs = runs;
}

/* --- event kinds ------------------------------------------------------------------------------ */

static int apply_session(job *j, const char *summary)
{
    monitor_hash_op op;
    monitor_session_op(j->a, j->ev, summary, &op);
    const char *seen = monitor_session_needs_guard(j->ev) ? monitor_key_seen(j->a, j->id) : NULL;
    int rc = monitor_store_apply(j->r, seen, &op, 1);
    return rc < 0 ? ACMS_ERR_RETRY : ACMS_OK;
}

static int on_heartbeat(job *j)
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
        alerts[nal++] = alert_anomaly(j, MONITOR_METRIC_WALL, &an, 1, &bl[MONITOR_METRIC_WALL]);
    monitor_usage u;
    monitor_opportunity opps[MONITOR_MAX_OPPS];
    usage_of(ev, ev->metrics, 1, bl[MONITOR_METRIC_PEAK].n, &u);
    size_t nopp = monitor_analyze(&u, opps);
    if (emit_opportunities(j, opps, nopp, 1) != ACMS_OK || emit_alerts(j, alerts, nal) != ACMS_OK)
        return ACMS_ERR_RETRY;
    return ACMS_OK;
}

static void baseline_op(job *j, const monitor_baseline bl[MONITOR_METRIC__COUNT], const char *version,
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
    acms_hash_op_add(j->a, &op->set, &op->nset, "updated_ms", acms_arena_printf(j->a, "%lld", (long long)j->ev->meta->timestamp_ms));
}

static int on_finished(job *j)
{
    const Acms__V1__StepEvent *ev = j->ev;
    const char *seen = monitor_key_seen(j->a, j->id);
    int s = acms_redis_exists(j->r, seen);
    if (s < 0)
        return ACMS_ERR_RETRY;
    if (s == 1) {
        acms_log_debug(j->run, j->id, "step event already processed");
        return ACMS_OK;
    }
    const Acms__V1__StepMetrics *m = ev->metrics;
    monitor_baseline bl[MONITOR_METRIC__COUNT];
    const char *version;
    if (baselines_read(j, bl, &version) != ACMS_OK)
        return ACMS_ERR_RETRY;
    int ok = m && m->exit_reason == ACMS__V1__EXIT_REASON__EXIT_REASON_OK;
    int judged = m && (ok || m->exit_reason == ACMS__V1__EXIT_REASON__EXIT_REASON_NONZERO);
    double obs[MONITOR_METRIC__COUNT] = {0};
    monitor_alert *alerts[MONITOR_METRIC__COUNT + 1];
    size_t nal = 0;
    if (m) {
        observations(m, obs);
        for (int i = 0; judged && i < MONITOR_METRIC__COUNT; i++) {
            monitor_anomaly an;
            if (monitor_anomaly_check(&bl[i], obs[i], &an)) {
                alerts[nal++] = alert_anomaly(j, (monitor_metric)i, &an, 0, &bl[i]);
                count(j, "acms_anomalies_total", acms_arena_printf(j->a, "metric=\"%s\"", monitor_metric_name((monitor_metric)i)),
                      "Anomalous step metrics detected", 1);
            }
        }
        monitor_alert *kill = alert_kill(j, m);
        if (kill)
            alerts[nal++] = kill;
        monitor_usage u;
        monitor_opportunity opps[MONITOR_MAX_OPPS];
        usage_of(ev, m, 0, bl[MONITOR_METRIC_PEAK].n, &u);
        size_t nopp = monitor_analyze(&u, opps);
        if (emit_opportunities(j, opps, nopp, 0) != ACMS_OK)
            return ACMS_ERR_RETRY;
    }
    if (emit_alerts(j, alerts, nal) != ACMS_OK)
        return ACMS_ERR_RETRY;
    /* What was produced must be acknowledged before the seen mark makes a redelivery skip it. */
    if (j->published && acms_kafka_flush(acms_service_kafka(j->svc), FLUSH_TIMEOUT_MS) != ACMS_OK)
        return ACMS_ERR_RETRY;

    for (int t = 0; t < APPLY_TRIES; t++) {
        monitor_hash_op ops[2];
        size_t nops = 1;
        monitor_session_op(j->a, ev, NULL, &ops[0]);
        if (ok) {  /* only successful attempts teach the baseline: a killed one is censored */
            monitor_baseline upd[MONITOR_METRIC__COUNT];
            memcpy(upd, bl, sizeof upd);
            for (int i = 0; i < MONITOR_METRIC__COUNT; i++)
                monitor_baseline_update(&upd[i], obs[i]);
            baseline_op(j, upd, version, &ops[nops++]);
        }
        int rc = monitor_store_apply(j->r, seen, ops, nops);
        if (rc < -1)
            return ACMS_ERR_RETRY;
        if (rc >= 0)
            return ACMS_OK;
        if (baselines_read(j, bl, &version) != ACMS_OK)  /* another replica updated it: re-read */
            return ACMS_ERR_RETRY;
    }
    acms_log_warn(j->run, j->id, "baseline update kept conflicting; retrying the event");
    return ACMS_ERR_RETRY;
}

static int on_run_finished(job *j)
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
        count(j, "acms_monitor_sessions_closed_total", NULL, "Monitoring sessions closed (runs finished)", 1);
    return rc;
}

/* --- service ------------------------------------------------------------------------------------ */

static int handle(void *ud, acms_service *svc, const acms_msg *m, const char **reason)
{
    acms_arena *a = acms_arena_new(0);
    int rc = ACMS_OK;
    Acms__V1__StepEvent *ev =
        (Acms__V1__StepEvent *)acms_pb_decode(a, &acms__v1__step_event__descriptor, m->payload, m->len, reason);
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
    job j = {.ctx = ud, .svc = svc, .r = acms_service_redis(svc), .metrics = acms_service_metrics(svc), .a = a,
             .ev = ev, .run = ev->meta->run_id, .id = ev->meta->event_id};
    switch (ev->kind) {
    case ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_RUN_STARTED:
    case ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_STARTED:
    case ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_SKIPPED:
        rc = apply_session(&j, NULL);
        break;
    case ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_HEARTBEAT:
        rc = on_heartbeat(&j);
        break;
    case ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_FINISHED:
        rc = on_finished(&j);
        break;
    case ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_RUN_FINISHED:
        rc = on_run_finished(&j);
        break;
    default:
        *reason = "unknown step event kind";
        rc = ACMS_ERR_POISON;
        break;
    }
out:
    acms_arena_free(a);
    return rc;
}

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

static int init(acms_service *svc, void **out, char *errstr, size_t errstr_size)
{
    (void)svc;
    monitor_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        snprintf(errstr, errstr_size, "out of memory");
        return ACMS_ERR_NOMEM;
    }
    ctx->arena = acms_arena_new(0);
    int rc = monitor_silences_parse(ctx->arena, getenv("ACMS_ALERT_SILENCES"), &ctx->silences, errstr, errstr_size);
    if (rc == ACMS_OK)
        rc = monitor_webhooks_parse(ctx->arena, getenv("ACMS_ALERT_WEBHOOKS"), &ctx->hooks, errstr, errstr_size);
    if (rc != ACMS_OK)
        goto fail;
    const char *budget = getenv("ACMS_ALERT_WEBHOOK_BUDGET_MS");
    if (budget && *budget) {
        char *end;
        long v = strtol(budget, &end, 10);
        if (*end || v < 100 || v > 60000) {
            snprintf(errstr, errstr_size, "ACMS_ALERT_WEBHOOK_BUDGET_MS: expected 100..60000 ms, got \"%s\"", budget);
            rc = ACMS_ERR_INVALID;
            goto fail;
        }
        ctx->hooks.budget_ms = (int)v;
    }
    ctx->receiver = acms_arena_strdup(ctx->arena, env_or("ACMS_ALERT_RECEIVER", "acms"));
    ctx->external_url = acms_arena_strdup(ctx->arena, env_or("ACMS_ALERT_EXTERNAL_URL", "http://localhost"));
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(errstr, errstr_size, "curl_global_init failed");
        rc = ACMS_ERR;
        goto fail;
    }
    acms_log_info(NULL, NULL, "monitor: %zu silences, %zu webhooks", ctx->silences.n, ctx->hooks.n);
    *out = ctx;
    return ACMS_OK;
fail:
    acms_arena_free(ctx->arena);
    free(ctx);
    return rc;
}

static void release(void *ud)
{
    monitor_ctx *ctx = ud;
    if (!ctx)
        return;
    curl_global_cleanup();
    acms_arena_free(ctx->arena);
    free(ctx);
}

int main(int argc, char **argv)
{
    static const acms_topic inputs[] = {ACMS_TOPIC_EXEC_STEPS};
    static const acms_service_ops ops = {
        .name = SOURCE,
        .summary = "MonitoringSystem: monitoring sessions, anomaly detection, adaptation opportunities, alerts",
        .extra_help = "  ACMS_ALERT_WEBHOOKS           comma-separated Alertmanager-style webhook URLs\n"
                      "  ACMS_ALERT_SILENCES           silences: name=StepDurationAnomaly,pipeline=foo;severity=info\n"
                      "  ACMS_ALERT_RECEIVER           receiver name in webhook payloads (default acms)\n"
                      "  ACMS_ALERT_EXTERNAL_URL       externalURL/generatorURL base (default http://localhost)\n"
                      "  ACMS_ALERT_WEBHOOK_BUDGET_MS  time bound of one webhook delivery (default 2000)\n",
        .inputs = inputs,
        .ninputs = sizeof inputs / sizeof inputs[0],
        .needs_profiles = 0,
        .init = init,
        .handle = handle,
        .release = release,
    };
    return acms_service_main(argc, argv, &ops);
}
