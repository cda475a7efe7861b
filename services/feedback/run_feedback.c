/* run_feedback.c: a run's totals, its record and its ExecutionFeedback (run_feedback.h). The
 * feedback's event id is derived from the ExecutionResult's, so a redelivered result publishes a
 * duplicate that consumers drop; the fix insights come from the run's fixes hash, written by
 * on_validation.c while the run was validated. */
#include <stdlib.h>
#include <string.h>

#include "fixes.h"
#include "run_feedback.h"

#define FLUSH_TIMEOUT_MS 5000

static const char *fmt(acms_arena *a, double v)
{
    return acms_arena_printf(a, "%.6f", v);
}

void feedback_run_totals_of(acms_arena *a, const feedback_outcome *o, size_t n, feedback_run_totals *t)
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

const feedback_hash_op *feedback_run_op(feedback_job *j, const Acms__V1__ExecutionResult *res,
                                        const feedback_run_totals *t, feedback_hash_op *op)
{
    acms_arena *a = j->a;
    memset(op, 0, sizeof *op);
    op->key = feedback_key_run(a, j->run);
    op->ttl_s = FEEDBACK_RUN_TTL_S;
    op->run_id = j->run; /* the run's retention (retention.h) */
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

static const char *performance_text(acms_arena *a, const feedback_run_totals *t)
{
    const char *slack = t->has_slack ? acms_arena_printf(a, "median memory slack %.0f%%", t->median_slack * 100.0)
                                     : "memory slack unknown";
    return acms_arena_printf(
        a,
        "%zu/%zu steps succeeded in %u attempts; %zu steps killed for resources; %.4f instance-hours "
        "(%.4f wasted); cost $%.4f; %s; %zu recommendations updated",
        t->succeeded, t->steps, (unsigned)t->attempts, t->kills, t->hours, t->wasted, t->cost, slack, t->recs);
}

int feedback_run_publish(feedback_job *j, const Acms__V1__ExecutionResult *res, const feedback_outcome *o, size_t n,
                         const feedback_run_totals *t, Acms__V1__LearningInsight **ins, size_t nins)
{
    acms_arena *a = j->a;
    Acms__V1__ExecutionFeedback *fb = acms_pb_new(a, &acms__v1__execution_feedback__descriptor);
    fb->meta = acms_meta_new(a, j->run, FEEDBACK_SOURCE, j->id, "feedback/insights", j->traceparent);
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

int feedback_run_fix_insights(feedback_job *j, const char *pipeline, Acms__V1__LearningInsight ***v, size_t *n)
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
