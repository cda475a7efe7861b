/* adapter_fixture.h: shared helpers of the adapter's unit tests: the repository's examples/ (found
 * through ACMS_REPO or by walking up from the working directory), hand-built environments, steps
 * and pipelines, and lookups in an adaptation log. static inline, so unused helpers cost nothing. */
#ifndef ACMS_TEST_ADAPTER_FIXTURE_H
#define ACMS_TEST_ADAPTER_FIXTURE_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapter/adapter.h"
#include "adapter/stages.h"
#include "doc.h"

/* The repository root (a directory holding examples/catalog.yaml) into buf, or NULL. */
static inline const char *fx_repo(char *buf, size_t size)
{
    const char *env = getenv("ACMS_REPO");
    char probe[PATH_MAX + 32];
    if (env && *env) {
        snprintf(buf, size, "%s", env);
        return buf;
    }
    if (!getcwd(buf, size))
        return NULL;
    for (;;) {
        snprintf(probe, sizeof probe, "%s/examples/catalog.yaml", buf);
        if (access(probe, R_OK) == 0)
            return buf;
        char *slash = strrchr(buf, '/');
        if (!slash || slash == buf)
            return NULL;
        *slash = '\0';
    }
}

/* Loads <repo>/examples into p; ACMS_OK or an error (printed). */
static inline int fx_profiles(acms_profiles *p)
{
    char root[PATH_MAX], dir[PATH_MAX + 16], err[512] = "";
    if (!fx_repo(root, sizeof root)) {
        fprintf(stderr, "cannot find the repository root (set ACMS_REPO)\n");
        return ACMS_ERR_NOTFOUND;
    }
    snprintf(dir, sizeof dir, "%s/examples", root);
    int rc = acms_profiles_load(p, dir, err, sizeof err);
    if (rc != ACMS_OK)
        fprintf(stderr, "acms_profiles_load(%s): %s\n", dir, err);
    return rc;
}

/* A path under the repository root into buf. */
static inline const char *fx_path(char *buf, size_t size, const char *rel)
{
    char root[PATH_MAX];
    if (!fx_repo(root, sizeof root))
        return NULL;
    snprintf(buf, size, "%s/%s", root, rel);
    return buf;
}

/* A bare environment: name, memory_scale 1, nothing else. */
static inline Acms__V1__Environment *fx_env(acms_arena *a, const char *name)
{
    Acms__V1__Environment *e = acms_pb_new(a, &acms__v1__environment__descriptor);
    e->name = acms_arena_strdup(a, name);
    e->memory_scale = 1.0;
    return e;
}

static inline Acms__V1__Quotas *fx_quotas(acms_arena *a, Acms__V1__Environment *e)
{
    if (!e->quotas)
        e->quotas = acms_pb_new(a, &acms__v1__quotas__descriptor);
    return e->quotas;
}

static inline Acms__V1__Pipeline *fx_pipeline(acms_arena *a, const char *name)
{
    Acms__V1__Pipeline *p = acms_pb_new(a, &acms__v1__pipeline__descriptor);
    p->name = acms_arena_strdup(a, name);
    return p;
}

static inline Acms__V1__Step *fx_step(acms_arena *a, Acms__V1__Pipeline *p, const char *name, const char *type,
                                      const char *instance_type)
{
    Acms__V1__Step *s = acms_pb_new(a, &acms__v1__step__descriptor);
    s->name = acms_arena_strdup(a, name);
    s->type = acms_arena_strdup(a, type);
    if (instance_type)
        s->instance_type = acms_arena_strdup(a, instance_type);
    s->instance_count = 1;
    p->steps = acms_arena_push(a, p->steps, &p->n_steps, sizeof *p->steps);
    p->steps[p->n_steps - 1] = s;
    return s;
}

static inline void fx_step_env(acms_arena *a, Acms__V1__Step *s, const char *name, const char *value)
{
    Acms__V1__EnvVar *e = acms_pb_new(a, &acms__v1__env_var__descriptor);
    e->name = acms_arena_strdup(a, name);
    e->value = acms_arena_strdup(a, value);
    s->env = acms_arena_push(a, s->env, &s->n_env, sizeof *s->env);
    s->env[s->n_env - 1] = e;
}

/* The first record of the log matching stage, step and field (any may be NULL = any). */
static inline const Acms__V1__AdaptationRecord *fx_rec(const adapter_log *log, const char *stage, const char *step,
                                                       const char *field)
{
    for (size_t i = 0; i < log->n; i++) {
        const Acms__V1__AdaptationRecord *r = log->v[i];
        if ((!stage || !strcmp(r->stage, stage)) && (!step || !strcmp(r->step, step)) &&
            (!field || !strcmp(r->field, field)))
            return r;
    }
    return NULL;
}

/* The same over a prepared runtime configuration's log. */
static inline const Acms__V1__AdaptationRecord *fx_rc_rec(const Acms__V1__RuntimeConfiguration *rc, const char *stage,
                                                          const char *step, const char *field)
{
    adapter_log l = {.v = rc->adaptation_log, .n = rc->n_adaptation_log};
    return fx_rec(&l, stage, step, field);
}

static inline const Acms__V1__Step *fx_find_step(const Acms__V1__Pipeline *p, const char *name)
{
    for (size_t i = 0; i < p->n_steps; i++)
        if (!strcmp(p->steps[i]->name, name))
            return p->steps[i];
    return NULL;
}

static inline const char *fx_tag(const Acms__V1__Step *s, const char *key)
{
    for (size_t i = 0; i < s->n_tags; i++)
        if (!strcmp(s->tags[i]->key, key))
            return s->tags[i]->value;
    return NULL;
}

/* The first document of a YAML/JSON text. */
static inline Acms__V1__Value *fx_doc(acms_arena *a, const char *text)
{
    Acms__V1__Value **docs = NULL;
    size_t n = 0;
    char err[256] = "";
    if (acms_doc_parse(a, text, strlen(text), &docs, &n, err, sizeof err) != ACMS_OK || n == 0) {
        fprintf(stderr, "fx_doc: %s\n", err);
        return NULL;
    }
    return docs[0];
}

static inline Acms__V1__Value *fx_doc_file(acms_arena *a, const char *rel)
{
    char path[PATH_MAX + 64], err[512] = "";
    Acms__V1__Value **docs = NULL;
    size_t n = 0;
    if (!fx_path(path, sizeof path, rel) || acms_doc_parse_file(a, path, &docs, &n, err, sizeof err) != ACMS_OK ||
        n == 0) {
        fprintf(stderr, "fx_doc_file(%s): %s\n", rel, err);
        return NULL;
    }
    return docs[0];
}

/* A ConfigSubmitted event for doc in env, with a fixed timestamp. */
static inline Acms__V1__ConfigSubmitted *fx_submitted(acms_arena *a, const char *env, Acms__V1__Value *doc,
                                                      int64_t ts)
{
    Acms__V1__ConfigSubmitted *in = acms_pb_new(a, &acms__v1__config_submitted__descriptor);
    in->meta = acms_pb_new(a, &acms__v1__event_meta__descriptor);
    in->meta->event_id = "00000000-0000-4000-8000-000000000001";
    in->meta->run_id = "run-test";
    in->meta->schema_version = ACMS_SCHEMA_VERSION;
    in->meta->timestamp_ms = ts;
    in->meta->source = "test";
    in->environment = acms_arena_strdup(a, env);
    in->document = doc;
    in->source_name = "test.yaml";
    return in;
}

#endif
