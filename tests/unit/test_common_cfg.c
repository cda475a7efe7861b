/* Configuration from the environment: defaults, overrides, stack-file fallback, errors that name
 * the variable, redaction of Redis passwords. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cfg.h"

static void clear_env(void)
{
    const char *vars[] = {"ACMS_KAFKA_BROKERS", "ACMS_REDIS_URL", "ACMS_HTTP_PORT", "ACMS_TOPIC_CONFIG_SUBMITTED",
                          "ACMS_STACK_ENV", "ACMS_GROUP_ID", "ACMS_KAFKA_FETCH_WAIT_MS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
}

static void defaults_and_overrides(void **state)
{
    (void)state;
    clear_env();
    setenv("ACMS_STACK_ENV", "/nonexistent/stack.env", 1);
    acms_cfg c;
    char err[256];
    assert_int_equal(acms_cfg_load(&c, "acms-test", err, sizeof err), ACMS_OK);
    assert_string_equal(c.brokers, "127.0.0.1:9092");
    assert_string_equal(c.group_id, "acms-test");
    assert_int_equal(c.fetch_wait_ms, 10);
    assert_string_equal(acms_cfg_topic(&c, ACMS_TOPIC_CONFIG_SUBMITTED), "acms.config.submitted");
    setenv("ACMS_TOPIC_CONFIG_SUBMITTED", "team.submitted", 1);
    setenv("ACMS_HTTP_PORT", "8081", 1);
    assert_int_equal(acms_cfg_load(&c, "acms-test", err, sizeof err), ACMS_OK);
    assert_string_equal(acms_cfg_topic(&c, ACMS_TOPIC_CONFIG_SUBMITTED), "team.submitted");
    assert_int_equal(acms_cfg_topic_id(&c, "team.submitted"), ACMS_TOPIC_CONFIG_SUBMITTED);
    assert_int_equal(c.http_port, 8081);
    clear_env();
}

static void bad_numbers_name_the_variable(void **state)
{
    (void)state;
    clear_env();
    setenv("ACMS_HTTP_PORT", "80x", 1);
    acms_cfg c;
    char err[256];
    assert_int_equal(acms_cfg_load(&c, "acms-test", err, sizeof err), ACMS_ERR_INVALID);
    assert_non_null(strstr(err, "ACMS_HTTP_PORT"));
    setenv("ACMS_HTTP_PORT", "70000", 1);
    assert_int_equal(acms_cfg_load(&c, "acms-test", err, sizeof err), ACMS_ERR_INVALID);
    clear_env();
}

static void stack_file_supplies_addresses(void **state)
{
    (void)state;
    clear_env();
    char path[] = "/tmp/acms-stack-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *body = "# written by make up\nACMS_KAFKA_BROKERS=127.0.0.1:40001\nACMS_REDIS_URL=redis://127.0.0.1:40002\n";
    assert_int_equal(write(fd, body, strlen(body)), (ssize_t)strlen(body));
    close(fd);
    setenv("ACMS_STACK_ENV", path, 1);
    acms_cfg c;
    char err[256];
    assert_int_equal(acms_cfg_load(&c, "acms-test", err, sizeof err), ACMS_OK);
    assert_string_equal(c.brokers, "127.0.0.1:40001");
    assert_string_equal(c.redis_url, "redis://127.0.0.1:40002");
    setenv("ACMS_KAFKA_BROKERS", "127.0.0.1:5", 1); /* the environment wins */
    assert_int_equal(acms_cfg_load(&c, "acms-test", err, sizeof err), ACMS_OK);
    assert_string_equal(c.brokers, "127.0.0.1:5");
    unlink(path);
    clear_env();
}

static void redaction_hides_passwords(void **state)
{
    (void)state;
    char buf[128];
    assert_string_equal(acms_cfg_redacted_url("redis://:s3cret@127.0.0.1:6379/0", buf, sizeof buf),
                        "redis://***@127.0.0.1:6379/0");
    assert_string_equal(acms_cfg_redacted_url("redis://127.0.0.1:6379", buf, sizeof buf), "redis://127.0.0.1:6379");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_and_overrides),
        cmocka_unit_test(bad_numbers_name_the_variable),
        cmocka_unit_test(stack_file_supplies_addresses),
        cmocka_unit_test(redaction_hides_passwords),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
