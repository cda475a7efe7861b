/* environment.c: validation level 3, compatibility of the adapted pipeline with its environment:
 * instance types exist in the catalogue and are allowed there, quotas, region, network isolation,
 * interruptible capacity, the executor, and GPU use of training steps. Reads the environment
 * profile and the catalogue only; allowed-type lookups go through a string map (strmap.h). */
#include "names.h"
#include "paths.h"
#include "steps.h"
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

typedef struct env_view {
    const validator_input *in;
    const Acms__V1__Environment *env;
    const acms_catalog *cat; /* NULL or empty: no catalogue checks */
    acms_strmap allowed;     /* empty when every type is allowed */
    const char **cat_names;  /* built on first unknown type */
} env_view;

static int type_allowed(const env_view *v, const char *name)
{
    return v->env->n_allowed_instance_types == 0 || (name && acms_strmap_get(&v->allowed, name, NULL));
}

static void check_instance_type(env_view *v, acms_arena *a, acms_issues *is, size_t i, const Acms__V1__Step *s,
                                const acms_instance_type **out)
{
    const Acms__V1__Environment *env = v->env;
    const char *it = s->instance_type;
    *out = NULL;
    if (validator_empty(it))
        return;
    if (v->cat) {
        const acms_instance_type *t = acms_catalog_find(v->cat, it);
        if (t == NULL) {
            Acms__V1__ValidationIssue *x = validator_step_issue(
                v->in, is, i, "instance_type", "UNKNOWN_INSTANCE_TYPE", "error",
                "instance type '%.80s' is not in the instance catalogue", it);
            if (v->cat_names == NULL) {
                v->cat_names = acms_arena_alloc(a, (v->cat->n + 1) * sizeof *v->cat_names);
                for (size_t k = 0; k < v->cat->n; k++)
                    v->cat_names[k] = v->cat->types[k].name;
            }
            const char *near = validator_closest(it, v->cat_names, v->cat->n, 3);
            const char *path = validator_step_path(a, i, "instance_type");
            if (near)
                acms_issue_suggest(is, x, "UNKNOWN_INSTANCE_TYPE:did-you-mean", "pattern",
                                   type_allowed(v, near) ? 0.85 : 0.5, path, near, "did you mean '%s'?", near);
            return; /* not also "not allowed": one fix at a time */
        }
        *out = t;
    }
    if (type_allowed(v, it))
        return;
    const char *path = validator_step_path(a, i, "instance_type");
    Acms__V1__ValidationIssue *x = validator_step_issue(
        v->in, is, i, "instance_type", "INSTANCE_TYPE_NOT_ALLOWED", "error",
        "instance type '%.80s' is not allowed in environment '%s' (%zu types allowed)", it, validator_str(env->name),
        env->n_allowed_instance_types);
    const acms_instance_type *t = *out;
    if (t && v->cat) {
        const acms_instance_type *fit = acms_catalog_smallest_fit(v->cat, NULL, t->vcpu, acms_instance_memory_mb(t),
                                                                  t->gpus, env->allowed_instance_types,
                                                                  env->n_allowed_instance_types);
        if (fit)
            acms_issue_suggest(is, x, "INSTANCE_TYPE_NOT_ALLOWED:smallest-allowed-fit", "pattern", 0.8, path, fit->name,
                               "use '%s', the cheapest allowed type with at least %g vCPU and %g GiB", fit->name,
                               t->vcpu, t->memory_gib);
    }
    if (!validator_empty(env->default_instance_type) && type_allowed(v, env->default_instance_type))
        acms_issue_suggest(is, x, "INSTANCE_TYPE_NOT_ALLOWED:env-default", "pattern", 0.6, path,
                           env->default_instance_type, "use the environment's default type '%s'",
                           env->default_instance_type);
    for (size_t k = 0; k < env->n_allowed_instance_types && k < 5; k++)
        acms_issue_suggest(is, x, "INSTANCE_TYPE_NOT_ALLOWED:allowed", "pattern", 0.4 - 0.02 * (double)k, path,
                           env->allowed_instance_types[k], "'%s' is allowed in %s", env->allowed_instance_types[k],
                           validator_str(env->name));
}

