/* fixes.h: fix statistics, the LearningEngine's memory of which suggestion resolved which issue.
 * For each (pipeline, environment) the last pre-execution/rejected ValidationResult's issue codes
 * and the suggestion ids offered for them are kept (acms:feedback:lastissues:<pipeline>:<env>, hash
 * code -> "id1,id2"). When a later result no longer has a code, every id offered for it is credited
 * as resolved; every id offered in a result counts as offered:
 *   acms:learn:fix:<code>  hash  "<suggestion_id>:offered" N, "<suggestion_id>:resolved" M
 * The validator's suggester ranks fixes by resolved/offered. Pure: sets in, increments out. */
#ifndef FEEDBACK_FIXES_H
#define FEEDBACK_FIXES_H

#include "pb.h"

typedef struct feedback_fix_code {
    const char *code;
    const char **ids; /* suggestion ids offered for it, unique, in first-seen order */
    size_t nids;
} feedback_fix_code;

typedef struct feedback_fixset {
    feedback_fix_code *v; /* unique codes, in first-seen order */
    size_t n;
} feedback_fixset;

typedef struct feedback_fix_incr {
    const char *code;
    const char *field; /* "<id>:offered" or "<id>:resolved" */
} feedback_fix_incr;

/* Does this phase feed the statistics? ("pre-execution" and "rejected") */
int feedback_fix_phase_counts(const char *phase);
/* Codes and offered ids of a result: issues and warnings with their suggestions, plus the ranked
 * top-level suggestions (by their issue_code). */
void feedback_fixset_collect(acms_arena *a, const Acms__V1__ValidationResult *r, feedback_fixset *out);
/* From a lastissues hash (field code -> "id1,id2"; the "version" field is skipped). */
void feedback_fixset_from_hash(acms_arena *a, const char *const *kv, size_t nkv, feedback_fixset *out);
/* "id1,id2" of one code (arena). */
const char *feedback_fixset_join(acms_arena *a, const feedback_fix_code *c);
/* The increments of moving from prev to cur, into *out (arena). Returns the count. */
size_t feedback_fix_diff(acms_arena *a, const feedback_fixset *prev, const feedback_fixset *cur,
                         feedback_fix_incr **out);

/* Fix insights. The suggestions credited as resolved by a run's validation are kept in its feedback
 * hash (acms:feedback:runfixes:<run> field fixes_resolved, "CODE=id1,id2;CODE2=id3") until the run's
 * ExecutionResult arrives; its ExecutionFeedback then carries one "fix_effective" LearningInsight per
 * credited suggestion with the suggestion's record so far (resolved of offered). Best effort: a run
 * whose result is handled before its validation result simply has none. */
/* The resolved increments of inc[0..n) in that form (arena); "" when there are none. */
const char *feedback_fix_resolved_join(acms_arena *a, const feedback_fix_incr *inc, size_t n);
/* Parses the form back into a set of codes and credited ids (malformed parts are skipped). */
void feedback_fix_resolved_parse(acms_arena *a, const char *s, feedback_fixset *out);
/* The fix_effective insight of suggestion id for code, resolved `resolved` times of `offered`. */
Acms__V1__LearningInsight *feedback_fix_insight(acms_arena *a, const char *pipeline, const char *code, const char *id,
                                                uint64_t offered, uint64_t resolved);

#endif
