/* vutil.c: helpers shared by the validator's levels: step issue paths with source positions, an
 * arena-backed string set (linear probing, load factor <= 1/2) and name checks. Pure functions;
 * nothing here allocates outside the arena passed in. */
#include "vutil.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *const validator_step_types[5] = {"processing", "training", "evaluation", "transform", "custom"};

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

Acms__V1__ValidationIssue *validator_step_issue(const validator_input *in, acms_issues *is, size_t i,
                                                const char *field, const char *code, const char *severity,
                                                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = acms_arena_vprintf(is->arena, fmt, ap);
    va_end(ap);
    const char *path = validator_step_path(is->arena, i, field);
    Acms__V1__ValidationIssue *iss =
        acms_issue_add(is, code, severity, path, validator_doc_node(in, i, field), "%s", msg);
    if (iss && iss->line == 0 && in && in->pipeline && i < in->pipeline->n_steps)
        iss->line = in->pipeline->steps[i]->line;
    return iss;
}

/* --- names --------------------------------------------------------------------------------------- */

static int name_inner(int c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'; }
static int name_edge(int c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

int validator_name_ok(const char *s)
{
    if (validator_empty(s))
        return 0;
    size_t n = strlen(s);
    if (n > VALIDATOR_MAX_NAME || !name_edge((unsigned char)s[0]) || !name_edge((unsigned char)s[n - 1]))
        return 0;
    for (size_t i = 1; i + 1 < n; i++)
        if (!name_inner((unsigned char)s[i]))
            return 0;
    return 1;
}

const char *validator_name_slug(acms_arena *a, const char *s, const char *fallback)
{
    char buf[VALIDATOR_MAX_NAME + 1];
    size_t n = 0;
    int dash = 0;
    for (const char *p = s ? s : ""; *p && n < VALIDATOR_MAX_NAME; p++) {
        int c = tolower((unsigned char)*p);
        if (name_inner(c) && c != '-') {
            buf[n++] = (char)c;
            dash = 0;
        } else if (n > 0 && !dash) {
            buf[n++] = '-';
            dash = 1;
        }
    }
    while (n > 0 && !name_edge((unsigned char)buf[n - 1]))
        n--;
    buf[n] = '\0';
    size_t start = 0;
    while (buf[start] && !name_edge((unsigned char)buf[start]))
        start++;
    if (buf[start] == '\0')
        return fallback;
    return acms_arena_strdup(a, buf + start);
}

int validator_env_name_ok(const char *s)
{
    if (validator_empty(s) || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return 0;
    for (const char *p = s + 1; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_'))
            return 0;
    return 1;
}

const char *validator_closest(const char *s, const char *const *cands, size_t n, size_t cap)
{
    const char *best = NULL;
    size_t bestd = cap + 1;
    if (validator_empty(s))
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (cands[i] == NULL || strcmp(cands[i], s) == 0)
            continue;
        size_t d = acms_edit_distance(s, cands[i], bestd > 0 ? bestd - 1 : 0);
        if (d < bestd) {
            bestd = d;
            best = cands[i];
        }
    }
    return bestd <= cap ? best : NULL;
}

const char *const *validator_step_names(acms_arena *a, const Acms__V1__Pipeline *p)
{
    const char **names = acms_arena_alloc(a, (p->n_steps + 1) * sizeof *names);
    for (size_t i = 0; i < p->n_steps; i++)
        names[i] = p->steps[i]->name;
    return names;
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

int validator_step_type_known(const char *t)
{
    for (size_t i = 0; i < sizeof validator_step_types / sizeof *validator_step_types; i++)
        if (strcmp(t, validator_step_types[i]) == 0)
            return 1;
    return 0;
}

uint64_t validator_step_memory_mb(const Acms__V1__Step *s, const acms_catalog *c)
{
    if (s->resources && s->resources->memory_mb)
        return s->resources->memory_mb;
    if (s->memory_mb)
        return s->memory_mb;
    if (c && !validator_empty(s->instance_type)) {
        const acms_instance_type *t = acms_catalog_find(c, s->instance_type);
        if (t)
            return acms_instance_memory_mb(t);
    }
    return 0;
}

const char *validator_json_str(acms_arena *a, const char *s)
{
    s = s ? s : "";
    size_t n = strlen(s);
    char *out = acms_arena_alloc(a, n * 6 + 3);
    size_t o = 0;
    out[o++] = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            int w = snprintf(out + o, 7, "\\u%04x", c);
            o += w > 0 ? (size_t)w : 0;
        } else {
            out[o++] = (char)c;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

void validator_result_fill(Acms__V1__ValidationResult *r, acms_arena *a, const acms_issues *is)
{
    size_t errors = 0;
    for (size_t i = 0; i < is->n; i++)
        if (strcmp(validator_str(is->v[i]->severity), "error") == 0)
            errors++;
    r->issues = acms_arena_alloc(a, (errors + 1) * sizeof *r->issues);
    r->warnings = acms_arena_alloc(a, (is->n - errors + 1) * sizeof *r->warnings);
    r->n_issues = r->n_warnings = 0;
    for (size_t i = 0; i < is->n; i++) {
        if (strcmp(validator_str(is->v[i]->severity), "error") == 0)
            r->issues[r->n_issues++] = is->v[i];
        else
            r->warnings[r->n_warnings++] = is->v[i];
    }
    r->valid = errors == 0;
}

const char *validator_deps_json(acms_arena *a, const Acms__V1__Step *s, const char *skip)
{
    acms_strmap seen;
    acms_strmap_init(&seen, a, s->n_depends_on);
    char *out = acms_arena_strdup(a, "[");
    int first = 1;
    for (size_t k = 0; k < s->n_depends_on; k++) {
        const char *dn = validator_str(s->depends_on[k]);
        if ((skip && strcmp(dn, skip) == 0) || !acms_strmap_put(&seen, dn, k, NULL))
            continue;
        out = acms_arena_printf(a, "%s%s%s", out, first ? "" : ",", validator_json_str(a, dn));
        first = 0;
    }
    return acms_arena_printf(a, "%s]", out);
}
