/* fuzz_messages.c: libFuzzer target for what each service does with a message from the bus.
 * The first byte picks the input type (a topic), the rest is the raw payload: acms_pb_decode (size
 * cap, nesting cap, meta and schema checks) and then the service's own handling logic that runs
 * without Kafka or Redis: adapter_prepare (ConfigSubmitted), validator_validate (ConfigPrepared),
 * validator_runtime_check and the monitor's analyzer, anomaly detector, session and alert builders
 * (StepEvent), coord_run_new and the planner (ConfigValidated), adapter_live_decide
 * (AdaptationOpportunity), the feedback's outcome analysis, statistics and learning (ExecutionResult)
 * and fix statistics (ValidationResultEvent), the feedback's per-alert-name counter rendered on
 * /metrics (Alert); every decoded message is also rendered as JSON (logs, acmsctl). Profiles come from examples/ (ACMS_CONFIG_DIR overrides), loaded once. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/adapter.h"
#include "coordinator/coord.h"
#include "doc.h"
#include "feedback/fixes.h"
#include "feedback/history.h"
#include "feedback/learn.h"
#include "feedback/outcome.h"
#include "http.h"
#include "log.h"
#include "monitor/alert.h"
#include "monitor/analyze.h"
#include "monitor/anomaly.h"
#include "monitor/session.h"
#include "profile.h"
#include "validator/validator.h"

static acms_profiles g_profiles; /* read-only after LLVMFuzzerInitialize */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char err[512];
    const char *dir = getenv("ACMS_CONFIG_DIR") ? getenv("ACMS_CONFIG_DIR") : "examples";
    acms_log_init("fuzz", "error");
    if (acms_profiles_load(&g_profiles, dir, err, sizeof err) != ACMS_OK) {
        fprintf(stderr, "fuzz_messages: cannot load profiles from %s: %s\n", dir, err);
        abort();
    }
    return 0;
}

static void require(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_messages: invariant broken: %s\n", what);
        abort();
    }
}

static void render(const ProtobufCMessage *m)
{
    free(acms_json_message_string(m, 0));
}

static void verdict_ok(const Acms__V1__ValidationResult *res)
{
    /* the validator service reads res->issues[0] of an invalid result */
    require(res->valid || res->n_issues > 0, "invalid verdict without an error issue");
    render(&res->base);
}

/* --- adapter ------------------------------------------------------------------------------------- */

static void on_submitted(acms_arena *a, const Acms__V1__ConfigSubmitted *in)
{
    if (!in->document)
        return; /* by reference: resolved through the configuration store (Redis/HTTP) */
    adapter_ctx actx = {.profiles = &g_profiles, .redis = NULL, .check_secrets = 0};
    acms_issues issues;
    acms_issues_init(&issues, a, "environment");
    Acms__V1__RuntimeConfiguration *rc = NULL;
    int r = adapter_prepare(&actx, a, in, &rc, &issues);
    if (r == ACMS_ERR_INVALID) {
        render(&adapter_rejection_result(a, &issues)->base);
        return;
    }
    if (r != ACMS_OK)
        return;
    require(rc && rc->pipeline, "prepared without a pipeline");
    uint8_t *buf;
    size_t len;
    require(acms_pb_pack(&rc->base, &buf, &len) == ACMS_OK, "prepared configuration does not pack");
    /* what the validator will decode: it must decode */
    const char *why = NULL;
    require(acms_pb_decode(a, &acms__v1__runtime_configuration__descriptor, buf, len, &why) != NULL || len == 0,
            "prepared configuration does not decode");
    free(buf);
}

static void on_opportunity(acms_arena *a, const Acms__V1__AdaptationOpportunity *opp)
{
    if (!opp->step || !*opp->step || !opp->field || !*opp->field)
        return; /* dead-lettered by the service */
    const Acms__V1__Environment *env = acms_profiles_env(&g_profiles, opp->environment ? opp->environment : "");
    adapter_ctx actx = {.profiles = &g_profiles};
    for (int t = 0; t < 2; t++) {
        Acms__V1__AdaptationRecord *rec = acms_pb_new(a, &acms__v1__adaptation_record__descriptor);
        uint64_t mem = 0;
        uint32_t rt = 0;
        int apply = adapter_live_decide(&actx, env, opp, t ? 0.5 : 0, rec, &mem, &rt);
        require(apply == 0 || apply == 1, "decision not 0/1");
        require(rec->reason != NULL, "decision without a reason");
        render(&rec->base);
    }
}

