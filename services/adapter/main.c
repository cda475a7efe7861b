/* main.c: acms-adapter wiring. Consumes acms.config.submitted (prepare -> ConfigPrepared, or a
 * rejection; a submission by reference is first loaded from the configuration store, load_ref.c) and
 * acms.exec.adaptations (runtime decision -> AdaptedEvent). Effects are written to Redis before
 * publishing and are idempotent (monotonic status with DEL+RPUSH of the log, one packed value, in the
 * same script, only while the run is at "prepared"; once-keys per event), and published ids are
 * derived from the input, so redelivery is harmless; a run already past "prepared" is not prepared
 * again. The submitted document goes on in the ConfigPrepared as the bytes it arrived in (packed
 * again only when a plain-text credential was redacted from it). */
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/adapter.h"
#include "adapter/stages.h"
#include "doc.h"
#include "service.h"
#include "crypt.h"
#include "vault.h"
#include "run_state.h"
#include "verdict.h"

#define SERVICE "acms-adapter"
#define SEEN_TTL_S (7 * 24 * 3600)
#define S(x) ((x) ? (x) : "")

typedef struct adapter_service {
    adapter_ctx ctx;
    double threshold;   /* ACMS_SAFETY_THRESHOLD, 0 = the environment's or the default */
    acms_store *store;  /* ACMS_CONFIG_STORE: "redis" (default, the service's Redis) or http://... */
    acms_crypt *crypt;  /* ACMS_MASTER_KEY_FILE / _TRANSIT: stored documents encrypted at rest; NULL = off */
} adapter_service;

static int init(acms_service *svc, void **out, char *errstr, size_t errstr_size)
{
    adapter_service *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(errstr, errstr_size, "out of memory");
        return ACMS_ERR_NOMEM;
    }
    const char *th = getenv("ACMS_SAFETY_THRESHOLD");
    if (th && *th) {
        char *end;
        errno = 0;
        s->threshold = strtod(th, &end);
        if (errno || *end || !(s->threshold > 0 && s->threshold <= 1)) {
            snprintf(errstr, errstr_size, "ACMS_SAFETY_THRESHOLD: '%s' is not a number in (0, 1]", th);
            free(s);
            return ACMS_ERR_INVALID;
        }
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(errstr, errstr_size, "curl_global_init failed");
        free(s);
        return ACMS_ERR;
    }
    if (acms_secret_ctx_from_env(&s->ctx.secret, errstr, errstr_size) != ACMS_OK) {
        curl_global_cleanup();
        free(s);
        return ACMS_ERR_INVALID;
    }
    const char *spec = getenv("ACMS_CONFIG_STORE");
    s->store = acms_store_open(spec, acms_service_redis(svc), errstr, errstr_size);
    if (!s->store || acms_crypt_from_env(&s->crypt, s->ctx.secret.vault, errstr, errstr_size) != ACMS_OK) {
        acms_store_close(s->store);
        acms_secret_ctx_release(&s->ctx.secret);
        curl_global_cleanup();
        free(s);
        return ACMS_ERR_INVALID;
    }
    acms_store_set_crypt(s->store, s->crypt);
    s->ctx.profiles = acms_service_profiles(svc);
    s->ctx.redis = acms_service_redis(svc);
    s->ctx.check_secrets = 1;
    acms_metrics *mx = acms_service_metrics(svc); /* the service's own series exist from the start */
    acms_metrics_add(mx, "acms_adapter_prepared_total", NULL, "Configurations prepared for execution", 0);
    acms_metrics_add(mx, "acms_adapter_rejected_total", NULL, "Configurations rejected before validation", 0);
    for (int st = 0; st < 2; st++)
        acms_metrics_add(mx, "acms_adapter_adaptations_applied_total", st ? "stage=\"runtime\"" : "stage=\"prepare\"",
                         "Adaptation records applied, at preparation and at runtime", 0);
    acms_log_info(NULL, NULL, "adapter ready: vault %s, safety threshold %s, configuration store %s%s%s",
                  s->ctx.secret.vault ? acms_vault_addr(s->ctx.secret.vault) : "none", th && *th ? th : "per environment",
                  acms_store_kind(s->store), spec && *spec && strcmp(spec, "redis") ? " " : "",
                  spec && *spec && strcmp(spec, "redis") ? spec : "");
    *out = s;
    return ACMS_OK;
}

