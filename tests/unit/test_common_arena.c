/* Arena: zeroed aligned allocations, big blocks, push on foreign arrays, printf, protobuf decoding
 * into an arena with size cap and meta checks, derived ids. */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <cmocka.h>

#include "pb.h"

static void allocations_are_zeroed_and_aligned(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(256);
    for (int i = 1; i < 500; i += 7) {
        unsigned char *p = acms_arena_alloc(a, (size_t)i);
        assert_int_equal((uintptr_t)p % 16, 0);
        for (int k = 0; k < i; k++)
            assert_int_equal(p[k], 0);
        memset(p, 0xab, (size_t)i);
    }
    char *big = acms_arena_alloc(a, 100000);
    assert_int_equal(big[99999], 0);
    assert_string_equal(acms_arena_printf(a, "%s-%d", "x", 42), "x-42");
    assert_string_equal(acms_arena_strndup(a, "abcdef", 3), "abc");
    acms_arena_reset(a);
    assert_int_equal(acms_arena_used(a), 0);
    acms_arena_free(a);
}

static void push_copies_arrays_it_did_not_grow(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    /* an exact-size array, as protobuf-c decoding makes them */
    size_t n = 3;
    int *arr = acms_arena_alloc(a, 3 * sizeof *arr);
    arr[0] = 1, arr[1] = 2, arr[2] = 3;
    int *guard = acms_arena_alloc(a, sizeof *guard);
    *guard = 77;
    for (int i = 0; i < 100; i++) {
        arr = acms_arena_push(a, arr, &n, sizeof *arr);
        arr[n - 1] = 4 + i;
    }
    assert_int_equal(*guard, 77);
    assert_int_equal(n, 103);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(arr[i], (int)i + 1);
    /* two arrays grown alternately stay intact */
    size_t n1 = 0, n2 = 0;
    int *x = NULL, *y = NULL;
    for (int i = 0; i < 50; i++) {
        x = acms_arena_push(a, x, &n1, sizeof *x);
        x[n1 - 1] = i;
        y = acms_arena_push(a, y, &n2, sizeof *y);
        y[n2 - 1] = -i;
    }
    for (int i = 0; i < 50; i++) {
        assert_int_equal(x[i], i);
        assert_int_equal(y[i], -i);
    }
    acms_arena_free(a);
}

static void decode_checks_size_meta_and_version(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__ControlEvent *ev = acms_pb_new(a, &acms__v1__control_event__descriptor);
    ev->meta = acms_meta_new(a, "run-1", "test", NULL, NULL, NULL);
    ev->action = ACMS__V1__CONTROL_ACTION__CONTROL_ACTION_CANCEL;
    uint8_t *buf;
    size_t len;
    assert_int_equal(acms_pb_pack(&ev->base, &buf, &len), ACMS_OK);
    const char *reason = NULL;
    Acms__V1__ControlEvent *back =
        (Acms__V1__ControlEvent *)acms_pb_decode(a, &acms__v1__control_event__descriptor, buf, len, &reason);
    assert_non_null(back);
    assert_string_equal(back->meta->run_id, "run-1");
    assert_int_equal(back->action, ACMS__V1__CONTROL_ACTION__CONTROL_ACTION_CANCEL);
    free(buf);

    assert_null(acms_pb_decode(a, &acms__v1__control_event__descriptor, "\xff\xff\xff", 3, &reason));
    assert_string_equal(reason, "undecodable protobuf");
    assert_null(acms_pb_decode(a, &acms__v1__control_event__descriptor, "", ACMS_MAX_DECODE_BYTES + 1, &reason));
    assert_string_equal(reason, "payload too large");

    ev->meta->schema_version = 99;
    acms_pb_pack(&ev->base, &buf, &len);
    assert_null(acms_pb_decode(a, &acms__v1__control_event__descriptor, buf, len, &reason));
    assert_string_equal(reason, "unknown schema version");
    free(buf);
    ev->meta = NULL;
    acms_pb_pack(&ev->base, &buf, &len);
    assert_null(acms_pb_decode(a, &acms__v1__control_event__descriptor, buf, len, &reason));
    assert_non_null(strstr(reason, "missing meta"));
    free(buf);
    acms_arena_free(a);
}

static void derived_ids_are_stable(void **state)
{
    (void)state;
    char a[ACMS_ID_LEN], b[ACMS_ID_LEN], c[ACMS_ID_LEN], r1[ACMS_ID_LEN], r2[ACMS_ID_LEN];
    acms_id_derive(a, "parent", "prepared");
    acms_id_derive(b, "parent", "prepared");
    acms_id_derive(c, "parent", "validated");
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    /* SHA-256 of "parent/prepared" as a name-based UUID: ids other builds derived stay the same */
    assert_string_equal(a, "c9c4be22-3f95-51d0-9b20-03de2fdcffa8");
    acms_id_derive(c, "parent", NULL);
    assert_string_equal(c, "489eed1d-0081-51a7-a514-e5781f8aa45d");
    assert_int_equal(strlen(a), 36);
    acms_id_random(r1);
    acms_id_random(r2);
    assert_string_not_equal(r1, r2);
}