/* --- validator ----------------------------------------------------------------------------------- */

static void on_prepared(acms_arena *a, const Acms__V1__ConfigPrepared *in)
{
    if (!in->runtime || !in->runtime->pipeline)
        return;
    validator_ctx vctx = {.profiles = &g_profiles, .redis = NULL};
    Acms__V1__ValidationResult *res = NULL;
    if (validator_validate(&vctx, a, in->runtime, in->document, &res) == ACMS_OK && res)
        verdict_ok(res);
}

/* --- validator (runtime) and monitor ----------------------------------------------------------- */

static void on_step(acms_arena *a, const Acms__V1__StepEvent *ev)
{
    Acms__V1__ValidationResult *res = NULL;
    if (validator_runtime_check(ev, a, &res) == ACMS_OK && res && res->n_issues + res->n_warnings > 0)
        render(&res->base);
    if (!ev->pipeline || !*ev->pipeline)
        return; /* the monitor dead-letters it */
    monitor_hash_op op;
    monitor_session_op(a, ev, "summary", &op);
    (void)monitor_session_needs_guard(ev);
    /* the session hash as the closing summary would read it back */
    size_t nkv = op.nsetnx + op.nset;
    const char **kv = acms_arena_alloc(a, (nkv ? nkv : 1) * sizeof *kv);
    if (op.nsetnx)
        memcpy(kv, op.setnx, op.nsetnx * sizeof *kv);
    if (op.nset)
        memcpy(kv + op.nsetnx, op.set, op.nset * sizeof *kv);
    (void)monitor_session_summary(a, kv, nkv, ev);
    const Acms__V1__StepMetrics *m = ev->metrics;
    if (!m)
        return;
    monitor_baseline bl[MONITOR_METRIC__COUNT];
    double obs[MONITOR_METRIC__COUNT] = {(double)m->wall_ms, (double)m->peak_rss_kb / 1024.0,
                                         (double)(m->user_cpu_ms + m->sys_cpu_ms)};
    for (int i = 0; i < MONITOR_METRIC__COUNT; i++) {
        monitor_baseline_init(&bl[i], monitor_metric_min_delta((monitor_metric)i));
        for (int k = 0; k < MONITOR_WARMUP + 1; k++)
            monitor_baseline_update(&bl[i], obs[i] / (k + 2));
        monitor_anomaly an;
        (void)monitor_anomaly_check(&bl[i], obs[i], &an);
        char buf[1024];
        require(monitor_baseline_format(&bl[i], buf, sizeof buf) == ACMS_OK, "baseline does not fit 1024 bytes");
        monitor_baseline back;
        monitor_baseline_init(&back, bl[i].min_delta);
        require(monitor_baseline_parse(&back, buf) == ACMS_OK, "formatted baseline does not parse");
    }
    monitor_usage u = {
        .running = ev->kind == ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_HEARTBEAT,
        .succeeded = m->exit_reason == ACMS__V1__EXIT_REASON__EXIT_REASON_OK,
        .killed_memory = m->exit_reason == ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY,
        .killed_time = m->exit_reason == ACMS__V1__EXIT_REASON__EXIT_REASON_TIME,
        .peak_rss_kb = m->peak_rss_kb,
        .rss_kb = m->rss_kb,
        .mem_limit_mb = m->mem_limit_mb ? m->mem_limit_mb : ev->memory_mb,
        .cpu_ms = m->user_cpu_ms + m->sys_cpu_ms,
        .wall_ms = m->wall_ms,
        .vcpu = m->vcpu > 0 ? m->vcpu : ev->vcpu,
        .runtime_limit_s = m->runtime_limit_s ? m->runtime_limit_s : ev->max_runtime_s,
        .baseline_runs = bl[MONITOR_METRIC_PEAK].n,
    };
    monitor_opportunity opps[MONITOR_MAX_OPPS];
    size_t nopp = monitor_analyze(&u, opps);
    require(nopp <= MONITOR_MAX_OPPS, "too many opportunities");
    for (size_t i = 0; i < nopp; i++)
        require(opps[i].safety >= 0 && opps[i].safety <= 1, "safety score outside 0..1");
    monitor_alert *al = monitor_alert_new(a, "StepKilledForMemory", "critical", ev->pipeline, ev->environment,
                                          ev->step, ev->meta->run_id, ev->attempt, ev->step, ev->pipeline);
    monitor_silences sil;
    char err[256];
    if (monitor_silences_parse(a, ev->step, &sil, err, sizeof err) == ACMS_OK)
        (void)monitor_alert_silenced(a, &sil, al);
    char *json = monitor_alert_webhook_json(a, &al, 1, "fuzz", "http://localhost");
    require(json != NULL, "webhook JSON failed");
    cJSON *back = cJSON_Parse(json);
    require(back != NULL, "webhook JSON does not parse");
    cJSON_Delete(back);
    free(json);
}

