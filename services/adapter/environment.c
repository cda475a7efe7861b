/* environment.c: the EnvironmentAdapter (ResourceMapper, NetworkAdapter, StorageAdapter). Maps
 * each step onto the environment profile: instance type (default, instance_map, allowed list),
 * Resources (explicit request, else catalogue x memory_scale), network settings, output paths and
 * executor defaults. Invariant: every change is an AdaptationRecord of stage "environment" with
 * safety score 1.0 (deterministic profile rules); nothing here reads Redis or the clock. */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "adapt_reason.h"
#include "stages.h"
#include "strmap.h"

#define STAGE "environment"
#define S(x) ((x) ? (x) : "")

static int in_list(char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] && strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

static const char *u64s(acms_arena *a, uint64_t v)
{
    return acms_arena_u64(a, v);
}

static const char *dbls(acms_arena *a, double v)
{
    return acms_arena_g(a, v);
}

/* The environment and the strings its records name, copied into the arena once per pipeline. */
typedef struct env_strings {
    const Acms__V1__Environment *env;
    const char *name;    /* env->name */
    const char *scale;   /* memory_scale as %g renders it; "" when 1 */
    int indexed;         /* map and allowed below hold the environment's lists (else: scan them) */
    acms_strmap map;     /* instance_map: from -> index of its first usable mapping (to set) */
    acms_strmap allowed; /* allowed_instance_types */
} env_strings;

/* Hashes the environment's instance_map and allowed list once per pipeline, not once per step. */
static void index_env(acms_arena *a, env_strings *es)
{
    const Acms__V1__Environment *env = es->env;
    int ok = 1;
    acms_strmap_init(&es->map, a, env->n_instance_map);
    acms_strmap_init(&es->allowed, a, env->n_allowed_instance_types);
    for (size_t i = 0; ok && i < env->n_instance_map; i++) {
        const Acms__V1__InstanceMapping *m = env->instance_map[i];
        if (m->from && m->to && *m->to)
            ok = acms_strmap_put(&es->map, m->from, i, NULL) >= 0;
    }
    for (size_t i = 0; ok && i < env->n_allowed_instance_types; i++)
        if (env->allowed_instance_types[i])
            ok = acms_strmap_put(&es->allowed, env->allowed_instance_types[i], i, NULL) >= 0;
    es->indexed = ok;
}

/* The first usable instance_map entry for type, or NULL. */
static const Acms__V1__InstanceMapping *mapping_of(const env_strings *es, const char *type)
{
    const Acms__V1__Environment *env = es->env;
    size_t i;
    if (es->indexed)
        return acms_strmap_get(&es->map, type, &i) ? env->instance_map[i] : NULL;
    for (i = 0; i < env->n_instance_map; i++) {
        const Acms__V1__InstanceMapping *m = env->instance_map[i];
        if (m->from && m->to && *m->to && strcmp(m->from, type) == 0)
            return m;
    }
    return NULL;
}

static int type_allowed(const env_strings *es, const char *type)
{
    const Acms__V1__Environment *env = es->env;
    if (env->n_allowed_instance_types == 0)
        return 1;
    if (es->indexed)
        return acms_strmap_get(&es->allowed, type, NULL);
    return in_list(env->allowed_instance_types, env->n_allowed_instance_types, type);
}

/* --- ResourceMapper ------------------------------------------------------------------------------ */

static void set_type(acms_arena *a, Acms__V1__Step *s, const char *type)
{
    s->instance_type = acms_arena_strdup(a, type);
}

static void map_instance_type(acms_arena *a, const acms_catalog *cat, const env_strings *es, Acms__V1__Step *s,
                              adapter_log *log)
{
    const Acms__V1__Environment *env = es->env;
    const char *env_name = es->name;
    if (!s->instance_type || !*s->instance_type) {
        if (!env->default_instance_type || !*env->default_instance_type)
            return;
        set_type(a, s, env->default_instance_type);
        adapter_log_note(log, STAGE, s->name, "instance_type", "", s->instance_type, 1.0, 1, ACMS_REASON_DEFAULT_TYPE,
                         1, env_name);
    }
    const Acms__V1__InstanceMapping *m = mapping_of(es, s->instance_type);
    if (m && strcmp(s->instance_type, m->to) != 0) {
        const char *old = s->instance_type;
        set_type(a, s, m->to);
        adapter_log_add(log, STAGE, s->name, "instance_type", old, s->instance_type, 1.0, 1,
                        "instance_map of environment %s maps %s to %s", env_name, old, m->to);
    }
    if (type_allowed(es, s->instance_type))
        return;
    /* Not allowed here: the smallest allowed type with at least the same vCPU, memory and GPUs,
     * preferably of the same family. */
    const acms_instance_type *t = acms_catalog_find(cat, s->instance_type);
    const acms_instance_type *sub = NULL;
    const char *how = "of the same family";
    if (t) {
        sub = acms_catalog_smallest_fit(cat, t->family, t->vcpu, acms_instance_memory_mb(t), t->gpus,
                                        env->allowed_instance_types, env->n_allowed_instance_types);
        if (!sub) {
            sub = acms_catalog_smallest_fit(cat, NULL, t->vcpu, acms_instance_memory_mb(t), t->gpus,
                                            env->allowed_instance_types, env->n_allowed_instance_types);
            how = "of any family";
        }
    }
    if (!sub) {
        adapter_log_add(log, STAGE, s->name, "instance_type", s->instance_type, s->instance_type, 1.0, 0,
                        "%s is not allowed in environment %s and no allowed type fits it%s; left for the validator",
                        s->instance_type, env_name, t ? "" : " (not in the catalogue)");
        return;
    }
    const char *old = s->instance_type;
    set_type(a, s, sub->name);
    adapter_log_add(log, STAGE, s->name, "instance_type", old, sub->name, 1.0, 1,
                    "%s is not allowed in environment %s: smallest allowed type %s with at least its vCPU, "
                    "memory and GPUs",
                    old, env_name, how);
}

