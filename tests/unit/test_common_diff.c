/* Unified line diff (common/diff.h): identical texts give "", a changed line is one '-' and one '+'
 * inside a hunk with its context and correct ranges, far-apart changes make separate hunks,
 * additions at the start and removals at the end have the conventional zero-length ranges, and a
 * missing final newline is not a difference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "diff.h"

static const char *diff(acms_arena *a, const char *x, const char *y, size_t *changes)
{
    return acms_diff_unified(a, "a", x, strlen(x), "b", y, strlen(y), 3, changes);
}

static void identical(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    size_t n = 9;
    assert_string_equal(diff(a, "x\ny\n", "x\ny\n", &n), "");
    assert_int_equal(n, 0);
    assert_string_equal(diff(a, "x\ny", "x\ny\n", &n), ""); /* final newline */
    assert_string_equal(diff(a, "", "", &n), "");
    acms_arena_free(a);
}

static void one_changed_line(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    size_t n;
    const char *d = diff(a, "1\n2\n3\n4\n5\n6\n7\n8\n", "1\n2\n3\n4\nfive\n6\n7\n8\n", &n);
    assert_int_equal(n, 2);
    assert_string_equal(d, "--- a\n+++ b\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n");
    acms_arena_free(a);
}

static void separate_hunks(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    size_t n;
    const char *x = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\n";
    const char *y = "A\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nL\n";
    const char *d = diff(a, x, y, &n);
    assert_int_equal(n, 4);
    assert_string_equal(d, "--- a\n+++ b\n@@ -1,4 +1,4 @@\n-a\n+A\n b\n c\n d\n@@ -9,4 +9,4 @@\n i\n j\n k\n-l\n+L\n");
    /* close changes share one hunk */
    d = diff(a, "a\nb\nc\nd\n", "A\nb\nc\nD\n", &n);
    assert_string_equal(d, "--- a\n+++ b\n@@ -1,4 +1,4 @@\n-a\n+A\n b\n c\n-d\n+D\n");
    acms_arena_free(a);
}

static void insertions_and_removals(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    size_t n;
    assert_string_equal(diff(a, "", "x\ny\n", &n), "--- a\n+++ b\n@@ -0,0 +1,2 @@\n+x\n+y\n");
    assert_string_equal(diff(a, "x\ny\n", "", &n), "--- a\n+++ b\n@@ -1,2 +0,0 @@\n-x\n-y\n");
    assert_string_equal(diff(a, "x\nz\n", "x\ny\nz\n", &n), "--- a\n+++ b\n@@ -1,2 +1,3 @@\n x\n+y\n z\n");
    acms_arena_free(a);
}

static void large_inputs_stay_correct(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    /* beyond the table bound the middle is removed and re-added: still a faithful diff */
    size_t lines = 2500, n;
    char *x = acms_arena_alloc(a, lines * 8 + 1), *y = acms_arena_alloc(a, lines * 8 + 1);
    size_t ox = 0, oy = 0;
    for (size_t i = 0; i < lines; i++) {
        ox += (size_t)snprintf(x + ox, 9, "x%05zu\n", i);
        oy += (size_t)snprintf(y + oy, 9, "y%05zu\n", i);
    }
    const char *d = acms_diff_unified(a, "a", x, ox, "b", y, oy, 3, &n);
    assert_int_equal(n, 2 * lines);
    assert_non_null(strstr(d, "@@ -1,2500 +1,2500 @@\n-x00000\n"));
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(identical),
        cmocka_unit_test(one_changed_line),
        cmocka_unit_test(separate_hunks),
        cmocka_unit_test(insertions_and_removals),
        cmocka_unit_test(large_inputs_stay_correct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
