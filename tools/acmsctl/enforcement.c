/* enforcement.c: what `acmsctl prepare` says about each step's promises: for the executor the step
 * runs on, whether each field it asks for is enforced, best effort or not enforced (common/enforce.h).
 * Fields a step does not ask for are shown as "-" (human) or "requested": false (JSON). */
#include <stdio.h>
#include <string.h>

#include "acmsctl.h"
#include "enforce.h"

static const char *short_level(acms_enf_level l)
{
    return l == ACMS_ENF_ENFORCED ? "enforced" : l == ACMS_ENF_BEST_EFFORT ? "best-effort" : "NOT";
}

void ctl_print_enforcement(const Acms__V1__RuntimeConfiguration *rc)
{
    const Acms__V1__Pipeline *p = rc->pipeline;
    printf("\nenforcement per step (enforced | best-effort | NOT enforced | - not asked for; docs/execution.md):\n");
    printf("  %-22s %-9s", "STEP", "EXECUTOR");
    static const char *const heads[ACMS_ENF__COUNT] = {"TYPE",   "MEMORY",  "VCPU",          "GPUS",   "NETWORK",
                                                       "VOLUME", "ENCRYPT", "INTERRUPTIBLE", "RUNTIME"};
    for (int f = 0; f < ACMS_ENF__COUNT; f++)
        printf(" %-12s", heads[f]);
    putchar('\n');
    for (size_t i = 0; i < p->n_steps; i++) {
        const Acms__V1__Step *s = p->steps[i];
        const char *ex = acms_enf_step_executor(s, rc->environment);
        const acms_enf_column *col = acms_enf_executor(ex);
        printf("  %-22s %-9s", s->name, ex);
        for (int f = 0; f < ACMS_ENF__COUNT; f++)
            printf(" %-12s", !col                                       ? "?"
                             : acms_enf_step_asks(s, (acms_enf_field)f) ? short_level(col->cell[f].level)
                                                                        : "-");
        putchar('\n');
    }
}

cJSON *ctl_enforcement_json(const Acms__V1__RuntimeConfiguration *rc)
{
    cJSON *arr = cJSON_CreateArray();
    const Acms__V1__Pipeline *p = rc->pipeline;
    for (size_t i = 0; i < p->n_steps; i++) {
        const Acms__V1__Step *s = p->steps[i];
        const char *ex = acms_enf_step_executor(s, rc->environment);
        const acms_enf_column *col = acms_enf_executor(ex);
        cJSON *o = cJSON_CreateObject(), *fields = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "step", s->name);
        cJSON_AddStringToObject(o, "executor", ex);
        for (int f = 0; col && f < ACMS_ENF__COUNT; f++) {
            cJSON *c = cJSON_CreateObject();
            cJSON_AddStringToObject(c, "level", acms_enf_level_name(col->cell[f].level));
            cJSON_AddBoolToObject(c, "requested", acms_enf_step_asks(s, (acms_enf_field)f));
            cJSON_AddStringToObject(c, "how", col->cell[f].how);
            cJSON_AddItemToObject(fields, acms_enf_field_name((acms_enf_field)f), c);
        }
        cJSON_AddItemToObject(o, "fields", fields);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}
