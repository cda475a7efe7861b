/* verdict.c: a ValidationResult as the bounded JSON a rejected run keeps (verdict.h). */
#include "verdict.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "doc.h"

/* Keeps the first `keep` items of array (NULL array: nothing). Returns how many were dropped. */
static int cut(cJSON *array, int keep)
{
    int dropped = 0;
    while (cJSON_GetArraySize(array) > keep) {
        cJSON_DeleteItemFromArray(array, cJSON_GetArraySize(array) - 1);
        dropped++;
    }
    return dropped;
}

static void trim_suggestions(cJSON *issues)
{
    cJSON *is;
    cJSON_ArrayForEach(is, issues) cut(cJSON_GetObjectItemCaseSensitive(is, "suggestions"), 3);
}

/* Drops the last warning, else the last error. 0 when both lists are empty. */
static int drop_one(cJSON *doc)
{
    cJSON *w = cJSON_GetObjectItemCaseSensitive(doc, "warnings"), *e = cJSON_GetObjectItemCaseSensitive(doc, "issues");
    if (cJSON_GetArraySize(w) > 0)
        return cut(w, cJSON_GetArraySize(w) - 1);
    if (cJSON_GetArraySize(e) > 0)
        return cut(e, cJSON_GetArraySize(e) - 1);
    return 0;
}

const char *acms_verdict_json(acms_arena *a, const Acms__V1__ValidationResult *res, size_t max_bytes)
{
    if (!res)
        return NULL;
    if (!max_bytes)
        max_bytes = ACMS_VERDICT_MAX_BYTES;
    cJSON *doc = acms_json_from_message(&res->base);
    if (!doc)
        return NULL;
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "suggestions");
    int truncated = cut(cJSON_GetObjectItemCaseSensitive(doc, "issues"), ACMS_VERDICT_MAX_ISSUES) +
                    cut(cJSON_GetObjectItemCaseSensitive(doc, "warnings"), ACMS_VERDICT_MAX_ISSUES);
    trim_suggestions(cJSON_GetObjectItemCaseSensitive(doc, "issues"));
    trim_suggestions(cJSON_GetObjectItemCaseSensitive(doc, "warnings"));
    const char *out = NULL;
    for (;;) {
        if (truncated && !cJSON_GetObjectItemCaseSensitive(doc, "truncated"))
            cJSON_AddBoolToObject(doc, "truncated", 1);
        char *s = cJSON_PrintUnformatted(doc);
        if (!s)
            break;
        size_t n = strlen(s);
        if (n <= max_bytes || !drop_one(doc)) {
            out = n <= max_bytes ? acms_arena_strndup(a, s, n) : acms_arena_strdup(a, "{\"truncated\":true}");
            free(s);
            break;
        }
        free(s);
        truncated = 1;
    }
    cJSON_Delete(doc);
    return out;
}