static void check_quotas(const env_view *v, acms_arena *a, acms_issues *is, size_t i, const Acms__V1__Step *s)
{
    const Acms__V1__Quotas *q = v->env->quotas;
    const char *env = validator_str(v->env->name);
    if (q == NULL)
        return;
    if (q->max_instances && s->instance_count > q->max_instances) {
        Acms__V1__ValidationIssue *x = validator_step_issue(
            v->in, is, i, "instance_count", "QUOTA_INSTANCES", "error",
            "instance_count %u exceeds the quota of %u instances per step in %s", s->instance_count, q->max_instances,
            env);
        acms_issue_suggest(is, x, "QUOTA_INSTANCES:cap", "pattern", 0.7, validator_step_path(a, i, "instance_count"),
                           acms_arena_printf(a, "%u", q->max_instances), "set instance_count to %u", q->max_instances);
    }
    if (q->max_runtime_s && s->max_runtime_s > q->max_runtime_s) {
        Acms__V1__ValidationIssue *x = validator_step_issue(v->in, is, i, "max_runtime_s", "QUOTA_RUNTIME", "error",
                                                            "max_runtime_s %u exceeds the quota of %u s in %s",
                                                            s->max_runtime_s, q->max_runtime_s, env);
        acms_issue_suggest(is, x, "QUOTA_RUNTIME:cap", "pattern", 0.7, validator_step_path(a, i, "max_runtime_s"),
                           acms_arena_printf(a, "%u", q->max_runtime_s), "set max_runtime_s to %u", q->max_runtime_s);
    }
    uint64_t mem = validator_step_memory_mb(s, v->cat);
    if (q->max_memory_mb && mem > q->max_memory_mb) {
        Acms__V1__ValidationIssue *x = validator_step_issue(
            v->in, is, i, s->memory_mb ? "memory_mb" : "instance_type", "QUOTA_MEMORY", "error",
            "step '%s' would get %llu MiB of memory; the quota in %s is %llu MiB", validator_str(s->name),
            (unsigned long long)mem, env, (unsigned long long)q->max_memory_mb);
        acms_issue_suggest(is, x, "QUOTA_MEMORY:cap", "pattern", 0.6, validator_step_path(a, i, "memory_mb"),
                           acms_arena_printf(a, "%llu", (unsigned long long)q->max_memory_mb),
                           "request memory_mb: %llu (the quota)", (unsigned long long)q->max_memory_mb);
    }
}

static const char *it_name(const Acms__V1__Step *s)
{
    return s->instance_type;
}

static void check_step(env_view *v, acms_arena *a, acms_issues *is, size_t i, const Acms__V1__Step *s)
{
    const Acms__V1__Environment *env = v->env;
    const char *env_name = validator_str(env->name);
    const acms_instance_type *t = NULL;
    check_instance_type(v, a, is, i, s, &t);
    check_quotas(v, a, is, i, s);

    if (env->require_network_isolation && !(s->vpc_config && s->vpc_config->network_isolation)) {
        Acms__V1__ValidationIssue *x = validator_step_issue(
            v->in, is, i, "vpc_config.network_isolation", "NETWORK_ISOLATION_REQUIRED", "error",
            "environment '%s' requires network isolation; step '%s' does not set vpc_config.network_isolation",
            env_name, validator_str(s->name));
        acms_issue_suggest(is, x, "NETWORK_ISOLATION_REQUIRED:enable", "pattern", 0.9,
                           validator_step_path(a, i, "vpc_config.network_isolation"), "true",
                           "set vpc_config.network_isolation: true");
    }
    if (s->interruptible && !env->allow_interruptible) {
        Acms__V1__ValidationIssue *x = validator_step_issue(
            v->in, is, i, "interruptible", "INTERRUPTIBLE_NOT_ALLOWED", "warning",
            "environment '%s' does not allow interruptible capacity; step '%s' will run on on-demand capacity",
            env_name, validator_str(s->name));
        acms_issue_suggest(is, x, "INTERRUPTIBLE_NOT_ALLOWED:disable", "pattern", 0.7,
                           validator_step_path(a, i, "interruptible"), "false", "set interruptible: false");
    }
    const char *ex = !validator_empty(s->executor) ? s->executor : validator_str(env->executor);
    if (ex[0] && strcmp(ex, "local") != 0 && strcmp(ex, "http") != 0 && strcmp(ex, "kubernetes") != 0) {
        Acms__V1__ValidationIssue *x = validator_step_issue(v->in, is, i, "executor", "EXECUTOR_UNAVAILABLE", "error",
                                                            "unknown executor '%.40s' (local, http or kubernetes)", ex);
        acms_issue_suggest(is, x, "EXECUTOR_UNAVAILABLE:local", "pattern", 0.5, validator_step_path(a, i, "executor"),
                           "local", "use the local executor");
    } else if (strcmp(ex, "http") == 0 && validator_empty(env->worker_url)) {
        validator_step_issue(v->in, is, i, "executor", "EXECUTOR_UNAVAILABLE", "error",
                             "step '%s' uses the http executor but environment '%s' has no worker_url",
                             validator_str(s->name), env_name);
    } else if (strcmp(ex, "kubernetes") == 0 && validator_empty(s->image) &&
               (!env->kubernetes || validator_empty(env->kubernetes->default_image))) {
        Acms__V1__ValidationIssue *x = validator_step_issue(
            v->in, is, i, "image", "MISSING_IMAGE", "error",
            "step '%s' runs on the kubernetes executor but has no image and environment '%s' no kubernetes.default_image",
            validator_str(s->name), env_name);
        acms_issue_suggest(is, x, "MISSING_IMAGE:set", "pattern", 0.6, validator_step_path(a, i, "image"), "",
                           "set the step's image (a container image holding its command)");
    } else if (strcmp(ex, "http") != 0 && strcmp(ex, "kubernetes") != 0 && s->n_command == 0 &&
               v->in->document == NULL) {
        /* with a document, the conversion already reported the missing command */
        validator_step_issue(v->in, is, i, "command", "MISSING_COMMAND", "error",
                             "step '%s' runs on the local executor but has no command", validator_str(s->name));
    }
    /* a GPU-less training type chosen by the user (not one the environment mapped a GPU type to) */
    const char *asked = acms_value_str(validator_doc_node(v->in, i, "instance_type"));
    const acms_instance_type *asked_t = asked && v->cat && strcmp(asked, validator_str(it_name(s))) != 0
                                            ? acms_catalog_find(v->cat, asked)
                                            : NULL;
    if (t && t->gpus == 0 && !(asked_t && asked_t->gpus > 0) && s->type && strcmp(s->type, "training") == 0) {
        Acms__V1__ValidationIssue *x = validator_step_issue(
            v->in, is, i, "instance_type", "NO_GPU_FOR_TRAINING", "info",
            "training step '%s' runs on '%s', which has no GPU; fine for tree models, slow for deep learning",
            validator_str(s->name), t->name);
        const acms_instance_type *g = v->cat
                                          ? acms_catalog_smallest_fit(v->cat, NULL, t->vcpu, acms_instance_memory_mb(t),
                                                                      1, env->allowed_instance_types,
                                                                      env->n_allowed_instance_types)
                                          : NULL;
        if (g)
            acms_issue_suggest(is, x, "NO_GPU_FOR_TRAINING:smallest-gpu", "best_practice", 0.3,
                               validator_step_path(a, i, "instance_type"), g->name,
                               "for deep learning use '%s' (%u x %s, $%.2f/h)", g->name, g->gpus,
                               validator_str(g->gpu_model), g->price_per_hour);
    }
}

