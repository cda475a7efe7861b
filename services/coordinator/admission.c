/* admission.c: an environment's quotas across coordinator replicas, as reservations in Redis.
 *   acms:quota:<env>:runs     zset  admitted runs -> lease expiry (ms, Redis's clock)
 *   acms:quota:<env>:queue    zset  waiting runs -> arrival sequence (FIFO)
 *   acms:quota:<env>:waiting  zset  waiting runs -> lease expiry
 *   acms:quota:<env>:steps    hash  "<run>\t<step>" -> "<instances> <memory_mb>" of running attempts
 *   acms:quota:<env>:seq      counter of arrivals; a run keeps its number (acms:run:<run> queue_seq)
 * Invariants: at most max_active_runs runs hold a slot, and the running steps of the environment
 * hold at most max_total_instances instances and max_memory_mb MiB (a step larger than a quota runs
 * only when nothing else does, rather than never); only the longest-waiting run is admitted; every
 * entry has a lease renewed by its owner, so what a crashed replica held comes free within
 * COORD_ADMIT_LEASE_MS and a step reservation ends with its run's. Each check is one script. */
#include "admission.h"
#include "keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const admit_script =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local exp = now + tonumber(ARGV[2])\n"
    "local max = tonumber(ARGV[3])\n"
    "local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)\n"
    "if #dead > 0 then\n"
    "  local gone = {}\n"
    "  for _, r in ipairs(dead) do redis.call('ZREM', KEYS[1], r); gone[r] = true end\n"
    "  for _, f in ipairs(redis.call('HKEYS', KEYS[4])) do\n"
    "    if gone[string.match(f, '^(.-)\\t')] then redis.call('HDEL', KEYS[4], f) end\n"
    "  end\n"
    "end\n"
    "for _, r in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)) do\n"
    "  redis.call('ZREM', KEYS[3], r); redis.call('ZREM', KEYS[2], r)\n"
    "end\n"
    "if redis.call('ZSCORE', KEYS[1], ARGV[1]) then\n"
    "  redis.call('ZADD', KEYS[1], exp, ARGV[1])\n"
    "  return {1, 0, redis.call('ZCARD', KEYS[1])}\n"
    "end\n"
    "local seq = redis.call('HGET', KEYS[6], 'queue_seq')\n"
    "if not seq then seq = redis.call('INCR', KEYS[5]); redis.call('HSET', KEYS[6], 'queue_seq', seq) end\n"
    "redis.call('ZADD', KEYS[2], seq, ARGV[1])\n"
    "redis.call('ZADD', KEYS[3], exp, ARGV[1])\n"
    "local active = redis.call('ZCARD', KEYS[1])\n"
    "local rank = redis.call('ZRANK', KEYS[2], ARGV[1])\n"
    "if (max == 0 or active < max) and rank == 0 then\n"
    "  redis.call('ZREM', KEYS[2], ARGV[1]); redis.call('ZREM', KEYS[3], ARGV[1])\n"
    "  redis.call('ZADD', KEYS[1], exp, ARGV[1])\n"
    "  return {1, 0, active + 1}\n"
    "end\n"
    "return {0, rank + 1, active}\n";

static const char *const renew_script = "local t = redis.call('TIME')\n"
                                        "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
                                        "local s = redis.call('ZSCORE', KEYS[1], ARGV[1])\n"
                                        "if not s or tonumber(s) <= now then return 0 end\n"
                                        "redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])\n"
                                        "return 1\n";

