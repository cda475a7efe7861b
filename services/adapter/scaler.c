/* scaler.c: the ResourceScaler (LoadAnalyzer + CapacityPlanner). Observes the environment's load
 * and the learned recommendations in Redis (one pipelined read), then right-sizes steps within the
 * quotas and plans capacity. Invariants: learned values never exceed quotas.max_memory_mb; shadow
 * mode records without changing; every change or suggestion is a record of stage "scaling";
 * adapter_scaler_scale is pure (observations are passed in), so tests need no Redis. Which learned
 * size a step gets (input fit, drift model or history) is decided in learned_size.c. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stages.h"
#include "keys.h"
#include "config_store.h"

#define STAGE "scaling"
#define S(x) ((x) ? (x) : "")

/* --- observation (Redis) -------------------------------------------------------------------------- */

static uint64_t parse_u64(const char *s)
{
    if (!s || !*s)
        return 0;
    char *end;
    double d = strtod(s, &end);
    if (end == s || !isfinite(d) || d <= 0)
        return 0;
    return d > 1e15 ? (uint64_t)1e15 : (uint64_t)llround(d);
}

/* The size-fit fields of a recommendation (feedback/learn.h); a malformed fit is no fit. */
static void parse_fit_field(acms_arena *a, const char *field, const char *value, adapter_learned *l)
{
    if (strcmp(field, "sizing_input") == 0)
        l->sizing_input = acms_arena_strdup(a, value);
    else if (strcmp(field, "fit_method") == 0)
        l->fit_method = acms_arena_strdup(a, value);
    else if (strcmp(field, "fit_note") == 0)
        l->fit_note = acms_arena_strdup(a, value);
    else if (strcmp(field, "fit_usable") == 0)
        l->fit_usable = strcmp(value, "1") == 0;
    else if (strcmp(field, "fit_memory") == 0)
        l->has_fit_memory = *value && acms_sizefit_parse(&l->fit_memory, value) == ACMS_OK;
    else if (strcmp(field, "fit_wall") == 0)
        l->has_fit_wall = *value && acms_sizefit_parse(&l->fit_wall, value) == ACMS_OK;
    else if (strcmp(field, "min_runtime_s") == 0) {
        uint64_t r = parse_u64(value);
        l->min_runtime_s = r > UINT32_MAX ? UINT32_MAX : (uint32_t)r;
    }
}

static void parse_rec(acms_arena *a, const redisReply *rep, adapter_learned *l)
{
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 2)
        return;
    for (size_t k = 0; k + 1 < rep->elements; k += 2) {
        const redisReply *f = rep->element[k], *v = rep->element[k + 1];
        if (!f || !v || f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        if (strcmp(f->str, "memory_mb") == 0)
            l->memory_mb = parse_u64(v->str);
        else if (strcmp(f->str, "runtime_s") == 0) {
            uint64_t r = parse_u64(v->str);
            l->runtime_s = r > UINT32_MAX ? UINT32_MAX : (uint32_t)r;
        } else if (strcmp(f->str, "instance_type") == 0)
            l->instance_type = acms_arena_strdup(a, v->str);
        else if (strcmp(f->str, "mode") == 0)
            l->mode = acms_arena_strdup(a, v->str);
        else if (strcmp(f->str, "reason") == 0)
            l->reason = acms_arena_strdup(a, v->str);
        else if (strcmp(f->str, "command_hash") == 0)
            l->command_hash = acms_arena_strdup(a, v->str);
        else if (strcmp(f->str, "based_on_runs") == 0) {
            uint64_t n = parse_u64(v->str);
            l->based_on_runs = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
        } else
            parse_fit_field(a, f->str, v->str, l);
    }
    l->present = l->memory_mb > 0 || l->runtime_s > 0 || (l->instance_type && *l->instance_type) || l->has_fit_memory;
}

static void observe_init(acms_arena *a, size_t n, adapter_observed *out)
{
    memset(out, 0, sizeof *out);
    out->nlearned = n;
    out->learned = acms_arena_alloc(a, (n ? n : 1) * sizeof *out->learned);
    for (size_t i = 0; i < n; i++) {
        out->learned[i].instance_type = "";
        out->learned[i].mode = "";
        out->learned[i].reason = "";
        out->learned[i].command_hash = "";
        out->learned[i].sizing_input = "";
        out->learned[i].fit_method = "";
        out->learned[i].fit_note = "";
    }
}

