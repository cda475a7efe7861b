/* run.c: acmsctl submit, status, watch and cancel: the commands that talk to the bus and Redis. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acmsctl.h"
#include "adapter/stages.h"
#include "doc.h"
#include "kafka.h"
#include "log.h"
#include "state.h"
#include "store.h"

static int load_cfg(acms_cfg *cfg)
{
    char err[256];
    if (acms_cfg_load(cfg, "acmsctl", err, sizeof err) != ACMS_OK) {
        fprintf(stderr, "acmsctl: configuration error: %s\n", err);
        return CTL_USAGE;
    }
    acms_log_init("acmsctl", getenv("ACMS_LOG_LEVEL") ? getenv("ACMS_LOG_LEVEL") : "error");
    return CTL_OK;
}

/* W3C traceparent ("00-<32 hex trace id>-<16 hex span id>-01") with random ids. */
static void new_traceparent(char out[64])
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

/* Produces one event and waits for the broker's acknowledgement. */
static int publish(const acms_cfg *cfg, acms_topic t, const char *key, const ProtobufCMessage *msg)
{
    char err[512] = "";
    acms_kafka *k = acms_kafka_new(cfg, NULL, NULL, err, sizeof err);
    if (!k) {
        fprintf(stderr, "acmsctl: kafka: %s\n", err);
        return CTL_UNREACHABLE;
    }
    uint8_t *buf;
    size_t len;
    if (acms_pb_pack(msg, &buf, &len) != ACMS_OK) {
        acms_kafka_free(k);
        return CTL_FAIL;
    }
    const Acms__V1__EventMeta *meta = acms_pb_meta(msg);
    acms_kafka_hdrs h = {.ce_id = meta->event_id,
                         .ce_type = msg->descriptor->name,
                         .ce_source = "/acms/acmsctl",
                         .traceparent = meta->traceparent,
                         .time_ms = meta->timestamp_ms};
    int rc = acms_kafka_produce(k, acms_cfg_topic(cfg, t), key, buf, len, &h);
    free(buf);
    if (rc == ACMS_OK)
        rc = acms_kafka_flush(k, 10000);
    acms_kafka_free(k);
    if (rc != ACMS_OK) {
        fprintf(stderr, "acmsctl: the bus at %s did not acknowledge the event (is the stack up? `make up`)\n",
                cfg->brokers);
        return CTL_UNREACHABLE;
    }
    return CTL_OK;
}

static int finish_with_view(const ctl_opts *o, acms_redis *r, const char *run_id)
{
    const char *why = NULL;
    cJSON *view = ctl_follow(r, run_id, o->timeout_s, o->quiet || o->json, &why);
    if (!view) {
        fprintf(stderr, "acmsctl: run %s: %s\n", run_id, why);
        return !strcmp(why, "Redis became unreachable") ? CTL_UNREACHABLE : CTL_FAIL;
    }
    if (o->json)
        ctl_print_json(view);
    else
        ctl_print_run(view);
    int rc = ctl_run_exit(view);
    cJSON_Delete(view);
    return rc;
}

size_t ctl_plaintext_credentials(acms_arena *a, const char *file, const Acms__V1__Value *doc, const char *verb)
{
    acms_issues is;
    acms_issues_init(&is, a, "syntax");
    Acms__V1__Pipeline *p = NULL;
    if (acms_doc_to_pipeline(a, doc, &p, &is) != ACMS_OK || !p)
        return 0;
    adapter_findings f;
    adapter_findings_init(&f, a);
    adapter_secrets_check(NULL, NULL, p, &f);
    size_t n = 0;
    for (size_t i = 0; i < f.n; i++) {
        if (strcmp(f.v[i]->kind, "plaintext_credential") != 0)
            continue;
        if (!n++)
            fprintf(stderr, "acmsctl: %s: refusing to %s: plain-text credentials would be %s\n", file, verb,
                    strcmp(verb, "submit") ? "stored" : "published");
        fprintf(stderr, "  steps.%s.%s: %s\n", f.v[i]->step, f.v[i]->field, f.v[i]->detail);
    }
    if (n)
        fprintf(stderr, "  (nothing was %s; put the value behind a secret reference and %s again)\n",
                strcmp(verb, "submit") ? "stored" : "published", verb);
    return n;
}

