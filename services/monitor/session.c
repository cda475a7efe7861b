/* session.c: monitoring sessions in Redis and the monitor's atomic, seen-guarded writes (session.h).
 * Invariants: open fields are only ever HSETNX'd (a late RUN_STARTED never resets a session);
 * counters change only inside the guarded script; every script is all-or-nothing. */
#include "session.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "retention.h"
#include "keys.h"

/* KEYS[1] alerted key, KEYS[2] counter hash; ARGV owner, ttl, counter field ('' = none), run retention
 * (ms). A run's session counter follows the run's retention (common/retention.h): it is not written
 * for a run that is gone, and takes the run's expiry once the run has ended. */
static const char k_rate_lua[] = ACMS_RETENTION_LUA
    "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then\n"
    "  local run = string.match(KEYS[2], '^acms:monitor:session:(.+)$')\n"
    "  if ARGV[3] ~= '' and not (run and acms_gone(run)) then\n"
    "    redis.call('HINCRBY', KEYS[2], ARGV[3], 1)\n"
    "    if not (run and acms_retain(run, KEYS[2], ARGV[4])) and redis.call('PTTL', KEYS[2]) == -1 then\n"
    "      redis.call('EXPIRE', KEYS[2], ARGV[5])\n"
    "    end\n"
    "  end\n"
    "  return 1\n"
    "end\n"
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return 2 end\n"
    "return 0\n";

const char *monitor_key_session(acms_arena *a, const char *run_id)
{
    return acms_arena_printf(a, ACMS_KEY_MONITOR_SESSION_FMT, run_id);
}

const char *monitor_key_baseline(acms_arena *a, const char *pipeline, const char *step)
{
    return acms_arena_printf(a, ACMS_KEY_MONITOR_BASELINE_FMT, pipeline, step);
}

const char *monitor_key_seen(acms_arena *a, const char *event_id)
{
    return acms_arena_printf(a, ACMS_KEY_SEEN_FMT, "monitor", event_id);
}

const char *monitor_key_alerted(acms_arena *a, const char *dedup_key)
{
    return acms_arena_printf(a, ACMS_KEY_MONITOR_ALERTED_FMT, dedup_key);
}

const char *monitor_kv_get(const char *const *kv, size_t nkv, const char *field)
{
    for (size_t i = 0; i + 1 < nkv; i += 2)
        if (!strcmp(kv[i], field))
            return kv[i + 1];
    return NULL;
}

static const char *u64s(acms_arena *a, uint64_t v)
{
    return acms_arena_printf(a, "%" PRIu64, v);
}
static const char *i64s(acms_arena *a, int64_t v)
{
    return acms_arena_printf(a, "%" PRId64, v);
}

static void step_set(acms_arena *a, monitor_hash_op *op, const char *step, const char *metric, const char *v)
{
    acms_hash_op_add(a, &op->set, &op->nset, acms_arena_printf(a, "%s.%s", step, metric), v);
}

int monitor_session_needs_guard(const Acms__V1__StepEvent *ev)
{
    switch (ev->kind) {
    case ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_FINISHED:
    case ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_SKIPPED:
    case ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_RUN_STARTED:
    case ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_RUN_FINISHED: return 1;
    default: return 0;
    }
}

