/* Issue lists grow in amortised constant time whatever else the arena grows meanwhile. They used to
 * grow through acms_arena_push, which copies an array it no longer remembers (its 8 recent slots are
 * taken by each issue's suggestion list): every add then copied the whole list, so 5,000 issues cost
 * ~200 MB and 50,000 (one 1 MiB message of steps) minutes of validator time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "issue.h"

static void many_issues_with_suggestions_stay_linear(void **state)
{
    (void)state;
    const size_t n = 5000;
    acms_arena *a = acms_arena_new(0);
    acms_issues is;
    acms_issues_init(&is, a, "syntax");
    for (size_t i = 0; i < n; i++) {
        Acms__V1__ValidationIssue *x = acms_issue_add(&is, "MISSING_COMMAND", "error", "spec.steps", NULL, "step %zu", i);
        acms_issue_suggest(&is, x, "add-command", "pattern", 0.5, NULL, NULL, "add a command to step %zu", i);
    }
    assert_int_equal(is.n, n);
    for (size_t i = 0; i < n; i += 997)
        assert_string_equal(is.v[i]->message, acms_arena_printf(a, "step %zu", i));
    /* ~0.5 KB an issue with its suggestion; the quadratic growth took ~40 KB an issue at this size */
    assert_true(acms_arena_used(a) < n * 2048);
    acms_arena_free(a);
}

static void a_hand_built_list_keeps_its_items(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    acms_issues is;
    acms_issues_init(&is, a, "syntax");
    acms_issue_add(&is, "A", "error", "", NULL, "first");
    /* a list whose array was replaced by hand (cap unknown): the next add copies what is there */
    Acms__V1__ValidationIssue **copy = acms_arena_alloc(a, sizeof *copy);
    copy[0] = is.v[0];
    is.v = copy;
    is.cap = 0;
    acms_issue_add(&is, "B", "warning", "", NULL, "second");
    assert_int_equal(is.n, 2);
    assert_string_equal(is.v[0]->code, "A");
    assert_string_equal(is.v[1]->code, "B");
    assert_non_null(acms_issues_find(&is, "B"));
    assert_int_equal(acms_issues_count(&is, "error"), 1);
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(many_issues_with_suggestions_stay_linear),
        cmocka_unit_test(a_hand_built_list_keeps_its_items),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
