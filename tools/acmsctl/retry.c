/* retry.c: `acmsctl retry RUN` and `acmsctl delete RUN`.
 * retry: a new run of the same configuration (the exact stored version of a run submitted by
 * reference, else the document kept at submission: submitted.c) and environment, whose record names
 * the steps that succeeded in RUN (reuse_steps) and RUN itself (retry_of): the coordinator records
 * those steps succeeded without running them, so only the failed, cancelled and skipped steps run
 * again (as Argo's retry does). RUN gets retried_by = the new run. A run that has not ended or that
 * succeeded is refused (exit 1). Output and exit codes as submit.
 * delete: removes a finished run's state now (common/retention.h); a run that has not ended is
 * refused (exit 1, run_active). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acmsctl.h"
#include "retention.h"
#include "run_state.h"
#include "config_store.h"

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* The names of the steps that succeeded in view, as a JSON array (cJSON_free). */
static char *succeeded_steps(const cJSON *view, int *n)
{
    cJSON *names = cJSON_CreateArray();
    const cJSON *s;
    *n = 0;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(view, "steps")) if (!strcmp(jstr(s, "status"), "succeeded"))
    {
        cJSON_AddItemToArray(names, cJSON_CreateString(jstr(s, "name")));
        ++*n;
    }
    char *out = cJSON_PrintUnformatted(names);
    cJSON_Delete(names);
    return out;
}

/* The retry's ConfigSubmitted in the arena: by reference, or the kept document. CTL_OK or exit code. */
static int retry_event(const ctl_opts *o, acms_redis *r, acms_arena *a, const cJSON *view, const char *run_id,
                       const char *trace, Acms__V1__ConfigSubmitted **out)
{
    Acms__V1__ConfigSubmitted *ev = acms_pb_new(a, &acms__v1__config_submitted__descriptor);
    ev->meta = acms_meta_new(a, run_id, "acmsctl", NULL, NULL, trace);
    ev->environment = acms_arena_strdup(a, jstr(view, "environment"));
    ev->source_name = acms_arena_strdup(a, jstr(view, "source_name"));
    ev->config_ref = acms_arena_strdup(a, jstr(view, "config_ref"));
    ev->submitted_by = acms_arena_strdup(a, getenv("USER") ? getenv("USER") : "");
    if (!*ev->config_ref) {
        const Acms__V1__ConfigSubmitted *kept = NULL;
        int rc = ctl_doc_load(o, r, a, jstr(view, "config_hash"), &kept);
        if (rc == CTL_FAIL && !kept)
            return ctl_fail(o, CTL_FAIL, "not_retryable", NULL,
                            "run %s: its document is not kept (it was submitted by another client, or its "
                            "document expired): submit the file again",
                            jstr(view, "run_id"));
        if (rc != CTL_OK)
            return rc;
        ev->document = kept->document;
    }
    *out = ev;
    return CTL_OK;
}

/* The prelude of retry and delete: the run (by prefix) and its view. CTL_OK or the exit code. */
static int open_finished(const ctl_opts *o, acms_cfg *cfg, acms_redis **r, char *id, size_t size, cJSON **view)
{
    int rc = ctl_load_cfg(o, cfg), unreachable = 0;
    if (rc)
        return rc;
    if (!(*r = ctl_redis(o, cfg)))
        return CTL_UNREACHABLE;
    if ((rc = ctl_resolve_run(o, *r, o->file, id, size)) == CTL_OK && !(*view = ctl_run_view(*r, id, &unreachable)))
        rc = unreachable
                 ? ctl_fail(o, CTL_UNREACHABLE, "unreachable", NULL, "Redis is unreachable reading run '%s'", id)
                 : ctl_fail(o, CTL_FAIL, "unknown_run", NULL, "unknown run '%s'", id);
    if (rc == CTL_OK && !acms_state_is_terminal(jstr(*view, "status"))) {
        rc = ctl_fail(o, CTL_FAIL, "run_active", NULL, "run %s has not ended (%s): %s", id, jstr(*view, "status"),
                      !strcmp(o->cmd, "delete") ? "cancel it first (acmsctl cancel)" : "wait for it or cancel it");
    }
    if (rc != CTL_OK) {
        cJSON_Delete(*view);
        *view = NULL;
        acms_redis_free(*r);
        *r = NULL;
    }
    return rc;
}

