/* run_feedback.h: a run's totals over its step outcomes, its record (acms:feedback:run:<run>), the
 * fix_effective insights its validation earned and the ExecutionFeedback published for it. */
#ifndef FEEDBACK_RUN_FEEDBACK_H
#define FEEDBACK_RUN_FEEDBACK_H

#include "feedback.h"
#include "outcome.h"
#include "apply.h"

typedef struct feedback_run_totals {
    size_t steps, succeeded, kills, recs;
    uint32_t attempts;
    double cost, hours, wasted, median_slack;
    int has_slack;
} feedback_run_totals;

/* Sums n outcomes; recs is left 0 (the caller counts the recommendations it writes). */
void feedback_run_totals_of(acms_arena *a, const feedback_outcome *o, size_t n, feedback_run_totals *t);
/* Fills *op with the run's record and returns it. */
const feedback_hash_op *feedback_run_op(feedback_job *j, const Acms__V1__ExecutionResult *res,
                                        const feedback_run_totals *t, feedback_hash_op *op);
/* The fix_effective insights of this run: suggestions its validation credited as resolved (fixes.h),
 * each with its record so far, in j->a. ACMS_OK or ACMS_ERR_RETRY. */
int feedback_run_fix_insights(feedback_job *j, const char *pipeline, Acms__V1__LearningInsight ***v, size_t *n);
/* Publishes the run's ExecutionFeedback and waits until the broker acknowledged it.
 * ACMS_OK or ACMS_ERR_RETRY. */
int feedback_run_publish(feedback_job *j, const Acms__V1__ExecutionResult *res, const feedback_outcome *o, size_t n,
                         const feedback_run_totals *t, Acms__V1__LearningInsight **ins, size_t nins);

#endif
