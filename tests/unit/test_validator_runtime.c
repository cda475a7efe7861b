/* test_validator_runtime.c: validate_during_execution on step events: healthy steps give nothing,
 * usage at >= 90 % of the memory or wall limit warns, kills for memory/time/CPU time are errors
 * with a fix, an idle CPU over a step of >= 5 s is reported as info. */
#include "validator_fixture.h"

static Acms__V1__StepEvent *event(acms_arena *a, Acms__V1__StepEventKind kind, uint64_t mem_mb, uint32_t rt_s)
{
    Acms__V1__StepEvent *ev = acms_pb_new(a, &acms__v1__step_event__descriptor);
    ev->meta = acms_meta_new(a, "run-1", "test", NULL, NULL, NULL);
    ev->pipeline = "churn-training";
    ev->environment = "dev";
    ev->step = "train";
    ev->attempt = 1;
    ev->kind = kind;
    ev->memory_mb = mem_mb;
    ev->max_runtime_s = rt_s;
    ev->vcpu = 2;
    ev->metrics = acms_pb_new(a, &acms__v1__step_metrics__descriptor);
    return ev;
}

static void test_healthy_heartbeat_and_finish(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__StepEvent *ev = event(a, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_HEARTBEAT, 1024, 300);
    ev->metrics->rss_kb = 400 * 1024;
    ev->metrics->wall_ms = 60000;
    Acms__V1__ValidationResult *r = NULL;
    assert_int_equal(validator_runtime_check(ev, a, &r), ACMS_OK);
    assert_non_null(r);
    assert_string_equal(r->phase, "runtime");
    assert_true(r->valid);
    assert_int_equal(r->n_issues + r->n_warnings, 0);

    ev = event(a, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_FINISHED, 1024, 300);
    ev->metrics->exit_reason = ACMS__V1__EXIT_REASON__EXIT_REASON_OK;
    ev->metrics->peak_rss_kb = 500 * 1024;
    ev->metrics->wall_ms = 100000;
    ev->metrics->user_cpu_ms = 150000;
    assert_int_equal(validator_runtime_check(ev, a, &r), ACMS_OK);
    assert_int_equal(r->n_issues + r->n_warnings, 0);

    /* STARTED events are not judged */
    ev = event(a, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_STARTED, 1024, 300);
    ev->metrics->rss_kb = 1024 * 1024;
    assert_int_equal(validator_runtime_check(ev, a, &r), ACMS_OK);
    assert_int_equal(r->n_issues + r->n_warnings, 0);
    acms_arena_free(a);
}

static void test_near_limits(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__StepEvent *ev = event(a, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_HEARTBEAT, 1000, 100);
    ev->metrics->rss_kb = 950 * 1024;   /* 95 % */
    ev->metrics->wall_ms = 92000;        /* 92 % */
    Acms__V1__ValidationResult *r = NULL;
    validator_runtime_check(ev, a, &r);
    assert_true(r->valid);
    const Acms__V1__ValidationIssue *x = vf_find(r, "MEMORY_NEAR_LIMIT", "spec.steps[name=train].memory_mb");
    assert_non_null(x);
    assert_string_equal(x->severity, "warning");
    assert_string_equal(x->level, "runtime");
    assert_non_null(vf_sugg(x, "MEMORY_NEAR_LIMIT:raise", "1280")); /* 950 x 1.3 = 1235 -> 1280 */
    x = vf_find(r, "RUNTIME_NEAR_LIMIT", NULL);
    assert_non_null(vf_sugg(x, NULL, "138"));
    assert_true(r->n_suggestions > 0 && r->n_suggestions <= VALIDATOR_TOP_SUGGESTIONS);

    /* the limit may come from the metrics when the event does not carry it */
    ev = event(a, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_HEARTBEAT, 0, 0);
    ev->metrics->mem_limit_mb = 512;
    ev->metrics->rss_kb = 470 * 1024;
    validator_runtime_check(ev, a, &r);
    assert_non_null(vf_find(r, "MEMORY_NEAR_LIMIT", NULL));
    acms_arena_free(a);
}

static void test_resource_kills(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__StepEvent *ev = event(a, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_FINISHED, 512, 60);
    ev->metrics->exit_reason = ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY;
    ev->metrics->peak_rss_kb = 512 * 1024;
    ev->metrics->wall_ms = 3000;
    Acms__V1__ValidationResult *r = NULL;
    validator_runtime_check(ev, a, &r);
    assert_false(r->valid);
    const Acms__V1__ValidationIssue *x = vf_find(r, "RESOURCE_KILLED_MEMORY", NULL);
    assert_non_null(x);
    assert_string_equal(x->severity, "error");
    assert_non_null(vf_sugg(x, NULL, "768"));
    assert_null(vf_find(r, "MEMORY_NEAR_LIMIT", NULL)); /* the kill says it all */

    ev = event(a, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_FINISHED, 512, 60);
    ev->metrics->exit_reason = ACMS__V1__EXIT_REASON__EXIT_REASON_TIME;
    ev->metrics->wall_ms = 60100;
    validator_runtime_check(ev, a, &r);
    x = vf_find(r, "RESOURCE_KILLED_TIME", NULL);
    assert_non_null(vf_sugg(x, NULL, "120"));
    assert_null(vf_find(r, "RUNTIME_NEAR_LIMIT", NULL));

    ev = event(a, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_FINISHED, 512, 60);
    ev->metrics->exit_reason = ACMS__V1__EXIT_REASON__EXIT_REASON_CPU_TIME;
    ev->metrics->user_cpu_ms = 30000;
    ev->metrics->wall_ms = 20000;
    validator_runtime_check(ev, a, &r);
    assert_non_null(vf_find(r, "RESOURCE_KILLED_CPU_TIME", NULL));
    assert_false(r->valid);
    acms_arena_free(a);
}

static void test_cpu_underused(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__StepEvent *ev = event(a, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_FINISHED, 4096, 600);
    ev->vcpu = 4;
    ev->metrics->exit_reason = ACMS__V1__EXIT_REASON__EXIT_REASON_OK;
    ev->metrics->wall_ms = 10000;
    ev->metrics->user_cpu_ms = 150;
    ev->metrics->sys_cpu_ms = 50;
    Acms__V1__ValidationResult *r = NULL;
    validator_runtime_check(ev, a, &r);
    const Acms__V1__ValidationIssue *x = vf_find(r, "CPU_UNDERUSED", NULL);
    assert_non_null(x);
    assert_string_equal(x->severity, "info");
    assert_true(r->valid);
    assert_non_null(vf_sugg(x, "CPU_UNDERUSED:fewer-vcpu", "1"));

    /* a short step is not judged */
    ev->metrics->wall_ms = 3000;
    validator_runtime_check(ev, a, &r);
    assert_null(vf_find(r, "CPU_UNDERUSED", NULL));
    acms_arena_free(a);
}

static void test_null_event(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__ValidationResult *r = NULL;
    assert_int_equal(validator_runtime_check(NULL, a, &r), ACMS_ERR_INVALID);
    assert_non_null(r);
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_healthy_heartbeat_and_finish),
        cmocka_unit_test(test_near_limits),
        cmocka_unit_test(test_resource_kills),
        cmocka_unit_test(test_cpu_underused),
        cmocka_unit_test(test_null_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
