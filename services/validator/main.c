/* main.c: acms-validator wiring. Consumes acms.config.prepared (validate -> ValidationResultEvent,
 * then ConfigValidated and run status "validated", or status "rejected") and acms.exec.steps
 * (runtime validation -> a runtime ValidationResultEvent when a step shows issues). Status writes are
 * monotonic and published ids are derived from the input event, so a redelivery is harmless. The
 * runtime configuration goes on in the ConfigValidated as the bytes it arrived in, and the verdict
 * is packed once (the run's record) for both events. */
#include <stdlib.h>
#include <string.h>

#include "doc.h"
#include "service.h"
#include "run_state.h"
#include "validator/validator.h"
#include "verdict.h"

#define SERVICE "acms-validator"
#define S(x) ((x) ? (x) : "")
#define RT_ONCE_TTL_S (24 * 3600)

/* Heartbeat findings are published once per run/step/attempt/codes: the key remembers the event
 * that published them, so a redelivery of that event publishes again (same derived id) while later
 * heartbeats with the same findings stay quiet. Returns 1 publish, 0 skip, ACMS_ERR_RETRY. */
static const char *const once_script =
    "local v = redis.call('GET', KEYS[1])\n"
    "if not v then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) return 1 end\n"
    "if v == ARGV[1] then return 1 end\n"
    "return 0\n";

static int heartbeat_once(acms_redis *r, acms_arena *a, const Acms__V1__StepEvent *ev,
                          const Acms__V1__ValidationResult *res)
{
    const char *codes = "";
    for (size_t i = 0; i < res->n_issues; i++)
        codes = acms_arena_printf(a, "%s,%s", codes, S(res->issues[i]->code));
    for (size_t i = 0; i < res->n_warnings; i++)
        codes = acms_arena_printf(a, "%s,%s", codes, S(res->warnings[i]->code));
    const char *argv[] = {"EVAL", once_script, "1",
                          acms_arena_printf(a, "acms:validator:rt:%s:%s:%u:%s", ev->meta->run_id, S(ev->step),
                                            ev->attempt, codes + 1),
                          ev->meta->event_id, acms_arena_printf(a, "%d", RT_ONCE_TTL_S)};
    size_t argl[6];
    for (int i = 0; i < 6; i++)
        argl[i] = strlen(argv[i]);
    redisReply *rep = acms_redis_cmdargv(r, 6, argv, argl);
    int rc = rep && rep->type == REDIS_REPLY_INTEGER ? (int)rep->integer : ACMS_ERR_RETRY;
    if (rep)
        freeReplyObject(rep);
    return rc;
}

static int init(acms_service *svc, void **out, char *errstr, size_t errstr_size)
{
    validator_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(errstr, errstr_size, "out of memory");
        return ACMS_ERR_NOMEM;
    }
    c->profiles = acms_service_profiles(svc);
    c->redis = acms_service_redis(svc);
    *out = c;
    return ACMS_OK;
}

static void release(void *ctx) { free(ctx); }

static Acms__V1__ValidationResultEvent *result_event(acms_arena *a, const Acms__V1__EventMeta *m, const char *salt,
                                                     const char *pipeline, const char *env,
                                                     Acms__V1__ValidationResult *res)
{
    Acms__V1__ValidationResultEvent *ev = acms_pb_new(a, &acms__v1__validation_result_event__descriptor);
    ev->meta = acms_meta_new(a, m->run_id, SERVICE, m->event_id, salt, m->traceparent);
    ev->pipeline = acms_arena_strdup(a, S(pipeline));
    ev->environment = acms_arena_strdup(a, S(env));
    ev->result = res;
    return ev;
}

/* The ConfigPrepared in msg, or NULL (a poison, *reason set). */
static Acms__V1__ConfigPrepared *prepared_decode(acms_arena *a, const acms_msg *msg, const char **reason)
{
    Acms__V1__ConfigPrepared *in = (Acms__V1__ConfigPrepared *)acms_pb_decode(
        a, &acms__v1__config_prepared__descriptor, msg->payload, msg->len, reason);
    if (!in)
        return NULL;
    if (!in->meta->run_id || !*in->meta->run_id) {
        *reason = "ConfigPrepared without run_id";
        return NULL;
    }
    if (!in->runtime || !in->runtime->pipeline) {
        *reason = "ConfigPrepared without a runtime configuration";
        return NULL;
    }
    return in;
}

