/* semantic.c: validation level 2, the meaning of the adapted pipeline. The step graph comes from
 * acms_dag_build (empty, duplicate names, missing and self dependencies, one named cycle); this file
 * finds every dependency cycle (iterative Tarjan, O(steps + edges)), marks the steps that can never
 * run because they wait on a cycle or a missing step, and checks value ranges and cross-field rules.
 * Name lookups go through the dag's index or a string map (strmap.h): nothing here is quadratic in steps. */
#include "paths.h"
#include "result.h"
#include "strmap.h"

#include <string.h>

#include "retry.h"

/* --- dependency cycles ----------------------------------------------------------------------------- */

/* Tarjan's strongly connected components without recursion. cycle_of[i] = component id (1-based)
 * for components that form a cycle (more than one step); 0 otherwise. Returns the number of cycles. */
static uint32_t find_cycles(acms_arena *a, const acms_dag *d, uint32_t *cycle_of)
{
    size_t n = d->n;
    size_t *idx = acms_arena_alloc(a, (n + 1) * sizeof *idx); /* 0 = unvisited, else order + 1 */
    size_t *low = acms_arena_alloc(a, (n + 1) * sizeof *low);
    char *on = acms_arena_alloc(a, n + 1);
    size_t *stack = acms_arena_alloc(a, (n + 1) * sizeof *stack);
    size_t *cs_node = acms_arena_alloc(a, (n + 1) * sizeof *cs_node);
    size_t *cs_edge = acms_arena_alloc(a, (n + 1) * sizeof *cs_edge);
    size_t sp = 0, counter = 0;
    uint32_t ncycles = 0;

    for (size_t root = 0; root < n; root++) {
        if (idx[root])
            continue;
        size_t csp = 0;
        cs_node[csp] = root;
        cs_edge[csp++] = 0;
        idx[root] = low[root] = ++counter;
        stack[sp++] = root;
        on[root] = 1;
        while (csp > 0) {
            size_t v = cs_node[csp - 1];
            if (cs_edge[csp - 1] < d->ndeps[v]) {
                size_t w = d->deps[v][cs_edge[csp - 1]++];
                if (!idx[w]) {
                    idx[w] = low[w] = ++counter;
                    stack[sp++] = w;
                    on[w] = 1;
                    cs_node[csp] = w;
                    cs_edge[csp++] = 0;
                } else if (on[w] && idx[w] < low[v]) {
                    low[v] = idx[w];
                }
                continue;
            }
            csp--;
            if (csp > 0) {
                size_t parent = cs_node[csp - 1];
                if (low[v] < low[parent])
                    low[parent] = low[v];
            }
            if (low[v] != idx[v])
                continue;
            /* v roots a component: pop it */
            size_t size = 0, first = sp;
            do {
                first--;
                size++;
            } while (stack[first] != v);
            uint32_t id = size > 1 ? ++ncycles : 0;
            for (size_t k = first; k < sp; k++) {
                on[stack[k]] = 0;
                cycle_of[stack[k]] = id;
            }
            sp = first;
        }
    }
    return ncycles;
}

/* Adds a DAG_CYCLE issue for every cycle that dag.c did not name (it names one). */
static void report_cycles(const validator_input *in, acms_arena *a, acms_issues *is, size_t from, uint32_t ncycles)
{
    const acms_dag *d = in->dag;
    char *named = acms_arena_alloc(a, (size_t)ncycles + 1);
    for (size_t k = from; k < is->n; k++) {
        size_t i;
        if (strcmp(validator_str(is->v[k]->code), "DAG_CYCLE") == 0 && validator_path_step(is->v[k]->path, &i) &&
            i < d->n && in->cycle_of[i])
            named[in->cycle_of[i]] = 1;
    }
    for (uint32_t c = 1; c <= ncycles; c++) {
        if (named[c])
            continue;
        /* list the members in document order (bounded text), point at the first one */
        char *list = NULL;
        size_t first = d->n, shown = 0, members = 0;
        for (size_t i = 0; i < d->n; i++) {
            if (in->cycle_of[i] != c)
                continue;
            members++;
            if (first == d->n)
                first = i;
            if (shown < 8) {
                list = list ? acms_arena_printf(a, "%s, %s", list, d->names[i]) : acms_arena_strdup(a, d->names[i]);
                shown++;
            }
        }
        validator_step_issue(in, is, first, "depends_on", "DAG_CYCLE", "error",
                             "dependency cycle among %zu steps: %s%s (each waits for another)", members, list,
                             members > shown ? ", ..." : "");
    }
}