int ctl_submit(const ctl_opts *o)
{
    /* by reference: the adapter reads the stored version; only the reference's shape is checked here */
    char ref_id[ACMS_STORE_MAX_ID + 1] = "";
    if (o->ref) {
        char err[256];
        uint32_t version;
        if (o->file) {
            fprintf(stderr, "acmsctl submit: give a FILE or --ref ID[@VERSION], not both\n");
            return CTL_USAGE;
        }
        if (acms_store_parse_ref(o->ref, ref_id, sizeof ref_id, &version, err, sizeof err) != ACMS_OK) {
            fprintf(stderr, "acmsctl: --ref: %s\n", err);
            return CTL_USAGE;
        }
    }
    acms_cfg cfg;
    int rc = load_cfg(&cfg);
    if (rc)
        return rc;
    acms_arena *a = acms_arena_new(0);
    acms_redis *r = NULL;
    char err[1024] = "";
    Acms__V1__Value **docs = NULL;
    size_t ndocs = 0;
    const Acms__V1__Value *doc = NULL;
    if (o->file) {
        if (acms_doc_parse_file(a, o->file, &docs, &ndocs, err, sizeof err) != ACMS_OK) {
            fprintf(stderr, "acmsctl: %s\n", err);
            rc = CTL_USAGE;
            goto out;
        }
        for (size_t i = 0; i < ndocs && !doc; i++)
            if (acms_doc_kind(docs[i]) && !strcmp(acms_doc_kind(docs[i]), "Pipeline"))
                doc = docs[i];
        if (!doc) {
            fprintf(stderr, "acmsctl: %s: no document of kind Pipeline (found %zu document(s))\n", o->file, ndocs);
            rc = CTL_USAGE;
            goto out;
        }
        if (ctl_plaintext_credentials(a, o->file, doc, "submit")) {
            rc = CTL_FAIL;
            goto out;
        }
    }
    const Acms__V1__Value *name = acms_value_path(doc, "metadata.name");
    char run_id[ACMS_ID_LEN], trace[64];
    acms_id_random(run_id);
    new_traceparent(trace);

    Acms__V1__ConfigSubmitted *ev = acms_pb_new(a, &acms__v1__config_submitted__descriptor);
    ev->meta = acms_meta_new(a, run_id, "acmsctl", NULL, NULL, trace);
    ev->environment = acms_arena_strdup(a, o->env);
    ev->document = (Acms__V1__Value *)doc;
    ev->source_name = acms_arena_strdup(a, o->file ? o->file : "");
    ev->config_ref = acms_arena_strdup(a, o->ref ? o->ref : "");
    ev->submitted_by = acms_arena_strdup(a, getenv("USER") ? getenv("USER") : "");

    if (!(r = ctl_redis(&cfg))) {
        rc = CTL_UNREACHABLE;
        goto out;
    }
    const char *kv[] = {"pipeline",    acms_value_str(name) ? acms_value_str(name) : (o->ref ? ref_id : "?"),
                        "environment", o->env,
                        "source_name", ev->source_name,
                        "traceparent", trace};
    if (acms_state_run_status(r, run_id, "submitted", kv, 8) < 0) {
        fprintf(stderr, "acmsctl: Redis refused the run record\n");
        rc = CTL_UNREACHABLE;
        goto out;
    }
    rc = publish(&cfg, ACMS_TOPIC_CONFIG_SUBMITTED, run_id, &ev->base);
    if (rc)
        goto out;
    if (!o->wait) {
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
        } else {
            printf("%s\n", run_id);
            if (!o->quiet)
                fprintf(stderr, "submitted run %s (follow it: acmsctl watch %s)\n", run_id, run_id);
        }
        goto out;
    }
    if (!o->json && !o->quiet)
        fprintf(stderr, "submitted run %s; following it\n", run_id);
    rc = finish_with_view(o, r, run_id);
