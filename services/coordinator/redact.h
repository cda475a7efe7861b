/* redact.h: the resolved secret values of one attempt, and their masking. Every value an attempt's
 * environment received is kept here (with its base64, base64url and percent-encoded forms) for as
 * long as the attempt lives, and every text that leaves the attempt (stderr tail, message, the
 * captured stdout/stderr files) is masked with "***" before the coordinator stores, logs or
 * publishes it. Values shorter than COORD_REDACT_MIN are not masked (they would mask ordinary text).
 * Memory holding values is wiped when freed. Not thread-safe; one per attempt. */
#ifndef ACMS_COORD_REDACT_H
#define ACMS_COORD_REDACT_H

#include <stddef.h>

#define COORD_REDACT_MIN 4
#define COORD_REDACT_MASK "***"

typedef struct coord_redact coord_redact;

coord_redact *coord_redact_new(void);
/* Wipes every pattern and frees. NULL is fine. */
void coord_redact_free(coord_redact *r);
/* Adds value and its encoded forms. 0, or -1 when out of memory. */
int coord_redact_add(coord_redact *r, const char *value);
/* Masks every pattern in buf[0..len) (binary-safe); returns the new length (never longer). */
size_t coord_redact_buf(const coord_redact *r, char *buf, size_t len);
/* Masks a NUL-terminated string in place. */
void coord_redact_str(const coord_redact *r, char *s);
/* Masks a file in place (read, mask, rewrite, truncate). 0, or -1 with errno (a missing file is 0).
 * Files above 64 MiB are truncated to an explanatory line rather than left unmasked. */
int coord_redact_file(const coord_redact *r, const char *path);
/* Does r hold any pattern? */
int coord_redact_empty(const coord_redact *r);

#endif