static const char *const reserve_script =
    "if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return {-1} end\n"
    "local inst, mem = 0, 0\n"
    "local h = redis.call('HGETALL', KEYS[2])\n"
    "for i = 1, #h, 2 do\n"
    "  local run = string.match(h[i], '^(.-)\\t')\n"
    "  if run and redis.call('ZSCORE', KEYS[1], run) then\n"
    "    local a, b = string.match(h[i + 1], '^(%d+) (%d+)$')\n"
    "    inst = inst + tonumber(a); mem = mem + tonumber(b)\n"
    "  else redis.call('HDEL', KEYS[2], h[i]) end\n"
    "end\n"
    "local mi, mm, res = tonumber(ARGV[2]), tonumber(ARGV[3]), {}\n"
    "for k = 4, #ARGV, 3 do\n"
    "  local f, i, m = ARGV[k], tonumber(ARGV[k + 1]), tonumber(ARGV[k + 2])\n"
    "  if redis.call('HEXISTS', KEYS[2], f) == 1 then table.insert(res, 1)\n"
    "  elseif (mi == 0 or inst + i <= mi or inst == 0) and (mm == 0 or mem + m <= mm or mem == 0) then\n"
    "    redis.call('HSET', KEYS[2], f, i .. ' ' .. m); inst = inst + i; mem = mem + m; table.insert(res, 1)\n"
    "  else table.insert(res, 0) end\n"
    "end\n"
    "table.insert(res, inst); table.insert(res, mem)\n"
    "return res\n";

static const char *const release_script =
    "redis.call('ZREM', KEYS[1], ARGV[1]); redis.call('ZREM', KEYS[2], ARGV[1]); redis.call('ZREM', KEYS[3], ARGV[1])\n"
    "for _, f in ipairs(redis.call('HKEYS', KEYS[4])) do\n"
    "  if string.match(f, '^(.-)\\t') == ARGV[1] then redis.call('HDEL', KEYS[4], f) end\n"
    "end\n"
    "return 1\n";

int coord_admission_needed(const Acms__V1__Environment *env)
{
    const Acms__V1__Quotas *q = env ? env->quotas : NULL;
    return q && (q->max_active_runs || q->max_total_instances || q->max_memory_mb);
}

/* The five keys of env into k (capacity 5 x 300). */
static void keys(const char *env, char k[5][300])
{
    static const char *const names[] = {"runs", "queue", "waiting", "steps", "seq"};
    for (int i = 0; i < 5; i++)
        acms_key_quota(k[i], sizeof k[i], env, names[i]);
}

int coord_admission_run(acms_redis *rd, const coord_run *r, int lease_ms, coord_admission *out)
{
    char k[5][300], runkey[300], lease[24], max[24];
    keys(r->environment, k);
    acms_key_run(runkey, sizeof runkey, r->id);
    snprintf(lease, sizeof lease, "%d", lease_ms);
    snprintf(max, sizeof max, "%u", r->env->quotas ? r->env->quotas->max_active_runs : 0);
    const char *argv[] = {"EVAL", admit_script, "6", k[0], k[1], k[2], k[3], k[4], runkey, r->id, lease, max};
    size_t len[12];
    for (int i = 0; i < 12; i++)
        len[i] = strlen(argv[i]);
    redisReply *rep = acms_redis_cmdargv(rd, 12, argv, len);
    int rc = ACMS_ERR_RETRY;
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 3) {
        out->admitted = acms_redis_int(rep->element[0], 0) == 1;
        out->position = (uint32_t)acms_redis_int(rep->element[1], 0);
        out->active = (uint32_t)acms_redis_int(rep->element[2], 0);
        rc = ACMS_OK;
    } else if (rep && rep->type == REDIS_REPLY_ERROR) {
        acms_log_error(r->id, NULL, "admission script failed: %s", rep->str);
    }
    if (rep)
        freeReplyObject(rep);
    return rc;
}

int coord_admission_renew(acms_redis *rd, const coord_run *r, int lease_ms)
{
    char k[5][300], lease[24];
    keys(r->environment, k);
    snprintf(lease, sizeof lease, "%d", lease_ms);
    const char *argv[] = {"EVAL", renew_script, "1", k[0], r->id, lease};
    size_t len[6];
    for (int i = 0; i < 6; i++)
        len[i] = strlen(argv[i]);
    redisReply *rep = acms_redis_cmdargv(rd, 6, argv, len);
    int rc = rep && rep->type == REDIS_REPLY_INTEGER ? (int)rep->integer : ACMS_ERR_RETRY;
    if (rep)
        freeReplyObject(rep);
    return rc;
}