/* Steps that wait (transitively) on a step in a cycle, a self-dependent step or a step with a
 * missing dependency can never run: DAG_UNREACHABLE warning naming the blocking step. */
static void report_unreachable(const validator_input *in, acms_arena *a, acms_issues *is)
{
    const acms_dag *d = in->dag;
    const Acms__V1__Pipeline *p = in->pipeline;
    size_t n = d->n;
    size_t *cause = acms_arena_alloc(a, (n + 1) * sizeof *cause); /* blocking step + 1, 0 = none */
    char *direct = acms_arena_alloc(a, n + 1);
    size_t *queue = acms_arena_alloc(a, (n + 1) * sizeof *queue);
    size_t qh = 0, qt = 0;
    for (size_t i = 0; i < n && i < p->n_steps; i++) {
        const Acms__V1__Step *s = p->steps[i];
        int bad = in->cycle_of[i] != 0;
        for (size_t k = 0; !bad && k < s->n_depends_on; k++) {
            long j = acms_dag_index(d, validator_str(s->depends_on[k]));
            bad = j < 0 || (size_t)j == i;
        }
        if (bad) {
            direct[i] = 1;
            cause[i] = i + 1;
            queue[qt++] = i;
        }
    }
    while (qh < qt) {
        size_t i = queue[qh++];
        for (size_t k = 0; k < d->nsucc[i]; k++) {
            size_t s = d->succ[i][k];
            if (cause[s])
                continue;
            cause[s] = cause[i];
            queue[qt++] = s;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!cause[i] || direct[i])
            continue;
        size_t b = cause[i] - 1;
        const char *why = in->cycle_of[b] ? "is in a dependency cycle" : "has a missing or self dependency";
        validator_step_issue(in, is, i, "depends_on", "DAG_UNREACHABLE", "warning",
                             "step '%s' can never run: it waits (directly or through other steps) on '%s', which %s",
                             d->names[i], d->names[b], why);
    }
}

/* --- value ranges ------------------------------------------------------------------------------------ */

/* Is key written in the step's document node (so a 0 in the typed step was written, not absent)? */
static int doc_has(const Acms__V1__Value *node, const char *key)
{
    return node && acms_value_get(node, key) != NULL;
}

static void range_u(const validator_input *in, acms_issues *is, size_t i, const Acms__V1__Value *node,
                    const char *field, uint64_t v, uint64_t min, uint64_t max, const char *unit)
{
    int zero_written = v == 0 && doc_has(node, field);
    if (!zero_written && v <= max)
        return; /* 0 not written means "unset": the default applies */
    uint64_t fix = v > max ? max : min;
    Acms__V1__ValidationIssue *x = validator_step_issue(
        in, is, i, field, "VALUE_OUT_OF_RANGE", "error", "%s is %llu%s; allowed %llu..%llu%s", field,
        (unsigned long long)v, unit, (unsigned long long)min, (unsigned long long)max, unit);
    acms_issue_suggest(is, x, "VALUE_OUT_OF_RANGE:clamp", "pattern", 0.6, validator_step_path(is->arena, i, field),
                       acms_arena_printf(is->arena, "%llu", (unsigned long long)fix), "set %s to %llu", field,
                       (unsigned long long)fix);
}

/* retry_policy is one of the three names; backoff values are not negative nor above a day. */
static void check_retry(const validator_input *in, acms_issues *is, size_t i, const Acms__V1__Step *s)
{
    if (acms_retry_parse(s->retry_policy) < 0) {
        Acms__V1__ValidationIssue *x = validator_step_issue(
            in, is, i, "retry_policy", "VALUE_OUT_OF_RANGE", "error",
            "retry_policy '%.40s' is unknown: on_failure (any failure), on_error (OOM, timeout, lost, interrupted) "
            "or never",
            s->retry_policy);
        acms_issue_suggest(is, x, "VALUE_OUT_OF_RANGE:retry-policy", "pattern", 0.6,
                           validator_step_path(is->arena, i, "retry_policy"), "on_failure",
                           "set retry_policy to on_failure");
    }
    const char *names[] = {"retry_backoff_s", "retry_backoff_factor", "retry_backoff_max_s"};
    double v[] = {s->retry_backoff_s, s->retry_backoff_factor, s->retry_backoff_max_s};
    for (size_t k = 0; k < 3; k++)
        if (!(v[k] >= 0 && v[k] <= ACMS_RETRY_LIMIT_S))
            validator_step_issue(in, is, i, names[k], "VALUE_OUT_OF_RANGE", "error", "%s is %g; allowed 0..%g",
                                 names[k], v[k], ACMS_RETRY_LIMIT_S);
}

