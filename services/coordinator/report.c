/* report.c: what the coordinator tells the bus. StepEvents (RUN_STARTED, STARTED, HEARTBEAT,
 * FINISHED, SKIPPED, RUN_FINISHED) and the run's ExecutionResult with every attempt, the
 * adaptations (prepare-time log, runtime adaptations, recovery changes), a failure analysis and
 * recovery suggestions. Ids are derived from the run's ConfigValidated event id and a salt, so a
 * resumed run re-publishing the same facts is de-duplicated downstream. Everything in the arena. */
#include "report.h"

#include <string.h>

#include "config_store.h"

static const char *s_or(const char *s, const char *dflt)
{
    return s && *s ? s : dflt;
}

Acms__V1__StepMetrics *coord_report_metrics(acms_arena *a, const coord_attempt *at)
{
    Acms__V1__StepMetrics *m = acms_pb_new(a, &acms__v1__step_metrics__descriptor);
    m->peak_rss_kb = at->peak_rss_kb;
    m->user_cpu_ms = at->user_cpu_ms;
    m->sys_cpu_ms = at->sys_cpu_ms;
    m->wall_ms = at->wall_ms;
    m->exit_code = at->exit_code;
    m->term_signal = at->term_signal;
    m->exit_reason = at->reason;
    m->mem_limit_mb = at->res.memory_mb;
    m->runtime_limit_s = at->res.max_runtime_s;
    m->vcpu = at->res.vcpu;
    m->stderr_tail = acms_arena_strdup(a, at->stderr_tail);
    return m;
}

static Acms__V1__Resources *resources(acms_arena *a, const coord_res *r)
{
    Acms__V1__Resources *x = acms_pb_new(a, &acms__v1__resources__descriptor);
    x->memory_mb = r->memory_mb;
    x->vcpu = r->vcpu;
    x->cpu_time_s = r->cpu_time_s;
    return x;
}

/* The stored configuration that runs (exact id@version, "" when submitted inline) and its hash. */
static void config_of(acms_arena *a, const coord_run *r, char **ref, char **hash)
{
    const Acms__V1__RuntimeMetadata *md = r->rc ? r->rc->metadata : NULL;
    *ref = acms_arena_strdup(a, md ? s_or(md->config_ref, "") : "");
    *hash = acms_arena_strdup(a, md ? s_or(md->config_hash, "") : "");
}

static Acms__V1__EventMeta *meta(acms_arena *a, const coord_run *r, const char *salt)
{
    return acms_meta_new(a, r->id, COORD_SERVICE, salt && r->cause_id[0] ? r->cause_id : NULL, salt, r->traceparent);
}

Acms__V1__StepEvent *coord_report_step(acms_arena *a, const coord_run *r, const coord_step *s,
                                       Acms__V1__StepEventKind kind, const char *salt)
{
    Acms__V1__StepEvent *e = acms_pb_new(a, &acms__v1__step_event__descriptor);
    e->meta = meta(a, r, salt);
    e->pipeline = acms_arena_strdup(a, s_or(r->pipeline, ""));
    e->environment = acms_arena_strdup(a, s_or(r->environment, ""));
    e->step = acms_arena_strdup(a, s->cfg->name);
    e->attempt = s->attempt;
    e->kind = kind;
    e->status = acms_arena_strdup(a, coord_state_name(s->state));
    e->message = acms_arena_strdup(a, s->message);
    e->step_type = acms_arena_strdup(a, s_or(s->cfg->type, ""));
    e->max_runtime_s = s->res.max_runtime_s;
    e->memory_mb = s->res.memory_mb;
    e->vcpu = s->res.vcpu;
    config_of(a, r, &e->config_ref, &e->config_hash);
    Acms__V1__StepMetrics *m = NULL;
    if (kind == ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_FINISHED && s->nattempts) {
        m = coord_report_metrics(a, &s->attempts[s->nattempts - 1]);
        /* the attempt's own limits, not those of the next attempt */
        e->memory_mb = m->mem_limit_mb;
        e->max_runtime_s = m->runtime_limit_s;
    } else {
        m = acms_pb_new(a, &acms__v1__step_metrics__descriptor);
        m->mem_limit_mb = s->res.memory_mb;
        m->runtime_limit_s = s->res.max_runtime_s;
        m->vcpu = s->res.vcpu;
        if (kind == ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_HEARTBEAT) {
            m->rss_kb = s->live.rss_kb;
            m->peak_rss_kb = s->live.peak_rss_kb;
            m->user_cpu_ms = s->live.user_cpu_ms;
            m->sys_cpu_ms = s->live.sys_cpu_ms;
            m->wall_ms = s->live.wall_ms;
        }
    }
    e->metrics = m;
    return e;
}

