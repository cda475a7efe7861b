/* test_validator_step_poison.c: StepEvents that decode but cannot be real (no pipeline, an unknown
 * kind, a step kind without a step name) are recognised, so the validator dead-letters them as
 * the monitor does (tests/faults/test_faults_poison.sh, "impossible content"); the coordinator's
 * own events (step and run kinds) pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "validator/validator.h"

static Acms__V1__StepEvent *event(acms_arena *a, Acms__V1__StepEventKind kind, const char *step)
{
    Acms__V1__StepEvent *ev = acms_pb_new(a, &acms__v1__step_event__descriptor);
    ev->meta = acms_meta_new(a, "run-1", "test", NULL, NULL, NULL);
    ev->pipeline = "churn-training";
    ev->environment = "dev";
    ev->step = (char *)step;
    ev->attempt = 1;
    ev->kind = kind;
    return ev;
}

static void test_real_events_pass(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    for (int k = ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_STARTED;
         k <= ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_SKIPPED; k++)
        assert_null(validator_step_event_problem(event(a, (Acms__V1__StepEventKind)k, "train")));
    /* run-level kinds name no step */
    assert_null(validator_step_event_problem(event(a, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_RUN_STARTED, "")));
    assert_null(validator_step_event_problem(event(a, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_RUN_FINISHED, NULL)));
    acms_arena_free(a);
}

static void test_impossible_events_are_named(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    assert_string_equal(validator_step_event_problem(event(a, (Acms__V1__StepEventKind)99, "train")),
                        "unknown step event kind");
    assert_string_equal(validator_step_event_problem(event(a, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_UNSPECIFIED, "x")),
                        "unknown step event kind");
    assert_string_equal(validator_step_event_problem(event(a, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_FINISHED, "")),
                        "step event without step name");
    Acms__V1__StepEvent *ev = event(a, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_STARTED, "train");
    ev->pipeline = "";
    assert_string_equal(validator_step_event_problem(ev), "step event without pipeline");
    assert_non_null(validator_step_event_problem(NULL));
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_events_pass),
        cmocka_unit_test(test_impossible_events_are_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