static void release(void *ctx)
{
    adapter_service *s = ctx;
    if (!s)
        return;
    acms_store_close(s->store);
    acms_crypt_free(s->crypt);
    acms_secret_ctx_release(&s->ctx.secret);
    curl_global_cleanup();
    free(s);
}

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

/* The prepared log as one value: a RuntimeConfiguration holding only adaptation_log, packed into the
 * arena (common/runview.c renders it when a run is shown). */
static const char *log_packed(acms_arena *a, const Acms__V1__RuntimeConfiguration *rc, size_t *len)
{
    Acms__V1__RuntimeConfiguration only = ACMS__V1__RUNTIME_CONFIGURATION__INIT;
    only.adaptation_log = rc->adaptation_log;
    only.n_adaptation_log = rc->n_adaptation_log;
    *len = protobuf_c_message_get_packed_size(&only.base);
    uint8_t *buf = acms_arena_alloc(a, *len ? *len : 1);
    protobuf_c_message_pack(&only.base, buf);
    return (const char *)buf;
}

/* The run fields the status write records for a prepared run; returns how many of kv are used. */
static size_t prepared_fields(const Acms__V1__RuntimeConfiguration *rc, const char *kv[10])
{
    const Acms__V1__RuntimeMetadata *md = rc->metadata;
    const char *v[] = {"pipeline",    S(rc->pipeline->name), "environment", S(md->environment),
                       "config_hash", S(md->config_hash),    "source_name", S(md->source_name),
                       "config_ref",  S(md->config_ref)};
    memcpy(kv, v, sizeof v);
    return sizeof v / sizeof *v - (*S(md->config_ref) ? 0 : 2);
}

/* The submitted document as it arrived: the bytes of ConfigSubmitted.document in the payload, or
 * NULL (absent, or not readable as one field). */
static const uint8_t *submitted_doc_bytes(const acms_msg *msg, size_t *len)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(&acms__v1__config_submitted__descriptor, "document");
    const uint8_t *raw = NULL;
    if (!msg || !f || acms_pb_field_bytes(msg->payload, msg->len, f->id, &raw, len) != ACMS_OK)
        return NULL;
    return raw;
}

/* Publishes the ConfigPrepared; a document sent on unchanged (no plain-text credential redacted)
 * travels as the bytes it arrived in (raw, may be NULL), not packed again. */
static int publish_prepared(acms_service *svc, Acms__V1__ConfigPrepared *out, const Acms__V1__Value *submitted,
                            const uint8_t *raw, size_t raw_len)
{
    const char *key = out->meta->run_id;
    if (raw == NULL || out->document != submitted)
        return acms_service_publish(svc, ACMS_TOPIC_CONFIG_PREPARED, key, &out->base);
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(&acms__v1__config_prepared__descriptor, "document");
    acms_pb_raw_field doc = {.field = f->id, .data = raw, .len = raw_len};
    out->document = NULL;
    return acms_service_publish_with_fields(svc, ACMS_TOPIC_CONFIG_PREPARED, key, &out->base, &doc, 1);
}

/* After the status-and-log write answered st (1 applied, 0 refused, < 0 failed). msg: the
 * ConfigSubmitted as received when in is its decoding (its document is forwarded as is), else NULL. */
static int prepared_publish(acms_service *svc, acms_arena *a, const Acms__V1__ConfigSubmitted *in,
                            const acms_msg *msg, Acms__V1__RuntimeConfiguration *rc, int st)
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
    out->meta = acms_meta_new(a, m->run_id, SERVICE, m->event_id, "prepared", m->traceparent);
    out->runtime = rc;
    out->document = adapter_redacted_document(a, in->document, rc->metadata); /* no plain-text credential */
    size_t raw_len = 0;
    const uint8_t *raw = submitted_doc_bytes(msg, &raw_len);
    if (publish_prepared(svc, out, in->document, raw, raw_len) != ACMS_OK)
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
    const char *kv[10];
    size_t nkv = prepared_fields(rc, kv);
    /* Status and adaptation log in one script (one round trip): the log is replaced only while the
     * status write is allowed. */
    size_t len;
    const char *log = log_packed(a, rc, &len);
    int st = acms_state_run_status_blobs(s->ctx.redis, in->meta->run_id, "prepared", kv, nkv, "adaptations", &log,
                                         &len, 1);
    return prepared_publish(svc, a, in, msg, rc, st);
}

