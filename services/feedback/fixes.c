/* fixes.c: fix statistics as set differences (fixes.h).
 * Invariants: codes and ids are unique within a set, so one result credits a suggestion at most
 * once per code, whatever the number of issues repeating it. */
#include "fixes.h"

#include <string.h>

int feedback_fix_phase_counts(const char *phase)
{
    return phase && (!strcmp(phase, "pre-execution") || !strcmp(phase, "rejected"));
}

static feedback_fix_code *code_get(acms_arena *a, feedback_fixset *s, const char *code)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i].code, code))
            return &s->v[i];
    s->v = acms_arena_push(a, s->v, &s->n, sizeof *s->v);
    feedback_fix_code *c = &s->v[s->n - 1];
    memset(c, 0, sizeof *c);
    c->code = acms_arena_strdup(a, code);
    return c;
}

static void id_add(acms_arena *a, feedback_fix_code *c, const char *id)
{
    if (!id || !*id || strchr(id, ','))
        return;
    for (size_t i = 0; i < c->nids; i++)
        if (!strcmp(c->ids[i], id))
            return;
    c->ids = acms_arena_push(a, c->ids, &c->nids, sizeof *c->ids);
    c->ids[c->nids - 1] = acms_arena_strdup(a, id);
}

static void add_issues(acms_arena *a, feedback_fixset *s, Acms__V1__ValidationIssue *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!v[i]->code || !*v[i]->code)
            continue;
        feedback_fix_code *c = code_get(a, s, v[i]->code);
        for (size_t j = 0; j < v[i]->n_suggestions; j++)
            id_add(a, c, v[i]->suggestions[j]->id);
    }
}

void feedback_fixset_collect(acms_arena *a, const Acms__V1__ValidationResult *r, feedback_fixset *out)
{
    memset(out, 0, sizeof *out);
    if (!r)
        return;
    add_issues(a, out, r->issues, r->n_issues);
    add_issues(a, out, r->warnings, r->n_warnings);
    for (size_t i = 0; i < r->n_suggestions; i++) {
        const Acms__V1__ValidationSuggestion *sg = r->suggestions[i];
        if (sg->issue_code && *sg->issue_code)
            id_add(a, code_get(a, out, sg->issue_code), sg->id);
    }
}

void feedback_fixset_from_hash(acms_arena *a, const char *const *kv, size_t nkv, feedback_fixset *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i + 1 < nkv; i += 2) {
        if (!strcmp(kv[i], "version") || !*kv[i])
            continue;
        feedback_fix_code *c = code_get(a, out, kv[i]);
        const char *p = kv[i + 1];
        while (*p) {
            const char *e = strchr(p, ',');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            if (len)
                id_add(a, c, acms_arena_strndup(a, p, len));
            p += len + (e ? 1 : 0);
        }
    }
}

const char *feedback_fixset_join(acms_arena *a, const feedback_fix_code *c)
{
    size_t len = 1;
    for (size_t i = 0; i < c->nids; i++)
        len += strlen(c->ids[i]) + 1;
    char *s = acms_arena_alloc(a, len), *p = s;
    for (size_t i = 0; i < c->nids; i++) {
        size_t l = strlen(c->ids[i]);
        if (i)
            *p++ = ',';
        memcpy(p, c->ids[i], l);
        p += l;
    }
    *p = '\0';
    return s;
}

static int has_code(const feedback_fixset *s, const char *code)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i].code, code))
            return 1;
    return 0;
}

static void incr(acms_arena *a, feedback_fix_incr **out, size_t *n, const char *code, const char *id, const char *what)
{
    *out = acms_arena_push(a, *out, n, sizeof **out);
    (*out)[*n - 1].code = code;
    (*out)[*n - 1].field = acms_arena_printf(a, "%s:%s", id, what);
}

size_t feedback_fix_diff(acms_arena *a, const feedback_fixset *prev, const feedback_fixset *cur,
                         feedback_fix_incr **out)
{
    size_t n = 0;
    *out = NULL;
    for (size_t i = 0; prev && i < prev->n; i++) {
        if (has_code(cur, prev->v[i].code))
            continue;
        for (size_t j = 0; j < prev->v[i].nids; j++)
            incr(a, out, &n, prev->v[i].code, prev->v[i].ids[j], "resolved");
    }
    for (size_t i = 0; i < cur->n; i++)
        for (size_t j = 0; j < cur->v[i].nids; j++)
            incr(a, out, &n, cur->v[i].code, cur->v[i].ids[j], "offered");
    return n;
}

/* --- fix insights ------------------------------------------------------------------------------ */

const char *feedback_fix_resolved_join(acms_arena *a, const feedback_fix_incr *inc, size_t n)
{
    static const char suffix[] = ":resolved";
    const size_t sl = sizeof suffix - 1;
    feedback_fixset set = {0};
    for (size_t i = 0; i < n; i++) {
        size_t fl = strlen(inc[i].field);
        if (fl <= sl || strcmp(inc[i].field + fl - sl, suffix) != 0 || strpbrk(inc[i].code, "=;,"))
            continue;
        const char *id = acms_arena_strndup(a, inc[i].field, fl - sl);
        if (strpbrk(id, "=;"))
            continue;
        id_add(a, code_get(a, &set, inc[i].code), id);
    }
    const char *out = "";
    for (size_t i = 0; i < set.n; i++)
        out = acms_arena_printf(a, "%s%s%s=%s", out, i ? ";" : "", set.v[i].code, feedback_fixset_join(a, &set.v[i]));
    return out;
}

void feedback_fix_resolved_parse(acms_arena *a, const char *s, feedback_fixset *out)
{
    memset(out, 0, sizeof *out);
    while (s && *s) {
        const char *end = strchr(s, ';');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        const char *part = acms_arena_strndup(a, s, len), *eq = strchr(part, '=');
        if (eq && eq != part) {
            const char *kv[2] = {acms_arena_strndup(a, part, (size_t)(eq - part)), eq + 1};
            feedback_fixset one;
            feedback_fixset_from_hash(a, kv, 2, &one);
            for (size_t i = 0; i < one.n; i++) {
                feedback_fix_code *c = code_get(a, out, one.v[i].code);
                for (size_t k = 0; k < one.v[i].nids; k++)
                    id_add(a, c, one.v[i].ids[k]);
            }
        }
        s += len + (end ? 1 : 0);
    }
}

Acms__V1__LearningInsight *feedback_fix_insight(acms_arena *a, const char *pipeline, const char *code, const char *id,
                                                uint64_t offered, uint64_t resolved)
{
    Acms__V1__LearningInsight *li = acms_pb_new(a, &acms__v1__learning_insight__descriptor);
    li->pipeline = (char *)pipeline;
    li->step = "";
    li->kind = "fix_effective";
    li->based_on_runs = offered > UINT32_MAX ? UINT32_MAX : (uint32_t)offered;
    li->mode = "apply";
    li->summary = acms_arena_printf(a,
                                    "%s no longer reported after suggestion %s was offered: credited as resolving it "
                                    "(%llu of %llu times offered so far)",
                                    code, id, (unsigned long long)resolved, (unsigned long long)offered);
    li->expected_effect = acms_arena_printf(a, "the validator ranks %s for %s by resolved/offered = %.2f", id, code,
                                            offered ? (double)resolved / (double)offered : 0.0);
    return li;
}
