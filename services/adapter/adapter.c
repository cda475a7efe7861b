/* adapter.c: the RuntimeConfigurationManager's prepare_for_execution. Orchestrates the stages in a
 * fixed order (environment -> secrets -> scaler -> optimizer -> compliance) over a pipeline typed
 * from the submitted document, and assembles the RuntimeConfiguration. Invariant: the output is a
 * pure function of the input event, the profiles and the Redis state read (no randomness, no clock
 * but the input's timestamp), so a redelivered event yields byte-identical packed output. */
#include "adapter.h"

#include <stdarg.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "adapt_reason.h"
#include "doc.h"
#include "stages.h"

#define S(x) ((x) ? (x) : "")

/* --- adaptation log and step helpers ------------------------------------------------------------ */

void adapter_log_init(adapter_log *log, acms_arena *a)
{
    memset(log, 0, sizeof *log);
    log->arena = a;
}

Acms__V1__AdaptationRecord *adapter_log_add(adapter_log *log, const char *stage, const char *step, const char *field,
                                            const char *old_value, const char *new_value, double safety_score,
                                            int applied, const char *reason_fmt, ...)
{
    acms_arena *a = log->arena;
    Acms__V1__AdaptationRecord *r = acms_pb_new(a, &acms__v1__adaptation_record__descriptor);
    va_list ap;
    r->stage = acms_arena_strdup(a, S(stage));
    r->step = acms_arena_strdup(a, S(step));
    r->field = acms_arena_strdup(a, S(field));
    r->old_value = acms_arena_strdup(a, S(old_value));
    r->new_value = acms_arena_strdup(a, S(new_value));
    va_start(ap, reason_fmt);
    r->reason = acms_arena_vprintf(a, reason_fmt, ap);
    va_end(ap);
    r->safety_score = safety_score;
    r->applied = applied ? 1 : 0;
    log->v = acms_arena_push(a, log->v, &log->n, sizeof *log->v);
    log->v[log->n - 1] = r;
    return r;
}

Acms__V1__AdaptationRecord *adapter_log_note(adapter_log *log, const char *stage, const char *step, const char *field,
                                             const char *old_value, const char *new_value, double safety_score,
                                             int applied, unsigned id, size_t nargs, ...)
{
    acms_arena *a = log->arena;
    Acms__V1__AdaptationRecord *r = acms_pb_new(a, &acms__v1__adaptation_record__descriptor);
    char **args = acms_arena_alloc(a, (nargs ? nargs : 1) * sizeof *args);
    va_list ap;
    r->stage = (char *)S(stage);
    r->step = (char *)S(step);
    r->field = (char *)S(field);
    r->old_value = (char *)S(old_value);
    r->new_value = (char *)S(new_value);
    r->reason = (char *)"";
    r->reason_template = id;
    if (!args)
        nargs = 0;
    va_start(ap, nargs);
    for (size_t i = 0; i < nargs; i++) {
        const char *arg = va_arg(ap, const char *);
        args[i] = (char *)S(arg);
    }
    va_end(ap);
    r->reason_args = args;
    r->n_reason_args = nargs;
    r->safety_score = safety_score;
    r->applied = applied ? 1 : 0;
    log->v = acms_arena_push(a, log->v, &log->n, sizeof *log->v);
    log->v[log->n - 1] = r;
    return r;
}

const char *adapter_step_set_tag(acms_arena *a, Acms__V1__Step *s, const char *key, const char *value)
{
    for (size_t i = 0; i < s->n_tags; i++)
        if (s->tags[i]->key && strcmp(s->tags[i]->key, key) == 0) {
            const char *old = s->tags[i]->value;
            s->tags[i]->value = acms_arena_strdup(a, value);
            return S(old);
        }
    acms_pb_add_label(a, &s->tags, &s->n_tags, key, value);
    return NULL;
}

Acms__V1__Resources *adapter_step_resources(acms_arena *a, Acms__V1__Step *s)
{
    if (!s->resources)
        s->resources = acms_pb_new(a, &acms__v1__resources__descriptor);
    return s->resources;
}

/* --- helpers ------------------------------------------------------------------------------------ */

void adapter_config_hash(const Acms__V1__Value *document, char out[65])
{
    out[0] = '\0';
    if (document)
        acms_value_sha256_hex(document, out);
}

