/* test_validator_suggest.c: the IntelligentSuggester without Redis: history blending through plain
 * statistics, ranking (confidence, then source priority), de-duplication per issue and across
 * issues, stable "<CODE>:<slug>" ids, best practices, the global top-N cap and the parsing of the
 * feedback service's hashes. */
#include "validator_fixture.h"

#include <math.h>

static void test_blend(void **state)
{
    (void)state;
    assert_true(fabs(validator_blend_confidence(0.6, 0, 0) - 0.6) < 1e-9);      /* no evidence: base */
    /* 10 offers, 10 resolved: h = 11/12, w = 10/15 */
    double want = (5.0 / 15.0) * 0.3 + (10.0 / 15.0) * (11.0 / 12.0);
    assert_true(fabs(validator_blend_confidence(0.3, 10, 10) - want) < 1e-9);
    /* a fix that never works sinks towards 0 */
    assert_true(validator_blend_confidence(0.9, 200, 0) < 0.05);
    /* resolved above offered is clamped */
    assert_true(validator_blend_confidence(0.5, 2, 9) <= 1.0);
}

static void test_fix_history_parse_merge_and_lookup(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    validator_fix_history fh = {0};
    validator_fix_history_apply(&fh, a, "UNKNOWN_FIELD:rename-field:instance_type:offered", "12");
    validator_fix_history_apply(&fh, a, "DAG_CYCLE:break:offered", "4");
    validator_fix_history_apply(&fh, a, "UNKNOWN_FIELD:rename-field:instance_type:resolved", "9");
    validator_fix_history_apply(&fh, a, "DAG_CYCLE:break:resolved", "not-a-number");
    validator_fix_history_apply(&fh, a, "garbage", "3");
    validator_fix_history_sort(&fh);
    assert_int_equal(fh.n, 2);
    const validator_fix_stat *s = validator_fix_history_find(&fh, "UNKNOWN_FIELD:rename-field:instance_type");
    assert_non_null(s);
    assert_int_equal(s->offered, 12);
    assert_int_equal(s->resolved, 9);
    s = validator_fix_history_find(&fh, "DAG_CYCLE:break");
    assert_int_equal(s->offered, 4);
    assert_int_equal(s->resolved, 0);
    assert_null(validator_fix_history_find(&fh, "DAG_CYCLE:other"));
    assert_null(validator_fix_history_find(NULL, "x"));

    validator_step_history h = {0};
    validator_history_apply(&h, 1, "memory_mb", "2048");
    validator_history_apply(&h, 1, "reason", "p90 peak + 20%");
    validator_history_apply(&h, 0, "p90_peak_mb", "900.5");
    validator_history_apply(&h, 0, "runs", "7");
    validator_history_apply(&h, 0, "p50_wall_ms", "bogus");
    assert_true(h.has_rec && h.has_stats);
    assert_int_equal(h.rec_memory_mb, 2048);
    assert_int_equal(h.runs, 7);
    assert_true(fabs(h.p90_peak_mb - 900.5) < 1e-9);
    assert_true(h.p50_wall_ms == 0);
    acms_arena_free(a);
}

static Acms__V1__ValidationIssue *issue(acms_issues *is, const char *code, const char *sev, const char *path)
{
    return acms_issue_add(is, code, sev, path, NULL, "%s at %s", code, path);
}

static void test_history_reorders_and_relabels(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    acms_issues is;
    acms_issues_init(&is, a, "syntax");
    Acms__V1__ValidationIssue *x = issue(&is, "UNKNOWN_FIELD", "error", "spec.steps[0].instnace_type");
    acms_issue_suggest(&is, x, "rename-field:instance_type", "pattern", 0.6, "spec.steps[0].instance_type", "ml.m5.large",
                       "did you mean 'instance_type'?");
    acms_issue_suggest(&is, x, "UNKNOWN_FIELD:remove", "pattern", 0.7, "spec.steps[0].instnace_type", "", "remove it");
    validator_fix_history fh = {0};
    validator_fix_history_apply(&fh, a, "UNKNOWN_FIELD:rename-field:instance_type:offered", "20");
    validator_fix_history_apply(&fh, a, "UNKNOWN_FIELD:rename-field:instance_type:resolved", "19");
    validator_fix_history_apply(&fh, a, "UNKNOWN_FIELD:remove:offered", "20");
    validator_fix_history_apply(&fh, a, "UNKNOWN_FIELD:remove:resolved", "1");
    validator_fix_history_sort(&fh);
    validator_input in = {.fixes = &fh};
    Acms__V1__ValidationSuggestion **top = NULL;
    size_t n = validator_suggest(&in, a, &is, &top, 10);
    assert_true(n >= 2);
    /* ids normalised to <CODE>:<slug>, history put the rename first and relabelled both */
    assert_string_equal(x->suggestions[0]->id, "UNKNOWN_FIELD:rename-field:instance_type");
    assert_string_equal(x->suggestions[0]->source, "history");
    assert_string_equal(x->suggestions[0]->issue_code, "UNKNOWN_FIELD");
    assert_true(x->suggestions[0]->confidence > 0.8);
    assert_string_equal(x->suggestions[1]->id, "UNKNOWN_FIELD:remove");
    assert_true(x->suggestions[1]->confidence < 0.3);
    /* the best practice for the code was added and ranks after */
    assert_non_null(vf_sugg(x, "UNKNOWN_FIELD:schema", NULL));
    assert_ptr_equal(top[0], x->suggestions[0]);
    acms_arena_free(a);
}

