/* on_result.c: an ExecutionResult -> step outcomes, decayed usage history, recommendations and one
 * ExecutionFeedback per run. Invariants: a result is learned from only when its run's record in
 * Redis agrees with it; the ExecutionFeedback is acknowledged by the broker before the event's
 * Redis effects are applied, and those effects (stats, recommendations, the run's record) are
 * applied with the seen-mark in one versioned script: a redelivery neither loses the feedback nor
 * doubles a counter, and a stats hash changed by another replica meanwhile is re-read. */
#include <stdlib.h>
#include <string.h>

#include "config_store.h" /* the configuration store's command rule */
#include "history.h"
#include "learn.h"
#include "run_feedback.h"
#include "run_state.h"

/* What one result teaches, computed once before the apply loop. */
typedef struct result_in {
    const Acms__V1__ExecutionResult *res;
    const acms_catalog *cat;
    const Acms__V1__Environment *env;
    const char *mode;     /* learning mode: off | shadow | ... */
    int learning;         /* recommendations are written */
    const char *pipeline; /* NULL: no per-step learning */
    const char *updated;  /* updated_ms of the written hashes */
    feedback_outcome *o;  /* one per step */
    size_t n;
    feedback_run_totals t;
    Acms__V1__LearningInsight **fins; /* fix_effective insights */
    size_t nfins;
} result_in;

/* What one try writes: the ops and the insights for the ExecutionFeedback. */
typedef struct result_out {
    feedback_hash_op *ops;
    size_t nops;
    Acms__V1__LearningInsight **ins;
    size_t nins;
} result_out;

static int first_of_name(const feedback_outcome *o, size_t i)
{
    for (size_t k = 0; k < i; k++)
        if (!strcmp(o[k].step, o[i].step))
            return 0;
    return 1;
}

/* A result is learned from only when the run's record in Redis (written by the coordinator that ran
 * it) names the same pipeline, environment and owner: a result forged on the bus for another run,
 * or for a run that never existed, is dead-lettered. ACMS_OK, ACMS_ERR_RETRY or ACMS_ERR_POISON. */
static int result_matches_run(feedback_job *j, const Acms__V1__ExecutionResult *res, const char **reason)
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

/* Analyzes the steps and reads what the apply loop needs. ACMS_OK or ACMS_ERR_RETRY. */
static int result_prepare(feedback_job *j, const Acms__V1__ExecutionResult *res, result_in *in)
{
    acms_arena *a = j->a;
    const acms_profiles *prof = acms_service_profiles(j->svc);
    memset(in, 0, sizeof *in);
    in->res = res;
    in->cat = prof ? &prof->catalog : NULL;
    in->env = prof && res->environment ? acms_profiles_env(prof, res->environment) : NULL;
    in->mode = res->learning_mode && *res->learning_mode                      ? res->learning_mode
               : in->env && in->env->learning_mode && *in->env->learning_mode ? in->env->learning_mode
                                                                              : "shadow";
    in->learning = strcmp(in->mode, "off") != 0;
    in->pipeline = res->pipeline && *res->pipeline ? res->pipeline : NULL;
    in->n = res->n_steps;
    in->o = acms_arena_alloc(a, (in->n ? in->n : 1) * sizeof *in->o);
    for (size_t i = 0; i < in->n; i++) {
        feedback_outcome_analyze(a, res->steps[i], in->cat, &in->o[i]);
        if (res->started_ms > 0) /* the fits' time: every step of a run at the run's start */
            in->o[i].t_ms = res->started_ms;
    }
    feedback_run_totals_of(a, in->o, in->n, &in->t);
    in->updated = acms_arena_printf(a, "%lld",
                                    (long long)(res->finished_ms ? res->finished_ms : res->meta->timestamp_ms));
    return feedback_run_fix_insights(j, in->pipeline ? in->pipeline : "", &in->fins, &in->nfins);
}

/* Reads step i's stats hash into *st; a changed command starts its history afresh (the version
 * token is kept). ACMS_OK or ACMS_ERR_RETRY. */
static int step_stats_read(feedback_job *j, const result_in *in, size_t i, const char *skey, feedback_stats *st)
{
    const char **kv;
    size_t nkv;
    if (acms_redis_hgetall(j->r, j->a, skey, &kv, &nkv) != ACMS_OK)
        return ACMS_ERR_RETRY;
    if (feedback_stats_from_hash(st, j->a, kv, nkv) != ACMS_OK)
        acms_log_warn(j->run, j->id, "%s: malformed histogram reset", skey);
    const char *cmd = in->res->steps[i]->command_hash ? in->res->steps[i]->command_hash : "";
    const char *learned_cmd = "";
    for (size_t k = 0; k + 1 < nkv; k += 2)
        if (!strcmp(kv[k], "command_hash"))
            learned_cmd = kv[k + 1];
    if (!acms_store_command_applies(learned_cmd, cmd)) {
        /* another program now: its history starts afresh (the version token is kept) */
        const char *version = st->version;
        feedback_stats_init(st);
        st->version = version;
        acms_log_info(j->run, j->id, "%s/%s: the step's command changed: its history starts afresh", in->pipeline,
                      in->o[i].step);
    }
    return ACMS_OK;
}

/* Step i's versioned stats write and, when learning yields one, its recommendation and insights.
 * ACMS_OK or ACMS_ERR_RETRY. */
