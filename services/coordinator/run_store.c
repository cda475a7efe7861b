/* run_store.c: a run's state in Redis. Creation and attempt claims are single scripts (atomic, and
 * idempotent by run id / attempt number); everything else a run writes goes through its ordered
 * pending-write queue (coord_opq), retried tick after tick while Redis or the bus is away.
 * Keys: acms:run:<run>:runtime, :steps, :step:<step> (status attempt started_ms finished_ms
 * exit_reason wall_ms peak_rss_kb memory_mb max_runtime_s cpu_time_s instance_type message attempts
 * override_memory_mb override_runtime_s owner worker_id), acms:runs:active, acms:run:<run>:cancel. */
#include "coord.h"
#include "lease.h"
#include "run_store.h"
#include "keys.h"

#include "crypt.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_state.h"

/* --- attempts JSON ----------------------------------------------------------------------------- */

char *coord_attempts_json(const coord_attempt *a, size_t n)
{
    cJSON *list = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        const coord_attempt *t = &a[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "attempt", t->attempt);
        cJSON_AddStringToObject(o, "reason", coord_reason_name(t->reason));
        cJSON_AddNumberToObject(o, "exit_code", t->exit_code);
        cJSON_AddNumberToObject(o, "term_signal", t->term_signal);
        cJSON_AddNumberToObject(o, "peak_rss_kb", (double)t->peak_rss_kb);
        cJSON_AddNumberToObject(o, "user_cpu_ms", (double)t->user_cpu_ms);
        cJSON_AddNumberToObject(o, "sys_cpu_ms", (double)t->sys_cpu_ms);
        cJSON_AddNumberToObject(o, "wall_ms", (double)t->wall_ms);
        cJSON_AddNumberToObject(o, "memory_mb", (double)t->res.memory_mb);
        cJSON_AddNumberToObject(o, "max_runtime_s", t->res.max_runtime_s);
        cJSON_AddNumberToObject(o, "cpu_time_s", (double)t->res.cpu_time_s);
        cJSON_AddNumberToObject(o, "vcpu", t->res.vcpu);
        cJSON_AddStringToObject(o, "instance_type", t->res.instance_type);
        cJSON_AddNumberToObject(o, "started_ms", (double)t->started_ms);
        cJSON_AddNumberToObject(o, "finished_ms", (double)t->finished_ms);
        cJSON_AddStringToObject(o, "cause", t->cause);
        cJSON_AddStringToObject(o, "recovery", t->recovery);
        if (t->stderr_tail[0])
            cJSON_AddStringToObject(o, "stderr_tail", t->stderr_tail);
        if (t->sandbox[0])
            cJSON_AddStringToObject(o, "sandbox", t->sandbox);
        if (t->live[0])
            cJSON_AddStringToObject(o, "live_adaptations", t->live);
        cJSON_AddItemToArray(list, o);
    }
    char *s = cJSON_PrintUnformatted(list);
    cJSON_Delete(list);
    return s;
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void jstr(const cJSON *o, const char *k, char *out, size_t size)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    coord_fmt(out, size, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

int coord_attempts_parse(const char *json, coord_attempt **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!json || !*json)
        return ACMS_OK;
    cJSON *list = cJSON_Parse(json);
    if (!cJSON_IsArray(list)) {
        cJSON_Delete(list);
        return ACMS_ERR_INVALID;
    }
    size_t cnt = (size_t)cJSON_GetArraySize(list);
    coord_attempt *a = cnt ? calloc(cnt, sizeof *a) : NULL;
    if (cnt && !a) {
        cJSON_Delete(list);
        return ACMS_ERR_NOMEM;
    }
    size_t i = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, list)
    {
        coord_attempt *t = &a[i++];
        char reason[32];
        t->attempt = (uint32_t)jnum(o, "attempt");
        jstr(o, "reason", reason, sizeof reason);
        int r = coord_reason_parse(reason);
        t->reason = r < 0 ? ACMS__V1__EXIT_REASON__EXIT_REASON_UNSPECIFIED : (Acms__V1__ExitReason)r;
        t->exit_code = (int)jnum(o, "exit_code");
        t->term_signal = (int)jnum(o, "term_signal");
        t->peak_rss_kb = (uint64_t)jnum(o, "peak_rss_kb");
        t->user_cpu_ms = (uint64_t)jnum(o, "user_cpu_ms");
        t->sys_cpu_ms = (uint64_t)jnum(o, "sys_cpu_ms");
        t->wall_ms = (uint64_t)jnum(o, "wall_ms");
        t->res.memory_mb = (uint64_t)jnum(o, "memory_mb");
        t->res.max_runtime_s = (uint32_t)jnum(o, "max_runtime_s");
        t->res.cpu_time_s = (uint64_t)jnum(o, "cpu_time_s");
        t->res.vcpu = jnum(o, "vcpu");
        jstr(o, "instance_type", t->res.instance_type, sizeof t->res.instance_type);
        t->started_ms = (int64_t)jnum(o, "started_ms");
        t->finished_ms = (int64_t)jnum(o, "finished_ms");
        jstr(o, "cause", t->cause, sizeof t->cause);
        jstr(o, "recovery", t->recovery, sizeof t->recovery);
        jstr(o, "stderr_tail", t->stderr_tail, sizeof t->stderr_tail);
        jstr(o, "sandbox", t->sandbox, sizeof t->sandbox);
        jstr(o, "live_adaptations", t->live, sizeof t->live);
    }
    cJSON_Delete(list);
    *out = a;
    *n = cnt;
    return ACMS_OK;
}

