/* run.c: acmsctl submit, status, watch and cancel: the commands that talk to the bus and Redis. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "acmsctl.h"
#include "adapter/stages.h"
#include "claim.h"
#include "doc.h"
#include "kafka.h"
#include "run_state.h"
#include "config_store.h"

/* W3C traceparent ("00-<32 hex trace id>-<16 hex span id>-01") with random ids. */
void ctl_new_traceparent(char out[64])
{
    char a[ACMS_ID_LEN], b[ACMS_ID_LEN];
    acms_id_random(a);
    acms_id_random(b);
    size_t k = 0;
    memcpy(out, "00-", 3);
    k = 3;
    for (const char *p = a; *p && k < 35; p++)
        if (*p != '-')
            out[k++] = *p;
    out[k++] = '-';
    for (const char *p = b; *p && k < 52; p++)
        if (*p != '-')
            out[k++] = *p;
    memcpy(out + k, "-01", 4);
}

/* Produces one event and waits for the broker's acknowledgement. CTL_OK or the exit code (reported). */
int ctl_publish(const ctl_opts *o, const acms_cfg *cfg, acms_topic t, const char *key, const ProtobufCMessage *msg)
{
    char err[512] = "", origin[2400];
    acms_kafka *k = acms_kafka_new(cfg, NULL, NULL, err, sizeof err);
    if (!k)
        return ctl_fail(o, CTL_UNREACHABLE, "unreachable", NULL, "kafka: %s", err);
    uint8_t *buf;
    size_t len;
    if (acms_pb_pack(msg, &buf, &len) != ACMS_OK) {
        acms_kafka_free(k);
        return ctl_fail(o, CTL_FAIL, "internal", NULL, "the event could not be encoded");
    }
    const Acms__V1__EventMeta *meta = acms_pb_meta(msg);
    acms_kafka_hdrs h = {.ce_id = meta->event_id,
                         .ce_type = msg->descriptor->name,
                         .ce_source = "/acms/acmsctl",
                         .traceparent = meta->traceparent,
                         .time_ms = meta->timestamp_ms};
    int rc;
    if (len > ACMS_MAX_MESSAGE_BYTES) { /* too large for the bus: by reference (claim.h) */
        acms_redis *r = ctl_redis(o, cfg);
        if (!r) { /* reported */
            free(buf);
            acms_kafka_free(k);
            return CTL_UNREACHABLE;
        }
        rc = acms_claim_produce(k, r, acms_cfg_topic(cfg, t), key, buf, len, &h);
        acms_redis_free(r);
        if (rc == ACMS_ERR_LIMIT) {
            free(buf);
            acms_kafka_free(k);
            return ctl_fail(o, CTL_USAGE, "too_large", NULL, "the event is %zu bytes, above the limit of %d bytes", len,
                            ACMS_CLAIM_MAX_BYTES);
        }
    } else {
        rc = acms_kafka_produce(k, acms_cfg_topic(cfg, t), key, buf, len, &h);
    }
    free(buf);
    /* a truthful answer: acknowledged, or certainly not sent later (a leader failover may take
     * several seconds: 30 s each for what waits and what is in flight) */
    if (rc == ACMS_OK)
        rc = acms_kafka_settle(k, 30000);
    acms_kafka_free(k);
    if (rc != ACMS_OK)
        return ctl_fail(o, CTL_UNREACHABLE, "unreachable", NULL,
                        "the bus at %s (%s) did not acknowledge the event: is the stack up? (`make up`)", cfg->brokers,
                        ctl_stack_origin(cfg, origin, sizeof origin));
    return CTL_OK;
}

/* Follows the run to its end and prints the final view. want: the status that means success
 * (NULL: "succeeded"). Exit 0 when the run ended with it, 1 otherwise, 3 unreachable, 4 timeout. */