/* --- coordinator --------------------------------------------------------------------------------- */

static void on_validated(const uint8_t *data, size_t size)
{
    acms_arena *a = acms_arena_new(0); /* coord_run_new takes it */
    const char *reason = NULL;
    Acms__V1__ConfigValidated *in =
        (Acms__V1__ConfigValidated *)acms_pb_decode(a, &acms__v1__config_validated__descriptor, data, size, &reason);
    if (!in || (in->result && !in->result->valid)) {
        acms_arena_free(a);
        return;
    }
    render(&in->base);
    char err[200];
    coord_run *r = coord_run_new(NULL, in->meta->run_id, a, in->runtime, in->meta->event_id, in->meta->traceparent,
                                 err, sizeof err);
    if (!r)
        return;
    (void)coord_plan_ready(r->plan, r->st, r->not_before, 0, r->scratch, r->n);
    (void)coord_plan_blocked(r->plan, r->st, r->scratch);
    coord_run_free(r);
}

/* --- feedback ------------------------------------------------------------------------------------ */

static void on_result(acms_arena *a, const Acms__V1__ExecutionResult *res)
{
    const Acms__V1__Environment *env = res->environment ? acms_profiles_env(&g_profiles, res->environment) : NULL;
    for (size_t i = 0; i < res->n_steps; i++) {
        feedback_outcome o;
        require(feedback_outcome_analyze(a, res->steps[i], &g_profiles.catalog, &o) == ACMS_OK, "outcome failed");
        render(&feedback_outcome_to_pb(a, &o)->base);
        feedback_stats st;
        feedback_stats_init(&st);
        for (int k = 0; k < 3; k++) {
            feedback_stats_track(&st, &o);
            feedback_learn_observe(&st, &o);
        }
        feedback_learn_in in = {.catalog = &g_profiles.catalog, .instance_type = o.instance_type,
                                .vcpu = o.configured_vcpu, .gpus = o.gpus, .mode = "apply",
                                .allowed = env ? env->allowed_instance_types : NULL,
                                .nallowed = env ? env->n_allowed_instance_types : 0};
        feedback_rec rec;
        (void)feedback_learn_recommend(&st, &in, &rec);
        Acms__V1__LearningInsight **ins = NULL;
        size_t nins = 0;
        feedback_learn_insights(a, res->pipeline ? res->pipeline : "", &o, &st, &rec, &ins, &nins);
        /* what is written to Redis reads back */
        const char **kv;
        size_t nkv = feedback_stats_to_hash(a, &st, &kv);
        feedback_stats st2;
        require(feedback_stats_from_hash(&st2, a, kv, nkv) == ACMS_OK, "written statistics do not read back");
    }
}

