/* recovery.h: what follows a failed attempt (recovery.c, the seed's _handle_execution_error): the
 * failure's class and the step's retry policy decide between a retry (with more of the resource
 * that ran out, within the environment's quotas, or the same resources after a backoff) and the
 * end of the step, and which steps are skipped then. Pure: same inputs, same decision; no I/O, no
 * bus or store. Every decision carries its cause and its reason in words. */
#ifndef ACMS_COORD_RECOVERY_H
#define ACMS_COORD_RECOVERY_H

#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "dag.h"
#include "plan.h"
#include "resources.h"
#include "retry.h"

#define COORD_DEFAULT_ATTEMPTS 3

typedef struct coord_failure {
    Acms__V1__ExitReason reason;
    uint32_t attempt; /* the attempt that failed, 1-based */
    uint32_t max_attempts;
    int exit_code;
    int term_signal;
    int permanent; /* SPAWN_FAILED that cannot improve (command not found, bad secret) */
    uint64_t peak_rss_kb;
    uint64_t cpu_ms;          /* user + sys */
    const char *detail;       /* executor message (may be NULL) */
    const char *tail;         /* its stderr tail (may be NULL) */
    acms_retry_policy policy; /* the step's (acms_retry_resolve); zero = on_failure, default backoff */
    int has_prev;             /* the attempt before it failed too: */
    Acms__V1__ExitReason prev_reason;
    int prev_exit_code;
    int prev_term_signal;
    const char *prev_tail;
    const char *suggestion; /* the executor's advice for a permanent failure (may be NULL) */
} coord_failure;

typedef struct coord_recovery_env {
    const acms_catalog *catalog; /* NULL: no instance-type sizing */
    double memory_scale;         /* catalogue memory x scale (0 = 1) */
    uint64_t max_memory_mb;      /* environment quota, 0 = none */
    uint32_t max_runtime_s;      /* environment quota, 0 = none */
    const char *environment;     /* name, for explanations */
    char *const *allowed;        /* allowed instance types (environment), nallowed 0 = all */
    size_t nallowed;
} coord_recovery_env;

typedef struct coord_decision {
    int retry;
    int transient;  /* the class is transient (backoff, same resources) */
    coord_res next; /* resources of the next attempt (a copy of the current when unchanged) */
    int64_t backoff_ms;
    char cause[256];      /* what happened, in words */
    char recovery[512];   /* what the next attempt changes and why, or why there is none */
    char suggestion[512]; /* for the operator when there is no retry ("" otherwise) */
} coord_decision;

/* step.max_attempts, else env.default_max_attempts, else COORD_DEFAULT_ATTEMPTS. */
uint32_t coord_max_attempts(const Acms__V1__Step *s, const Acms__V1__Environment *env);
/* Decides what follows a failed attempt under the step's retry policy (docs/execution.md "Retries"): a
 * retry waits acms_retry_backoff_ms(policy, attempt, jitter). Pure: same inputs, same decision. */
void coord_recovery_decide(const coord_recovery_env *env, const coord_res *cur, const coord_failure *f, uint32_t jitter,
                           coord_decision *d);
/* After step `failed` failed for good: the PENDING steps to mark SKIPPED. Optional step: its
 * transitive dependents (graceful degradation). Required step: every PENDING step (the run fails;
 * running steps finish, steps waiting to retry are not retried). Writes indices to out (capacity
 * dag->n); returns the count. */
size_t coord_recovery_skip_set(const acms_dag *d, const coord_step_state *st, size_t failed, int optional, size_t *out);

#endif
