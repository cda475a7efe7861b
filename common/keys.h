/* keys.h: every Redis key of the services, spelt in one place (the *_FMT layouts below, used by the
 * builders and by Redis commands that name a key; the Lua scripts of run_state.c and retention.h
 * derive a run's keys from its id the same way), and the rule for the ids that become parts of keys.
 * tools/check_docs.py checks docs/redis-keys.md against these layouts. Invariant: a run id or event id holds only [A-Za-z0-9._-] and at most ACMS_MAX_ID
 * characters (checked at decode, acms_pb_decode), so no id can name another run's key
 * ("<run>:step:x", "<run>:runtime") or be cut short into another id. Layout (docs/redis-keys.md):
 *   acms:run:<run>                 hash   the run's record     acms:run:<run>:<part>   runtime steps
 *   acms:run:<run>:step:<step>     hash   a step's record                              adaptations cancel
 *   acms:runs  acms:runs:active    zset/set of run ids          acms:lease:<run>        the run's owner
 *   acms:seen:<service>:<event>    idempotency marks            acms:env:<env>:instances hash per run
 *   acms:runs:expiry :compact :gone :deleted   retention indexes (retention.h)   acms:doc:<hash>
 * Builders write into buf and return it, or return NULL when the key does not fit (never cut). */
#ifndef ACMS_KEYS_H
#define ACMS_KEYS_H

#include <stddef.h>

#include "arena.h"

#define ACMS_MAX_ID 128  /* run ids and event ids */
#define ACMS_KEY_MAX 768 /* every key fits: ids, step and pipeline names are bounded */
#define ACMS_KEY_RUNS "acms:runs"
#define ACMS_KEY_RUNS_ACTIVE "acms:runs:active"
#define ACMS_KEY_CONFIGS "acms:configs"

/* Every key's layout, for the builders below and for Redis commands that name a key in their format
 * ("HGETALL " ACMS_KEY_STEP_FMT): a key is spelt here and nowhere else. A run's parts are
 * ACMS_KEY_RUN_FMT ":<part>" (runtime, steps, adaptations, cancel, validation, findings, alerts,
 * rtonce, live). */
#define ACMS_KEY_RUN_PREFIX "acms:run:"
#define ACMS_KEY_RUN_FMT ACMS_KEY_RUN_PREFIX "%s"
#define ACMS_KEY_STEP_FMT ACMS_KEY_RUN_FMT ":step:%s"
#define ACMS_KEY_LOG_FMT ACMS_KEY_RUN_FMT ":log:%s:%u"
#define ACMS_KEY_LEASE_FMT "acms:lease:%s"
#define ACMS_KEY_SEEN_FMT "acms:seen:%s:%s"
#define ACMS_KEY_ENV_INSTANCES_FMT "acms:env:%s:instances"
#define ACMS_KEY_QUOTA_FMT "acms:quota:%.200s:%s"
#define ACMS_KEY_DOC_FMT "acms:doc:%s"
#define ACMS_KEY_CLAIM_FMT "acms:claim:%s"
#define ACMS_KEY_CONFIG_FMT "acms:config:%s:%s"
#define ACMS_KEY_LEARN_REC_FMT "acms:learn:rec:%s:%s"
#define ACMS_KEY_LEARN_FIX_FMT "acms:learn:fix:%s"
#define ACMS_KEY_FEEDBACK_RUN_FMT "acms:feedback:run:%s"
#define ACMS_KEY_FEEDBACK_RUNFIXES_FMT "acms:feedback:runfixes:%s"
#define ACMS_KEY_FEEDBACK_STATS_FMT "acms:feedback:stats:%s:%s"
#define ACMS_KEY_FEEDBACK_LASTISSUES_FMT "acms:feedback:lastissues:%s:%s"
#define ACMS_KEY_FEEDBACK_ALERTS_FMT "acms:feedback:alerts:%s"
#define ACMS_KEY_MONITOR_SESSION_FMT "acms:monitor:session:%s"
#define ACMS_KEY_MONITOR_BASELINE_FMT "acms:monitor:baseline:%s:%s"
#define ACMS_KEY_MONITOR_ALERTED_FMT "acms:monitor:alerted:%s"
#define ACMS_KEY_RUNS_EXPIRY "acms:runs:expiry"   /* zset: finished runs by expiry time (retention.h) */
#define ACMS_KEY_RUNS_COMPACT "acms:runs:compact" /* zset: finished runs by finish time, to compact */
#define ACMS_KEY_RUNS_GONE "acms:runs:gone"       /* zset: tombstones of expired runs, by expiry */
#define ACMS_KEY_RUNS_DELETED "acms:runs:deleted" /* zset: tombstones of deleted runs, by deletion */

/* NULL when id is a usable run or event id, else why not (static). */
const char *acms_id_problem(const char *id);

/* A fresh ACMS_KEY_MAX-byte buffer in the arena, for the builders below. */
char *acms_key_buf(acms_arena *a);

const char *acms_key_run(char *buf, size_t size, const char *run_id);
/* acms:run:<run>:<part> (part: runtime, steps, adaptations, cancel, validation, findings, alerts, rtonce). */
const char *acms_key_run_part(char *buf, size_t size, const char *run_id, const char *part);
const char *acms_key_step(char *buf, size_t size, const char *run_id, const char *step);
const char *acms_key_lease(char *buf, size_t size, const char *run_id);
const char *acms_key_seen(char *buf, size_t size, const char *service, const char *event_id);
const char *acms_key_env_instances(char *buf, size_t size, const char *env);
const char *acms_key_log(char *buf, size_t size, const char *run_id, const char *step, unsigned attempt);
const char *acms_key_quota(char *buf, size_t size, const char *env, const char *part);
const char *acms_key_claim(char *buf, size_t size, const char *hex);
const char *acms_key_config(char *buf, size_t size, const char *id, const char *part);
/* acms:doc:<sha256 hex>: a submitted document (packed Value), kept while a run that used it is kept. */
const char *acms_key_doc(char *buf, size_t size, const char *hash);

#endif