/* "<run>\t<step>" */
static void step_field(char *out, size_t size, const coord_run *r, const coord_step *s)
{
    coord_fmt(out, size, "%s\t%s", r->id, s->cfg->name);
}

int coord_admission_steps(acms_redis *rd, const coord_run *r, coord_step *const *steps, size_t n, int *granted,
                          uint64_t *in_use_instances, uint64_t *in_use_mb)
{
    enum { MAXS = 64 };
    char k[5][300], mi[24], mm[24], f[MAXS][420], inst[MAXS][16], mem[MAXS][24];
    const char *argv[7 + 3 * MAXS];
    size_t len[7 + 3 * MAXS];
    const Acms__V1__Quotas *q = r->env->quotas;
    if (n > MAXS)
        n = MAXS;
    keys(r->environment, k);
    snprintf(mi, sizeof mi, "%u", q ? q->max_total_instances : 0);
    snprintf(mm, sizeof mm, "%llu", (unsigned long long)(q ? q->max_memory_mb : 0));
    int argc = 0;
    argv[argc++] = "EVAL";
    argv[argc++] = reserve_script;
    argv[argc++] = "2";
    argv[argc++] = k[0];
    argv[argc++] = k[3];
    argv[argc++] = r->id;
    argv[argc++] = mi;
    argv[argc++] = mm;
    for (size_t i = 0; i < n; i++) {
        step_field(f[i], sizeof f[i], r, steps[i]);
        snprintf(inst[i], sizeof inst[i], "%u", steps[i]->cfg->instance_count ? steps[i]->cfg->instance_count : 1);
        snprintf(mem[i], sizeof mem[i], "%llu", (unsigned long long)steps[i]->res.memory_mb);
        argv[argc++] = f[i];
        argv[argc++] = inst[i];
        argv[argc++] = mem[i];
    }
    for (int i = 0; i < argc; i++)
        len[i] = strlen(argv[i]);
    redisReply *rep = acms_redis_cmdargv(rd, argc, argv, len);
    int rc = ACMS_ERR_RETRY;
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 1) {
        rc = ACMS_ERR_NOTFOUND; /* the run lost its slot */
    } else if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == n + 2) {
        for (size_t i = 0; i < n; i++)
            granted[i] = acms_redis_int(rep->element[i], 0) == 1;
        *in_use_instances = (uint64_t)acms_redis_int(rep->element[n], 0);
        *in_use_mb = (uint64_t)acms_redis_int(rep->element[n + 1], 0);
        rc = ACMS_OK;
    } else if (rep && rep->type == REDIS_REPLY_ERROR) {
        acms_log_error(r->id, NULL, "step reservation script failed: %s", rep->str);
    }
    if (rep)
        freeReplyObject(rep);
    return rc;
}

void coord_admission_release_step(coord_run *r, const coord_step *s)
{
    char k[5][300], f[420];
    keys(r->environment, k);
    step_field(f, sizeof f, r, s);
    const char *argv[] = {"HDEL", k[3], f};
    coord_opq_cmd(&r->q, 3, argv);
}

void coord_admission_release_run(coord_run *r)
{
    char k[5][300];
    keys(r->environment, k);
    const char *argv[] = {"EVAL", release_script, "4", k[0], k[1], k[2], k[3], r->id};
    coord_opq_cmd(&r->q, 8, argv);
}

int coord_admission_release_now(acms_redis *rd, const char *env, const char *run_id)
{
    char k[5][300];
    keys(env, k);
    const char *argv[] = {"EVAL", release_script, "4", k[0], k[1], k[2], k[3], run_id};
    size_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = strlen(argv[i]);
    redisReply *rep = acms_redis_cmdargv(rd, 8, argv, len);
    int rc = rep && rep->type == REDIS_REPLY_INTEGER ? ACMS_OK : ACMS_ERR_RETRY;
    if (rep)
        freeReplyObject(rep);
    return rc;
}
