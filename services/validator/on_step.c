/* on_step.c: acms.exec.steps -> runtime validation (runtime.c) -> a runtime ValidationResultEvent
 * when a step shows issues, kept by the run (acms:run:<run>:findings) before it is published. A
 * healthy step gives nothing; a heartbeat's findings are published once per attempt. */
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "retention.h"
#include "run_state.h"
#include "validator/handlers.h"

#define S(x) ((x) ? (x) : "")

/* Heartbeat findings are published once per run/step/attempt/codes: the run's hash
 * acms:run:<run>:rtonce maps "<step>:<attempt>:<codes>" to the event that published them, so a
 * redelivery of that event publishes again (same derived id) while later heartbeats with the same
 * findings stay quiet. The hash is one of the run's keys (retention.h): it expires with the run, and
 * a run that is gone publishes nothing. KEYS[1] the hash; ARGV run, field, event id, retention (ms).
 * Returns 1 publish, 0 skip, ACMS_ERR_RETRY. */
static const char *const once_script = ACMS_RETENTION_LUA "if acms_gone(ARGV[1]) then return 0 end\n"
                                                          "local v = redis.call('HGET', KEYS[1], ARGV[2])\n"
                                                          "if not v then\n"
                                                          "  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])\n"
                                                          "  acms_retain(ARGV[1], KEYS[1], ARGV[4])\n"
                                                          "  return 1\n"
                                                          "end\n"
                                                          "if v == ARGV[3] then return 1 end\n"
                                                          "return 0\n";

static int heartbeat_once(acms_redis *r, acms_arena *a, const Acms__V1__StepEvent *ev,
                          const Acms__V1__ValidationResult *res)
{
    const char *codes = "";
    for (size_t i = 0; i < res->n_issues; i++)
        codes = acms_arena_printf(a, "%s,%s", codes, S(res->issues[i]->code));
    for (size_t i = 0; i < res->n_warnings; i++)
        codes = acms_arena_printf(a, "%s,%s", codes, S(res->warnings[i]->code));
    const char *key = acms_key_run_part(acms_key_buf(a), ACMS_KEY_MAX, ev->meta->run_id, "rtonce");
    if (!key)
        return 1; /* cannot happen (ids are checked at decode): publish rather than stall */
    const char *argv[] = {"EVAL",
                          once_script,
                          "1",
                          key,
                          ev->meta->run_id,
                          acms_arena_printf(a, "%s:%u:%s", S(ev->step), ev->attempt, codes + 1),
                          ev->meta->event_id,
                          acms_redis_run_retention_arg(r)};
    size_t argl[8];
    for (int i = 0; i < 8; i++)
        argl[i] = strlen(argv[i]);
    redisReply *rep = acms_redis_cmdargv(r, 8, argv, argl);
    int rc = rep && rep->type == REDIS_REPLY_INTEGER ? (int)rep->integer : ACMS_ERR_RETRY;
    if (rep)
        freeReplyObject(rep);
    return rc;
}

int validator_on_step(const validator_ctx *c, acms_service *svc, acms_arena *a, const acms_msg *msg,
                      const char **reason)
{
    Acms__V1__StepEvent *ev = (Acms__V1__StepEvent *)acms_pb_decode(a, &acms__v1__step_event__descriptor, msg->payload,
                                                                    msg->len, reason);
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
    Acms__V1__ValidationResultEvent *out = validator_result_event(a, m, "runtime-validation", ev->pipeline,
                                                                  ev->environment, res);
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
