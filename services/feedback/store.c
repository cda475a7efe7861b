/* store.c: the feedback service's seen-guarded, versioned, all-or-nothing Redis writes (store.h).
 * Invariants: the script checks every precondition before its first write, so a refused event
 * writes nothing; the seen key is set in the same script as the effects. */
#include "store.h"

#include <string.h>

#include "arena.h"
#include "log.h"

/* KEYS[1] seen, KEYS[2..] hashes. ARGV[1] seen ttl; per hash: expect ('' = unversioned), ttl,
 * replace (0|1), nset, nincr, then the pairs. */
static const char k_apply_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
    "local p = 2\n"
    "for k = 2, #KEYS do\n"
    "  local expect = ARGV[p]\n"
    "  if expect ~= '' then\n"
    "    local cur = redis.call('HGET', KEYS[k], 'version') or '0'\n"
    "    if cur ~= expect then return -1 end\n"
    "  end\n"
    "  p = p + 5 + 2 * (tonumber(ARGV[p+3]) + tonumber(ARGV[p+4]))\n"
    "end\n"
    "p = 2\n"
    "for k = 2, #KEYS do\n"
    "  local key, expect, ttl, replace = KEYS[k], ARGV[p], tonumber(ARGV[p+1]), ARGV[p+2]\n"
    "  local nset, nincr = tonumber(ARGV[p+3]), tonumber(ARGV[p+4])\n"
    "  p = p + 5\n"
    "  if replace == '1' then redis.call('DEL', key) end\n"
    "  for i = 1, nset do redis.call('HSET', key, ARGV[p], ARGV[p+1]); p = p + 2 end\n"
    "  for i = 1, nincr do redis.call('HINCRBY', key, ARGV[p], ARGV[p+1]); p = p + 2 end\n"
    "  if expect ~= '' then redis.call('HSET', key, 'version', tostring(tonumber(expect) + 1)) end\n"
    "  if ttl > 0 then redis.call('EXPIRE', key, ttl) end\n"
    "end\n"
    "redis.call('SET', KEYS[1], '1', 'EX', tonumber(ARGV[1]))\n"
    "return 1\n";

void feedback_op_add(acms_arena *a, const char ***arr, size_t *n, const char *field, const char *value)
{
    *arr = acms_arena_push(a, *arr, n, sizeof **arr);
    (*arr)[*n - 1] = acms_arena_strdup(a, field);
    *arr = acms_arena_push(a, *arr, n, sizeof **arr);
    (*arr)[*n - 1] = acms_arena_strdup(a, value ? value : "");
}

const char *feedback_key_seen(acms_arena *a, const char *event_id)
{
    return acms_arena_printf(a, "acms:seen:feedback:%s", event_id);
}

const char *feedback_key_run(acms_arena *a, const char *run_id)
{
    return acms_arena_printf(a, "acms:feedback:run:%s", run_id);
}

const char *feedback_key_runfixes(acms_arena *a, const char *run_id)
{
    return acms_arena_printf(a, "acms:feedback:runfixes:%s", run_id);
}

const char *feedback_key_stats(acms_arena *a, const char *pipeline, const char *step)
{
    return acms_arena_printf(a, "acms:feedback:stats:%s:%s", pipeline, step);
}

const char *feedback_key_rec(acms_arena *a, const char *pipeline, const char *step)
{
    return acms_arena_printf(a, "acms:learn:rec:%s:%s", pipeline, step);
}

const char *feedback_key_lastissues(acms_arena *a, const char *pipeline, const char *env)
{
    return acms_arena_printf(a, "acms:feedback:lastissues:%s:%s", pipeline, env);
}

const char *feedback_key_fix(acms_arena *a, const char *code)
{
    return acms_arena_printf(a, "acms:learn:fix:%s", code);
}

const char *feedback_key_alerts(acms_arena *a, const char *pipeline)
{
    return acms_arena_printf(a, "acms:feedback:alerts:%s", pipeline);
}