static void check_ranges(const validator_input *in, acms_issues *is, size_t i, const Acms__V1__Step *s)
{
    const Acms__V1__Value *node = validator_doc_node(in, i, NULL);
    range_u(in, is, i, node, "instance_count", s->instance_count, 1, VALIDATOR_MAX_INSTANCE_COUNT, "");
    range_u(in, is, i, node, "volume_size_gb", s->volume_size_gb, 1, VALIDATOR_MAX_VOLUME_GB, " GB");
    range_u(in, is, i, node, "max_runtime_s", s->max_runtime_s, 1, VALIDATOR_MAX_RUNTIME_S, " s");
    if (s->memory_mb == 0 && doc_has(node, "memory_mb"))
        validator_step_issue(in, is, i, "memory_mb", "VALUE_OUT_OF_RANGE", "error",
                             "memory_mb must be above 0 when set (remove it to use the instance type's memory)");
    if (s->vcpu < 0 || (s->vcpu == 0 && doc_has(node, "vcpu")))
        validator_step_issue(in, is, i, "vcpu", "VALUE_OUT_OF_RANGE", "error", "vcpu must be above 0 when set, got %g",
                             s->vcpu);
    if (s->max_attempts > VALIDATOR_MAX_ATTEMPTS) {
        Acms__V1__ValidationIssue *x = validator_step_issue(in, is, i, "max_attempts", "VALUE_OUT_OF_RANGE", "error",
                                                            "max_attempts is %u; allowed 1..%d", s->max_attempts,
                                                            VALIDATOR_MAX_ATTEMPTS);
        acms_issue_suggest(is, x, "VALUE_OUT_OF_RANGE:clamp", "pattern", 0.6,
                           validator_step_path(is->arena, i, "max_attempts"),
                           acms_arena_printf(is->arena, "%d", VALIDATOR_MAX_ATTEMPTS), "set max_attempts to %d",
                           VALIDATOR_MAX_ATTEMPTS);
    }
    check_retry(in, is, i, s);
}

/* --- cross-field rules ------------------------------------------------------------------------------- */

static void check_duplicates_in_step(const validator_input *in, acms_arena *a, acms_issues *is, size_t i,
                                     const Acms__V1__Step *s)
{
    if (s->n_depends_on > 1) {
        acms_strmap seen;
        acms_strmap_init(&seen, a, s->n_depends_on);
        for (size_t k = 0; k < s->n_depends_on; k++) {
            size_t prev;
            if (acms_strmap_put(&seen, validator_str(s->depends_on[k]), k, &prev))
                continue;
            Acms__V1__ValidationIssue *x = validator_step_issue(
                in, is, i, acms_arena_printf(a, "depends_on[%zu]", k), "DUPLICATE_DEPENDENCY", "warning",
                "step '%s' lists '%s' twice in depends_on (entries %zu and %zu)", validator_str(s->name),
                validator_str(s->depends_on[k]), prev, k);
            acms_issue_suggest(is, x, "DUPLICATE_DEPENDENCY:dedupe", "pattern", 0.9,
                               validator_step_path(a, i, "depends_on"), validator_deps_json(a, s, NULL),
                               "list each dependency once");
            break; /* one issue per step carries the whole fix */
        }
    }
    if (s->n_env > 1) {
        acms_strmap seen;
        acms_strmap_init(&seen, a, s->n_env);
        for (size_t k = 0; k < s->n_env; k++) {
            const char *en = validator_str(s->env[k]->name);
            if (acms_strmap_put(&seen, en, k, NULL))
                continue;
            validator_step_issue(in, is, i, acms_arena_printf(a, "env.%s", en), "DUPLICATE_ENV_VAR", "error",
                                 "environment variable %s is set twice in step '%s'; only one value can win", en,
                                 validator_str(s->name));
        }
    }
}

static int is_type(const Acms__V1__Step *s, const char *t)
{
    return s->type && strcmp(s->type, t) == 0;
}

