/* steps.c: facts about a pipeline's steps the levels share (steps.h): the known step types and a
 * step's effective memory. Pure functions. */
#include "steps.h"

#include <string.h>

#include "name_table.h"

const char *const validator_step_types[5] = {"processing", "training", "evaluation", "transform", "custom"};

int validator_step_type_known(const char *t)
{
    return acms_name_index(validator_step_types, ACMS_NAMES_LEN(validator_step_types), t) >= 0;
}

uint64_t validator_step_memory_mb(const Acms__V1__Step *s, const acms_catalog *c)
{
    if (s->resources && s->resources->memory_mb)
        return s->resources->memory_mb;
    if (s->memory_mb)
        return s->memory_mb;
    if (c && !validator_empty(s->instance_type)) {
        const acms_instance_type *t = acms_catalog_find(c, s->instance_type);
        if (t)
            return acms_instance_memory_mb(t);
    }
    return 0;
}