/* instances: the HVALS reply; recs[i]: the HGETALL reply of step i. Replies are only read. */
static void observe_replies(acms_arena *a, const redisReply *instances, redisReply *const *recs, size_t n,
                            adapter_observed *out)
{
    if (instances && instances->type == REDIS_REPLY_ARRAY) {
        for (size_t k = 0; k < instances->elements; k++) {
            const redisReply *v = instances->element[k];
            uint64_t inst = v && v->type == REDIS_REPLY_STRING ? parse_u64(v->str) : 0;
            out->active_runs++;
            out->instances_in_use += inst > UINT32_MAX ? UINT32_MAX : (uint32_t)inst;
        }
    }
    for (size_t i = 0; i < n; i++)
        parse_rec(a, recs[i], &out->learned[i]);
    out->online = 1;
}

size_t adapter_scaler_append(acms_redis *r, acms_arena *a, const char *env, const char *pipeline,
                             const char *const *steps, size_t n)
{
    const char *argv[2];
    size_t argl[2];
    argv[0] = "HVALS";
    argv[1] = acms_arena_printf(a, ACMS_KEY_ENV_INSTANCES_FMT, S(env));
    argl[0] = strlen(argv[0]);
    argl[1] = strlen(argv[1]);
    acms_redis_appendargv(r, 2, argv, argl);
    for (size_t i = 0; i < n; i++) {
        argv[0] = "HGETALL";
        argv[1] = acms_arena_printf(a, ACMS_KEY_LEARN_REC_FMT, S(pipeline), S(steps[i]));
        argl[0] = strlen(argv[0]);
        argl[1] = strlen(argv[1]);
        acms_redis_appendargv(r, 2, argv, argl);
    }
    return n + 1;
}

/* The prefetched replies when they were read for this environment, pipeline and step names. */
static int observe_prefetched(const adapter_prefetch *pf, acms_arena *a, const Acms__V1__Environment *env,
                              const Acms__V1__Pipeline *p, adapter_observed *out)
{
    size_t n = p ? p->n_steps : 0;
    if (!pf || !pf->rep || pf->n != n || strcmp(S(pf->env), S(env->name)) || strcmp(S(pf->pipeline), S(p->name)))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(S(pf->steps[i]), S(p->steps[i]->name)))
            return 0;
    observe_init(a, n, out);
    observe_replies(a, pf->rep[0], pf->rep + 1, n, out);
    return 1;
}

int adapter_scaler_observe(acms_redis *r, acms_arena *a, const Acms__V1__Environment *env, const Acms__V1__Pipeline *p,
                           const adapter_prefetch *pf, adapter_observed *out)
{
    size_t n = p ? p->n_steps : 0;
    if (r && observe_prefetched(pf, a, env, p, out))
        return ACMS_OK;
    observe_init(a, n, out);
    if (!r)
        return ACMS_OK;
    const char **names = acms_arena_alloc(a, (n ? n : 1) * sizeof *names);
    for (size_t i = 0; i < n; i++)
        names[i] = p->steps[i]->name;
    adapter_scaler_append(r, a, env->name, p ? p->name : "", names, n);
    redisReply **rep = acms_arena_alloc(a, (n + 1) * sizeof *rep);
    if (acms_redis_exec(r, rep, n + 1) != ACMS_OK)
        return ACMS_ERR_RETRY;
    observe_replies(a, rep[0], rep + 1, n, out);
    for (size_t i = 0; i <= n; i++)
        if (rep[i])
            freeReplyObject(rep[i]);
    return ACMS_OK;
}

static adapter_learn_mode mode_of(const char *m, adapter_learn_mode empty)
{
    if (!m || !*m)
        return empty;
    if (strcmp(m, "apply") == 0)
        return ADAPTER_LEARN_APPLY;
    if (strcmp(m, "shadow") == 0)
        return ADAPTER_LEARN_SHADOW;
    return ADAPTER_LEARN_OFF;
}

int adapter_learned_applies(const adapter_learned *l, const Acms__V1__Step *s)
{
    if (!l || !l->command_hash || !*l->command_hash)
        return 1;
    char cur[65];
    acms_store_command_hash(s->command, s->n_command, cur);
    return acms_store_command_applies(l->command_hash, cur);
}

adapter_learn_mode adapter_learn_mode_of(const Acms__V1__Environment *env, const adapter_learned *l)
{
    if (!l || !l->present)
        return ADAPTER_LEARN_OFF;
    adapter_learn_mode e = mode_of(env ? env->learning_mode : NULL, ADAPTER_LEARN_APPLY);
    adapter_learn_mode r = mode_of(l->mode, ADAPTER_LEARN_APPLY);
    return e < r ? e : r;
}