int ctl_finish_with_view(const ctl_opts *o, acms_redis *r, const char *run_id, const char *want)
{
    const char *why = NULL;
    int rc = CTL_OK;
    cJSON *view = ctl_follow(r, run_id, o->timeout_s, o->quiet || o->json, &rc, &why);
    if (!view) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "run_id", run_id);
        return ctl_fail(o, rc, rc == CTL_TIMEOUT ? "timeout" : "unreachable", d, "run %s: %s", run_id, why);
    }
    if (o->json)
        ctl_print_json(view);
    else
        ctl_print_run(view);
    const cJSON *st = cJSON_GetObjectItem(view, "status");
    rc = want ? (cJSON_IsString(st) && !strcmp(st->valuestring, want) ? CTL_OK : CTL_FAIL) : ctl_run_exit(view);
    cJSON_Delete(view);
    return rc;
}

int ctl_plaintext_credentials(const ctl_opts *o, acms_arena *a, const char *file, const Acms__V1__Value *doc,
                              const char *verb)
{
    acms_issues is;
    acms_issues_init(&is, a, "syntax");
    Acms__V1__Pipeline *p = NULL;
    if (acms_doc_to_pipeline(a, doc, &p, &is) != ACMS_OK || !p)
        return CTL_OK;
    adapter_findings f;
    adapter_findings_init(&f, a);
    adapter_secrets_check(NULL, NULL, p, &f);
    cJSON *places = cJSON_CreateArray();
    const char *lines = "";
    for (size_t i = 0; i < f.n; i++) {
        if (strcmp(f.v[i]->kind, "plaintext_credential") != 0)
            continue;
        const char *path = acms_arena_printf(a, "steps.%s.%s", f.v[i]->step, f.v[i]->field);
        lines = acms_arena_printf(a, "%s\n  %s: %s", lines, path, f.v[i]->detail);
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "path", path);
        cJSON_AddStringToObject(x, "message", f.v[i]->detail);
        cJSON_AddItemToArray(places, x);
    }
    if (cJSON_GetArraySize(places) == 0) {
        cJSON_Delete(places);
        return CTL_OK;
    }
    cJSON *d = cJSON_CreateObject();
    cJSON_AddItemToObject(d, "places", places);
    const char *done = strcmp(verb, "submit") ? "stored" : "published";
    return ctl_fail(o, CTL_FAIL, "plaintext_credential", d,
                    "%s: refusing to %s: plain-text credentials would be %s%s\n"
                    "  (nothing was %s; put the value behind a secret reference and %s again)",
                    file, verb, done, lines, done, verb);
}

/* The Pipeline document of a file into *doc. CTL_OK or the exit code (reported). */
static int read_pipeline(const ctl_opts *o, acms_arena *a, const Acms__V1__Value **doc)
{
    char err[1024] = "";
    Acms__V1__Value **docs = NULL;
    size_t ndocs = 0;
    *doc = NULL;
    if (acms_doc_parse_file(a, o->file, &docs, &ndocs, err, sizeof err) != ACMS_OK)
        return ctl_fail(o, CTL_USAGE, "invalid_input", NULL, "%s", err);
    for (size_t i = 0; i < ndocs && !*doc; i++)
        if (acms_doc_kind(docs[i]) && !strcmp(acms_doc_kind(docs[i]), "Pipeline"))
            *doc = docs[i];
    if (!*doc)
        return ctl_fail(o, CTL_USAGE, "invalid_input", NULL,
                        "%s: no document of kind Pipeline (found %zu document(s)%s)", o->file, ndocs,
                        ndocs && !acms_doc_kind(docs[0]) ? ", the first has no 'kind'" : "");
    return ctl_plaintext_credentials(o, a, o->file, *doc, "submit");
}