out:
    acms_redis_free(r);
    acms_arena_free(a);
    return rc;
}

/* The prelude of status, watch and cancel: configuration, Redis, and the run's current view.
 * Returns CTL_OK with *cfg, *r and *view set (caller frees r and view), or the exit code after
 * saying why. */
static int open_run(const ctl_opts *o, acms_cfg *cfg, acms_redis **r, cJSON **view)
{
    int rc = load_cfg(cfg);
    if (rc)
        return rc;
    if (!(*r = ctl_redis(cfg)))
        return CTL_UNREACHABLE;
    int unreachable = 0;
    *view = ctl_run_view(*r, o->file, &unreachable);
    if (!*view) {
        acms_redis_free(*r);
        *r = NULL;
        fprintf(stderr, "acmsctl: %s '%s'\n", unreachable ? "Redis is unreachable reading run" : "unknown run",
                o->file);
        return unreachable ? CTL_UNREACHABLE : CTL_FAIL;
    }
    return CTL_OK;
}

int ctl_status(const ctl_opts *o)
{
    acms_cfg cfg;
    acms_redis *r;
    cJSON *view;
    int rc = open_run(o, &cfg, &r, &view);
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
    int rc = open_run(o, &cfg, &r, &view);
    if (rc)
        return rc;
    cJSON_Delete(view);
    rc = finish_with_view(o, r, o->file);
    acms_redis_free(r);
    return rc;
}

int ctl_cancel(const ctl_opts *o)
{
    acms_cfg cfg;
    acms_redis *r;
    cJSON *view;
    int rc = open_run(o, &cfg, &r, &view);
    if (rc)
        return rc;
    const cJSON *st = cJSON_GetObjectItem(view, "status");
    if (cJSON_IsString(st) && acms_state_is_terminal(st->valuestring)) {
        fprintf(stderr, "acmsctl: run %s already ended (%s)\n", o->file, st->valuestring);
        cJSON_Delete(view);
        acms_redis_free(r);
        return CTL_OK;
    }
    cJSON_Delete(view);
    acms_arena *a = acms_arena_new(0);
    Acms__V1__ControlEvent *ev = acms_pb_new(a, &acms__v1__control_event__descriptor);
    ev->meta = acms_meta_new(a, o->file, "acmsctl", NULL, NULL, NULL);
    ev->action = ACMS__V1__CONTROL_ACTION__CONTROL_ACTION_CANCEL;
    ev->reason = acms_arena_strdup(a, "cancelled by acmsctl");
    /* the flag reaches the run's owner even before the event does */
    redisReply *rep = acms_redis_cmd(r, "SET acms:run:%s:cancel 1 EX 86400", o->file);
    if (rep)
        freeReplyObject(rep);
    rc = publish(&cfg, ACMS_TOPIC_CONTROL, o->file, &ev->base);
    acms_arena_free(a);
    if (rc == CTL_OK) {
        if (!o->json)
            fprintf(stderr, "cancel requested for run %s\n", o->file);
        if (o->wait) {
            const char *why = NULL;
            cJSON *v = ctl_follow(r, o->file, o->timeout_s, o->quiet || o->json, &why);
            if (!v) {
                fprintf(stderr, "acmsctl: run %s: %s\n", o->file, why);
                rc = CTL_FAIL;
            } else {
                if (o->json)
                    ctl_print_json(v);
                else
                    ctl_print_run(v);
                const cJSON *fs = cJSON_GetObjectItem(v, "status");
                rc = cJSON_IsString(fs) && !strcmp(fs->valuestring, "cancelled") ? CTL_OK : CTL_FAIL;
                cJSON_Delete(v);
            }
        }
    }
    acms_redis_free(r);
    return rc;
}
