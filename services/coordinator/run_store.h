/* run_store.h: a run's records in Redis (run_store.c): creation, attempt claims, resumption by a
 * new owner and the step hashes. Invariant: an attempt number is claimed (one script per step)
 * before its process starts, so it is never reused, even across owners. */
#ifndef ACMS_COORD_RUN_STORE_H
#define ACMS_COORD_RUN_STORE_H

#include <stddef.h>

#include "redis.h"
#include "run.h"

struct acms_crypt;

/* The "attempts" field of a step hash: a JSON list. Returns a malloc'd string (caller frees). */
char *coord_attempts_json(const coord_attempt *a, size_t n);
/* Parses it back into a malloc'd array (caller frees). ACMS_OK or ACMS_ERR_INVALID. */
int coord_attempts_parse(const char *json, coord_attempt **out, size_t *n);

/* Creates the run in Redis (runtime, step list, step hashes, active set) unless it exists, has ended
 * or is gone (retention.h); with crypt the runtime configuration is sealed (kind "runtime", id = run
 * id, version 1). A retry (acmsctl retry: the run hash's reuse_steps and retry_of) records the steps
 * it reuses succeeded. 1 created, 2 created with reused steps (coord_store_load_steps then reads
 * them), 0 duplicate, ACMS_ERR_RETRY. */
int coord_store_create(acms_redis *rd, const struct acms_crypt *crypt, const char *run_id,
                       const Acms__V1__RuntimeConfiguration *rc, const char *cause_id, const char *traceparent);
/* Claims attempt s->attempt+1 of each of n steps, in one round trip: status running, overrides
 * applied and cleared, each step in one script. steps[i]->claim is then 1 claimed (s->res updated,
 * adapted[i] (adapted_size bytes) describes applied overrides), 0 refused (step terminal or
 * attempt already claimed: s->attempt updated), ACMS_ERR_RETRY (Redis away) or ACMS_ERR_INVALID
 * (unusable key). */
void coord_store_claim_many(acms_redis *rd, const coord_run *r, coord_step *const *steps, size_t n, const char *owner,
                            char *const *adapted, size_t adapted_size);
/* Loads a run owned by us now (lease held) from Redis into memory. ACMS_OK, ACMS_ERR_NOTFOUND
 * (no runtime: not resumable), ACMS_ERR_RETRY. */
int coord_store_resume(coord_ctx *c, const char *run_id, coord_run **out);
/* Reads every step hash of r into its steps (states, attempts, resources). ACMS_OK or ACMS_ERR_RETRY. */
int coord_store_load_steps(acms_redis *rd, coord_run *r);
/* Queues the step hash after an attempt finished or the step reached a state. */
void coord_store_step(coord_run *r, const coord_step *s);
/* Runtime adaptation records of the run (acms:run:<run>:adaptations) into the arena. */
int coord_store_adaptations(acms_redis *rd, acms_arena *a, const char *run_id, Acms__V1__AdaptationRecord ***out,
                            size_t *n);

#endif
