/* retry.h: a step's retry policy (`retry_policy`, `retry_backoff_s`, `retry_backoff_factor`,
 * `retry_backoff_max_s`), resolved from the step, then its environment, then the defaults, and the
 * backoff it implies. One parser of the policy names for the validator and the coordinator.
 * Invariants: a resolved policy has a kind other than ACMS_RETRY_DEFAULT, a positive base and cap,
 * a factor >= 1, and cap >= base; a backoff is never above the cap nor below half the undelayed
 * value (equal jitter: half fixed, half random). */
#ifndef ACMS_RETRY_H
#define ACMS_RETRY_H

#include <stdint.h>

#include "pb.h"

typedef enum acms_retry_kind {
    ACMS_RETRY_DEFAULT = 0, /* not written: resolved to on_failure */
    ACMS_RETRY_ON_FAILURE,  /* any failure (exit code, crash, resources, infrastructure) */
    ACMS_RETRY_ON_ERROR, /* only OOM, timeouts, lost and interrupted attempts, and starts that failed for a transient reason */
    ACMS_RETRY_NEVER,
} acms_retry_kind;

#define ACMS_RETRY_BACKOFF_S 0.2
#define ACMS_RETRY_FACTOR 2.0
#define ACMS_RETRY_MAX_S 10.0
#define ACMS_RETRY_LIMIT_S 86400.0 /* no delay (base or cap) above a day */

typedef struct acms_retry_policy {
    acms_retry_kind kind;
    double backoff_s; /* before the first retry */
    double factor;    /* multiplier per further retry */
    double max_s;     /* cap of one delay */
} acms_retry_policy;

/* "on_failure" | "on_error" | "never" -> kind; "" or NULL -> ACMS_RETRY_DEFAULT; -1 unknown. */
int acms_retry_parse(const char *s);
/* The spelling of a kind ("on_failure" for ACMS_RETRY_DEFAULT). */
const char *acms_retry_name(acms_retry_kind k);
/* The step's policy: its own fields, else the environment's (env may be NULL), else the defaults.
 * An unknown name resolves to on_failure (the validator reports it as VALUE_OUT_OF_RANGE). */
void acms_retry_resolve(const Acms__V1__Step *s, const Acms__V1__Environment *env, acms_retry_policy *out);
/* The delay after the failed attempt `attempt` (1-based): d = min(max, base x factor^(attempt-1)),
 * returned as d/2 + (jitter mod d/2), in ms. */
int64_t acms_retry_backoff_ms(const acms_retry_policy *p, uint32_t attempt, uint32_t jitter);

#endif
