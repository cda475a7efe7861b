/* test_kafka_batch.c: the consume loop's groups (acms_kafka_loop.on_batch). Against librdkafka's mock
 * cluster in process: 60 keyed messages over 30 partitions, handled in groups of up to 16 of the
 * messages already waiting. The first group that spans two partitions fails at its first message
 * (ACMS_ERR_RETRY) while the handler reports the rest as done: the loop must rewind every partition
 * of that group's tail, so each message is still handled successfully at least once (nothing is
 * skipped), and the failed one is seen again. The first group waits until every other message is in
 * the local queue (acms_kafka_queued): the next group then surely spans partitions, whatever the
 * fetch timing (under ASan a slow loop could otherwise see one partition per group and never fail). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "kafka.h"
#include "kafka_fixture.h"
#include "log.h"

#define NMSG 60
#define PARTITIONS 30 /* about two messages a partition: a group of a few spans partitions */

typedef struct seen {
    fx_stop st;            /* first: fx_kafka_tick */
    acms_kafka *k;         /* the consumer, for its queue length */
    int groups;
    int ok[NMSG];          /* successful handlings per key */
    int calls[NMSG];       /* times the handler saw each key */
    int distinct_ok;
    int failed_once;
    int failed_key;
    size_t largest_group;
} seen;

static void fx_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int key_of(const acms_msg *m)
{
    char buf[16];
    size_t n = m->key_len < sizeof buf - 1 ? m->key_len : sizeof buf - 1;
    memcpy(buf, m->key, n);
    buf[n] = '\0';
    return atoi(buf + 1); /* "k<i>" */
}

static int on_batch(void *ud, const acms_msg *msgs, size_t n, int *rcs, const char **reasons)
{
    seen *s = ud;
    (void)reasons;
    if (n > s->largest_group)
        s->largest_group = n;
    if (s->groups++ == 0) /* a marker, not a duration: until the rest was fetched (bounded by the deadline) */
        while (acms_kafka_queued(s->k) < (int64_t)(NMSG - n) && acms_mono_ms() < s->st.deadline_ms)
            fx_sleep_ms(10);
    int fail_first = 0;
    if (!s->failed_once)
        for (size_t i = 1; i < n; i++)
            if (msgs[i].partition != msgs[0].partition)
                fail_first = 1;
    for (size_t i = 0; i < n; i++) {
        int k = key_of(&msgs[i]);
        assert_true(k >= 0 && k < NMSG);
        s->calls[k]++;
        if (i == 0 && fail_first) {
            rcs[i] = ACMS_ERR_RETRY;
            s->failed_once = 1;
            s->failed_key = k;
            continue;
        }
        rcs[i] = ACMS_OK; /* the loop counts those after a retry as not processed */
    }
    /* what the loop will count as processed: everything before the first retry */
    for (size_t i = 0; i < n && rcs[i] == ACMS_OK; i++) {
        int k = key_of(&msgs[i]);
        if (s->ok[k]++ == 0)
            s->distinct_ok++;
    }
    if (s->distinct_ok == NMSG)
        s->st.stop = 1;
    return ACMS_OK;
}

static void test_group_retry_rewinds_every_partition(void **state)
{
    (void)state;
    char err[256], key[16];
    fx_kafka fx;
    fx_kafka_start(&fx, "batch", PARTITIONS);

    acms_cfg c;
    fx_kafka_cfg(&c, fx.brokers, "test-batch");
    c.linger_ms = 50;
    acms_kafka *p = acms_kafka_new(&c, NULL, NULL, err, sizeof err);
    assert_non_null(p);
    for (int i = 0; i < NMSG; i++) {
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(acms_kafka_produce(p, "batch", key, "x", 1, NULL), ACMS_OK);
    }
    assert_int_equal(acms_kafka_flush(p, 10000), ACMS_OK);
    acms_kafka_free(p);

    seen s;
    memset(&s, 0, sizeof s);
    s.st.deadline_ms = acms_mono_ms() + 60000;
    fx_kafka_cfg(&c, fx.brokers, "test-batch");
    acms_kafka *k = acms_kafka_new(&c, "g-batch", NULL, err, sizeof err);
    assert_non_null(k);
    s.k = k;
    const char *topics[] = {"batch"};
    assert_int_equal(acms_kafka_subscribe(k, topics, 1), ACMS_OK);
    acms_kafka_loop loop = {.on_batch = on_batch, .on_tick = fx_kafka_tick, .ud = &s, .tick_ms = 50,
                            .stop = &s.st.stop, .group_max = 16};
    assert_int_equal(acms_kafka_run(k, &loop), ACMS_OK);
    acms_kafka_free(k);
    printf("largest group %zu, failed key k%d seen %d times, %d of %d keys handled\n", s.largest_group, s.failed_key,
           s.calls[s.failed_key], s.distinct_ok, NMSG);

    assert_true(s.largest_group > 1 && s.largest_group <= 16);
    assert_int_equal(s.failed_once, 1);
    assert_true(s.calls[s.failed_key] >= 2); /* redelivered after the rewind */
    assert_int_equal(s.distinct_ok, NMSG);   /* nothing after the failure was skipped */
    fx_kafka_stop(&fx);
}

int main(void)
{
    acms_log_init("test", "error");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_retry_rewinds_every_partition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
