/* retry.c: retry policy names, resolution (step, environment, defaults) and exponential backoff
 * with equal jitter. Pure functions. */
#include "retry.h"

#include <math.h>
#include <string.h>

static const char *const names[] = {"on_failure", "on_failure", "on_error", "never"};

int acms_retry_parse(const char *s)
{
    if (!s || !*s)
        return ACMS_RETRY_DEFAULT;
    for (int k = ACMS_RETRY_ON_FAILURE; k <= ACMS_RETRY_NEVER; k++)
        if (!strcmp(s, names[k]))
            return k;
    return -1;
}

const char *acms_retry_name(acms_retry_kind k)
{
    return (unsigned)k <= ACMS_RETRY_NEVER ? names[k] : "on_failure";
}

/* The first positive finite value of a, b, else dflt. */
static double first_pos(double a, double b, double dflt)
{
    if (isfinite(a) && a > 0)
        return a;
    if (isfinite(b) && b > 0)
        return b;
    return dflt;
}

void acms_retry_resolve(const Acms__V1__Step *s, const Acms__V1__Environment *env, acms_retry_policy *out)
{
    int k = acms_retry_parse(s ? s->retry_policy : NULL);
    if (k == ACMS_RETRY_DEFAULT && env)
        k = acms_retry_parse(env->default_retry_policy);
    out->kind = k <= ACMS_RETRY_DEFAULT ? ACMS_RETRY_ON_FAILURE : (acms_retry_kind)k;
    out->backoff_s = first_pos(s ? s->retry_backoff_s : 0, env ? env->retry_backoff_s : 0, ACMS_RETRY_BACKOFF_S);
    out->factor = first_pos(s ? s->retry_backoff_factor : 0, env ? env->retry_backoff_factor : 0, ACMS_RETRY_FACTOR);
    out->max_s = first_pos(s ? s->retry_backoff_max_s : 0, env ? env->retry_backoff_max_s : 0, ACMS_RETRY_MAX_S);
    if (out->factor < 1)
        out->factor = 1;
    if (out->backoff_s > ACMS_RETRY_LIMIT_S)
        out->backoff_s = ACMS_RETRY_LIMIT_S;
    if (out->max_s > ACMS_RETRY_LIMIT_S)
        out->max_s = ACMS_RETRY_LIMIT_S;
    if (out->max_s < out->backoff_s)
        out->max_s = out->backoff_s;
}

int64_t acms_retry_backoff_ms(const acms_retry_policy *p, uint32_t attempt, uint32_t jitter)
{
    acms_retry_policy dflt = {ACMS_RETRY_ON_FAILURE, ACMS_RETRY_BACKOFF_S, ACMS_RETRY_FACTOR, ACMS_RETRY_MAX_S};
    if (!p)
        p = &dflt;
    double d = p->backoff_s;
    for (uint32_t i = 1; i < attempt && d < p->max_s; i++)
        d *= p->factor;
    if (d > p->max_s)
        d = p->max_s;
    int64_t ms = (int64_t)llround(d * 1000.0);
    int64_t half = ms / 2;
    return half + (int64_t)(jitter % (uint32_t)(ms - half + 1));
}
