/* topic_names.c: the default name of every topic (acms.h); ACMS_TOPIC_<NAME> overrides it (cfg.c). */
#include "acms.h"

static const char *const topic_names[ACMS_TOPIC__COUNT] = {
    [ACMS_TOPIC_CONFIG_SUBMITTED] = "acms.config.submitted",
    [ACMS_TOPIC_CONFIG_PREPARED] = "acms.config.prepared",
    [ACMS_TOPIC_CONFIG_VALIDATED] = "acms.config.validated",
    [ACMS_TOPIC_VALIDATION_RESULTS] = "acms.validation.results",
    [ACMS_TOPIC_EXEC_STEPS] = "acms.exec.steps",
    [ACMS_TOPIC_EXEC_RESULTS] = "acms.exec.results",
    [ACMS_TOPIC_EXEC_ADAPTATIONS] = "acms.exec.adaptations",
    [ACMS_TOPIC_EXEC_ADAPTED] = "acms.exec.adapted",
    [ACMS_TOPIC_MONITOR_ALERTS] = "acms.monitor.alerts",
    [ACMS_TOPIC_FEEDBACK_INSIGHTS] = "acms.feedback.insights",
    [ACMS_TOPIC_CONTROL] = "acms.control",
    [ACMS_TOPIC_DEADLETTER] = "acms.deadletter",
};

const char *acms_topic_default_name(acms_topic t)
{
    if ((int)t < 0 || t >= ACMS_TOPIC__COUNT)
        return "";
    return topic_names[t];
}
