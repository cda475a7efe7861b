/* main.c: acms-feedback (FeedbackCollector) wiring only. Consumes acms.exec.results,
 * acms.validation.results and acms.monitor.alerts; produces acms.feedback.insights and the learned
 * models in Redis. Messages are decoded in handle.c and handled in on_result.c, on_validation.c and
 * on_alert.c. */
#include "feedback.h"

static int init(acms_service *svc, void **out, char *errstr, size_t errstr_size)
{
    (void)errstr;
    (void)errstr_size;
    const acms_profiles *p = acms_service_profiles(svc);
    acms_log_info(NULL, NULL, "feedback: catalogue of %zu instance types, %zu environments", p ? p->catalog.n : 0,
                  p ? p->nenvs : 0);
    *out = NULL;
    return ACMS_OK;
}

static int handle(void *ctx, acms_service *svc, const acms_msg *m, const char **reason)
{
    (void)ctx;
    return feedback_handle(svc, m, reason);
}

int main(int argc, char **argv)
{
    static const acms_topic inputs[] = {ACMS_TOPIC_EXEC_RESULTS, ACMS_TOPIC_VALIDATION_RESULTS,
                                        ACMS_TOPIC_MONITOR_ALERTS};
    static const acms_service_ops ops = {
        .name = FEEDBACK_SOURCE,
        .summary = "FeedbackCollector: outcomes, decayed usage history, recommendations, fix statistics",
        .extra_help = NULL,
        .inputs = inputs,
        .ninputs = sizeof inputs / sizeof inputs[0],
        .needs_profiles = 1,
        .init = init,
        .handle = handle,
    };
    return acms_service_main(argc, argv, &ops);
}
