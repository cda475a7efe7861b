/* result.h: the validation result and the JSON values of its fixes. Results in the arena passed in. */
#ifndef ACMS_VALIDATOR_RESULT_H
#define ACMS_VALIDATOR_RESULT_H

#include "validator.h"

/* Splits is into r: errors into issues, warnings and info into warnings; valid = no error. */
void validator_result_fill(Acms__V1__ValidationResult *r, acms_arena *a, const acms_issues *is);
/* JSON list of s's depends_on without duplicates and without skip (when not NULL): the value of a
 * patch that sets spec.steps[i].depends_on. */
const char *validator_deps_json(acms_arena *a, const Acms__V1__Step *s, const char *skip);

#endif
