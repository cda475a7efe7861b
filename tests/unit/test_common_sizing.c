/* The sizing input reader (common/sizing.h): values with SI and binary suffixes, an env var, a
 * --parameter as "--rows N" or "--rows=N", a declared input_size_bytes; unknown names, non-numbers,
 * secrets and a trailing parameter are refused with their status, never read as a size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "sizing.h"

static void test_values(void **state)
{
    (void)state;
    double v;
    struct {
        const char *text;
        double want;
    } ok[] = {{"1000000", 1e6}, {"1.5M", 1.5e6}, {"3e6", 3e6}, {"2GiB", 2.0 * 1073741824.0}, {"200MiB", 200.0 * 1048576},
              {"10k", 1e4},     {"7Ki", 7168},   {"1T", 1e12}, {" 42 ", 42},                {"5GB", 5e9}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(acms_sizing_parse_value(ok[i].text, &v), 0);
        assert_true(fabs(v / ok[i].want - 1) < 1e-12);
    }
    const char *bad[] = {"", "abc", "0", "-5", "+5", "1.5X", "nan", "inf", "1e999", "0x10", "12 rows", "M", NULL};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(acms_sizing_parse_value(bad[i], &v), -1);
        assert_true(v == 0);
    }
}

static Acms__V1__Step *step(acms_arena *a, const char *input, uint64_t bytes)
{
    Acms__V1__Step *s = acms_pb_new(a, &acms__v1__step__descriptor);
    static char *cmd[] = {"./prep.sh", "--rows", "2M", "--cols=300", "--last"};
    s->command = cmd;
    s->n_command = 5;
    static Acms__V1__EnvVar e1 = ACMS__V1__ENV_VAR__INIT, e2 = ACMS__V1__ENV_VAR__INIT, e3 = ACMS__V1__ENV_VAR__INIT;
    e1.name = "ROWS";
    e1.value = "1500000";
    e2.name = "BAD";
    e2.value = "lots";
    e3.name = "TOKEN";
    e3.value = "secret://env/TOKEN";
    static Acms__V1__EnvVar *env[] = {&e1, &e2, &e3};
    s->env = env;
    s->n_env = 3;
    if (input || bytes) {
        s->sizing = acms_pb_new(a, &acms__v1__sizing__descriptor);
        s->sizing->input = (char *)(input ? input : "");
        s->sizing->input_size_bytes = bytes;
    }
    return s;
}

static void test_resolve(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    acms_sizing_input in;
    assert_int_equal(acms_sizing_resolve(step(a, NULL, 0), &in), ACMS_SIZING_NONE);
    assert_false(acms_sizing_declared(step(a, NULL, 0)));
    assert_int_equal(acms_sizing_resolve(step(a, "ROWS", 0), &in), ACMS_SIZING_OK);
    assert_true(in.value == 1.5e6);
    assert_string_equal(in.source, "env");
    assert_string_equal(in.name, "ROWS");
    assert_string_equal(in.raw, "1500000");
    assert_int_equal(acms_sizing_resolve(step(a, "--rows", 0), &in), ACMS_SIZING_OK);
    assert_true(in.value == 2e6);
    assert_string_equal(in.source, "parameter");
    assert_int_equal(acms_sizing_resolve(step(a, "--cols", 0), &in), ACMS_SIZING_OK);
    assert_true(in.value == 300);
    assert_int_equal(acms_sizing_resolve(step(a, NULL, 5000000000ULL), &in), ACMS_SIZING_OK);
    assert_true(in.value == 5e9);
    assert_string_equal(in.name, "input_size_bytes");
    /* input wins over input_size_bytes */
    assert_int_equal(acms_sizing_resolve(step(a, "ROWS", 7), &in), ACMS_SIZING_OK);
    assert_true(in.value == 1.5e6);
    /* refusals: the value is never set */
    assert_int_equal(acms_sizing_resolve(step(a, "ROW", 0), &in), ACMS_SIZING_UNKNOWN_INPUT);
    assert_true(in.value == 0);
    assert_int_equal(acms_sizing_resolve(step(a, "--row", 0), &in), ACMS_SIZING_UNKNOWN_INPUT); /* not a prefix match */
    assert_int_equal(acms_sizing_resolve(step(a, "BAD", 0), &in), ACMS_SIZING_NOT_A_NUMBER);
    assert_true(in.value == 0);
    assert_int_equal(acms_sizing_resolve(step(a, "TOKEN", 0), &in), ACMS_SIZING_SECRET);
    assert_null(in.raw); /* the reference is not even handed out */
    assert_int_equal(acms_sizing_resolve(step(a, "--last", 0), &in), ACMS_SIZING_NO_VALUE);
    assert_non_null(strstr(acms_sizing_status_text(ACMS_SIZING_SECRET), "secret"));
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_resolve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
