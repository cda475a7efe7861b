/* session.h: the MetricsCollector. One monitoring session per run in Redis
 *   acms:monitor:session:<run>  hash  run_id pipeline environment started_ms status(open|closed)
 *       steps_total steps (finished steps) attempts alerts closed_ms run_status wall_ms summary
 *       and per step "<step>.<metric>": status attempt started_ms elapsed_ms rss_kb heartbeat_ms
 *       wall_ms peak_mb peak_rss_kb cpu_ms exit_reason mem_limit_mb finished_ms
 * opened by RUN_STARTED or the first step event (HSETNX: never reset), closed by RUN_FINISHED.
 * Counters move only through monitor_store_apply, whose seen-mark is set in the same server-side
 * script as the writes, so a redelivered event never counts twice and a crash never loses a write.
 * Field builders are pure; the monitor_store_* calls are the only Redis I/O of the monitor. */
#ifndef MONITOR_SESSION_H
#define MONITOR_SESSION_H

#include "pb.h"
#include "redis.h"
#include "redis_hash.h"

#define MONITOR_SESSION_TTL_S (7 * 24 * 3600)
#define MONITOR_ALERTED_TTL_S 3600

/* Writes to one hash: HSETNX pairs, HSET pairs, HINCRBY pairs (field, integer string). When
 * expect_version is not NULL the hash's "version" field must equal it ("0" when absent) or nothing
 * is written; it is then incremented. ttl_s > 0 refreshes the key's expiry. */
typedef acms_hash_op monitor_hash_op; /* common/redis_hash.h */

/* Key builders (arena). */
const char *monitor_key_session(acms_arena *a, const char *run_id);
const char *monitor_key_baseline(acms_arena *a, const char *pipeline, const char *step);
const char *monitor_key_seen(acms_arena *a, const char *event_id);
const char *monitor_key_alerted(acms_arena *a, const char *dedup_key);

/* The session writes a step event implies (open fields as HSETNX, step fields, counters).
 * run_summary is used for RUN_FINISHED (may be NULL). Pure. */
void monitor_session_op(acms_arena *a, const Acms__V1__StepEvent *ev, const char *run_summary, monitor_hash_op *op);
/* Does this event kind change counters (needs the seen guard)? FINISHED, SKIPPED, RUN_STARTED, RUN_FINISHED. */
int monitor_session_needs_guard(const Acms__V1__StepEvent *ev);
/* One-line summary of a closing session from its current fields (kv pairs, may be empty). Pure. */
const char *monitor_session_summary(acms_arena *a, const char *const *kv, size_t nkv, const Acms__V1__StepEvent *ev);

/* Value of field in kv pairs, or NULL. */
const char *monitor_kv_get(const char *const *kv, size_t nkv, const char *field);

/* Applies ops atomically (one Lua script). When seen_key is not NULL: nothing happens if it exists,
 * else it is set (for ACMS_SEEN_TTL_S, acms_redis_seen_ttl_s) together with the writes. Returns 1 applied, 0 already seen,
 * ACMS_ERR_STALE a version did not match (re-read and retry), ACMS_ERR_RETRY when Redis is unreachable or failed. */
int monitor_store_apply(acms_redis *r, const char *seen_key, const monitor_hash_op *ops, size_t nops);
/* Rate limit: SET acms:monitor:alerted:<dedup_key> owner NX EX ttl; on first set also HINCRBY
 * counter_field of counter_key by 1 (both may be NULL). Returns 1 first time, 2 when the key is held by
 * the same owner (a redelivery: re-publish with the same id), 0 when another owner holds it
 * (suppressed), ACMS_ERR_RETRY. */
int monitor_store_rate_limit(acms_redis *r, const char *alerted_key, const char *owner, int ttl_s,
                             const char *counter_key, const char *counter_field);

#endif
