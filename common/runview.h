/* runview.h: runs as people look at them, read from Redis into JSON (acmsctl status/watch and
 * acms-console). Readers only: nothing here writes. The keys are run_state.h's:
 *   one run:   acms:run:<run> (numbers as JSON numbers, success as a boolean), its steps in document
 *              order (acms:run:<run>:steps, each step hash with "attempts" parsed), its adaptation log;
 *   many runs: acms:runs (by submit time, newest first) with each run's summary fields, filtered by
 *              environment, pipeline and status, paged by a (before_ms, skip) cursor that neither
 *              repeats nor skips a run, even among runs submitted in the same millisecond.
 * A compacted run (retention.h) reads the same: its steps come from the summary its coordinator wrote
 * at its end ("compacted": true, "adaptations_count" instead of the adaptation log).
 * A run whose hash is absent is unknown (expired or never submitted). */
#ifndef ACMS_RUNVIEW_H
#define ACMS_RUNVIEW_H

#include <cjson/cJSON.h>

#include "redis.h"

/* The run's view: its hash fields, "steps" (array) and "adaptations" (array of records).
 * Returns a new cJSON tree (caller deletes), or NULL: unknown run (*unreachable = 0) or Redis
 * unreachable (*unreachable = 1). */
cJSON *acms_runview_read(acms_redis *r, const char *run_id, int *unreachable);

/* A hash reply (flat field/value array) as a JSON object, with the run and step hashes' numeric
 * fields as numbers, "success" as a boolean, "attempts" and "validation" parsed. Never NULL. */
cJSON *acms_runview_hash_json(const redisReply *rep);

#define ACMS_RUNVIEW_MAX_LIMIT 500 /* runs per page */
#define ACMS_RUNVIEW_MAX_SCAN 5000 /* runs looked at per call when filters match few */

typedef struct acms_runview_filter {
    const char *environment; /* exact match; NULL or "" = any */
    const char *pipeline;    /* exact match; NULL or "" = any */
    const char *status;      /* exact match; NULL or "" = any */
    int64_t since_ms;        /* runs submitted at or after this time only (0 = any) */
    int64_t before_ms;       /* cursor: runs submitted at or before this time ... (0 = newest) */
    size_t skip;             /* ... after the first skip runs submitted exactly at before_ms */
    size_t limit;            /* 1..ACMS_RUNVIEW_MAX_LIMIT (0 = 50) */
} acms_runview_filter;

/* Recent runs matching f, newest first: {"runs":[{run_id, pipeline, environment, status,
 * submitted_ms, updated_ms, finished_ms, steps_total, steps_done, reason, config_ref}], "scanned": n,
 * "next": {"before_ms": t, "skip": k}} ("next" only when more runs remain to be looked at).
 * At most ACMS_RUNVIEW_MAX_SCAN runs are looked at per call. ACMS_OK with *out (caller deletes),
 * or ACMS_ERR_RETRY when Redis is unreachable. */
int acms_runview_list(acms_redis *r, const acms_runview_filter *f, cJSON **out);

#endif
