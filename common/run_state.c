/* run_state.c: run and step state in Redis. The run status moves only forward; the check and the
 * write are one Lua script, so concurrent or redelivered writers cannot race it backwards. */
#include "run_state.h"

#include "keys.h"
#include "retention.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The status check and write shared by the scripts below. ARGV[1] status, [2] its rank, [3] now (ms),
 * [4] run id, [5] retention (ms), [6] the number of field/value pairs, then the pairs. A run that is
 * gone (retention.h: tombstone) is never created again. */
#define STATUS_WRITE                                                                                    \
    "local cur = redis.call('HGET', KEYS[1], 'status')\n"                                               \
    "local ranks = {submitted=0, prepared=1, validated=2, queued=3, running=3,\n"                       \
    "               succeeded=4, failed=4, cancelled=4, rejected=4}\n"                                  \
    "if cur then\n"                                                                                     \
    "  local cr = ranks[cur] or 0\n"                                                                    \
    "  if cr == 4 and cur ~= ARGV[1] then return 0 end\n"                                               \
    "  if cr > tonumber(ARGV[2]) then return 0 end\n"                                                   \
    "elseif redis.call('ZSCORE', 'acms:runs:gone', ARGV[4]) or\n"                                       \
    "       redis.call('ZSCORE', 'acms:runs:deleted', ARGV[4]) then\n"                                  \
    "  return 0\n"                                                                                      \
    "end\n"                                                                                             \
    "local nkv = tonumber(ARGV[6])\n"                                                                   \
    "redis.call('HSET', KEYS[1], 'status', ARGV[1], 'updated_ms', ARGV[3], 'run_id', ARGV[4])\n"        \
    "redis.call('HSETNX', KEYS[1], 'submitted_ms', ARGV[3])\n"                                          \
    "for i = 7, 6 + nkv, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end\n"                  \
    "if not cur then redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4]) end\n"

/* Then (list scripts) DEL + RPUSH of KEYS[3] with the arguments after the pairs. */
#define LIST_WRITE                                                                                      \
    "redis.call('DEL', KEYS[3])\n"                                                                      \
    "for i = 7 + nkv, #ARGV, 1000 do\n" /* unpack() is bounded by Lua's C stack: chunks */              \
    "  redis.call('RPUSH', KEYS[3], unpack(ARGV, i, math.min(i + 999, #ARGV)))\n"                       \
    "end\n"

/* A terminal status: the run's keys expire after the retention (retention.h). */
#define EXPIRE_RUN "acms_expire_run(ARGV[4], tonumber(ARGV[3]), tonumber(ARGV[5]))\n"

static const char *const status_script = STATUS_WRITE "return 1\n";
static const char *const status_script_final = ACMS_RETENTION_LUA STATUS_WRITE EXPIRE_RUN "return 1\n";
static const char *const status_list_script = STATUS_WRITE LIST_WRITE "return 1\n";
static const char *const status_list_script_final = ACMS_RETENTION_LUA STATUS_WRITE LIST_WRITE EXPIRE_RUN
    "return 1\n";

int acms_state_rank(const char *status)
{
    static const char *const names[] = {"submitted", "prepared", "validated", "running"};
    if (!status)
        return -1;
    if (!strcmp(status, "queued"))
        return 3; /* waiting for admission: the same rank as running, either way round */
    for (int i = 0; i < 4; i++)
        if (!strcmp(status, names[i]))
            return i;
    return acms_state_is_terminal(status) ? 4 : -1;
}

int acms_state_is_terminal(const char *status)
{
    return status && (!strcmp(status, "succeeded") || !strcmp(status, "failed") || !strcmp(status, "cancelled") ||
                      !strcmp(status, "rejected"));
}


/* The status script's command for run_status and run_status_append. Buffers are the caller's. */
typedef struct status_cmd {
    char key[256], rank[16], now[24], nkv[16];
    const char *argv[80];
    size_t len[80];
    int argc;
} status_cmd;

static int status_cmd_build(status_cmd *c, const acms_redis *r, const char *run_id, const char *status, const char *const *kv,
                            size_t nkv)
{
    int rank = acms_state_rank(status);
    if (rank < 0 || nkv % 2 || nkv > 64)
        return ACMS_ERR_INVALID;
    acms_key_run(c->key, sizeof c->key, run_id);
    snprintf(c->rank, sizeof c->rank, "%d", rank);
    snprintf(c->now, sizeof c->now, "%lld", (long long)acms_now_ms());
    snprintf(c->nkv, sizeof c->nkv, "%zu", nkv);
    c->argc = 0;
    c->argv[c->argc++] = "EVAL";
    c->argv[c->argc++] = rank == 4 ? status_script_final : status_script;
    c->argv[c->argc++] = "2";
    c->argv[c->argc++] = c->key;
    c->argv[c->argc++] = ACMS_KEY_RUNS;
    c->argv[c->argc++] = status;
    c->argv[c->argc++] = c->rank;
    c->argv[c->argc++] = c->now;
    c->argv[c->argc++] = run_id;
    c->argv[c->argc++] = acms_redis_run_retention_arg(r);
    c->argv[c->argc++] = c->nkv;
    for (size_t i = 0; i < nkv; i++)
        c->argv[c->argc++] = kv[i] ? kv[i] : "";
    for (int i = 0; i < c->argc; i++)
        c->len[i] = strlen(c->argv[i]);
    return ACMS_OK;
}

