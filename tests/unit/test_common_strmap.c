/* The string map: put keeps the first value and reports it, get finds every key after growth (heap
 * and arena), keys are byte strings (a prefix is another key), colliding probes still find theirs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "strmap.h"

#define NKEYS 5000

static void fill_and_check(acms_strmap *m, char (*keys)[16])
{
    for (size_t i = 0; i < NKEYS; i++) {
        snprintf(keys[i], sizeof keys[i], "step-%zu", i);
        assert_int_equal(acms_strmap_put(m, keys[i], i, NULL), 1);
        assert_true(m->n * 2 < m->cap);
    }
    assert_int_equal(m->n, NKEYS);
    for (size_t i = 0; i < NKEYS; i++) {
        size_t v = SIZE_MAX;
        char probe[16];
        snprintf(probe, sizeof probe, "step-%zu", i); /* another pointer, the same bytes */
        assert_int_equal(acms_strmap_get(m, probe, &v), 1);
        assert_int_equal(v, i);
    }
    assert_int_equal(acms_strmap_get(m, "step-", NULL), 0);
    assert_int_equal(acms_strmap_get(m, "step-5000", NULL), 0);
}

static void heap_map_grows_and_finds_every_key(void **state)
{
    (void)state;
    static char keys[NKEYS][16];
    acms_strmap m = ACMS_STRMAP_INIT;
    assert_int_equal(acms_strmap_get(&m, "x", NULL), 0); /* empty map: no table yet */
    fill_and_check(&m, keys);
    acms_strmap_release(&m);
    assert_null(m.slot);
    assert_int_equal(acms_strmap_get(&m, "step-1", NULL), 0);
}

static void arena_map_sized_at_init_does_not_grow(void **state)
{
    (void)state;
    static char keys[NKEYS][16];
    acms_arena *a = acms_arena_new(0);
    acms_strmap m;
    acms_strmap_init(&m, a, NKEYS);
    size_t cap = m.cap;
    fill_and_check(&m, keys);
    assert_int_equal(m.cap, cap);
    acms_strmap_release(&m); /* frees nothing: the table is the arena's */
    acms_arena_free(a);

    a = acms_arena_new(0);
    acms_strmap_init(&m, a, 0);
    fill_and_check(&m, keys); /* grows from 16 slots */
    acms_arena_free(a);
}

static void put_keeps_the_first_value_and_reports_it(void **state)
{
    (void)state;
    acms_strmap m = ACMS_STRMAP_INIT;
    size_t old = 0;
    assert_int_equal(acms_strmap_put(&m, "train", 3, &old), 1);
    assert_int_equal(acms_strmap_put(&m, "train", 9, &old), 0);
    assert_int_equal(old, 3);
    size_t v = 0;
    assert_int_equal(acms_strmap_get(&m, "train", &v), 1);
    assert_int_equal(v, 3);
    assert_int_equal(acms_strmap_put(&m, "", 4, NULL), 1); /* the empty key is a key */
    assert_int_equal(acms_strmap_get(&m, "", &v), 1);
    assert_int_equal(v, 4);
    assert_int_equal(m.n, 2);
    acms_strmap_release(&m);
}

static void keys_are_byte_strings_with_their_length(void **state)
{
    (void)state;
    acms_strmap m = ACMS_STRMAP_INIT;
    const char *text = "trainer";
    assert_int_equal(acms_strmap_putn(&m, text, 5, acms_strmap_hash(text, 5), 1, NULL), 1);
    assert_int_equal(acms_strmap_get(&m, "train", NULL), 1);
    assert_int_equal(acms_strmap_get(&m, "trainer", NULL), 0);
    assert_int_equal(acms_strmap_putn(&m, text, 7, acms_strmap_hash(text, 7), 2, NULL), 1);
    size_t v = 0;
    assert_int_equal(acms_strmap_getn(&m, "trainer!", 7, acms_strmap_hash("trainer", 7), &v), 1);
    assert_int_equal(v, 2);
    acms_strmap_release(&m);
}

static void colliding_probes_find_their_own_key(void **state)
{
    (void)state;
    /* the same hash given for different keys: every one lands in one probe run */
    acms_strmap m = ACMS_STRMAP_INIT;
    static const char *const k[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(acms_strmap_putn(&m, k[i], 1, 42, i, NULL), 1);
    for (size_t i = 0; i < 10; i++) {
        size_t v = 99;
        assert_int_equal(acms_strmap_getn(&m, k[i], 1, 42, &v), 1);
        assert_int_equal(v, i);
    }
    assert_int_equal(acms_strmap_getn(&m, "z", 1, 42, NULL), 0);
    acms_strmap_release(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(heap_map_grows_and_finds_every_key),
        cmocka_unit_test(arena_map_sized_at_init_does_not_grow),
        cmocka_unit_test(put_keeps_the_first_value_and_reports_it),
        cmocka_unit_test(keys_are_byte_strings_with_their_length),
        cmocka_unit_test(colliding_probes_find_their_own_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
