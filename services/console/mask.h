/* mask.h: nothing the console shows holds a plain-text credential. What is one is the adapter's
 * SecretManager's verdict (adapter_secrets_check, the check that redacts every prepared pipeline);
 * here it is applied to what the console renders:
 *   - a stored document's text: every occurrence of each such value, and, where the text spells the
 *     value differently (escapes), the rest of its line from the value's place;
 *   - a run's pipeline: the values replaced in place, as the adapter does;
 *   - a step's output tail: a line holding something shaped like a credential.
 * Secret references (secret://...) are not values and stay visible. */
#ifndef CONSOLE_MASK_H
#define CONSOLE_MASK_H

#include "pb.h"

#define CONSOLE_MASK "********"

/* text (len bytes) with each plain-text credential of its Pipeline documents masked, in the arena
 * (NUL-terminated). *masked (may be NULL) gets the number of values masked. Text that does not parse
 * has no pipeline to judge: it gets console_mask_lines. */
char *console_mask_document(acms_arena *a, const char *text, size_t len, size_t *masked);
/* Replaces the plain-text credentials of p in place (ADAPTER_REDACTED). Returns how many. */
size_t console_mask_pipeline(acms_arena *a, Acms__V1__Pipeline *p);
/* text with every line that looks like a credential (a value pattern, or NAME=value / NAME: value
 * with a credential's name) replaced by CONSOLE_MASK, in the arena. */
char *console_mask_lines(acms_arena *a, const char *text);

#endif
