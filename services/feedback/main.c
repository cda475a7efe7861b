/* main.c: acms-feedback (FeedbackCollector) wiring. ExecutionResults -> step outcomes, decayed usage
 * history, recommendations and one ExecutionFeedback per run; ValidationResultEvents -> fix
 * statistics; Alerts -> alert counts per pipeline. Invariants: the ExecutionFeedback is acknowledged
 * by the broker before the event's Redis effects are applied, and those effects are applied with the
 * seen-mark in one script: a redelivery neither loses the feedback nor doubles a counter. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixes.h"
#include "history.h"
#include "learn.h"
#include "outcome.h"
#include "service.h"
#include "run_state.h"
#include "store.h"
#include "config_store.h" /* the configuration store's command rule */

#define SOURCE "acms-feedback"
#define FLUSH_TIMEOUT_MS 5000
#define APPLY_TRIES 8
#define LASTISSUES_TTL_S (30 * 24 * 3600)

typedef struct job {
    acms_service *svc;
    acms_redis *r;
    acms_metrics *metrics;
    acms_arena *a;
    const char *run;
    const char *id;
    const char *traceparent;
} job;

static void count(job *j, const char *name, const char *labels, const char *help, double v)
{
    if (j->metrics)
        acms_metrics_add(j->metrics, name, labels, help, v);
}

static const char *fmt(acms_arena *a, double v) { return acms_arena_printf(a, "%.6f", v); }

/* --- execution results ---------------------------------------------------------------------- */

typedef struct run_totals {
    size_t steps, succeeded, kills, recs;
    uint32_t attempts;
    double cost, hours, wasted, median_slack;
    int has_slack;
} run_totals;

static void totals_of(acms_arena *a, const feedback_outcome *o, size_t n, run_totals *t)
{
    memset(t, 0, sizeof *t);
    double *slacks = acms_arena_alloc(a, (n ? n : 1) * sizeof *slacks);
    size_t ns = 0;
    t->steps = n;
    for (size_t i = 0; i < n; i++) {
        t->succeeded += o[i].success;
        t->kills += o[i].resource_killed;
        t->attempts += o[i].attempts;
        t->cost += o[i].cost_usd;
        t->hours += o[i].instance_hours;
        t->wasted += o[i].wasted_instance_hours;
        if (o[i].success && o[i].has_memory_slack)
            slacks[ns++] = o[i].memory_slack;
    }
    t->has_slack = ns > 0;
    t->median_slack = feedback_median(slacks, ns);
}

static const feedback_hash_op *run_op(job *j, const Acms__V1__ExecutionResult *res, const run_totals *t,
                                      feedback_hash_op *op)
{
    acms_arena *a = j->a;
    memset(op, 0, sizeof *op);
    op->key = feedback_key_run(a, j->run);
    op->ttl_s = FEEDBACK_RUN_TTL_S;
    acms_hash_op_add(a, &op->set, &op->nset, "success", res->success ? "1" : "0");
    acms_hash_op_add(a, &op->set, &op->nset, "status", res->status);
    acms_hash_op_add(a, &op->set, &op->nset, "pipeline", res->pipeline);
    acms_hash_op_add(a, &op->set, &op->nset, "environment", res->environment);
    acms_hash_op_add(a, &op->set, &op->nset, "steps", acms_arena_printf(a, "%zu", t->steps));
    acms_hash_op_add(a, &op->set, &op->nset, "steps_succeeded", acms_arena_printf(a, "%zu", t->succeeded));
    acms_hash_op_add(a, &op->set, &op->nset, "resource_kills", acms_arena_printf(a, "%zu", t->kills));
    acms_hash_op_add(a, &op->set, &op->nset, "cost_usd", fmt(a, t->cost));
    acms_hash_op_add(a, &op->set, &op->nset, "instance_hours", fmt(a, t->hours));
    acms_hash_op_add(a, &op->set, &op->nset, "wasted_instance_hours", fmt(a, t->wasted));
    acms_hash_op_add(a, &op->set, &op->nset, "median_slack", t->has_slack ? fmt(a, t->median_slack) : "");
    acms_hash_op_add(a, &op->set, &op->nset, "recorded_ms", acms_arena_printf(a, "%lld", (long long)acms_now_ms()));
    acms_hash_op_add(a, &op->set, &op->nset, "event_id", j->id);
    return op;
}

