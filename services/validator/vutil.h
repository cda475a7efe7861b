/* vutil.h: helpers shared by the validator's levels (not part of its API): issue paths and source
 * positions for steps, an arena-backed string set for O(1) name lookups, and small string checks.
 * A step issue's path is spec.steps[i].<field>; its line/column come from the submitted document's
 * node when the document is known, else from the typed step's line. */
#ifndef ACMS_VALIDATOR_VUTIL_H
#define ACMS_VALIDATOR_VUTIL_H

#include "validator.h"

#include "strmap.h"

/* "spec.steps[i]" or "spec.steps[i].<field>" in the arena. */
const char *validator_step_path(acms_arena *a, size_t i, const char *field);
/* The document node of step i's field (field NULL = the step map), or NULL when unknown. */
const Acms__V1__Value *validator_doc_node(const validator_input *in, size_t i, const char *field);
/* Adds an issue about step i (field may be NULL or dotted, e.g. "vpc_config.subnets"). */
Acms__V1__ValidationIssue *validator_step_issue(const validator_input *in, acms_issues *is, size_t i,
                                                const char *field, const char *code, const char *severity,
                                                const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/* Names: ^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$ and at most VALIDATOR_MAX_NAME bytes. */
int validator_name_ok(const char *s);
/* A valid name derived from s (lower-cased, invalid runs -> '-', trimmed), or fallback. */
const char *validator_name_slug(acms_arena *a, const char *s, const char *fallback);
/* ^[A-Za-z_][A-Za-z0-9_]*$ */
int validator_env_name_ok(const char *s);
/* The candidate closest to s within edit distance cap (ties: first), or NULL. */
const char *validator_closest(const char *s, const char *const *cands, size_t n, size_t cap);
/* Non-zero for NULL or "". */
static inline int validator_empty(const char *s) { return s == NULL || s[0] == '\0'; }
/* Step type, "" for NULL. */
static inline const char *validator_str(const char *s) { return s ? s : ""; }
/* The pipeline's steps as name array (for did-you-mean), in the arena. */
const char *const *validator_step_names(acms_arena *a, const Acms__V1__Pipeline *p);
/* The issue index range [from, to) with code, first match; NULL if none. */
Acms__V1__ValidationIssue *validator_find_issue_at(const acms_issues *is, size_t from, const char *code,
                                                   const char *path);
/* Parses "spec.steps[i]..." into i; returns 1 on success. */
int validator_path_step(const char *path, size_t *i);
/* s as a JSON string literal (quotes, escapes) in the arena. */
const char *validator_json_str(acms_arena *a, const char *s);
/* JSON list of s's depends_on without duplicates and without skip (when not NULL): the value of a
 * patch that sets spec.steps[i].depends_on. */
const char *validator_deps_json(acms_arena *a, const Acms__V1__Step *s, const char *skip);
/* Splits is into r: errors into issues, warnings and info into warnings; valid = no error. */
void validator_result_fill(Acms__V1__ValidationResult *r, acms_arena *a, const acms_issues *is);
/* Known step types: processing training evaluation transform custom. */
int validator_step_type_known(const char *t);
extern const char *const validator_step_types[5];

#endif
