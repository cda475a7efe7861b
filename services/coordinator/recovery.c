/* recovery.c: the seed's _handle_execution_error as pure decisions. The step's retry policy and
 * its failure's class decide: resource kills retry with more of that resource (within quotas),
 * infrastructure failures (lost, unreachable, interrupted, a start that failed for a transient
 * reason) retry with the same resources, failures of the step itself (exit code, crash) retry only
 * under on_failure and stop early only once the same exit code and stderr tail came twice. Every
 * retry waits its exponential backoff with jitter; attempts are bounded; every decision carries
 * its cause and its reason in words. */
#include "recovery.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "name_table.h"

#if defined(_RDKAFKA_H_) || defined(__HIREDIS_H)
#error "pure: no Kafka or Redis header may reach this file"
#endif

static const char *const reason_names[] = {"UNSPECIFIED", "OK",        "NONZERO",  "SIGNAL",
                                           "MEMORY",      "TIME",      "CPU_TIME", "SPAWN_FAILED",
                                           "UNREACHABLE", "CANCELLED", "LOST",     "INTERRUPTED"};

const char *coord_reason_name(Acms__V1__ExitReason r)
{
    return acms_name_of(reason_names, ACMS_NAMES_LEN(reason_names), (unsigned)r, "UNSPECIFIED");
}

int coord_reason_parse(const char *s)
{
    return acms_name_index(reason_names, ACMS_NAMES_LEN(reason_names), s);
}

void coord_res_from_step(const Acms__V1__Step *s, coord_res *out)
{
    memset(out, 0, sizeof *out);
    const Acms__V1__Resources *r = s->resources;
    out->memory_mb = r && r->memory_mb ? r->memory_mb : s->memory_mb;
    out->vcpu = r && r->vcpu > 0 ? r->vcpu : s->vcpu;
    out->cpu_time_s = r ? r->cpu_time_s : 0;
    out->max_runtime_s = s->max_runtime_s;
    snprintf(out->instance_type, sizeof out->instance_type, "%s", s->instance_type ? s->instance_type : "");
}

uint32_t coord_max_attempts(const Acms__V1__Step *s, const Acms__V1__Environment *env)
{
    if (s && s->max_attempts)
        return s->max_attempts;
    if (env && env->default_max_attempts)
        return env->default_max_attempts;
    return COORD_DEFAULT_ATTEMPTS;
}

static int crash_signal(int sig)
{
    return sig == SIGSEGV || sig == SIGABRT || sig == SIGILL || sig == SIGFPE || sig == SIGBUS || sig == SIGSYS ||
           sig == SIGTRAP;
}

static uint64_t scaled_mb(const acms_instance_type *t, double scale)
{
    return (uint64_t)ceil((double)acms_instance_memory_mb(t) * (scale > 0 ? scale : 1.0));
}

static int allowed(const coord_recovery_env *env, const acms_instance_type *t)
{
    if (!env->nallowed)
        return 1;
    for (size_t i = 0; i < env->nallowed; i++)
        if (env->allowed[i] && !strcmp(env->allowed[i], t->name))
            return 1;
    return 0;
}

