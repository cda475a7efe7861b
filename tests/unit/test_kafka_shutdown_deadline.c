/* test_kafka_shutdown_deadline.c: the shutdown of a bus handle is bounded by one budget.
 * Once the deadline started (the consume loop starts it when it sees the stop request), every
 * later flush, and acms_kafka_free, waits only for what is left of ACMS_SHUTDOWN_TIMEOUT_MS,
 * even when the broker never acknowledges. No broker: the handle points at a closed port. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "kafka.h"
#include "log.h"

static void cfg_init(acms_cfg *c, int timeout_ms)
{
    memset(c, 0, sizeof *c);
    snprintf(c->service, sizeof c->service, "test");
    snprintf(c->instance_id, sizeof c->instance_id, "test-0");
    snprintf(c->brokers, sizeof c->brokers, "127.0.0.1:1"); /* nothing listens there */
    c->linger_ms = 0;
    c->shutdown_timeout_ms = timeout_ms;
}

static void test_deadline_starts_once(void **state)
{
    (void)state;
    acms_cfg c;
    char err[256];
    cfg_init(&c, 2000);
    acms_kafka *k = acms_kafka_new(&c, NULL, NULL, err, sizeof err);
    assert_non_null(k);
    assert_int_equal(acms_kafka_deadline(k), 0);
    int64_t before = acms_mono_ms();
    int64_t d = acms_kafka_start_deadline(k);
    assert_true(d >= before + 2000 && d <= acms_mono_ms() + 2000);
    usleep(20000);
    assert_true(acms_kafka_start_deadline(k) == d); /* a second start keeps the first deadline */
    assert_true(acms_kafka_deadline(k) == d);
    acms_kafka_free(k);
}

/* An unacknowledgeable message: free waits only for the rest of the budget, not a fresh one. */
static void test_free_waits_only_for_the_rest(void **state)
{
    (void)state;
    acms_cfg c;
    char err[256];
    cfg_init(&c, 1500);
    acms_kafka *k = acms_kafka_new(&c, NULL, NULL, err, sizeof err);
    assert_non_null(k);
    assert_int_equal(acms_kafka_produce(k, "acms.test", "run-1", "x", 1, NULL), ACMS_OK);
    int64_t t0 = acms_mono_ms();
    acms_kafka_start_deadline(k);
    /* a flush after the start is bounded by the deadline too */
    assert_int_equal(acms_kafka_flush(k, 1000), ACMS_ERR_RETRY);
    acms_kafka_free(k); /* at most the remaining ~500 ms; without the shared deadline 1500 more */
    int64_t spent = acms_mono_ms() - t0;
    assert_true(spent >= 1000);
    assert_true(spent < 1500 + 700);
}

/* Without a started deadline, free itself starts one: the full budget, once. */
static void test_free_alone_is_bounded(void **state)
{
    (void)state;
    acms_cfg c;
    char err[256];
    cfg_init(&c, 800);
    acms_kafka *k = acms_kafka_new(&c, NULL, NULL, err, sizeof err);
    assert_non_null(k);
    assert_int_equal(acms_kafka_produce(k, "acms.test", "run-1", "x", 1, NULL), ACMS_OK);
    int64_t t0 = acms_mono_ms();
    acms_kafka_free(k);
    int64_t spent = acms_mono_ms() - t0;
    assert_true(spent >= 700);
    assert_true(spent < 800 + 700);
}

int main(void)
{
    acms_log_init("test", "off");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deadline_starts_once),
        cmocka_unit_test(test_free_waits_only_for_the_rest),
        cmocka_unit_test(test_free_alone_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