/* The verdict as the run keeps it (acms:run:<run>:validation): packed, in the arena (*len bytes;
 * "" when it cannot be packed). Packing costs a few microseconds where rendering JSON cost tens. */
static const char *result_packed(acms_arena *a, const Acms__V1__ValidationResult *res, size_t *len)
{
    uint8_t *buf = NULL;
    *len = 0;
    if (acms_pb_pack(&res->base, &buf, len) != ACMS_OK)
        return "";
    char *out = acms_arena_alloc(a, *len + 1);
    memcpy(out, buf, *len);
    free(buf);
    return out;
}

/* The run's status write for a verdict: "validated", or "rejected" with the first error as reason and
 * the issues for acmsctl (common/verdict.h). kv has room for 4. */
static const char *verdict_status(acms_arena *a, const Acms__V1__ValidationResult *res, const char **kv, size_t *nkv)
{
    *nkv = 0;
    if (res->valid)
        return "validated";
    const Acms__V1__ValidationIssue *first = res->issues[0];
    kv[0] = "reason";
    kv[1] = acms_arena_printf(a, "%s: %s", *S(first->path) ? first->path : "(document)", S(first->message));
    kv[2] = "validation";
    kv[3] = S(acms_verdict_json(a, res, 0));
    *nkv = 4;
    return "rejected";
}

static uint32_t field_id(const ProtobufCMessageDescriptor *d, const char *name)
{
    return protobuf_c_message_descriptor_get_field_by_name(d, name)->id;
}

/* The result events, packed with the bytes already at hand: the verdict packed for Redis
 * (packed, len) and the runtime configuration as it arrived in msg (unchanged: forwarded as is). */
static int publish_results(acms_service *svc, const acms_msg *msg, Acms__V1__ValidationResultEvent *ev,
                           Acms__V1__ConfigValidated *out, const char *packed, size_t len)
{
    const char *key = ev->meta->run_id;
    acms_pb_raw_field f[2] = {{.field = field_id(ev->base.descriptor, "result"), .data = (const uint8_t *)packed,
                               .len = len}};
    ev->result = NULL;
    if (acms_service_publish_with_fields(svc, ACMS_TOPIC_VALIDATION_RESULTS, key, &ev->base, f, 1) != ACMS_OK)
        return ACMS_ERR_RETRY;
    if (out == NULL)
        return ACMS_OK;
    /* ConfigValidated: meta, then runtime and result (numbered after meta, ascending: the bytes
     * protobuf-c would pack) */
    f[0] = (acms_pb_raw_field){.field = field_id(out->base.descriptor, "runtime")};
    f[1] = (acms_pb_raw_field){.field = field_id(out->base.descriptor, "result"), .data = (const uint8_t *)packed,
                               .len = len};
    if (acms_pb_field_bytes(msg->payload, msg->len, field_id(&acms__v1__config_prepared__descriptor, "runtime"),
                            &f[0].data, &f[0].len) != ACMS_OK)
        return acms_service_publish(svc, ACMS_TOPIC_CONFIG_VALIDATED, key, &out->base);
    out->runtime = NULL;
    out->result = NULL;
    return acms_service_publish_with_fields(svc, ACMS_TOPIC_CONFIG_VALIDATED, key, &out->base, f, 2);
}

/* After the status write (applied or refused: a refused write, the run having moved on or ended,
 * still republishes the same ids): the result events. msg: the ConfigPrepared as received; packed:
 * res as packed for the run's record. ACMS_OK or ACMS_ERR_RETRY. */
