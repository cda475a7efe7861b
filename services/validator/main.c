/* main.c: acms-validator wiring. Consumes acms.config.prepared (validate -> ValidationResultEvent,
 * then ConfigValidated and run status "validated", or status "rejected") and acms.exec.steps
 * (runtime validation -> a runtime ValidationResultEvent when a step shows issues). Status writes are
 * monotonic and published ids are derived from the input event, so a redelivery is harmless. */
#include <stdlib.h>
#include <string.h>

#include "service.h"
#include "state.h"
#include "validator/validator.h"

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

static int handle_prepared(const validator_ctx *c, acms_service *svc, acms_arena *a, const acms_msg *msg,
                           const char **reason)
{
    Acms__V1__ConfigPrepared *in = (Acms__V1__ConfigPrepared *)acms_pb_decode(
        a, &acms__v1__config_prepared__descriptor, msg->payload, msg->len, reason);
    if (!in)
        return ACMS_ERR_POISON;
    const Acms__V1__EventMeta *m = in->meta;
    if (!m->run_id || !*m->run_id) {
        *reason = "ConfigPrepared without run_id";
        return ACMS_ERR_POISON;
    }
    Acms__V1__RuntimeConfiguration *rc = in->runtime;
    if (!rc || !rc->pipeline) {
        *reason = "ConfigPrepared without a runtime configuration";
        return ACMS_ERR_POISON;
    }
    Acms__V1__ValidationResult *res = NULL;
    int64_t t0 = acms_mono_ms();
    if (validator_validate(c, a, rc, in->document, &res) != ACMS_OK)
        return ACMS_ERR_RETRY;
    double secs = (double)(acms_mono_ms() - t0) / 1000.0;
    const Acms__V1__RuntimeMetadata *md = rc->metadata;
    const char *pipeline = S(rc->pipeline->name);
    const char *env = md && md->environment && *md->environment ? md->environment
                      : rc->environment                         ? S(rc->environment->name)
                                                                : "";

    /* status first: a refused write (the run moved on or ended) still republishes the same ids */
    if (res->valid) {
        if (acms_state_run_status(c->redis, m->run_id, "validated", NULL, 0) < 0)
            return ACMS_ERR_RETRY;
    } else {
        const Acms__V1__ValidationIssue *first = res->issues[0];
        const char *why = acms_arena_printf(a, "%s: %s", *S(first->path) ? first->path : "(document)",
                                            S(first->message));
        const char *kv[] = {"reason", why};
        if (acms_state_run_status(c->redis, m->run_id, "rejected", kv, 2) < 0)
            return ACMS_ERR_RETRY;
    }

    Acms__V1__ValidationResultEvent *ev = result_event(a, m, "validation", pipeline, env, res);
    ev->config_hash = acms_arena_strdup(a, md ? S(md->config_hash) : "");
    ev->source_name = acms_arena_strdup(a, md ? S(md->source_name) : "");
    ev->config_ref = acms_arena_strdup(a, md ? S(md->config_ref) : "");
    if (acms_service_publish(svc, ACMS_TOPIC_VALIDATION_RESULTS, m->run_id, &ev->base) != ACMS_OK)
        return ACMS_ERR_RETRY;
    if (res->valid) {
        Acms__V1__ConfigValidated *out = acms_pb_new(a, &acms__v1__config_validated__descriptor);
        out->meta = acms_meta_new(a, m->run_id, SERVICE, m->event_id, "validated", m->traceparent);
        out->runtime = rc;
        out->result = res;
        if (acms_service_publish(svc, ACMS_TOPIC_CONFIG_VALIDATED, m->run_id, &out->base) != ACMS_OK)
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
        .release = release,
    };
    return acms_service_main(argc, argv, &ops);
}