static const char *performance_text(acms_arena *a, const run_totals *t)
{
    const char *slack = t->has_slack ? acms_arena_printf(a, "median memory slack %.0f%%", t->median_slack * 100.0)
                                     : "memory slack unknown";
    return acms_arena_printf(a,
                             "%zu/%zu steps succeeded in %u attempts; %zu steps killed for resources; %.4f instance-hours "
                             "(%.4f wasted); cost $%.4f; %s; %zu recommendations updated",
                             t->succeeded, t->steps, (unsigned)t->attempts, t->kills, t->hours, t->wasted, t->cost,
                             slack, t->recs);
}

static int publish_feedback(job *j, const Acms__V1__ExecutionResult *res, const feedback_outcome *o, size_t n,
                            const run_totals *t, Acms__V1__LearningInsight **ins, size_t nins)
{
    acms_arena *a = j->a;
    Acms__V1__ExecutionFeedback *fb = acms_pb_new(a, &acms__v1__execution_feedback__descriptor);
    fb->meta = acms_meta_new(a, j->run, SOURCE, j->id, "feedback/insights", j->traceparent);
    fb->pipeline = res->pipeline;
    fb->environment = res->environment;
    fb->execution_success = res->success;
    fb->outcome_analysis = acms_arena_alloc(a, (n ? n : 1) * sizeof *fb->outcome_analysis);
    for (size_t i = 0; i < n; i++)
        fb->outcome_analysis[fb->n_outcome_analysis++] = feedback_outcome_to_pb(a, &o[i]);
    fb->performance_feedback = (char *)performance_text(a, t);
    fb->learning_insights = ins;
    fb->n_learning_insights = nins;
    fb->cost_usd = t->cost;
    fb->wasted_instance_hours = t->wasted;
    fb->config_ref = res->config_ref;
    fb->config_hash = res->config_hash;
    if (acms_service_publish(j->svc, ACMS_TOPIC_FEEDBACK_INSIGHTS, j->run, &fb->base) != ACMS_OK)
        return ACMS_ERR_RETRY;
    if (acms_kafka_flush(acms_service_kafka(j->svc), FLUSH_TIMEOUT_MS) != ACMS_OK)
        return ACMS_ERR_RETRY;
    acms_log_info(j->run, j->id, "feedback: %s", fb->performance_feedback);
    return ACMS_OK;
}

static int first_of_name(const feedback_outcome *o, size_t i)
{
    for (size_t k = 0; k < i; k++)
        if (!strcmp(o[k].step, o[i].step))
            return 0;
    return 1;
}

/* The fix_effective insights of this run: suggestions its validation credited as resolved (fixes.h),
 * each with its record so far. ACMS_OK or ACMS_ERR_RETRY. */
static int fix_insights(job *j, const char *pipeline, Acms__V1__LearningInsight ***v, size_t *n)
{
    acms_arena *a = j->a;
    const char **kv;
    size_t nkv;
    *v = NULL;
    *n = 0;
    if (acms_redis_hgetall(j->r, a, feedback_key_runfixes(a, j->run), &kv, &nkv) != ACMS_OK)
        return ACMS_ERR_RETRY;
    const char *credited = NULL;
    for (size_t i = 0; i + 1 < nkv; i += 2)
        if (!strcmp(kv[i], "fixes_resolved"))
            credited = kv[i + 1];
    feedback_fixset set;
    feedback_fix_resolved_parse(a, credited, &set);
    for (size_t i = 0; i < set.n; i++) {
        if (acms_redis_hgetall(j->r, a, feedback_key_fix(a, set.v[i].code), &kv, &nkv) != ACMS_OK)
            return ACMS_ERR_RETRY;
        for (size_t k = 0; k < set.v[i].nids; k++) {
            const char *off = acms_arena_printf(a, "%s:offered", set.v[i].ids[k]);
            const char *res = acms_arena_printf(a, "%s:resolved", set.v[i].ids[k]);
            uint64_t offered = 0, resolved = 0;
            for (size_t f = 0; f + 1 < nkv; f += 2) {
                if (!strcmp(kv[f], off))
                    offered = strtoull(kv[f + 1], NULL, 10);
                else if (!strcmp(kv[f], res))
                    resolved = strtoull(kv[f + 1], NULL, 10);
            }
            *v = acms_arena_push(a, *v, n, sizeof **v);
            (*v)[*n - 1] = feedback_fix_insight(a, pipeline, set.v[i].code, set.v[i].ids[k], offered, resolved);
        }
    }
    return ACMS_OK;
}

