/* Ids from the bus become parts of Redis keys, so acms_pb_decode refuses a run id or event id outside
 * [A-Za-z0-9._-] or over 128 characters ("<victim>:step:s2" named another run's step; "<victim>:runtime"
 * made Redis answer WRONGTYPE forever; ids over 246 characters were cut into another run's key).
 * Derived event ids include the run id: two runs submitted with one event id stay apart. Redis error
 * replies are classified: WRONGTYPE and script errors are permanent (dead-letter), the rest retried. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keys.h"
#include "pb.h"
#include "redis.h"

static const char *decode_with_run_id(const char *run_id, const char *event_id)
{
    acms_arena *a = acms_arena_new(0);
    Acms__V1__ControlEvent *ev = acms_pb_new(a, &acms__v1__control_event__descriptor);
    ev->meta = acms_meta_new(a, run_id, "test", NULL, NULL, NULL);
    if (event_id)
        ev->meta->event_id = (char *)event_id;
    uint8_t *buf;
    size_t len;
    assert_int_equal(acms_pb_pack(&ev->base, &buf, &len), ACMS_OK);
    const char *reason = NULL;
    ProtobufCMessage *m = acms_pb_decode(a, &acms__v1__control_event__descriptor, buf, len, &reason);
    free(buf);
    acms_arena_free(a);
    return m ? NULL : reason;
}

static void hostile_run_ids_refused_at_decode(void **state)
{
    (void)state;
    char long_id[300];
    memset(long_id, 'r', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    const char *bad[] = {"victim:step:s2", "victim:runtime", "a b", "a/b", "x\ny", "run*", "ü", long_id};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *why = decode_with_run_id(bad[i], NULL);
        if (!why)
            fail_msg("run id '%.40s' accepted", bad[i]);
        assert_non_null(strstr(why, "invalid run_id"));
    }
    assert_non_null(strstr(decode_with_run_id("run-1", "evt:1"), "invalid event_id"));
    long_id[ACMS_MAX_ID] = '\0';
    assert_null(decode_with_run_id(long_id, NULL)); /* exactly 128: fine */
    assert_null(decode_with_run_id("2f1c0e6e-6b4e-4bd0-9c3c-1f1a8d2e7b10", NULL));
    assert_null(decode_with_run_id("nightly_2026.12.06-A", NULL));
}

static void keys_never_cut_short(void **state)
{
    (void)state;
    char small[24], big[ACMS_KEY_MAX];
    assert_null(acms_key_run(small, sizeof small, "a-run-id-of-some-length"));
    assert_string_equal(acms_key_step(big, sizeof big, "r1", "s2"), "acms:run:r1:step:s2");
    assert_string_equal(acms_key_run_part(big, sizeof big, "r1", "runtime"), "acms:run:r1:runtime");
    assert_string_equal(acms_key_seen(big, sizeof big, "adapter", "e1"), "acms:seen:adapter:e1");
}

static void derived_ids_include_the_run(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__EventMeta *x = acms_meta_new(a, "run-a", "t", "submitted-1", "prepared", NULL);
    Acms__V1__EventMeta *y = acms_meta_new(a, "run-b", "t", "submitted-1", "prepared", NULL);
    Acms__V1__EventMeta *z = acms_meta_new(a, "run-a", "t", "submitted-1", "prepared", NULL);
    assert_string_not_equal(x->event_id, y->event_id);
    assert_string_equal(x->event_id, z->event_id); /* still stable for a redelivery */
    acms_arena_free(a);
}

static void redis_errors_classified(void **state)
{
    (void)state;
    assert_true(acms_redis_error_is_permanent("WRONGTYPE Operation against a key holding the wrong kind of value"));
    assert_true(acms_redis_error_is_permanent("ERR user_script:3: Script attempted to access nonexistent global"));
    assert_true(acms_redis_error_is_permanent("ERR Error running script (call to f_1): @user_script:1: WRONGTYPE x"));
    assert_true(acms_redis_error_is_permanent("ERR value is not an integer or out of range"));
    assert_false(acms_redis_error_is_permanent("LOADING Redis is loading the dataset in memory"));
    assert_false(acms_redis_error_is_permanent("BUSY Redis is busy running a script"));
    assert_false(acms_redis_error_is_permanent("NOSCRIPT No matching script"));
    assert_false(acms_redis_error_is_permanent("OOM command not allowed when used memory > 'maxmemory'"));
    assert_false(acms_redis_error_is_permanent("READONLY You can't write against a read only replica"));
    assert_false(acms_redis_error_is_permanent(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hostile_run_ids_refused_at_decode),
        cmocka_unit_test(keys_never_cut_short),
        cmocka_unit_test(derived_ids_include_the_run),
        cmocka_unit_test(redis_errors_classified),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
