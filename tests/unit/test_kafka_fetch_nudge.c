/* test_kafka_fetch_nudge.c: a consumer with a backlog larger than its prefetch queue keeps
 * fetching. librdkafka 2.0 stops fetching for a fixed second whenever the local queue reaches
 * queued.max.messages.kbytes; the consume loop wakes the fetcher as soon as the queue runs dry
 * (ACMS_KAFKA_FETCH_NUDGE). Against librdkafka's mock cluster (the devbroker's engine, in process):
 * 240 messages of 16 KiB in batches over 16 partitions (a fetch brings in more than the queue
 * holds), through acms_kafka_run with a 1 MiB queue and 0.5 ms of work per message, with the nudge
 * and without: every message arrives both ways, and nudges are sent with it (where the library
 * needs them; not under valgrind, too slow to empty a queue in a second) and never without. What
 * the nudge saves in time is measured by make bench (acms-bench-nudge, beside the same consumer
 * without it), not here. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kafka.h"
#include "kafka_fixture.h"
#include "log.h"

#define NMSG 240
#define PARTITIONS 16
#define MSG_BYTES (16 * 1024)

typedef struct counter {
    fx_stop st;        /* first: fx_kafka_tick */
    int n;
} counter;

static int on_msg(void *ud, const acms_msg *m, const char **reason)
{
    counter *c = ud;
    (void)m;
    (void)reason;
    usleep(500); /* a service's work on the event: the queue fills faster than it drains */
    if (++c->n >= NMSG)
        c->st.stop = 1;
    return ACMS_OK;
}

static void cfg_init(acms_cfg *c, const char *brokers, int nudge)
{
    fx_kafka_cfg(c, brokers, "test-nudge");
    c->queue_kb = 1024;
    c->fetch_nudge = nudge;
}

static void produce_backlog(const char *brokers, const char *topic)
{
    acms_cfg c;
    char err[256], key[32];
    cfg_init(&c, brokers, 0);
    c.linger_ms = 100; /* batches of several messages per partition */
    acms_kafka *p = acms_kafka_new(&c, NULL, NULL, err, sizeof err);
    assert_non_null(p);
    char *payload = malloc(MSG_BYTES);
    assert_non_null(payload);
    memset(payload, 'x', MSG_BYTES);
    for (int i = 0; i < NMSG; i++) {
        snprintf(key, sizeof key, "run-%d", i);
        assert_int_equal(acms_kafka_produce(p, topic, key, payload, MSG_BYTES, NULL), ACMS_OK);
    }
    assert_int_equal(acms_kafka_flush(p, 10000), ACMS_OK);
    free(payload);
    acms_kafka_free(p);
}

/* Consumes the whole backlog with a fresh group; returns what the loop saw. */
static counter consume(const char *brokers, const char *topic, const char *group, int nudge, int64_t *nudges)
{
    acms_cfg c;
    char err[256];
    counter ctr = {.st.deadline_ms = acms_mono_ms() + 60000};
    cfg_init(&c, brokers, nudge);
    acms_kafka *k = acms_kafka_new(&c, group, NULL, err, sizeof err);
    assert_non_null(k);
    const char *topics[] = {topic};
    assert_int_equal(acms_kafka_subscribe(k, topics, 1), ACMS_OK);
    acms_kafka_loop loop = {.on_msg = on_msg, .on_tick = fx_kafka_tick, .ud = &ctr, .tick_ms = 50,
                            .stop = &ctr.st.stop};
    assert_int_equal(acms_kafka_run(k, &loop), ACMS_OK);
    *nudges = acms_kafka_fetch_nudges(k);
    acms_kafka_free(k);
    return ctr;
}

static void test_backlog_keeps_fetching(void **state)
{
    (void)state;
    fx_kafka fx;
    fx_kafka_start(&fx, "nudge", PARTITIONS);
    const char *brokers = fx.brokers;
    produce_backlog(brokers, "nudge");

    int64_t nudges_on = 0, nudges_off = 0;
    counter on = consume(brokers, "nudge", "g-on", 1, &nudges_on);
    counter off = consume(brokers, "nudge", "g-off", 0, &nudges_off);
    printf("nudge on: %d messages, %lld nudges; off: %d messages\n", on.n, (long long)nudges_on, off.n);
    assert_int_equal(on.n, NMSG);
    assert_int_equal(off.n, NMSG);
    assert_int_equal(nudges_off, 0);
    /* librdkafka before 2.1 (no fetch.queue.backoff.ms) stalls a queueful at a time and the loop,
     * faster than a queueful per second, nudges; under valgrind it may be slower than that, and a
     * consumer below that rate has nothing to nudge */
    if (rd_kafka_version() < 0x020100ff && !getenv("ACMS_UNDER_VALGRIND"))
        assert_true(nudges_on > 0);
    fx_kafka_stop(&fx);
}

int main(void)
{
    acms_log_init("test", "error");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backlog_keeps_fetching),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