/* --- pending-write queue ----------------------------------------------------------------------- */

typedef enum { OP_CMD, OP_STEP_SET, OP_RUN_STATUS, OP_PUBLISH, OP_FLUSH, OP_LEASE_RELEASE } op_kind;

struct coord_op {
    coord_op *next;
    op_kind kind;
    acms_arena *a;
    int argc;
    const char **argv;   /* CMD: the command; STEP_SET / RUN_STATUS: field/value pairs */
    const char *s1, *s2; /* run id; step / status / owner */
    acms_topic topic;
    const char *key;
    const ProtobufCMessage *msg;
};

static coord_op *op_new(coord_opq *q, op_kind kind, acms_arena *a)
{
    if (!a)
        a = acms_arena_new(1024);
    coord_op *op = acms_arena_alloc(a, sizeof *op);
    op->kind = kind;
    op->a = a;
    if (q->tail)
        q->tail->next = op;
    else
        q->head = op;
    q->tail = op;
    q->n++;
    return op;
}

static void op_args(coord_op *op, int argc, const char *const *argv)
{
    op->argc = argc;
    op->argv = acms_arena_alloc(op->a, (size_t)(argc ? argc : 1) * sizeof *op->argv);
    for (int i = 0; i < argc; i++)
        op->argv[i] = acms_arena_strdup(op->a, argv[i] ? argv[i] : "");
}

void coord_opq_cmd(coord_opq *q, int argc, const char *const *argv)
{
    op_args(op_new(q, OP_CMD, NULL), argc, argv);
}

void coord_opq_step_set(coord_opq *q, const char *run_id, const char *step, const char *const *kv, size_t nkv)
{
    coord_op *op = op_new(q, OP_STEP_SET, NULL);
    op->s1 = acms_arena_strdup(op->a, run_id);
    op->s2 = acms_arena_strdup(op->a, step);
    op_args(op, (int)nkv, kv);
}

void coord_opq_run_status(coord_opq *q, const char *run_id, const char *status, const char *const *kv, size_t nkv)
{
    coord_op *op = op_new(q, OP_RUN_STATUS, NULL);
    op->s1 = acms_arena_strdup(op->a, run_id);
    op->s2 = acms_arena_strdup(op->a, status);
    op_args(op, (int)nkv, kv);
}

void coord_opq_publish(coord_opq *q, acms_topic t, const char *key, acms_arena *a, const ProtobufCMessage *msg)
{
    coord_op *op = op_new(q, OP_PUBLISH, a);
    op->topic = t;
    op->key = acms_arena_strdup(a, key);
    op->msg = msg;
}

void coord_opq_flush_bus(coord_opq *q)
{
    op_new(q, OP_FLUSH, NULL);
}

void coord_opq_lease_release(coord_opq *q, const char *run_id, const char *owner)
{
    coord_op *op = op_new(q, OP_LEASE_RELEASE, NULL);
    op->s1 = acms_arena_strdup(op->a, run_id);
    op->s2 = acms_arena_strdup(op->a, owner);
}

static void op_pop(coord_opq *q)
{
    coord_op *op = q->head;
    q->head = op->next;
    if (!q->head)
        q->tail = NULL;
    q->n--;
    acms_arena_free(op->a);
}

static int is_redis_op(const coord_op *op)
{
    return op->kind == OP_CMD || op->kind == OP_STEP_SET || op->kind == OP_RUN_STATUS;
}

/* Queues op's command on the pipeline. 1 queued, 0 not sent (unusable arguments: logged, dropped). */
static int op_append(acms_redis *r, coord_op *op, const char *run_id)
{
    switch (op->kind) {
    case OP_CMD: {
        size_t *len = acms_arena_alloc(op->a, (size_t)op->argc * sizeof *len);
        for (int i = 0; i < op->argc; i++)
            len[i] = strlen(op->argv[i]);
        acms_redis_appendargv(r, op->argc, op->argv, len);
        return 1;
    }
    case OP_STEP_SET:
        if (acms_state_step_set_append(r, op->s1, op->s2, op->argv, (size_t)op->argc) == ACMS_OK)
            return 1;
        acms_log_error(run_id, NULL, "step %s: invalid state write dropped", op->s2);
        return 0;
    case OP_RUN_STATUS:
        if (acms_state_run_status_append(r, op->s1, op->s2, op->argv, (size_t)op->argc) == ACMS_OK)
            return 1;
        acms_log_error(run_id, NULL, "run status %s: invalid write dropped", op->s2);
        return 0;
    default: return 0;
    }
}

