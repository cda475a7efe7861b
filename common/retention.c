/* retention.c: the sweep, deletion, tombstones and the marks-versus-history rule of retention.h. */
#include "retention.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"

/* ARGV: now, max, compact_before (< 0 none), tombstones_before. Returns {expired, compacted}. */
static const char sweep_lua[] = ACMS_RETENTION_LUA
    "local function acms_compact(run, now)\n"
    "  local rk = 'acms:run:' .. run\n"
    "  if redis.call('EXISTS', rk) == 0 or redis.call('HEXISTS', rk, 'compacted_ms') == 1 then return 0 end\n"
    "  local st = redis.call('HGET', rk, 'status')\n"
    "  if st ~= 'succeeded' and st ~= 'failed' and st ~= 'cancelled' and st ~= 'rejected' then return 0 end\n"
    "  local n, prep = 0, tonumber(redis.call('HGET', rk, 'adaptations_prepared')) or 1\n"
    "  for _, e in ipairs(redis.call('LRANGE', rk .. ':adaptations', 0, -1)) do\n" /* JSON records, packed logs */
    "    if string.sub(e, 1, 1) == '{' then n = n + 1 else n = n + prep end\n"
    "  end\n"
    "  redis.call('HSET', rk, 'adaptations_count', n, 'compacted_ms', string.format('%d', now))\n"
    "  redis.call('DEL', rk .. ':runtime', rk .. ':adaptations', rk .. ':rtonce', rk .. ':live',\n"
    "             'acms:monitor:session:' .. run)\n"
    "  if redis.call('HEXISTS', rk, 'summary') == 1 then\n"
    "    for _, s in ipairs(redis.call('LRANGE', rk .. ':steps', 0, -1)) do\n"
    "      redis.call('DEL', rk .. ':step:' .. s)\n"
    "    end\n"
    "    redis.call('DEL', rk .. ':steps')\n"
    "  end\n"
    "  return 1\n"
    "end\n"
    "local now, max = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
    "local cbefore, gbefore = tonumber(ARGV[3]), tonumber(ARGV[4])\n"
    "local expired, compacted = 0, 0\n"
    "for _, run in ipairs(redis.call('ZRANGEBYSCORE', 'acms:runs:expiry', '-inf', now, 'LIMIT', 0, max)) do\n"
    "  local rk = 'acms:run:' .. run\n"
    "  local pt = redis.call('PTTL', rk)\n"
    "  if pt == -2 then\n" /* gone by its expiry */
    "    redis.call('ZREM', 'acms:runs', run)\n"
    "    redis.call('ZREM', 'acms:runs:compact', run)\n"
    "    redis.call('ZREM', 'acms:runs:expiry', run)\n"
    "    redis.call('ZADD', 'acms:runs:gone', now, run)\n"
    "    expired = expired + 1\n"
    "  elseif pt >= 0 then\n" /* this host's clock is ahead of Redis's: look again then */
    "    redis.call('ZADD', 'acms:runs:expiry', now + pt + 1, run)\n"
    "  else\n" /* a key of a finished run without expiry: apply it again */
    "    acms_expire_run(run, now, 0)\n"
    "  end\n"
    "end\n"
    "redis.call('ZREMRANGEBYSCORE', 'acms:runs:gone', '-inf', gbefore)\n"
    "redis.call('ZREMRANGEBYSCORE', 'acms:runs:deleted', '-inf', gbefore)\n"
    "if cbefore >= 0 then\n"
    "  for _, run in ipairs(redis.call('ZRANGEBYSCORE', 'acms:runs:compact', '-inf', cbefore, 'LIMIT', 0, max)) do\n"
    "    compacted = compacted + acms_compact(run, now)\n"
    "    redis.call('ZREM', 'acms:runs:compact', run)\n"
    "  end\n"
    "end\n"
    "return {expired, compacted}\n";

int acms_retention_sweep(acms_redis *r, acms_sweep *s)
{
    char now[24], max[24], cb[24], gb[24];
    s->expired = s->compacted = 0;
    snprintf(now, sizeof now, "%lld", (long long)s->now_ms);
    snprintf(max, sizeof max, "%zu", s->max ? s->max : 500);
    snprintf(cb, sizeof cb, "%lld", (long long)(s->compact_after_ms < 0 ? -1 : s->now_ms - s->compact_after_ms));
    snprintf(gb, sizeof gb, "%lld", (long long)(s->now_ms - s->tombstone_ms));
    const char *argv[] = {"EVAL", sweep_lua, "0", now, max, cb, gb};
    size_t len[7];
    for (int i = 0; i < 7; i++)
        len[i] = strlen(argv[i]);
    redisReply *rep = acms_redis_cmdargv(r, 7, argv, len);
    int rc = ACMS_ERR_RETRY;
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2) {
        s->expired = (size_t)acms_redis_int(rep->element[0], 0);
        s->compacted = (size_t)acms_redis_int(rep->element[1], 0);
        rc = ACMS_OK;
    }
    if (rep)
        freeReplyObject(rep);
    return rc;
}

