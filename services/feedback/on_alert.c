/* on_alert.c: an Alert -> the pipeline's alert counts (acms:feedback:alerts:<pipeline>), counted
 * once per alert event under its seen-mark. */
#include "feedback.h"
#include "apply.h"

int feedback_on_alert(feedback_job *j, const Acms__V1__Alert *al, const char **reason)
{
    if (!al->name || !*al->name || !al->pipeline || !*al->pipeline) {
        *reason = "alert without name or pipeline";
        return ACMS_ERR_POISON;
    }
    feedback_hash_op op = {.key = feedback_key_alerts(j->a, al->pipeline)};
    acms_hash_op_add(j->a, &op.incr, &op.nincr, al->name, "1");
    int rc = feedback_apply(j->r, feedback_key_seen(j->a, j->id), &op, 1);
    if (rc < 0)
        return ACMS_ERR_RETRY;
    if (rc == 1)
        feedback_count(j, "acms_feedback_alerts_total", acms_arena_printf(j->a, "alertname=\"%s\"", al->name),
                       "Alerts counted per pipeline", 1);
    return ACMS_OK;
}
