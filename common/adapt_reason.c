/* adapt_reason.c: the adaptation reasons' templates and their rendering (adapt_reason.h). A
 * template's text never changes once released: records stored by an older adapter render as the
 * text it would have written. Rendering is one pass to size and one to copy, no printf. */
#include "adapt_reason.h"

#include <stdio.h>
#include <string.h>

#include "acms.h"

static const char *const templates[ACMS_REASON_COUNT] = {
    [ACMS_REASON_PATH_REWRITES] = "path_rewrites of environment %s",
    [ACMS_REASON_MEMORY_SCALED] = "%s has %s MiB in the catalogue, x memory_scale %s of environment %s",
    [ACMS_REASON_MEMORY_CATALOGUE] = "%s has %s MiB in the catalogue",
    [ACMS_REASON_VCPU_CATALOGUE] = "%s has %s vCPU in the catalogue",
    [ACMS_REASON_DEFAULT_EXECUTOR] = "no executor given: default of environment %s",
    [ACMS_REASON_DEFAULT_ATTEMPTS] = "no max_attempts given: default of environment %s",
    [ACMS_REASON_INTERRUPTIBLE] = "environment %s allows interruptible capacity and a %s step can be re-run from its "
                                  "inputs if interrupted (cheaper capacity)",
    [ACMS_REASON_DEFAULT_PARALLEL] = "no max_parallel given: default of environment %s",
    [ACMS_REASON_DEFAULT_TYPE] = "no instance_type given: default of environment %s",
    [ACMS_REASON_DEFAULT_NETWORK] = "no vpc_config given: network of environment %s",
    [ACMS_REASON_NETWORK_ISOLATION] = "environment %s requires network isolation",
};

const char *acms_adaptation_template(unsigned id)
{
    return id < ACMS_REASON_COUNT ? templates[id] : NULL;
}

/* Copies template t with args into out (when not NULL); returns the length. */
static size_t fill(const char *t, char *const *args, size_t nargs, char *out)
{
    size_t len = 0, k = 0;
    for (const char *c = t; *c; c++) {
        if (c[0] == '%' && c[1] == 's') {
            const char *arg = k < nargs && args[k] ? args[k] : "";
            size_t n = strlen(arg);
            if (out)
                memcpy(out + len, arg, n);
            len += n;
            k++;
            c++;
            continue;
        }
        if (out)
            out[len] = *c;
        len++;
    }
    return len;
}

const char *acms_adaptation_reason(acms_arena *a, const Acms__V1__AdaptationRecord *r)
{
    if ((r->reason && *r->reason) || r->reason_template == 0)
        return r->reason ? r->reason : "";
    const char *t = acms_adaptation_template(r->reason_template);
    if (!t) {
        char *s = acms_arena_printf(a, "reason template %u", r->reason_template);
        return s ? s : "";
    }
    size_t len = fill(t, r->reason_args, r->n_reason_args, NULL);
    char *out = acms_arena_alloc(a, len + 1);
    if (!out)
        return "";
    fill(t, r->reason_args, r->n_reason_args, out);
    out[len] = '\0';
    return out;
}

int acms_adaptation_render(acms_arena *a, Acms__V1__AdaptationRecord *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        Acms__V1__AdaptationRecord *r = v[i];
        if (r->reason_template == 0)
            continue;
        const char *s = acms_adaptation_reason(a, r);
        if (!*s && acms_adaptation_template(r->reason_template))
            return ACMS_ERR_NOMEM;
        r->reason = (char *)s;
        r->reason_template = 0;
        r->reason_args = NULL;
        r->n_reason_args = 0;
    }
    return ACMS_OK;
}
