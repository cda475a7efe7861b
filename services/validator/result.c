/* result.c: the validation result and the JSON values of its fixes (result.h): issues split into
 * errors and warnings, a string as a JSON literal, a step's depends_on as a JSON list. Results in the
 * arena. */
#include "result.h"

#include "strmap.h"

#include <stdio.h>
#include <string.h>

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

/* s as a JSON string literal (quotes, escapes) in the arena. */
static const char *json_str(acms_arena *a, const char *s)
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
        out = acms_arena_printf(a, "%s%s%s", out, first ? "" : ",", json_str(a, dn));
        first = 0;
    }
    return acms_arena_printf(a, "%s]", out);
}