/* ARGV: run, now. Returns 1 deleted, -1 unknown, or the status of a run that has not ended. */
static const char delete_lua[] = ACMS_RETENTION_LUA
    "local run, now = ARGV[1], ARGV[2]\n"
    "local st = redis.call('HGET', 'acms:run:' .. run, 'status')\n"
    "if not st then return -1 end\n"
    "if st ~= 'succeeded' and st ~= 'failed' and st ~= 'cancelled' and st ~= 'rejected' then return st end\n"
    "for _, k in ipairs(acms_run_keys(run)) do redis.call('DEL', k) end\n"
    "redis.call('ZREM', 'acms:runs', run)\n"
    "redis.call('ZREM', 'acms:runs:expiry', run)\n"
    "redis.call('ZREM', 'acms:runs:compact', run)\n"
    "redis.call('ZADD', 'acms:runs:deleted', now, run)\n"
    "return 1\n";

int acms_retention_delete(acms_redis *r, const char *run_id, char *status, size_t size)
{
    char now[24];
    if (acms_id_problem(run_id))
        return ACMS_ERR_NOTFOUND;
    snprintf(now, sizeof now, "%lld", (long long)acms_now_ms());
    const char *argv[] = {"EVAL", delete_lua, "0", run_id, now};
    size_t len[5];
    for (int i = 0; i < 5; i++)
        len[i] = strlen(argv[i]);
    redisReply *rep = acms_redis_cmdargv(r, 5, argv, len);
    int rc = ACMS_ERR_RETRY;
    if (rep && rep->type == REDIS_REPLY_INTEGER) {
        rc = rep->integer == 1 ? 1 : ACMS_ERR_NOTFOUND;
    } else if (rep && rep->type == REDIS_REPLY_STRING) {
        snprintf(status, size, "%s", rep->str);
        rc = 0;
    }
    if (rep)
        freeReplyObject(rep);
    return rc;
}

int acms_retention_gone(acms_redis *r, const char *run_id, int64_t *when_ms, int *deleted)
{
    acms_redis_append(r, "ZSCORE %s %s", ACMS_KEY_RUNS_GONE, run_id);
    acms_redis_append(r, "ZSCORE %s %s", ACMS_KEY_RUNS_DELETED, run_id);
    redisReply *rep[2] = {0};
    if (acms_redis_exec(r, rep, 2) != ACMS_OK)
        return ACMS_ERR_RETRY;
    int rc = 0;
    for (int i = 0; i < 2 && !rc; i++)
        if (rep[i] && rep[i]->type == REDIS_REPLY_STRING) {
            *when_ms = (int64_t)strtod(rep[i]->str, NULL);
            *deleted = i == 1;
            rc = 1;
        }
    for (int i = 0; i < 2; i++)
        if (rep[i])
            freeReplyObject(rep[i]);
    return rc;
}

static const char link_lua[] = "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
                               "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])\n"
                               "return 1\n";

int acms_retention_link(acms_redis *r, const char *run_id, const char *field, const char *value)
{
    char key[ACMS_KEY_MAX];
    if (!acms_key_run(key, sizeof key, run_id))
        return 0;
    const char *argv[] = {"EVAL", link_lua, "1", key, field, value};
    size_t len[6];
    for (int i = 0; i < 6; i++)
        len[i] = strlen(argv[i]);
    redisReply *rep = acms_redis_cmdargv(r, 6, argv, len);
    int rc = rep && rep->type == REDIS_REPLY_INTEGER ? (int)rep->integer : ACMS_ERR_RETRY;
    if (rep)
        freeReplyObject(rep);
    return rc;
}

int acms_retention_check_topics(const acms_topics *ts, int64_t seen_ttl_s, char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < ts->n; i++) {
        const acms_topic_spec *t = &ts->t[i];
        if (t->retention_ms < 0) {
            snprintf(errstr, errstr_size,
                     "topic %s keeps its history forever (retention_ms -1): the idempotency marks live "
                     "ACMS_SEEN_TTL_S = %lld s, so a replay of older events would be applied twice; give it a "
                     "finite retention",
                     t->name, (long long)seen_ttl_s);
            return ACMS_ERR_INVALID;
        }
        int64_t need = t->retention_ms / 1000 + (t->retention_ms % 1000 != 0) + ACMS_SEEN_MARGIN_S;
        if (need > seen_ttl_s) {
            snprintf(errstr, errstr_size,
                     "topic %s keeps %lld s of history but the idempotency marks live ACMS_SEEN_TTL_S = %lld s: "
                     "a replay of its oldest events would be applied twice; set ACMS_SEEN_TTL_S to at least "
                     "%lld on every service and acmsctl, or shorten the topic's retention_ms",
                     t->name, (long long)(t->retention_ms / 1000), (long long)seen_ttl_s, (long long)need);
            return ACMS_ERR_INVALID;
        }
    }
    return ACMS_OK;
}
