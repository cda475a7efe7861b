/* run_state.c: run and step state in Redis. The run status moves only forward; the check and the
 * write are one Lua script, so concurrent or redelivered writers cannot race it backwards. */
#include "run_state.h"

#include "keys.h"
#include "name_table.h"
#include "retention.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The status check and write shared by the scripts below. ARGV[1] status, [2] its rank, [3] now (ms),
 * [4] run id, [5] retention (ms), [6] the number of field/value pairs, then the pairs. A run that is
 * gone (retention.h: tombstone) is never created again. */
#define STATUS_WRITE                                                                                                   \
    "local cur = redis.call('HGET', KEYS[1], 'status')\n"                                                              \
    "local ranks = {submitted=0, prepared=1, validated=2, queued=3, running=3,\n"                                      \
    "               succeeded=4, failed=4, cancelled=4, rejected=4}\n"                                                 \
    "if cur then\n"                                                                                                    \
    "  local cr = ranks[cur] or 0\n"                                                                                   \
    "  if cr == 4 and cur ~= ARGV[1] then return 0 end\n"                                                              \
    "  if cr > tonumber(ARGV[2]) then return 0 end\n"                                                                  \
    "elseif redis.call('ZSCORE', 'acms:runs:gone', ARGV[4]) or\n"                                                      \
    "       redis.call('ZSCORE', 'acms:runs:deleted', ARGV[4]) then\n"                                                 \
    "  return 0\n"                                                                                                     \
    "end\n"                                                                                                            \
    "local nkv = tonumber(ARGV[6])\n"                                                                                  \
    "redis.call('HSET', KEYS[1], 'status', ARGV[1], 'updated_ms', ARGV[3], 'run_id', ARGV[4],\n"                       \
    "           unpack(ARGV, 7, 6 + nkv))\n" /* nkv <= 64: one call */                                                 \
    "redis.call('HSETNX', KEYS[1], 'submitted_ms', ARGV[3])\n"                                                         \
    "if not cur then redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4]) end\n"

/* Then (list scripts) DEL + RPUSH of KEYS[3] with the arguments after the pairs. */
#define LIST_WRITE                                                                                                     \
    "redis.call('DEL', KEYS[3])\n"                                                                                     \
    "for i = 7 + nkv, #ARGV, 1000 do\n" /* unpack() is bounded by Lua's C stack: chunks */                             \
    "  redis.call('RPUSH', KEYS[3], unpack(ARGV, i, math.min(i + 999, #ARGV)))\n"                                      \
    "end\n"

/* A terminal status: the run's keys expire after the retention (retention.h). */
#define EXPIRE_RUN "acms_expire_run(ARGV[4], tonumber(ARGV[3]), tonumber(ARGV[5]))\n"

/* A terminal status written: published on the run's end channel (run_state.h), after the write. */
#define NOTIFY_END                                                                                                     \
    "redis.call('PUBLISH', '" ACMS_STATE_END_CHANNEL_PREFIX "' .. ARGV[4] .. '" ACMS_STATE_END_CHANNEL_SUFFIX          \
    "', ARGV[1])\n"

static const char *const status_script = STATUS_WRITE "return 1\n";
static const char *const status_script_final = ACMS_RETENTION_LUA STATUS_WRITE EXPIRE_RUN NOTIFY_END "return 1\n";
static const char *const status_list_script = STATUS_WRITE LIST_WRITE "return 1\n";
static const char *const status_list_script_final = ACMS_RETENTION_LUA STATUS_WRITE LIST_WRITE EXPIRE_RUN NOTIFY_END
    "return 1\n";

int acms_state_rank(const char *status)
{
    static const char *const names[] = {"submitted", "prepared", "validated", "running"};
    if (!status)
        return -1;
    if (!strcmp(status, "queued"))
        return 3; /* waiting for admission: the same rank as running, either way round */
    int i = acms_name_index(names, ACMS_NAMES_LEN(names), status);
    return i >= 0 ? i : acms_state_is_terminal(status) ? 4 : -1;
}