static void test_dedupe_and_source_priority(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    acms_issues is;
    acms_issues_init(&is, a, "security");
    Acms__V1__ValidationIssue *x = issue(&is, "POL-PROD-ENCRYPT", "error", "spec.steps[0].encrypt_volume");
    acms_issue_suggest(&is, x, "fix-a", "pattern", 0.9, "spec.steps[0].encrypt_volume", "true", "enable encryption");
    acms_issue_suggest(&is, x, "POL-PROD-ENCRYPT:policy-fix", "policy", 0.9, "spec.steps[0].encrypt_volume", "true",
                       "set encrypt_volume: true");
    acms_issue_suggest(&is, x, "fix-b", "best_practice", 0.4, NULL, NULL, "encrypt everything");
    acms_issue_suggest(&is, x, "fix-c", "best_practice", 0.5, NULL, NULL, "encrypt everything");
    Acms__V1__ValidationSuggestion **top = NULL;
    validator_suggest(NULL, a, &is, &top, 10);
    assert_int_equal(x->n_suggestions, 2);
    /* equal patch and confidence: the policy source wins */
    assert_string_equal(x->suggestions[0]->source, "policy");
    assert_string_equal(x->suggestions[1]->id, "POL-PROD-ENCRYPT:fix-c");
    acms_arena_free(a);
}

static void test_global_top_is_capped_deduped_and_diverse(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    acms_issues is;
    acms_issues_init(&is, a, "environment");
    /* 8 steps with the same missing output: the shared best practice appears once */
    for (int i = 0; i < 8; i++) {
        const char *path = acms_arena_printf(a, "spec.steps[%d].output_path", i);
        Acms__V1__ValidationIssue *x = issue(&is, "MISSING_OUTPUT", "warning", path);
        acms_issue_suggest(&is, x, "MISSING_OUTPUT:allowed-prefix", "pattern", 0.6, path,
                           acms_arena_printf(a, "s3://b/%d", i), "write to s3://b/%d", i);
    }
    /* one error with many candidates: at most 3 reach the top */
    Acms__V1__ValidationIssue *e = issue(&is, "INSTANCE_TYPE_NOT_ALLOWED", "error", "spec.steps[0].instance_type");
    for (int k = 0; k < 6; k++)
        acms_issue_suggest(&is, e, "INSTANCE_TYPE_NOT_ALLOWED:allowed", "pattern", 0.95 - 0.01 * k,
                           "spec.steps[0].instance_type", acms_arena_printf(a, "ml.t%d", k), "use ml.t%d", k);
    Acms__V1__ValidationSuggestion **top = NULL;
    size_t n = validator_suggest(NULL, a, &is, &top, VALIDATOR_TOP_SUGGESTIONS);
    assert_int_equal(n, 10);
    size_t from_error = 0, bp = 0;
    for (size_t i = 0; i < n; i++) {
        from_error += !strcmp(top[i]->issue_code, "INSTANCE_TYPE_NOT_ALLOWED");
        bp += !strcmp(top[i]->id, "MISSING_OUTPUT:persist-outputs");
        if (i)
            assert_true(top[i - 1]->confidence >= top[i]->confidence);
    }
    assert_int_equal(from_error, 3);
    assert_true(bp <= 1);
    assert_string_equal(top[0]->patch_value, "ml.t0");
    /* each issue keeps its whole ranked list */
    assert_true(e->n_suggestions >= 6);
    acms_arena_free(a);
}

static void test_best_practice_table_lookups(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    acms_issues is;
    acms_issues_init(&is, a, "runtime");
    Acms__V1__ValidationIssue *first = issue(&is, "BAD_SECRET_REF", "error", "p");
    Acms__V1__ValidationIssue *last = issue(&is, "VALUE_OUT_OF_RANGE", "error", "p");
    Acms__V1__ValidationIssue *dup = issue(&is, "QUOTA_MEMORY", "error", "p");
    Acms__V1__ValidationIssue *none = issue(&is, "NO_SUCH_CODE", "error", "p");
    Acms__V1__ValidationSuggestion **top = NULL;
    validator_suggest(NULL, a, &is, &top, 10);
    assert_non_null(vf_sugg(first, "BAD_SECRET_REF:reference-forms", NULL));
    assert_non_null(vf_sugg(last, "VALUE_OUT_OF_RANGE:limits", NULL));
    assert_int_equal(dup->n_suggestions, 2);
    assert_int_equal(none->n_suggestions, 0);
    assert_int_equal(validator_source_rank("policy"), 0);
    assert_true(validator_source_rank("pattern") < validator_source_rank("best_practice"));
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blend),
        cmocka_unit_test(test_fix_history_parse_merge_and_lookup),
        cmocka_unit_test(test_history_reorders_and_relabels),
        cmocka_unit_test(test_dedupe_and_source_priority),
        cmocka_unit_test(test_global_top_is_capped_deduped_and_diverse),
        cmocka_unit_test(test_best_practice_table_lookups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
