/* Fix insights: the suggestions a run's validation credited as resolved are kept in the run's fixes
 * hash (acms:feedback:runfixes:<run>) as "CODE=id1,id2;CODE2=id3" (only resolved increments, unique
 * ids, separators never inside a part) and come back as one fix_effective LearningInsight each with
 * its record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "feedback/fixes.h"

static void test_join_keeps_resolved_only(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    feedback_fix_incr inc[] = {
        {.code = "POL-OWNER-TAG", .field = "POL-OWNER-TAG:policy-fix:resolved"},
        {.code = "POL-OWNER-TAG", .field = "POL-OWNER-TAG:policy-fix:offered"},
        {.code = "DAG_CYCLE", .field = "dag.remove_edge:resolved"},
        {.code = "DAG_CYCLE", .field = "dag.split:resolved"},
        {.code = "DAG_CYCLE", .field = "dag.split:resolved"},       /* once */
        {.code = "BAD=CODE", .field = "x:resolved"},                /* would break the form: skipped */
        {.code = "UNKNOWN", .field = "type.nearest:offered"},
    };
    const char *s = feedback_fix_resolved_join(a, inc, sizeof inc / sizeof inc[0]);
    assert_string_equal(s, "POL-OWNER-TAG=POL-OWNER-TAG:policy-fix;DAG_CYCLE=dag.remove_edge,dag.split");
    assert_string_equal(feedback_fix_resolved_join(a, inc + 6, 1), "");
    assert_string_equal(feedback_fix_resolved_join(a, NULL, 0), "");

    feedback_fixset set;
    feedback_fix_resolved_parse(a, s, &set);
    assert_int_equal(set.n, 2);
    assert_string_equal(set.v[0].code, "POL-OWNER-TAG");
    assert_int_equal(set.v[0].nids, 1);
    assert_string_equal(set.v[0].ids[0], "POL-OWNER-TAG:policy-fix");
    assert_string_equal(set.v[1].code, "DAG_CYCLE");
    assert_int_equal(set.v[1].nids, 2);
    assert_string_equal(set.v[1].ids[1], "dag.split");

    feedback_fix_resolved_parse(a, NULL, &set);
    assert_int_equal(set.n, 0);
    feedback_fix_resolved_parse(a, ";=x;;NOEQ;C=;D=a,,b", &set);  /* malformed parts skipped */
    assert_int_equal(set.n, 2);
    assert_string_equal(set.v[0].code, "C");
    assert_int_equal(set.v[0].nids, 0);
    assert_string_equal(set.v[1].code, "D");
    assert_int_equal(set.v[1].nids, 2);
    acms_arena_free(a);
}

static void test_insight_names_its_record(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__LearningInsight *li = feedback_fix_insight(a, "churn", "POL-OWNER-TAG", "POL-OWNER-TAG:policy-fix", 4, 3);
    assert_string_equal(li->kind, "fix_effective");
    assert_string_equal(li->pipeline, "churn");
    assert_int_equal(li->based_on_runs, 4);
    assert_non_null(strstr(li->summary, "3 of 4"));
    assert_non_null(strstr(li->expected_effect, "0.75"));
    li = feedback_fix_insight(a, "churn", "X", "x.fix", 0, 0);
    assert_non_null(strstr(li->expected_effect, "0.00"));
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_keeps_resolved_only),
        cmocka_unit_test(test_insight_names_its_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
