/* feedback.h: the feedback service's handling of one event. A feedback_job is one event in hand,
 * living in its own arena. Handlers return ACMS_OK, ACMS_ERR_RETRY (nothing lost: the event is
 * redelivered) or ACMS_ERR_POISON (dead-lettered with *reason). Every handler applies its Redis
 * effects together with the event's seen-mark in one script (apply.h), so a redelivery never
 * doubles a counter. */
#ifndef FEEDBACK_FEEDBACK_H
#define FEEDBACK_FEEDBACK_H

#include "service.h"

#define FEEDBACK_SOURCE "acms-feedback"
#define FEEDBACK_APPLY_TRIES 8 /* version conflicts tolerated before the event is retried */

typedef struct feedback_job {
    acms_service *svc;
    acms_redis *r;
    acms_metrics *metrics;
    acms_arena *a;
    const char *run;
    const char *id;
    const char *traceparent;
} feedback_job;

/* handle.c: decodes one message of an input topic and hands it to its handler. */
int feedback_handle(acms_service *svc, const acms_msg *m, const char **reason);

/* on_result.c: an ExecutionResult -> step outcomes, decayed usage history, recommendations and one
 * ExecutionFeedback (acknowledged by the broker before the Redis effects are applied). */
int feedback_on_result(feedback_job *j, const Acms__V1__ExecutionResult *res, const char **reason);
/* on_validation.c: a ValidationResultEvent -> fix statistics. */
int feedback_on_validation(feedback_job *j, const Acms__V1__ValidationResultEvent *ev);
/* on_alert.c: an Alert -> the pipeline's alert counts. */
int feedback_on_alert(feedback_job *j, const Acms__V1__Alert *al, const char **reason);

/* Adds v to a counter of the service's metrics (none in tests). */
void feedback_count(feedback_job *j, const char *name, const char *labels, const char *help, double v);

#endif