static void unknown_environment(const adapter_ctx *ctx, acms_issues *issues, const char *name)
{
    acms_arena *a = issues->arena;
    const acms_profiles *pr = ctx->profiles;
    char *known = acms_arena_strdup(a, "");
    const char *best = NULL;
    size_t best_d = strlen(name) >= 7 ? 4 : 3; /* suggest within 2 edits (3 for longer names) */
    for (size_t i = 0; pr && i < pr->nenvs; i++) {
        const char *n = pr->envs[i]->name;
        known = acms_arena_printf(a, "%s%s%s", known, i ? ", " : "", n);
        size_t d = acms_edit_distance(name, n, 3);
        if (d < best_d) {
            best_d = d;
            best = n;
        }
    }
    const char *saved = issues->level;
    issues->level = "environment";
    Acms__V1__ValidationIssue *is = acms_issue_add(issues, "UNKNOWN_ENVIRONMENT", "error", "environment", NULL,
                                                   "unknown environment '%s' (known: %s)", name,
                                                   *known ? known : "none: no profiles loaded");
    if (best)
        acms_issue_suggest(issues, is, "use-known-environment", "pattern",
                           best_d <= 1   ? 0.9
                           : best_d == 2 ? 0.7
                                         : 0.5,
                           "environment", best, "did you mean environment '%s'?", best);
    issues->level = saved;
}

/* --- prepare_for_execution ---------------------------------------------------------------------- */

int adapter_prepare(const adapter_ctx *ctx, acms_arena *a, const Acms__V1__ConfigSubmitted *in,
                    Acms__V1__RuntimeConfiguration **out, acms_issues *issues)
{
    return adapter_prepare_kept(ctx, a, in, out, issues, NULL);
}

/* The conversion's issues are issues->v[from .. issues->n); p is copied before any stage adapts it. */
static int keep_converted(acms_arena *a, const Acms__V1__Pipeline *p, const acms_issues *issues, size_t from,
                          acms_doc_converted *written)
{
    if (written == NULL)
        return ACMS_OK;
    written->pipeline = acms_pb_copy_structure(a, &p->base); /* stages replace strings, never edit them */
    if (written->pipeline == NULL)
        return ACMS_ERR_NOMEM;
    written->n_issues = issues->n - from;
    written->issues = NULL;
    if (written->n_issues == 0)
        return ACMS_OK;
    Acms__V1__ValidationIssue **v = acms_arena_alloc(a, written->n_issues * sizeof *v);
    if (v == NULL)
        return ACMS_ERR_NOMEM;
    memcpy(v, issues->v + from, written->n_issues * sizeof *v);
    written->issues = v;
    return ACMS_OK;
}

/* The prepared configuration's metadata: environment, timestamps, capacity plan, secret findings
 * and the document's hash (empty with no_config_hash). */
static Acms__V1__RuntimeMetadata *prepared_metadata(const adapter_ctx *ctx, acms_arena *a,
                                                    const Acms__V1__ConfigSubmitted *in,
                                                    const Acms__V1__Environment *env, Acms__V1__CapacityPlan *plan,
                                                    const adapter_findings *findings)
{
    Acms__V1__RuntimeMetadata *md = acms_pb_new(a, &acms__v1__runtime_metadata__descriptor);
    char hash[65] = "";
    if (!ctx->no_config_hash)
        adapter_config_hash(in->document, hash);
    md->environment = acms_arena_strdup(a, S(env->name));
    md->region = acms_arena_strdup(a, S(env->region));
    md->prepared_at_ms = in->meta ? in->meta->timestamp_ms : acms_now_ms();
    md->adapter_version = (char *)ACMS_VERSION;
    md->capacity = plan;
    md->secret_findings = findings->v;
    md->n_secret_findings = findings->n;
    md->config_hash = acms_arena_strdup(a, hash);
    md->config_ref = acms_arena_strdup(a, S(in->config_ref));
    md->source_name = acms_arena_strdup(a, S(in->source_name));
    return md;
}