/* --- planning ------------------------------------------------------------------------------------- */

/* Confidence in a recommendation grows with the runs it is based on (0.6 for one run, 0.95 from 5). */
static double learned_safety(const adapter_learned *l)
{
    double s = 0.5 + 0.09 * (double)l->based_on_runs;
    return s > 0.95 ? 0.95 : s;
}

static const char *u64s(acms_arena *a, uint64_t v)
{
    return acms_arena_u64(a, v);
}

static const char *learned_basis(acms_arena *a, const adapter_learned *l)
{
    return acms_arena_printf(a, "learned from %u run(s)%s%s", l->based_on_runs, *S(l->reason) ? ": " : "",
                             S(l->reason));
}

/* The smallest type of the same family holding memory_mb once scaled by the environment. */
static const acms_instance_type *fit_type(const acms_catalog *cat, const Acms__V1__Environment *env,
                                          const Acms__V1__Step *s, uint64_t memory_mb)
{
    const acms_instance_type *t = acms_catalog_find(cat, S(s->instance_type));
    if (!t)
        return NULL;
    double scale = env->memory_scale > 0 ? env->memory_scale : 1.0;
    uint64_t need = (uint64_t)ceil((double)memory_mb / scale);
    return acms_catalog_smallest_fit(cat, t->family, s->vcpu > 0 ? s->vcpu : 0, need, t->gpus,
                                     env->allowed_instance_types, env->n_allowed_instance_types);
}

/* The record of a memory change, with its basis. */
static void memory_record(acms_arena *a, const Acms__V1__Environment *env, const Acms__V1__Step *s,
                          const adapter_learned *l, const adapter_size *sz, uint64_t old_mb, uint64_t target,
                          const char *nofit, adapter_log *log)
{
    adapter_learn_mode mode = adapter_learn_mode_of(env, l);
    int apply = mode == ADAPTER_LEARN_APPLY;
    uint64_t cap = env->quotas ? env->quotas->max_memory_mb : 0;
    const char *capped = target < sz->memory_mb
                             ? acms_arena_printf(a, " (capped at quota max_memory_mb %" PRIu64 ")", cap)
                             : "";
    Acms__V1__AdaptationRecord *rec = adapter_log_add(
        log, STAGE, s->name, "resources.memory_mb", old_mb ? u64s(a, old_mb) : "", u64s(a, target), learned_safety(l),
        apply, "right-sized to %" PRIu64 " MiB, %s%s%s%s", sz->memory_mb, sz->why, capped, nofit,
        apply ? "" : "; shadow mode: recorded, not applied");
    rec->learned = sz->basis;
}

/* Right-sizes memory (and the type holding it) from the learned size. Returns 1 when resources changed. */
static int apply_memory(acms_arena *a, const acms_catalog *cat, const Acms__V1__Environment *env, Acms__V1__Step *s,
                        const adapter_learned *l, const adapter_size *sz, adapter_log *log)
{
    int apply = adapter_learn_mode_of(env, l) == ADAPTER_LEARN_APPLY;
    double safety = learned_safety(l);
    const char *shadow = apply ? "" : "; shadow mode: recorded, not applied";
    Acms__V1__Resources *r = adapter_step_resources(a, s);
    uint64_t cap = env->quotas ? env->quotas->max_memory_mb : 0;
    uint64_t target = cap && sz->memory_mb > cap ? cap : sz->memory_mb;
    if (target == r->memory_mb)
        return 0;
    const acms_instance_type *fit = fit_type(cat, env, s, target);
    const char *nofit = "";
    if (!fit && acms_catalog_find(cat, S(s->instance_type)))
        nofit = acms_arena_printf(a, "; no allowed type of the family of %s holds it, so the type is kept",
                                  s->instance_type);
    memory_record(a, env, s, l, sz, r->memory_mb, target, nofit, log);
    if (fit && strcmp(fit->name, S(s->instance_type)) != 0) {
        adapter_log_add(log, STAGE, s->name, "instance_type", s->instance_type, fit->name, safety, apply,
                        "smallest %s type holding %" PRIu64 " MiB%s%s", fit->family, target,
                        env->memory_scale > 0 && env->memory_scale != 1.0
                            ? acms_arena_printf(a, " at memory_scale %g", env->memory_scale)
                            : "",
                        shadow);
        if (apply) {
            s->instance_type = acms_arena_strdup(a, fit->name);
            if (s->vcpu <= 0)
                r->vcpu = fit->vcpu;
        }
    }
    if (apply)
        r->memory_mb = target;
    return apply;
}