static void describe(const coord_res *cur, const coord_failure *f, coord_decision *d)
{
    uint64_t peak_mb = (f->peak_rss_kb + 1023) / 1024;
    const char *detail = f->detail && *f->detail ? f->detail : "";
    switch (f->reason) {
    case ACMS__V1__EXIT_REASON__EXIT_REASON_OK: snprintf(d->cause, sizeof d->cause, "exited with code 0"); break;
    case ACMS__V1__EXIT_REASON__EXIT_REASON_NONZERO:
        snprintf(d->cause, sizeof d->cause, "exited with code %d", f->exit_code);
        break;
    case ACMS__V1__EXIT_REASON__EXIT_REASON_SIGNAL:
        snprintf(d->cause, sizeof d->cause, "killed by signal %d (%s), not sent by the coordinator%s", f->term_signal,
                 strsignal(f->term_signal), crash_signal(f->term_signal) ? ": it crashed" : "");
        break;
    case ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY:
        snprintf(d->cause, sizeof d->cause, "killed for memory: peak %llu MiB at its limit of %llu MiB%s%s%s",
                 (unsigned long long)peak_mb, (unsigned long long)cur->memory_mb, *detail ? " (" : "", detail,
                 *detail ? ")" : "");
        break;
    case ACMS__V1__EXIT_REASON__EXIT_REASON_TIME:
        snprintf(d->cause, sizeof d->cause, "stopped after its max_runtime_s of %u s", cur->max_runtime_s);
        break;
    case ACMS__V1__EXIT_REASON__EXIT_REASON_CPU_TIME:
        snprintf(d->cause, sizeof d->cause, "stopped after %llu ms of CPU time, its limit being %llu s",
                 (unsigned long long)f->cpu_ms, (unsigned long long)cur->cpu_time_s);
        break;
    case ACMS__V1__EXIT_REASON__EXIT_REASON_SPAWN_FAILED:
        snprintf(d->cause, sizeof d->cause, "could not be started%s%s", *detail ? ": " : "", detail);
        break;
    case ACMS__V1__EXIT_REASON__EXIT_REASON_UNREACHABLE:
        snprintf(d->cause, sizeof d->cause, "its worker was unreachable%s%s", *detail ? ": " : "", detail);
        break;
    case ACMS__V1__EXIT_REASON__EXIT_REASON_LOST:
        snprintf(d->cause, sizeof d->cause, "lost: its coordinator stopped while it ran (lease expired)");
        break;
    case ACMS__V1__EXIT_REASON__EXIT_REASON_INTERRUPTED:
        snprintf(d->cause, sizeof d->cause, "interrupted%s%s", *detail ? ": " : "", detail);
        break;
    case ACMS__V1__EXIT_REASON__EXIT_REASON_CANCELLED:
        snprintf(d->cause, sizeof d->cause, "cancelled%s%s", *detail ? ": " : "", detail);
        break;
    default: snprintf(d->cause, sizeof d->cause, "ended for an unknown reason%s%s", *detail ? ": " : "", detail); break;
    }
}

/* What kind of failure an attempt had, for the retry policy. */
typedef enum { FC_OK, FC_CANCELLED, FC_RESOURCE, FC_INFRA, FC_STEP, FC_PERMANENT } failure_class;

static failure_class classify(const coord_failure *f)
{
    switch (f->reason) {
    case ACMS__V1__EXIT_REASON__EXIT_REASON_OK: return FC_OK;
    case ACMS__V1__EXIT_REASON__EXIT_REASON_CANCELLED: return FC_CANCELLED;
    case ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY:
    case ACMS__V1__EXIT_REASON__EXIT_REASON_TIME:
    case ACMS__V1__EXIT_REASON__EXIT_REASON_CPU_TIME: return FC_RESOURCE;
    case ACMS__V1__EXIT_REASON__EXIT_REASON_SPAWN_FAILED: return f->permanent ? FC_PERMANENT : FC_INFRA;
    case ACMS__V1__EXIT_REASON__EXIT_REASON_UNREACHABLE:
    case ACMS__V1__EXIT_REASON__EXIT_REASON_LOST:
    case ACMS__V1__EXIT_REASON__EXIT_REASON_INTERRUPTED: return FC_INFRA;
    case ACMS__V1__EXIT_REASON__EXIT_REASON_SIGNAL:
        return crash_signal(f->term_signal) ? FC_STEP : FC_INFRA; /* killed from outside: interrupted */
    default: return FC_STEP;
    }
}

/* The failure the step itself caused came twice the same way: same reason, exit code or signal, and
 * stderr tail as the attempt before. */
static int same_as_before(const coord_failure *f)
{
    return f->has_prev && f->prev_reason == f->reason && f->prev_exit_code == f->exit_code &&
           f->prev_term_signal == f->term_signal && !strcmp(f->prev_tail ? f->prev_tail : "", f->tail ? f->tail : "");
}