/* ACMS_OK when op's reply completes it, ACMS_ERR_RETRY when Redis refused it for now. */
static int op_reply(const coord_op *op, const redisReply *rep, const char *run_id)
{
    switch (op->kind) {
    case OP_CMD:
        if (rep->type == REDIS_REPLY_ERROR) /* a bug, not an outage: do not wedge the queue */
            acms_log_error(run_id, NULL, "redis %s refused: %s", op->argv[0], rep->str);
        return ACMS_OK;
    case OP_STEP_SET: return acms_state_step_set_reply(rep);
    case OP_RUN_STATUS: {
        int rc = acms_state_run_status_reply(rep);
        if (rc == 0)
            acms_log_debug(run_id, NULL, "run status %s refused (already further)", op->s2);
        return rc == ACMS_ERR_RETRY ? ACMS_ERR_RETRY : ACMS_OK;
    }
    default: return ACMS_OK;
    }
}

/* Removes op (not necessarily the head) from q; prev is the op before it or NULL. */
static void op_unlink(coord_opq *q, coord_op *prev, coord_op *op)
{
    if (prev)
        prev->next = op->next;
    else
        q->head = op->next;
    if (q->tail == op)
        q->tail = prev;
    q->n--;
    acms_arena_free(op->a);
}

/* One barrier op (flush, lease release), alone and in order. */
static int op_apply_barrier(coord_op *op, acms_service *svc)
{
    if (op->kind == OP_FLUSH)
        return acms_kafka_flush(acms_service_kafka(svc), 200) == ACMS_OK ? ACMS_OK : ACMS_ERR_RETRY;
    return coord_lease_release(acms_service_redis(svc), op->s1, op->s2) == ACMS_ERR_RETRY ? ACMS_ERR_RETRY : ACMS_OK;
}

#define DRAIN_BATCH 256 /* Redis commands per round trip */

int coord_opq_drain(coord_opq *q, acms_service *svc, const char *run_id)
{
    acms_redis *r = acms_service_redis(svc);
    redisReply *rep[DRAIN_BATCH];
    unsigned char sent[DRAIN_BATCH];
    while (q->head) {
        if (!is_redis_op(q->head) && q->head->kind != OP_PUBLISH) {
            if (op_apply_barrier(q->head, svc) != ACMS_OK)
                return ACMS_ERR_RETRY;
            op_pop(q);
            continue;
        }
        /* The batch: Redis writes and publications up to the next barrier. */
        coord_op *end = q->head;
        size_t nred = 0, nops = 0, queued = 0;
        for (; end && (is_redis_op(end) || end->kind == OP_PUBLISH) && nred < DRAIN_BATCH; end = end->next) {
            if (is_redis_op(end)) {
                sent[nred] = (unsigned char)op_append(r, end, run_id);
                queued += sent[nred++];
            }
            nops++;
        }
        if (queued && acms_redis_exec(r, rep, queued) != ACMS_OK)
            return ACMS_ERR_RETRY;
        /* Completed Redis writes leave the queue; refused ones stay, in place, for the next drain. */
        int refused = 0;
        size_t k = 0, j = 0;
        coord_op *prev = NULL, *op = q->head;
        for (size_t i = 0; i < nops; i++) {
            coord_op *next = op->next;
            int done = 0;
            if (is_redis_op(op)) {
                done = 1;
                if (sent[j++]) {
                    done = op_reply(op, rep[k], run_id) == ACMS_OK;
                    freeReplyObject(rep[k++]);
                }
            }
            if (done) {
                op_unlink(q, prev, op);
            } else {
                refused |= is_redis_op(op);
                prev = op;
            }
            op = next;
        }
        /* Then the publications, in order: each goes out after every write queued before it. */
        while (q->head && q->head->kind == OP_PUBLISH && q->head != end) {
            coord_op *p = q->head;
            if (acms_service_publish(svc, p->topic, p->key, p->msg) != ACMS_OK)
                return ACMS_ERR_RETRY;
            op_pop(q);
        }
        if (refused)
            return ACMS_ERR_RETRY;
    }
    return ACMS_OK;
}

void coord_opq_clear(coord_opq *q)
{
    while (q->head)
        op_pop(q);
}

/* --- creation and claims ----------------------------------------------------------------------- */

/* A run that ended, or is gone (expired or deleted: retention.h), is never created again, whatever
 * event is replayed. Steps named in the run's reuse_steps (acmsctl retry) are recorded succeeded as
 * they were in the run it retries (retry_of); the script then returns 2. */