/* The recommended instance type, when nothing was learned for memory. Returns 1 when resources changed. */
static int apply_type(acms_arena *a, const acms_catalog *cat, const Acms__V1__Environment *env, Acms__V1__Step *s,
                      const adapter_learned *l, adapter_log *log)
{
    if (!l->instance_type || !*l->instance_type || strcmp(l->instance_type, S(s->instance_type)) == 0)
        return 0;
    const acms_instance_type *t = acms_catalog_find(cat, l->instance_type);
    int allowed = env->n_allowed_instance_types == 0;
    for (size_t i = 0; t && i < env->n_allowed_instance_types; i++)
        allowed |= strcmp(env->allowed_instance_types[i], t->name) == 0;
    if (!t || !allowed)
        return 0;
    int apply = adapter_learn_mode_of(env, l) == ADAPTER_LEARN_APPLY;
    adapter_log_add(log, STAGE, s->name, "instance_type", s->instance_type, t->name, learned_safety(l), apply,
                    "recommended type %s%s", learned_basis(a, l), apply ? "" : "; shadow mode: recorded, not applied");
    if (!apply)
        return 0;
    Acms__V1__Resources *r = adapter_step_resources(a, s);
    uint64_t cap = env->quotas ? env->quotas->max_memory_mb : 0;
    double scale = env->memory_scale > 0 ? env->memory_scale : 1.0;
    uint64_t mb = (uint64_t)llround((double)acms_instance_memory_mb(t) * scale);
    if (cap && mb > cap)
        mb = cap;
    s->instance_type = acms_arena_strdup(a, t->name);
    r->memory_mb = mb ? mb : 1;
    if (s->vcpu <= 0)
        r->vcpu = t->vcpu;
    return 1;
}

/* Right-sizes one step from what was learned (sz: learned_size.c). Returns 1 when resources changed. */
static int apply_learned(acms_arena *a, const acms_catalog *cat, const Acms__V1__Environment *env, Acms__V1__Step *s,
                         const adapter_learned *l, const adapter_size *sz, adapter_log *log)
{
    if (adapter_learn_mode_of(env, l) == ADAPTER_LEARN_OFF)
        return 0;
    if (sz->memory_mb > 0)
        return apply_memory(a, cat, env, s, l, sz, log);
    return apply_type(a, cat, env, s, l, log);
}

/* Resolves the step's sizing input into sizing.input_value (recorded when it cannot be). */
static acms_sizing_status resolve_input(acms_arena *a, Acms__V1__Step *s, acms_sizing_input *in, adapter_log *log)
{
    acms_sizing_status st = acms_sizing_resolve(s, in);
    if (st == ACMS_SIZING_NONE)
        return st;
    if (st != ACMS_SIZING_OK) {
        adapter_log_add(log, STAGE, s->name, "sizing.input", S(in->name), "", 1.0, 0,
                        "%s: this run is not sized from its input", acms_sizing_status_text(st));
        return st;
    }
    s->sizing->input_value = in->value;
    s->sizing->input_source = acms_arena_printf(a, "%s %s", in->source, in->name);
    return st;
}

static void data_size_hint(acms_arena *a, const Acms__V1__Environment *env, Acms__V1__Step *s, adapter_log *log)
{
    const Acms__V1__Resources *r = s->resources;
    if (s->data_size_mb == 0 || !r || r->memory_mb == 0 || s->data_size_mb <= r->memory_mb)
        return;
    /* In-memory processing needs the data plus working space: suggest 1.5x the data, within quota. */
    uint64_t want = s->data_size_mb + s->data_size_mb / 2;
    uint64_t cap = env->quotas ? env->quotas->max_memory_mb : 0;
    if (cap && want > cap)
        want = cap;
    if (want <= r->memory_mb)
        return;
    adapter_log_add(log, STAGE, s->name, "resources.memory_mb", u64s(a, r->memory_mb), u64s(a, want), 0.5, 0,
                    "input data (%" PRIu64 " MiB) exceeds memory (%" PRIu64 " MiB): suggest %" PRIu64
                    " MiB (1.5x data%s) or streaming the input; not applied without history",
                    s->data_size_mb, r->memory_mb, want, cap && want == cap ? ", capped at quota" : "");
}

/* Resolves the step's sizing input and sizes it from what was learned (l may be NULL); a runtime from
 * the wall fit goes to l for the optimizer. Returns the plan basis ("learned", "input-fit") when
 * resources changed, else NULL. */
