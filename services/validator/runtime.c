/* runtime.c: validate_during_execution. One StepEvent's metrics are judged against the limits the
 * step runs with: usage near the memory or wall-clock limit (>= 90 %), kills for memory, time or
 * CPU time, and CPU left idle. Pure: the event in, a ValidationResult (phase "runtime") out; a
 * healthy step yields no issues and the service publishes nothing. Paths name the step by name
 * (spec.steps[name=<step>].<field>) because an event carries no step index. */
#include "result.h"

#include <math.h>
#include <string.h>

#define NEAR_LIMIT 0.9
#define CPU_IDLE_RATIO 0.1
#define CPU_MIN_WALL_MS 5000

static uint64_t round64(double mb)
{
    uint64_t m = (uint64_t)ceil(mb);
    return (m + 63) / 64 * 64;
}

typedef struct rt {
    acms_issues is;
    acms_arena *a;
    const char *step;
} rt;

static const char *rt_path(rt *r, const char *field)
{
    return acms_arena_printf(r->a, "spec.steps[name=%s].%s", r->step, field);
}

static Acms__V1__ValidationIssue *rt_issue(rt *r, const char *field, const char *code, const char *sev, const char *msg)
{
    return acms_issue_add(&r->is, code, sev, rt_path(r, field), NULL, "%s", msg);
}

static void judge(rt *r, const Acms__V1__StepEvent *ev, const Acms__V1__StepMetrics *m)
{
    acms_arena *a = r->a;
    uint64_t mem_limit = ev->memory_mb ? ev->memory_mb : m->mem_limit_mb;
    uint32_t rt_limit = ev->max_runtime_s ? ev->max_runtime_s : m->runtime_limit_s;
    int finished = ev->kind == ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_FINISHED;
    Acms__V1__ExitReason why = finished ? m->exit_reason : ACMS__V1__EXIT_REASON__EXIT_REASON_UNSPECIFIED;
    double used_mb = (double)(m->peak_rss_kb > m->rss_kb ? m->peak_rss_kb : m->rss_kb) / 1024.0;
    double wall_s = (double)m->wall_ms / 1000.0;
    Acms__V1__ValidationIssue *x;

    if (why == ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY) {
        uint64_t want = round64((used_mb > (double)mem_limit ? used_mb : (double)mem_limit) * 1.5);
        x = rt_issue(r, "memory_mb", "RESOURCE_KILLED_MEMORY", "error",
                     acms_arena_printf(a, "step '%s' was killed for memory: peak %.0f MiB, limit %llu MiB", r->step,
                                       used_mb, (unsigned long long)mem_limit));
        acms_issue_suggest(&r->is, x, "RESOURCE_KILLED_MEMORY:raise-1.5x", "pattern", 0.8, rt_path(r, "memory_mb"),
                           acms_arena_printf(a, "%llu", (unsigned long long)want), "request memory_mb: %llu",
                           (unsigned long long)want);
    } else if (mem_limit && used_mb >= NEAR_LIMIT * (double)mem_limit) {
        uint64_t want = round64(used_mb * 1.3);
        x = rt_issue(r, "memory_mb", "MEMORY_NEAR_LIMIT", "warning",
                     acms_arena_printf(a, "step '%s' uses %.0f MiB of its %llu MiB limit (%.0f%%)", r->step, used_mb,
                                       (unsigned long long)mem_limit, 100.0 * used_mb / (double)mem_limit));
        acms_issue_suggest(&r->is, x, "MEMORY_NEAR_LIMIT:raise", "pattern", 0.7, rt_path(r, "memory_mb"),
                           acms_arena_printf(a, "%llu", (unsigned long long)want),
                           "request memory_mb: %llu next time (observed peak plus 30 %%)", (unsigned long long)want);
    }

    if (why == ACMS__V1__EXIT_REASON__EXIT_REASON_TIME) {
        double w = (rt_limit ? rt_limit : wall_s) * 2.0;
        uint32_t want = (uint32_t)(w > VALIDATOR_MAX_RUNTIME_S ? VALIDATOR_MAX_RUNTIME_S : ceil(w));
        x = rt_issue(r, "max_runtime_s", "RESOURCE_KILLED_TIME", "error",
                     acms_arena_printf(a, "step '%s' was killed after %.0f s for exceeding max_runtime_s %u", r->step,
                                       wall_s, rt_limit));
        acms_issue_suggest(&r->is, x, "RESOURCE_KILLED_TIME:double", "pattern", 0.7, rt_path(r, "max_runtime_s"),
                           acms_arena_printf(a, "%u", want), "set max_runtime_s to %u", want);
    } else if (rt_limit && wall_s >= NEAR_LIMIT * rt_limit) {
        double w = ceil(wall_s * 1.5);
        uint32_t want = (uint32_t)(w > VALIDATOR_MAX_RUNTIME_S ? VALIDATOR_MAX_RUNTIME_S : w);
        x = rt_issue(r, "max_runtime_s", "RUNTIME_NEAR_LIMIT", "warning",
                     acms_arena_printf(a, "step '%s' has run %.0f s of its %u s limit (%.0f%%)", r->step, wall_s,
                                       rt_limit, 100.0 * wall_s / rt_limit));
        acms_issue_suggest(&r->is, x, "RUNTIME_NEAR_LIMIT:raise", "pattern", 0.7, rt_path(r, "max_runtime_s"),
                           acms_arena_printf(a, "%u", want), "set max_runtime_s to %u next time", want);
    }

    if (why == ACMS__V1__EXIT_REASON__EXIT_REASON_CPU_TIME) {
        rt_issue(r, "vcpu", "RESOURCE_KILLED_CPU_TIME", "error",
                 acms_arena_printf(a, "step '%s' was killed for exceeding its CPU-time limit after %.0f s of CPU",
                                   r->step, (double)(m->user_cpu_ms + m->sys_cpu_ms) / 1000.0));
    }

    double vcpu = m->vcpu > 0 ? m->vcpu : ev->vcpu > 0 ? ev->vcpu : 1.0;
    if (finished && why == ACMS__V1__EXIT_REASON__EXIT_REASON_OK && m->wall_ms >= CPU_MIN_WALL_MS) {
        double util = (double)(m->user_cpu_ms + m->sys_cpu_ms) / ((double)m->wall_ms * vcpu);
        if (util < CPU_IDLE_RATIO) {
            x = rt_issue(r, "vcpu", "CPU_UNDERUSED", "info",
                         acms_arena_printf(a, "step '%s' kept its %g vCPU %.0f%% busy over %.0f s (I/O or waiting?)",
                                           r->step, vcpu, 100.0 * util, wall_s));
            if (vcpu > 1) {
                double w = ceil(util * vcpu * 2.0);
                acms_issue_suggest(&r->is, x, "CPU_UNDERUSED:fewer-vcpu", "pattern", 0.5, rt_path(r, "vcpu"),
                                   acms_arena_printf(a, "%g", w < 1 ? 1.0 : w),
                                   "request vcpu: %g (or a smaller instance type)", w < 1 ? 1.0 : w);
            }
        }
    }
}

