/* issues.c: validation issues as people read them, one renderer for every command that shows them:
 * `validate`, and `submit --wait`/`status`/`watch` of a rejected run (from the verdict the adapter or
 * validator stored with the run). Input is the proto JSON of ValidationIssue / ValidationResult. */
#include <stdio.h>
#include <string.h>

#include "acmsctl.h"

static const char *jstr(const cJSON *o, const char *k, const char *def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : def;
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void print_issue(const char *file, const cJSON *is)
{
    double line = jnum(is, "line"), col = jnum(is, "column");
    if (line > 0)
        printf("%s:%.0f:%.0f: ", file, line, col > 0 ? col : 1);
    else
        printf("%s: ", file);
    const char *path = jstr(is, "path", "");
    printf("%s %s [%s] %s%s%s\n", jstr(is, "severity", "error"), jstr(is, "code", "?"), jstr(is, "level", "?"), path,
           *path ? ": " : "", jstr(is, "message", ""));
    const cJSON *s;
    int k = 0;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(is, "suggestions"))
    {
        if (k++ == 3)
            break;
        printf("    fix (%s, %.0f%%): %s", jstr(s, "source", "?"), jnum(s, "confidence") * 100, jstr(s, "text", ""));
        if (*jstr(s, "patch_path", ""))
            printf("  [set %s = %s]", jstr(s, "patch_path", ""),
                   *jstr(s, "patch_value", "") ? jstr(s, "patch_value", "") : "\"\"");
        putchar('\n');
    }
}

void ctl_print_issues(const char *file, const cJSON *issues)
{
    const cJSON *is;
    cJSON_ArrayForEach(is, issues) print_issue(file, is);
}

void ctl_count_issues(const cJSON *result, size_t *errors, size_t *warnings, size_t *infos)
{
    *errors = *warnings = *infos = 0;
    const char *lists[] = {"issues", "warnings"};
    for (int l = 0; l < 2; l++) {
        const cJSON *is;
        cJSON_ArrayForEach(is, cJSON_GetObjectItemCaseSensitive(result, lists[l]))
        {
            const char *sev = jstr(is, "severity", "error");
            if (!strcmp(sev, "error"))
                (*errors)++;
            else if (!strcmp(sev, "warning"))
                (*warnings)++;
            else
                (*infos)++;
        }
    }
}