static const char *scale_learned(acms_arena *a, const acms_catalog *cat, const Acms__V1__Environment *env,
                                 Acms__V1__Step *s, adapter_learned *l, int64_t now_ms, adapter_log *log)
{
    acms_sizing_input in;
    acms_sizing_status st = resolve_input(a, s, &in, log);
    if (!l || !l->present)
        return NULL;
    if (!adapter_learned_applies(l, s)) {
        adapter_log_add(log, STAGE, s->name, "recommendation", "", "", learned_safety(l), 0,
                        "recommendation learned from %u run(s) ignored: the step's command changed since, so "
                        "that history describes another program",
                        l->based_on_runs);
        return NULL;
    }
    adapter_size sz;
    adapter_learned_size(a, l, st, &in, now_ms, &sz);
    if (sz.runtime_s) { /* for the optimizer: the runtime limit from the wall fit at this input */
        l->runtime_s = sz.runtime_s;
        l->reason = sz.runtime_why;
    }
    if (!apply_learned(a, cat, env, s, l, &sz, log))
        return NULL;
    return sz.basis && !strcmp(sz.basis->method, "input-fit") ? "input-fit" : "learned";
}

void adapter_scaler_scale(acms_arena *a, const acms_catalog *cat, const Acms__V1__Environment *env,
                          Acms__V1__Pipeline *p, adapter_observed *obs, adapter_log *log,
                          Acms__V1__CapacityPlan **plan_out)
{
    Acms__V1__CapacityPlan *plan = acms_pb_new(a, &acms__v1__capacity_plan__descriptor);
    const Acms__V1__Quotas *q = env->quotas;
    int online = obs && obs->online;
    plan->quota_total_instances = q ? q->max_total_instances : 0;
    plan->active_runs = online ? obs->active_runs : 0;
    plan->instances_in_use = online ? obs->instances_in_use : 0;

    for (size_t i = 0; i < p->n_steps; i++) {
        Acms__V1__Step *s = p->steps[i];
        adapter_learned *l = obs && i < obs->nlearned ? &obs->learned[i] : NULL;
        const char *basis = s->memory_mb > 0 ? "requested" : "catalogue";
        const char *learned = scale_learned(a, cat, env, s, l, obs ? obs->now_ms : 0, log);
        if (learned)
            basis = learned;
        data_size_hint(a, env, s, log);
        if (q && q->max_instances > 0 && s->instance_count > q->max_instances) {
            adapter_log_add(log, STAGE, s->name, "instance_count", u64s(a, s->instance_count),
                            u64s(a, q->max_instances), 1.0, 1, "quota max_instances of environment %s is %u",
                            S(env->name), q->max_instances)
                ->quota = "quotas.max_instances";
            s->instance_count = q->max_instances;
            basis = "quota-capped";
        }
        Acms__V1__StepCapacity *c = acms_pb_new(a, &acms__v1__step_capacity__descriptor);
        c->step = acms_arena_strdup(a, S(s->name));
        c->memory_mb = s->resources ? s->resources->memory_mb : 0;
        c->vcpu = s->resources ? s->resources->vcpu : 0;
        c->instances = s->instance_count ? s->instance_count : 1;
        c->basis = (char *)basis;
        plan->instances_requested += c->instances;
        plan->steps = acms_arena_push(a, plan->steps, &plan->n_steps, sizeof *plan->steps);
        plan->steps[plan->n_steps - 1] = c;
    }

    if (!online)
        plan->note = "offline: load and learned recommendations not consulted";
    else if (plan->quota_total_instances > 0 &&
             (uint64_t)plan->instances_in_use + plan->instances_requested > plan->quota_total_instances)
        plan->note = acms_arena_printf(a,
                                       "environment %s has %u of %u instances in use and this run asks for up to %u: "
                                       "steps wait for capacity",
                                       S(env->name), plan->instances_in_use, plan->quota_total_instances,
                                       plan->instances_requested);
    else if (q && q->max_active_runs > 0 && plan->active_runs >= q->max_active_runs)
        plan->note = acms_arena_printf(a, "environment %s runs %u of %u allowed runs: this run waits for a slot",
                                       S(env->name), plan->active_runs, q->max_active_runs);
    else
        plan->note = acms_arena_printf(a, "environment %s: %u active run(s), %u instance(s) in use", S(env->name),
                                       plan->active_runs, plan->instances_in_use);
    *plan_out = plan;
}
