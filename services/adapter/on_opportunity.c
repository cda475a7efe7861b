/* on_opportunity.c: acms.exec.adaptations -> a runtime decision (live.c). Each decision is recorded
 * once per opportunity event in the run's adaptation log (a once-key and the RPUSH in one script);
 * an applied one is published as an AdaptedEvent whose id derives from the opportunity, so a
 * redelivery is harmless. */
#include <stdlib.h>
#include <string.h>

#include "adapter/handlers.h"
#include "retention.h"

#define S(x) ((x) ? (x) : "")

/* JSON lines of records, copied into the arena. */
static const char **records_json(acms_arena *a, Acms__V1__AdaptationRecord *const *v, size_t n)
{
    const char **out = acms_arena_alloc(a, (n ? n : 1) * sizeof *out);
    for (size_t i = 0; i < n; i++) {
        char *j = acms_json_message_string(&v[i]->base, 0);
        out[i] = acms_arena_strdup(a, j ? j : "{}");
        free(j);
    }
    return out;
}

/* Appends the runtime record once per opportunity event (once-key and RPUSH in one script); a finished
 * run's expiry applies to the list, a run that is gone gets nothing (common/retention.h). */
static const char *const record_script = ACMS_RETENTION_LUA
    "if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then\n"
    "  if acms_gone(ARGV[3]) then return 0 end\n"
    "  redis.call('RPUSH', KEYS[2], ARGV[2])\n"
    "  acms_retain(ARGV[3], KEYS[2], ARGV[4])\n"
    "  return 1\n"
    "end\n"
    "return 0\n";

static int record_once(acms_redis *r, acms_arena *a, const Acms__V1__EventMeta *m, Acms__V1__AdaptationRecord *rec)
{
    const char **json = records_json(a, &rec, 1);
    const char *argv[] = {"EVAL",
                          record_script,
                          "2",
                          acms_key_seen(acms_key_buf(a), ACMS_KEY_MAX, "adapter", m->event_id),
                          acms_key_run_part(acms_key_buf(a), ACMS_KEY_MAX, m->run_id, "adaptations"),
                          acms_arena_printf(a, "%d", acms_redis_seen_ttl_s(r)),
                          json[0],
                          m->run_id,
                          acms_redis_run_retention_arg(r)};
    size_t argl[9];
    for (int i = 0; i < 9; i++)
        argl[i] = strlen(argv[i]);
    redisReply *rep = acms_redis_cmdargv(r, 9, argv, argl);
    int rc = rep && rep->type == REDIS_REPLY_INTEGER ? ACMS_OK : ACMS_ERR_RETRY;
    if (rep)
        freeReplyObject(rep);
    return rc;
}

int adapter_on_opportunity(adapter_service *s, acms_service *svc, acms_arena *a, const acms_msg *msg,
                           const char **reason)
{
    Acms__V1__AdaptationOpportunity *opp = (Acms__V1__AdaptationOpportunity *)acms_pb_decode(
        a, &acms__v1__adaptation_opportunity__descriptor, msg->payload, msg->len, reason);
    if (!opp)
        return ACMS_ERR_POISON;
    const Acms__V1__EventMeta *m = opp->meta;
    if (!m->run_id || !*m->run_id) {
        *reason = "AdaptationOpportunity without run_id";
        return ACMS_ERR_POISON;
    }
    if (!opp->step || !*opp->step || !opp->field || !*opp->field) {
        *reason = "AdaptationOpportunity without step or field";
        return ACMS_ERR_POISON;
    }
    const Acms__V1__Environment *env = s->ctx.profiles ? acms_profiles_env(s->ctx.profiles, S(opp->environment)) : NULL;
    Acms__V1__AdaptationRecord *rec = acms_pb_new(a, &acms__v1__adaptation_record__descriptor);
    uint64_t mem = 0;
    uint32_t rt = 0;
    int apply = adapter_live_decide(&s->ctx, env, opp, s->threshold, rec, &mem, &rt);
    if (!apply && *S(opp->reason))
        rec->reason = acms_arena_printf(a, "%s (safety %.2f; monitor: %s)", rec->reason, opp->safety_score,
                                        opp->reason);
    if (record_once(s->ctx.redis, a, m, rec) != ACMS_OK)
        return ACMS_ERR_RETRY;
    if (apply) {
        Acms__V1__AdaptedEvent *ev = acms_pb_new(a, &acms__v1__adapted_event__descriptor);
        ev->meta = acms_meta_new(a, m->run_id, ADAPTER_SERVICE, m->event_id, "adapted", m->traceparent);
        ev->step = opp->step;
        ev->records = acms_arena_alloc(a, sizeof *ev->records);
        ev->records[0] = rec;
        ev->n_records = 1;
        ev->memory_mb = mem;
        ev->max_runtime_s = rt;
        ev->opportunity_id = m->event_id;
        if (acms_service_publish(svc, ACMS_TOPIC_EXEC_ADAPTED, m->run_id, &ev->base) != ACMS_OK)
            return ACMS_ERR_RETRY;
        acms_metrics_add(acms_service_metrics(svc), "acms_adapter_adaptations_applied_total", "stage=\"runtime\"",
                         "Adaptation records applied, at preparation and at runtime", 1);
    }
    acms_metrics_add(acms_service_metrics(svc), "acms_adapter_runtime_decisions_total",
                     apply ? "decision=\"applied\"" : "decision=\"refused\"", "Runtime adaptation decisions", 1);
    acms_log_info(m->run_id, m->event_id, "runtime %s of %s %s %s -> %s: %s", apply ? "adaptation" : "refusal",
                  opp->step, opp->field, S(opp->current_value), S(opp->proposed_value), rec->reason);
    return ACMS_OK;
}