/* A result is learned from only when the run's record in Redis (written by the coordinator that ran
 * it) names the same pipeline, environment and owner: a result forged on the bus for another run,
 * or for a run that never existed, is dead-lettered. ACMS_OK, ACMS_ERR_RETRY or ACMS_ERR_POISON. */
static int result_matches_run(job *j, const Acms__V1__ExecutionResult *res, const char **reason)
{
    const char **kv;
    size_t nkv;
    char key[300];
    if (acms_redis_hgetall(j->r, j->a, acms_key_run(key, sizeof key, j->run), &kv, &nkv) != ACMS_OK)
        return ACMS_ERR_RETRY;
    const char *pipeline = NULL, *env = NULL, *owner = NULL;
    for (size_t k = 0; k + 1 < nkv; k += 2) {
        if (!strcmp(kv[k], "pipeline"))
            pipeline = kv[k + 1];
        else if (!strcmp(kv[k], "environment"))
            env = kv[k + 1];
        else if (!strcmp(kv[k], "owner"))
            owner = kv[k + 1];
    }
    if (!owner || !*owner)
        *reason = "execution result for a run no coordinator ran";
    else if (!pipeline || strcmp(pipeline, res->pipeline ? res->pipeline : ""))
        *reason = "execution result names another pipeline than its run";
    else if (!env || strcmp(env, res->environment ? res->environment : ""))
        *reason = "execution result names another environment than its run";
    else if (strcmp(owner, res->owner ? res->owner : ""))
        *reason = "execution result from another owner than the run's coordinator";
    else
        return ACMS_OK;
    return ACMS_ERR_POISON;
}

