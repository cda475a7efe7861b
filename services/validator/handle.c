/* handle.c: one message of the validator's input topics, to the handler of its topic, with an
 * arena that lives as long as the message's handling. */
#include "validator/handlers.h"

int validator_handle(const validator_ctx *c, acms_service *svc, const acms_msg *msg, const char **reason)
{
    int topic = acms_cfg_topic_id(acms_service_cfg(svc), msg->topic);
    acms_arena *a = acms_arena_new(0);
    int rc;
    if (topic == ACMS_TOPIC_CONFIG_PREPARED)
        rc = validator_on_prepared(c, svc, a, msg, reason);
    else if (topic == ACMS_TOPIC_EXEC_STEPS)
        rc = validator_on_step(c, svc, a, msg, reason);
    else {
        *reason = "message from a topic this service does not consume";
        rc = ACMS_ERR_POISON;
    }
    acms_arena_free(a);
    return rc;
}