static const char *const create_script =
    "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
    "local st = redis.call('HGET', KEYS[4], 'status')\n"
    "if st == 'succeeded' or st == 'failed' or st == 'cancelled' or st == 'rejected' then return 0 end\n"
    "if not st and (redis.call('ZSCORE', 'acms:runs:gone', ARGV[2]) or\n"
    "               redis.call('ZSCORE', 'acms:runs:deleted', ARGV[2])) then return 0 end\n"
    "redis.call('SET', KEYS[1], ARGV[1])\n"
    "redis.call('DEL', KEYS[2])\n"
    "local n = tonumber(ARGV[6])\n"
    "for i = 0, n - 1 do\n"
    "  local b = 7 + i * 6\n"
    "  redis.call('RPUSH', KEYS[2], ARGV[b])\n"
    "  redis.call('HSET', KEYS[5 + i], 'status', 'pending', 'attempt', '0', 'memory_mb', ARGV[b + 1],\n"
    "             'max_runtime_s', ARGV[b + 2], 'cpu_time_s', ARGV[b + 3], 'instance_type', ARGV[b + 4],\n"
    "             'max_attempts', ARGV[b + 5])\n"
    "end\n"
    "redis.call('SADD', KEYS[3], ARGV[2])\n"
    "redis.call('HSET', KEYS[4], 'validated_event_id', ARGV[3], 'traceparent', ARGV[4], 'steps_total', tostring(n))\n"
    "redis.call('HSETNX', KEYS[4], 'started_ms', ARGV[5])\n"
    "redis.call('HSETNX', KEYS[4], 'steps_done', '0')\n"
    "local ok, reuse = pcall(cjson.decode, redis.call('HGET', KEYS[4], 'reuse_steps') or '')\n"
    "if not ok or type(reuse) ~= 'table' then return 1 end\n"
    "local from, want, done = redis.call('HGET', KEYS[4], 'retry_of') or '', {}, 0\n"
    "for _, name in ipairs(reuse) do if type(name) == 'string' then want[name] = true end end\n"
    "for i = 0, n - 1 do\n"
    "  if want[ARGV[7 + i * 6]] then\n"
    "    redis.call('HSET', KEYS[5 + i], 'status', 'succeeded', 'reused_from', from, 'started_ms', ARGV[5],\n"
    "               'finished_ms', ARGV[5], 'message', 'reused: succeeded in run ' .. from)\n"
    "    done = done + 1\n"
    "  end\n"
    "end\n"
    "redis.call('HSET', KEYS[4], 'steps_done', tostring(done))\n"
    "return done > 0 and 2 or 1\n";

/* The runtime configuration as stored: blob as is, or sealed with crypt (in the arena). ACMS_OK,
 * or ACMS_ERR_RETRY when sealing failed (logged). */
static int stored_runtime(const struct acms_crypt *crypt, acms_arena *a, const char *run_id, const char *cause_id,
                          const uint8_t *blob, size_t bloblen, const char **stored, size_t *stored_len)
{
    *stored = (const char *)blob;
    *stored_len = bloblen;
    if (!crypt)
        return ACMS_OK;
    char *env = NULL, err[256];
    if (acms_crypt_seal(crypt, a, "runtime", run_id, 1, blob, bloblen, &env, stored_len, err, sizeof err) != ACMS_OK) {
        acms_log_error(run_id, cause_id, "sealing the runtime configuration failed: %s", err);
        return ACMS_ERR_RETRY;
    }
    *stored = env;
    return ACMS_OK;
}

/* The create script's six arguments per step from argv[k]: name, memory_mb, max_runtime_s,
 * cpu_time_s, instance_type, max_attempts. Returns the next free index. */
static size_t step_args(acms_arena *a, const char **argv, size_t k, const Acms__V1__RuntimeConfiguration *rc)
{
    const Acms__V1__Pipeline *p = rc->pipeline;
    for (size_t i = 0; i < p->n_steps; i++) {
        coord_res res;
        coord_res_from_step(p->steps[i], &res);
        argv[k++] = p->steps[i]->name;
        argv[k++] = acms_arena_printf(a, "%llu", (unsigned long long)res.memory_mb);
        argv[k++] = acms_arena_printf(a, "%u", res.max_runtime_s);
        argv[k++] = acms_arena_printf(a, "%llu", (unsigned long long)res.cpu_time_s);
        argv[k++] = acms_arena_strdup(a, res.instance_type);
        argv[k++] = acms_arena_printf(a, "%u", coord_max_attempts(p->steps[i], rc->environment));
    }
    return k;
}