Acms__V1__StepEvent *coord_report_run(acms_arena *a, const coord_run *r, Acms__V1__StepEventKind kind,
                                      const char *status, const char *message)
{
    Acms__V1__StepEvent *e = acms_pb_new(a, &acms__v1__step_event__descriptor);
    e->meta = meta(a, r,
                   kind == ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_RUN_STARTED ? "run/started" : "run/finished");
    e->pipeline = acms_arena_strdup(a, s_or(r->pipeline, ""));
    e->environment = acms_arena_strdup(a, s_or(r->environment, ""));
    e->kind = kind;
    e->status = acms_arena_strdup(a, status);
    e->message = acms_arena_strdup(a, s_or(message, ""));
    e->step_count = (uint32_t)r->n;
    config_of(a, r, &e->config_ref, &e->config_hash);
    return e;
}

const char *coord_report_status(const coord_run *r)
{
    int failed = 0, cancelled = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (r->steps[i].state == COORD_STEP_FAILED && !r->steps[i].cfg->optional)
            failed = 1;
        if (r->steps[i].state == COORD_STEP_CANCELLED)
            cancelled = 1;
    }
    if (r->cancel && cancelled)
        return "cancelled";
    return failed ? "failed" : "succeeded";
}

static void add_record(acms_arena *a, Acms__V1__ExecutionResult *res, const char *step, const char *field,
                       const char *old_value, const char *new_value, const char *reason)
{
    Acms__V1__AdaptationRecord *ar = acms_pb_new(a, &acms__v1__adaptation_record__descriptor);
    ar->stage = acms_arena_strdup(a, "recovery");
    ar->step = acms_arena_strdup(a, step);
    ar->field = acms_arena_strdup(a, field);
    ar->old_value = acms_arena_strdup(a, old_value);
    ar->new_value = acms_arena_strdup(a, new_value);
    ar->reason = acms_arena_strdup(a, reason);
    ar->safety_score = 1.0;
    ar->applied = 1;
    res->adaptations = acms_arena_push(a, res->adaptations, &res->n_adaptations, sizeof *res->adaptations);
    res->adaptations[res->n_adaptations - 1] = ar;
}

/* Recovery records: what changed between consecutive attempts of a step, and why. */
static void recovery_records(acms_arena *a, Acms__V1__ExecutionResult *res, const coord_step *s)
{
    for (size_t k = 0; k + 1 < s->nattempts; k++) {
        const coord_attempt *p = &s->attempts[k], *q = &s->attempts[k + 1];
        const char *why = p->recovery[0] ? p->recovery : p->cause;
        if (p->res.memory_mb != q->res.memory_mb)
            add_record(a, res, s->cfg->name, "resources.memory_mb",
                       acms_arena_printf(a, "%llu", (unsigned long long)p->res.memory_mb),
                       acms_arena_printf(a, "%llu", (unsigned long long)q->res.memory_mb), why);
        if (p->res.max_runtime_s != q->res.max_runtime_s)
            add_record(a, res, s->cfg->name, "max_runtime_s", acms_arena_printf(a, "%u", p->res.max_runtime_s),
                       acms_arena_printf(a, "%u", q->res.max_runtime_s), why);
        if (p->res.cpu_time_s != q->res.cpu_time_s)
            add_record(a, res, s->cfg->name, "resources.cpu_time_s",
                       acms_arena_printf(a, "%llu", (unsigned long long)p->res.cpu_time_s),
                       acms_arena_printf(a, "%llu", (unsigned long long)q->res.cpu_time_s), why);
        if (strcmp(p->res.instance_type, q->res.instance_type))
            add_record(a, res, s->cfg->name, "instance_type", p->res.instance_type, q->res.instance_type, why);
    }
}

#define ANALYSIS_MAX 8192

/* Appends a sentence to the analysis, which stays under ANALYSIS_MAX bytes. */
static char *append(acms_arena *a, char *text, const char *add)
{
    size_t have = text ? strlen(text) : 0;
    if (have >= ANALYSIS_MAX)
        return text;
    if (have + strlen(add) + 1 >= ANALYSIS_MAX)
        return acms_arena_printf(a, "%s%s(more in the step records)", text ? text : "", have ? " " : "");
    return have ? acms_arena_printf(a, "%s %s", text, add) : acms_arena_strdup(a, add);
}