void monitor_session_op(acms_arena *a, const Acms__V1__StepEvent *ev, const char *run_summary, monitor_hash_op *op)
{
    memset(op, 0, sizeof *op);
    const char *run = ev->meta && ev->meta->run_id ? ev->meta->run_id : "";
    int64_t ts = ev->meta ? ev->meta->timestamp_ms : 0;
    const Acms__V1__StepMetrics *m = ev->metrics;
    op->key = monitor_key_session(a, run);
    op->ttl_s = MONITOR_SESSION_TTL_S;
    op->run_id = acms_arena_strdup(a, run); /* ends with the run's retention once it has finished */
    acms_hash_op_add(a, &op->setnx, &op->nsetnx, "run_id", run);
    acms_hash_op_add(a, &op->setnx, &op->nsetnx, "pipeline", ev->pipeline);
    acms_hash_op_add(a, &op->setnx, &op->nsetnx, "environment", ev->environment);
    acms_hash_op_add(a, &op->setnx, &op->nsetnx, "started_ms", i64s(a, ts));
    acms_hash_op_add(a, &op->setnx, &op->nsetnx, "status", "open");
    acms_hash_op_add(a, &op->setnx, &op->nsetnx, "steps", "0");
    acms_hash_op_add(a, &op->setnx, &op->nsetnx, "attempts", "0");
    acms_hash_op_add(a, &op->setnx, &op->nsetnx, "alerts", "0");
    const char *step = ev->step ? ev->step : "";
    const char *attempt = u64s(a, ev->attempt);

    switch (ev->kind) {
    case ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_RUN_STARTED:
        acms_hash_op_add(a, &op->set, &op->nset, "steps_total", u64s(a, ev->step_count));
        break;
    case ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_STARTED:
        step_set(a, op, step, "status", "running");
        step_set(a, op, step, "attempt", attempt);
        step_set(a, op, step, "started_ms", i64s(a, ts));
        break;
    case ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_HEARTBEAT:
        step_set(a, op, step, "status", "running");
        step_set(a, op, step, "attempt", attempt);
        step_set(a, op, step, "heartbeat_ms", i64s(a, ts));
        if (m) {
            step_set(a, op, step, "elapsed_ms", u64s(a, m->wall_ms));
            step_set(a, op, step, "rss_kb", u64s(a, m->rss_kb));
        }
        break;
    case ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_FINISHED:
        step_set(a, op, step, "status", ev->status && *ev->status ? ev->status : "finished");
        step_set(a, op, step, "attempt", attempt);
        step_set(a, op, step, "finished_ms", i64s(a, ts));
        if (m) {
            step_set(a, op, step, "wall_ms", u64s(a, m->wall_ms));
            step_set(a, op, step, "peak_rss_kb", u64s(a, m->peak_rss_kb));
            step_set(a, op, step, "peak_mb", acms_arena_printf(a, "%.1f", (double)m->peak_rss_kb / 1024.0));
            step_set(a, op, step, "cpu_ms", u64s(a, m->user_cpu_ms + m->sys_cpu_ms));
            step_set(a, op, step, "mem_limit_mb", u64s(a, m->mem_limit_mb ? m->mem_limit_mb : ev->memory_mb));
            const ProtobufCEnumValue *r = protobuf_c_enum_descriptor_get_value(&acms__v1__exit_reason__descriptor,
                                                                               (int)m->exit_reason);
            step_set(a, op, step, "exit_reason", r ? r->name : "EXIT_REASON_UNSPECIFIED");
        }
        acms_hash_op_add(a, &op->incr, &op->nincr, "attempts", "1");
        if (!ev->status || strcmp(ev->status, "retrying") != 0)
            acms_hash_op_add(a, &op->incr, &op->nincr, "steps", "1");
        break;
    case ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_SKIPPED:
        step_set(a, op, step, "status", "skipped");
        acms_hash_op_add(a, &op->incr, &op->nincr, "steps", "1");
        break;
    case ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_RUN_FINISHED:
        acms_hash_op_add(a, &op->set, &op->nset, "status", "closed");
        acms_hash_op_add(a, &op->set, &op->nset, "closed_ms", i64s(a, ts));
        acms_hash_op_add(a, &op->set, &op->nset, "run_status", ev->status);
        if (run_summary)
            acms_hash_op_add(a, &op->set, &op->nset, "summary", run_summary);
        break;
    default: break;
    }
}

const char *monitor_session_summary(acms_arena *a, const char *const *kv, size_t nkv, const Acms__V1__StepEvent *ev)
{
    const char *steps = monitor_kv_get(kv, nkv, "steps");
    const char *total = monitor_kv_get(kv, nkv, "steps_total");
    const char *attempts = monitor_kv_get(kv, nkv, "attempts");
    const char *alerts = monitor_kv_get(kv, nkv, "alerts");
    const char *started = monitor_kv_get(kv, nkv, "started_ms");
    long long wall = 0;
    if (started && ev->meta)
        wall = ev->meta->timestamp_ms - strtoll(started, NULL, 10);
    if (wall < 0)
        wall = 0;
    return acms_arena_printf(a, "%s: %s/%s steps finished, %s attempts, %s alerts, %.1f s",
                             ev->status && *ev->status ? ev->status : "finished", steps ? steps : "0",
                             total ? total : "?", attempts ? attempts : "0", alerts ? alerts : "0",
                             (double)wall / 1000.0);
}

/* --- Redis I/O -------------------------------------------------------------------------------- */

int monitor_store_apply(acms_redis *r, const char *seen_key, const monitor_hash_op *ops, size_t nops)
{
    return acms_hash_apply(r, seen_key, acms_redis_seen_ttl_s(r), ops, nops);
}

int monitor_store_rate_limit(acms_redis *r, const char *alerted_key, const char *owner, int ttl_s,
                             const char *counter_key, const char *counter_field)
{
    redisReply *rep = acms_redis_cmd(
        r, "EVAL %s 2 %s %s %s %d %s %s %d", k_rate_lua, alerted_key, counter_key ? counter_key : alerted_key, owner,
        ttl_s > 0 ? ttl_s : MONITOR_ALERTED_TTL_S, counter_key && counter_field ? counter_field : "",
        acms_redis_run_retention_arg(r), MONITOR_SESSION_TTL_S);
    if (!rep)
        return ACMS_ERR_RETRY;
    int rc = ACMS_ERR_RETRY;
    if (rep->type == REDIS_REPLY_INTEGER)
        rc = (int)rep->integer;
    else
        acms_log_error(NULL, NULL, "redis script failed: %s",
                       rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
    freeReplyObject(rep);
    return rc;
}
