/* plan.c: the ExecutionPlanner. From a runtime configuration and its step graph: the concurrency
 * limit, each step's rank (longest weighted path to a sink, weights = max_runtime_s) and the ready
 * set for given step states. Pure: no I/O; everything allocated lives in the caller's arena. */
#include "plan.h"

#include <stdlib.h>
#include <string.h>

#include "name_table.h"

#if defined(_RDKAFKA_H_) || defined(__HIREDIS_H)
#error "pure: no Kafka or Redis header may reach this file"
#endif

static const char *const state_names[] = {"pending", "retrying", "running",  "succeeded",
                                          "failed",  "skipped",  "cancelled"};

const char *coord_state_name(coord_step_state s)
{
    return acms_name_of(state_names, ACMS_NAMES_LEN(state_names), (unsigned)s, "unknown");
}

int coord_state_parse(const char *s)
{
    return acms_name_index(state_names, ACMS_NAMES_LEN(state_names), s);
}

int coord_state_terminal(coord_step_state s)
{
    return s == COORD_STEP_SUCCEEDED || s == COORD_STEP_FAILED || s == COORD_STEP_SKIPPED || s == COORD_STEP_CANCELLED;
}

uint32_t coord_plan_max_parallel(const Acms__V1__RuntimeConfiguration *rc)
{
    if (rc && rc->pipeline && rc->pipeline->max_parallel)
        return rc->pipeline->max_parallel;
    if (rc && rc->environment && rc->environment->max_parallel)
        return rc->environment->max_parallel;
    return COORD_DEFAULT_PARALLEL;
}

int coord_plan_build(acms_arena *a, const Acms__V1__RuntimeConfiguration *rc, const acms_dag *dag, coord_plan **out)
{
    *out = NULL;
    if (!rc || !rc->pipeline || !dag || !dag->acyclic || dag->n != rc->pipeline->n_steps)
        return ACMS_ERR_INVALID;
    size_t n = dag->n;
    coord_plan *p = acms_arena_alloc(a, sizeof *p);
    p->dag = dag;
    p->max_parallel = coord_plan_max_parallel(rc);
    p->weight = acms_arena_alloc(a, (n ? n : 1) * sizeof *p->weight);
    p->rank = acms_arena_alloc(a, (n ? n : 1) * sizeof *p->rank);
    p->critical = acms_arena_alloc(a, (n ? n : 1) * sizeof *p->critical);
    for (size_t i = 0; i < n; i++) {
        const Acms__V1__Step *s = rc->pipeline->steps[i];
        p->weight[i] = s->max_runtime_s ? (double)s->max_runtime_s : 60.0;
    }
    /* rank: reverse topological order, rank[i] = weight[i] + max over successors */
    for (size_t k = n; k-- > 0;) {
        size_t i = dag->order[k];
        double best = 0;
        for (size_t m = 0; m < dag->nsucc[i]; m++)
            if (p->rank[dag->succ[i][m]] > best)
                best = p->rank[dag->succ[i][m]];
        p->rank[i] = p->weight[i] + best;
    }
    p->ncritical = n ? acms_dag_critical_path(dag, p->weight, p->critical, &p->critical_s) : 0;
    *out = p;
    return ACMS_OK;
}

static int deps_succeeded(const acms_dag *d, const coord_step_state *st, size_t i)
{
    for (size_t k = 0; k < d->ndeps[i]; k++)
        if (st[d->deps[i][k]] != COORD_STEP_SUCCEEDED)
            return 0;
    return 1;
}

size_t coord_plan_ready(const coord_plan *p, const coord_step_state *st, const int64_t *not_before, int64_t now,
                        size_t *out, size_t cap)
{
    const acms_dag *d = p->dag;
    size_t running = 0, nready = 0;
    for (size_t i = 0; i < d->n; i++)
        if (st[i] == COORD_STEP_RUNNING)
            running++;
    if (running >= p->max_parallel)
        return 0;
    size_t limit = p->max_parallel - running;
    if (limit > cap)
        limit = cap;
    if (limit == 0)
        return 0;
    for (size_t i = 0; i < d->n; i++) {
        int ok = 0;
        if (st[i] == COORD_STEP_PENDING)
            ok = deps_succeeded(d, st, i);
        else if (st[i] == COORD_STEP_RETRY)
            ok = !not_before || not_before[i] <= now;
        if (!ok)
            continue;
        /* bounded insertion: out[0..nready) sorted by rank desc, then index asc */
        size_t pos;
        if (nready < limit)
            pos = nready++;
        else if (p->rank[i] > p->rank[out[limit - 1]])
            pos = limit - 1;
        else
            continue;
        while (pos > 0 && p->rank[i] > p->rank[out[pos - 1]]) {
            out[pos] = out[pos - 1];
            pos--;
        }
        out[pos] = i;
    }
    return nready;
}

size_t coord_plan_blocked(const coord_plan *p, const coord_step_state *st, size_t *out)
{
    const acms_dag *d = p->dag;
    size_t nout = 0;
    unsigned char *dead = calloc(d->n ? d->n : 1, 1);
    if (!dead)
        return 0; /* retried on the next tick */
    for (size_t i = 0; i < d->n; i++)
        dead[i] = st[i] == COORD_STEP_FAILED || st[i] == COORD_STEP_SKIPPED || st[i] == COORD_STEP_CANCELLED;
    for (size_t k = 0; k < d->n; k++) {
        size_t i = d->order[k];
        if (st[i] != COORD_STEP_PENDING)
            continue;
        for (size_t m = 0; m < d->ndeps[i]; m++)
            if (dead[d->deps[i][m]]) {
                dead[i] = 1;
                out[nout++] = i;
                break;
            }
    }
    free(dead);
    return nout;
}