static void suggest(acms_arena *a, Acms__V1__ExecutionResult *res, const char *text)
{
    for (size_t i = 0; i < res->n_recovery_suggestions; i++)
        if (!strcmp(res->recovery_suggestions[i], text))
            return;
    acms_pb_add_string(a, &res->recovery_suggestions, &res->n_recovery_suggestions, text);
}

static Acms__V1__AttemptRecord *attempt_record(acms_arena *a, const coord_attempt *t)
{
    Acms__V1__AttemptRecord *ar = acms_pb_new(a, &acms__v1__attempt_record__descriptor);
    ar->attempt = t->attempt;
    ar->reason = t->reason;
    ar->metrics = coord_report_metrics(a, t);
    ar->cause = acms_arena_strdup(a, t->cause);
    ar->recovery = acms_arena_strdup(a, t->recovery);
    ar->resources = resources(a, &t->res);
    ar->runtime_limit_s = t->res.max_runtime_s;
    ar->started_ms = t->started_ms;
    ar->finished_ms = t->finished_ms;
    ar->sandbox = acms_arena_strdup(a, t->sandbox);
    ar->live_adaptations = acms_arena_strdup(a, t->live);
    return ar;
}

/* A step's record: state, resources of its last attempt, command hash, sizing, every attempt. */
static Acms__V1__StepResult *step_result(acms_arena *a, const coord_step *s)
{
    Acms__V1__StepResult *sr = acms_pb_new(a, &acms__v1__step_result__descriptor);
    sr->name = acms_arena_strdup(a, s->cfg->name);
    sr->status = acms_arena_strdup(a, coord_state_name(s->state));
    sr->optional = s->cfg->optional;
    sr->instance_type = acms_arena_strdup(a, s->res.instance_type);
    sr->step_type = acms_arena_strdup(a, s_or(s->cfg->type, ""));
    sr->started_ms = s->started_ms;
    sr->finished_ms = s->finished_ms;
    const coord_res *last_res = s->nattempts ? &s->attempts[s->nattempts - 1].res : &s->res;
    sr->resources = resources(a, last_res);
    sr->max_runtime_s = last_res->max_runtime_s;
    char cmd_hash[65];
    acms_store_command_hash(s->cfg->command, s->cfg->n_command, cmd_hash);
    sr->command_hash = acms_arena_strdup(a, cmd_hash);
    if (s->cfg->sizing) /* with this run's input value, for the learning engine */
        sr->sizing = (Acms__V1__Sizing *)acms_pb_copy(a, &s->cfg->sizing->base);
    for (size_t k = 0; k < s->nattempts; k++) {
        sr->attempts = acms_arena_push(a, sr->attempts, &sr->n_attempts, sizeof *sr->attempts);
        sr->attempts[sr->n_attempts - 1] = attempt_record(a, &s->attempts[k]);
    }
    if (s->nattempts)
        sr->metrics = coord_report_metrics(a, &s->attempts[s->nattempts - 1]);
    return sr;
}

/* The step's part of the failure analysis (and its suggestion for the operator): why it failed,
 * how it recovered, or its name added to the skipped list. */
static void analyse_step(acms_arena *a, Acms__V1__ExecutionResult *res, const coord_step *s, char **analysis,
                         char **skipped)
{
    const coord_attempt *last = s->nattempts ? &s->attempts[s->nattempts - 1] : NULL;
    if (s->state == COORD_STEP_FAILED) {
        *analysis = append(a, *analysis,
                           acms_arena_printf(a, "%s step '%s' failed after %zu attempt(s): %s (%s).",
                                             s->cfg->optional ? "Optional" : "Required", s->cfg->name, s->nattempts,
                                             last ? last->cause : "never started",
                                             last && last->recovery[0] ? last->recovery : "no recovery"));
        if (s->cfg->optional)
            *analysis = append(a, *analysis, "The run continued without it (graceful degradation).");
        if (s->suggestion[0])
            suggest(a, res, acms_arena_printf(a, "%s: %s", s->cfg->name, s->suggestion));
        if (last && last->stderr_tail[0]) {
            const char *nl = strrchr(last->stderr_tail, '\n');
            *analysis = append(a, *analysis,
                               acms_arena_printf(a, "Last stderr line of '%s': %.200s", s->cfg->name,
                                                 nl ? nl + 1 : last->stderr_tail));
        }
    } else if (s->state == COORD_STEP_SUCCEEDED && s->nattempts > 1 && last) {
        *analysis = append(a, *analysis,
                           acms_arena_printf(a, "Step '%s' recovered: succeeded on attempt %u after %s.", s->cfg->name,
                                             last->attempt, coord_reason_name(s->attempts[s->nattempts - 2].reason)));
    } else if (s->state == COORD_STEP_SKIPPED) {
        *skipped = *skipped ? acms_arena_printf(a, "%s, %s", *skipped, s->cfg->name)
                            : acms_arena_strdup(a, s->cfg->name);
    }
}