static void on_validation_result(acms_arena *a, const Acms__V1__ValidationResultEvent *ev)
{
    if (!ev->result)
        return;
    (void)feedback_fix_phase_counts(ev->result->phase);
    feedback_fixset cur, prev;
    feedback_fixset_collect(a, ev->result, &cur);
    const char **kv = acms_arena_alloc(a, (2 * cur.n + 1) * sizeof *kv);
    for (size_t i = 0; i < cur.n; i++) {
        kv[2 * i] = cur.v[i].code;
        kv[2 * i + 1] = feedback_fixset_join(a, &cur.v[i]);
    }
    feedback_fixset_from_hash(a, kv, 2 * cur.n, &prev);
    feedback_fix_incr *inc;
    (void)feedback_fix_diff(a, &prev, &cur, &inc);
}

/* What the feedback service counts per alert (alertname label from the message) must leave /metrics
 * well formed: every line a comment or one sample starting with the metric name. */
static void on_alert(acms_arena *a, const Acms__V1__Alert *al)
{
    acms_metrics *mx = acms_metrics_new("fuzz");
    acms_metrics_add(mx, "acms_feedback_alerts_total", acms_arena_printf(a, "alertname=\"%s\"", al->name ? al->name : ""),
                     "Alerts counted per pipeline", 1);
    char *text = acms_metrics_render(mx);
    require(text != NULL, "metrics did not render");
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        require(end != NULL, "metrics text without a final newline");
        require(*line == '#' || strncmp(line, "acms_", 5) == 0, "a label value added a line to /metrics");
        line = end + 1;
    }
    free(text);
    acms_metrics_free(mx);
}

/* --- dispatch ------------------------------------------------------------------------------------ */

static const ProtobufCMessageDescriptor *const k_types[] = {
    &acms__v1__config_submitted__descriptor,        /* adapter */
    &acms__v1__adaptation_opportunity__descriptor,  /* adapter */
    &acms__v1__config_prepared__descriptor,         /* validator */
    &acms__v1__step_event__descriptor,              /* validator (runtime), monitor */
    &acms__v1__config_validated__descriptor,        /* coordinator */
    &acms__v1__adapted_event__descriptor,           /* coordinator */
    &acms__v1__control_event__descriptor,           /* coordinator */
    &acms__v1__execution_result__descriptor,        /* feedback */
    &acms__v1__validation_result_event__descriptor, /* feedback */
    &acms__v1__alert__descriptor,                   /* feedback */
    &acms__v1__dead_letter__descriptor,             /* operators' tools */
    &acms__v1__runtime_configuration__descriptor,   /* coordinator: acms:run:<run>:runtime in Redis */
};
#define NTYPES (sizeof k_types / sizeof k_types[0])

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t t = data[0] % NTYPES;
    data++;
    size--;
    if (k_types[t] == &acms__v1__config_validated__descriptor) {
        on_validated(data, size);
        return 0;
    }
    acms_arena *a = acms_arena_new(0);
    const char *reason = NULL;
    ProtobufCMessage *m = acms_pb_decode(a, k_types[t], data, size, &reason);
    if (!m) {
        require(reason != NULL, "refusal without a reason");
        goto out;
    }
    render(m);
    if (k_types[t] == &acms__v1__config_submitted__descriptor)
        on_submitted(a, (const Acms__V1__ConfigSubmitted *)m);
    else if (k_types[t] == &acms__v1__adaptation_opportunity__descriptor)
        on_opportunity(a, (const Acms__V1__AdaptationOpportunity *)m);
    else if (k_types[t] == &acms__v1__config_prepared__descriptor)
        on_prepared(a, (const Acms__V1__ConfigPrepared *)m);
    else if (k_types[t] == &acms__v1__step_event__descriptor)
        on_step(a, (const Acms__V1__StepEvent *)m);
    else if (k_types[t] == &acms__v1__execution_result__descriptor)
        on_result(a, (const Acms__V1__ExecutionResult *)m);
    else if (k_types[t] == &acms__v1__validation_result_event__descriptor)
        on_validation_result(a, (const Acms__V1__ValidationResultEvent *)m);
    else if (k_types[t] == &acms__v1__alert__descriptor)
        on_alert(a, (const Acms__V1__Alert *)m);
out:
    acms_arena_free(a);
    return 0;
}
