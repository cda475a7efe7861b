/* apply.h: the feedback service's Redis I/O. Every event's effects go through one server-side
 * script that first checks and then sets acms:seen:feedback:<event_id> together with all the
 * writes, so counters and decayed histograms never double on redelivery and a crash never leaves
 * half an event applied. Read-modify-write state (stats, lastissues) carries a "version" field:
 * a write whose expected version is stale is refused as a whole (-1) and the caller re-reads.
 * Keys:
 *   acms:feedback:run:<run>                  hash  success status pipeline environment steps
 *        steps_succeeded resource_kills cost_usd instance_hours wasted_instance_hours median_slack
 *        recorded_ms event_id
 *   acms:feedback:runfixes:<run>             hash  fixes_resolved (fixes.h), from the run's validation
 *        until its ExecutionResult (kept apart so acms:feedback:run:<run> exists only once the result is in)
 *   acms:feedback:stats:<pipeline>:<step>    hash  (history.h)
 *   acms:learn:rec:<pipeline>:<step>         hash  (learn.h)
 *   acms:feedback:lastissues:<pipeline>:<env> hash code -> "id1,id2" (fixes.h)
 *   acms:learn:fix:<code>                    hash  "<id>:offered" "<id>:resolved"
 *   acms:feedback:alerts:<pipeline>          hash  alert name -> count */
#ifndef FEEDBACK_APPLY_H
#define FEEDBACK_APPLY_H

#include "arena.h"
#include "redis.h"
#include "redis_hash.h"

#define FEEDBACK_RUN_TTL_S (30 * 24 * 3600) /* until the run ends; then the run's retention */
#define FEEDBACK_STATS_TTL_S (180 * 24 * 3600)

/* Writes to one hash. With expect_version the hash's "version" ("0" when absent) must equal it; it
 * is then set to expect + 1. replace deletes the hash first. ttl_s > 0 refreshes its expiry. */
typedef acms_hash_op feedback_hash_op; /* common/redis_hash.h */

const char *feedback_key_seen(acms_arena *a, const char *event_id);
const char *feedback_key_run(acms_arena *a, const char *run_id);
const char *feedback_key_runfixes(acms_arena *a, const char *run_id);
const char *feedback_key_stats(acms_arena *a, const char *pipeline, const char *step);
const char *feedback_key_rec(acms_arena *a, const char *pipeline, const char *step);
const char *feedback_key_lastissues(acms_arena *a, const char *pipeline, const char *env);
const char *feedback_key_fix(acms_arena *a, const char *code);
const char *feedback_key_alerts(acms_arena *a, const char *pipeline);

/* Applies ops atomically under the seen key (set for ACMS_SEEN_TTL_S: acms_redis_seen_ttl_s). Returns 1 applied,
 * 0 already seen (nothing written), ACMS_ERR_STALE a version was stale (nothing written), ACMS_ERR_RETRY. */
int feedback_apply(acms_redis *r, const char *seen_key, const feedback_hash_op *ops, size_t nops);

#endif
