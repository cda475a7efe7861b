/* test_validator_history.c: the keys of the validator's history reads (built by concatenation for
 * hiredis's argv form) are the keys keys.h's formats spell, short (on the stack) and long (on the
 * heap). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keys.h"
#include "validator/validator.h"

static void expect_key(int kind, const char *a, const char *b, const char *want, int on_heap)
{
    char buf[64], *heap = NULL;
    size_t len = validator_history_key(buf, sizeof buf, &heap, kind, a, b);
    const char *got = heap ? heap : buf;
    assert_int_equal(on_heap, heap != NULL);
    assert_int_equal(len, strlen(want));
    assert_string_equal(got, want);
    free(heap);
}

static void test_keys_match_formats(void **state)
{
    (void)state;
    char want[512];
    assert_true(snprintf(want, sizeof want, ACMS_KEY_LEARN_REC_FMT, "churn", "train") > 0);
    expect_key(VALIDATOR_HISTORY_REC, "churn", "train", want, 0);
    assert_true(snprintf(want, sizeof want, ACMS_KEY_FEEDBACK_STATS_FMT, "churn", "train") > 0);
    expect_key(VALIDATOR_HISTORY_STATS, "churn", "train", want, 0);
    assert_true(snprintf(want, sizeof want, ACMS_KEY_LEARN_FIX_FMT, "MISSING_DEPENDENCY") > 0);
    expect_key(VALIDATOR_HISTORY_FIX, "MISSING_DEPENDENCY", "ignored", want, 0);
    assert_true(snprintf(want, sizeof want, ACMS_KEY_LEARN_REC_FMT, "", "") > 0);
    expect_key(VALIDATOR_HISTORY_REC, "", "", want, 0);
}

static void test_long_keys_on_the_heap(void **state)
{
    (void)state;
    char pipe[200], want[512];
    memset(pipe, 'p', sizeof pipe - 1);
    pipe[sizeof pipe - 1] = '\0';
    assert_true(snprintf(want, sizeof want, ACMS_KEY_FEEDBACK_STATS_FMT, pipe, "step") > 0);
    expect_key(VALIDATOR_HISTORY_STATS, pipe, "step", want, 1);
    /* exactly filling the buffer with its NUL stays on the stack; one more byte does not */
    char a[64];
    size_t room = 64 - 1 - strlen("acms:learn:fix:");
    memset(a, 'c', room);
    a[room] = '\0';
    assert_true(snprintf(want, sizeof want, ACMS_KEY_LEARN_FIX_FMT, a) > 0);
    expect_key(VALIDATOR_HISTORY_FIX, a, NULL, want, 0);
    a[room] = 'c';
    a[room + 1] = '\0';
    assert_true(snprintf(want, sizeof want, ACMS_KEY_LEARN_FIX_FMT, a) > 0);
    expect_key(VALIDATOR_HISTORY_FIX, a, NULL, want, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_match_formats),
        cmocka_unit_test(test_long_keys_on_the_heap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