int acms_state_run_status(acms_redis *r, const char *run_id, const char *status, const char *const *kv, size_t nkv)
{
    status_cmd c;
    if (status_cmd_build(&c, r, run_id, status, kv, nkv) != ACMS_OK)
        return ACMS_ERR_INVALID;
    redisReply *rep = acms_redis_cmdargv(r, c.argc, c.argv, c.len);
    if (!rep)
        return ACMS_ERR_RETRY;
    int rc = acms_state_run_status_reply(rep);
    freeReplyObject(rep);
    return rc;
}

int acms_state_run_status_append(acms_redis *r, const char *run_id, const char *status, const char *const *kv,
                                 size_t nkv)
{
    status_cmd c;
    if (status_cmd_build(&c, r, run_id, status, kv, nkv) != ACMS_OK)
        return ACMS_ERR_INVALID;
    acms_redis_appendargv(r, c.argc, c.argv, c.len);
    return ACMS_OK;
}

int acms_state_run_status_reply(const redisReply *rep)
{
    return rep && rep->type == REDIS_REPLY_INTEGER ? (int)rep->integer : ACMS_ERR_RETRY;
}

/* Builds (and, queue = 0, runs; 1, queues) the status-and-list script. Item i is lens[i] bytes (lens
 * NULL: strlen). Returns the script's result, or for queue = 1 ACMS_OK when queued. */
static int status_list(acms_redis *r, int queue, const char *run_id, const char *status, const char *const *kv,
                       size_t nkv, const char *list_suffix, const char *const *items, const size_t *lens,
                       size_t nitems)
{
    int rank = acms_state_rank(status);
    if (rank < 0 || nkv % 2 || nkv > 64 || !list_suffix || nitems > ACMS_STATE_LIST_MAX)
        return ACMS_ERR_INVALID;
    char key[256], list[512], rankbuf[16], now[24], nkvbuf[16];
    acms_key_run(key, sizeof key, run_id);
    if (snprintf(list, sizeof list, "%s:%s", key, list_suffix) >= (int)sizeof list)
        return ACMS_ERR_INVALID;
    snprintf(rankbuf, sizeof rankbuf, "%d", rank);
    snprintf(now, sizeof now, "%lld", (long long)acms_now_ms());
    snprintf(nkvbuf, sizeof nkvbuf, "%zu", nkv);
    size_t argc = 0, cap = 13 + nkv + nitems;
    const char **argv = malloc(cap * sizeof *argv);
    size_t *argvlen = malloc(cap * sizeof *argvlen);
    int rc = ACMS_ERR_RETRY;
    if (!argv || !argvlen)
        goto out;
    argv[argc++] = "EVAL";
    argv[argc++] = rank == 4 ? status_list_script_final : status_list_script;
    argv[argc++] = "3";
    argv[argc++] = key;
    argv[argc++] = ACMS_KEY_RUNS;
    argv[argc++] = list;
    argv[argc++] = status;
    argv[argc++] = rankbuf;
    argv[argc++] = now;
    argv[argc++] = run_id;
    argv[argc++] = acms_redis_run_retention_arg(r);
    argv[argc++] = nkvbuf;
    for (size_t i = 0; i < nkv; i++)
        argv[argc++] = kv[i] ? kv[i] : "";
    size_t first_item = argc;
    for (size_t i = 0; i < nitems; i++)
        argv[argc++] = items[i] ? items[i] : "";
    for (size_t i = 0; i < argc; i++)
        argvlen[i] = lens && i >= first_item && items[i - first_item] ? lens[i - first_item] : strlen(argv[i]);
    if (queue) {
        acms_redis_appendargv(r, (int)argc, argv, argvlen); /* hiredis copies the arguments */
        rc = ACMS_OK;
        goto out;
    }
    redisReply *rep = acms_redis_cmdargv(r, (int)argc, argv, argvlen);
    if (rep) {
        rc = rep->type == REDIS_REPLY_INTEGER ? (int)rep->integer : ACMS_ERR_RETRY;
        freeReplyObject(rep);
    }
out:
    free(argv);
    free(argvlen);
    return rc;
}

int acms_state_run_status_list(acms_redis *r, const char *run_id, const char *status, const char *const *kv,
                               size_t nkv, const char *list_suffix, const char *const *items, size_t nitems)
{
    return status_list(r, 0, run_id, status, kv, nkv, list_suffix, items, NULL, nitems);
}

int acms_state_run_status_list_append(acms_redis *r, const char *run_id, const char *status, const char *const *kv,
                                      size_t nkv, const char *list_suffix, const char *const *items, size_t nitems)
{
    return status_list(r, 1, run_id, status, kv, nkv, list_suffix, items, NULL, nitems);
}

