/* issue.c: validation issue lists in an arena, and the edit distance behind "did you mean". */
#include "issue.h"

#include <stdarg.h>
#include <string.h>

void acms_issues_init(acms_issues *is, acms_arena *a, const char *level)
{
    memset(is, 0, sizeof *is);
    is->arena = a;
    is->level = level ? level : "";
}

Acms__V1__ValidationIssue *acms_issue_add(acms_issues *is, const char *code, const char *severity, const char *path,
                                          const Acms__V1__Value *at, const char *fmt, ...)
{
    Acms__V1__ValidationIssue *v = acms_pb_new(is->arena, &acms__v1__validation_issue__descriptor);
    v->code = acms_arena_strdup(is->arena, code);
    v->severity = acms_arena_strdup(is->arena, severity ? severity : "error");
    v->path = acms_arena_strdup(is->arena, path ? path : "");
    v->level = acms_arena_strdup(is->arena, is->level ? is->level : "");
    if (at) {
        v->line = at->line;
        v->column = at->column;
    }
    va_list ap;
    va_start(ap, fmt);
    v->message = acms_arena_vprintf(is->arena, fmt, ap);
    va_end(ap);
    acms_issues_append(is, v);
    return v;
}

void acms_issues_append(acms_issues *is, Acms__V1__ValidationIssue *v)
{
    if (is->n >= is->cap) {
        size_t cap = is->n < 8 ? 16 : 2 * is->n;
        Acms__V1__ValidationIssue **nv = acms_arena_alloc(is->arena, cap * sizeof *nv);
        if (is->n)
            memcpy(nv, is->v, is->n * sizeof *nv);
        is->v = nv;
        is->cap = cap;
    }
    is->v[is->n++] = v;
}

Acms__V1__ValidationSuggestion *acms_issue_suggest(acms_issues *is, Acms__V1__ValidationIssue *issue, const char *id,
                                                   const char *source, double confidence, const char *patch_path,
                                                   const char *patch_value, const char *fmt, ...)
{
    acms_arena *a = is->arena;
    Acms__V1__ValidationSuggestion *s = acms_pb_new(a, &acms__v1__validation_suggestion__descriptor);
    s->id = acms_arena_strdup(a, id ? id : "");
    s->issue_code = acms_arena_strdup(a, issue->code);
    s->source = acms_arena_strdup(a, source ? source : "pattern");
    s->confidence = confidence;
    s->patch_path = acms_arena_strdup(a, patch_path ? patch_path : "");
    s->patch_value = acms_arena_strdup(a, patch_value ? patch_value : "");
    va_list ap;
    va_start(ap, fmt);
    s->text = acms_arena_vprintf(a, fmt, ap);
    va_end(ap);
    issue->suggestions = acms_arena_push(a, issue->suggestions, &issue->n_suggestions, sizeof *issue->suggestions);
    issue->suggestions[issue->n_suggestions - 1] = s;
    return s;
}

size_t acms_issues_count(const acms_issues *is, const char *severity)
{
    size_t c = 0;
    for (size_t i = 0; i < is->n; i++)
        if (!severity || !strcmp(is->v[i]->severity, severity))
            c++;
    return c;
}

Acms__V1__ValidationIssue *acms_issues_find(const acms_issues *is, const char *code)
{
    for (size_t i = 0; i < is->n; i++)
        if (!strcmp(is->v[i]->code, code))
            return is->v[i];
    return NULL;
}

size_t acms_edit_distance(const char *a, const char *b, size_t cap)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return cap + 1;
    if ((la > lb ? la - lb : lb - la) > cap)
        return cap + 1;
    size_t prev[65], cur[65];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        size_t rowmin = cur[0];
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
            if (cur[j] < rowmin)
                rowmin = cur[j];
        }
        if (rowmin > cap)
            return cap + 1;
        memcpy(prev, cur, (lb + 1) * sizeof *prev);
    }
    return prev[lb] > cap ? cap + 1 : prev[lb];
}
