/* The verdict a rejected run keeps for acmsctl (common/verdict.h): the issues with line, column and
 * at most three fixes each, no result-wide list, bounded in size with "truncated" when issues were
 * left out; and the confidence of an adapter rejection (1.0 less 0.02 per unknown field, at most 0.10),
 * the same number in the service and in `acmsctl validate`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "adapter/adapter.h"
#include "issue.h"
#include "verdict.h"

static Acms__V1__ValidationResult *result_with(acms_arena *a, size_t errors, size_t warnings, size_t fixes)
{
    acms_issues is;
    acms_issues_init(&is, a, "syntax");
    for (size_t i = 0; i < errors + warnings; i++) {
        Acms__V1__ValidationIssue *x = acms_issue_add(&is, i < errors ? "UNKNOWN_FIELD" : "NO_GPU_FOR_TRAINING",
                                                      i < errors ? "error" : "info", "spec.steps[0].x", NULL,
                                                      "issue %zu with a message long enough to weigh", i);
        x->line = (uint32_t)(i + 3);
        x->column = 5;
        for (size_t k = 0; k < fixes; k++)
            acms_issue_suggest(&is, x, "UNKNOWN_FIELD:rename", "pattern", 0.9 - 0.1 * (double)k, "spec.steps[0].y",
                               "v", "did you mean fix %zu?", k);
    }
    return adapter_rejection_result(a, &is);
}

static void keeps_positions_and_three_fixes(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    const char *s = acms_verdict_json(a, result_with(a, 1, 1, 5), 0);
    assert_non_null(s);
    cJSON *j = cJSON_Parse(s);
    assert_non_null(j);
    assert_null(cJSON_GetObjectItem(j, "suggestions")); /* each issue carries its own */
    assert_null(cJSON_GetObjectItem(j, "truncated"));
    cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "issues"), 0);
    assert_int_equal(cJSON_GetObjectItem(first, "line")->valueint, 3);
    assert_int_equal(cJSON_GetObjectItem(first, "column")->valueint, 5);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(first, "suggestions")), 3);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "warnings")), 1);
    cJSON_Delete(j);
    acms_arena_free(a);
}

static void bounded_with_truncated_flag(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__ValidationResult *res = result_with(a, 400, 400, 3);
    const char *s = acms_verdict_json(a, res, 0);
    assert_non_null(s);
    assert_true(strlen(s) <= ACMS_VERDICT_MAX_BYTES);
    cJSON *j = cJSON_Parse(s);
    assert_non_null(j);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "truncated")));
    /* warnings go first: the errors that remain are the first ones */
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "warnings")), 0);
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(j, "issues")) > 0);
    cJSON_Delete(j);
    s = acms_verdict_json(a, res, 600); /* a bound too small for even one issue */
    assert_non_null(s);
    assert_true(strlen(s) <= 600);
    j = cJSON_Parse(s);
    assert_non_null(j);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "truncated")));
    cJSON_Delete(j);
    acms_arena_free(a);
}

static void rejection_confidence_counts_unknown_fields(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    assert_true(result_with(a, 1, 0, 0)->confidence_score > 0.979 &&
                result_with(a, 1, 0, 0)->confidence_score < 0.981); /* was 0.00 offline, 1.00 in the adapter */
    assert_true(result_with(a, 9, 0, 0)->confidence_score > 0.899 && result_with(a, 9, 0, 0)->confidence_score < 0.901);
    acms_issues none;
    acms_issues_init(&none, a, "environment");
    acms_issue_add(&none, "UNKNOWN_ENVIRONMENT", "error", "environment", NULL, "no such environment");
    assert_true(adapter_rejection_result(a, &none)->confidence_score == 1.0);
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keeps_positions_and_three_fixes),
        cmocka_unit_test(bounded_with_truncated_flag),
        cmocka_unit_test(rejection_confidence_counts_unknown_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
