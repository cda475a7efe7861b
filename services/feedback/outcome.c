/* outcome.c: the OutcomeAnalyzer (outcome.h).
 * Invariants: slacks are clamped to [0, 1] and only reported when their limit is known; hours and
 * cost are never negative; a step without attempts contributes its own metrics, not zero attempts. */
#include "outcome.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MS_PER_HOUR 3600000.0

const char *feedback_input_problem(const ProtobufCMessage *msg)
{
    if (!msg)
        return "no message";
    if (msg->descriptor == &acms__v1__execution_result__descriptor) {
        const Acms__V1__ExecutionResult *r = (const Acms__V1__ExecutionResult *)msg;
        if (r->n_steps == 0)
            return "execution result without steps";
        /* no pipeline has more (the adapter refuses it): a larger result is hostile, and matching
         * its steps against the run's record would cost quadratic time */
        if (r->n_steps > ACMS_MAX_STEPS)
            return "execution result with more steps than a pipeline may have (ACMS_MAX_STEPS)";
        for (size_t i = 0; i < r->n_steps; i++)
            if (!r->steps[i] || !r->steps[i]->name || !*r->steps[i]->name)
                return "execution result with a nameless step";
    } else if (msg->descriptor == &acms__v1__validation_result_event__descriptor) {
        if (!((const Acms__V1__ValidationResultEvent *)msg)->result)
            return "validation result event without a result";
    }
    return NULL;
}

