/* The OutcomeAnalyzer: memory and CPU slack of the successful attempt, instance-hours over every
 * attempt, wasted hours (failed attempts + the unused share of the successful one), cost from the
 * catalogue's price, resource kills and their causes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "feedback/outcome.h"

static acms_instance_type k_types[] = {
    {.name = "ml.m5.xlarge", .family = "ml.m5", .vcpu = 4, .memory_gib = 16, .price_per_hour = 0.23},
};
static const acms_catalog k_cat = {.types = k_types, .n = 1};

static int close_to(double a, double b) { return fabs(a - b) < 1e-9; }

static Acms__V1__AttemptRecord *attempt(acms_arena *a, uint32_t n, Acms__V1__ExitReason r, uint64_t limit_mb,
                                        uint64_t peak_mb, uint64_t wall_ms, uint64_t cpu_ms, double vcpu)
{
    Acms__V1__AttemptRecord *at = acms_pb_new(a, &acms__v1__attempt_record__descriptor);
    at->attempt = n;
    at->reason = r;
    at->metrics = acms_pb_new(a, &acms__v1__step_metrics__descriptor);
    at->metrics->exit_reason = r;
    at->metrics->mem_limit_mb = limit_mb;
    at->metrics->peak_rss_kb = peak_mb * 1024;
    at->metrics->wall_ms = wall_ms;
    at->metrics->user_cpu_ms = cpu_ms * 3 / 4;
    at->metrics->sys_cpu_ms = cpu_ms / 4;
    at->metrics->vcpu = vcpu;
    at->runtime_limit_s = 600;
    return at;
}

static Acms__V1__StepResult *step(acms_arena *a, const char *status)
{
    Acms__V1__StepResult *s = acms_pb_new(a, &acms__v1__step_result__descriptor);
    s->name = "train";
    s->status = (char *)status;
    s->instance_type = "ml.m5.xlarge";
    s->max_runtime_s = 600;
    s->resources = acms_pb_new(a, &acms__v1__resources__descriptor);
    s->resources->memory_mb = 1024;
    s->resources->vcpu = 2;
    return s;
}

static void add(acms_arena *a, Acms__V1__StepResult *s, Acms__V1__AttemptRecord *at)
{
    s->attempts = acms_arena_push(a, s->attempts, &s->n_attempts, sizeof *s->attempts);
    s->attempts[s->n_attempts - 1] = at;
}

static void test_retry_after_memory_kill(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__StepResult *s = step(a, "succeeded");
    /* Attempt 1: killed at its 512 MiB limit after 60 s (the reported peak lags the kill). */
    add(a, s, attempt(a, 1, ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY, 512, 500, 60000, 30000, 2));
    /* Attempt 2: 1024 MiB, peaked at 256 MiB, 120 s wall, 60 s CPU on 2 vCPU. */
    add(a, s, attempt(a, 2, ACMS__V1__EXIT_REASON__EXIT_REASON_OK, 1024, 256, 120000, 60000, 2));
    feedback_outcome o;
    assert_int_equal(feedback_outcome_analyze(a, s, &k_cat, &o), ACMS_OK);
    assert_true(o.success);
    assert_int_equal(o.attempts, 2);
    assert_true(o.observed);
    assert_true(close_to(o.memory_slack, 0.75));              /* (1024 - 256) / 1024 */
    assert_true(close_to(o.cpu_slack, 0.75));                 /* (2 x 120 - 60) / (2 x 120) */
    assert_true(close_to(o.instance_hours, 180.0 / 3600.0));  /* both attempts */
    assert_true(close_to(o.wasted_instance_hours, 60.0 / 3600.0 + 120.0 / 3600.0 * 0.75));
    assert_true(close_to(o.cost_usd, 180.0 / 3600.0 * 0.23));
    assert_int_equal(o.peak_rss_kb, 256 * 1024);
    assert_int_equal(o.mem_limit_mb, 1024);
    assert_int_equal(o.wall_ms, 120000);
    assert_true(o.resource_killed);
    assert_true(o.killed_memory);
    assert_true(close_to(o.killed_peak_mb, 512));  /* at least the limit it was killed at */
    assert_false(o.killed_time);
    assert_int_equal(o.ncauses, 1);
    assert_non_null(strstr(o.causes[0], "attempt 1: memory"));

    Acms__V1__StepOutcome *pb = feedback_outcome_to_pb(a, &o);
    assert_string_equal(pb->step, "train");
    assert_true(pb->resource_killed);
    assert_int_equal(pb->n_causes, 1);
    assert_true(close_to(pb->wasted_instance_hours, o.wasted_instance_hours));
    acms_arena_free(a);
}

