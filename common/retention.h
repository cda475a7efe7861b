/* retention.h: how long a run's state stays in Redis, and how long idempotency marks live.
 * A run's keys: acms:run:<run> and its parts (runtime, steps, adaptations, validation, findings, alerts,
 * cancel, rtonce, live), its step hashes and attempt log tails, acms:monitor:session:<run>, acms:feedback:run:<run>
 * and acms:feedback:runfixes:<run>. Learned keys (statistics, baselines, recommendations, fix
 * statistics) and stored configurations are never touched here. Invariants:
 *  - expiry: the script that writes a run's terminal status also sets expires_ms = now + retention on
 *    the run hash (once: later terminal writes keep it) and PEXPIREAT expires_ms on every key of the
 *    run; every later write to a key of the run re-applies it in its own script (acms_retain), so the
 *    last writer, whichever service it is, never leaves a key without expiry;
 *  - a run that is gone (expired or deleted) stays gone: its tombstone (acms:runs:gone, :deleted,
 *    kept ACMS_SEEN_TTL_S) makes every write for it a no-op, so a late or replayed event cannot bring
 *    back a key;
 *  - indexes: acms:runs (by submit time) drops a run when its hash expires (acms:runs:expiry holds
 *    the expiry times; acms_retention_sweep moves due runs to acms:runs:gone);
 *  - compaction: compact_after after the finish, the sweep drops the run's runtime configuration,
 *    adaptation log (keeping its count), monitoring session, runtime-finding marks (rtonce), step
 *    hashes and step list (the summary written with the terminal status replaces them); the run
 *    hash, verdict, findings, alerts, feedback record and log tails stay until the expiry;
 *  - idempotency marks (acms:seen:*) and tombstones live ACMS_SEEN_TTL_S, at least a day longer than
 *    the longest retention of a topic (acms_retention_check_topics): a replay of any history still
 *    on the bus is recognised.
 * The Lua functions below run inside the services' own scripts (standalone Redis: the keys of a run
 * are derived from its id inside the script). */
#ifndef ACMS_RETENTION_H
#define ACMS_RETENTION_H

#include <stddef.h>
#include <stdint.h>

#include "redis.h"
#include "topics.h"

#define ACMS_RUN_RETENTION_DEFAULT_S (14 * 24 * 3600) /* ACMS_RUN_RETENTION_S */
#define ACMS_RUN_COMPACT_DEFAULT_S 3600               /* ACMS_RUN_COMPACT_S */
#define ACMS_HISTORY_MAX_S (30 * 24 * 3600)           /* the longest topic retention of deploy/topics.yaml */
#define ACMS_SEEN_MARGIN_S (24 * 3600)                /* marks outlive the history by this much */
#define ACMS_SEEN_TTL_DEFAULT_S (ACMS_HISTORY_MAX_S + ACMS_SEEN_MARGIN_S) /* ACMS_SEEN_TTL_S */

/* Lua, prepended to a script: acms_gone(run) -> true when the run's hash is absent and it has a
 * tombstone; acms_retain(run, key, keep_ms) -> after a write to key of run: PEXPIREAT the run's
 * expires_ms when it has one, PEXPIRE keep_ms when the run's hash is absent; true when it set an
 * expiry; acms_run_keys(run) -> every key of the run (from its step list, or its summary once
 * compacted); acms_expire_run(run, now_ms, keep_ms) -> the terminal-status step above. */