/* What the operator can do about a step failure that is not retried. */
static void suggest_fix(const coord_failure *f, coord_decision *d)
{
    if (f->reason == ACMS__V1__EXIT_REASON__EXIT_REASON_NONZERO)
        snprintf(d->suggestion, sizeof d->suggestion,
                 "fix the step's command or its inputs: it exited with code %d (see its stderr tail)", f->exit_code);
    else if (f->reason == ACMS__V1__EXIT_REASON__EXIT_REASON_SIGNAL)
        snprintf(d->suggestion, sizeof d->suggestion,
                 "the step crashed with signal %d (%s): fix the program or its native dependencies", f->term_signal,
                 strsignal(f->term_signal));
    else if (f->suggestion && *f->suggestion)
        snprintf(d->suggestion, sizeof d->suggestion, "%s", f->suggestion);
    else
        snprintf(d->suggestion, sizeof d->suggestion,
                 "check the step's command (path, permissions) and its secret references");
}

/* MEMORY: the next limit. Returns 1 with d->next set, 0 with d->recovery/suggestion explaining. */
static int size_memory(const coord_recovery_env *env, const coord_res *cur, const coord_failure *f, coord_decision *d)
{
    uint64_t peak_mb = (f->peak_rss_kb + 1023) / 1024;
    uint64_t base = cur->memory_mb ? cur->memory_mb : peak_mb; /* no limit (http worker kill): from the peak */
    uint64_t need = (uint64_t)ceil((double)peak_mb * 1.2);
    if (need <= cur->memory_mb)
        need = cur->memory_mb + 1;
    uint64_t cand = 0;
    char how[256] = "";
    const acms_instance_type *t = NULL;
    if (cur->instance_type[0] && env->catalog)
        t = acms_catalog_find(env->catalog, cur->instance_type);
    if (t) {
        const acms_instance_type *u = t;
        while (u && (scaled_mb(u, env->memory_scale) < need || (u != t && !allowed(env, u))))
            u = acms_catalog_next_larger(env->catalog, u);
        if (u) {
            cand = scaled_mb(u, env->memory_scale);
            if (u != t)
                snprintf(how, sizeof how, "next instance size of family %s: %s -> %s (%llu MiB)", t->family, t->name,
                         u->name, (unsigned long long)cand);
            else
                snprintf(how, sizeof how, "the full memory of instance type %s (%llu MiB)", t->name,
                         (unsigned long long)cand);
            snprintf(d->next.instance_type, sizeof d->next.instance_type, "%s", u->name);
            if (u->vcpu > d->next.vcpu)
                d->next.vcpu = u->vcpu;
        } else {
            snprintf(how, sizeof how, "no larger allowed type than %s in family %s: raising the limit alone", t->name,
                     t->family);
        }
    }
    if (!cand) {
        double a = (double)peak_mb * 1.5, b = (double)base * 2.0;
        cand = (uint64_t)ceil(a > b ? a : b);
        if (!how[0])
            snprintf(how, sizeof how, "max(peak x 1.5, limit x 2)");
    }
    if (env->max_memory_mb && cand > env->max_memory_mb) {
        if (env->max_memory_mb < need) {
            snprintf(d->recovery, sizeof d->recovery,
                     "no retry: it needs at least %llu MiB but quota max_memory_mb of environment %s is %llu MiB",
                     (unsigned long long)need, env->environment ? env->environment : "?",
                     (unsigned long long)env->max_memory_mb);
            snprintf(d->suggestion, sizeof d->suggestion,
                     "raise quotas.max_memory_mb of environment %s to at least %llu MiB, or reduce the step's "
                     "memory use (peak %llu MiB)",
                     env->environment ? env->environment : "?", (unsigned long long)need, (unsigned long long)peak_mb);
            return 0;
        }
        cand = env->max_memory_mb;
        snprintf(d->next.instance_type, sizeof d->next.instance_type, "%s", cur->instance_type);
        d->next.vcpu = cur->vcpu;
        size_t l = strlen(how);
        snprintf(how + l, sizeof how - l, ", capped by quota max_memory_mb %llu", (unsigned long long)cand);
    }
    d->next.memory_mb = cand;
    snprintf(d->recovery, sizeof d->recovery, "retry with memory %llu -> %llu MiB (%s)",
             (unsigned long long)cur->memory_mb, (unsigned long long)cand, how);
    return 1;
}

