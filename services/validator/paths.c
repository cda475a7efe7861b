/* paths.c: where an issue points (paths.h): a step's path (spec.steps[i].<field>), the submitted
 * document's node for it (its line and column), the issue about a step, and the way back from a path
 * to its step. Pure functions; nothing allocates outside the arena passed in. */
#include "paths.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *validator_step_path(acms_arena *a, size_t i, const char *field)
{
    if (validator_empty(field))
        return acms_arena_printf(a, "spec.steps[%zu]", i);
    return acms_arena_printf(a, "spec.steps[%zu].%s", i, field);
}

const Acms__V1__Value *validator_doc_node(const validator_input *in, size_t i, const char *field)
{
    if (in == NULL || in->doc_steps == NULL || i >= in->doc_steps->n_values)
        return NULL;
    const Acms__V1__Value *step = in->doc_steps->values[i];
    if (!acms_value_is(step, ACMS__V1__VALUE__KIND_MAP_VALUE))
        return NULL;
    /* The adapted pipeline keeps document order; make sure we point at the same step. */
    if (in->pipeline && i < in->pipeline->n_steps) {
        const char *dn = acms_value_str(acms_value_get(step, "name"));
        const char *pn = in->pipeline->steps[i]->name;
        if (dn && pn && strcmp(dn, pn) != 0)
            return NULL;
    }
    if (validator_empty(field))
        return step;
    const Acms__V1__Value *v = step;
    char key[128];
    const char *p = field;
    while (*p && v) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (len >= sizeof key)
            return NULL;
        memcpy(key, p, len);
        key[len] = '\0';
        const Acms__V1__Value *next = acms_value_get(v, key);
        if (next == NULL)
            return v; /* closest enclosing node still gives a useful line */
        v = next;
        p = dot ? dot + 1 : p + len;
    }
    return v;
}

Acms__V1__ValidationIssue *validator_step_issue(const validator_input *in, acms_issues *is, size_t i, const char *field,
                                                const char *code, const char *severity, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = acms_arena_vprintf(is->arena, fmt, ap);
    va_end(ap);
    const char *path = validator_step_path(is->arena, i, field);
    Acms__V1__ValidationIssue *iss = acms_issue_add(is, code, severity, path, validator_doc_node(in, i, field), "%s",
                                                    msg);
    if (iss && iss->line == 0 && in && in->pipeline && i < in->pipeline->n_steps)
        iss->line = in->pipeline->steps[i]->line;
    return iss;
}

int validator_path_step(const char *path, size_t *i)
{
    static const char pre[] = "spec.steps[";
    if (path == NULL || strncmp(path, pre, sizeof pre - 1) != 0)
        return 0;
    const char *p = path + sizeof pre - 1;
    if (!isdigit((unsigned char)*p))
        return 0;
    size_t v = 0;
    for (; isdigit((unsigned char)*p); p++) {
        v = v * 10 + (size_t)(*p - '0');
        if (v > 100000000)
            return 0;
    }
    if (*p != ']')
        return 0;
    *i = v;
    return 1;
}

Acms__V1__ValidationIssue *validator_find_issue_at(const acms_issues *is, size_t from, const char *code,
                                                   const char *path)
{
    for (size_t i = from; i < is->n; i++) {
        const Acms__V1__ValidationIssue *x = is->v[i];
        if (code && strcmp(validator_str(x->code), code) != 0)
            continue;
        if (path && strcmp(validator_str(x->path), path) != 0)
            continue;
        return is->v[i];
    }
    return NULL;
}
