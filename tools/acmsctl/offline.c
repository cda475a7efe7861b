/* offline.c: acmsctl prepare and validate. They run the adapter's and the validator's own code on
 * a file, with no broker and no Redis, so a CI job gets the same verdict the services would give.
 * prepare --learned reads the learned recommendations (and the environment's load) from the stack's
 * Redis, read-only, and prepares as of now: the sizes a run submitted now would get, each with what
 * it was based on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acmsctl.h"
#include "adapt_reason.h"
#include "adapter/adapter.h"
#include "doc.h"
#include "log.h"
#include "profile.h"
#include "validator/validator.h"

typedef struct offline {
    acms_arena *a;
    acms_redis *redis; /* --learned only */
    acms_profiles profiles;
    int have_profiles;
    const Acms__V1__Value *doc;
    Acms__V1__RuntimeConfiguration *rc;
    acms_doc_converted written; /* doc's conversion, for the validator (converted once) */
    acms_issues issues;         /* why preparation failed */
} offline;

/* Loads profiles and the file, and prepares it; hash: fill metadata.config_hash (prepare shows the
 * configuration, validate only a verdict that holds no hash). Returns CTL_OK (prepared), CTL_FAIL
 * (cannot be prepared: issues say why) or CTL_USAGE (unusable input). */
static int prepare(const ctl_opts *o, offline *st, int hash)
{
    char err[1024] = "";
    st->a = acms_arena_new(0);
    acms_issues_init(&st->issues, st->a, "syntax");
    acms_log_init("acmsctl", getenv("ACMS_LOG_LEVEL") ? getenv("ACMS_LOG_LEVEL") : "error");
    if (acms_profiles_load(&st->profiles, o->config_dir, err, sizeof err) != ACMS_OK)
        return ctl_fail(o, CTL_USAGE, "config_dir", NULL, "configuration directory %s: %s", o->config_dir, err);
    st->have_profiles = 1;
    Acms__V1__Value **docs = NULL;
    size_t ndocs = 0;
    if (acms_doc_parse_file(st->a, o->file, &docs, &ndocs, err, sizeof err) != ACMS_OK)
        return ctl_fail(o, CTL_USAGE, "invalid_input", NULL, "%s", err);
    for (size_t i = 0; i < ndocs && !st->doc; i++)
        if (acms_doc_kind(docs[i]) && !strcmp(acms_doc_kind(docs[i]), "Pipeline"))
            st->doc = docs[i];
    if (!st->doc)
        return ctl_fail(o, CTL_USAGE, "invalid_input", NULL,
                        "%s: no document of kind Pipeline (found %zu document(s)%s)", o->file, ndocs,
                        ndocs && !acms_doc_kind(docs[0]) ? ", the first has no 'kind'" : "");
    Acms__V1__ConfigSubmitted *in = acms_pb_new(st->a, &acms__v1__config_submitted__descriptor);
    in->meta = acms_meta_new(st->a, "offline", "acmsctl", "offline", o->file, NULL);
    in->meta->timestamp_ms = 0; /* deterministic output */
    in->environment = acms_arena_strdup(st->a, o->env);
    in->document = (Acms__V1__Value *)st->doc;
    in->source_name = acms_arena_strdup(st->a, o->file);
    if (o->learned) {
        acms_cfg cfg;
        int crc = ctl_load_cfg(o, &cfg);
        if (crc != CTL_OK)
            return crc;
        if (!(st->redis = ctl_redis(o, &cfg)))
            return CTL_UNREACHABLE;
        in->meta->timestamp_ms = acms_now_ms(); /* drift models are evaluated now */
    }
    /* validate shows neither the hash nor the adaptation log: reasons stay templates, never rendered */
    adapter_ctx actx = {.profiles = &st->profiles,
                        .redis = st->redis,
                        .check_secrets = 0,
                        .no_config_hash = !hash,
                        .keep_reason_templates = !hash};
    int rc = adapter_prepare_kept(&actx, st->a, in, &st->rc, &st->issues, &st->written);
    if (rc == ACMS_OK)
        return CTL_OK;
    if (rc == ACMS_ERR_INVALID)
        return CTL_FAIL;
    if (rc == ACMS_ERR_RETRY)
        return ctl_fail(o, CTL_UNREACHABLE, "unreachable", NULL, "cannot prepare %s: Redis: %s", o->file,
                        acms_strerror(rc));
    return ctl_fail(o, CTL_USAGE, "internal", NULL, "cannot prepare %s: %s", o->file, acms_strerror(rc));
}

