/* test_kafka_shutdown_deadline.c: the shutdown of a bus handle is bounded by one budget.
 * Once the deadline started (the consume loop starts it when it sees the stop request), every
 * later flush, and acms_kafka_free, waits only for what is left of ACMS_SHUTDOWN_TIMEOUT_MS,
 * even when the broker never acknowledges. No broker: the handle points at a closed port.
 * The deadline is read on a fake clock (clock.h), so what is left of it is exact whatever the load;
 * the budget is a minute, and a free that waits only for what is left (nothing) returns long before
 * a fresh budget could have run out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kafka.h"
#include "kafka_int.h"
#include "log.h"

#define BUDGET_MS 60000
/* far more than a free with nothing left to wait for takes, far less than a fresh budget */
#define RETURNS_WITHIN_MS 30000

/* The fake clock: now, advanced by step after each read. */
typedef struct fake_clock {
    int64_t now, step;
    int reads;
} fake_clock;

static int64_t fake_now(void *ud)
{
    fake_clock *f = ud;
    int64_t t = f->now;
    f->now += f->step;
    f->reads++;
    return t;
}

static void cfg_init(acms_cfg *c, int timeout_ms)
{
    memset(c, 0, sizeof *c);
    snprintf(c->service, sizeof c->service, "test");
    snprintf(c->instance_id, sizeof c->instance_id, "test-0");
    snprintf(c->brokers, sizeof c->brokers, "127.0.0.1:1"); /* nothing listens there */
    c->linger_ms = 0;
    c->shutdown_timeout_ms = timeout_ms;
}

/* A handle on the fake clock with one message the broker will never acknowledge. */
static acms_kafka *handle(int timeout_ms, const acms_clock *clock, int with_message)
{
    acms_cfg c;
    char err[256];
    cfg_init(&c, timeout_ms);
    acms_kafka *k = acms_kafka_new(&c, NULL, NULL, err, sizeof err);
    assert_non_null(k);
    acms_kafka_set_clock(k, clock);
    if (with_message)
        assert_int_equal(acms_kafka_produce(k, "acms.test", "run-1", "x", 1, NULL), ACMS_OK);
    return k;
}

static void test_deadline_starts_once(void **state)
{
    (void)state;
    fake_clock fc = {.now = 10000};
    acms_clock clock = {.mono_ms = fake_now, .ud = &fc};
    acms_kafka *k = handle(2000, &clock, 0);
    assert_int_equal(acms_kafka_deadline(k), 0);
    assert_int_equal(acms_kafka__budget_ms(k), 2000); /* not started: the full budget */
    assert_int_equal(acms_kafka_start_deadline(k), 12000);
    fc.now = 10020;
    assert_int_equal(acms_kafka_start_deadline(k), 12000); /* a second start keeps the first deadline */
    assert_int_equal(acms_kafka_deadline(k), 12000);
    fc.now = 11000;
    assert_int_equal(acms_kafka__budget_ms(k), 1000); /* what is left of it */
    fc.now = 12500;
    assert_int_equal(acms_kafka__budget_ms(k), 0); /* passed: flushes only poll */
    acms_kafka_free(k);
}

/* An unacknowledgeable message: free waits only for the rest of the budget, not a fresh one. */
static void test_free_waits_only_for_the_rest(void **state)
{
    (void)state;
    fake_clock fc = {.now = 0};
    acms_clock clock = {.mono_ms = fake_now, .ud = &fc};
    acms_kafka *k = handle(BUDGET_MS, &clock, 1);
    assert_int_equal(acms_kafka_start_deadline(k), BUDGET_MS);
    fc.now = BUDGET_MS - 1; /* the shutdown spent all but a millisecond elsewhere */
    assert_int_equal(acms_kafka__budget_ms(k), 1);
    fc.now = BUDGET_MS;
    int64_t t0 = acms_mono_ms();
    acms_kafka_free(k); /* nothing left: it polls and gives up; without the shared deadline a minute */
    assert_true(acms_mono_ms() - t0 < RETURNS_WITHIN_MS);
}

/* Without a started deadline, free itself starts one, and every wait of it comes out of that one:
 * a clock that moves the whole budget on between two reads leaves free nothing to wait for. */
static void test_free_alone_is_bounded(void **state)
{
    (void)state;
    fake_clock fc = {.now = 0, .step = BUDGET_MS};
    acms_clock clock = {.mono_ms = fake_now, .ud = &fc};
    acms_kafka *k = handle(BUDGET_MS, &clock, 1);
    int64_t t0 = acms_mono_ms();
    acms_kafka_free(k);
    assert_true(acms_mono_ms() - t0 < RETURNS_WITHIN_MS);
    assert_true(fc.reads >= 2); /* the start, then what is left for the flush */
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
