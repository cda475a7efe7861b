/* Fix statistics as set differences: every suggestion offered counts once per code; when a later
 * result of the same pipeline no longer has a code, every id offered for it is credited as resolved;
 * the lastissues hash form round-trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "feedback/fixes.h"

static Acms__V1__ValidationIssue *issue(acms_arena *a, Acms__V1__ValidationResult *r, const char *code,
                                        const char *const *ids, size_t nids)
{
    Acms__V1__ValidationIssue *is = acms_pb_new(a, &acms__v1__validation_issue__descriptor);
    is->code = (char *)code;
    for (size_t i = 0; i < nids; i++) {
        Acms__V1__ValidationSuggestion *sg = acms_pb_new(a, &acms__v1__validation_suggestion__descriptor);
        sg->id = (char *)ids[i];
        sg->issue_code = (char *)code;
        is->suggestions = acms_arena_push(a, is->suggestions, &is->n_suggestions, sizeof *is->suggestions);
        is->suggestions[is->n_suggestions - 1] = sg;
    }
    r->issues = acms_arena_push(a, r->issues, &r->n_issues, sizeof *r->issues);
    r->issues[r->n_issues - 1] = is;
    return is;
}

static size_t count(const feedback_fix_incr *v, size_t n, const char *code, const char *field)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += !strcmp(v[i].code, code) && !strcmp(v[i].field, field);
    return c;
}

static void test_offered_and_resolved(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__ValidationResult *r1 = acms_pb_new(a, &acms__v1__validation_result__descriptor);
    r1->phase = "pre-execution";
    const char *cycle_ids[] = {"dag.remove_edge", "dag.split"};
    const char *type_ids[] = {"type.nearest"};
    issue(a, r1, "DAG_CYCLE", cycle_ids, 2);
    issue(a, r1, "UNKNOWN_INSTANCE_TYPE", type_ids, 1);
    issue(a, r1, "UNKNOWN_INSTANCE_TYPE", type_ids, 1);  /* two steps, same issue: counted once */
    Acms__V1__ValidationSuggestion *top = acms_pb_new(a, &acms__v1__validation_suggestion__descriptor);
    top->id = "dag.remove_edge";
    top->issue_code = "DAG_CYCLE";
    r1->suggestions = &top;
    r1->n_suggestions = 1;
    assert_true(feedback_fix_phase_counts(r1->phase));
    assert_true(feedback_fix_phase_counts("rejected"));
    assert_false(feedback_fix_phase_counts("runtime"));

    feedback_fixset prev = {0}, cur;
    feedback_fixset_collect(a, r1, &cur);
    assert_int_equal(cur.n, 2);
    feedback_fix_incr *inc;
    size_t n = feedback_fix_diff(a, &prev, &cur, &inc);
    assert_int_equal(n, 3);
    assert_int_equal(count(inc, n, "DAG_CYCLE", "dag.remove_edge:offered"), 1);
    assert_int_equal(count(inc, n, "DAG_CYCLE", "dag.split:offered"), 1);
    assert_int_equal(count(inc, n, "UNKNOWN_INSTANCE_TYPE", "type.nearest:offered"), 1);

    /* Stored and read back as the lastissues hash. */
    const char *kv[] = {"version", "3", cur.v[0].code, feedback_fixset_join(a, &cur.v[0]), cur.v[1].code,
                        feedback_fixset_join(a, &cur.v[1])};
    assert_string_equal(kv[3], "dag.remove_edge,dag.split");
    feedback_fixset_from_hash(a, kv, 6, &prev);
    assert_int_equal(prev.n, 2);
    assert_int_equal(prev.v[0].nids, 2);

    /* The next submission fixed the cycle; the instance type issue remains. */
    Acms__V1__ValidationResult *r2 = acms_pb_new(a, &acms__v1__validation_result__descriptor);
    issue(a, r2, "UNKNOWN_INSTANCE_TYPE", type_ids, 1);
    feedback_fixset_collect(a, r2, &cur);
    n = feedback_fix_diff(a, &prev, &cur, &inc);
    assert_int_equal(n, 3);
    assert_int_equal(count(inc, n, "DAG_CYCLE", "dag.remove_edge:resolved"), 1);
    assert_int_equal(count(inc, n, "DAG_CYCLE", "dag.split:resolved"), 1);
    assert_int_equal(count(inc, n, "UNKNOWN_INSTANCE_TYPE", "type.nearest:offered"), 1);
    assert_int_equal(count(inc, n, "UNKNOWN_INSTANCE_TYPE", "type.nearest:resolved"), 0);

    /* A clean result resolves what is left and offers nothing. */
    Acms__V1__ValidationResult *r3 = acms_pb_new(a, &acms__v1__validation_result__descriptor);
    feedback_fixset last = cur;
    feedback_fixset_collect(a, r3, &cur);
    assert_int_equal(cur.n, 0);
    n = feedback_fix_diff(a, &last, &cur, &inc);
    assert_int_equal(n, 1);
    assert_int_equal(count(inc, n, "UNKNOWN_INSTANCE_TYPE", "type.nearest:resolved"), 1);
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offered_and_resolved),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
