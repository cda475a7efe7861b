/* Errors that waiting cannot fix, and the pass-through properties (kafka.c, kafka_conf.c), against
 * librdkafka's mock cluster in process:
 *  - the classification: MSG_SIZE_TOO_LARGE, RECORD_LIST_TOO_LARGE, TOPIC_AUTHORIZATION_FAILED, an
 *    unknown topic, INVALID_RECORD are permanent; a transport error, a leader move, a time-out are not;
 *  - an event larger than the producer's message.max.bytes (the bus limit) is refused at once:
 *    ACMS_ERR_LIMIT, dead-lettered, counted in acms_delivery_refused_total, and a flush afterwards
 *    succeeds (before, the error was returned as a plain failure that handlers retried forever);
 *  - ACMS_KAFKA_PROP_<NAME> reaches librdkafka (a refused one names the property), and
 *    ACMS_KAFKA_PROPERTIES_FILE names the file and line of a malformed entry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "http.h"
#include "kafka.h"
#include "kafka_fixture.h"
#include "log.h"

static void classification(void **state)
{
    (void)state;
    assert_true(acms_kafka_permanent_error(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE));
    assert_true(acms_kafka_permanent_error(RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE));
    assert_true(acms_kafka_permanent_error(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED));
    assert_true(acms_kafka_permanent_error(RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
    assert_true(acms_kafka_permanent_error(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART));
    assert_true(acms_kafka_permanent_error(RD_KAFKA_RESP_ERR_INVALID_RECORD));
    assert_false(acms_kafka_permanent_error(RD_KAFKA_RESP_ERR__TRANSPORT));
    assert_false(acms_kafka_permanent_error(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION));
    assert_false(acms_kafka_permanent_error(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT));
    assert_false(acms_kafka_permanent_error(RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS));
}

static void oversized_event_is_refused_not_retried(void **state)
{
    (void)state;
    fx_kafka fx;
    char err[256] = "";
    fx_kafka_start(&fx, "out", 1);
    acms_cfg c;
    fx_kafka_cfg(&c, fx.brokers, "test-refusals");
    acms_metrics *m = acms_metrics_new("test");
    acms_kafka *k = acms_kafka_new(&c, NULL, m, err, sizeof err);
    assert_non_null(k);
    size_t len = ACMS_BUS_MAX_BYTES + 1;
    char *big = calloc(1, len);
    assert_int_equal(acms_kafka_produce(k, "out", "run-1", big, len, NULL), ACMS_ERR_LIMIT);
    assert_int_equal(acms_kafka_flush(k, 10000), ACMS_OK); /* the dead letter is delivered; nothing waits */
    assert_true(acms_metrics_get(m, "acms_delivery_refused_total", "topic=\"out\",error=\"MSG_SIZE_TOO_LARGE\"") >= 1);
    assert_true(acms_metrics_get(m, "acms_deadletters_total", "topic=\"out\"") >= 1);
    /* an event within the limit goes through */
    assert_int_equal(acms_kafka_produce(k, "out", "run-1", big, ACMS_MAX_MESSAGE_BYTES, NULL), ACMS_OK);
    assert_int_equal(acms_kafka_flush(k, 10000), ACMS_OK);
    free(big);
    acms_kafka_free(k);
    acms_metrics_free(m);
    fx_kafka_stop(&fx);
}

static void passthrough_properties(void **state)
{
    (void)state;
    char err[512] = "", path[] = "/tmp/acms-props-XXXXXX";
    acms_cfg c;
    fx_kafka_cfg(&c, "127.0.0.1:9", "test-props");

    setenv("ACMS_KAFKA_PROP_CLIENT_RACK", "eu1a", 1);
    acms_kafka *k = acms_kafka_new(&c, "g", NULL, err, sizeof err);
    assert_non_null(k); /* client.rack accepted */
    acms_kafka_free(k);
    setenv("ACMS_KAFKA_PROP_NO_SUCH_PROPERTY", "1", 1);
    assert_null(acms_kafka_new(&c, NULL, NULL, err, sizeof err));
    assert_non_null(strstr(err, "no.such.property"));
    unsetenv("ACMS_KAFKA_PROP_NO_SUCH_PROPERTY");
    unsetenv("ACMS_KAFKA_PROP_CLIENT_RACK");

    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "# comment\nclient.rack = eu1b\n\nthis line has no equals sign\n";
    assert_int_equal(write(fd, text, sizeof text - 1), (int)sizeof text - 1);
    close(fd);
    snprintf(c.kafka_props_file, sizeof c.kafka_props_file, "%s", path);
    assert_null(acms_kafka_new(&c, NULL, NULL, err, sizeof err));
    char want[600];
    snprintf(want, sizeof want, "%s:4: expected name=value", path);
    assert_non_null(strstr(err, want));
    unlink(path);
}

int main(void)
{
    acms_log_init("test", "error");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(classification),
        cmocka_unit_test(oversized_event_is_refused_not_retried),
        cmocka_unit_test(passthrough_properties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
