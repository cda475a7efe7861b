/* keys.c: Redis key builders and the id rule (keys.h). */
#include "keys.h"

#include <stdio.h>
#include <string.h>

const char *acms_id_problem(const char *id)
{
    if (!id || !*id)
        return "empty id";
    size_t n = 0;
    for (const char *c = id; *c; c++, n++) {
        int ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '.' ||
                 *c == '_' || *c == '-';
        if (!ok)
            return "an id holds only letters, digits, '.', '_' and '-'";
        if (n >= ACMS_MAX_ID)
            return "id longer than 128 characters";
    }
    return NULL;
}

char *acms_key_buf(acms_arena *a)
{
    return acms_arena_alloc(a, ACMS_KEY_MAX);
}

static const char *fit(char *buf, size_t size, int n)
{
    return n >= 0 && (size_t)n < size ? buf : NULL;
}

const char *acms_key_run(char *buf, size_t size, const char *run_id)
{
    return fit(buf, size, snprintf(buf, size, ACMS_KEY_RUN_FMT, run_id));
}

const char *acms_key_run_part(char *buf, size_t size, const char *run_id, const char *part)
{
    return fit(buf, size, snprintf(buf, size, ACMS_KEY_RUN_FMT ":%s", run_id, part));
}

const char *acms_key_step(char *buf, size_t size, const char *run_id, const char *step)
{
    return fit(buf, size, snprintf(buf, size, ACMS_KEY_STEP_FMT, run_id, step));
}

const char *acms_key_lease(char *buf, size_t size, const char *run_id)
{
    return fit(buf, size, snprintf(buf, size, ACMS_KEY_LEASE_FMT, run_id));
}

const char *acms_key_seen(char *buf, size_t size, const char *service, const char *event_id)
{
    return fit(buf, size, snprintf(buf, size, ACMS_KEY_SEEN_FMT, service, event_id));
}

const char *acms_key_env_instances(char *buf, size_t size, const char *env)
{
    return fit(buf, size, snprintf(buf, size, ACMS_KEY_ENV_INSTANCES_FMT, env));
}

const char *acms_key_doc(char *buf, size_t size, const char *hash)
{
    return fit(buf, size, snprintf(buf, size, ACMS_KEY_DOC_FMT, hash));
}

const char *acms_key_log(char *buf, size_t size, const char *run_id, const char *step, unsigned attempt)
{
    return fit(buf, size, snprintf(buf, size, ACMS_KEY_LOG_FMT, run_id, step, attempt));
}

const char *acms_key_quota(char *buf, size_t size, const char *env, const char *part)
{
    return fit(buf, size, snprintf(buf, size, ACMS_KEY_QUOTA_FMT, env, part));
}

const char *acms_key_claim(char *buf, size_t size, const char *hex)
{
    return fit(buf, size, snprintf(buf, size, ACMS_KEY_CLAIM_FMT, hex));
}

const char *acms_key_config(char *buf, size_t size, const char *id, const char *part)
{
    return fit(buf, size, snprintf(buf, size, ACMS_KEY_CONFIG_FMT, id, part));
}