/* ref: what a submission by reference resolved to (NULL inline); the run and the event then name the
 * exact id@version and stored hash when resolution got that far, else the reference as given. */
static int on_rejected(adapter_service *s, acms_service *svc, acms_arena *a, const Acms__V1__ConfigSubmitted *in,
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
    const char *kv[] = {"reason",      reason,     "pipeline",    S(pipeline),        "environment", S(in->environment),
                        "config_hash", hash,       "source_name", S(in->source_name), "validation",  S(verdict),
                        "config_ref",  config_ref};
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
    ev->meta = acms_meta_new(a, m->run_id, SERVICE, m->event_id, "rejected", m->traceparent);
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

static int handle_submitted(adapter_service *s, acms_service *svc, acms_arena *a, const acms_msg *msg,
                            const char **reason)
{
    Acms__V1__ConfigSubmitted *in =
        (Acms__V1__ConfigSubmitted *)acms_pb_decode(a, &acms__v1__config_submitted__descriptor, msg->payload,
                                                    msg->len, reason);
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
            acms_log_warn(in->meta->run_id, in->meta->event_id, "configuration store unreachable resolving '%s': retrying",
                          in->config_ref);
    } else {
        r = adapter_prepare(&s->ctx, a, in, &rc, &issues);
    }
    switch (r) {
    case ACMS_OK:
        return on_prepared(s, svc, a, resolved, resolved == in ? msg : NULL, rc);
    case ACMS_ERR_INVALID:
        return on_rejected(s, svc, a, resolved ? resolved : in, &issues, by_ref ? &ref : NULL);
    case ACMS_ERR_RETRY:
    case ACMS_ERR_NOMEM:
        return ACMS_ERR_RETRY;
    default:
        *reason = "the configuration could not be prepared";
        return ACMS_ERR_POISON;
    }
}

/* Appends the runtime record once per opportunity event (once-key and RPUSH in one script). */
static const char *const record_script =
    "if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then\n"
    "  redis.call('RPUSH', KEYS[2], ARGV[2])\n"
    "  return 1\n"
    "end\n"
    "return 0\n";

static int record_once(acms_redis *r, acms_arena *a, const Acms__V1__EventMeta *m, Acms__V1__AdaptationRecord *rec)
{
    const char **json = records_json(a, &rec, 1);
    const char *argv[] = {"EVAL", record_script, "2",
                          acms_key_seen(acms_key_buf(a), ACMS_KEY_MAX, "adapter", m->event_id),
                          acms_key_run_part(acms_key_buf(a), ACMS_KEY_MAX, m->run_id, "adaptations"),
                          acms_arena_printf(a, "%d", SEEN_TTL_S), json[0]};
    size_t argl[7];
    for (int i = 0; i < 7; i++)
        argl[i] = strlen(argv[i]);
    redisReply *rep = acms_redis_cmdargv(r, 7, argv, argl);
    int rc = rep && rep->type == REDIS_REPLY_INTEGER ? ACMS_OK : ACMS_ERR_RETRY;
    if (rep)
        freeReplyObject(rep);
    return rc;
}

