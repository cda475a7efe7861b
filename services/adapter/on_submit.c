/* on_submit.c: acms.config.submitted -> ConfigPrepared, or a rejection on acms.validation.results.
 * A submission by reference is first loaded from the configuration store (load_ref.c). The status,
 * with the adaptation log (one packed value) or the verdict, is written before publishing, in one
 * script and only while the run is at "prepared" or earlier, so a redelivery is harmless and a run
 * already past "prepared" is not prepared again. The submitted document goes on in the
 * ConfigPrepared as the bytes it arrived in (packed again only when a plain-text credential was
 * redacted from it). */
#include <stdlib.h>
#include <string.h>

#include "adapter/handlers.h"
#include "run_state.h"
#include "verdict.h"

#define S(x) ((x) ? (x) : "")

/* The prepared log as one value: a RuntimeConfiguration holding only adaptation_log, packed into the
 * arena (common/runview.c renders it when a run is shown). */
const char *adapter_log_packed(acms_arena *a, const Acms__V1__RuntimeConfiguration *rc, size_t *len)
{
    Acms__V1__RuntimeConfiguration only = ACMS__V1__RUNTIME_CONFIGURATION__INIT;
    only.adaptation_log = rc->adaptation_log;
    only.n_adaptation_log = rc->n_adaptation_log;
    *len = protobuf_c_message_get_packed_size(&only.base);
    uint8_t *buf = acms_arena_alloc(a, *len ? *len : 1);
    protobuf_c_message_pack(&only.base, buf);
    return (const char *)buf;
}

/* The run hash's fields written with "prepared"; adaptations_prepared counts the records of the
 * packed log (a compacted run keeps the count, common/retention.c). */
size_t adapter_prepared_fields(acms_arena *a, const Acms__V1__RuntimeConfiguration *rc, const char *kv[12])
{
    const Acms__V1__RuntimeMetadata *md = rc->metadata;
    const char *v[] = {"pipeline",
                       S(rc->pipeline->name),
                       "environment",
                       S(md->environment),
                       "config_hash",
                       S(md->config_hash),
                       "source_name",
                       S(md->source_name),
                       "adaptations_prepared",
                       acms_arena_printf(a, "%zu", rc->n_adaptation_log),
                       "config_ref",
                       S(md->config_ref)};
    memcpy(kv, v, sizeof v);
    return sizeof v / sizeof *v - (*S(md->config_ref) ? 0 : 2);
}

/* The submitted document as it arrived: the bytes of ConfigSubmitted.document in the payload, or
 * NULL (absent, or not readable as one field). */
static const uint8_t *submitted_doc_bytes(const acms_msg *msg, size_t *len)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(
        &acms__v1__config_submitted__descriptor, "document");
    const uint8_t *raw = NULL;
    if (!msg || !f || acms_pb_field_bytes(msg->payload, msg->len, f->id, &raw, len) != ACMS_OK)
        return NULL;
    return raw;
}

/* A top-level field's number in desc (the schema names it: a rename fails the unit tests). */
static uint32_t field_id(const ProtobufCMessageDescriptor *desc, const char *name)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(desc, name);
    return f ? f->id : 0;
}

/* Publishes the ConfigPrepared. Its runtime is packed with the adaptation log spliced in as log (the
 * bytes written to Redis: adapter_log_packed), not packed a second time; a document sent on
 * unchanged (no plain-text credential redacted) travels as the bytes it arrived in (raw, may be
 * NULL). The bytes are those protobuf-c packs for out (tests/unit/test_pb_wire.c). */
static int publish_prepared(acms_service *svc, Acms__V1__ConfigPrepared *out, const Acms__V1__Value *submitted,
                            const uint8_t *raw, size_t raw_len, const char *log, size_t log_len)
{
    const ProtobufCMessageDescriptor *rd = &acms__v1__runtime_configuration__descriptor,
                                     *pd = &acms__v1__config_prepared__descriptor;
    uint8_t *rt = NULL, *doc = NULL;
    size_t rt_len = 0, doc_len = 0;
    int rc = ACMS_ERR_RETRY;
    if (acms_pb_pack_spliced(&out->runtime->base, field_id(rd, "adaptation_log"), (const uint8_t *)log, log_len, &rt,
                             &rt_len) != ACMS_OK)
        goto out;
    if (out->document && (raw == NULL || out->document != submitted)) {
        if (acms_pb_pack(&out->document->base, &doc, &doc_len) != ACMS_OK)
            goto out;
        raw = doc;
        raw_len = doc_len;
    }
    acms_pb_raw_field f[2] = {{.field = field_id(pd, "runtime"), .data = rt, .len = rt_len},
                              {.field = field_id(pd, "document"), .data = raw, .len = raw_len}};
    Acms__V1__ConfigPrepared shell = *out;
    shell.runtime = NULL;
    shell.document = NULL;
    rc = acms_service_publish_with_fields(svc, ACMS_TOPIC_CONFIG_PREPARED, out->meta->run_id, &shell.base, f,
                                          out->document ? 2 : 1);
out:
    free(rt);
    free(doc);
    return rc;
}

