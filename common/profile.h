/* profile.h: the configuration directory: instance catalogue (catalog.yaml), environment profiles
 * (environments/NAME.yaml, kind: Environment) and policies (policies/NAME.yaml, kind: Policy).
 * Loaded once at start-up; read-only afterwards. */
#ifndef ACMS_PROFILE_H
#define ACMS_PROFILE_H

#include "catalog.h"
#include "issue.h"

typedef struct acms_profiles {
    acms_arena *arena;
    char dir[512];
    acms_catalog catalog;
    Acms__V1__Environment **envs;
    size_t nenvs;
    Acms__V1__Policy **policies;
    size_t npolicies;
} acms_profiles;

/* Loads dir. Errors name the file and line. ACMS_OK, ACMS_ERR_NOTFOUND (no such dir or catalogue)
 * or ACMS_ERR_INVALID. On error nothing needs releasing. */
int acms_profiles_load(acms_profiles *p, const char *dir, char *errstr, size_t errstr_size);
void acms_profiles_release(acms_profiles *p);
const Acms__V1__Environment *acms_profiles_env(const acms_profiles *p, const char *name);
/* Policies that apply to env (its policies list, or every policy when the list is empty). */
size_t acms_profiles_policies_for(const acms_profiles *p, const Acms__V1__Environment *env,
                                  const Acms__V1__Policy **out, size_t cap);
/* Does rule r apply to a step of step_type in env_name? */
int acms_policy_rule_applies(const Acms__V1__PolicyRule *r, const char *env_name, const char *step_type);

#endif