/* Resources from the explicit request, else the (mapped) type's catalogue entry x memory_scale. */
static void fill_resources(acms_arena *a, const acms_catalog *cat, const env_strings *es, Acms__V1__Step *s,
                           adapter_log *log)
{
    const Acms__V1__Environment *env = es->env;
    const acms_instance_type *t = acms_catalog_find(cat, S(s->instance_type));
    Acms__V1__Resources *r = adapter_step_resources(a, s);
    double scale = env->memory_scale > 0 ? env->memory_scale : 1.0;

    uint64_t old_mem = r->memory_mb;
    if (s->memory_mb > 0) {
        if (r->memory_mb != s->memory_mb) {
            r->memory_mb = s->memory_mb;
            adapter_log_add(log, STAGE, s->name, "resources.memory_mb", old_mem ? u64s(a, old_mem) : "",
                            u64s(a, r->memory_mb), 1.0, 1, "explicit memory_mb request");
        }
    } else if (r->memory_mb == 0 && t) {
        uint64_t cat_mb = acms_instance_memory_mb(t);
        uint64_t mb = (uint64_t)llround((double)cat_mb * scale);
        r->memory_mb = mb ? mb : 1;
        if (scale != 1.0)
            adapter_log_note(log, STAGE, s->name, "resources.memory_mb", "", u64s(a, r->memory_mb), 1.0, 1,
                             ACMS_REASON_MEMORY_SCALED, 4, s->instance_type, u64s(a, cat_mb), es->scale, es->name);
        else
            adapter_log_note(log, STAGE, s->name, "resources.memory_mb", "", u64s(a, r->memory_mb), 1.0, 1,
                             ACMS_REASON_MEMORY_CATALOGUE, 2, s->instance_type, u64s(a, cat_mb));
    }

    double old_cpu = r->vcpu;
    if (s->vcpu > 0) {
        if (r->vcpu != s->vcpu) {
            r->vcpu = s->vcpu;
            adapter_log_add(log, STAGE, s->name, "resources.vcpu", old_cpu > 0 ? dbls(a, old_cpu) : "",
                            dbls(a, r->vcpu), 1.0, 1, "explicit vcpu request");
        }
    } else if (r->vcpu == 0 && t) {
        r->vcpu = t->vcpu;
        const char *vcpu = dbls(a, r->vcpu);
        adapter_log_note(log, STAGE, s->name, "resources.vcpu", "", vcpu, 1.0, 1, ACMS_REASON_VCPU_CATALOGUE, 2,
                         s->instance_type, vcpu);
    }
    if (r->gpus == 0 && t && t->gpus > 0) {
        r->gpus = t->gpus;
        adapter_log_add(log, STAGE, s->name, "resources.gpus", "", u64s(a, r->gpus), 1.0, 1, "%s has %u GPU(s) (%s)",
                        t->name, t->gpus, S(t->gpu_model));
    }
}

/* --- NetworkAdapter ------------------------------------------------------------------------------ */

static int vpc_present(const Acms__V1__VpcConfig *v)
{
    return v && (v->set || v->n_subnets || v->n_security_group_ids || v->network_isolation);
}

static char *vpc_describe(acms_arena *a, const Acms__V1__VpcConfig *v)
{
    char *out = acms_arena_strdup(a, "subnets=[");
    for (size_t i = 0; i < v->n_subnets; i++)
        out = acms_arena_printf(a, "%s%s%s", out, i ? "," : "", v->subnets[i]);
    out = acms_arena_printf(a, "%s] security_group_ids=[", out);
    for (size_t i = 0; i < v->n_security_group_ids; i++)
        out = acms_arena_printf(a, "%s%s%s", out, i ? "," : "", v->security_group_ids[i]);
    return acms_arena_printf(a, "%s] network_isolation=%s", out, v->network_isolation ? "true" : "false");
}

