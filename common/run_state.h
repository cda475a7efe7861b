/* run_state.h: live run state in Redis, shared by the services and acmsctl. Keys (docs/redis-keys.md):
 *   acms:run:<run>               hash  run_id pipeline environment status submitted_ms updated_ms
 *                                      finished_ms steps_total steps_done config_hash config_ref source_name
 *                                      reason owner success validation (JSON, rejected runs: verdict.h)
 *   acms:run:<run>:step:<step>   hash  status attempt started_ms finished_ms exit_reason wall_ms
 *                                      peak_rss_kb memory_mb max_runtime_s message
 *   acms:run:<run>:steps         list  step names in document order
 *   acms:run:<run>:adaptations   list  the adapter's prepared log as one item (a packed
 *                                      RuntimeConfiguration holding only adaptation_log), then runtime
 *                                      and recovery records (one JSON object an item), in order; read
 *                                      by common/runview.c
 *   acms:run:<run>:validation    list  the verdict before execution: one packed ValidationResult (issues
 *                                      and warnings with ranked suggestions; protobuf, as :runtime, for
 *                                      it is written on the validator's hot path), written with the
 *                                      status "validated" or "rejected" (validator) or "rejected" (adapter)
 *   acms:run:<run>:findings      hash  runtime validation: event id -> JSON ValidationResultEvent
 *   acms:run:<run>:alerts        hash  monitor alerts: event id -> JSON Alert
 *   acms:runs                    zset  run ids by submit time (ms)
 * Status only moves forward: submitted < prepared < validated < queued = running < terminal
 * (succeeded | failed | cancelled | rejected); queued (waiting for the environment's quota) and
 * running may follow each other; a terminal status is never overwritten, so a redelivered event
 * cannot move a run backwards. Every write is one atomic server-side script. The script that writes
 * a terminal status also sets the run's expiry (retention.h, with the handle's
 * acms_redis_run_retention_ms); a run that is gone (expired or deleted) is never created again: the
 * status writes below then return 0 (refused). The same script publishes the terminal status on the
 * run's end channel (acms_state_end_channel), after the write: whoever subscribed before reading the
 * status misses no end (acmsctl submit --wait, watch). */
#ifndef ACMS_RUN_STATE_H
#define ACMS_RUN_STATE_H

#include "keys.h"
#include "redis.h"

/* The most items one status-and-list write takes (a 5000-step pipeline's adaptation log fits). */
#define ACMS_STATE_LIST_MAX 200000

/* Sets the run's status if it moves forward, together with the given field/value pairs (fields are
 * written only when the status moved or is equal). Creates the run hash if absent.
 * Returns 1 if written, 0 if refused (status would move backwards), ACMS_ERR_RETRY if unreachable. */
int acms_state_run_status(acms_redis *r, const char *run_id, const char *status, const char *const *kv, size_t nkv);
/* acms_state_run_status, and when the status was written, replaces the list <run key>:<list_suffix>
 * with items (DEL + RPUSH), in the same script: one round trip, and the list is only touched while
 * the status write is allowed. Same returns. nitems may be 0 (the list is then deleted). */
int acms_state_run_status_list(acms_redis *r, const char *run_id, const char *status, const char *const *kv, size_t nkv,
                               const char *list_suffix, const char *const *items, size_t nitems);
/* acms_state_run_status_list with items of any bytes: lens[i] is the length of items[i]. */
int acms_state_run_status_blobs(acms_redis *r, const char *run_id, const char *status, const char *const *kv,
                                size_t nkv, const char *list_suffix, const char *const *items, const size_t *lens,
                                size_t nitems);
/* Writes step fields (pairs) unconditionally. ACMS_OK or ACMS_ERR_RETRY. */
int acms_state_step_set(acms_redis *r, const char *run_id, const char *step, const char *const *kv, size_t nkv);
/* Pipelined forms (acms_redis_append ... acms_redis_exec): *_append queues the same command as the
 * call above (ACMS_OK) or nothing (ACMS_ERR_INVALID, the arguments are unusable); *_reply turns its
 * reply into the call's return value. */
int acms_state_run_status_append(acms_redis *r, const char *run_id, const char *status, const char *const *kv,
                                 size_t nkv);
int acms_state_run_status_reply(const redisReply *rep);
/* acms_state_run_status_list queued (its reply is read with acms_state_run_status_reply). */
int acms_state_run_status_list_append(acms_redis *r, const char *run_id, const char *status, const char *const *kv,
                                      size_t nkv, const char *list_suffix, const char *const *items, size_t nitems);
/* acms_state_run_status_blobs queued (its reply is read with acms_state_run_status_reply). */
int acms_state_run_status_blobs_append(acms_redis *r, const char *run_id, const char *status, const char *const *kv,
                                       size_t nkv, const char *list_suffix, const char *const *items,
                                       const size_t *lens, size_t nitems);
int acms_state_step_set_append(acms_redis *r, const char *run_id, const char *step, const char *const *kv, size_t nkv);
int acms_state_step_set_reply(const redisReply *rep);
/* A record the run keeps per event (acms:run:<run>:<suffix>, a hash: event_id -> json). Idempotent: a
 * redelivered event writes the same field again. A finished run's expiry applies to it; for a run that
 * is gone (retention.h) nothing is written. ACMS_OK, ACMS_ERR_INVALID (unusable arguments) or
 * ACMS_ERR_RETRY. */
#define ACMS_STATE_VALIDATION "validation"
#define ACMS_STATE_FINDINGS "findings"
#define ACMS_STATE_ALERTS "alerts"
int acms_state_run_record(acms_redis *r, const char *run_id, const char *suffix, const char *event_id,
                          const char *json);
/* The run's cancel flag (acms:run:<run>:cancel = why), read by its owner within a second. It expires
 * after ACMS_SEEN_TTL_S, or with the run once the run has ended; a run that is gone gets none.
 * ACMS_OK, ACMS_ERR_INVALID (unusable id) or ACMS_ERR_RETRY. */
int acms_state_cancel_flag(acms_redis *r, const char *run_id, const char *why);
/* Rank of a status (0..4), -1 unknown. */
int acms_state_rank(const char *status);
int acms_state_is_terminal(const char *status);
/* The pub/sub channel a run's terminal status is published on (the status is the message):
 * "acms:run:<run>:ended", into out. out, or NULL when it does not fit. Not a key: nothing is stored. */
#define ACMS_STATE_END_CHANNEL_PREFIX "acms:run:"
#define ACMS_STATE_END_CHANNEL_SUFFIX ":ended"
const char *acms_state_end_channel(char *out, size_t size, const char *run_id);

#endif
