/* on_prepared.c: acms.config.prepared -> validation (validator.c) -> a ValidationResultEvent, then a
 * ConfigValidated and run status "validated", or status "rejected". The status write (monotonic,
 * with the verdict packed once as the run's record) comes before publishing, and published ids
 * derive from the input, so a redelivery is harmless. The runtime configuration goes on in the
 * ConfigValidated as the bytes it arrived in, and the packed verdict is reused by both events. */
#include <stdlib.h>
#include <string.h>

#include "run_state.h"
#include "validator/handlers.h"
#include "verdict.h"

#define S(x) ((x) ? (x) : "")

Acms__V1__ValidationResultEvent *validator_result_event(acms_arena *a, const Acms__V1__EventMeta *m, const char *salt,
                                                        const char *pipeline, const char *env,
                                                        Acms__V1__ValidationResult *res)
{
    Acms__V1__ValidationResultEvent *ev = acms_pb_new(a, &acms__v1__validation_result_event__descriptor);
    ev->meta = acms_meta_new(a, m->run_id, VALIDATOR_SERVICE, m->event_id, salt, m->traceparent);
    ev->pipeline = acms_arena_strdup(a, S(pipeline));
    ev->environment = acms_arena_strdup(a, S(env));
    ev->result = res;
    return ev;
}

/* The ConfigPrepared in msg, or NULL (a poison, *reason set). */
Acms__V1__ConfigPrepared *validator_prepared_decode(acms_arena *a, const acms_msg *msg, const char **reason)
{
    Acms__V1__ConfigPrepared *in = (Acms__V1__ConfigPrepared *)acms_pb_decode(a, &acms__v1__config_prepared__descriptor,
                                                                              msg->payload, msg->len, reason);
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
const char *validator_result_packed(acms_arena *a, const Acms__V1__ValidationResult *res, size_t *len)
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
const char *validator_verdict_status(acms_arena *a, const Acms__V1__ValidationResult *res, const char **kv, size_t *nkv)
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
    acms_pb_raw_field f[2] = {
        {.field = field_id(ev->base.descriptor, "result"), .data = (const uint8_t *)packed, .len = len}};
    ev->result = NULL;
    if (acms_service_publish_with_fields(svc, ACMS_TOPIC_VALIDATION_RESULTS, key, &ev->base, f, 1) != ACMS_OK)
        return ACMS_ERR_RETRY;
    if (out == NULL)
        return ACMS_OK;
    /* ConfigValidated: meta, then runtime and result (numbered after meta, ascending: the bytes
     * protobuf-c would pack) */
    f[0] = (acms_pb_raw_field){.field = field_id(out->base.descriptor, "runtime")};
    f[1] = (acms_pb_raw_field){
        .field = field_id(out->base.descriptor, "result"), .data = (const uint8_t *)packed, .len = len};
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
int validator_prepared_publish(acms_service *svc, acms_arena *a, const acms_msg *msg,
                               const Acms__V1__ConfigPrepared *in, Acms__V1__ValidationResult *res, const char *packed,
                               size_t packed_len, double secs)
{
    const Acms__V1__EventMeta *m = in->meta;
    Acms__V1__RuntimeConfiguration *rc = in->runtime;
    const Acms__V1__RuntimeMetadata *md = rc->metadata;
    const char *pipeline = S(rc->pipeline->name);
    const char *env = md && md->environment && *md->environment ? md->environment
                      : rc->environment                         ? S(rc->environment->name)
                                                                : "";
    Acms__V1__ValidationResultEvent *ev = validator_result_event(a, m, "validation", pipeline, env, res);
    ev->config_hash = acms_arena_strdup(a, md ? S(md->config_hash) : "");
    ev->source_name = acms_arena_strdup(a, md ? S(md->source_name) : "");
    ev->config_ref = acms_arena_strdup(a, md ? S(md->config_ref) : "");
    Acms__V1__ConfigValidated *out = NULL;
    if (res->valid) {
        out = acms_pb_new(a, &acms__v1__config_validated__descriptor);
        out->meta = acms_meta_new(a, m->run_id, VALIDATOR_SERVICE, m->event_id, "validated", m->traceparent);
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

int validator_on_prepared(const validator_ctx *c, acms_service *svc, acms_arena *a, const acms_msg *msg,
                          const char **reason)
{
    Acms__V1__ConfigPrepared *in = validator_prepared_decode(a, msg, reason);
    if (!in)
        return ACMS_ERR_POISON;
    Acms__V1__ValidationResult *res = NULL;
    int64_t t0 = acms_mono_ms();
    if (validator_validate(c, a, in->runtime, in->document, &res) != ACMS_OK)
        return ACMS_ERR_RETRY;
    double secs = (double)(acms_mono_ms() - t0) / 1000.0;
    const char *kv[4];
    size_t nkv;
    const char *status = validator_verdict_status(a, res, kv, &nkv);
    size_t vlen;
    const char *verdict[1] = {validator_result_packed(a, res, &vlen)};
    if (acms_state_run_status_blobs(c->redis, in->meta->run_id, status, nkv ? kv : NULL, nkv, ACMS_STATE_VALIDATION,
                                    verdict, &vlen, 1) < 0)
        return ACMS_ERR_RETRY;
    return validator_prepared_publish(svc, a, msg, in, res, verdict[0], vlen, secs);
}