int acms_state_is_terminal(const char *status)
{
    return status && (!strcmp(status, "succeeded") || !strcmp(status, "failed") || !strcmp(status, "cancelled") ||
                      !strcmp(status, "rejected"));
}

const char *acms_state_end_channel(char *out, size_t size, const char *run_id)
{
    int n = snprintf(out, size, ACMS_STATE_END_CHANNEL_PREFIX "%s" ACMS_STATE_END_CHANNEL_SUFFIX, run_id ? run_id : "");
    return run_id && n > 0 && (size_t)n < size ? out : NULL;
}

/* The command of one status write: the status script with the run's fields, or (list set) the
 * status-and-list script with the list's items after them. One builder for the four public forms. */
typedef struct status_cmd {
    char key[ACMS_KEY_MAX], list[ACMS_KEY_MAX], rank[16], now[24], nkv[16];
    const char **argv; /* heap, with len: status_cmd_release */
    size_t *len;
    int argc;
} status_cmd;

/* What the write changes besides the status: the run hash's fields, and the list replaced with
 * items (list_suffix NULL: no list). Item i is lens[i] bytes (lens NULL: strlen). */
typedef struct status_write {
    const char *run_id, *status;
    const char *const *kv;
    size_t nkv;
    const char *list_suffix;
    const char *const *items;
    const size_t *lens;
    size_t nitems;
} status_write;

static void status_cmd_release(status_cmd *c)
{
    free(c->argv);
    free(c->len);
}

/* ACMS_OK (release c after), ACMS_ERR_INVALID (unusable arguments) or ACMS_ERR_RETRY (no memory). */
static int status_cmd_build(status_cmd *c, const acms_redis *r, const status_write *w)
{
    int rank = acms_state_rank(w->status), list = w->list_suffix != NULL;
    memset(c, 0, sizeof *c);
    if (rank < 0 || w->nkv % 2 || w->nkv > 64 || w->nitems > ACMS_STATE_LIST_MAX || !w->run_id ||
        !acms_key_run(c->key, sizeof c->key, w->run_id) ||
        (list && !acms_key_run_part(c->list, sizeof c->list, w->run_id, w->list_suffix)))
        return ACMS_ERR_INVALID;
    snprintf(c->rank, sizeof c->rank, "%d", rank); /* bounded numbers: they fit */
    snprintf(c->now, sizeof c->now, "%lld", (long long)acms_now_ms());
    snprintf(c->nkv, sizeof c->nkv, "%zu", w->nkv);
    size_t cap = 12 + w->nkv + (list ? w->nitems : 0);
    c->argv = malloc(cap * sizeof *c->argv);
    c->len = malloc(cap * sizeof *c->len);
    if (!c->argv || !c->len)
        return ACMS_ERR_RETRY;
    const char *script = list ? (rank == 4 ? status_list_script_final : status_list_script)
                              : (rank == 4 ? status_script_final : status_script);
    c->argv[c->argc++] = "EVAL";
    c->argv[c->argc++] = script;
    c->argv[c->argc++] = list ? "3" : "2";
    c->argv[c->argc++] = c->key;
    c->argv[c->argc++] = ACMS_KEY_RUNS;
    if (list)
        c->argv[c->argc++] = c->list;
    const char *args[] = {w->status, c->rank, c->now, w->run_id, acms_redis_run_retention_arg(r), c->nkv};
    for (size_t i = 0; i < 6; i++)
        c->argv[c->argc++] = args[i];
    for (size_t i = 0; i < w->nkv; i++)
        c->argv[c->argc++] = w->kv[i] ? w->kv[i] : "";
    for (int i = 0; i < c->argc; i++)
        c->len[i] = strlen(c->argv[i]);
    for (size_t i = 0; list && i < w->nitems; i++, c->argc++) {
        const char *item = w->items[i];
        c->argv[c->argc] = item ? item : "";
        c->len[c->argc] = item && w->lens ? w->lens[i] : strlen(c->argv[c->argc]);
    }
    return ACMS_OK;
}

