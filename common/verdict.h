/* verdict.h: the verdict a rejected run keeps in its record (acms:run:<run> field "validation"), so
 * `acmsctl submit --wait`, `status` and `watch` show the same issues as `acmsctl validate`: file:line:col,
 * code, level, path, message and ranked fixes. It is the ValidationResult's proto JSON with at most three
 * suggestions per issue and without the result-wide top list (each issue carries its own), bounded in
 * size: past ACMS_VERDICT_MAX_BYTES the last warnings, then the last errors, are left out and
 * "truncated": true says so. Written by the adapter (rejections before validation) and the validator
 * (invalid verdicts) in the same status write as "rejected". */
#ifndef ACMS_VERDICT_H
#define ACMS_VERDICT_H

#include "pb.h"

#define ACMS_VERDICT_MAX_BYTES (32 * 1024)
#define ACMS_VERDICT_MAX_ISSUES 50 /* per list (errors, warnings) before the size bound applies */

/* The compact JSON text of res for the run record, at most max_bytes long (ACMS_VERDICT_MAX_BYTES when
 * 0). Arena-owned; NULL only when out of memory or res is NULL. */
const char *acms_verdict_json(acms_arena *a, const Acms__V1__ValidationResult *res, size_t max_bytes);

#endif
