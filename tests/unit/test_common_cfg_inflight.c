/* test_common_cfg_inflight.c: ACMS_KAFKA_MAX_IN_FLIGHT (produce requests in flight per broker)
 * defaults to 5, accepts 1..5 and refuses anything else with a message naming the variable. One
 * request in flight is what the fault tests need on the devbroker, whose mock cluster does not check
 * sequence numbers (an earlier batch failed by an injected error is implicitly acknowledged by a
 * later one: tests/faults/test_faults_kafka.sh lost events before). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"

static int load(acms_cfg *c, char *err, size_t n)
{
    setenv("ACMS_KAFKA_BROKERS", "127.0.0.1:1", 1);
    setenv("ACMS_REDIS_URL", "redis://127.0.0.1:1", 1);
    return acms_cfg_load(c, "acms-test", err, n);
}

static void test_default_and_range(void **state)
{
    (void)state;
    acms_cfg c;
    char err[256] = "";
    unsetenv("ACMS_KAFKA_MAX_IN_FLIGHT");
    assert_int_equal(load(&c, err, sizeof err), ACMS_OK);
    assert_int_equal(c.max_in_flight, 5);
    setenv("ACMS_KAFKA_MAX_IN_FLIGHT", "1", 1);
    assert_int_equal(load(&c, err, sizeof err), ACMS_OK);
    assert_int_equal(c.max_in_flight, 1);
    setenv("ACMS_KAFKA_MAX_IN_FLIGHT", "6", 1);
    assert_int_not_equal(load(&c, err, sizeof err), ACMS_OK);
    assert_non_null(strstr(err, "ACMS_KAFKA_MAX_IN_FLIGHT"));
    setenv("ACMS_KAFKA_MAX_IN_FLIGHT", "0", 1);
    assert_int_not_equal(load(&c, err, sizeof err), ACMS_OK);
    unsetenv("ACMS_KAFKA_MAX_IN_FLIGHT");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_and_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
