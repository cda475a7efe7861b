/* dag.c: the step graph. Names are looked up through a string map (strmap.h) so building is
 * linear in steps + edges; cycle detection is Kahn's algorithm, and the steps left over are
 * walked once more to name one cycle in the issue. */
#include "dag.h"

#include "strmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* name -> step index, or -1 when there is no such step. */
static long index_get(const acms_strmap *ix, const char *name)
{
    size_t i;
    return acms_strmap_get(ix, name, &i) ? (long)i : -1;
}

typedef struct {
    acms_dag d;
    acms_strmap ix; /* step name -> index (the arena's) */
} dag_impl;

long acms_dag_index(const acms_dag *d, const char *name)
{
    const dag_impl *impl = (const dag_impl *)d;
    return index_get(&impl->ix, name);
}

static void dag_alloc(acms_arena *a, dag_impl *impl, size_t n)
{
    acms_dag *d = &impl->d;
    d->n = n;
    d->names = acms_arena_alloc(a, (n + 1) * sizeof *d->names);
    d->deps = acms_arena_alloc(a, (n + 1) * sizeof *d->deps);
    d->ndeps = acms_arena_alloc(a, (n + 1) * sizeof *d->ndeps);
    d->succ = acms_arena_alloc(a, (n + 1) * sizeof *d->succ);
    d->nsucc = acms_arena_alloc(a, (n + 1) * sizeof *d->nsucc);
    d->order = acms_arena_alloc(a, (n + 1) * sizeof *d->order);
    d->depth = acms_arena_alloc(a, (n + 1) * sizeof *d->depth);
    acms_strmap_init(&impl->ix, a, n);
}

/* Names every step and indexes it; a duplicate name is an issue. Returns 1 when all are unique. */
static int dag_names(dag_impl *impl, const Acms__V1__Pipeline *p, acms_issues *issues)
{
    acms_dag *d = &impl->d;
    int usable = 1;
    for (size_t i = 0; i < d->n; i++) {
        const char *name = p->steps[i]->name ? p->steps[i]->name : "";
        d->names[i] = name;
        size_t prev = 0;
        if (acms_strmap_put(&impl->ix, name, i, &prev) != 0)
            continue; /* added (the arena's memory: a put cannot fail) */
        usable = 0;
        if (!issues)
            continue;
        char path[64];
        snprintf(path, sizeof path, "spec.steps[%zu].name", i);
        Acms__V1__ValidationIssue *is = acms_issue_add(issues, "DAG_DUPLICATE_STEP", "error", path, NULL,
                                                       "step name '%s' is used by steps %zu and %zu", name, prev, i);
        is->line = p->steps[i]->line;
        acms_issue_suggest(issues, is, "DAG_DUPLICATE_STEP:rename", "pattern", 0.6, path,
                           acms_arena_printf(issues->arena, "%s-%zu", name, i),
                           "give the second step a unique name, e.g. '%s-%zu'", name, i);
    }
    return usable;
}

/* Step i depends on dep, which is no step: the issue, with the nearest existing name. */
static void dag_missing_issue(const acms_dag *d, const Acms__V1__Step *s, size_t i, const char *dep, const char *path,
                              acms_issues *issues)
{
    Acms__V1__ValidationIssue *is = acms_issue_add(issues, "DAG_MISSING_DEPENDENCY", "error", path, NULL,
                                                   "step '%s' depends on '%s', which is not a step of this pipeline",
                                                   d->names[i], dep);
    is->line = s->line;
    size_t best = 3;
    const char *bn = NULL;
    for (size_t m = 0; m < d->n; m++) {
        size_t dist = acms_edit_distance(dep, d->names[m], 2);
        if (dist < best && m != i) {
            best = dist;
            bn = d->names[m];
        }
    }
    if (bn)
        acms_issue_suggest(issues, is, "DAG_MISSING_DEPENDENCY:did-you-mean", "pattern", 0.8, path, bn,
                           "did you mean '%s'?", bn);
    acms_issue_suggest(issues, is, "DAG_MISSING_DEPENDENCY:remove", "pattern", 0.4, path, "",
                       "remove the dependency on '%s'", dep);
}

/* Resolves depends_on into deps/succ and counts in-degrees; a missing or self dependency is an
 * issue and no edge. Returns 1 when every dependency resolved. */
static int dag_edges(acms_arena *a, dag_impl *impl, const Acms__V1__Pipeline *p, size_t *indeg, acms_issues *issues)
{
    acms_dag *d = &impl->d;
    int usable = 1;
    for (size_t i = 0; i < d->n; i++) {
        const Acms__V1__Step *s = p->steps[i];
        for (size_t k = 0; k < s->n_depends_on; k++) {
            const char *dep = s->depends_on[k];
            long j = index_get(&impl->ix, dep);
            if (j < 0 || (size_t)j == i) {
                char path[80]; /* the path names an issue: formatted only then */
                snprintf(path, sizeof path, "spec.steps[%zu].depends_on[%zu]", i, k);
                usable = 0;
                if (issues && j < 0)
                    dag_missing_issue(d, s, i, dep, path, issues);
                else if (issues) {
                    Acms__V1__ValidationIssue *is = acms_issue_add(issues, "DAG_SELF_DEPENDENCY", "error", path, NULL,
                                                                   "step '%s' depends on itself", d->names[i]);
                    is->line = s->line;
                    acms_issue_suggest(issues, is, "DAG_SELF_DEPENDENCY:remove", "pattern", 0.9, path, "",
                                       "remove '%s' from its own depends_on", dep);
                }
                continue;
            }
            d->deps[i] = acms_arena_push(a, d->deps[i], &d->ndeps[i], sizeof *d->deps[i]);
            d->deps[i][d->ndeps[i] - 1] = (size_t)j;
            d->succ[j] = acms_arena_push(a, d->succ[j], &d->nsucc[j], sizeof *d->succ[j]);
            d->succ[j][d->nsucc[j] - 1] = i;
            indeg[i]++;
        }
    }
    return usable;
}