int coord_store_create(acms_redis *rd, const struct acms_crypt *crypt, const char *run_id,
                       const Acms__V1__RuntimeConfiguration *rc, const char *cause_id, const char *traceparent)
{
    const Acms__V1__Pipeline *p = rc->pipeline;
    size_t n = p->n_steps;
    size_t argc = 4 + 4 + n + 6 + 6 * n;
    acms_arena *a = acms_arena_new(0);
    const char **argv = acms_arena_alloc(a, argc * sizeof *argv);
    size_t *len = acms_arena_alloc(a, argc * sizeof *len);
    uint8_t *blob = NULL;
    size_t bloblen = 0, k = 0;
    int ret = ACMS_ERR_RETRY;
    if (acms_pb_pack(&rc->base, &blob, &bloblen) != ACMS_OK)
        goto out;
    argv[k++] = "EVAL";
    argv[k++] = create_script;
    argv[k++] = acms_arena_printf(a, "%zu", 4 + n);
    argv[k++] = acms_key_run_part(acms_key_buf(a), ACMS_KEY_MAX, run_id, "runtime");
    argv[k++] = acms_key_run_part(acms_key_buf(a), ACMS_KEY_MAX, run_id, "steps");
    argv[k++] = ACMS_KEY_RUNS_ACTIVE;
    argv[k++] = acms_key_run(acms_key_buf(a), ACMS_KEY_MAX, run_id);
    for (size_t i = 0; i < n; i++)
        argv[k++] = acms_key_step(acms_key_buf(a), ACMS_KEY_MAX, run_id, p->steps[i]->name);
    for (size_t i = 0; i < k; i++)
        if (!argv[i])
            goto out; /* a key that does not fit: never cut short into another run's */
    size_t blob_at = k;
    const char *stored;
    size_t stored_len;
    if (stored_runtime(crypt, a, run_id, cause_id, blob, bloblen, &stored, &stored_len) != ACMS_OK)
        goto out;
    argv[k++] = stored;
    argv[k++] = run_id;
    argv[k++] = cause_id ? cause_id : "";
    argv[k++] = traceparent ? traceparent : "";
    argv[k++] = acms_arena_printf(a, "%lld", (long long)acms_now_ms());
    argv[k++] = acms_arena_printf(a, "%zu", n);
    k = step_args(a, argv, k, rc);
    for (size_t i = 0; i < k; i++)
        len[i] = i == blob_at ? stored_len : strlen(argv[i]);
    redisReply *rep = acms_redis_cmdargv(rd, (int)k, argv, len);
    if (rep) {
        if (rep->type == REDIS_REPLY_INTEGER)
            ret = (int)rep->integer;
        else if (rep->type == REDIS_REPLY_ERROR)
            acms_log_error(run_id, cause_id, "creating the run in redis failed: %s", rep->str);
        freeReplyObject(rep);
    }
out:
    free(blob);
    acms_arena_free(a);
    return ret;
}

static const char *const claim_script =
    "local st = redis.call('HGET', KEYS[1], 'status')\n"
    "if st == 'succeeded' or st == 'failed' or st == 'skipped' or st == 'cancelled' then return {-1, 0, 0, 0, 0} end\n"
    "local cur = tonumber(redis.call('HGET', KEYS[1], 'attempt') or '0') or 0\n"
    "if cur >= tonumber(ARGV[1]) then return {-2, cur, 0, 0, 0} end\n"
    "local om = tonumber(redis.call('HGET', KEYS[1], 'override_memory_mb') or '0') or 0\n"
    "local orr = tonumber(redis.call('HGET', KEYS[1], 'override_runtime_s') or '0') or 0\n"
    "local mem = tonumber(ARGV[3]) local rt = tonumber(ARGV[4])\n"
    "local retry = ARGV[10] == '1'\n"
    "if om > 0 and (not retry or om > mem) then mem = om end\n"
    "if orr > 0 and (not retry or orr > rt) then rt = orr end\n"
    "local mc = tonumber(ARGV[5]) local rc = tonumber(ARGV[6])\n"
    "if mc > 0 and mem > mc then mem = mc end\n"
    "if rc > 0 and rt > rc then rt = rc end\n"
    "redis.call('HDEL', KEYS[1], 'override_memory_mb', 'override_runtime_s', 'finished_ms', 'exit_reason', 'worker_id')\n"
    "redis.call('HSET', KEYS[1], 'status', 'running', 'attempt', ARGV[1], 'attempt_started_ms', ARGV[2],\n"
    "           'memory_mb', string.format('%d', mem), 'max_runtime_s', string.format('%d', rt), 'owner', ARGV[7],\n"
    "           'instance_type', ARGV[8], 'cpu_time_s', ARGV[9])\n"
    "redis.call('HSETNX', KEYS[1], 'started_ms', ARGV[2])\n"
    "return {1, mem, rt, om, orr}\n";

/* One claim command's arguments (buffers for the numbers included). */
typedef struct claim_cmd {
    char key[512], att[16], now[24], mem[24], rt[16], mc[24], rc[16], cpu[24];
    const char *argv[14];
    size_t len[14];
} claim_cmd;