int adapter_prepare_kept(const adapter_ctx *ctx, acms_arena *a, const Acms__V1__ConfigSubmitted *in,
                         Acms__V1__RuntimeConfiguration **out, acms_issues *issues, acms_doc_converted *written)
{
    const char *saved = issues->level;
    *out = NULL;
    if (!in || !in->document) {
        issues->level = "syntax";
        acms_issue_add(issues, "EMPTY_DOCUMENT", "error", "", NULL, "no pipeline document was submitted");
        issues->level = saved;
        return ACMS_ERR_INVALID;
    }
    const Acms__V1__Environment *env = ctx->profiles ? acms_profiles_env(ctx->profiles, S(in->environment)) : NULL;
    if (!env) {
        unknown_environment(ctx, issues, S(in->environment));
        return ACMS_ERR_INVALID;
    }

    /* Document -> typed pipeline; error-severity syntax issues stop here. */
    Acms__V1__Pipeline *p = NULL;
    size_t errors_before = acms_issues_count(issues, "error"), issues_before = issues->n;
    issues->level = "syntax";
    int rc = acms_doc_to_pipeline(a, in->document, &p, issues);
    issues->level = saved;
    if (rc != ACMS_OK || !p || acms_issues_count(issues, "error") > errors_before) {
        if (acms_issues_count(issues, "error") == errors_before) {
            issues->level = "syntax";
            acms_issue_add(issues, "UNUSABLE_DOCUMENT", "error", "", in->document,
                           "the document could not be read as a Pipeline");
            issues->level = saved;
        }
        return ACMS_ERR_INVALID;
    }
    if ((rc = keep_converted(a, p, issues, issues_before, written)) != ACMS_OK)
        return rc;

    const acms_catalog *cat = &ctx->profiles->catalog;
    adapter_log log;
    adapter_findings findings;
    adapter_observed obs;
    Acms__V1__CapacityPlan *plan = NULL;
    adapter_log_init(&log, a);
    adapter_findings_init(&findings, a);

    adapter_environment_adapt(a, cat, env, p, &log);
    adapter_secrets_check(ctx, env, p, &findings);
    adapter_secrets_redact(&findings, p);
    rc = adapter_scaler_observe(ctx->redis, a, env, p, ctx->prefetch, &obs);
    if (rc != ACMS_OK)
        return rc;
    obs.now_ms = in->meta ? in->meta->timestamp_ms : 0; /* drift models: evaluated at the submission */
    adapter_scaler_scale(a, cat, env, p, &obs, &log, &plan);
    adapter_optimizer_optimize(a, env, p, &obs, &log);
    adapter_compliance_enforce(a, ctx->profiles, env, p, &log);

    Acms__V1__RuntimeMetadata *md = prepared_metadata(ctx, a, in, env, plan, &findings);
    Acms__V1__RuntimeConfiguration *r = acms_pb_new(a, &acms__v1__runtime_configuration__descriptor);
    r->pipeline = p;
    r->metadata = md;
    r->adaptation_log = log.v;
    r->n_adaptation_log = log.n;
    if (!ctx->keep_reason_templates && acms_adaptation_render(a, log.v, log.n) != ACMS_OK)
        return ACMS_ERR_NOMEM;
    r->environment = acms_pb_copy(a, &env->base);
    if (!r->environment)
        return ACMS_ERR_NOMEM;
    *out = r;
    return ACMS_OK;
}

/* --- rejection ------------------------------------------------------------------------------------ */

static int severity_is(const Acms__V1__ValidationIssue *is, const char *sev)
{
    return is->severity && strcmp(is->severity, sev) == 0;
}

Acms__V1__ValidationResult *adapter_rejection_result(acms_arena *a, const acms_issues *issues)
{
    Acms__V1__ValidationResult *res = acms_pb_new(a, &acms__v1__validation_result__descriptor);
    res->valid = 0;
    res->phase = (char *)"rejected";
    double unknown = 0;
    for (size_t i = 0; issues && i < issues->n; i++) {
        Acms__V1__ValidationIssue *is = issues->v[i];
        if (is->code && !strcmp(is->code, "UNKNOWN_FIELD"))
            unknown += 0.02;
        if (severity_is(is, "error")) {
            res->issues = acms_arena_push(a, res->issues, &res->n_issues, sizeof *res->issues);
            res->issues[res->n_issues - 1] = is;
        } else {
            res->warnings = acms_arena_push(a, res->warnings, &res->n_warnings, sizeof *res->warnings);
            res->warnings[res->n_warnings - 1] = is;
        }
    }
    res->confidence_score = round((1.0 - (unknown > 0.10 ? 0.10 : unknown)) * 1000.0) / 1000.0;
    /* The ten most confident suggestions; ties keep order, errors before warnings (insertion sort). */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; issues && i < issues->n; i++) {
            Acms__V1__ValidationIssue *is = issues->v[i];
            if (severity_is(is, "error") != (pass == 0))
                continue;
            for (size_t k = 0; k < is->n_suggestions; k++) {
                Acms__V1__ValidationSuggestion *sg = is->suggestions[k];
                size_t pos = res->n_suggestions;
                while (pos > 0 && res->suggestions[pos - 1]->confidence < sg->confidence)
                    pos--;
                if (pos >= 10)
                    continue;
                res->suggestions = acms_arena_push(a, res->suggestions, &res->n_suggestions, sizeof *res->suggestions);
                memmove(res->suggestions + pos + 1, res->suggestions + pos,
                        (res->n_suggestions - 1 - pos) * sizeof *res->suggestions);
                res->suggestions[pos] = sg;
                if (res->n_suggestions > 10)
                    res->n_suggestions = 10;
            }
        }
    return res;
}
