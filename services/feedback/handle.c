/* handle.c: one message of the feedback service's inputs (acms.exec.results,
 * acms.validation.results, acms.monitor.alerts): decoded with the descriptor of its topic, checked
 * for ids and impossible content (dead-lettered with the reason), then handed to its handler. */
#include "feedback.h"
#include "outcome.h"

void feedback_count(feedback_job *j, const char *name, const char *labels, const char *help, double v)
{
    if (j->metrics)
        acms_metrics_add(j->metrics, name, labels, help, v);
}

int feedback_handle(acms_service *svc, const acms_msg *m, const char **reason)
{
    acms_arena *a = acms_arena_new(0);
    int rc = ACMS_ERR_POISON;
    int topic = acms_cfg_topic_id(acms_service_cfg(svc), m->topic);
    const ProtobufCMessageDescriptor *desc = topic == ACMS_TOPIC_EXEC_RESULTS ? &acms__v1__execution_result__descriptor
                                             : topic == ACMS_TOPIC_VALIDATION_RESULTS
                                                 ? &acms__v1__validation_result_event__descriptor
                                             : topic == ACMS_TOPIC_MONITOR_ALERTS ? &acms__v1__alert__descriptor
                                                                                  : NULL;
    if (!desc) {
        *reason = "message from an unexpected topic";
        goto out;
    }
    ProtobufCMessage *msg = acms_pb_decode(a, desc, m->payload, m->len, reason);
    if (!msg)
        goto out;
    const Acms__V1__EventMeta *meta = acms_pb_meta(msg);
    if (!meta || !meta->event_id || !*meta->event_id || !meta->run_id || !*meta->run_id) {
        *reason = "event without event_id or run_id";
        goto out;
    }
    if ((*reason = feedback_input_problem(msg)) != NULL)
        goto out; /* impossible content: dead-lettered */
    feedback_job j = {.svc = svc,
                      .r = acms_service_redis(svc),
                      .metrics = acms_service_metrics(svc),
                      .a = a,
                      .run = meta->run_id,
                      .id = meta->event_id,
                      .traceparent = meta->traceparent};
    if (topic == ACMS_TOPIC_EXEC_RESULTS)
        rc = feedback_on_result(&j, (const Acms__V1__ExecutionResult *)msg, reason);
    else if (topic == ACMS_TOPIC_VALIDATION_RESULTS)
        rc = feedback_on_validation(&j, (const Acms__V1__ValidationResultEvent *)msg);
    else
        rc = feedback_on_alert(&j, (const Acms__V1__Alert *)msg, reason);
out:
    acms_arena_free(a);
    return rc;
}