static void print_submitted(const ctl_opts *o, const char *run_id, const char *trace)
{
    if (o->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "run_id", run_id);
        cJSON_AddStringToObject(j, "status", "submitted");
        cJSON_AddStringToObject(j, "environment", o->env);
        cJSON_AddStringToObject(j, "traceparent", trace);
        if (o->ref)
            cJSON_AddStringToObject(j, "config_ref", o->ref);
        ctl_print_json(j);
        cJSON_Delete(j);
        return;
    }
    printf("%s\n", run_id);
    if (!o->quiet)
        fprintf(stderr, "submitted run %s (follow it: acmsctl watch %.8s)\n", run_id, run_id);
}

int ctl_submit(const ctl_opts *o)
{
    /* by reference: the adapter reads the stored version; only the reference's shape is checked here */
    char ref_id[ACMS_STORE_MAX_ID + 1] = "";
    if (o->ref) {
        char err[256];
        uint32_t version;
        if (o->file)
            return ctl_fail(o, CTL_USAGE, "usage", NULL, "submit: give a FILE or --ref ID[@VERSION], not both");
        if (acms_store_parse_ref(o->ref, ref_id, sizeof ref_id, &version, err, sizeof err) != ACMS_OK)
            return ctl_fail(o, CTL_USAGE, "usage", NULL, "--ref: %s", err);
    }
    acms_cfg cfg;
    int rc = ctl_load_cfg(o, &cfg);
    if (rc)
        return rc;
    acms_arena *a = acms_arena_new(0);
    acms_redis *r = NULL;
    const Acms__V1__Value *doc = NULL;
    if (o->file && (rc = read_pipeline(o, a, &doc)) != CTL_OK)
        goto out;
    const Acms__V1__Value *name = acms_value_path(doc, "metadata.name");
    char run_id[ACMS_ID_LEN], trace[64];
    acms_id_random(run_id);
    ctl_new_traceparent(trace);

    Acms__V1__ConfigSubmitted *ev = acms_pb_new(a, &acms__v1__config_submitted__descriptor);
    ev->meta = acms_meta_new(a, run_id, "acmsctl", NULL, NULL, trace);
    ev->environment = acms_arena_strdup(a, o->env);
    ev->document = (Acms__V1__Value *)doc;
    ev->source_name = acms_arena_strdup(a, o->file ? o->file : "");
    ev->config_ref = acms_arena_strdup(a, o->ref ? o->ref : "");
    ev->submitted_by = acms_arena_strdup(a, getenv("USER") ? getenv("USER") : "");

    if (!(r = ctl_redis(o, &cfg))) {
        rc = CTL_UNREACHABLE;
        goto out;
    }
    const char *kv[] = {"pipeline",    acms_value_str(name) ? acms_value_str(name) : (o->ref ? ref_id : "?"),
                        "environment", o->env,
                        "source_name", ev->source_name,
                        "traceparent", trace};
    if (acms_state_run_status(r, run_id, "submitted", kv, 8) < 0) {
        rc = ctl_fail(o, CTL_UNREACHABLE, "unreachable", NULL, "Redis refused the run record");
        goto out;
    }
    if (doc && (rc = ctl_doc_keep(o, r, ev)) != CTL_OK) /* for `acmsctl retry` */
        goto out;
    if ((rc = ctl_publish(o, &cfg, ACMS_TOPIC_CONFIG_SUBMITTED, run_id, &ev->base)) != CTL_OK)
        goto out;
    if (!o->wait) {
        print_submitted(o, run_id, trace);
        goto out;
    }
    if (!o->json && !o->quiet)
        fprintf(stderr, "submitted run %s; following it\n", run_id);
    rc = ctl_finish_with_view(o, r, run_id, NULL);
out:
    acms_redis_free(r);
    acms_arena_free(a);
    return rc;
}

/* The prelude of status, watch and cancel: configuration, Redis, the run named by its id or a unique
 * prefix (into id), and its current view. Returns CTL_OK with *cfg, *r and *view set (caller frees r
 * and view), or the exit code after reporting. */