static int step_ops(feedback_job *j, result_in *in, size_t i, result_out *out)
{
    acms_arena *a = j->a;
    const feedback_outcome *o = &in->o[i];
    const char *skey = feedback_key_stats(a, in->pipeline, o->step);
    const char *cmd = in->res->steps[i]->command_hash ? in->res->steps[i]->command_hash : "";
    feedback_stats st;
    if (step_stats_read(j, in, i, skey, &st) != ACMS_OK)
        return ACMS_ERR_RETRY;
    feedback_stats_track(&st, o);
    feedback_learn_observe(&st, o);
    const Acms__V1__Environment *env = in->env;
    feedback_learn_in lin = {.catalog = in->cat,
                             .instance_type = o->instance_type,
                             .vcpu = o->configured_vcpu,
                             .gpus = o->gpus,
                             .mode = in->mode,
                             .memory_scale = env ? env->memory_scale : 0,
                             .allowed = env ? env->allowed_instance_types : NULL,
                             .nallowed = env ? env->n_allowed_instance_types : 0};
    feedback_rec rec;
    int has = feedback_learn_recommend(&st, &lin, &rec);

    feedback_hash_op *so = &out->ops[out->nops++];
    memset(so, 0, sizeof *so);
    so->key = skey;
    so->expect_version = st.version;
    so->ttl_s = FEEDBACK_STATS_TTL_S;
    so->nset = feedback_stats_to_hash(a, &st, &so->set);
    acms_hash_op_add(a, &so->set, &so->nset, "pipeline", in->pipeline);
    acms_hash_op_add(a, &so->set, &so->nset, "step", o->step);
    acms_hash_op_add(a, &so->set, &so->nset, "updated_ms", in->updated);
    if (*cmd)
        acms_hash_op_add(a, &so->set, &so->nset, "command_hash", cmd);
    if (!in->learning || !has)
        return ACMS_OK;
    feedback_hash_op *ro = &out->ops[out->nops++];
    memset(ro, 0, sizeof *ro);
    ro->key = feedback_key_rec(a, in->pipeline, o->step);
    ro->ttl_s = FEEDBACK_STATS_TTL_S;
    ro->replace = 1;
    ro->nset = feedback_rec_to_hash(a, &rec, in->updated, cmd, &ro->set);
    in->t.recs++;
    feedback_learn_insights(a, in->pipeline, o, &st, &rec, &out->ins, &out->nins);
    return ACMS_OK;
}

/* One try's writes from the current stats: each observed step name once, then the run's record.
 * ACMS_OK or ACMS_ERR_RETRY. */
static int result_ops(feedback_job *j, result_in *in, result_out *out)
{
    acms_arena *a = j->a;
    memset(out, 0, sizeof *out);
    out->ops = acms_arena_alloc(a, (2 * in->n + 1) * sizeof *out->ops);
    in->t.recs = 0;
    for (size_t i = 0; in->pipeline && i < in->n; i++) {
        const feedback_outcome *o = &in->o[i];
        if (!(o->observed || o->resource_killed) || !*o->step || !first_of_name(in->o, i))
            continue;
        if (step_ops(j, in, i, out) != ACMS_OK)
            return ACMS_ERR_RETRY;
    }
    for (size_t k = 0; k < in->nfins; k++) {
        out->ins = acms_arena_push(a, out->ins, &out->nins, sizeof *out->ins);
        out->ins[out->nins - 1] = in->fins[k];
    }
    feedback_run_op(j, in->res, &in->t, &out->ops[out->nops++]);
    return ACMS_OK;
}

static void result_count(feedback_job *j, const result_in *in)
{
    const feedback_run_totals *t = &in->t;
    feedback_count(j, "acms_feedback_runs_total", in->res->success ? "success=\"true\"" : "success=\"false\"",
                   "Execution results learned from", 1);
    feedback_count(j, "acms_feedback_recommendations_total", acms_arena_printf(j->a, "mode=\"%s\"", in->mode),
                   "Recommendations written", (double)t->recs);
    feedback_count(j, "acms_feedback_resource_kills_total", NULL, "Steps killed for resources", (double)t->kills);
    feedback_count(j, "acms_feedback_wasted_instance_hours_total", NULL, "Wasted instance-hours", t->wasted);
    if (j->metrics && t->has_slack)
        acms_metrics_set(j->metrics, "acms_feedback_median_memory_slack", NULL,
                         "Median memory slack of the last run's successful steps", t->median_slack);
}

int feedback_on_result(feedback_job *j, const Acms__V1__ExecutionResult *res, const char **reason)
{
    const char *seen = feedback_key_seen(j->a, j->id);
    int s = acms_redis_exists(j->r, seen);
    if (s != 0)
        return s < 0 ? ACMS_ERR_RETRY : ACMS_OK;
    if ((s = result_matches_run(j, res, reason)) != ACMS_OK)
        return s;
    result_in in;
    if (result_prepare(j, res, &in) != ACMS_OK)
        return ACMS_ERR_RETRY;
    for (int tries = 0; tries < FEEDBACK_APPLY_TRIES; tries++) {
        result_out out;
        if (result_ops(j, &in, &out) != ACMS_OK)
            return ACMS_ERR_RETRY;
        if (tries == 0 && feedback_run_publish(j, res, in.o, in.n, &in.t, out.ins, out.nins) != ACMS_OK)
            return ACMS_ERR_RETRY;
        int rc = feedback_apply(j->r, seen, out.ops, out.nops);
        if (rc < 0 && rc != ACMS_ERR_STALE)
            return ACMS_ERR_RETRY;
        if (rc == 1)
            result_count(j, &in);
        if (rc >= 0)
            return ACMS_OK;
    }
    acms_log_warn(j->run, j->id, "stats kept changing under us; retrying the event");
    return ACMS_ERR_RETRY;
}
