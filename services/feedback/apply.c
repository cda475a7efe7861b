/* apply.c: the feedback service's seen-guarded, versioned, all-or-nothing Redis writes (apply.h).
 * Invariants: the script checks every precondition before its first write, so a refused event
 * writes nothing; the seen key is set in the same script as the effects. */
#include "apply.h"

#include <string.h>

#include "arena.h"
#include "keys.h"
#include "log.h"

const char *feedback_key_seen(acms_arena *a, const char *event_id)
{
    return acms_arena_printf(a, ACMS_KEY_SEEN_FMT, "feedback", event_id);
}

const char *feedback_key_run(acms_arena *a, const char *run_id)
{
    return acms_arena_printf(a, ACMS_KEY_FEEDBACK_RUN_FMT, run_id);
}

const char *feedback_key_runfixes(acms_arena *a, const char *run_id)
{
    return acms_arena_printf(a, ACMS_KEY_FEEDBACK_RUNFIXES_FMT, run_id);
}

const char *feedback_key_stats(acms_arena *a, const char *pipeline, const char *step)
{
    return acms_arena_printf(a, ACMS_KEY_FEEDBACK_STATS_FMT, pipeline, step);
}

const char *feedback_key_rec(acms_arena *a, const char *pipeline, const char *step)
{
    return acms_arena_printf(a, ACMS_KEY_LEARN_REC_FMT, pipeline, step);
}

const char *feedback_key_lastissues(acms_arena *a, const char *pipeline, const char *env)
{
    return acms_arena_printf(a, ACMS_KEY_FEEDBACK_LASTISSUES_FMT, pipeline, env);
}

const char *feedback_key_fix(acms_arena *a, const char *code)
{
    return acms_arena_printf(a, ACMS_KEY_LEARN_FIX_FMT, code);
}

const char *feedback_key_alerts(acms_arena *a, const char *pipeline)
{
    return acms_arena_printf(a, ACMS_KEY_FEEDBACK_ALERTS_FMT, pipeline);
}

int feedback_apply(acms_redis *r, const char *seen_key, const feedback_hash_op *ops, size_t nops)
{
    return acms_hash_apply(r, seen_key, acms_redis_seen_ttl_s(r), ops, nops);
}