/* After the status-and-log write answered st (1 applied, 0 refused, < 0 failed). msg: the
 * ConfigSubmitted as received when in is its decoding (its document is forwarded as is), else NULL.
 * log: rc's adaptation log as written (adapter_log_packed). */
int adapter_prepared_publish(acms_service *svc, acms_arena *a, const Acms__V1__ConfigSubmitted *in, const acms_msg *msg,
                             Acms__V1__RuntimeConfiguration *rc, const char *log, size_t log_len, int st)
{
    const Acms__V1__EventMeta *m = in->meta;
    const Acms__V1__RuntimeMetadata *md = rc->metadata;
    if (st < 0)
        return ACMS_ERR_RETRY;
    if (st == 0) {
        /* The run moved past "prepared": downstream already consumed our ConfigPrepared (its log is
         * written and may have grown with runtime records), or the run ended (cancelled). */
        acms_log_info(m->run_id, m->event_id, "run already past prepared: redelivery ignored");
        return ACMS_OK;
    }

    Acms__V1__ConfigPrepared *out = acms_pb_new(a, &acms__v1__config_prepared__descriptor);
    out->meta = acms_meta_new(a, m->run_id, ADAPTER_SERVICE, m->event_id, "prepared", m->traceparent);
    out->runtime = rc;
    out->document = adapter_redacted_document(a, in->document, rc->metadata); /* no plain-text credential */
    size_t raw_len = 0;
    const uint8_t *raw = submitted_doc_bytes(msg, &raw_len);
    if (publish_prepared(svc, out, in->document, raw, raw_len, log, log_len) != ACMS_OK)
        return ACMS_ERR_RETRY;
    acms_metrics_add(acms_service_metrics(svc), "acms_adapter_prepared_total", NULL,
                     "Configurations prepared for execution", 1);
    acms_metrics_add(acms_service_metrics(svc), "acms_adapter_adaptations_applied_total", "stage=\"prepare\"",
                     "Adaptation records applied, at preparation and at runtime", (double)rc->n_adaptation_log);
    acms_log_info(m->run_id, m->event_id, "prepared %s%s%s for %s: %zu adaptation(s), %zu secret finding(s); %s",
                  S(rc->pipeline->name), *S(md->config_ref) ? " as " : "", S(md->config_ref), S(md->environment),
                  rc->n_adaptation_log, md->n_secret_findings, md->capacity ? S(md->capacity->note) : "");
    return ACMS_OK;
}

static int on_prepared(adapter_service *s, acms_service *svc, acms_arena *a, const Acms__V1__ConfigSubmitted *in,
                       const acms_msg *msg, Acms__V1__RuntimeConfiguration *rc)
{
    const char *kv[12];
    size_t nkv = adapter_prepared_fields(a, rc, kv);
    /* Status and adaptation log in one script (one round trip): the log is replaced only while the
     * status write is allowed. */
    size_t len;
    const char *log = adapter_log_packed(a, rc, &len);
    int st = acms_state_run_status_blobs(s->ctx.redis, in->meta->run_id, "prepared", kv, nkv, "adaptations", &log, &len,
                                         1);
    return adapter_prepared_publish(svc, a, in, msg, rc, log, len, st);
}

/* ref: what a submission by reference resolved to (NULL inline); the run and the event then name the
 * exact id@version and stored hash when resolution got that far, else the reference as given. */
