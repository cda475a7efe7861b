/* lease.c: one owner per run. acms:lease:<run> holds the owning instance id with a PX expiry;
 * the owner renews it every second, and only the owner can renew or release it (compare-and-set
 * scripts). A run whose lease expired is free for any replica to take over and resume. */
#include "lease.h"

#include "keys.h"

#include <stdio.h>
#include <string.h>

static const char *const acquire_script = "local v = redis.call('GET', KEYS[1])\n"
                                          "if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end\n"
                                          "if v then return 0 end\n"
                                          "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
                                          "return 1\n";

/* acquire_script, for a run found in the active set: only while it is still there. A run's last
 * owner leaves the set before it gives the lease back, so a run that finished after the scan read
 * the set is not taken (and finished a second time). */
static const char *const takeover_script = "if redis.call('SISMEMBER', KEYS[2], ARGV[3]) == 0 then return 0 end\n"
                                           "local v = redis.call('GET', KEYS[1])\n"
                                           "if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end\n"
                                           "if v then return 0 end\n"
                                           "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
                                           "return 1\n";

static const char *const renew_script = "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
                                        "  redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1\n"
                                        "end\n"
                                        "return 0\n";

static const char *const release_script =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end\n"
    "return 0\n";

static int eval(acms_redis *r, const char *script, const char *run_id, const char *owner, int ttl_ms)
{
    char key[ACMS_KEY_MAX], ttl[24];
    if (!acms_key_lease(key, sizeof key, run_id))
        return ACMS_ERR_INVALID;
    snprintf(ttl, sizeof ttl, "%d", ttl_ms > 0 ? ttl_ms : COORD_LEASE_TTL_MS);
    /* every script gets the active set and the run id too; the ones that do not need them ignore them */
    const char *argv[] = {"EVAL", script, "2", key, ACMS_KEY_RUNS_ACTIVE, owner, ttl, run_id};
    size_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = strlen(argv[i]);
    redisReply *rep = acms_redis_cmdargv(r, 8, argv, len);
    if (!rep)
        return ACMS_ERR_RETRY;
    int rc = rep->type == REDIS_REPLY_INTEGER ? (int)rep->integer : ACMS_ERR_RETRY;
    freeReplyObject(rep);
    return rc;
}

int coord_lease_acquire(acms_redis *r, const char *run_id, const char *owner, int ttl_ms)
{
    return eval(r, acquire_script, run_id, owner, ttl_ms);
}

int coord_lease_take_over(acms_redis *r, const char *run_id, const char *owner, int ttl_ms)
{
    return eval(r, takeover_script, run_id, owner, ttl_ms);
}

int coord_lease_renew(acms_redis *r, const char *run_id, const char *owner, int ttl_ms)
{
    return eval(r, renew_script, run_id, owner, ttl_ms);
}

int coord_lease_release(acms_redis *r, const char *run_id, const char *owner)
{
    return eval(r, release_script, run_id, owner, 0);
}