/* The prepare-time log (its records live in the run's arena, which outlives this message), then
 * the runtime adaptations. */
static void add_adaptations(acms_arena *a, Acms__V1__ExecutionResult *res, const coord_run *r,
                            Acms__V1__AdaptationRecord *const *runtime, size_t nruntime)
{
    for (size_t i = 0; i < r->rc->n_adaptation_log; i++) {
        res->adaptations = acms_arena_push(a, res->adaptations, &res->n_adaptations, sizeof *res->adaptations);
        res->adaptations[res->n_adaptations - 1] = r->rc->adaptation_log[i];
    }
    for (size_t i = 0; i < nruntime; i++) {
        res->adaptations = acms_arena_push(a, res->adaptations, &res->n_adaptations, sizeof *res->adaptations);
        res->adaptations[res->n_adaptations - 1] = runtime[i];
    }
}

Acms__V1__ExecutionResult *coord_report_result(acms_arena *a, const coord_run *r,
                                               Acms__V1__AdaptationRecord *const *runtime, size_t nruntime)
{
    Acms__V1__ExecutionResult *res = acms_pb_new(a, &acms__v1__execution_result__descriptor);
    res->meta = meta(a, r, "result");
    res->pipeline = acms_arena_strdup(a, s_or(r->pipeline, ""));
    res->environment = acms_arena_strdup(a, s_or(r->environment, ""));
    res->status = acms_arena_strdup(a, coord_report_status(r));
    res->success = !strcmp(res->status, "succeeded");
    res->started_ms = r->started_ms;
    res->finished_ms = acms_now_ms();
    config_of(a, r, &res->config_ref, &res->config_hash);
    res->learning_mode = acms_arena_strdup(a, s_or(r->env->learning_mode, ""));
    add_adaptations(a, res, r, runtime, nruntime);
    char *analysis = NULL, *skipped = NULL;
    for (size_t i = 0; i < r->n; i++) {
        const coord_step *s = &r->steps[i];
        res->steps = acms_arena_push(a, res->steps, &res->n_steps, sizeof *res->steps);
        res->steps[res->n_steps - 1] = step_result(a, s);
        recovery_records(a, res, s);
        analyse_step(a, res, s, &analysis, &skipped);
    }
    if (skipped)
        analysis = append(a, analysis, acms_arena_printf(a, "Skipped (never started): %s.", skipped));
    if (r->cancel && !strcmp(res->status, "cancelled"))
        analysis = append(
            a, analysis,
            acms_arena_printf(a, "The run was cancelled%s%s.", r->cancel_reason[0] ? ": " : "", r->cancel_reason));
    res->failure_analysis = analysis ? analysis : acms_arena_strdup(a, "");
    return res;
}

size_t coord_report_fit(acms_arena *a, Acms__V1__ExecutionResult *res, size_t limit)
{
    size_t size = protobuf_c_message_get_packed_size(&res->base);
    if (size <= limit)
        return size;
    res->failure_analysis = acms_arena_printf(a,
                                              "%s%s(Trimmed to fit the message size limit: every attempt "
                                              "is in the step records in Redis.)",
                                              res->failure_analysis, *res->failure_analysis ? " " : "");
    /* first the stderr tails (they stay in the step hashes' attempts lists) */
    for (size_t i = 0; i < res->n_steps; i++) {
        Acms__V1__StepResult *sr = res->steps[i];
        if (sr->metrics)
            sr->metrics->stderr_tail = (char *)"";
        for (size_t k = 0; k < sr->n_attempts; k++)
            if (sr->attempts[k]->metrics)
                sr->attempts[k]->metrics->stderr_tail = (char *)"";
    }
    if (protobuf_c_message_get_packed_size(&res->base) <= limit)
        return protobuf_c_message_get_packed_size(&res->base);
    /* then every attempt but the last of each step */
    for (size_t i = 0; i < res->n_steps; i++) {
        Acms__V1__StepResult *sr = res->steps[i];
        if (sr->n_attempts > 1) {
            sr->attempts[0] = sr->attempts[sr->n_attempts - 1];
            sr->n_attempts = 1;
        }
    }
    return protobuf_c_message_get_packed_size(&res->base);
}