static int on_result(job *j, const Acms__V1__ExecutionResult *res, const char **reason)
{
    acms_arena *a = j->a;
    const char *seen = feedback_key_seen(a, j->id);
    int s = acms_redis_exists(j->r, seen);
    if (s != 0)
        return s < 0 ? ACMS_ERR_RETRY : ACMS_OK;
    if ((s = result_matches_run(j, res, reason)) != ACMS_OK)
        return s;
    const acms_profiles *prof = acms_service_profiles(j->svc);
    const acms_catalog *cat = prof ? &prof->catalog : NULL;
    const Acms__V1__Environment *env = prof && res->environment ? acms_profiles_env(prof, res->environment) : NULL;
    const char *mode = res->learning_mode && *res->learning_mode ? res->learning_mode
                       : env && env->learning_mode && *env->learning_mode ? env->learning_mode : "shadow";
    int learning = strcmp(mode, "off") != 0;
    const char *pipeline = res->pipeline && *res->pipeline ? res->pipeline : NULL;
    size_t n = res->n_steps;
    feedback_outcome *o = acms_arena_alloc(a, (n ? n : 1) * sizeof *o);
    for (size_t i = 0; i < n; i++) {
        feedback_outcome_analyze(a, res->steps[i], cat, &o[i]);
        if (res->started_ms > 0) /* the fits' time: every step of a run at the run's start */
            o[i].t_ms = res->started_ms;
    }
    run_totals t;
    totals_of(a, o, n, &t);
    const char *updated = acms_arena_printf(a, "%lld", (long long)(res->finished_ms ? res->finished_ms : res->meta->timestamp_ms));
    Acms__V1__LearningInsight **fins;
    size_t nfins;
    if (fix_insights(j, pipeline ? pipeline : "", &fins, &nfins) != ACMS_OK)
        return ACMS_ERR_RETRY;

    for (int tries = 0; tries < APPLY_TRIES; tries++) {
        feedback_hash_op *ops = acms_arena_alloc(a, (2 * n + 1) * sizeof *ops);
        size_t nops = 0;
        Acms__V1__LearningInsight **ins = NULL;
        size_t nins = 0;
        t.recs = 0;
        for (size_t i = 0; pipeline && i < n; i++) {
            if (!(o[i].observed || o[i].resource_killed) || !*o[i].step || !first_of_name(o, i))
                continue;
            const char *skey = feedback_key_stats(a, pipeline, o[i].step);
            const char **kv;
            size_t nkv;
            if (acms_redis_hgetall(j->r, a, skey, &kv, &nkv) != ACMS_OK)
                return ACMS_ERR_RETRY;
            feedback_stats st;
            if (feedback_stats_from_hash(&st, a, kv, nkv) != ACMS_OK)
                acms_log_warn(j->run, j->id, "%s: malformed histogram reset", skey);
            const char *cmd = res->steps[i]->command_hash ? res->steps[i]->command_hash : "";
            const char *learned_cmd = "";
            for (size_t k = 0; k + 1 < nkv; k += 2)
                if (!strcmp(kv[k], "command_hash"))
                    learned_cmd = kv[k + 1];
            if (!acms_store_command_applies(learned_cmd, cmd)) {
                /* another program now: its history starts afresh (the version token is kept) */
                const char *version = st.version;
                feedback_stats_init(&st);
                st.version = version;
                acms_log_info(j->run, j->id, "%s/%s: the step's command changed: its history starts afresh", pipeline,
                              o[i].step);
            }
            feedback_stats_track(&st, &o[i]);
            feedback_learn_observe(&st, &o[i]);
            feedback_learn_in in = {.catalog = cat, .instance_type = o[i].instance_type, .vcpu = o[i].configured_vcpu,
                                    .gpus = o[i].gpus, .mode = mode, .memory_scale = env ? env->memory_scale : 0,
                                    .allowed = env ? env->allowed_instance_types : NULL,
                                    .nallowed = env ? env->n_allowed_instance_types : 0};
            feedback_rec rec;
            int has = feedback_learn_recommend(&st, &in, &rec);

            feedback_hash_op *so = &ops[nops++];
            memset(so, 0, sizeof *so);
            so->key = skey;
            so->expect_version = st.version;
            so->ttl_s = FEEDBACK_STATS_TTL_S;
            so->nset = feedback_stats_to_hash(a, &st, &so->set);
            acms_hash_op_add(a, &so->set, &so->nset, "pipeline", pipeline);
            acms_hash_op_add(a, &so->set, &so->nset, "step", o[i].step);
            acms_hash_op_add(a, &so->set, &so->nset, "updated_ms", updated);
            if (*cmd)
                acms_hash_op_add(a, &so->set, &so->nset, "command_hash", cmd);
            if (!learning || !has)
                continue;
            feedback_hash_op *ro = &ops[nops++];
            memset(ro, 0, sizeof *ro);
            ro->key = feedback_key_rec(a, pipeline, o[i].step);
            ro->ttl_s = FEEDBACK_STATS_TTL_S;
            ro->replace = 1;
            ro->nset = feedback_rec_to_hash(a, &rec, updated, cmd, &ro->set);
            t.recs++;
            feedback_learn_insights(a, pipeline, &o[i], &st, &rec, &ins, &nins);
        }
        for (size_t k = 0; k < nfins; k++) {
            ins = acms_arena_push(a, ins, &nins, sizeof *ins);
            ins[nins - 1] = fins[k];
        }
        run_op(j, res, &t, &ops[nops++]);
        if (tries == 0 && publish_feedback(j, res, o, n, &t, ins, nins) != ACMS_OK)
            return ACMS_ERR_RETRY;
        int rc = feedback_store_apply(j->r, seen, ops, nops);
        if (rc < -1)
            return ACMS_ERR_RETRY;
        if (rc == 1) {
            count(j, "acms_feedback_runs_total", res->success ? "success=\"true\"" : "success=\"false\"",
                  "Execution results learned from", 1);
            count(j, "acms_feedback_recommendations_total", acms_arena_printf(a, "mode=\"%s\"", mode),
                  "Recommendations written", (double)t.recs);
            count(j, "acms_feedback_resource_kills_total", NULL, "Steps killed for resources", (double)t.kills);
            count(j, "acms_feedback_wasted_instance_hours_total", NULL, "Wasted instance-hours", t.wasted);
            if (j->metrics && t.has_slack)
                acms_metrics_set(j->metrics, "acms_feedback_median_memory_slack", NULL,
                                 "Median memory slack of the last run's successful steps", t.median_slack);
        }
        if (rc >= 0)
            return ACMS_OK;
    }
    acms_log_warn(j->run, j->id, "stats kept changing under us; retrying the event");
    return ACMS_ERR_RETRY;
}