static void print_retry(const ctl_opts *o, const char *old, const char *run_id, int reused)
{
    if (o->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "run_id", run_id);
        cJSON_AddStringToObject(j, "status", "submitted");
        cJSON_AddStringToObject(j, "retry_of", old);
        cJSON_AddNumberToObject(j, "reused_steps", reused);
        ctl_print_json(j);
        cJSON_Delete(j);
        return;
    }
    printf("%s\n", run_id);
    if (!o->quiet)
        fprintf(stderr,
                "retry of %.8s submitted as run %s, reusing %d succeeded step(s) (follow it: acmsctl watch %.8s)\n",
                old, run_id, reused, run_id);
}

int ctl_retry(const ctl_opts *o)
{
    acms_cfg cfg;
    acms_redis *r = NULL;
    cJSON *view = NULL;
    char old[256], run_id[ACMS_ID_LEN], trace[64];
    int rc = open_finished(o, &cfg, &r, old, sizeof old, &view);
    if (rc)
        return rc;
    acms_arena *a = acms_arena_new(0);
    char *reuse = NULL;
    int nreuse = 0;
    Acms__V1__ConfigSubmitted *ev = NULL;
    if (!strcmp(jstr(view, "status"), "succeeded")) {
        rc = ctl_fail(o, CTL_FAIL, "nothing_to_retry", NULL, "run %s succeeded: nothing to retry", old);
        goto out;
    }
    acms_id_random(run_id);
    ctl_new_traceparent(trace);
    if ((rc = retry_event(o, r, a, view, run_id, trace, &ev)) != CTL_OK)
        goto out;
    reuse = succeeded_steps(view, &nreuse);
    const char *kv[] = {"pipeline",      jstr(view, "pipeline"), "environment", ev->environment, "source_name",
                        ev->source_name, "traceparent",          trace,         "retry_of",      old,
                        "reuse_steps",   reuse ? reuse : "[]"};
    if (acms_state_run_status(r, run_id, "submitted", kv, sizeof kv / sizeof *kv) < 0 ||
        acms_retention_link(r, old, "retried_by", run_id) < 0) {
        rc = ctl_fail(o, CTL_UNREACHABLE, "unreachable", NULL, "Redis refused the run record");
        goto out;
    }
    if ((rc = ctl_publish(o, &cfg, ACMS_TOPIC_CONFIG_SUBMITTED, run_id, &ev->base)) != CTL_OK)
        goto out;
    if (!o->wait) {
        print_retry(o, old, run_id, nreuse);
        goto out;
    }
    if (!o->json && !o->quiet)
        fprintf(stderr, "retry of %.8s submitted as run %s (reusing %d step(s)); following it\n", old, run_id, nreuse);
    rc = ctl_finish_with_view(o, r, run_id, NULL);
out:
    cJSON_free(reuse);
    cJSON_Delete(view);
    acms_arena_free(a);
    acms_redis_free(r);
    return rc;
}

int ctl_delete(const ctl_opts *o)
{
    acms_cfg cfg;
    acms_redis *r = NULL;
    cJSON *view = NULL;
    char id[256], status[64] = "";
    int rc = open_finished(o, &cfg, &r, id, sizeof id, &view);
    if (rc)
        return rc;
    int d = acms_retention_delete(r, id, status, sizeof status);
    if (d == ACMS_ERR_RETRY)
        rc = ctl_fail(o, CTL_UNREACHABLE, "unreachable", NULL, "Redis became unreachable deleting run %s", id);
    else if (d == 0)
        rc = ctl_fail(o, CTL_FAIL, "run_active", NULL, "run %s has not ended (%s): cancel it first", id, status);
    else if (d != 1)
        rc = ctl_fail(o, CTL_FAIL, "unknown_run", NULL, "unknown run '%s'", id);
    else if (o->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "run_id", id);
        cJSON_AddBoolToObject(j, "deleted", 1);
        ctl_print_json(j);
        cJSON_Delete(j);
    } else if (!o->quiet) {
        fprintf(stderr, "deleted run %s (%s, %s)\n", id, jstr(view, "pipeline"), jstr(view, "status"));
    }
    cJSON_Delete(view);
    acms_redis_free(r);
    return rc;
}
