/* test_kafka_first_produce.c: the first event a process produces to a topic is sent at once, even
 * when the client has connected before it. librdkafka before 2.10.1 asks for a topic's leader only
 * when rd_kafka_topic_new() makes the topic; producev's own lookup leaves a topic the client has never
 * seen unknown until the client's topic scan, once a second from its start (a topic known when the
 * connection comes up is asked for then, so only a produce after the first metadata waited). acmsctl
 * on a busy machine connected before its produce about once in twenty runs and held the event that
 * long. Against librdkafka's mock cluster: one event to a topic (which waits for the connection),
 * then one to another topic the client has never seen. The check does not depend on time: the
 * produce call itself must ask for the new topic's leader (librdkafka's metadata debug line, reason
 * "leader query", logged on the calling thread and caught from stderr around the call), and both
 * events must be acknowledged. With producev's lookup the call asked nothing; the event then left
 * with the scan, 1000-1002 ms after the client was made, every time. */
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

/* Produces one event with stderr caught in a file; what was written there while the call ran. */
static char *produce_caught(acms_kafka *k, const char *topic)
{
    char path[] = "/tmp/acms-first-produce-XXXXXX";
    int fd = mkstemp(path), saved = dup(STDERR_FILENO);
    assert_true(fd >= 0 && saved >= 0);
    unlink(path);
    fflush(stderr);
    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    int rc = acms_kafka_produce(k, topic, "run-2", "event", 5, NULL);
    fflush(stderr);
    assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
    close(saved);
    assert_int_equal(rc, ACMS_OK);
    off_t n = lseek(fd, 0, SEEK_END);
    assert_true(n >= 0);
    char *text = calloc(1, (size_t)n + 1);
    assert_non_null(text);
    assert_int_equal(pread(fd, text, (size_t)n, 0), n);
    close(fd);
    return text;
}

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

    setenv("ACMS_KAFKA_PROP_DEBUG", "metadata", 1); /* librdkafka's pass-through property "debug" */
    acms_kafka *k = acms_kafka_new(&c, NULL, NULL, err, sizeof err);
    unsetenv("ACMS_KAFKA_PROP_DEBUG");
    assert_non_null(k);
    /* connected, with its first metadata: what a process sees when its first produce comes late */
    assert_int_equal(acms_kafka_produce(k, "first-a", "run-1", "event", 5, NULL), ACMS_OK);
    assert_int_equal(acms_kafka_settle(k, 10000), ACMS_OK);

    char *caught = produce_caught(k, "first-b");
    if (!strstr(caught, "leader query"))
        fprintf(stderr, "the produce to an unseen topic asked for no leader; it logged:\n%s\n", caught);
    assert_non_null(strstr(caught, "leader query"));
    free(caught);
    assert_int_equal(acms_kafka_settle(k, 10000), ACMS_OK);
    acms_kafka_free(k);
    fx_kafka_stop(&fx);
}

int main(void)
{
    acms_log_init("test", "debug"); /* librdkafka's debug lines reach stderr */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_produce_after_connect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