static int claim_build(claim_cmd *c, const coord_run *r, const coord_step *s, const char *owner)
{
    const Acms__V1__Quotas *q = r->env->quotas;
    if (!acms_key_step(c->key, sizeof c->key, r->id, s->cfg->name))
        return ACMS_ERR_INVALID;
    snprintf(c->att, sizeof c->att, "%u", s->attempt + 1);
    snprintf(c->now, sizeof c->now, "%lld", (long long)acms_now_ms());
    snprintf(c->mem, sizeof c->mem, "%llu", (unsigned long long)s->res.memory_mb);
    snprintf(c->rt, sizeof c->rt, "%u", s->res.max_runtime_s);
    snprintf(c->mc, sizeof c->mc, "%llu", (unsigned long long)(q ? q->max_memory_mb : 0));
    snprintf(c->rc, sizeof c->rc, "%u", q ? q->max_runtime_s : 0);
    snprintf(c->cpu, sizeof c->cpu, "%llu", (unsigned long long)s->res.cpu_time_s);
    const char *argv[] = {"EVAL", claim_script,
                          "1",    c->key,
                          c->att, c->now,
                          c->mem, c->rt,
                          c->mc,  c->rc,
                          owner,  s->res.instance_type,
                          c->cpu, s->attempt > 0 ? "1" : "0"};
    for (int i = 0; i < 14; i++) {
        c->argv[i] = argv[i];
        c->len[i] = strlen(argv[i]);
    }
    return ACMS_OK;
}

/* The claim script's reply applied to s: 1 claimed, 0 refused, ACMS_ERR_RETRY. */
static int claim_reply(const redisReply *rep, const coord_run *r, coord_step *s, char *adapted, size_t adapted_size)
{
    int ret = ACMS_ERR_RETRY;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 5) {
        long long v[5];
        for (int i = 0; i < 5; i++)
            v[i] = acms_redis_int(rep->element[i], 0);
        if (v[0] == 1) {
            if (v[3] > 0 || v[4] > 0 || (uint64_t)v[1] != s->res.memory_mb || (uint32_t)v[2] != s->res.max_runtime_s)
                coord_fmt(adapted, adapted_size, "memory %llu -> %lld MiB, max_runtime_s %u -> %lld s",
                          (unsigned long long)s->res.memory_mb, v[1], s->res.max_runtime_s, v[2]);
            s->res.memory_mb = (uint64_t)v[1];
            s->res.max_runtime_s = (uint32_t)v[2];
            s->attempt++;
            ret = 1;
        } else {
            if (v[0] == -2 && v[1] > (long long)s->attempt)
                s->attempt = (uint32_t)v[1];
            ret = 0;
        }
    } else if (rep->type == REDIS_REPLY_ERROR) {
        acms_log_error(r->id, NULL, "claiming step %s failed: %s", s->cfg->name, rep->str);
    }
    return ret;
}

void coord_store_claim_many(acms_redis *rd, const coord_run *r, coord_step *const *steps, size_t n, const char *owner,
                            char *const *adapted, size_t adapted_size)
{
    claim_cmd c;
    size_t queued = 0;
    for (size_t i = 0; i < n; i++) {
        adapted[i][0] = '\0';
        /* ACMS_ERR_RETRY until its reply says otherwise; ACMS_ERR_INVALID when not sent */
        steps[i]->claim = claim_build(&c, r, steps[i], owner) == ACMS_OK ? ACMS_ERR_RETRY : ACMS_ERR_INVALID;
        if (steps[i]->claim == ACMS_ERR_INVALID)
            continue;
        acms_redis_appendargv(rd, 14, c.argv, c.len);
        queued++;
    }
    redisReply *stack[8], **rep = queued <= 8 ? stack : malloc(queued * sizeof *rep);
    int ok = rep && queued && acms_redis_exec(rd, rep, queued) == ACMS_OK;
    if (!rep && queued) /* the commands are queued: collect (and drop) their replies */
        acms_redis_exec_discard(rd, queued);
    for (size_t i = 0, k = 0; i < n; i++) {
        if (steps[i]->claim == ACMS_ERR_INVALID)
            continue;
        steps[i]->claim = ok ? claim_reply(rep[k], r, steps[i], adapted[i], adapted_size) : ACMS_ERR_RETRY;
        if (ok)
            freeReplyObject(rep[k++]);
    }
    if (rep != stack)
        free(rep);
}

/* --- step records ------------------------------------------------------------------------------ */

void coord_store_step(coord_run *r, const coord_step *s)
{
    acms_arena *a = acms_arena_new(0);
    const coord_attempt *last = s->nattempts ? &s->attempts[s->nattempts - 1] : NULL;
    char *json = coord_attempts_json(s->attempts, s->nattempts);
    const char *kv[] = {
        "status",        coord_state_name(s->state),
        "attempt",       acms_arena_printf(a, "%u", s->attempt),
        "started_ms",    acms_arena_printf(a, "%lld", (long long)s->started_ms),
        "finished_ms",   acms_arena_printf(a, "%lld", (long long)(last ? last->finished_ms : s->finished_ms)),
        "exit_reason",   last ? coord_reason_name(last->reason) : "",
        "wall_ms",       acms_arena_printf(a, "%llu", (unsigned long long)(last ? last->wall_ms : 0)),
        "peak_rss_kb",   acms_arena_printf(a, "%llu", (unsigned long long)(last ? last->peak_rss_kb : 0)),
        "memory_mb",     acms_arena_printf(a, "%llu", (unsigned long long)s->res.memory_mb),
        "max_runtime_s", acms_arena_printf(a, "%u", s->res.max_runtime_s),
        "cpu_time_s",    acms_arena_printf(a, "%llu", (unsigned long long)s->res.cpu_time_s),
        "instance_type", s->res.instance_type,
        "message",       s->message,
        "suggestion",    s->suggestion,
        "attempts",      json ? json : "[]",
    };
    coord_opq_step_set(&r->q, r->id, s->cfg->name, kv, sizeof kv / sizeof *kv);
    free(json);
    acms_arena_free(a);
}