static void check_cross_fields(const validator_input *in, acms_arena *a, acms_issues *is, size_t i,
                               const Acms__V1__Step *s)
{
    /* 1. training and processing steps produce artefacts: without output_path they are lost */
    if ((is_type(s, "training") || is_type(s, "processing")) && validator_empty(s->output_path)) {
        Acms__V1__ValidationIssue *x = validator_step_issue(
            in, is, i, "output_path", "MISSING_OUTPUT", "warning",
            "%s step '%s' has no output_path: what it produces is lost when it finishes", s->type,
            validator_str(s->name));
        const Acms__V1__Environment *env = in->env;
        if (env && env->n_allowed_output_prefixes > 0 && !validator_empty(env->allowed_output_prefixes[0])) {
            const char *pre = env->allowed_output_prefixes[0];
            size_t l = strlen(pre);
            const char *val = acms_arena_printf(a, "%s%s%s/%s", pre, pre[l - 1] == '/' ? "" : "/",
                                                validator_str(in->pipeline->name), validator_str(s->name));
            acms_issue_suggest(is, x, "MISSING_OUTPUT:allowed-prefix", "pattern", 0.6,
                               validator_step_path(a, i, "output_path"), val, "write the outputs to %s", val);
        }
    }
    /* 2. a VPC needs both subnets and security groups (unless it only isolates the step) */
    const Acms__V1__VpcConfig *v = s->vpc_config;
    if (v && (v->set || v->n_subnets || v->n_security_group_ids) &&
        (v->n_subnets == 0) != (v->n_security_group_ids == 0)) {
        const char *missing = v->n_subnets == 0 ? "subnets" : "security_group_ids";
        validator_step_issue(in, is, i, acms_arena_printf(a, "vpc_config.%s", missing), "VPC_INCOMPLETE", "error",
                             "vpc_config of step '%s' has %s but no %s; a VPC attachment needs both",
                             validator_str(s->name), v->n_subnets ? "subnets" : "security_group_ids", missing);
    }
    /* 3. interruptible (spot) capacity is reclaimed: a single attempt turns every reclaim into a failure */
    if (s->interruptible && s->max_attempts == 1) {
        Acms__V1__ValidationIssue *x = validator_step_issue(
            in, is, i, "max_attempts", "SPOT_NO_RETRY", "warning",
            "step '%s' runs on interruptible capacity with max_attempts 1: a reclaimed instance fails the run",
            validator_str(s->name));
        acms_issue_suggest(is, x, "SPOT_NO_RETRY:retry-3", "pattern", 0.7, validator_step_path(a, i, "max_attempts"),
                           "3", "allow 3 attempts so a reclaimed step is retried");
    }
    check_duplicates_in_step(in, a, is, i, s);
}

/* Two steps writing the same output location overwrite each other. */
static void check_output_overlap(const validator_input *in, acms_arena *a, acms_issues *is)
{
    const Acms__V1__Pipeline *p = in->pipeline;
    acms_strmap seen;
    acms_strmap_init(&seen, a, p->n_steps);
    for (size_t i = 0; i < p->n_steps; i++) {
        const char *o = p->steps[i]->output_path;
        if (validator_empty(o))
            continue;
        size_t l = strlen(o);
        while (l > 1 && o[l - 1] == '/')
            l--;
        const char *key = acms_arena_strndup(a, o, l);
        size_t prev;
        if (acms_strmap_put(&seen, key, i, &prev))
            continue;
        Acms__V1__ValidationIssue *x = validator_step_issue(
            in, is, i, "output_path", "DUPLICATE_OUTPUT_PATH", "warning",
            "steps '%s' and '%s' both write to %s; the later one overwrites the earlier one's outputs",
            validator_str(p->steps[prev]->name), validator_str(p->steps[i]->name), key);
        const char *val = acms_arena_printf(a, "%s/%s", key, validator_str(p->steps[i]->name));
        acms_issue_suggest(is, x, "DUPLICATE_OUTPUT_PATH:per-step", "pattern", 0.6,
                           validator_step_path(a, i, "output_path"), val, "give the step its own location, e.g. %s",
                           val);
    }
}

int validator_semantic(validator_input *in, acms_arena *a, acms_issues *is)
{
    const Acms__V1__Pipeline *p = in->pipeline;
    if (p == NULL)
        return ACMS_OK;
    size_t from = is->n;
    acms_dag *d = NULL;
    (void)acms_dag_build(a, p, &d, is);
    in->dag = d;
    in->cycle_of = acms_arena_alloc(a, (d->n + 1) * sizeof *in->cycle_of);
    if (d->n > 0) {
        uint32_t ncycles = d->acyclic ? 0 : find_cycles(a, d, in->cycle_of);
        if (ncycles)
            report_cycles(in, a, is, from, ncycles);
        report_unreachable(in, a, is);
    }
    for (size_t i = 0; i < p->n_steps; i++) {
        check_ranges(in, is, i, p->steps[i]);
        check_cross_fields(in, a, is, i, p->steps[i]);
    }
    check_output_overlap(in, a, is);
    return ACMS_OK;
}