/* --- validation results: fix statistics ------------------------------------------------------- */

static int on_validation(job *j, const Acms__V1__ValidationResultEvent *ev)
{
    acms_arena *a = j->a;
    if (!ev->result || !feedback_fix_phase_counts(ev->result->phase))
        return ACMS_OK;
    if (!ev->pipeline || !*ev->pipeline) {
        acms_log_debug(j->run, j->id, "validation result without pipeline name: no fix statistics");
        return ACMS_OK;
    }
    const char *seen = feedback_key_seen(a, j->id);
    int s = acms_redis_exists(j->r, seen);
    if (s != 0)
        return s < 0 ? ACMS_ERR_RETRY : ACMS_OK;
    feedback_fixset cur;
    feedback_fixset_collect(a, ev->result, &cur);
    const char *lkey = feedback_key_lastissues(a, ev->pipeline, ev->environment ? ev->environment : "");
    for (int tries = 0; tries < APPLY_TRIES; tries++) {
        const char **kv;
        size_t nkv;
        if (acms_redis_hgetall(j->r, a, lkey, &kv, &nkv) != ACMS_OK)
            return ACMS_ERR_RETRY;
        const char *version = "0";
        for (size_t i = 0; i + 1 < nkv; i += 2)
            if (!strcmp(kv[i], "version"))
                version = kv[i + 1];
        feedback_fixset prev;
        feedback_fixset_from_hash(a, kv, nkv, &prev);
        feedback_fix_incr *inc;
        size_t ninc = feedback_fix_diff(a, &prev, &cur, &inc);

        feedback_hash_op *ops = acms_arena_alloc(a, (ninc + 2) * sizeof *ops);
        size_t nops = 1;
        ops[0].key = lkey;
        ops[0].expect_version = version;
        ops[0].replace = 1;
        ops[0].ttl_s = LASTISSUES_TTL_S;
        for (size_t i = 0; i < cur.n; i++)
            acms_hash_op_add(a, &ops[0].set, &ops[0].nset, cur.v[i].code, feedback_fixset_join(a, &cur.v[i]));
        size_t resolved = 0;
        for (size_t i = 0; i < ninc; i++) {
            const char *fkey = feedback_key_fix(a, inc[i].code);
            size_t k;
            for (k = 1; k < nops && strcmp(ops[k].key, fkey) != 0; k++) {
            }
            if (k == nops) {
                memset(&ops[nops++], 0, sizeof ops[0]);
                ops[k].key = fkey;
            }
            acms_hash_op_add(a, &ops[k].incr, &ops[k].nincr, inc[i].field, "1");
            resolved += strstr(inc[i].field, ":resolved") != NULL;
        }
        const char *credited = feedback_fix_resolved_join(a, inc, ninc);
        if (*credited) { /* for the run's ExecutionFeedback (fix_effective insights) */
            feedback_hash_op *ro = &ops[nops++];
            memset(ro, 0, sizeof *ro);
            ro->key = feedback_key_runfixes(a, j->run);
            ro->ttl_s = FEEDBACK_RUN_TTL_S;
            acms_hash_op_add(a, &ro->set, &ro->nset, "fixes_resolved", credited);
        }
        int rc = feedback_store_apply(j->r, seen, ops, nops);
        if (rc < -1)
            return ACMS_ERR_RETRY;
        if (rc == 1) {
            count(j, "acms_feedback_fix_offered_total", NULL, "Suggestions offered (fix statistics)", (double)(ninc - resolved));
            count(j, "acms_feedback_fix_resolved_total", NULL, "Suggestions credited with a resolved issue", (double)resolved);
            if (resolved)
                acms_log_info(j->run, j->id, "fix statistics: %zu suggestions credited as resolved for %s/%s", resolved,
                              ev->pipeline, ev->environment);
        }
        if (rc >= 0)
            return ACMS_OK;
    }
    return ACMS_ERR_RETRY;
}

