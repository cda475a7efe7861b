/* redis_hash.c: the seen-guarded, versioned, all-or-nothing hash writes of redis_hash.h. */
#include "redis_hash.h"

#include <string.h>

#include "log.h"
#include "retention.h"

/* KEYS[1] seen marker, KEYS[2..] hashes. ARGV[1] seen ttl (0 = unguarded), ARGV[2] run retention (ms);
 * per hash: expect ('' = unversioned), ttl, replace (0|1), nsetnx, nset, nincr, run ('' = none), then
 * the pairs of each list. */
static const char k_apply_lua[] = ACMS_RETENTION_LUA
    "local guard = tonumber(ARGV[1])\n"
    "if guard > 0 and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
    "local p = 3\n"
    "for k = 2, #KEYS do\n"
    "  local expect = ARGV[p]\n"
    "  if expect ~= '' then\n"
    "    local cur = redis.call('HGET', KEYS[k], 'version') or '0'\n"
    "    if cur ~= expect then return -1 end\n"
    "  end\n"
    "  p = p + 7 + 2 * (tonumber(ARGV[p+3]) + tonumber(ARGV[p+4]) + tonumber(ARGV[p+5]))\n"
    "end\n"
    "p = 3\n"
    "for k = 2, #KEYS do\n"
    "  local key, expect, ttl, replace = KEYS[k], ARGV[p], tonumber(ARGV[p+1]), ARGV[p+2]\n"
    "  local nsetnx, nset, nincr, run = tonumber(ARGV[p+3]), tonumber(ARGV[p+4]), tonumber(ARGV[p+5]), ARGV[p+6]\n"
    "  p = p + 7\n"
    "  local skip = run ~= '' and acms_gone(run)\n"
    "  if skip then\n"
    "    p = p + 2 * (nsetnx + nset + nincr)\n"
    "  else\n"
    "    if replace == '1' then redis.call('DEL', key) end\n"
    "    for i = 1, nsetnx do redis.call('HSETNX', key, ARGV[p], ARGV[p+1]); p = p + 2 end\n"
    "    for i = 1, nset do redis.call('HSET', key, ARGV[p], ARGV[p+1]); p = p + 2 end\n"
    "    for i = 1, nincr do redis.call('HINCRBY', key, ARGV[p], ARGV[p+1]); p = p + 2 end\n"
    "    if expect ~= '' then redis.call('HSET', key, 'version', tostring(tonumber(expect) + 1)) end\n"
    "    if not (run ~= '' and acms_retain(run, key, ARGV[2])) and ttl > 0 then\n"
    "      redis.call('EXPIRE', key, ttl)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if guard > 0 then redis.call('SET', KEYS[1], '1', 'EX', guard) end\n"
    "return 1\n";

void acms_hash_op_add(acms_arena *a, const char ***arr, size_t *n, const char *field, const char *value)
{
    *arr = acms_arena_push(a, *arr, n, sizeof **arr);
    (*arr)[*n - 1] = acms_arena_strdup(a, field);
    *arr = acms_arena_push(a, *arr, n, sizeof **arr);
    (*arr)[*n - 1] = acms_arena_strdup(a, value ? value : "");
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

static void pairs(acms_arena *a, argv_buf *b, const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        arg(a, b, v[i]);
}

int acms_hash_apply(acms_redis *r, const char *seen_key, int seen_ttl_s, const acms_hash_op *ops, size_t nops)
{
    acms_arena *a = acms_arena_new(0);
    argv_buf b = {0};
    int guard = seen_key && seen_ttl_s > 0;
    arg(a, &b, "EVAL");
    arg(a, &b, k_apply_lua);
    arg(a, &b, acms_arena_printf(a, "%zu", nops + 1));
    arg(a, &b, guard ? seen_key : "acms:seen:-");
    for (size_t i = 0; i < nops; i++)
        arg(a, &b, ops[i].key);
    arg(a, &b, acms_arena_printf(a, "%d", guard ? seen_ttl_s : 0));
    arg(a, &b, acms_redis_run_retention_arg(r));
    for (size_t i = 0; i < nops; i++) {
        const acms_hash_op *o = &ops[i];
        size_t nsetnx = o->nsetnx & ~(size_t)1, nset = o->nset & ~(size_t)1, nincr = o->nincr & ~(size_t)1;
        arg(a, &b, o->expect_version ? o->expect_version : "");
        arg(a, &b, acms_arena_printf(a, "%d", o->ttl_s));
        arg(a, &b, o->replace ? "1" : "0");
        arg(a, &b, acms_arena_printf(a, "%zu", nsetnx / 2));
        arg(a, &b, acms_arena_printf(a, "%zu", nset / 2));
        arg(a, &b, acms_arena_printf(a, "%zu", nincr / 2));
        arg(a, &b, o->run_id ? o->run_id : "");
        pairs(a, &b, o->setnx, nsetnx);
        pairs(a, &b, o->set, nset);
        pairs(a, &b, o->incr, nincr);
    }
    int rc;
    redisReply *rep = acms_redis_cmdargv(r, (int)b.n, b.v, b.len);
    if (!rep) {
        rc = ACMS_ERR_RETRY;
    } else if (rep->type == REDIS_REPLY_INTEGER) {
        rc = rep->integer == 1 ? 1 : rep->integer == 0 ? 0 : ACMS_ERR_STALE;
    } else {
        acms_log_error(NULL, NULL, "hash apply script failed: %s",
                       rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
        rc = ACMS_ERR_RETRY;
    }
    if (rep)
        freeReplyObject(rep);
    acms_arena_free(a);
    return rc;
}
