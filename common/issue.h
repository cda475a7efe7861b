/* issue.h: a growing list of validation issues (Acms__V1__ValidationIssue) in an arena.
 * Every checker (document conversion, DAG, validator levels) reports through it, so issues carry
 * one shape everywhere: stable code, severity, path, message, source line/column, level. */
#ifndef ACMS_ISSUE_H
#define ACMS_ISSUE_H

#include "pb.h"

typedef struct acms_issues {
    acms_arena *arena;
    Acms__V1__ValidationIssue **v;
    size_t n;
    size_t cap;        /* room in v: the list grows itself (acms_arena_push would copy it on
                             * every add once other arrays evicted it: quadratic for 50,000 issues) */
    const char *level; /* level stamped on new issues: syntax | semantic | environment | ... */
} acms_issues;

void acms_issues_init(acms_issues *is, acms_arena *a, const char *level);
/* Adds an issue. severity: "error" | "warning" | "info". at (may be NULL) gives line/column.
 * Returns the issue (owned by the arena) so suggestions can be attached. */
Acms__V1__ValidationIssue *acms_issue_add(acms_issues *is, const char *code, const char *severity, const char *path,
                                          const Acms__V1__Value *at, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Appends an issue already made (another list's, in the same arena), as it is. */
void acms_issues_append(acms_issues *is, Acms__V1__ValidationIssue *v);
/* Attaches a suggestion to an issue. */
Acms__V1__ValidationSuggestion *acms_issue_suggest(acms_issues *is, Acms__V1__ValidationIssue *issue, const char *id,
                                                   const char *source, double confidence, const char *patch_path,
                                                   const char *patch_value, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));
size_t acms_issues_count(const acms_issues *is, const char *severity);
/* First issue with this code, or NULL. */
Acms__V1__ValidationIssue *acms_issues_find(const acms_issues *is, const char *code);

/* Levenshtein distance, capped at cap+1 (for "did you mean"). */
size_t acms_edit_distance(const char *a, const char *b, size_t cap);

#endif