/* --- alerts ----------------------------------------------------------------------------------- */

static int on_alert(job *j, const Acms__V1__Alert *al, const char **reason)
{
    if (!al->name || !*al->name || !al->pipeline || !*al->pipeline) {
        *reason = "alert without name or pipeline";
        return ACMS_ERR_POISON;
    }
    feedback_hash_op op = {.key = feedback_key_alerts(j->a, al->pipeline)};
    acms_hash_op_add(j->a, &op.incr, &op.nincr, al->name, "1");
    int rc = feedback_store_apply(j->r, feedback_key_seen(j->a, j->id), &op, 1);
    if (rc < -1)
        return ACMS_ERR_RETRY;
    if (rc == 1)
        count(j, "acms_feedback_alerts_total", acms_arena_printf(j->a, "alertname=\"%s\"", al->name),
              "Alerts counted per pipeline", 1);
    return ACMS_OK;
}

/* --- service ------------------------------------------------------------------------------------ */

static int handle(void *ud, acms_service *svc, const acms_msg *m, const char **reason)
{
    (void)ud;
    acms_arena *a = acms_arena_new(0);
    int rc = ACMS_ERR_POISON;
    int topic = acms_cfg_topic_id(acms_service_cfg(svc), m->topic);
    const ProtobufCMessageDescriptor *desc = topic == ACMS_TOPIC_EXEC_RESULTS         ? &acms__v1__execution_result__descriptor
                                             : topic == ACMS_TOPIC_VALIDATION_RESULTS ? &acms__v1__validation_result_event__descriptor
                                             : topic == ACMS_TOPIC_MONITOR_ALERTS     ? &acms__v1__alert__descriptor
                                                                                      : NULL;
    if (!desc) {
        *reason = "message from an unexpected topic";
        goto out;
    }
    ProtobufCMessage *msg = acms_pb_decode(a, desc, m->payload, m->len, reason);
    if (!msg)
        goto out;
    const Acms__V1__EventMeta *meta = acms_pb_meta(msg);
    if (!meta || !meta->event_id || !*meta->event_id || !meta->run_id || !*meta->run_id) {
        *reason = "event without event_id or run_id";
        goto out;
    }
    if ((*reason = feedback_input_problem(msg)) != NULL)
        goto out; /* impossible content: dead-lettered */
    job j = {.svc = svc, .r = acms_service_redis(svc), .metrics = acms_service_metrics(svc), .a = a,
             .run = meta->run_id, .id = meta->event_id, .traceparent = meta->traceparent};
    if (topic == ACMS_TOPIC_EXEC_RESULTS)
        rc = on_result(&j, (const Acms__V1__ExecutionResult *)msg, reason);
    else if (topic == ACMS_TOPIC_VALIDATION_RESULTS)
        rc = on_validation(&j, (const Acms__V1__ValidationResultEvent *)msg);
    else
        rc = on_alert(&j, (const Acms__V1__Alert *)msg, reason);
out:
    acms_arena_free(a);
    return rc;
}

static int init(acms_service *svc, void **out, char *errstr, size_t errstr_size)
{
    (void)errstr;
    (void)errstr_size;
    const acms_profiles *p = acms_service_profiles(svc);
    acms_log_info(NULL, NULL, "feedback: catalogue of %zu instance types, %zu environments", p ? p->catalog.n : 0,
                  p ? p->nenvs : 0);
    *out = NULL;
    return ACMS_OK;
}

int main(int argc, char **argv)
{
    static const acms_topic inputs[] = {ACMS_TOPIC_EXEC_RESULTS, ACMS_TOPIC_VALIDATION_RESULTS, ACMS_TOPIC_MONITOR_ALERTS};
    static const acms_service_ops ops = {
        .name = SOURCE,
        .summary = "FeedbackCollector: outcomes, decayed usage history, recommendations, fix statistics",
        .extra_help = NULL,
        .inputs = inputs,
        .ninputs = sizeof inputs / sizeof inputs[0],
        .needs_profiles = 1,
        .init = init,
        .handle = handle,
    };
    return acms_service_main(argc, argv, &ops);
}