/* Runs the write (queue 0: its result) or queues it (queue 1: ACMS_OK when queued). */
static int status_write_do(acms_redis *r, int queue, const status_write *w)
{
    status_cmd c;
    int rc = status_cmd_build(&c, r, w);
    if (rc == ACMS_OK && queue) {
        acms_redis_append_evalargv(r, c.argc, c.argv, c.len); /* EVALSHA; hiredis copies the arguments */
    } else if (rc == ACMS_OK) {
        redisReply *rep = acms_redis_evalargv(r, c.argc, c.argv, c.len);
        rc = acms_state_run_status_reply(rep);
        if (rep)
            freeReplyObject(rep);
    }
    status_cmd_release(&c);
    return rc;
}

int acms_state_run_status(acms_redis *r, const char *run_id, const char *status, const char *const *kv, size_t nkv)
{
    status_write w = {.run_id = run_id, .status = status, .kv = kv, .nkv = nkv};
    return status_write_do(r, 0, &w);
}

int acms_state_run_status_append(acms_redis *r, const char *run_id, const char *status, const char *const *kv,
                                 size_t nkv)
{
    status_write w = {.run_id = run_id, .status = status, .kv = kv, .nkv = nkv};
    return status_write_do(r, 1, &w);
}

int acms_state_run_status_reply(const redisReply *rep)
{
    return rep && rep->type == REDIS_REPLY_INTEGER ? (int)rep->integer : ACMS_ERR_RETRY;
}

/* The list forms: a missing list_suffix is unusable (they always write a list). */
static int status_list(acms_redis *r, int queue, const char *run_id, const char *status, const char *const *kv,
                       size_t nkv, const char *list_suffix, const char *const *items, const size_t *lens, size_t nitems)
{
    status_write w = {.run_id = run_id,
                      .status = status,
                      .kv = kv,
                      .nkv = nkv,
                      .list_suffix = list_suffix,
                      .items = items,
                      .lens = lens,
                      .nitems = nitems};
    return list_suffix ? status_write_do(r, queue, &w) : ACMS_ERR_INVALID;
}

int acms_state_run_status_list(acms_redis *r, const char *run_id, const char *status, const char *const *kv, size_t nkv,
                               const char *list_suffix, const char *const *items, size_t nitems)
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
static const char *const record_script = ACMS_RETENTION_LUA "if acms_gone(ARGV[1]) then return 0 end\n"
                                                            "redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])\n"
                                                            "acms_retain(ARGV[1], KEYS[1], ARGV[4])\n"
                                                            "return 1\n";

int acms_state_run_record(acms_redis *r, const char *run_id, const char *suffix, const char *event_id, const char *json)
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

static const char *const cancel_script = ACMS_RETENTION_LUA "if acms_gone(ARGV[1]) then return 0 end\n"
                                                            "redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])\n"
                                                            "acms_retain(ARGV[1], KEYS[1], ARGV[4])\n"
                                                            "return 1\n";

int acms_state_cancel_flag(acms_redis *r, const char *run_id, const char *why)
{
    char key[ACMS_KEY_MAX], ttl[16];
    if (!run_id || acms_id_problem(run_id) || !acms_key_run_part(key, sizeof key, run_id, "cancel"))
        return ACMS_ERR_INVALID;
    snprintf(ttl, sizeof ttl, "%d", acms_redis_seen_ttl_s(r));
    const char *argv[] = {"EVAL", cancel_script,           "1", key,
                          run_id, why && *why ? why : "1", ttl, acms_redis_run_retention_arg(r)};
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

int acms_state_step_set_append(acms_redis *r, const char *run_id, const char *step, const char *const *kv, size_t nkv)
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
