/* test_kafka_first_produce.c: the first event a process produces to a topic leaves at once, even
 * when the client has connected before it. librdkafka before 2.10.1 asks for a topic's leader only
 * when rd_kafka_topic_new() makes the topic; producev's own lookup leaves a topic the client has never
 * seen unknown until the client's topic scan, once a second from its start (a topic known when the
 * connection comes up is asked for then, so only a produce after the first metadata waits). acmsctl
 * on a busy machine connected before its produce about once in eight runs and held the event that
 * long. Against librdkafka's mock cluster: one event to a topic (which waits for the connection),
 * then one to another topic the client has never seen; its acknowledgement must come before the
 * first scan could have run (1 s after the client was made). With producev's lookup it came after
 * it, every time. Under valgrind (ACMS_UNDER_VALGRIND) only the acknowledgements are checked. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kafka.h"
#include "kafka_fixture.h"
#include "log.h"

#define TOPIC_SCAN_MS 1000 /* librdkafka's topic scan interval (rd_kafka_new's timer), fixed */

static void test_first_produce_after_connect(void **state)
{
    (void)state;
    fx_kafka fx;
    acms_cfg c;
    char err[256];
    fx_kafka_start(&fx, "first-a", 3);
    assert_int_equal(rd_kafka_mock_topic_create(fx.mc, "first-b", 3, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    fx_kafka_cfg(&c, fx.brokers, "test-first");
    c.linger_ms = 0;

    int64_t t0 = acms_mono_ms();
    acms_kafka *k = acms_kafka_new(&c, NULL, NULL, err, sizeof err);
    assert_non_null(k);
    /* connected, with its first metadata: what a process sees when its first produce comes late */
    assert_int_equal(acms_kafka_produce(k, "first-a", "run-1", "event", 5, NULL), ACMS_OK);
    assert_int_equal(acms_kafka_settle(k, 10000), ACMS_OK);
    int64_t a_ms = acms_mono_ms() - t0;
    assert_int_equal(acms_kafka_produce(k, "first-b", "run-2", "event", 5, NULL), ACMS_OK);
    assert_int_equal(acms_kafka_settle(k, 10000), ACMS_OK);
    int64_t b_ms = acms_mono_ms() - t0;
    printf("acknowledged %lld ms (first topic) and %lld ms (second) after the client was made\n",
           (long long)a_ms, (long long)b_ms);
    if (!getenv("ACMS_UNDER_VALGRIND") && a_ms < TOPIC_SCAN_MS / 2)
        assert_true(b_ms < TOPIC_SCAN_MS);
    acms_kafka_free(k);
    fx_kafka_stop(&fx);
}

int main(void)
{
    acms_log_init("test", "error");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_produce_after_connect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