static void test_failed_step_is_all_waste(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__StepResult *s = step(a, "failed");
    Acms__V1__AttemptRecord *t = attempt(a, 1, ACMS__V1__EXIT_REASON__EXIT_REASON_TIME, 1024, 300, 600000, 1000, 2);
    t->cause = "exceeded max_runtime_s";
    add(a, s, t);
    add(a, s, attempt(a, 2, ACMS__V1__EXIT_REASON__EXIT_REASON_NONZERO, 1024, 300, 36000, 1000, 2));
    feedback_outcome o;
    feedback_outcome_analyze(a, s, &k_cat, &o);
    assert_false(o.success);
    assert_false(o.observed);  /* nothing succeeded: no usage for the history */
    assert_true(close_to(o.instance_hours, 636.0 / 3600.0));
    assert_true(close_to(o.wasted_instance_hours, o.instance_hours));
    assert_true(o.killed_time);
    assert_int_equal(o.killed_runtime_s, 600);
    assert_int_equal(o.ncauses, 2);
    assert_non_null(strstr(o.causes[0], "exceeded max_runtime_s"));
    assert_non_null(strstr(o.causes[1], "nonzero"));
    assert_int_equal(o.wall_ms, 36000);  /* the last attempt describes a failed step */
    acms_arena_free(a);
}

static void test_unknown_type_and_limits(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__StepResult *s = step(a, "succeeded");
    s->instance_type = "ml.unknown.large";
    s->resources->memory_mb = 0;
    s->resources->vcpu = 0;
    add(a, s, attempt(a, 1, ACMS__V1__EXIT_REASON__EXIT_REASON_OK, 0, 100, 3600000, 1000, 0));
    feedback_outcome o;
    feedback_outcome_analyze(a, s, &k_cat, &o);
    assert_true(o.success);
    assert_true(close_to(o.instance_hours, 1.0));
    assert_true(close_to(o.cost_usd, 0));  /* no price known */
    assert_false(o.has_memory_slack);
    assert_false(o.has_cpu_slack);
    assert_true(close_to(o.wasted_instance_hours, 0));
    feedback_outcome_analyze(a, s, NULL, &o);  /* no catalogue at all */
    assert_true(close_to(o.cost_usd, 0));
    acms_arena_free(a);
}

static void test_skipped_step_without_attempts(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__StepResult *s = step(a, "skipped");
    feedback_outcome o;
    feedback_outcome_analyze(a, s, &k_cat, &o);
    assert_false(o.success);
    assert_false(o.observed);
    assert_false(o.resource_killed);
    assert_int_equal(o.attempts, 0);
    assert_true(close_to(o.instance_hours, 0));
    assert_true(close_to(o.cost_usd, 0));
    acms_arena_free(a);
}

/* A step too short to measure (under 1 ms of wall time, ended before its first memory sample, so
 * its peak is 0, "not measured") still counts as a successful run for the history; it only adds
 * no sample to it. */
static void test_unmeasured_success_still_counts(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__StepResult *s = step(a, "succeeded");
    add(a, s, attempt(a, 1, ACMS__V1__EXIT_REASON__EXIT_REASON_OK, 1024, 0, 0, 0, 2));
    feedback_outcome o;
    assert_int_equal(feedback_outcome_analyze(a, s, &k_cat, &o), ACMS_OK);
    assert_true(o.success);
    assert_true(o.observed);
    assert_false(o.has_memory_slack);
    assert_false(o.has_cpu_slack);
    acms_arena_free(a);
}

static void test_median(void **state)
{
    (void)state;
    double v[] = {0.9, 0.1, 0.5, 0.3};
    assert_true(close_to(feedback_median(v, 4), 0.4));
    double w[] = {0.7, 0.2, 0.4};
    assert_true(close_to(feedback_median(w, 3), 0.4));
    assert_true(close_to(feedback_median(NULL, 0), 0));
    assert_string_equal(feedback_exit_reason_name(ACMS__V1__EXIT_REASON__EXIT_REASON_CPU_TIME), "cpu_time");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_after_memory_kill),
        cmocka_unit_test(test_failed_step_is_all_waste),
        cmocka_unit_test(test_unknown_type_and_limits),
        cmocka_unit_test(test_skipped_step_without_attempts),
        cmocka_unit_test(test_unmeasured_success_still_counts),
        cmocka_unit_test(test_median),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
