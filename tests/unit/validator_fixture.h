/* validator_fixture.h: shared set-up of the validator's unit tests (header-only, static functions).
 * Finds the repository (ACMS_REPO, else walking up from the working directory to a directory with
 * examples/catalog.yaml), loads examples/ as profiles, parses inline YAML, and prepares a
 * RuntimeConfiguration the way the adapter would in its simplest form (instance map, path
 * rewrites, environment VPC, Resources from the catalogue x memory_scale), so the tests need
 * neither the adapter nor Redis. */
#ifndef VALIDATOR_FIXTURE_H
#define VALIDATOR_FIXTURE_H

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "doc.h"
#include "profile.h"
#include "validator/validator.h"

static inline const char *vf_repo(void)
{
    static char root[PATH_MAX];
    const char *env = getenv("ACMS_REPO");
    if (env && *env) {
        snprintf(root, sizeof root, "%s", env);
        return root;
    }
    char dir[PATH_MAX];
    if (!getcwd(dir, sizeof dir))
        return ".";
    for (;;) {
        char probe[PATH_MAX + 32];
        snprintf(probe, sizeof probe, "%s/examples/catalog.yaml", dir);
        if (access(probe, R_OK) == 0) {
            snprintf(root, sizeof root, "%s", dir);
            return root;
        }
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir)
            return ".";
        *slash = '\0';
    }
}

static inline void vf_profiles(acms_profiles *p)
{
    char dir[PATH_MAX + 16], err[512] = "";
    snprintf(dir, sizeof dir, "%s/examples", vf_repo());
    int rc = acms_profiles_load(p, dir, err, sizeof err);
    if (rc != ACMS_OK)
        fail_msg("cannot load %s: %s", dir, err);
}

/* The first document of yaml (fails the test when it does not parse). */
static inline Acms__V1__Value *vf_doc(acms_arena *a, const char *yaml)
{
    Acms__V1__Value **docs = NULL;
    size_t n = 0;
    char err[256] = "";
    if (acms_doc_parse(a, yaml, strlen(yaml), &docs, &n, err, sizeof err) != ACMS_OK || n == 0)
        fail_msg("cannot parse test document: %s", err);
    return docs[0];
}

static inline Acms__V1__Value *vf_doc_file(acms_arena *a, const char *rel)
{
    char path[PATH_MAX + 64], err[256] = "";
    Acms__V1__Value **docs = NULL;
    size_t n = 0;
    snprintf(path, sizeof path, "%s/%s", vf_repo(), rel);
    if (acms_doc_parse_file(a, path, &docs, &n, err, sizeof err) != ACMS_OK || n == 0)
        fail_msg("cannot parse %s: %s", path, err);
    return docs[0];
}

static inline Acms__V1__Environment *vf_env_doc(acms_arena *a, const char *yaml)
{
    acms_issues is;
    acms_issues_init(&is, a, "test");
    Acms__V1__Environment *e = NULL;
    if (acms_doc_to_environment(a, vf_doc(a, yaml), &e, &is) != ACMS_OK)
        fail_msg("bad test environment: %s", is.n ? is.v[0]->message : "?");
    if (e->memory_scale == 0)
        e->memory_scale = 1.0;
    return e;
}

