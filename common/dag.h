/* dag.h: the step graph of a pipeline. Built once from depends_on; reports duplicate names,
 * missing and self dependencies and cycles (with the cycle's steps) as issues. When the graph is
 * acyclic, order[] is a topological order (stable: ties keep document order). */
#ifndef ACMS_DAG_H
#define ACMS_DAG_H

#include "issue.h"

typedef struct acms_dag {
    size_t n;
    const char **names; /* names[i] = step i's name (document order) */
    size_t **deps;      /* deps[i][k]: indices of i's dependencies */
    size_t *ndeps;
    size_t **succ; /* succ[i][k]: indices of steps depending on i */
    size_t *nsucc;
    size_t *order; /* topological order, valid when acyclic */
    size_t *depth; /* 0 for roots, else 1 + max depth of deps */
    int acyclic;
} acms_dag;

/* Builds the graph of p in the arena. issues may be NULL. Codes reported: DAG_EMPTY,
 * DAG_DUPLICATE_STEP, DAG_SELF_DEPENDENCY, DAG_MISSING_DEPENDENCY, DAG_CYCLE.
 * Returns ACMS_OK when the graph is usable (acyclic, no duplicates or missing deps), else ACMS_ERR_INVALID
 * (the dag is still returned for inspection). */
int acms_dag_build(acms_arena *a, const Acms__V1__Pipeline *p, acms_dag **out, acms_issues *issues);
/* Index of a step by name, or -1. */
long acms_dag_index(const acms_dag *d, const char *name);
/* Longest path by weight (e.g. expected seconds per step): writes step indices into path (capacity
 * d->n), returns its length and the total weight in *total. Requires acyclic. */
size_t acms_dag_critical_path(const acms_dag *d, const double *weight, size_t *path, double *total);

#endif
