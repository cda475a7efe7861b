/* lease.h: a run's lease (lease.c): acms:lease:<run> = owner, PX ttl. Invariant: one owner at a
 * time drives a run; an owner that stops renewing loses it after the TTL and another replica takes
 * the run over. Every change is one Redis script (check and set in one step). */
#ifndef ACMS_COORD_LEASE_H
#define ACMS_COORD_LEASE_H

#include "redis.h"

#define COORD_LEASE_TTL_MS 5000
#define COORD_RENEW_MS 1000

/* 1 = we own it now (taken or already ours, expiry refreshed), 0 = another owner, ACMS_ERR_RETRY. */
int coord_lease_acquire(acms_redis *r, const char *run_id, const char *owner, int ttl_ms);
/* coord_lease_acquire for a run found in acms:runs:active by a scan: 0 also when the run has left
 * the set since (its owner finished it), checked in the same script. */
int coord_lease_take_over(acms_redis *r, const char *run_id, const char *owner, int ttl_ms);
/* 1 = renewed, 0 = lost (expired or taken), ACMS_ERR_RETRY. */
int coord_lease_renew(acms_redis *r, const char *run_id, const char *owner, int ttl_ms);
/* Deletes the lease if still ours. 1 released, 0 not ours, ACMS_ERR_RETRY. */
int coord_lease_release(acms_redis *r, const char *run_id, const char *owner);

#endif
