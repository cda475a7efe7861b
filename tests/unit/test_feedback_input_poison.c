/* test_feedback_input_poison.c: inputs of the feedback service that decode but cannot be real (an
 * ExecutionResult without steps or with a nameless step, a ValidationResultEvent without its
 * result, more steps than any pipeline may have) are recognised so the service dead-letters them instead of recording a phantom run
 * (tests/faults/test_faults_poison.sh, "impossible content"); real ones pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "feedback/outcome.h"

static void test_execution_results(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__ExecutionResult *r = acms_pb_new(a, &acms__v1__execution_result__descriptor);
    r->meta = acms_meta_new(a, "run-1", "test", NULL, NULL, NULL);
    r->pipeline = "churn-training";
    r->success = 1;
    assert_string_equal(feedback_input_problem(&r->base), "execution result without steps");
    Acms__V1__StepResult *s = acms_pb_new(a, &acms__v1__step_result__descriptor);
    r->steps = acms_arena_alloc(a, sizeof *r->steps);
    r->steps[0] = s;
    r->n_steps = 1;
    assert_string_equal(feedback_input_problem(&r->base), "execution result with a nameless step");
    s->name = "train";
    assert_null(feedback_input_problem(&r->base));
    /* a pipeline's worth of steps passes; one more than any pipeline may have does not */
    Acms__V1__StepResult **many = acms_arena_alloc(a, (ACMS_MAX_STEPS + 1) * sizeof *many);
    for (size_t i = 0; i <= ACMS_MAX_STEPS; i++)
        many[i] = s;
    r->steps = many;
    r->n_steps = ACMS_MAX_STEPS;
    assert_null(feedback_input_problem(&r->base));
    r->n_steps = ACMS_MAX_STEPS + 1;
    assert_non_null(feedback_input_problem(&r->base));
    assert_non_null(strstr(feedback_input_problem(&r->base), "more steps"));
    acms_arena_free(a);
}

static void test_validation_results_and_others(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__ValidationResultEvent *v = acms_pb_new(a, &acms__v1__validation_result_event__descriptor);
    v->meta = acms_meta_new(a, "run-1", "test", NULL, NULL, NULL);
    v->pipeline = "churn-training";
    assert_string_equal(feedback_input_problem(&v->base), "validation result event without a result");
    v->result = acms_pb_new(a, &acms__v1__validation_result__descriptor);
    assert_null(feedback_input_problem(&v->base));
    Acms__V1__Alert *al = acms_pb_new(a, &acms__v1__alert__descriptor);
    assert_null(feedback_input_problem(&al->base)); /* alerts are judged by their handler */
    assert_non_null(feedback_input_problem(NULL));
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_execution_results),
        cmocka_unit_test(test_validation_results_and_others),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
