/* admission.h: the environment's quotas (max_active_runs, max_total_instances, max_memory_mb) as
 * Redis reservations with leases, shared by every replica (admission.c). Invariant: a run starts
 * steps only while it holds a slot, and a crashed replica's slots and reservations come free after
 * COORD_ADMIT_LEASE_MS. */
#ifndef ACMS_COORD_ADMISSION_H
#define ACMS_COORD_ADMISSION_H

#include <stdint.h>

#include "redis.h"
#include "run.h"

#define COORD_ADMIT_LEASE_MS 15000 /* a crashed replica's slots and reservations come free after this */
#define COORD_ADMIT_POLL_MS 500    /* a queued run checks for a slot this often */
typedef struct coord_admission {
    int admitted;
    uint32_t position; /* queued: 1-based place in the environment's FIFO */
    uint32_t active;   /* runs holding a slot */
} coord_admission;
/* Does the environment have a quota admission enforces? */
int coord_admission_needed(const Acms__V1__Environment *env);
/* Admits the run if it is first in line and a slot is free (else queues it, keeping its place),
 * or renews its slot. ACMS_OK with *out, or ACMS_ERR_RETRY. */
int coord_admission_run(acms_redis *rd, const coord_run *r, int lease_ms, coord_admission *out);
/* Renews the run's slot: 1 renewed, 0 lost (expired: it must be admitted again), ACMS_ERR_RETRY. */
int coord_admission_renew(acms_redis *rd, const coord_run *r, int lease_ms);
/* Reserves capacity for steps (instance_count, res.memory_mb) within max_total_instances and
 * max_memory_mb: granted[i] 1 or 0; *in_use_* the environment's totals after. ACMS_OK,
 * ACMS_ERR_NOTFOUND (the run has no slot any more) or ACMS_ERR_RETRY. At most 64 steps. */
int coord_admission_steps(acms_redis *rd, const coord_run *r, coord_step *const *steps, size_t n, int *granted,
                          uint64_t *in_use_instances, uint64_t *in_use_mb);
/* Queue the release of a step's reservation / of everything the run holds (write queue). */
void coord_admission_release_step(coord_run *r, const coord_step *s);
void coord_admission_release_run(coord_run *r);
/* The same release of a run, at once. ACMS_OK or ACMS_ERR_RETRY. */
int coord_admission_release_now(acms_redis *rd, const char *env, const char *run_id);

#endif