const char *validator_step_event_problem(const Acms__V1__StepEvent *ev)
{
    if (ev == NULL)
        return "no step event";
    if (validator_empty(ev->pipeline))
        return "step event without pipeline";
    if (ev->kind < ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_STARTED ||
        ev->kind > ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_RUN_FINISHED)
        return "unknown step event kind";
    if (ev->kind <= ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_SKIPPED && validator_empty(ev->step))
        return "step event without step name";
    return NULL;
}

int validator_runtime_check(const Acms__V1__StepEvent *ev, acms_arena *a, Acms__V1__ValidationResult **out)
{
    Acms__V1__ValidationResult *res = acms_pb_new(a, &acms__v1__validation_result__descriptor);
    res->phase = "runtime";
    res->valid = 1;
    res->confidence_score = 1.0;
    *out = res;
    if (ev == NULL)
        return ACMS_ERR_INVALID;
    rt r = {.a = a, .step = validator_empty(ev->step) ? "?" : ev->step};
    acms_issues_init(&r.is, a, "runtime");
    if (ev->metrics && (ev->kind == ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_FINISHED ||
                        ev->kind == ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_HEARTBEAT))
        judge(&r, ev, ev->metrics);
    if (r.is.n == 0)
        return ACMS_OK;
    Acms__V1__ValidationSuggestion **top = NULL;
    res->n_suggestions = validator_suggest(NULL, a, &r.is, &top, VALIDATOR_TOP_SUGGESTIONS);
    res->suggestions = top;
    validator_result_fill(res, a, &r.is);
    return ACMS_OK;
}
