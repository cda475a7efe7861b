/* plan.h: the ExecutionPlanner (plan.c) and the states of a step. From a runtime configuration and
 * its acyclic step graph: each step's rank (longest weighted path to a sink), the critical path and
 * the steps to start now. Pure: plain structs in, no I/O, no bus or store; everything it allocates
 * lives in the caller's arena. Step indices are the dag's, which are the document's order. */
#ifndef ACMS_COORD_PLAN_H
#define ACMS_COORD_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "dag.h"
#include "pb.h"

#define COORD_DEFAULT_PARALLEL 4

typedef enum coord_step_state {
    COORD_STEP_PENDING = 0, /* not started yet */
    COORD_STEP_RETRY,       /* an attempt failed; the next one starts at not_before */
    COORD_STEP_RUNNING,
    COORD_STEP_SUCCEEDED,
    COORD_STEP_FAILED,
    COORD_STEP_SKIPPED, /* never started: a dependency failed or the run failed */
    COORD_STEP_CANCELLED,
} coord_step_state;

/* Redis/StepEvent spelling: pending retrying running succeeded failed skipped cancelled. */
const char *coord_state_name(coord_step_state s);
/* Inverse of coord_state_name; -1 when unknown. */
int coord_state_parse(const char *s);
int coord_state_terminal(coord_step_state s);

typedef struct coord_plan {
    const acms_dag *dag;
    double *weight;   /* per step: max_runtime_s, 60 when unset */
    double *rank;     /* longest weighted path from the step to a sink, itself included */
    size_t *critical; /* the critical path, step indices in order */
    size_t ncritical;
    double critical_s;
    uint32_t max_parallel;
} coord_plan;

/* pipeline.max_parallel, else environment.max_parallel, else COORD_DEFAULT_PARALLEL. */
uint32_t coord_plan_max_parallel(const Acms__V1__RuntimeConfiguration *rc);
/* Builds the plan in the arena from an acyclic dag whose indices are rc's steps. ACMS_OK or
 * ACMS_ERR_INVALID (cyclic or mismatched dag). */
int coord_plan_build(acms_arena *a, const Acms__V1__RuntimeConfiguration *rc, const acms_dag *dag, coord_plan **out);
/* Steps to start now: PENDING with every dependency SUCCEEDED, or RETRY with not_before <= now
 * (not_before may be NULL), at most max_parallel minus the RUNNING count of them, longest remaining
 * path first (ties: document order). Writes indices to out (capacity cap); returns the count. */
size_t coord_plan_ready(const coord_plan *p, const coord_step_state *st, const int64_t *not_before, int64_t now,
                        size_t *out, size_t cap);
/* PENDING steps that can never start: a dependency FAILED, SKIPPED or CANCELLED, transitively
 * (one pass in topological order). Returns the count written to out (capacity dag->n). */
size_t coord_plan_blocked(const coord_plan *p, const coord_step_state *st, size_t *out);

#endif