#define ACMS_RETENTION_LUA                                                                                             \
    "local function acms_gone(run)\n"                                                                                  \
    "  if redis.call('EXISTS', 'acms:run:' .. run) == 1 then return false end\n"                                       \
    "  return redis.call('ZSCORE', 'acms:runs:gone', run) ~= false or\n"                                               \
    "         redis.call('ZSCORE', 'acms:runs:deleted', run) ~= false\n"                                               \
    "end\n"                                                                                                            \
    "local function acms_retain(run, key, keep)\n"                                                                     \
    "  local rk = 'acms:run:' .. run\n"                                                                                \
    "  local at = redis.call('HGET', rk, 'expires_ms')\n"                                                              \
    "  if at then redis.call('PEXPIREAT', key, at) return true end\n"                                                  \
    "  if redis.call('EXISTS', rk) == 0 then redis.call('PEXPIRE', key, keep) return true end\n"                       \
    "  return false\n"                                                                                                 \
    "end\n"                                                                                                            \
    "local function acms_run_keys(run)\n"                                                                              \
    "  local rk = 'acms:run:' .. run\n"                                                                                \
    "  local ks = {rk, rk .. ':runtime', rk .. ':steps', rk .. ':adaptations', rk .. ':validation',\n"                 \
    "              rk .. ':findings', rk .. ':alerts', rk .. ':cancel', rk .. ':rtonce', rk .. ':live',\n"             \
    "              'acms:monitor:session:' .. run,\n"                                                                  \
    "              'acms:feedback:run:' .. run, 'acms:feedback:runfixes:' .. run}\n"                                   \
    "  local steps = redis.call('LRANGE', rk .. ':steps', 0, -1)\n"                                                    \
    "  local att = {}\n"                                                                                               \
    "  for i, s in ipairs(steps) do\n"                                                                                 \
    "    ks[#ks + 1] = rk .. ':step:' .. s\n"                                                                          \
    "    att[i] = tonumber(redis.call('HGET', rk .. ':step:' .. s, 'attempt')) or 0\n"                                 \
    "  end\n"                                                                                                          \
    "  if #steps == 0 then\n"                                                                                          \
    "    local ok, doc = pcall(cjson.decode, redis.call('HGET', rk, 'summary') or '')\n"                               \
    "    if ok and type(doc) == 'table' and type(doc.steps) == 'table' then\n"                                         \
    "      for _, st in ipairs(doc.steps) do\n"                                                                        \
    "        if type(st) == 'table' and type(st.name) == 'string' then\n"                                              \
    "          steps[#steps + 1] = st.name\n"                                                                          \
    "          att[#steps] = tonumber(st.attempt) or 0\n"                                                              \
    "        end\n"                                                                                                    \
    "      end\n"                                                                                                      \
    "    end\n"                                                                                                        \
    "  end\n"                                                                                                          \
    "  for i, s in ipairs(steps) do\n"                                                                                 \
    "    for a = 1, att[i] do ks[#ks + 1] = rk .. ':log:' .. s .. ':' .. a end\n"                                      \
    "  end\n"                                                                                                          \
    "  return ks\n"                                                                                                    \
    "end\n"                                                                                                            \
    "local function acms_expire_run(run, now, keep)\n"                                                                 \
    "  local rk = 'acms:run:' .. run\n"                                                                                \
    "  local at = redis.call('HGET', rk, 'expires_ms')\n"                                                              \
    "  if not at then\n"                                                                                               \
    "    at = string.format('%d', now + keep)\n"                                                                       \
    "    redis.call('HSET', rk, 'expires_ms', at)\n"                                                                   \
    "    redis.call('ZADD', 'acms:runs:compact', now, run)\n"                                                          \
    "  end\n"                                                                                                          \
    "  for _, k in ipairs(acms_run_keys(run)) do redis.call('PEXPIREAT', k, at) end\n"                                 \
    "  redis.call('ZADD', 'acms:runs:expiry', at, run)\n"                                                              \
    "  local h = redis.call('HGET', rk, 'config_hash')\n"                                                              \
    "  if h then\n"                                                                                                    \
    "    local t = redis.call('PEXPIRETIME', 'acms:doc:' .. h)\n"                                                      \
    "    if t >= 0 and t < tonumber(at) then redis.call('PEXPIREAT', 'acms:doc:' .. h, at) end\n"                      \
    "  end\n"                                                                                                          \
    "end\n"

/* What the sweep does: runs whose hash expired leave acms:runs, tombstones older than tombstone_ms
 * go, and (compact_after_ms >= 0) runs finished at least that long ago are compacted. At most max
 * runs of each kind per call. */
typedef struct acms_sweep {
    int64_t now_ms;
    int64_t compact_after_ms;  /* < 0: no compaction */
    int64_t tombstone_ms;      /* how long a tombstone is kept (ACMS_SEEN_TTL_S) */
    size_t max;                /* 0 = 500 */
    size_t expired, compacted; /* out: runs dropped from the index, runs compacted */
} acms_sweep;

/* One sweep (one script, atomic; any number of replicas may sweep). ACMS_OK or ACMS_ERR_RETRY. */
int acms_retention_sweep(acms_redis *r, acms_sweep *s);

/* Removes a finished run's state now: every key of the run, its entries in acms:runs and the
 * retention indexes, and leaves a tombstone in acms:runs:deleted. Returns 1 deleted, 0 refused (the
 * run has not ended: status given in status, a buffer of size bytes), ACMS_ERR_NOTFOUND (no such
 * run), ACMS_ERR_RETRY (Redis). */
int acms_retention_delete(acms_redis *r, const char *run_id, char *status, size_t size);

/* Is the run gone? 1 with *when_ms (the time it left) and *deleted (1 deleted, 0 expired), 0 when
 * there is no tombstone, ACMS_ERR_RETRY. */
int acms_retention_gone(acms_redis *r, const char *run_id, int64_t *when_ms, int *deleted);

/* HSET field value on an existing run's hash (never creates one; a finished run's expiry stays).
 * 1 written, 0 no such run, ACMS_ERR_RETRY. */
int acms_retention_link(acms_redis *r, const char *run_id, const char *field, const char *value);

/* The rule between the bus and the marks: every topic's retention is finite and at least
 * ACMS_SEEN_MARGIN_S shorter than seen_ttl_s. ACMS_OK, or ACMS_ERR_INVALID with errstr naming the
 * topic, its retention and what to change. */
int acms_retention_check_topics(const acms_topics *ts, int64_t seen_ttl_s, char *errstr, size_t errstr_size);

#endif
