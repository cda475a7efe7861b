/* acms.c: return-code names, default topic names and clocks shared by every module. */
#include "acms.h"

#include <time.h>

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

const char *acms_strerror(int code)
{
    switch (code) {
    case ACMS_OK: return "ok";
    case ACMS_ERR: return "error";
    case ACMS_ERR_RETRY: return "transient failure, retry";
    case ACMS_ERR_POISON: return "unprocessable input";
    case ACMS_ERR_NOTFOUND: return "not found";
    case ACMS_ERR_INVALID: return "invalid input";
    case ACMS_ERR_NOMEM: return "out of memory";
    case ACMS_ERR_LIMIT: return "input limit exceeded";
    default: return "unknown error";
    }
}

int64_t acms_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t acms_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
