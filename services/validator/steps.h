/* steps.h: facts about a pipeline's steps that the levels share: the known step types and a step's
 * effective memory. Pure functions. */
#ifndef ACMS_VALIDATOR_STEPS_H
#define ACMS_VALIDATOR_STEPS_H

#include "validator.h"

/* Known step types: processing training evaluation transform custom. */
extern const char *const validator_step_types[5];
/* Whether t is one of validator_step_types. */
int validator_step_type_known(const char *t);
/* The effective memory of a step in MiB: resources.memory_mb, else memory_mb, else its instance
 * type's memory from the catalogue (c may be NULL), else 0. */
uint64_t validator_step_memory_mb(const Acms__V1__Step *s, const acms_catalog *c);

#endif