/* --- resume ------------------------------------------------------------------------------------ */

static void load_step(coord_step *s, const redisReply *h, int64_t now);

int coord_store_load_steps(acms_redis *rd, coord_run *r)
{
    for (size_t i = 0; i < r->n; i++)
        acms_redis_append(rd, "HGETALL " ACMS_KEY_STEP_FMT, r->id, r->steps[i].cfg->name);
    redisReply **reps = calloc(r->n ? r->n : 1, sizeof *reps);
    if (!reps || acms_redis_exec(rd, reps, r->n) != ACMS_OK) {
        free(reps);
        return ACMS_ERR_RETRY;
    }
    int64_t now = acms_mono_ms();
    for (size_t i = 0; i < r->n; i++) {
        load_step(&r->steps[i], reps[i], now);
        if (r->steps[i].state == COORD_STEP_FAILED && !r->steps[i].cfg->optional)
            r->failing = 1;
        freeReplyObject(reps[i]);
    }
    free(reps);
    return ACMS_OK;
}

static const char *field(const redisReply *h, const char *name)
{
    if (!h || h->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < h->elements; i += 2)
        if (h->element[i]->type == REDIS_REPLY_STRING && !strcmp(h->element[i]->str, name) &&
            h->element[i + 1]->type == REDIS_REPLY_STRING)
            return h->element[i + 1]->str;
    return NULL;
}

static long long ifield(const redisReply *h, const char *name)
{
    const char *v = field(h, name);
    return v ? strtoll(v, NULL, 10) : 0;
}

static void load_step(coord_step *s, const redisReply *h, int64_t now)
{
    int st = coord_state_parse(field(h, "status"));
    s->state = st < 0 ? COORD_STEP_PENDING : (coord_step_state)st;
    s->attempt = (uint32_t)ifield(h, "attempt");
    if (field(h, "memory_mb"))
        s->res.memory_mb = (uint64_t)ifield(h, "memory_mb");
    if (field(h, "max_runtime_s"))
        s->res.max_runtime_s = (uint32_t)ifield(h, "max_runtime_s");
    if (field(h, "cpu_time_s"))
        s->res.cpu_time_s = (uint64_t)ifield(h, "cpu_time_s");
    if (field(h, "instance_type") && *field(h, "instance_type"))
        coord_fmt(s->res.instance_type, sizeof s->res.instance_type, "%s", field(h, "instance_type"));
    s->started_ms = ifield(h, "started_ms");
    s->finished_ms = ifield(h, "finished_ms");
    s->attempt_started_ms = ifield(h, "attempt_started_ms");
    coord_fmt(s->message, sizeof s->message, "%s", field(h, "message") ? field(h, "message") : "");
    coord_fmt(s->suggestion, sizeof s->suggestion, "%s", field(h, "suggestion") ? field(h, "suggestion") : "");
    coord_fmt(s->worker_id, sizeof s->worker_id, "%s", field(h, "worker_id") ? field(h, "worker_id") : "");
    if (coord_attempts_parse(field(h, "attempts"), &s->attempts, &s->nattempts) != ACMS_OK)
        acms_log_warn(NULL, NULL, "step %s: unreadable attempts list ignored", s->cfg->name);
    if (s->state == COORD_STEP_RETRY)
        s->not_before = now;
}

/* The run's stored runtime configuration (opened when sealed), decoded into the arena. ACMS_OK,
 * ACMS_ERR_NOTFOUND (none, or unreadable: logged) or ACMS_ERR_RETRY. */
static int load_runtime(coord_ctx *c, acms_redis *rd, const char *run_id, acms_arena *a,
                        Acms__V1__RuntimeConfiguration **out)
{
    char key[ACMS_KEY_MAX];
    redisReply *rt = acms_redis_cmd(rd, "GET %s", acms_key_run_part(key, sizeof key, run_id, "runtime"));
    if (!rt)
        return ACMS_ERR_RETRY;
    if (rt->type != REDIS_REPLY_STRING) {
        freeReplyObject(rt);
        return ACMS_ERR_NOTFOUND;
    }
    const char *why = NULL;
    char *bytes = rt->str, cerr[512];
    size_t nbytes = rt->len;
    if (acms_crypt_is_envelope(rt->str, rt->len) && acms_crypt_open(c->crypt, a, "runtime", run_id, 1, rt->str, rt->len,
                                                                    &bytes, &nbytes, cerr, sizeof cerr) != ACMS_OK) {
        acms_log_error(run_id, NULL, "stored runtime configuration: %s: run not resumable", cerr);
        freeReplyObject(rt);
        return ACMS_ERR_NOTFOUND;
    }
    *out = (Acms__V1__RuntimeConfiguration *)acms_pb_decode(a, &acms__v1__runtime_configuration__descriptor, bytes,
                                                            nbytes, &why);
    freeReplyObject(rt);
    if (!*out) {
        acms_log_error(run_id, NULL, "stored runtime configuration unreadable (%s): run not resumable", why);
        return ACMS_ERR_NOTFOUND;
    }
    return ACMS_OK;
}