static int prepared_publish(acms_service *svc, acms_arena *a, const acms_msg *msg, const Acms__V1__ConfigPrepared *in,
                            Acms__V1__ValidationResult *res, const char *packed, size_t packed_len, double secs)
{
    const Acms__V1__EventMeta *m = in->meta;
    Acms__V1__RuntimeConfiguration *rc = in->runtime;
    const Acms__V1__RuntimeMetadata *md = rc->metadata;
    const char *pipeline = S(rc->pipeline->name);
    const char *env = md && md->environment && *md->environment ? md->environment
                      : rc->environment                         ? S(rc->environment->name)
                                                                : "";
    Acms__V1__ValidationResultEvent *ev = result_event(a, m, "validation", pipeline, env, res);
    ev->config_hash = acms_arena_strdup(a, md ? S(md->config_hash) : "");
    ev->source_name = acms_arena_strdup(a, md ? S(md->source_name) : "");
    ev->config_ref = acms_arena_strdup(a, md ? S(md->config_ref) : "");
    Acms__V1__ConfigValidated *out = NULL;
    if (res->valid) {
        out = acms_pb_new(a, &acms__v1__config_validated__descriptor);
        out->meta = acms_meta_new(a, m->run_id, SERVICE, m->event_id, "validated", m->traceparent);
        out->runtime = rc;
        out->result = res;
    }
    if (packed_len == 0) { /* the verdict could not be packed for the record: pack each event */
        if (acms_service_publish(svc, ACMS_TOPIC_VALIDATION_RESULTS, m->run_id, &ev->base) != ACMS_OK ||
            (out && acms_service_publish(svc, ACMS_TOPIC_CONFIG_VALIDATED, m->run_id, &out->base) != ACMS_OK))
            return ACMS_ERR_RETRY;
    } else if (publish_results(svc, msg, ev, out, packed, packed_len) != ACMS_OK) {
        return ACMS_ERR_RETRY;
    }
    acms_metrics *mx = acms_service_metrics(svc);
    acms_metrics_add(mx, "acms_validator_validations_total", res->valid ? "verdict=\"valid\"" : "verdict=\"invalid\"",
                     "Pre-execution validations by verdict", 1);
    acms_metrics_observe(mx, "acms_validator_validation_seconds", NULL, "Time to validate one configuration", secs);
    acms_log_info(m->run_id, m->event_id, "%s for %s: %s, %zu error(s), %zu warning(s), confidence %.3f", pipeline, env,
                  res->valid ? "valid" : "invalid", res->n_issues, res->n_warnings, res->confidence_score);
    return ACMS_OK;
}

static int handle_prepared(const validator_ctx *c, acms_service *svc, acms_arena *a, const acms_msg *msg,
                           const char **reason)
{
    Acms__V1__ConfigPrepared *in = prepared_decode(a, msg, reason);
    if (!in)
        return ACMS_ERR_POISON;
    Acms__V1__ValidationResult *res = NULL;
    int64_t t0 = acms_mono_ms();
    if (validator_validate(c, a, in->runtime, in->document, &res) != ACMS_OK)
        return ACMS_ERR_RETRY;
    double secs = (double)(acms_mono_ms() - t0) / 1000.0;
    const char *kv[4];
    size_t nkv;
    const char *status = verdict_status(a, res, kv, &nkv);
    size_t vlen;
    const char *verdict[1] = {result_packed(a, res, &vlen)};
    if (acms_state_run_status_blobs(c->redis, in->meta->run_id, status, nkv ? kv : NULL, nkv, ACMS_STATE_VALIDATION,
                                    verdict, &vlen, 1) < 0)
        return ACMS_ERR_RETRY;
    return prepared_publish(svc, a, msg, in, res, verdict[0], vlen, secs);
}

static int handle_step(const validator_ctx *c, acms_service *svc, acms_arena *a, const acms_msg *msg,
                       const char **reason)
{
    Acms__V1__StepEvent *ev =
        (Acms__V1__StepEvent *)acms_pb_decode(a, &acms__v1__step_event__descriptor, msg->payload, msg->len, reason);
    if (!ev)
        return ACMS_ERR_POISON;
    const Acms__V1__EventMeta *m = ev->meta;
    if (!m->run_id || !*m->run_id) {
        *reason = "StepEvent without run_id";
        return ACMS_ERR_POISON;
    }
    if ((*reason = validator_step_event_problem(ev)) != NULL)
        return ACMS_ERR_POISON; /* impossible content: dead-lettered, as the monitor does */
    Acms__V1__ValidationResult *res = NULL;
    if (validator_runtime_check(ev, a, &res) != ACMS_OK || res->n_issues + res->n_warnings == 0)
        return ACMS_OK; /* healthy: nothing to say */
    if (ev->kind == ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_HEARTBEAT && c->redis) {
        int once = heartbeat_once(c->redis, a, ev, res);
        if (once < 0)
            return ACMS_ERR_RETRY;
        if (once == 0)
            return ACMS_OK; /* already reported for this attempt */
    }
    Acms__V1__ValidationResultEvent *out = result_event(a, m, "runtime-validation", ev->pipeline, ev->environment, res);
    out->step = acms_arena_strdup(a, S(ev->step));
    out->config_ref = acms_arena_strdup(a, S(ev->config_ref));
    out->config_hash = acms_arena_strdup(a, S(ev->config_hash));
    if (c->redis) { /* the run keeps it (acms:run:<run>:findings), keyed by the derived event id */
        char *json = acms_json_message_string(&out->base, 0);
        int w = json ? acms_state_run_record(c->redis, m->run_id, ACMS_STATE_FINDINGS, out->meta->event_id, json)
                     : ACMS_ERR_RETRY;
        free(json);
        if (w == ACMS_ERR_RETRY)
            return ACMS_ERR_RETRY;
    }
    if (acms_service_publish(svc, ACMS_TOPIC_VALIDATION_RESULTS, m->run_id, &out->base) != ACMS_OK)
        return ACMS_ERR_RETRY;
    acms_metrics_add(acms_service_metrics(svc), "acms_validator_runtime_findings_total", NULL,
                     "Runtime validation results published", 1);
    acms_log_info(m->run_id, m->event_id, "runtime validation of %s attempt %u: %zu error(s), %zu warning(s): %s",
                  S(ev->step), ev->attempt, res->n_issues, res->n_warnings,
                  S((res->n_issues ? res->issues[0] : res->warnings[0])->code));
    return ACMS_OK;
}

