/* names.h: the validator's name checks. A step or pipeline name matches
 * ^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$ with at most VALIDATOR_MAX_NAME bytes; an environment variable name
 * ^[A-Za-z_][A-Za-z0-9_]*$. Pure functions; results in the arena passed in. */
#ifndef ACMS_VALIDATOR_NAMES_H
#define ACMS_VALIDATOR_NAMES_H

#include "validator.h"

/* Whether s is a valid step or pipeline name. */
int validator_name_ok(const char *s);
/* A valid name derived from s (lower-cased, invalid runs -> '-', trimmed), or fallback. */
const char *validator_name_slug(acms_arena *a, const char *s, const char *fallback);
/* Whether s is a valid environment variable name. */
int validator_env_name_ok(const char *s);
/* The candidate closest to s within edit distance cap (ties: first), or NULL. */
const char *validator_closest(const char *s, const char *const *cands, size_t n, size_t cap);

#endif