static int open_run(const ctl_opts *o, acms_cfg *cfg, acms_redis **r, char *id, size_t idsize, cJSON **view)
{
    int rc = ctl_load_cfg(o, cfg);
    if (rc)
        return rc;
    if (!(*r = ctl_redis(o, cfg)))
        return CTL_UNREACHABLE;
    int unreachable = 0;
    rc = ctl_resolve_run(o, *r, o->file, id, idsize);
    if (rc == CTL_OK && !(*view = ctl_run_view(*r, id, &unreachable)))
        rc = unreachable
                 ? ctl_fail(o, CTL_UNREACHABLE, "unreachable", NULL, "Redis is unreachable reading run '%s'", id)
                 : ctl_fail(o, CTL_FAIL, "unknown_run", NULL, "unknown run '%s'", id);
    if (rc != CTL_OK) {
        acms_redis_free(*r);
        *r = NULL;
    }
    return rc;
}

int ctl_status(const ctl_opts *o)
{
    acms_cfg cfg;
    acms_redis *r;
    cJSON *view;
    char id[256];
    int rc = open_run(o, &cfg, &r, id, sizeof id, &view);
    if (rc)
        return rc;
    if (o->json)
        ctl_print_json(view);
    else
        ctl_print_run(view);
    cJSON_Delete(view);
    acms_redis_free(r);
    return CTL_OK;
}

int ctl_watch(const ctl_opts *o)
{
    acms_cfg cfg;
    acms_redis *r;
    cJSON *view;
    char id[256];
    int rc = open_run(o, &cfg, &r, id, sizeof id, &view);
    if (rc)
        return rc;
    cJSON_Delete(view);
    rc = ctl_finish_with_view(o, r, id, NULL);
    acms_redis_free(r);
    return rc;
}

static int publish_cancel(const ctl_opts *o, const acms_cfg *cfg, acms_redis *r, const char *id)
{
    acms_arena *a = acms_arena_new(0);
    Acms__V1__ControlEvent *ev = acms_pb_new(a, &acms__v1__control_event__descriptor);
    ev->meta = acms_meta_new(a, id, "acmsctl", NULL, NULL, NULL);
    ev->action = ACMS__V1__CONTROL_ACTION__CONTROL_ACTION_CANCEL;
    ev->reason = acms_arena_strdup(a, "cancelled by acmsctl");
    /* the flag reaches the run's owner even before the event does */
    acms_state_cancel_flag(r, id, "1");
    int rc = ctl_publish(o, cfg, ACMS_TOPIC_CONTROL, id, &ev->base);
    acms_arena_free(a);
    return rc;
}

int ctl_cancel(const ctl_opts *o)
{
    acms_cfg cfg;
    acms_redis *r;
    cJSON *view;
    char id[256];
    int rc = open_run(o, &cfg, &r, id, sizeof id, &view);
    if (rc)
        return rc;
    const cJSON *st = cJSON_GetObjectItem(view, "status");
    if (cJSON_IsString(st) && acms_state_is_terminal(st->valuestring)) {
        if (o->json)
            ctl_print_json(view);
        else
            fprintf(stderr, "acmsctl: run %s already ended (%s)\n", id, st->valuestring);
        cJSON_Delete(view);
        acms_redis_free(r);
        return CTL_OK;
    }
    cJSON_Delete(view);
    rc = publish_cancel(o, &cfg, r, id);
    if (rc == CTL_OK && !o->json && !o->quiet)
        fprintf(stderr, "cancel requested for run %s\n", id);
    if (rc == CTL_OK && o->wait) {
        rc = ctl_finish_with_view(o, r, id, "cancelled");
    } else if (rc == CTL_OK && o->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "run_id", id);
        cJSON_AddBoolToObject(j, "cancel_requested", 1);
        ctl_print_json(j);
        cJSON_Delete(j);
    }
    acms_redis_free(r);
    return rc;
}
