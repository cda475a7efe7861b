/* diff.h: a unified line diff of two texts (for `acmsctl config diff` and tests): common prefix and
 * suffix trimmed, the rest aligned by a longest common subsequence of lines (a bounded table; beyond
 * ACMS_DIFF_MAX_CELLS the middle is shown as removed then added: correct, not minimal). */
#ifndef ACMS_DIFF_H
#define ACMS_DIFF_H

#include <stddef.h>

#include "arena.h"

#define ACMS_DIFF_MAX_CELLS ((size_t)4 * 1000 * 1000)

/* The diff of x (labelled label_x) and y in unified format with context lines around each change
 * ("--- label_x", "+++ label_y", "@@ -a,b +c,d @@" hunks, lines prefixed ' ', '-', '+'), in the arena.
 * "" when the texts have the same lines. *changes (may be NULL) gets the number of '-' and '+' lines. */
char *acms_diff_unified(acms_arena *a, const char *label_x, const char *x, size_t xlen, const char *label_y,
                        const char *y, size_t ylen, int context, size_t *changes);

#endif