/* Kahn, stable: a FIFO seeded in document order. Fills order and depth; leaves indeg > 0 on the
 * steps that are on or behind a cycle. Returns 1 when acyclic. */
static int dag_order(acms_arena *a, acms_dag *d, size_t *indeg)
{
    size_t n = d->n;
    size_t *queue = acms_arena_alloc(a, n * sizeof *queue);
    size_t qh = 0, qt = 0, done = 0;
    for (size_t i = 0; i < n; i++)
        if (indeg[i] == 0)
            queue[qt++] = i;
    while (qh < qt) {
        size_t i = queue[qh++];
        d->order[done++] = i;
        for (size_t k = 0; k < d->nsucc[i]; k++) {
            size_t s = d->succ[i][k];
            if (d->depth[s] < d->depth[i] + 1)
                d->depth[s] = d->depth[i] + 1;
            if (--indeg[s] == 0)
                queue[qt++] = s;
        }
    }
    return done == n;
}

/* The first dependency of c among the leftover steps (c itself when it has none). */
static size_t leftover_dep(const acms_dag *d, const size_t *indeg, size_t c)
{
    for (size_t k = 0; k < d->ndeps[c]; k++)
        if (indeg[d->deps[c][k]] != 0)
            return d->deps[c][k];
    return c;
}

/* Names one cycle among the leftover steps in a DAG_CYCLE issue: dependencies are walked until a
 * step repeats, and that step is on a cycle. */
static void dag_cycle_issue(acms_arena *a, const acms_dag *d, const Acms__V1__Pipeline *p, const size_t *indeg,
                            acms_issues *issues)
{
    size_t n = d->n, start = 0;
    while (indeg[start] == 0)
        start++;
    char *seen = acms_arena_alloc(a, n);
    size_t cur = start;
    while (!seen[cur]) {
        seen[cur] = 1;
        cur = leftover_dep(d, indeg, cur);
    }
    char buf[1024]; /* cur is on the cycle: print it */
    size_t off = 0;
    size_t c = cur, last = cur, len = 0;
    do {
        int w = snprintf(buf + off, sizeof buf - off, "%s%s", len ? " -> " : "", d->names[c]);
        if (w > 0 && (size_t)w < sizeof buf - off)
            off += (size_t)w;
        len++;
        last = c;
        c = leftover_dep(d, indeg, c);
    } while (c != cur && len < n);
    snprintf(buf + off, sizeof buf - off, " -> %s", d->names[cur]);
    char path[64];
    snprintf(path, sizeof path, "spec.steps[%zu].depends_on", last);
    Acms__V1__ValidationIssue *is = acms_issue_add(issues, "DAG_CYCLE", "error", path, NULL,
                                                   "dependency cycle: %s (each step waits for the next)", buf);
    is->line = p->steps[last]->line;
    acms_issue_suggest(issues, is, "DAG_CYCLE:break", "pattern", 0.7, path, d->names[cur],
                       "break the cycle: remove '%s' from the depends_on of step '%s'", d->names[cur], d->names[last]);
}

int acms_dag_build(acms_arena *a, const Acms__V1__Pipeline *p, acms_dag **out, acms_issues *issues)
{
    dag_impl *impl = acms_arena_alloc(a, sizeof *impl);
    acms_dag *d = &impl->d;
    size_t n = p ? p->n_steps : 0;
    *out = d;
    dag_alloc(a, impl, n);
    if (n == 0) {
        if (issues)
            acms_issue_add(issues, "DAG_EMPTY", "error", "spec.steps", NULL, "the pipeline has no steps");
        d->acyclic = 1;
        return ACMS_ERR_INVALID;
    }
    int usable = dag_names(impl, p, issues);
    size_t *indeg = acms_arena_alloc(a, n * sizeof *indeg);
    usable &= dag_edges(a, impl, p, indeg, issues);
    d->acyclic = dag_order(a, d, indeg);
    if (!d->acyclic) {
        usable = 0;
        if (issues)
            dag_cycle_issue(a, d, p, indeg, issues);
    }
    return usable ? ACMS_OK : ACMS_ERR_INVALID;
}

size_t acms_dag_critical_path(const acms_dag *d, const double *weight, size_t *path, double *total)
{
    if (!d->acyclic || d->n == 0) {
        *total = 0;
        return 0;
    }
    double best_total = -1;
    size_t best_end = 0;
    double *dist = malloc(d->n * sizeof *dist);
    long *prev = malloc(d->n * sizeof *prev);
    if (!dist || !prev) {
        free(dist);
        free(prev);
        *total = 0;
        return 0;
    }
    for (size_t k = 0; k < d->n; k++) {
        size_t i = d->order[k];
        dist[i] = weight ? weight[i] : 1.0;
        prev[i] = -1;
        for (size_t m = 0; m < d->ndeps[i]; m++) {
            size_t j = d->deps[i][m];
            double c = dist[j] + (weight ? weight[i] : 1.0);
            if (c > dist[i]) {
                dist[i] = c;
                prev[i] = (long)j;
            }
        }
        if (dist[i] > best_total) {
            best_total = dist[i];
            best_end = i;
        }
    }
    size_t len = 0;
    for (long c = (long)best_end; c >= 0; c = prev[c])
        path[len++] = (size_t)c;
    for (size_t i = 0; i < len / 2; i++) {
        size_t t = path[i];
        path[i] = path[len - 1 - i];
        path[len - 1 - i] = t;
    }
    *total = best_total;
    free(dist);
    free(prev);
    return len;
}