static int handle(void *ctx, acms_service *svc, const acms_msg *m, const char **reason)
{
    const validator_ctx *c = ctx;
    int topic = acms_cfg_topic_id(acms_service_cfg(svc), m->topic);
    acms_arena *a = acms_arena_new(0);
    int rc;
    if (topic == ACMS_TOPIC_CONFIG_PREPARED)
        rc = handle_prepared(c, svc, a, m, reason);
    else if (topic == ACMS_TOPIC_EXEC_STEPS)
        rc = handle_step(c, svc, a, m, reason);
    else {
        *reason = "message from a topic this service does not consume";
        rc = ACMS_ERR_POISON;
    }
    acms_arena_free(a);
    return rc;
}

/* Up to BATCH_MAX_STEPS steps a configuration shares the group's history reads; a larger one reads
 * its own (validator_validate_levels with no history), in chunks. */
#define BATCH_MAX_STEPS 256

typedef struct batch_item {
    Acms__V1__ConfigPrepared *in;        /* NULL: not (or no longer) in the shared path */
    validator_step_history *history;
    size_t first, ncmds;                 /* its replies in the history pipeline */
    validator_pass vp;
    Acms__V1__ValidationResult *res;
    const char *packed;                  /* res packed (the run's record, reused by the events) */
    size_t packed_len;
    int64_t t0_ms;
} batch_item;

/* The messages waiting in the queue, together: ConfigPrepared events share three Redis round trips
 * (the steps' history, the fix statistics of all their issue codes, the status writes) instead of
 * three each; anything else goes through handle(). Per message the outcome is handle_prepared's. */