static int handle_opportunity(adapter_service *s, acms_service *svc, acms_arena *a, const acms_msg *msg,
                              const char **reason)
{
    Acms__V1__AdaptationOpportunity *opp =
        (Acms__V1__AdaptationOpportunity *)acms_pb_decode(a, &acms__v1__adaptation_opportunity__descriptor,
                                                          msg->payload, msg->len, reason);
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
        rec->reason =
            acms_arena_printf(a, "%s (safety %.2f; monitor: %s)", rec->reason, opp->safety_score, opp->reason);
    if (record_once(s->ctx.redis, a, m, rec) != ACMS_OK)
        return ACMS_ERR_RETRY;
    if (apply) {
        Acms__V1__AdaptedEvent *ev = acms_pb_new(a, &acms__v1__adapted_event__descriptor);
        ev->meta = acms_meta_new(a, m->run_id, SERVICE, m->event_id, "adapted", m->traceparent);
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

static int handle(void *ctx, acms_service *svc, const acms_msg *m, const char **reason)
{
    adapter_service *s = ctx;
    int topic = acms_cfg_topic_id(acms_service_cfg(svc), m->topic);
    acms_arena *a = acms_arena_new(0);
    int rc;
    if (topic == ACMS_TOPIC_CONFIG_SUBMITTED)
        rc = handle_submitted(s, svc, a, m, reason);
    else if (topic == ACMS_TOPIC_EXEC_ADAPTATIONS)
        rc = handle_opportunity(s, svc, a, m, reason);
    else {
        *reason = "message from a topic this service does not consume";
        rc = ACMS_ERR_POISON;
    }
    acms_arena_free(a);
    return rc;
}

/* What the scaler will read for an inline submission, named from the document as written (the
 * prepared pipeline keeps these names; when it does not, adapter_prepare reads again). */
static size_t doc_step_names(acms_arena *a, const Acms__V1__Value *doc, const char ***out)
{
    const Acms__V1__Value *steps = acms_value_path(doc, "spec.steps");
    size_t n = acms_value_is(steps, ACMS__V1__VALUE__KIND_LIST_VALUE) ? steps->list_value->n_values : 0;
    const char **names = acms_arena_alloc(a, (n ? n : 1) * sizeof *names);
    for (size_t i = 0; i < n; i++) {
        const char *name = acms_value_str(acms_value_get(steps->list_value->values[i], "name"));
        names[i] = name ? name : "";
    }
    *out = names;
    return n;
}

typedef struct batch_item {
    Acms__V1__ConfigSubmitted *in;     /* NULL: handled on its own, or done */
    adapter_prefetch pf;
    size_t first;                      /* its replies in the read pipeline */
    Acms__V1__RuntimeConfiguration *rc;
} batch_item;

/* The submissions waiting in the queue, together: inline ones share two Redis round trips (the
 * scaler's reads, then the status-and-log writes) instead of two each. Submissions by reference,
 * rejections and anything else go through the single-message path. Per message the outcome is
 * handle_submitted's. */
static int handle_batch(void *ctx, acms_service *svc, const acms_msg *msgs, size_t n, int *rcs, const char **reasons)
{
    adapter_service *s = ctx;
    acms_redis *r = s->ctx.redis;
    acms_arena *a = acms_arena_new(0);
    batch_item *it = acms_arena_alloc(a, (n ? n : 1) * sizeof *it);
    redisReply **rep = NULL;
    size_t cmds = 0;

    for (size_t i = 0; i < n; i++) {
        rcs[i] = ACMS_ERR_RETRY;
        int mine = r && acms_cfg_topic_id(acms_service_cfg(svc), msgs[i].topic) == ACMS_TOPIC_CONFIG_SUBMITTED;
        Acms__V1__ConfigSubmitted *in = NULL;
        if (mine) {
            const char *why = NULL;
            in = (Acms__V1__ConfigSubmitted *)acms_pb_decode(a, &acms__v1__config_submitted__descriptor,
                                                             msgs[i].payload, msgs[i].len, &why);
            mine = in && in->meta->run_id && *in->meta->run_id && in->document && !(in->config_ref && *in->config_ref);
        }
        if (!mine) /* its own path (which also gives the poison reasons); nothing is queued yet */
            rcs[i] = handle(ctx, svc, &msgs[i], &reasons[i]);
        else
            it[i].in = in;
    }
    for (size_t i = 0; i < n; i++) {
        if (!it[i].in)
            continue;
        adapter_prefetch *pf = &it[i].pf;
        const char **names;
        pf->env = S(it[i].in->environment);
        pf->pipeline = S(acms_value_str(acms_value_path(it[i].in->document, "metadata.name")));
        pf->n = doc_step_names(a, it[i].in->document, &names);
        pf->steps = names;
        it[i].first = cmds;
        cmds += adapter_scaler_append(r, a, pf->env, pf->pipeline, pf->steps, pf->n);
    }
    if (cmds == 0)
        goto out;
    rep = acms_arena_alloc(a, cmds * sizeof *rep);
    if (acms_redis_exec(r, rep, cmds) != ACMS_OK) {
        rep = NULL;
        goto out;
    }
    /* prepare each; rejections are written and published on their own (nothing is queued now) */
    for (size_t i = 0; i < n; i++) {
        if (!it[i].in)
            continue;
        Acms__V1__ConfigSubmitted *in = it[i].in;
        it[i].pf.rep = rep + it[i].first;
        adapter_ctx c = s->ctx;
        c.prefetch = &it[i].pf;
        acms_issues issues;
        acms_issues_init(&issues, a, "environment");
        acms_log_set_trace(msgs[i].traceparent);
        int pr = adapter_prepare(&c, a, in, &it[i].rc, &issues);
        if (pr != ACMS_OK) {
            it[i].in = NULL;
            if (pr == ACMS_ERR_INVALID)
                rcs[i] = on_rejected(s, svc, a, in, &issues, NULL);
            else if (pr != ACMS_ERR_RETRY && pr != ACMS_ERR_NOMEM) {
                rcs[i] = ACMS_ERR_POISON;
                reasons[i] = "the configuration could not be prepared";
            }
        }
    }
    acms_log_set_trace(NULL);
    /* every status-and-log write in one round trip, then publish in order */
    size_t nst = 0;
    for (size_t i = 0; i < n; i++) {
        if (!it[i].in)
            continue;
        const char *kv[10];
        size_t nkv = prepared_fields(it[i].rc, kv);
        size_t len;
        const char *log = log_packed(a, it[i].rc, &len);
        if (acms_state_run_status_blobs_append(r, it[i].in->meta->run_id, "prepared", kv, nkv, "adaptations", &log,
                                               &len, 1) != ACMS_OK) {
            it[i].in = NULL; /* as on_prepared: retried */
            continue;
        }
        nst++;
    }
    if (nst == 0)
        goto out;
    redisReply **st = acms_arena_alloc(a, nst * sizeof *st);
    if (acms_redis_exec(r, st, nst) != ACMS_OK)
        goto out;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!it[i].in)
            continue;
        int applied = acms_state_run_status_reply(st[k]);
        if (st[k])
            freeReplyObject(st[k]);
        k++;
        acms_log_set_trace(msgs[i].traceparent);
        rcs[i] = prepared_publish(svc, a, it[i].in, &msgs[i], it[i].rc, applied);
    }
    acms_log_set_trace(NULL);
out:
    for (size_t j = 0; rep && j < cmds; j++)
        if (rep[j])
            freeReplyObject(rep[j]);
    acms_arena_free(a);
    return ACMS_OK;
}

int main(int argc, char **argv)
{
    static const acms_topic inputs[] = {ACMS_TOPIC_CONFIG_SUBMITTED, ACMS_TOPIC_EXEC_ADAPTATIONS};
    static const acms_service_ops ops = {
        .name = SERVICE,
        .summary = "adapts submitted pipeline configurations to their environment and decides runtime adaptations",
        .extra_help = "  VAULT_ADDR              Vault for secret://vault references (e.g. http://127.0.0.1:8200)\n"
                      "  VAULT_TOKEN             Vault token (never logged)\n"
                      "  ACMS_SAFETY_THRESHOLD   minimum safety score of runtime adaptations, (0,1]; default: the\n"
                      "                          environment's safety_threshold, else 0.8\n"
                      "  ACMS_CONFIG_STORE       where submissions by reference (config_ref id[@version]) are read:\n"
                      "                          redis (default: the service's Redis, keys acms:config:*) or the\n"
                      "                          URL of a storage service, e.g. http://127.0.0.1:8081\n",
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