typedef struct argv_buf {
    const char **v;
    size_t *len;
    size_t n;
} argv_buf;

static void arg(acms_arena *a, argv_buf *b, const char *s)
{
    size_t n = b->n;
    b->v = acms_arena_push(a, b->v, &n, sizeof *b->v);
    n = b->n;
    b->len = acms_arena_push(a, b->len, &n, sizeof *b->len);
    b->v[b->n] = s;
    b->len[b->n] = strlen(s);
    b->n++;
}

int feedback_store_apply(acms_redis *r, const char *seen_key, const feedback_hash_op *ops, size_t nops)
{
    acms_arena *a = acms_arena_new(0);
    argv_buf b = {0};
    arg(a, &b, "EVAL");
    arg(a, &b, k_apply_lua);
    arg(a, &b, acms_arena_printf(a, "%zu", nops + 1));
    arg(a, &b, seen_key);
    for (size_t i = 0; i < nops; i++)
        arg(a, &b, ops[i].key);
    arg(a, &b, acms_arena_printf(a, "%d", FEEDBACK_SEEN_TTL_S));
    for (size_t i = 0; i < nops; i++) {
        const feedback_hash_op *o = &ops[i];
        size_t nset = o->nset & ~(size_t)1, nincr = o->nincr & ~(size_t)1;
        arg(a, &b, o->expect_version ? o->expect_version : "");
        arg(a, &b, acms_arena_printf(a, "%d", o->ttl_s));
        arg(a, &b, o->replace ? "1" : "0");
        arg(a, &b, acms_arena_printf(a, "%zu", nset / 2));
        arg(a, &b, acms_arena_printf(a, "%zu", nincr / 2));
        for (size_t j = 0; j < nset; j++)
            arg(a, &b, o->set[j]);
        for (size_t j = 0; j < nincr; j++)
            arg(a, &b, o->incr[j]);
    }
    int rc;
    redisReply *rep = acms_redis_cmdargv(r, (int)b.n, b.v, b.len);
    if (!rep) {
        rc = ACMS_ERR_RETRY;
    } else if (rep->type == REDIS_REPLY_INTEGER) {
        rc = rep->integer == 1 ? 1 : rep->integer == 0 ? 0 : -1;
    } else {
        acms_log_error(NULL, NULL, "feedback apply script failed: %s",
                       rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
        rc = ACMS_ERR_RETRY;
    }
    if (rep)
        freeReplyObject(rep);
    acms_arena_free(a);
    return rc;
}

int feedback_store_hgetall(acms_redis *r, acms_arena *a, const char *key, const char ***kv, size_t *nkv)
{
    *kv = NULL;
    *nkv = 0;
    redisReply *rep = acms_redis_cmd(r, "HGETALL %s", key);
    if (!rep)
        return ACMS_ERR_RETRY;
    int rc = ACMS_OK;
    if (rep->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i + 1 < rep->elements; i += 2) {
            const redisReply *f = rep->element[i], *v = rep->element[i + 1];
            if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
                continue;
            *kv = acms_arena_push(a, *kv, nkv, sizeof **kv);
            (*kv)[*nkv - 1] = acms_arena_strndup(a, f->str, f->len);
            *kv = acms_arena_push(a, *kv, nkv, sizeof **kv);
            (*kv)[*nkv - 1] = acms_arena_strndup(a, v->str, v->len);
        }
    } else if (rep->type == REDIS_REPLY_ERROR) {
        acms_log_error(NULL, NULL, "HGETALL %s: %s", key, rep->str);
        rc = ACMS_ERR_RETRY;
    }
    freeReplyObject(rep);
    return rc;
}

int feedback_store_exists(acms_redis *r, const char *key)
{
    redisReply *rep = acms_redis_cmd(r, "EXISTS %s", key);
    if (!rep)
        return ACMS_ERR_RETRY;
    int rc = rep->type == REDIS_REPLY_INTEGER ? (rep->integer > 0) : ACMS_ERR_RETRY;
    freeReplyObject(rep);
    return rc;
}
