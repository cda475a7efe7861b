/* report.h: what the coordinator tells the bus about a run (report.c, summary.c): StepEvents, the
 * ExecutionResult with its failure analysis, and the run's summary. Everything in the caller's
 * arena; event ids derived from the run's cause are stable, so a resumed run re-publishing the
 * same facts is de-duplicated downstream. */
#ifndef ACMS_COORD_REPORT_H
#define ACMS_COORD_REPORT_H

#include <stddef.h>

#include "pb.h"
#include "run.h"

/* report.c */
/* A StepEvent of a step in the arena (salt NULL = random id; else derived from the run's cause). */
Acms__V1__StepEvent *coord_report_step(acms_arena *a, const coord_run *r, const coord_step *s,
                                       Acms__V1__StepEventKind kind, const char *salt);
Acms__V1__StepEvent *coord_report_run(acms_arena *a, const coord_run *r, Acms__V1__StepEventKind kind,
                                      const char *status, const char *message);
Acms__V1__StepMetrics *coord_report_metrics(acms_arena *a, const coord_attempt *at);
/* The run's final status: cancelled | failed | succeeded. */
const char *coord_report_status(const coord_run *r);
/* The ExecutionResult of a finished run; runtime adaptation records are appended to the log. */
Acms__V1__ExecutionResult *coord_report_result(acms_arena *a, const coord_run *r,
                                               Acms__V1__AdaptationRecord *const *runtime, size_t nruntime);

/* summary.c: the run's summary (per step: status, times, exit reason, peak, message, attempts with
 * reason, cause and recovery) as JSON, written with the terminal status; a compacted run is read
 * back from it. malloc'd (cJSON_free), NULL when out of memory. */
char *coord_summary_json(const coord_run *r);

/* Shrinks a result whose packed size exceeds limit: stderr tails first, then all attempts but the
 * last of each step. Returns the packed size after trimming. */
size_t coord_report_fit(acms_arena *a, Acms__V1__ExecutionResult *res, size_t limit);

#endif