int acms_state_run_status_blobs(acms_redis *r, const char *run_id, const char *status, const char *const *kv,
                                size_t nkv, const char *list_suffix, const char *const *items, const size_t *lens,
                                size_t nitems)
{
    return status_list(r, 0, run_id, status, kv, nkv, list_suffix, items, lens, nitems);
}

int acms_state_run_status_blobs_append(acms_redis *r, const char *run_id, const char *status, const char *const *kv,
                                       size_t nkv, const char *list_suffix, const char *const *items,
                                       const size_t *lens, size_t nitems)
{
    return status_list(r, 1, run_id, status, kv, nkv, list_suffix, items, lens, nitems);
}

/* KEYS[1] the record hash; ARGV run, field, json, retention (ms). */
static const char *const record_script = ACMS_RETENTION_LUA
    "if acms_gone(ARGV[1]) then return 0 end\n"
    "redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])\n"
    "acms_retain(ARGV[1], KEYS[1], ARGV[4])\n"
    "return 1\n";

int acms_state_run_record(acms_redis *r, const char *run_id, const char *suffix, const char *event_id,
                          const char *json)
{
    char key[ACMS_KEY_MAX];
    if (!run_id || !*run_id || !suffix || !event_id || !*event_id || !json)
        return ACMS_ERR_INVALID;
    if (!acms_key_run_part(key, sizeof key, run_id, suffix))
        return ACMS_ERR_INVALID;
    const char *argv[] = {"EVAL", record_script, "1", key, run_id, event_id, json, acms_redis_run_retention_arg(r)};
    size_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = strlen(argv[i]);
    redisReply *rep = acms_redis_cmdargv(r, 8, argv, len);
    int rc = rep && rep->type == REDIS_REPLY_INTEGER ? ACMS_OK : ACMS_ERR_RETRY;
    if (rep)
        freeReplyObject(rep);
    return rc;
}

static const char *const cancel_script = ACMS_RETENTION_LUA
    "if acms_gone(ARGV[1]) then return 0 end\n"
    "redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])\n"
    "acms_retain(ARGV[1], KEYS[1], ARGV[4])\n"
    "return 1\n";

int acms_state_cancel_flag(acms_redis *r, const char *run_id, const char *why)
{
    char key[ACMS_KEY_MAX], ttl[16];
    if (!run_id || acms_id_problem(run_id) || !acms_key_run_part(key, sizeof key, run_id, "cancel"))
        return ACMS_ERR_INVALID;
    snprintf(ttl, sizeof ttl, "%d", acms_redis_seen_ttl_s(r));
    const char *argv[] = {"EVAL", cancel_script, "1", key, run_id, why && *why ? why : "1", ttl,
                          acms_redis_run_retention_arg(r)};
    size_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = strlen(argv[i]);
    redisReply *rep = acms_redis_cmdargv(r, 8, argv, len);
    int rc = rep && rep->type == REDIS_REPLY_INTEGER ? ACMS_OK : ACMS_ERR_RETRY;
    if (rep)
        freeReplyObject(rep);
    return rc;
}

typedef struct step_cmd {
    char key[512];
    const char *argv[70];
    size_t len[70];
    int argc;
} step_cmd;

static int step_cmd_build(step_cmd *c, const char *run_id, const char *step, const char *const *kv, size_t nkv)
{
    if (nkv % 2 || nkv > 64 || nkv == 0)
        return ACMS_ERR_INVALID;
    acms_key_step(c->key, sizeof c->key, run_id, step);
    c->argc = 0;
    c->argv[c->argc++] = "HSET";
    c->argv[c->argc++] = c->key;
    for (size_t i = 0; i < nkv; i++)
        c->argv[c->argc++] = kv[i] ? kv[i] : "";
    for (int i = 0; i < c->argc; i++)
        c->len[i] = strlen(c->argv[i]);
    return ACMS_OK;
}

int acms_state_step_set(acms_redis *r, const char *run_id, const char *step, const char *const *kv, size_t nkv)
{
    step_cmd c;
    if (step_cmd_build(&c, run_id, step, kv, nkv) != ACMS_OK)
        return ACMS_ERR_INVALID;
    redisReply *rep = acms_redis_cmdargv(r, c.argc, c.argv, c.len);
    if (!rep)
        return ACMS_ERR_RETRY;
    int rc = acms_state_step_set_reply(rep);
    freeReplyObject(rep);
    return rc;
}

int acms_state_step_set_append(acms_redis *r, const char *run_id, const char *step, const char *const *kv,
                               size_t nkv)
{
    step_cmd c;
    if (step_cmd_build(&c, run_id, step, kv, nkv) != ACMS_OK)
        return ACMS_ERR_INVALID;
    acms_redis_appendargv(r, c.argc, c.argv, c.len);
    return ACMS_OK;
}

int acms_state_step_set_reply(const redisReply *rep)
{
    return rep && rep->type != REDIS_REPLY_ERROR ? ACMS_OK : ACMS_ERR_RETRY;
}