static int handle_batch(void *ctx, acms_service *svc, const acms_msg *msgs, size_t n, int *rcs, const char **reasons)
{
    const validator_ctx *c = ctx;
    acms_redis *r = c->redis;
    acms_arena *a = acms_arena_new(0);
    batch_item *it = acms_arena_alloc(a, (n ? n : 1) * sizeof *it);
    size_t cmds = 0, live = 0;

    /* anything else first, one by one: its Redis commands must not meet the queued ones below */
    for (size_t i = 0; i < n; i++) {
        rcs[i] = ACMS_ERR_RETRY;
        if (acms_cfg_topic_id(acms_service_cfg(svc), msgs[i].topic) != ACMS_TOPIC_CONFIG_PREPARED || !r)
            rcs[i] = handle(ctx, svc, &msgs[i], &reasons[i]);
    }
    for (size_t i = 0; i < n; i++) {
        if (acms_cfg_topic_id(acms_service_cfg(svc), msgs[i].topic) != ACMS_TOPIC_CONFIG_PREPARED || !r)
            continue;
        it[i].in = prepared_decode(a, &msgs[i], &reasons[i]);
        if (!it[i].in) {
            rcs[i] = ACMS_ERR_POISON;
            continue;
        }
        it[i].t0_ms = acms_mono_ms();
        const Acms__V1__Pipeline *p = it[i].in->runtime->pipeline;
        if (p->n_steps <= BATCH_MAX_STEPS) {
            it[i].first = cmds;
            it[i].ncmds = validator_history_append_steps(r, p);
            cmds += it[i].ncmds;
        }
        live++;
    }
    if (live == 0)
        goto out;
    /* 1. the history of every step of every configuration */
    if (cmds > 0) {
        redisReply **rep = acms_arena_alloc(a, cmds * sizeof *rep);
        if (acms_redis_exec(r, rep, cmds) != ACMS_OK)
            goto out; /* all still ACMS_ERR_RETRY */
        for (size_t i = 0; i < n; i++)
            if (it[i].in && it[i].ncmds > 0)
                it[i].history = validator_history_collect_steps(a, it[i].in->runtime->pipeline, rep + it[i].first);
        for (size_t k = 0; k < cmds; k++)
            if (rep[k])
                freeReplyObject(rep[k]);
    }
    /* 2. the levels, then the fix statistics of every issue code met */
    acms_issues all;
    acms_issues_init(&all, a, "all");
    for (size_t i = 0; i < n; i++) {
        if (!it[i].in)
            continue;
        acms_log_set_trace(msgs[i].traceparent);
        if (validator_validate_levels(c, a, it[i].in->runtime, it[i].in->document, it[i].history, &it[i].vp) !=
            ACMS_OK) {
            it[i].in = NULL; /* stays ACMS_ERR_RETRY */
            continue;
        }
        for (size_t k = 0; k < it[i].vp.is.n; k++) {
            all.v = acms_arena_push(a, all.v, &all.n, sizeof *all.v);
            all.v[all.n - 1] = it[i].vp.is.v[k];
        }
    }
    acms_log_set_trace(NULL);
    validator_fix_history fixes = {0};
    if (all.n > 0 && validator_history_load_fixes(r, a, &all, &fixes) != ACMS_OK)
        goto out;
    /* 3. results, and every status write in one round trip */
    size_t nstatus = 0;
    for (size_t i = 0; i < n; i++) {
        if (!it[i].in)
            continue;
        if (validator_validate_finish(c, a, &it[i].vp, &fixes, &it[i].res) != ACMS_OK) {
            it[i].in = NULL;
            continue;
        }
        const char *kv[4];
        size_t nkv;
        const char *status = verdict_status(a, it[i].res, kv, &nkv);
        it[i].packed = result_packed(a, it[i].res, &it[i].packed_len);
        if (acms_state_run_status_blobs_append(r, it[i].in->meta->run_id, status, nkv ? kv : NULL, nkv,
                                               ACMS_STATE_VALIDATION, &it[i].packed, &it[i].packed_len, 1) != ACMS_OK) {
            it[i].in = NULL; /* as handle_prepared: retried */
            continue;
        }
        nstatus++;
    }
    if (nstatus == 0)
        goto out;
    redisReply **st = acms_arena_alloc(a, nstatus * sizeof *st);
    if (acms_redis_exec(r, st, nstatus) != ACMS_OK)
        goto out;
    /* 4. publish, in order */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!it[i].in)
            continue;
        int applied = acms_state_run_status_reply(st[k]);
        if (st[k])
            freeReplyObject(st[k]);
        k++;
        if (applied < 0)
            continue; /* stays ACMS_ERR_RETRY */
        acms_log_set_trace(msgs[i].traceparent);
        rcs[i] = prepared_publish(svc, a, &msgs[i], it[i].in, it[i].res, it[i].packed, it[i].packed_len,
                                  (double)(acms_mono_ms() - it[i].t0_ms) / 1000.0);
    }
    acms_log_set_trace(NULL);
out:
    acms_arena_free(a);
    return ACMS_OK;
}

int main(int argc, char **argv)
{
    static const acms_topic inputs[] = {ACMS_TOPIC_CONFIG_PREPARED, ACMS_TOPIC_EXEC_STEPS};
    static const acms_service_ops ops = {
        .name = SERVICE,
        .summary = "validates prepared configurations (syntax, semantics, environment, security, performance) "
                   "with ranked fix suggestions, and judges running steps",
        .extra_help = NULL,
        .inputs = inputs,
        .ninputs = sizeof inputs / sizeof *inputs,
        .needs_profiles = 1,
        .init = init,
        .handle = handle,
        .handle_batch = handle_batch,
        .release = release,
    };
    return acms_service_main(argc, argv, &ops);
}
