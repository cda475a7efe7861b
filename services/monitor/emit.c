/* emit.c: what a step event produces: anomaly and kill alerts (published once per dedup key,
 * silences applied, fresh ones posted to the webhooks as one group) and adaptation opportunities
 * (live ones once per step attempt and kind). Every published event id is derived from the step
 * event, so a redelivery is de-duplicated downstream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"
#include "monitor.h"
#include "session.h"
#include "run_state.h"

static const char *k_metric_alert[MONITOR_METRIC__COUNT] = {"StepDurationAnomaly", "StepMemoryAnomaly",
                                                            "StepCpuAnomaly"};
static const char *k_metric_unit[MONITOR_METRIC__COUNT] = {"ms", "MiB", "ms"};

void monitor_count(monitor_job *j, const char *name, const char *labels, const char *help, double v)
{
    if (j->metrics)
        acms_metrics_add(j->metrics, name, labels, help, v);
}

monitor_alert *monitor_alert_anomaly(monitor_job *j, monitor_metric mt, const monitor_anomaly *an, int running,
                                     const monitor_baseline *b)
{
    const Acms__V1__StepEvent *ev = j->ev;
    const char *unit = k_metric_unit[mt];
    const char *what = mt == MONITOR_METRIC_WALL   ? (running ? "has been running" : "took")
                       : mt == MONITOR_METRIC_PEAK ? "peaked at"
                                                   : "used CPU";
    char summary[512], desc[1024];
    snprintf(summary, sizeof summary, "Step %s of %s %s %.0f %s, expected about %.0f %s", ev->step, ev->pipeline, what,
             an->observed, unit, an->median, unit);
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

monitor_alert *monitor_alert_kill(monitor_job *j, const Acms__V1__StepMetrics *m)
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
        snprintf(summary, sizeof summary, "Step %s of %s was killed for CPU time (attempt %u)", ev->step, ev->pipeline,
                 (unsigned)ev->attempt);
        snprintf(desc, sizeof desc, "used %.1f s of CPU time, beyond its CPU-time limit", observed);
        break;
    default: return NULL;
    }
    monitor_alert *al = monitor_alert_new(j->a, name, "warning", ev->pipeline, ev->environment, ev->step, j->run,
                                          ev->attempt, summary, desc);
    al->observed = observed;
    al->expected = expected;
    return al;
}

int monitor_emit_alerts(monitor_job *j, monitor_alert **alerts, size_t n)
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
            monitor_count(j, "acms_alerts_silenced_total", lbl, "Alerts muted by a configured silence", 1);
            continue;
        }
        Acms__V1__EventMeta *meta = acms_meta_new(j->a, j->run, MONITOR_SOURCE, j->id,
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
            monitor_count(j, "acms_alerts_sent_total", lbl, "Alerts raised (published once per dedup key)", 1);
            acms_log_info(j->run, j->id, "alert %s: %s", al->name, al->summary);
        }
    }
    if (nfresh > 0 && j->ctx->hooks.n > 0) {
        char *json = monitor_alert_webhook_json(j->a, fresh, nfresh, j->ctx->receiver, j->ctx->external_url);
        monitor_webhook_result res;
        monitor_webhooks_post(&j->ctx->hooks, json, &res);
        free(json);
        if (res.errors)
            monitor_count(j, "acms_webhook_errors_total", NULL, "Failed webhook tries", res.errors);
        if (res.delivered)
            monitor_count(j, "acms_webhook_deliveries_total", NULL, "Alert groups delivered to a webhook",
                          res.delivered);
    }
    return ACMS_OK;
}

int monitor_emit_opportunities(monitor_job *j, const monitor_opportunity *opps, size_t n, int running)
{
    const Acms__V1__StepEvent *ev = j->ev;
    for (size_t i = 0; i < n; i++) {
        const monitor_opportunity *o = &opps[i];
        Acms__V1__AdaptationOpportunity *msg = acms_pb_new(j->a, &acms__v1__adaptation_opportunity__descriptor);
        msg->meta = acms_meta_new(j->a, j->run, MONITOR_SOURCE, j->id,
                                  acms_arena_printf(j->a, "%s/%s", o->kind, o->field), ev->meta->traceparent);
        if (running) {
            const char *key = monitor_key_alerted(j->a, acms_arena_printf(j->a, "opportunity/%s/%s/%s/%u", o->kind,
                                                                          j->run, ev->step, (unsigned)ev->attempt));
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
        monitor_count(j, "acms_adaptation_opportunities_total", acms_arena_printf(j->a, "kind=\"%s\"", o->kind),
                      "Adaptation opportunities proposed", 1);
        acms_log_info(j->run, j->id, "opportunity %s for %s: %s -> %s (safety %.2f): %s", o->kind, ev->step,
                      o->current_value, o->proposed_value, o->safety, o->reason);
    }
    return ACMS_OK;
}

void monitor_usage_of(const Acms__V1__StepEvent *ev, const Acms__V1__StepMetrics *m, int running, uint32_t runs,
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