/* A quota clamp that changed a value by more than 2x (e.g. instance_count 100000 -> 16) passes the
 * quota checks once clamped, so the adaptation record is what tells the user. */
static void check_clamps(const validator_input *in, acms_arena *a, acms_issues *is)
{
    for (size_t k = 0; k < in->nadaptations; k++) {
        const Acms__V1__AdaptationRecord *r = in->adaptations[k];
        if (validator_empty(r->quota) || !r->applied)
            continue;
        double old = strtod(validator_str(r->old_value), NULL), now = strtod(validator_str(r->new_value), NULL);
        if (!(old > 0 && now > 0) || (old <= 2 * now && now <= 2 * old))
            continue;
        const char *msg = acms_arena_printf(a, "%s %s was clamped to %s by %s of environment '%s' (more than 2x): %s",
                                            r->field, r->old_value, r->new_value, r->quota, in->env_name,
                                            old > now ? "the step runs with far less than it asks for"
                                                      : "the step runs with far more than it asks for");
        long i = -1;
        for (size_t j = 0; in->pipeline && j < in->pipeline->n_steps; j++)
            if (!strcmp(validator_str(in->pipeline->steps[j]->name), validator_str(r->step)))
                i = (long)j;
        Acms__V1__ValidationIssue *x = i >= 0
                                           ? validator_step_issue(in, is, (size_t)i, r->field, "QUOTA_CLAMPED",
                                                                  "warning", "%s", msg)
                                           : acms_issue_add(is, "QUOTA_CLAMPED", "warning", r->field, NULL, "%s", msg);
        if (i >= 0)
            acms_issue_suggest(is, x, "QUOTA_CLAMPED:request-within-quota", "pattern", 0.7,
                               validator_step_path(a, (size_t)i, r->field), r->new_value,
                               "request %s: %s (what the quota allows), or ask for a larger quota", r->field,
                               r->new_value);
    }
}

int validator_environment(const validator_input *in, acms_arena *a, acms_issues *is)
{
    const Acms__V1__Environment *env = in->env;
    const Acms__V1__Pipeline *p = in->pipeline;
    if (env == NULL || p == NULL)
        return ACMS_OK;
    env_view v = {.in = in, .env = env};
    if (in->profiles && in->profiles->catalog.n > 0)
        v.cat = &in->profiles->catalog;
    acms_strmap_init(&v.allowed, a, env->n_allowed_instance_types);
    for (size_t k = 0; k < env->n_allowed_instance_types; k++)
        acms_strmap_put(&v.allowed, validator_str(env->allowed_instance_types[k]), k, NULL);

    if (validator_empty(env->region)) {
        acms_issue_add(is, "ENV_NO_REGION", "warning", "environment.region", NULL,
                       "environment '%s' names no region: data locality and residency cannot be checked",
                       validator_str(env->name));
    } else if (in->meta && !validator_empty(in->meta->region) && strcmp(in->meta->region, env->region) != 0) {
        acms_issue_add(is, "REGION_MISMATCH", "warning", "environment.region", NULL,
                       "the configuration was prepared for region %s but environment '%s' is in %s", in->meta->region,
                       validator_str(env->name), env->region);
    }
    for (size_t i = 0; i < p->n_steps; i++)
        check_step(&v, a, is, i, p->steps[i]);
    check_clamps(in, a, is);
    return ACMS_OK;
}
