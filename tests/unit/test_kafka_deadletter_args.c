/* test_kafka_deadletter_args.c: acms_kafka_deadletter refuses a missing handle or message with
 * ACMS_ERR instead of reading through it (it read the message's topic before its NULL check). No
 * broker: the handle points at a closed port and nothing is sent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kafka.h"
#include "log.h"

static void test_missing_message_or_handle(void **state)
{
    (void)state;
    acms_cfg c;
    char err[256];
    memset(&c, 0, sizeof c);
    snprintf(c.service, sizeof c.service, "test");
    snprintf(c.instance_id, sizeof c.instance_id, "test-0");
    snprintf(c.brokers, sizeof c.brokers, "127.0.0.1:1"); /* nothing listens there */
    c.shutdown_timeout_ms = 100;
    acms_kafka *k = acms_kafka_new(&c, NULL, NULL, err, sizeof err);
    assert_non_null(k);
    acms_msg m;
    memset(&m, 0, sizeof m);
    assert_int_equal(acms_kafka_deadletter(k, NULL, "no message"), ACMS_ERR);
    assert_int_equal(acms_kafka_deadletter(NULL, &m, "no handle"), ACMS_ERR);
    acms_kafka_free(k);
}

int main(void)
{
    acms_log_init("test", "off");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_message_or_handle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
