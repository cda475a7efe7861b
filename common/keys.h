/* keys.h: every Redis key of the services, built in one place, and the rule for the ids that become
 * parts of keys. Invariant: a run id or event id holds only [A-Za-z0-9._-] and at most ACMS_MAX_ID
 * characters (checked at decode, acms_pb_decode), so no id can name another run's key
 * ("<run>:step:x", "<run>:runtime") or be cut short into another id. Layout (docs/redis-keys.md):
 *   acms:run:<run>                 hash   the run's record     acms:run:<run>:<part>   runtime steps
 *   acms:run:<run>:step:<step>     hash   a step's record                              adaptations cancel
 *   acms:runs  acms:runs:active    zset/set of run ids          acms:lease:<run>        the run's owner
 *   acms:seen:<service>:<event>    idempotency marks            acms:env:<env>:instances hash per run
 * Builders write into buf and return it, or return NULL when the key does not fit (never cut). */
#ifndef ACMS_KEYS_H
#define ACMS_KEYS_H

#include <stddef.h>

#include "arena.h"

#define ACMS_MAX_ID 128         /* run ids and event ids */
#define ACMS_KEY_MAX 768        /* every key fits: ids, step and pipeline names are bounded */
#define ACMS_KEY_RUNS "acms:runs"
#define ACMS_KEY_RUNS_ACTIVE "acms:runs:active"

/* NULL when id is a usable run or event id, else why not (static). */
const char *acms_id_problem(const char *id);

/* A fresh ACMS_KEY_MAX-byte buffer in the arena, for the builders below. */
char *acms_key_buf(acms_arena *a);

const char *acms_key_run(char *buf, size_t size, const char *run_id);
/* acms:run:<run>:<part> (part: runtime, steps, adaptations, cancel, validation, findings, alerts). */
const char *acms_key_run_part(char *buf, size_t size, const char *run_id, const char *part);
const char *acms_key_step(char *buf, size_t size, const char *run_id, const char *step);
const char *acms_key_lease(char *buf, size_t size, const char *run_id);
const char *acms_key_seen(char *buf, size_t size, const char *service, const char *event_id);
const char *acms_key_env_instances(char *buf, size_t size, const char *env);

#endif