/* A prepared configuration for env (may be NULL) from doc: the adapter's simplest form. */
static inline Acms__V1__RuntimeConfiguration *vf_runtime(acms_arena *a, const acms_profiles *p,
                                                          const Acms__V1__Environment *env, const Acms__V1__Value *doc)
{
    acms_issues is;
    acms_issues_init(&is, a, "test");
    Acms__V1__Pipeline *pl = NULL;
    (void)acms_doc_to_pipeline(a, doc, &pl, &is);
    Acms__V1__RuntimeConfiguration *rc = acms_pb_new(a, &acms__v1__runtime_configuration__descriptor);
    Acms__V1__RuntimeMetadata *md = acms_pb_new(a, &acms__v1__runtime_metadata__descriptor);
    rc->pipeline = pl;
    rc->metadata = md;
    rc->environment = (Acms__V1__Environment *)env;
    md->environment = env ? env->name : "";
    md->region = env ? env->region : "";
    md->config_hash = "test";
    for (size_t i = 0; pl && i < pl->n_steps; i++) {
        Acms__V1__Step *s = pl->steps[i];
        if (env && !s->instance_type[0] && env->default_instance_type[0])
            s->instance_type = env->default_instance_type;
        for (size_t k = 0; env && k < env->n_instance_map; k++)
            if (!strcmp(env->instance_map[k]->from, s->instance_type))
                s->instance_type = env->instance_map[k]->to;
        for (size_t k = 0; env && k < env->n_path_rewrites; k++) {
            const char *from = env->path_rewrites[k]->from_prefix;
            if (s->output_path[0] && !strncmp(s->output_path, from, strlen(from)))
                s->output_path = acms_arena_printf(a, "%s%s", env->path_rewrites[k]->to_prefix,
                                                   s->output_path + strlen(from));
        }
        if (env && env->vpc && !(s->vpc_config && s->vpc_config->set))
            s->vpc_config = env->vpc;
        Acms__V1__Resources *r = acms_pb_new(a, &acms__v1__resources__descriptor);
        const acms_instance_type *t = p ? acms_catalog_find(&p->catalog, s->instance_type) : NULL;
        double scale = env && env->memory_scale > 0 ? env->memory_scale : 1.0;
        r->memory_mb = s->memory_mb ? s->memory_mb : t ? (uint64_t)((double)acms_instance_memory_mb(t) * scale) : 0;
        r->vcpu = s->vcpu > 0 ? s->vcpu : t ? t->vcpu : 0;
        r->gpus = t ? t->gpus : 0;
        s->resources = r;
    }
    return rc;
}

/* The first issue or warning with code (and path, when not NULL) in r, or NULL. */
static inline const Acms__V1__ValidationIssue *vf_find(const Acms__V1__ValidationResult *r, const char *code,
                                                        const char *path)
{
    for (int pass = 0; pass < 2; pass++) {
        Acms__V1__ValidationIssue **v = pass ? r->warnings : r->issues;
        size_t n = pass ? r->n_warnings : r->n_issues;
        for (size_t i = 0; i < n; i++)
            if (!strcmp(v[i]->code, code) && (!path || !strcmp(v[i]->path, path)))
                return v[i];
    }
    return NULL;
}

/* The first issue with code (and path) in an issue list, or NULL. */
static inline const Acms__V1__ValidationIssue *vf_find_is(const acms_issues *is, const char *code, const char *path)
{
    for (size_t i = 0; i < is->n; i++)
        if (!strcmp(is->v[i]->code, code) && (!path || !strcmp(is->v[i]->path, path)))
            return is->v[i];
    return NULL;
}

static inline size_t vf_count_is(const acms_issues *is, const char *code)
{
    size_t n = 0;
    for (size_t i = 0; i < is->n; i++)
        n += !strcmp(is->v[i]->code, code);
    return n;
}

/* The suggestion of x with this patch value (or id when value is NULL), or NULL. */
static inline const Acms__V1__ValidationSuggestion *vf_sugg(const Acms__V1__ValidationIssue *x, const char *id,
                                                             const char *value)
{
    for (size_t i = 0; x && i < x->n_suggestions; i++) {
        const Acms__V1__ValidationSuggestion *s = x->suggestions[i];
        if (id && strcmp(s->id, id) != 0)
            continue;
        if (value && strcmp(s->patch_value, value) != 0)
            continue;
        return s;
    }
    return NULL;
}

/* validator_input for a prepared configuration, as validator_validate fills it. */
static inline validator_input vf_input(const acms_profiles *p, const Acms__V1__RuntimeConfiguration *rc,
                                       const Acms__V1__Value *doc)
{
    validator_input in = {0};
    in.pipeline = rc->pipeline;
    in.document = doc;
    in.env = rc->environment;
    in.env_name = rc->environment ? rc->environment->name : "";
    in.profiles = p;
    in.meta = rc->metadata;
    if (doc) {
        const Acms__V1__Value *steps = acms_value_path(doc, "spec.steps");
        if (acms_value_is(steps, ACMS__V1__VALUE__KIND_LIST_VALUE))
            in.doc_steps = steps->list_value;
    }
    return in;
}

#endif