static int size_time(const coord_recovery_env *env, const coord_res *cur, coord_decision *d)
{
    if (!cur->max_runtime_s) {
        snprintf(d->recovery, sizeof d->recovery, "no retry: the step had no runtime limit to raise");
        return 0;
    }
    uint64_t next = (uint64_t)cur->max_runtime_s * 2;
    const char *capped = "";
    if (env->max_runtime_s && next > env->max_runtime_s) {
        next = env->max_runtime_s;
        capped = ", capped by quota max_runtime_s";
    }
    if (next <= cur->max_runtime_s) {
        snprintf(d->recovery, sizeof d->recovery,
                 "no retry: max_runtime_s %u already at quota max_runtime_s %u of environment %s", cur->max_runtime_s,
                 env->max_runtime_s, env->environment ? env->environment : "?");
        snprintf(d->suggestion, sizeof d->suggestion,
                 "raise quotas.max_runtime_s of environment %s above %u s, or make the step faster",
                 env->environment ? env->environment : "?", cur->max_runtime_s);
        return 0;
    }
    d->next.max_runtime_s = (uint32_t)next;
    snprintf(d->recovery, sizeof d->recovery, "retry with max_runtime_s %u -> %llu s (x2%s)", cur->max_runtime_s,
             (unsigned long long)next, capped);
    return 1;
}

/* No retry allowed by the policy or the failure class: explains why. Returns 1 when it decided. */
static int refuse(const coord_failure *f, failure_class fc, const acms_retry_policy *pol, coord_decision *d)
{
    if (pol->kind == ACMS_RETRY_NEVER) {
        snprintf(d->recovery, sizeof d->recovery, "no retry: retry_policy is never");
    } else if (fc == FC_PERMANENT) {
        snprintf(d->recovery, sizeof d->recovery, "no retry: the step can never start this way");
    } else if (fc == FC_STEP && pol->kind == ACMS_RETRY_ON_ERROR) {
        snprintf(d->recovery, sizeof d->recovery,
                 "no retry: retry_policy on_error retries only OOM kills, timeouts, lost and interrupted attempts");
    } else if (fc == FC_STEP && same_as_before(f)) {
        snprintf(d->recovery, sizeof d->recovery,
                 "no retry: attempts %u and %u failed the same way (%s %d, same stderr tail): judged deterministic",
                 f->attempt - 1, f->attempt, f->term_signal ? "signal" : "exit code",
                 f->term_signal ? f->term_signal : f->exit_code);
    } else {
        return 0;
    }
    if (fc == FC_STEP || fc == FC_PERMANENT)
        suggest_fix(f, d);
    return 1;
}

static void exhausted(const coord_res *cur, const coord_failure *f, uint32_t max, coord_decision *d)
{
    Acms__V1__ExitReason r = f->reason;
    snprintf(d->recovery, sizeof d->recovery, "no retry: attempts exhausted (%u of %u)", f->attempt, max);
    if (r == ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY)
        snprintf(d->suggestion, sizeof d->suggestion,
                 "request more memory (memory_mb above %llu MiB or a larger instance type) or raise max_attempts",
                 (unsigned long long)cur->memory_mb);
    else if (r == ACMS__V1__EXIT_REASON__EXIT_REASON_TIME)
        snprintf(d->suggestion, sizeof d->suggestion, "raise max_runtime_s above %u s or make the step faster",
                 cur->max_runtime_s);
    else if (r == ACMS__V1__EXIT_REASON__EXIT_REASON_CPU_TIME)
        snprintf(d->suggestion, sizeof d->suggestion, "raise resources.cpu_time_s above %llu s",
                 (unsigned long long)cur->cpu_time_s);
    else if (classify(f) == FC_STEP)
        suggest_fix(f, d);
    else
        snprintf(d->suggestion, sizeof d->suggestion,
                 "the failure looked transient but persisted over %u attempts: check the executor or worker, "
                 "then resubmit",
                 max);
}