const char *feedback_exit_reason_name(Acms__V1__ExitReason r)
{
    switch (r) {
    case ACMS__V1__EXIT_REASON__EXIT_REASON_OK: return "ok";
    case ACMS__V1__EXIT_REASON__EXIT_REASON_NONZERO: return "nonzero";
    case ACMS__V1__EXIT_REASON__EXIT_REASON_SIGNAL: return "signal";
    case ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY: return "memory";
    case ACMS__V1__EXIT_REASON__EXIT_REASON_TIME: return "time";
    case ACMS__V1__EXIT_REASON__EXIT_REASON_CPU_TIME: return "cpu_time";
    case ACMS__V1__EXIT_REASON__EXIT_REASON_SPAWN_FAILED: return "spawn_failed";
    case ACMS__V1__EXIT_REASON__EXIT_REASON_UNREACHABLE: return "unreachable";
    case ACMS__V1__EXIT_REASON__EXIT_REASON_CANCELLED: return "cancelled";
    case ACMS__V1__EXIT_REASON__EXIT_REASON_LOST: return "lost";
    case ACMS__V1__EXIT_REASON__EXIT_REASON_INTERRUPTED: return "interrupted";
    default: return "unspecified";
    }
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

double feedback_median(double *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

static double clamp01(double x)
{
    return x < 0 ? 0 : x > 1 ? 1 : x;
}

/* The memory limit an attempt ran with. */
static uint64_t limit_of(const Acms__V1__StepMetrics *m, const Acms__V1__Resources *ar, const Acms__V1__Resources *sr)
{
    if (m && m->mem_limit_mb)
        return m->mem_limit_mb;
    if (ar && ar->memory_mb)
        return ar->memory_mb;
    return sr ? sr->memory_mb : 0;
}

static double vcpu_of(const Acms__V1__StepMetrics *m, const Acms__V1__Resources *ar, const Acms__V1__Resources *sr)
{
    if (m && m->vcpu > 0)
        return m->vcpu;
    if (ar && ar->vcpu > 0)
        return ar->vcpu;
    return sr ? sr->vcpu : 0;
}

static int is_resource_kill(Acms__V1__ExitReason r)
{
    return r == ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY || r == ACMS__V1__EXIT_REASON__EXIT_REASON_TIME ||
           r == ACMS__V1__EXIT_REASON__EXIT_REASON_CPU_TIME;
}

/* The run's sizing input as the adapter resolved it (a name without a positive finite value is none). */
static void input_of(const Acms__V1__StepResult *s, feedback_outcome *out)
{
    const Acms__V1__Sizing *z = s->sizing;
    out->input_name = "";
    out->t_ms = s->started_ms;
    if (!z || !(z->input_value > 0) || !isfinite(z->input_value))
        return;
    out->input_name = z->input && *z->input ? z->input : z->input_size_bytes ? "input_size_bytes" : "";
    out->input_value = *out->input_name ? z->input_value : 0;
}

/* The attempt whose usage describes the step (the successful one, else the last) and the hours. */
typedef struct usage_pick {
    const Acms__V1__StepMetrics *um;
    const Acms__V1__Resources *ures;
    double failed_hours, success_hours;
    int have_success;
} usage_pick;

/* A failed attempt: its cause, and for a resource kill the limit it met. */
static void failed_attempt(acms_arena *a, const Acms__V1__StepResult *s, const Acms__V1__AttemptRecord *at,
                           Acms__V1__ExitReason r, feedback_outcome *out)
{
    const Acms__V1__StepMetrics *m = at->metrics;
    const char *cause = at->cause && *at->cause ? at->cause : feedback_exit_reason_name(r);
    out->causes = acms_arena_push(a, out->causes, &out->ncauses, sizeof *out->causes);
    out->causes[out->ncauses - 1] = acms_arena_printf(a, "attempt %u: %s: %s", (unsigned)at->attempt,
                                                      feedback_exit_reason_name(r), cause);
    if (is_resource_kill(r))
        out->resource_killed = 1;
    if (r == ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY) {
        out->killed_memory = 1;
        double peak = m ? (double)m->peak_rss_kb / 1024.0 : 0;
        double lim = (double)limit_of(m, at->resources, s->resources);
        if (peak < lim) /* the kernel stops it at the limit: the need is at least the limit */
            peak = lim;
        if (peak > out->killed_peak_mb)
            out->killed_peak_mb = peak;
    } else if (r == ACMS__V1__EXIT_REASON__EXIT_REASON_TIME) {
        out->killed_time = 1;
        uint32_t lim = at->runtime_limit_s         ? at->runtime_limit_s
                       : (m && m->runtime_limit_s) ? m->runtime_limit_s
                                                   : s->max_runtime_s;
        if (lim == 0 && m)
            lim = (uint32_t)((m->wall_ms + 999) / 1000);
        if (lim > out->killed_runtime_s)
            out->killed_runtime_s = lim;
    }
}

/* Walks the attempts: instance hours, causes, kills, and the usage that describes the step. */
static void attempts_walk(acms_arena *a, const Acms__V1__StepResult *s, feedback_outcome *out, usage_pick *u)
{
    const double instances = 1.0;
    memset(u, 0, sizeof *u);
    u->um = s->metrics;
    u->ures = s->resources;
    for (size_t i = 0; i < s->n_attempts; i++) {
        const Acms__V1__AttemptRecord *at = s->attempts[i];
        const Acms__V1__StepMetrics *m = at->metrics;
        double hours = m ? (double)m->wall_ms / MS_PER_HOUR * instances : 0;
        out->instance_hours += hours;
        Acms__V1__ExitReason r = at->reason ? at->reason : (m ? m->exit_reason : 0);
        if (r == ACMS__V1__EXIT_REASON__EXIT_REASON_OK) {
            u->success_hours = hours;
            u->have_success = 1;
            u->um = m;
            u->ures = at->resources;
            continue;
        }
        u->failed_hours += hours;
        if (!u->have_success) {
            u->um = m;
            u->ures = at->resources;
        }
        failed_attempt(a, s, at, r, out);
    }
    if (s->n_attempts == 0 && s->metrics) {
        out->instance_hours = (double)s->metrics->wall_ms / MS_PER_HOUR * instances;
        if (out->success)
            u->success_hours = out->instance_hours;
        else
            u->failed_hours = out->instance_hours;
        u->have_success = out->success;
    }
}

/* The usage of the picked attempt: peak, wall, CPU, limits and slacks. */
static void usage_describe(const Acms__V1__StepResult *s, const usage_pick *u, feedback_outcome *out)
{
    const Acms__V1__StepMetrics *um = u->um;
    if (!um)
        return;
    out->peak_rss_kb = um->peak_rss_kb;
    out->wall_ms = um->wall_ms;
    out->cpu_ms = um->user_cpu_ms + um->sys_cpu_ms;
    out->mem_limit_mb = limit_of(um, u->ures, s->resources);
    out->vcpu = vcpu_of(um, u->ures, s->resources);
    if (out->mem_limit_mb > 0 && out->peak_rss_kb > 0) {
        double lim = (double)out->mem_limit_mb, peak = (double)out->peak_rss_kb / 1024.0;
        out->memory_slack = clamp01((lim - peak) / lim);
        out->has_memory_slack = 1;
    }
    if (out->vcpu > 0 && out->wall_ms > 0) {
        double cap = out->vcpu * (double)out->wall_ms;
        out->cpu_slack = clamp01((cap - (double)out->cpu_ms) / cap);
        out->has_cpu_slack = 1;
    }
    /* a success counts for the history even when too short to measure (wall 0 ms, peak 0 =
     * not measured): it adds no sample, the history's statistics skip zeros */
    out->observed = u->have_success;
}

int feedback_outcome_analyze(acms_arena *a, const Acms__V1__StepResult *s, const acms_catalog *cat,
                             feedback_outcome *out)
{
    memset(out, 0, sizeof *out);
    out->step = s->name ? s->name : "";
    out->success = s->status && !strcmp(s->status, "succeeded");
    out->attempts = (uint32_t)s->n_attempts;
    out->instance_type = s->instance_type ? s->instance_type : "";
    out->configured_memory_mb = s->resources ? s->resources->memory_mb : 0;
    out->configured_vcpu = s->resources ? s->resources->vcpu : 0;
    out->gpus = s->resources ? s->resources->gpus : 0;
    out->configured_runtime_s = s->max_runtime_s;
    usage_pick u;
    attempts_walk(a, s, out, &u);
    usage_describe(s, &u, out);
    out->censored_memory = out->killed_memory && !(u.have_success && out->peak_rss_kb > 0);
    input_of(s, out);
    out->wasted_instance_hours = u.failed_hours +
                                 (u.have_success && out->has_memory_slack ? u.success_hours * out->memory_slack : 0);
    const acms_instance_type *t = cat && out->instance_type[0] ? acms_catalog_find(cat, out->instance_type) : NULL;
    if (t && t->price_per_hour > 0)
        out->cost_usd = out->instance_hours * t->price_per_hour;
    return ACMS_OK;
}

Acms__V1__StepOutcome *feedback_outcome_to_pb(acms_arena *a, const feedback_outcome *o)
{
    Acms__V1__StepOutcome *m = acms_pb_new(a, &acms__v1__step_outcome__descriptor);
    m->step = (char *)o->step;
    m->success = o->success;
    m->attempts = o->attempts;
    for (size_t i = 0; i < o->ncauses; i++)
        acms_pb_add_string(a, &m->causes, &m->n_causes, o->causes[i]);
    m->memory_slack = o->memory_slack;
    m->cpu_slack = o->cpu_slack;
    m->instance_hours = o->instance_hours;
    m->wasted_instance_hours = o->wasted_instance_hours;
    m->cost_usd = o->cost_usd;
    m->peak_rss_kb = o->peak_rss_kb;
    m->mem_limit_mb = o->mem_limit_mb;
    m->wall_ms = o->wall_ms;
    m->resource_killed = o->resource_killed;
    return m;
}
