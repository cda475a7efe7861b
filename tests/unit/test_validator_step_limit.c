/* The step limit holds for configurations that arrive already typed (ConfigPrepared from the bus,
 * where no document conversion counted the steps): a 1 MiB message carries 50,000 steps, and such a
 * configuration is judged TOO_MANY_STEPS and nothing else, instead of being run through every level
 * (50,001 issues and, before issue lists grew linearly, 8 minutes of a validator replica). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pb.h"
#include "validator/validator.h"

static Acms__V1__RuntimeConfiguration *steps(acms_arena *a, size_t n)
{
    Acms__V1__RuntimeConfiguration *rc = acms_pb_new(a, &acms__v1__runtime_configuration__descriptor);
    Acms__V1__Pipeline *p = acms_pb_new(a, &acms__v1__pipeline__descriptor);
    p->name = "many";
    p->n_steps = n;
    p->steps = acms_arena_alloc(a, n * sizeof *p->steps);
    for (size_t i = 0; i < n; i++) {
        Acms__V1__Step *s = acms_pb_new(a, &acms__v1__step__descriptor);
        s->name = acms_arena_printf(a, "s%zu", i);
        if (i) {
            s->n_depends_on = 1;
            s->depends_on = acms_arena_alloc(a, sizeof *s->depends_on);
            s->depends_on[0] = acms_arena_printf(a, "s%zu", i - 1);
        }
        p->steps[i] = s;
    }
    rc->pipeline = p;
    rc->environment = acms_pb_new(a, &acms__v1__environment__descriptor);
    rc->environment->name = "test";
    rc->environment->executor = "local";
    return rc;
}

static void too_many_steps_is_the_only_verdict(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__ValidationResult *res = NULL;
    validator_ctx ctx = {0};
    assert_int_equal(validator_validate(&ctx, a, steps(a, 50000), NULL, &res), ACMS_OK);
    assert_false(res->valid);
    assert_int_equal(res->n_issues, 1);
    assert_string_equal(res->issues[0]->code, "TOO_MANY_STEPS");
    assert_non_null(strstr(res->issues[0]->message, "50000 steps"));
    acms_arena_free(a);
}

static void at_the_limit_every_level_runs(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__ValidationResult *res = NULL;
    validator_ctx ctx = {0};
    assert_int_equal(validator_validate(&ctx, a, steps(a, ACMS_MAX_STEPS), NULL, &res), ACMS_OK);
    assert_false(res->valid);
    int too_many = 0, missing_command = 0;
    for (size_t i = 0; i < res->n_issues; i++) {
        too_many += !strcmp(res->issues[i]->code, "TOO_MANY_STEPS");
        missing_command += !strcmp(res->issues[i]->code, "MISSING_COMMAND");
    }
    assert_int_equal(too_many, 0);
    assert_int_equal(missing_command, ACMS_MAX_STEPS); /* the environment level ran on every step */
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(too_many_steps_is_the_only_verdict),
        cmocka_unit_test(at_the_limit_every_level_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