static int size_cpu_time(const coord_res *cur, coord_decision *d)
{
    if (!cur->cpu_time_s) {
        snprintf(d->recovery, sizeof d->recovery, "no retry: the step had no CPU-time limit to raise");
        return 0;
    }
    d->next.cpu_time_s = cur->cpu_time_s * 2;
    snprintf(d->recovery, sizeof d->recovery, "retry with cpu_time_s %llu -> %llu s (x2)",
             (unsigned long long)cur->cpu_time_s, (unsigned long long)d->next.cpu_time_s);
    return 1;
}

void coord_recovery_decide(const coord_recovery_env *env, const coord_res *cur, const coord_failure *f, uint32_t jitter,
                           coord_decision *d)
{
    static const coord_recovery_env none = {0};
    if (!env)
        env = &none;
    memset(d, 0, sizeof *d);
    d->next = *cur;
    describe(cur, f, d);
    failure_class fc = classify(f);
    if (fc == FC_OK)
        return;
    if (fc == FC_CANCELLED) {
        snprintf(d->recovery, sizeof d->recovery, "no retry: the run was cancelled");
        return;
    }
    acms_retry_policy pol = f->policy;
    if (pol.kind == ACMS_RETRY_DEFAULT)
        pol.kind = ACMS_RETRY_ON_FAILURE;
    d->transient = fc == FC_INFRA;
    if (refuse(f, fc, &pol, d))
        return;
    uint32_t max = f->max_attempts ? f->max_attempts : COORD_DEFAULT_ATTEMPTS;
    if (f->attempt >= max) {
        exhausted(cur, f, max, d);
        return;
    }
    if (f->reason == ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY)
        d->retry = size_memory(env, cur, f, d);
    else if (f->reason == ACMS__V1__EXIT_REASON__EXIT_REASON_TIME)
        d->retry = size_time(env, cur, d);
    else if (f->reason == ACMS__V1__EXIT_REASON__EXIT_REASON_CPU_TIME)
        d->retry = size_cpu_time(cur, d);
    else
        d->retry = 1;
    if (!d->retry)
        return;
    d->backoff_ms = acms_retry_backoff_ms(pol.backoff_s > 0 ? &pol : NULL, f->attempt, jitter);
    size_t l = strlen(d->recovery);
    if (fc == FC_RESOURCE)
        snprintf(d->recovery + l, sizeof d->recovery - l, ", after %lld ms backoff", (long long)d->backoff_ms);
    else
        snprintf(d->recovery, sizeof d->recovery, "retry after %lld ms backoff with the same resources (%s %s)",
                 (long long)d->backoff_ms, acms_retry_name(pol.kind),
                 fc == FC_INFRA ? "retries a transient failure" : "retries any failure");
}

size_t coord_recovery_skip_set(const acms_dag *d, const coord_step_state *st, size_t failed, int optional, size_t *out)
{
    size_t nout = 0;
    if (!optional) {
        for (size_t i = 0; i < d->n; i++)
            if (i != failed && st[i] == COORD_STEP_PENDING)
                out[nout++] = i;
        return nout;
    }
    /* transitive dependents, breadth first over succ, using out as the queue */
    unsigned char *seen = calloc(d->n ? d->n : 1, 1);
    if (!seen)
        return 0;
    size_t *queue = malloc((d->n ? d->n : 1) * sizeof *queue);
    if (!queue) {
        free(seen);
        return 0;
    }
    size_t qh = 0, qt = 0;
    queue[qt++] = failed;
    seen[failed] = 1;
    while (qh < qt) {
        size_t i = queue[qh++];
        for (size_t k = 0; k < d->nsucc[i]; k++) {
            size_t j = d->succ[i][k];
            if (seen[j])
                continue;
            seen[j] = 1;
            queue[qt++] = j;
            if (st[j] == COORD_STEP_PENDING)
                out[nout++] = j;
        }
    }
    free(queue);
    free(seen);
    return nout;
}
