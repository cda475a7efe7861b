/* paths.h: where an issue points. A step issue's path is spec.steps[i].<field>; its line/column come
 * from the submitted document's node when the document is known, else from the typed step's line.
 * Pure functions; nothing allocates outside the arena passed in. */
#ifndef ACMS_VALIDATOR_PATHS_H
#define ACMS_VALIDATOR_PATHS_H

#include "validator.h"

/* "spec.steps[i]" or "spec.steps[i].<field>" in the arena. */
const char *validator_step_path(acms_arena *a, size_t i, const char *field);
/* The document node of step i's field (field NULL = the step map), or NULL when unknown. */
const Acms__V1__Value *validator_doc_node(const validator_input *in, size_t i, const char *field);
/* Adds an issue about step i (field may be NULL or dotted, e.g. "vpc_config.subnets"). */
Acms__V1__ValidationIssue *validator_step_issue(const validator_input *in, acms_issues *is, size_t i, const char *field,
                                                const char *code, const char *severity, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
/* Parses "spec.steps[i]..." into i; returns 1 on success. */
int validator_path_step(const char *path, size_t *i);
/* The first issue from index from on with code and path (either NULL = any), or NULL. */
Acms__V1__ValidationIssue *validator_find_issue_at(const acms_issues *is, size_t from, const char *code,
                                                   const char *path);

#endif