int adapter_on_rejected(adapter_service *s, acms_service *svc, acms_arena *a, const Acms__V1__ConfigSubmitted *in,
                        const acms_issues *issues, const adapter_resolved *ref)
{
    const Acms__V1__EventMeta *m = in->meta;
    char hash[65];
    adapter_config_hash(in->document, hash);
    const char *pipeline = acms_value_str(acms_value_path(in->document, "metadata.name"));
    const char *config_ref = "";
    if (ref) {
        if (*ref->hash)
            memcpy(hash, ref->hash, sizeof hash);
        if (!pipeline && *ref->id)
            pipeline = ref->id;
        config_ref = *ref->ref ? ref->ref : ref->requested;
    }
    Acms__V1__ValidationResult *res = adapter_rejection_result(a, issues);
    const char *reason = res->n_issues ? S(res->issues[0]->message) : "the configuration cannot be prepared";

    const char *verdict = acms_verdict_json(a, res, 0); /* the issues, for acmsctl (common/verdict.h) */
    const char *kv[] = {"reason",           reason,        "pipeline",   S(pipeline),   "environment",
                        S(in->environment), "config_hash", hash,         "source_name", S(in->source_name),
                        "validation",       S(verdict),    "config_ref", config_ref};
    size_t nkv = sizeof kv / sizeof *kv - (*config_ref ? 0 : 2);
    /* the verdict stays with the run (acms:run:<run>:validation, packed), as the validator's does */
    uint8_t *packed = NULL;
    size_t plen = 0;
    if (acms_pb_pack(&res->base, &packed, &plen) != ACMS_OK)
        return ACMS_ERR_RETRY;
    const char *items[1] = {(const char *)packed};
    int st = acms_state_run_status_blobs(s->ctx.redis, m->run_id, "rejected", kv, nkv, ACMS_STATE_VALIDATION, items,
                                         &plen, 1);
    free(packed);
    if (st < 0)
        return ACMS_ERR_RETRY;
    if (st == 0) {
        acms_log_info(m->run_id, m->event_id, "run already ended: rejection not published");
        return ACMS_OK;
    }

    Acms__V1__ValidationResultEvent *ev = acms_pb_new(a, &acms__v1__validation_result_event__descriptor);
    ev->meta = acms_meta_new(a, m->run_id, ADAPTER_SERVICE, m->event_id, "rejected", m->traceparent);
    ev->pipeline = acms_arena_strdup(a, S(pipeline));
    ev->environment = acms_arena_strdup(a, S(in->environment));
    ev->result = res;
    ev->config_hash = acms_arena_strdup(a, hash);
    ev->source_name = acms_arena_strdup(a, S(in->source_name));
    ev->config_ref = acms_arena_strdup(a, config_ref);
    if (acms_service_publish(svc, ACMS_TOPIC_VALIDATION_RESULTS, m->run_id, &ev->base) != ACMS_OK)
        return ACMS_ERR_RETRY;
    acms_metrics_add(acms_service_metrics(svc), "acms_adapter_rejected_total", NULL,
                     "Configurations rejected before validation", 1);
    acms_log_info(m->run_id, m->event_id, "rejected (%zu error(s)): %s", res->n_issues, reason);
    return ACMS_OK;
}

/* The exact reference this run resolved before (acms:run:<run> config_ref), so a redelivered
 * "latest" keeps its version. *out NULL when none. ACMS_OK or ACMS_ERR_RETRY. */
static int pinned_ref(acms_redis *r, acms_arena *a, const char *run_id, const char **out)
{
    char key[256];
    *out = NULL;
    redisReply *rep = acms_redis_cmd(r, "HGET %s config_ref", acms_key_run(key, sizeof key, run_id));
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        if (rep)
            freeReplyObject(rep);
        return ACMS_ERR_RETRY;
    }
    if (rep->type == REDIS_REPLY_STRING)
        *out = acms_arena_strndup(a, rep->str, rep->len);
    freeReplyObject(rep);
    return ACMS_OK;
}

int adapter_on_submitted(adapter_service *s, acms_service *svc, acms_arena *a, const acms_msg *msg, const char **reason)
{
    Acms__V1__ConfigSubmitted *in = (Acms__V1__ConfigSubmitted *)acms_pb_decode(
        a, &acms__v1__config_submitted__descriptor, msg->payload, msg->len, reason);
    if (!in)
        return ACMS_ERR_POISON;
    if (!in->meta->run_id || !*in->meta->run_id) {
        *reason = "ConfigSubmitted without run_id";
        return ACMS_ERR_POISON;
    }
    int by_ref = in->config_ref && *in->config_ref;
    if (!in->document && !by_ref) {
        *reason = "ConfigSubmitted without a document or a config_ref";
        return ACMS_ERR_POISON;
    }
    acms_issues issues;
    acms_issues_init(&issues, a, "environment");
    Acms__V1__RuntimeConfiguration *rc = NULL;
    Acms__V1__ConfigSubmitted *resolved = in;
    adapter_resolved ref;
    int r;
    if (by_ref) {
        const char *pinned = NULL;
        if (pinned_ref(s->ctx.redis, a, in->meta->run_id, &pinned) != ACMS_OK)
            return ACMS_ERR_RETRY;
        r = adapter_load_for_execution(&s->ctx, s->store, a, in, pinned, &resolved, &rc, &ref, &issues);
        if (r == ACMS_ERR_RETRY)
            acms_log_warn(in->meta->run_id, in->meta->event_id,
                          "configuration store unreachable resolving '%s': retrying", in->config_ref);
    } else {
        r = adapter_prepare(&s->ctx, a, in, &rc, &issues);
    }
    switch (r) {
    case ACMS_OK: return on_prepared(s, svc, a, resolved, resolved == in ? msg : NULL, rc);
    case ACMS_ERR_INVALID:
        return adapter_on_rejected(s, svc, a, resolved ? resolved : in, &issues, by_ref ? &ref : NULL);
    case ACMS_ERR_RETRY:
    case ACMS_ERR_NOMEM: return ACMS_ERR_RETRY;
    default: *reason = "the configuration could not be prepared"; return ACMS_ERR_POISON;
    }
}