static void value_tree_paths(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__Value *root = acms_value_new_map(a);
    Acms__V1__Value *spec = acms_value_new_map(a);
    Acms__V1__Value *steps = acms_value_new_list(a);
    Acms__V1__Value *s0 = acms_value_new_map(a);
    acms_value_map_put(a, s0, "name", acms_value_new_string(a, "prep"));
    acms_value_list_add(a, steps, s0);
    acms_value_map_put(a, spec, "steps", steps);
    acms_value_map_put(a, root, "spec", spec);
    assert_string_equal(acms_value_str(acms_value_path(root, "spec.steps.0.name")), "prep");
    assert_null(acms_value_path(root, "spec.steps.1.name"));
    assert_null(acms_value_path(root, "spec.nope"));
    Acms__V1__Value *copy = acms_value_copy(a, root);
    assert_string_equal(acms_value_str(acms_value_path(copy, "spec.steps.0.name")), "prep");
    assert_string_equal(acms_value_kind_name(steps), "list");
    acms_arena_free(a);
}

/* acms_arena_printf formats the common conversions itself; the text must be snprintf's. */
#define SAME_AS_SNPRINTF(a, ...)                                                                       \
    do {                                                                                               \
        char want_[1024];                                                                              \
        snprintf(want_, sizeof want_, __VA_ARGS__);                                                   \
        assert_string_equal(acms_arena_printf(a, __VA_ARGS__), want_);                                \
    } while (0)

static void printf_matches_snprintf(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    char longs[600];
    memset(longs, 'x', sizeof longs - 1);
    longs[sizeof longs - 1] = '\0';
    SAME_AS_SNPRINTF(a, "plain text");
    SAME_AS_SNPRINTF(a, "%s", "");
    SAME_AS_SNPRINTF(a, "env.%s", "PASSWORD");
    SAME_AS_SNPRINTF(a, "spec.steps[%zu].%s", (size_t)299, "name");
    SAME_AS_SNPRINTF(a, "%d %d %i %u %u", 0, -7, INT_MIN, 0u, UINT_MAX);
    SAME_AS_SNPRINTF(a, "%ld %lu %lld %llu", LONG_MIN, ULONG_MAX, LLONG_MIN, ULLONG_MAX);
    SAME_AS_SNPRINTF(a, "%" PRIu64 " MiB, %zd", UINT64_MAX, (ssize_t)-3);
    SAME_AS_SNPRINTF(a, "%g %g %g %g %g %g", 0.0, -0.0, 2.0, -5.0, 999999.0, 1000000.0);
    SAME_AS_SNPRINTF(a, "%g %g %g %g %g", 0.5, 1e-7, 123456789.0, 1e300, -2.25);
    SAME_AS_SNPRINTF(a, "%g %g", NAN, -INFINITY);
    SAME_AS_SNPRINTF(a, "100%% of %c%s", 'a', "b");
    SAME_AS_SNPRINTF(a, "%s and %s", longs, "more"); /* longer than the inline buffer */
    SAME_AS_SNPRINTF(a, "%5s|%-3d|%.2f|%x|%.*s", "ab", 4, 1.005, 255u, 2, "xyz"); /* left to vsnprintf */
    /* the number renderers give what the formats give */
    const unsigned long long us[] = {0, 7, 10, 4096, 18446744073709551615ULL};
    for (size_t i = 0; i < sizeof us / sizeof *us; i++) {
        char want[64];
        snprintf(want, sizeof want, "%llu", us[i]);
        assert_string_equal(acms_arena_u64(a, us[i]), want);
    }
    const double gs[] = {0.0, -0.0, 2.0, -5.0, 0.0625, 999999.0, 1000000.0, 1e-7, 123456789.0, 1e300, NAN, -INFINITY};
    for (size_t i = 0; i < sizeof gs / sizeof *gs; i++) {
        char want[64];
        snprintf(want, sizeof want, "%g", gs[i]);
        assert_string_equal(acms_arena_g(a, gs[i]), want);
    }
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(allocations_are_zeroed_and_aligned),
        cmocka_unit_test(push_copies_arrays_it_did_not_grow),
        cmocka_unit_test(decode_checks_size_meta_and_version),
        cmocka_unit_test(derived_ids_are_stable),
        cmocka_unit_test(value_tree_paths),
        cmocka_unit_test(printf_matches_snprintf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