static void release(offline *st)
{
    if (st->have_profiles)
        acms_profiles_release(&st->profiles);
    acms_redis_free(st->redis);
    acms_arena_free(st->a);
}

static cJSON *issues_json(Acms__V1__ValidationIssue *const *v, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, acms_json_from_message(&v[i]->base));
    return arr;
}

/* The basis of each step's memory from the capacity plan ("-" when unknown). */
static const char *step_basis(const Acms__V1__RuntimeConfiguration *rc, const char *step)
{
    const Acms__V1__CapacityPlan *plan = rc->metadata ? rc->metadata->capacity : NULL;
    for (size_t i = 0; plan && i < plan->n_steps; i++)
        if (!strcmp(plan->steps[i]->step, step))
            return *plan->steps[i]->basis ? plan->steps[i]->basis : "-";
    return "-";
}

/* One line per learned size: what it was based on (AdaptationRecord.learned). */
static void print_learned(const Acms__V1__AdaptationRecord *r)
{
    const Acms__V1__LearnedBasis *b = r->learned;
    if (!b)
        return;
    printf("      based on: %s, %u run(s)", b->method, b->runs);
    if (!strcmp(b->method, "input-fit"))
        printf(", %s = %.6g, predicted %.0f MiB, upper bound %.0f MiB, margin %.0f%%, R2 %.2f, residual sd %.1f%%",
               b->input, b->input_value, b->predicted_mb, b->upper_mb, b->margin * 100, b->r2, b->residual_sd * 100);
    else if (!strcmp(b->method, "history-trend"))
        printf(", predicted %.0f MiB, upper bound %.0f MiB, margin %.0f%%", b->predicted_mb, b->upper_mb,
               b->margin * 100);
    if (b->trend_per_hour != 0)
        printf(", trend %+.3g ln/h", b->trend_per_hour);
    if (b->censored)
        printf(", %u kill(s) censored", b->censored);
    if (*b->fallback)
        printf("; input %s not used: %s", *b->input ? b->input : "-", b->fallback);
    putchar('\n');
}

static void print_prepared(const ctl_opts *o, acms_arena *a, const Acms__V1__RuntimeConfiguration *rc)
{
    const Acms__V1__Pipeline *p = rc->pipeline;
    printf("pipeline %s prepared for %s (region %s, executor %s)%s\n\n", p->name, o->env,
           rc->metadata && *rc->metadata->region ? rc->metadata->region : "-",
           rc->environment && *rc->environment->executor ? rc->environment->executor : "local",
           o->learned ? ", with what was learned" : "");
    printf("%-22s %-16s %6s %9s %-10s %6s %9s  %s\n", "STEP", "INSTANCE", "COUNT", "MEM(MiB)", "SIZED BY", "VCPU",
           "RUNTIME", "OUTPUT");
    for (size_t i = 0; i < p->n_steps; i++) {
        const Acms__V1__Step *s = p->steps[i];
        /* an unset instance_count means one instance (what the scaler and coordinator count) */
        printf("%-22s %-16s %6u %9llu %-10s %6.1f %8us  %s\n", s->name, s->instance_type,
               s->instance_count ? s->instance_count : 1,
               s->resources ? (unsigned long long)s->resources->memory_mb : 0ULL, step_basis(rc, s->name),
               s->resources ? s->resources->vcpu : 0.0, s->max_runtime_s, s->output_path);
    }
    printf("\nadaptation log (%zu):\n", rc->n_adaptation_log);
    for (size_t i = 0; i < rc->n_adaptation_log; i++) {
        const Acms__V1__AdaptationRecord *r = rc->adaptation_log[i];
        printf("  [%s] %s%s%s: %s -> %s  (%s)%s\n", r->stage, r->step, *r->step ? "." : "", r->field,
               *r->old_value ? r->old_value : "\"\"", *r->new_value ? r->new_value : "\"\"",
               acms_adaptation_reason(a, r), r->applied ? "" : " [recommended, not applied]");
        print_learned(r);
    }
}