static Acms__V1__VpcConfig *vpc_copy(acms_arena *a, const Acms__V1__VpcConfig *from)
{
    Acms__V1__VpcConfig *v = acms_pb_new(a, &acms__v1__vpc_config__descriptor);
    for (size_t i = 0; from && i < from->n_subnets; i++)
        acms_pb_add_string(a, &v->subnets, &v->n_subnets, from->subnets[i]);
    for (size_t i = 0; from && i < from->n_security_group_ids; i++)
        acms_pb_add_string(a, &v->security_group_ids, &v->n_security_group_ids, from->security_group_ids[i]);
    v->network_isolation = from ? from->network_isolation : 0;
    v->set = 1;
    return v;
}

static void adapt_network(acms_arena *a, const Acms__V1__Environment *env, const char *env_name, Acms__V1__Step *s,
                          adapter_log *log)
{
    if (!vpc_present(s->vpc_config) && vpc_present(env->vpc)) {
        s->vpc_config = vpc_copy(a, env->vpc);
        adapter_log_note(log, STAGE, s->name, "vpc_config", "", vpc_describe(a, s->vpc_config), 1.0, 1,
                         ACMS_REASON_DEFAULT_NETWORK, 1, env_name);
    }
    if (env->require_network_isolation && !(s->vpc_config && s->vpc_config->network_isolation)) {
        if (!s->vpc_config)
            s->vpc_config = vpc_copy(a, NULL);
        s->vpc_config->set = 1;
        s->vpc_config->network_isolation = 1;
        adapter_log_note(log, STAGE, s->name, "vpc_config.network_isolation", "false", "true", 1.0, 1,
                         ACMS_REASON_NETWORK_ISOLATION, 1, env_name);
    }
}

/* --- StorageAdapter ------------------------------------------------------------------------------ */

char *adapter_environment_rewrite_path(acms_arena *a, const Acms__V1__Environment *env, const char *path)
{
    const Acms__V1__PathRewrite *best = NULL;
    size_t best_len = 0;
    if (!path || !*path)
        return NULL;
    for (size_t i = 0; i < env->n_path_rewrites; i++) {
        const Acms__V1__PathRewrite *r = env->path_rewrites[i];
        size_t n = r->from_prefix ? strlen(r->from_prefix) : 0;
        if (n > best_len && strncmp(path, r->from_prefix, n) == 0) {
            best = r;
            best_len = n;
        }
    }
    if (!best)
        return NULL;
    return acms_arena_printf(a, "%s%s", S(best->to_prefix), path + best_len);
}

static void adapt_storage(acms_arena *a, const Acms__V1__Environment *env, const char *env_name, Acms__V1__Step *s,
                          adapter_log *log)
{
    char *np = adapter_environment_rewrite_path(a, env, s->output_path);
    if (!np || strcmp(np, s->output_path) == 0)
        return;
    const char *old = s->output_path;
    s->output_path = np;
    adapter_log_note(log, STAGE, s->name, "output_path", old, np, 1.0, 1, ACMS_REASON_PATH_REWRITES, 1, env_name);
}

/* --- the stage ----------------------------------------------------------------------------------- */

void adapter_environment_adapt(acms_arena *a, const acms_catalog *cat, const Acms__V1__Environment *env,
                               Acms__V1__Pipeline *p, adapter_log *log)
{
    /* strings every record of this stage may name, copied once: records outlive the profiles */
    double scale = env->memory_scale > 0 ? env->memory_scale : 1.0;
    env_strings es = {.env = env, .name = acms_arena_strdup(a, S(env->name))};
    es.scale = scale != 1.0 ? dbls(a, scale) : "";
    index_env(a, &es);
    if (p->max_parallel == 0 && env->max_parallel > 0) {
        p->max_parallel = env->max_parallel;
        adapter_log_note(log, STAGE, "", "max_parallel", "", u64s(a, p->max_parallel), 1.0, 1,
                         ACMS_REASON_DEFAULT_PARALLEL, 1, es.name);
    }
    for (size_t i = 0; i < p->n_steps; i++) {
        Acms__V1__Step *s = p->steps[i];
        map_instance_type(a, cat, &es, s, log);
        adapt_network(a, env, es.name, s, log);
        adapt_storage(a, env, es.name, s, log);
        fill_resources(a, cat, &es, s, log);
        if ((!s->executor || !*s->executor) && env->executor && *env->executor) {
            s->executor = acms_arena_strdup(a, env->executor);
            adapter_log_note(log, STAGE, s->name, "executor", "", s->executor, 1.0, 1, ACMS_REASON_DEFAULT_EXECUTOR, 1,
                             es.name);
        }
        if (s->max_attempts == 0 && env->default_max_attempts > 0) {
            s->max_attempts = env->default_max_attempts;
            adapter_log_note(log, STAGE, s->name, "max_attempts", "", u64s(a, s->max_attempts), 1.0, 1,
                             ACMS_REASON_DEFAULT_ATTEMPTS, 1, es.name);
        }
    }
}
