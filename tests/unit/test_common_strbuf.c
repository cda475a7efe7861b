/* The growable buffer: additions keep a NUL after len, printf grows past the first allocation,
 * the cap refuses an addition whole and leaves the buffer as it was, remove/reset/detach, and the
 * arena-backed variant. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "strbuf.h"

static void additions_keep_a_terminating_nul(void **state)
{
    (void)state;
    acms_strbuf b = ACMS_STRBUF_INIT;
    assert_int_equal(acms_strbuf_add(&b, "ab\0c", 4), ACMS_OK);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.buf, "ab\0c", 5);
    assert_int_equal(acms_strbuf_addstr(&b, "de"), ACMS_OK);
    assert_int_equal(b.len, 6);
    assert_int_equal(b.buf[6], '\0');
    for (int i = 0; i < 10000; i++)
        assert_int_equal(acms_strbuf_add(&b, "x", 1), ACMS_OK);
    assert_int_equal(b.len, 10006);
    assert_true(b.alloc > b.len);
    assert_int_equal(b.buf[b.len], '\0');
    acms_strbuf_release(&b);
    assert_null(b.buf);
    assert_int_equal(b.len, 0);
}

static void printf_grows_past_the_first_allocation(void **state)
{
    (void)state;
    acms_strbuf b = ACMS_STRBUF_INIT;
    assert_int_equal(acms_strbuf_addf(&b, "%s-%d", "run", 7), ACMS_OK);
    assert_string_equal(b.buf, "run-7");
    char big[5000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(acms_strbuf_addf(&b, "[%s]", big), ACMS_OK);
    assert_int_equal(b.len, 5 + 2 + 4999);
    assert_int_equal(b.buf[5], '[');
    assert_int_equal(b.buf[b.len - 1], ']');
    assert_int_equal(strlen(b.buf), b.len);
    acms_strbuf_release(&b);
}

static void the_cap_refuses_an_addition_whole(void **state)
{
    (void)state;
    acms_strbuf b;
    acms_strbuf_init(&b, 10);
    assert_int_equal(acms_strbuf_addstr(&b, "0123456"), ACMS_OK);
    assert_int_equal(acms_strbuf_addstr(&b, "7890"), ACMS_ERR_LIMIT);
    assert_string_equal(b.buf, "0123456");
    assert_int_equal(acms_strbuf_addf(&b, "%d", 1234), ACMS_ERR_LIMIT);
    assert_string_equal(b.buf, "0123456");
    assert_int_equal(b.len, 7);
    assert_int_equal(acms_strbuf_addf(&b, "%d", 789), ACMS_OK);
    assert_string_equal(b.buf, "0123456789");
    assert_true(b.alloc <= 11);
    assert_int_equal(acms_strbuf_add(&b, "", 0), ACMS_OK);
    assert_int_equal(acms_strbuf_add(&b, "x", 1), ACMS_ERR_LIMIT);
    assert_int_equal(acms_strbuf_grow(&b, SIZE_MAX), ACMS_ERR_LIMIT);
    acms_strbuf_release(&b);
    assert_int_equal(b.max, 10);
    assert_int_equal(acms_strbuf_grow(&b, SIZE_MAX - 1), ACMS_ERR_LIMIT);
}

static void remove_reset_and_detach(void **state)
{
    (void)state;
    acms_strbuf b = ACMS_STRBUF_INIT;
    acms_strbuf_addstr(&b, "line one\nline two");
    acms_strbuf_remove(&b, 0, 9);
    assert_string_equal(b.buf, "line two");
    acms_strbuf_remove(&b, 4, 100);
    assert_string_equal(b.buf, "line");
    acms_strbuf_remove(&b, 9, 1);
    assert_string_equal(b.buf, "line");
    size_t alloc = b.alloc;
    acms_strbuf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.buf, "");
    assert_int_equal(b.alloc, alloc);
    acms_strbuf_addstr(&b, "kept");
    size_t n = 0;
    char *s = acms_strbuf_detach(&b, &n);
    assert_string_equal(s, "kept");
    assert_int_equal(n, 4);
    assert_null(b.buf);
    free(s);
    s = acms_strbuf_detach(&b, &n);
    assert_string_equal(s, "");
    assert_int_equal(n, 0);
    free(s);
}

static void an_arena_buffer_allocates_from_the_arena(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    acms_strbuf b;
    acms_strbuf_init_arena(&b, a, 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(acms_strbuf_addf(&b, "%03d,", i), ACMS_OK);
    assert_int_equal(b.len, 4000);
    assert_memory_equal(b.buf + 3996, "999,", 4);
    assert_true(acms_arena_used(a) >= 4001);
    char *s = acms_strbuf_detach(&b, NULL);
    assert_memory_equal(s, "000,001,", 8);
    acms_strbuf_release(&b); /* frees nothing: the arena owns s */
    assert_memory_equal(s, "000,001,", 8);
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(additions_keep_a_terminating_nul),
        cmocka_unit_test(printf_grows_past_the_first_allocation),
        cmocka_unit_test(the_cap_refuses_an_addition_whole),
        cmocka_unit_test(remove_reset_and_detach),
        cmocka_unit_test(an_arena_buffer_allocates_from_the_arena),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
