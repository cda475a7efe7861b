/* validator.c: the ValidationEngine. Runs the five levels over one prepared configuration into one
 * issue list, lets the suggester rank fixes, and splits the list into a ValidationResult:
 * valid = no error-severity issue; issues = errors; warnings = warnings and info.
 *
 * confidence_score says how complete the verdict is (not how good the configuration is):
 *   1.0
 *   - 0.05  no submitted document: syntax checked on the typed pipeline only (no unknown-field
 *           detection, no source positions)
 *   - 0.15  no environment profile: the environment level could not run
 *   - 0.05  no instance catalogue: instance types and prices unchecked
 *   - 0.10  offline (no Redis): no performance predictions, no fix statistics
 *   - 0.10 x (share of steps without history)   when online
 *   - 0.05  the step graph is unusable (cycle, missing or duplicate step): reachability and the
 *           critical path are partial
 *   - min(0.10, 0.02 x UNKNOWN_FIELD issues): an unknown key may hide a setting the user meant
 * clamped to [0, 1] and rounded to 3 decimals. */
#include "result.h"

#include <math.h>
#include <string.h>

static double confidence(const validator_ctx *ctx, const validator_input *in, int online)
{
    double c = 1.0;
    if (in->document == NULL)
        c -= 0.05;
    if (in->env == NULL)
        c -= 0.15;
    if (ctx == NULL || ctx->profiles == NULL || ctx->profiles->catalog.n == 0)
        c -= 0.05;
    if (!online) {
        c -= 0.10;
    } else if (in->pipeline && in->pipeline->n_steps && in->history) {
        size_t without = 0;
        for (size_t i = 0; i < in->pipeline->n_steps; i++)
            if (!in->history[i].has_stats && !in->history[i].has_rec)
                without++;
        c -= 0.10 * (double)without / (double)in->pipeline->n_steps;
    }
    if (in->dag == NULL || !in->dag->acyclic)
        c -= 0.05;
    double uf = 0.02 * in->unknown_fields;
    c -= uf > 0.10 ? 0.10 : uf;
    c = c < 0 ? 0 : c > 1 ? 1 : c;
    return round(c * 1000.0) / 1000.0;
}

/* The environment the configuration was prepared for: the one the adapter embedded, else the
 * profile named in its metadata. *name gets the name ("" when none). */
static const Acms__V1__Environment *find_env(const validator_ctx *ctx, const Acms__V1__RuntimeConfiguration *rc,
                                             const char **name)
{
    *name = "";
    if (rc && rc->environment && !validator_empty(rc->environment->name)) {
        *name = rc->environment->name;
        return rc->environment;
    }
    if (rc && rc->metadata && !validator_empty(rc->metadata->environment)) {
        *name = rc->metadata->environment;
        if (ctx && ctx->profiles)
            return acms_profiles_env(ctx->profiles, *name);
    }
    return NULL;
}

static int levels(const validator_ctx *ctx, acms_arena *a, const Acms__V1__RuntimeConfiguration *rc,
                  const Acms__V1__Value *document, const acms_doc_converted *written, validator_step_history *history,
                  validator_pass *vp)
{
    memset(vp, 0, sizeof *vp);
    validator_input *in = &vp->in;
    in->pipeline = rc ? rc->pipeline : NULL;
    in->document = document;
    in->written = document ? written : NULL;
    in->profiles = ctx ? ctx->profiles : NULL;
    in->meta = rc ? rc->metadata : NULL;
    in->adaptations = rc ? rc->adaptation_log : NULL;
    in->nadaptations = rc ? rc->n_adaptation_log : 0;
    in->env = find_env(ctx, rc, &in->env_name);
    vp->online = ctx && ctx->redis;

    acms_issues *is = &vp->is;
    acms_issues_init(is, a, "syntax");
    Acms__V1__Pipeline *doc_pipeline = NULL;
    validator_syntax(in, a, is, &doc_pipeline);
    if (in->pipeline == NULL)
        in->pipeline = doc_pipeline; /* nothing adapted: judge the document's pipeline */
    if (in->pipeline == NULL) {
        acms_issue_add(is, "NO_PIPELINE", "error", "", NULL,
                       "neither a runtime configuration nor a document to validate");
        return ACMS_OK;
    }
    if (in->pipeline->n_steps > ACMS_MAX_STEPS)
        return ACMS_OK; /* TOO_MANY_STEPS (syntax) is the verdict: a 1 MiB message holds 50,000 steps, and the
                         * later levels (and two Redis reads a step) would spend seconds on them */

    is->level = "semantic";
    validator_semantic(in, a, is);
    validator_sizing(in, a, is);

    is->level = "environment";
    if (in->env == NULL && in->env_name[0])
        acms_issue_add(is, "UNKNOWN_ENVIRONMENT", "error", "environment", NULL,
                       "environment '%s' has no profile in the configuration directory", in->env_name);
    validator_environment(in, a, is);

    is->level = "security";
    validator_security(in, a, is);

    is->level = "performance";
    if (vp->online) {
        validator_step_history *h = history;
        if (h == NULL && validator_history_load_steps(ctx->redis, a, in->pipeline, &h) != ACMS_OK)
            return ACMS_ERR_RETRY;
        in->history = h;
        validator_performance(in, a, is);
    }
    return ACMS_OK;
}

int validator_validate_levels(const validator_ctx *ctx, acms_arena *a, const Acms__V1__RuntimeConfiguration *rc,
                              const Acms__V1__Value *document, validator_step_history *history, validator_pass *vp)
{
    return levels(ctx, a, rc, document, NULL, history, vp);
}

int validator_validate_finish(const validator_ctx *ctx, acms_arena *a, validator_pass *vp, validator_fix_history *fixes,
                              Acms__V1__ValidationResult **out)
{
    Acms__V1__ValidationResult *res = acms_pb_new(a, &acms__v1__validation_result__descriptor);
    res->phase = "pre-execution";
    *out = res;
    validator_input *in = &vp->in;
    acms_issues *is = &vp->is;
    validator_fix_history own = {0};
    if (vp->online && is->n > 0) {
        if (fixes == NULL) {
            if (validator_history_load_fixes(ctx->redis, a, is, &own) != ACMS_OK)
                return ACMS_ERR_RETRY;
            fixes = &own;
        }
        in->fixes = fixes;
    }
    Acms__V1__ValidationSuggestion **top = NULL;
    res->n_suggestions = validator_suggest(in, a, is, &top, VALIDATOR_TOP_SUGGESTIONS);
    res->suggestions = top;
    validator_result_fill(res, a, is);
    res->confidence_score = confidence(ctx, in, vp->online);
    return ACMS_OK;
}

int validator_validate_converted(const validator_ctx *ctx, acms_arena *a, const Acms__V1__RuntimeConfiguration *rc,
                                 const Acms__V1__Value *document, const acms_doc_converted *written,
                                 Acms__V1__ValidationResult **out)
{
    validator_pass vp;
    *out = NULL;
    if (levels(ctx, a, rc, document, written, NULL, &vp) != ACMS_OK)
        return ACMS_ERR_RETRY;
    return validator_validate_finish(ctx, a, &vp, NULL, out);
}

int validator_validate(const validator_ctx *ctx, acms_arena *a, const Acms__V1__RuntimeConfiguration *rc,
                       const Acms__V1__Value *document, Acms__V1__ValidationResult **out)
{
    return validator_validate_converted(ctx, a, rc, document, NULL, out);
}