int ctl_prepare(const ctl_opts *o)
{
    offline st = {0};
    int rc = prepare(o, &st, 1);
    if (rc == CTL_USAGE || rc == CTL_UNREACHABLE)
        goto out;
    if (rc == CTL_FAIL) {
        if (o->json) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddBoolToObject(j, "prepared", 0);
            cJSON_AddItemToObject(j, "issues", issues_json(st.issues.v, st.issues.n));
            ctl_print_json(j);
            cJSON_Delete(j);
        } else {
            fprintf(stderr, "%s cannot be prepared for %s:\n", o->file, o->env);
            cJSON *issues = issues_json(st.issues.v, st.issues.n);
            ctl_print_issues(o->file, issues);
            cJSON_Delete(issues);
        }
        goto out;
    }
    if (o->json) {
        cJSON *j = acms_json_from_message(&st.rc->base);
        if (j) {
            cJSON_AddItemToObject(j, "enforcement", ctl_enforcement_json(st.rc));
            ctl_print_json(j);
            cJSON_Delete(j);
        }
        goto out;
    }
    print_prepared(o, st.a, st.rc);
    if (st.rc->metadata) {
        for (size_t i = 0; i < st.rc->metadata->n_secret_findings; i++) {
            const Acms__V1__SecretFinding *f = st.rc->metadata->secret_findings[i];
            printf("  [secrets] %s.%s: %s (%s)\n", f->step, f->field, f->kind, f->detail);
        }
    }
    ctl_print_enforcement(st.rc);
out:
    release(&st);
    return rc;
}

int ctl_validate(const ctl_opts *o)
{
    offline st = {0};
    int rc = prepare(o, &st, 0); /* the verdict shows no config_hash: the document is not hashed */
    Acms__V1__ValidationResult *res = NULL;
    if (rc == CTL_USAGE || rc == CTL_UNREACHABLE)
        goto out;
    if (rc == CTL_OK) {
        validator_ctx vctx = {.profiles = &st.profiles, .redis = NULL};
        if (validator_validate_converted(&vctx, st.a, st.rc, st.doc, &st.written, &res) != ACMS_OK) {
            rc = ctl_fail(o, CTL_USAGE, "internal", NULL, "validation could not run");
            goto out;
        }
    } else {
        /* not preparable: the preparation issues are the verdict, as the adapter publishes it */
        res = adapter_rejection_result(st.a, &st.issues);
    }
    rc = res->valid && res->n_issues == 0 ? CTL_OK : CTL_FAIL;
    cJSON *j = acms_json_from_message(&res->base);
    if (o->json) {
        cJSON_DeleteItemFromObject(j, "valid");
        cJSON_AddBoolToObject(j, "valid", rc == CTL_OK);
        cJSON_AddStringToObject(j, "file", o->file);
        cJSON_AddStringToObject(j, "environment", o->env);
        ctl_print_json(j);
        cJSON_Delete(j);
        goto out;
    }
    ctl_print_issues(o->file, cJSON_GetObjectItemCaseSensitive(j, "issues"));
    ctl_print_issues(o->file, cJSON_GetObjectItemCaseSensitive(j, "warnings"));
    size_t errors, warnings, infos;
    ctl_count_issues(j, &errors, &warnings, &infos);
    cJSON_Delete(j);
    printf("%s for %s: %s (%zu error%s, %zu warning%s", o->file, o->env, rc == CTL_OK ? "VALID" : "INVALID", errors,
           errors == 1 ? "" : "s", warnings, warnings == 1 ? "" : "s");
    if (infos)
        printf(", %zu info", infos);
    printf("), confidence %.2f\n", res->confidence_score);
out:
    release(&st);
    return rc;
}