int coord_store_resume(coord_ctx *c, const char *run_id, coord_run **out)
{
    acms_redis *rd = acms_service_redis(c->svc);
    *out = NULL;
    char key[ACMS_KEY_MAX], ckey[ACMS_KEY_MAX];
    if (acms_id_problem(run_id))
        return ACMS_ERR_NOTFOUND;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__RuntimeConfiguration *rc = NULL;
    int rrc = load_runtime(c, rd, run_id, a, &rc);
    if (rrc != ACMS_OK) {
        acms_arena_free(a);
        return rrc;
    }
    redisReply *h = acms_redis_cmd(rd, "HGETALL %s", acms_key_run(key, sizeof key, run_id));
    redisReply *cancel = h ? acms_redis_cmd(rd, "GET %s", acms_key_run_part(ckey, sizeof ckey, run_id, "cancel"))
                           : NULL;
    if (!h || !cancel) {
        if (h)
            freeReplyObject(h);
        acms_arena_free(a);
        return ACMS_ERR_RETRY;
    }
    char err[256];
    const char *cause = field(h, "validated_event_id"), *tp = field(h, "traceparent");
    coord_run *r = coord_run_new(c, run_id, a, rc, cause, tp, err, sizeof err);
    if (r) {
        r->resumed = 1;
        r->started_ms = ifield(h, "started_ms");
        if (cancel->type == REDIS_REPLY_STRING) {
            r->cancel = 1;
            coord_fmt(r->cancel_reason, sizeof r->cancel_reason, "%s",
                      strcmp(cancel->str, "1") ? cancel->str : "cancel requested");
        }
    }
    freeReplyObject(h);
    freeReplyObject(cancel);
    if (!r) {
        acms_log_error(run_id, NULL, "stored run not resumable: %s", err);
        return ACMS_ERR_NOTFOUND;
    }
    if (coord_store_load_steps(rd, r) != ACMS_OK) {
        coord_run_free(r);
        return ACMS_ERR_RETRY;
    }
    *out = r;
    return ACMS_OK;
}

/* --- runtime adaptations ----------------------------------------------------------------------- */

/* acms:run:<run>:adaptations holds the adapter's prepared log (one packed item) followed by
 * its runtime decisions (applied or refused) and the coordinator's recovery records (one JSON object
 * an item); only the runtime ones are read back here (prepared ones are in the configuration,
 * recovery ones are derived from the attempts): the packed log is skipped unparsed. */

int coord_store_adaptations(acms_redis *rd, acms_arena *a, const char *run_id, Acms__V1__AdaptationRecord ***out,
                            size_t *n)
{
    *out = NULL;
    *n = 0;
    redisReply *rep = acms_redis_cmd(rd, "LRANGE " ACMS_KEY_RUN_FMT ":adaptations 0 999", run_id);
    if (!rep)
        return ACMS_ERR_RETRY;
    for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
        const redisReply *e = rep->element[i];
        cJSON *j = e->type == REDIS_REPLY_STRING && e->len && e->str[0] == '{' ? cJSON_Parse(e->str) : NULL;
        if (!cJSON_IsObject(j)) {
            cJSON_Delete(j);
            continue;
        }
        char buf[1024];
        /* the list starts with the prepare-time log (already in the runtime configuration) */
        jstr(j, "stage", buf, sizeof buf);
        if (strcmp(buf, "runtime")) {
            cJSON_Delete(j);
            continue;
        }
        Acms__V1__AdaptationRecord *ar = acms_pb_new(a, &acms__v1__adaptation_record__descriptor);
        static const char *const names[] = {"stage", "step", "field", "old_value", "new_value", "reason"};
        char **dst[] = {&ar->stage, &ar->step, &ar->field, &ar->old_value, &ar->new_value, &ar->reason};
        for (size_t k = 0; k < 6; k++) {
            jstr(j, names[k], buf, sizeof buf);
            *dst[k] = acms_arena_strdup(a, buf);
        }
        ar->safety_score = jnum(j, "safety_score");
        ar->applied = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "applied"));
        cJSON_Delete(j);
        *out = acms_arena_push(a, *out, n, sizeof **out);
        (*out)[*n - 1] = ar;
    }
    freeReplyObject(rep);
    return ACMS_OK;
}
