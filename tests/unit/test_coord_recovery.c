/* test_coord_recovery.c: failure class -> recovery decision. Memory kills retry with more memory
 * (next instance size of the family, else a formula; within the quota), time and CPU-time kills
 * double their limit, transient failures back off with the same resources (an earlier bump is
 * kept), a start that can never work is not retried, attempts are bounded (the retry policies have
 * test_coord_retry_policy.c), and a step that fails for good
 * skips its dependents (optional) or every step not started (required). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "coordinator/recovery.h"

/* The pure parts are tested with plain structs: neither the bus nor the store is in sight. */
#if defined(_RDKAFKA_H_) || defined(__HIREDIS_H)
#error "the coordinator's pure planner and recovery must not include Kafka or Redis headers"
#endif

static acms_instance_type types[] = {
    {.name = "ml.c5.large", .family = "ml.c5", .vcpu = 2, .memory_gib = 4},
    {.name = "ml.m5.large", .family = "ml.m5", .vcpu = 2, .memory_gib = 8},
    {.name = "ml.m5.xlarge", .family = "ml.m5", .vcpu = 4, .memory_gib = 16},
    {.name = "ml.m5.2xlarge", .family = "ml.m5", .vcpu = 8, .memory_gib = 32},
};
static const acms_catalog catalog = {.types = types, .n = 4};

static coord_failure failure(Acms__V1__ExitReason r, uint32_t attempt, uint64_t peak_mb)
{
    coord_failure f = {.reason = r, .attempt = attempt, .max_attempts = 3, .peak_rss_kb = peak_mb * 1024};
    return f;
}

static void test_memory_formula_without_instance_type(void **state)
{
    (void)state;
    coord_res cur = {.memory_mb = 100, .max_runtime_s = 60};
    coord_failure f = failure(ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY, 1, 110);
    coord_decision d;
    coord_recovery_env env = {.catalog = &catalog};
    coord_recovery_decide(&env, &cur, &f, 0, &d);
    assert_true(d.retry);
    assert_int_equal(d.next.memory_mb, 200); /* max(110 x 1.5, 100 x 2) */
    assert_int_equal(d.next.max_runtime_s, 60);
    assert_true(d.backoff_ms >= 100 && d.backoff_ms <= 200); /* every retry waits its backoff */
    assert_non_null(strstr(d.recovery, "100 -> 200 MiB"));
}

static void test_memory_next_instance_size(void **state)
{
    (void)state;
    /* dev shrinks the catalogue: memory_scale 0.01 -> large 82, xlarge 164, 2xlarge 328 MiB */
    coord_recovery_env env = {.catalog = &catalog, .memory_scale = 0.01};
    coord_res cur = {.memory_mb = 82, .vcpu = 2};
    snprintf(cur.instance_type, sizeof cur.instance_type, "ml.m5.large");
    coord_failure f = failure(ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY, 1, 90);
    coord_decision d;
    coord_recovery_decide(&env, &cur, &f, 0, &d);
    assert_true(d.retry);
    assert_int_equal(d.next.memory_mb, 164);
    assert_string_equal(d.next.instance_type, "ml.m5.xlarge");
    assert_true(d.next.vcpu >= 4);
    assert_non_null(strstr(d.recovery, "ml.m5.large -> ml.m5.xlarge"));

    /* a peak far above skips sizes: 200 MiB needs 240 -> 2xlarge */
    f = failure(ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY, 1, 200);
    coord_recovery_decide(&env, &cur, &f, 0, &d);
    assert_true(d.retry);
    assert_string_equal(d.next.instance_type, "ml.m5.2xlarge");
    assert_int_equal(d.next.memory_mb, 328);

    /* types the environment does not allow are passed over */
    char *allowed_types[] = {"ml.m5.large", "ml.m5.2xlarge"};
    env.allowed = allowed_types;
    env.nallowed = 2;
    f = failure(ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY, 1, 90);
    coord_recovery_decide(&env, &cur, &f, 0, &d);
    assert_true(d.retry);
    assert_string_equal(d.next.instance_type, "ml.m5.2xlarge");
    env.nallowed = 0;

    /* nothing larger in the family: the limit alone grows */
    snprintf(cur.instance_type, sizeof cur.instance_type, "ml.m5.2xlarge");
    cur.memory_mb = 328;
    f = failure(ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY, 1, 330);
    coord_recovery_decide(&env, &cur, &f, 0, &d);
    assert_true(d.retry);
    assert_int_equal(d.next.memory_mb, 656);
    assert_non_null(strstr(d.recovery, "no larger allowed type"));
}

static void test_memory_explicit_request_below_instance(void **state)
{
    (void)state;
    /* memory_mb 256 requested on an ml.m5.xlarge (16 GiB at scale 1): the type's own memory is used first */
    coord_recovery_env env = {.catalog = &catalog, .memory_scale = 1.0};
    coord_res cur = {.memory_mb = 256};
    snprintf(cur.instance_type, sizeof cur.instance_type, "ml.m5.xlarge");
    coord_failure f = failure(ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY, 1, 260);
    coord_decision d;
    coord_recovery_decide(&env, &cur, &f, 0, &d);
    assert_true(d.retry);
    assert_int_equal(d.next.memory_mb, 16384);
    assert_string_equal(d.next.instance_type, "ml.m5.xlarge");
}

static void test_memory_quota_caps_or_refuses(void **state)
{
    (void)state;
    coord_recovery_env env = {.max_memory_mb = 150, .environment = "dev"};
    coord_res cur = {.memory_mb = 100};
    coord_failure f = failure(ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY, 1, 105);
    coord_decision d;
    coord_recovery_decide(&env, &cur, &f, 0, &d);
    assert_true(d.retry);
    assert_int_equal(d.next.memory_mb, 150);
    assert_non_null(strstr(d.recovery, "quota"));

    env.max_memory_mb = 110; /* needs >= 126 (peak x 1.2) */
    coord_recovery_decide(&env, &cur, &f, 0, &d);
    assert_false(d.retry);
    assert_non_null(strstr(d.recovery, "quota max_memory_mb"));
    assert_non_null(strstr(d.suggestion, "quotas.max_memory_mb of environment dev"));
}

static void test_time_doubles_within_quota(void **state)
{
    (void)state;
    coord_recovery_env env = {.max_runtime_s = 100, .environment = "dev"};
    coord_res cur = {.memory_mb = 64, .max_runtime_s = 30};
    coord_failure f = failure(ACMS__V1__EXIT_REASON__EXIT_REASON_TIME, 1, 10);
    coord_decision d;
    coord_recovery_decide(&env, &cur, &f, 0, &d);
    assert_true(d.retry);
    assert_int_equal(d.next.max_runtime_s, 60);
    assert_int_equal(d.next.memory_mb, 64);

    cur.max_runtime_s = 60;
    coord_recovery_decide(&env, &cur, &f, 0, &d);
    assert_true(d.retry);
    assert_int_equal(d.next.max_runtime_s, 100); /* capped */

    cur.max_runtime_s = 100;
    coord_recovery_decide(&env, &cur, &f, 0, &d);
    assert_false(d.retry);
    assert_non_null(strstr(d.suggestion, "quotas.max_runtime_s"));
}

static void test_cpu_time_doubles(void **state)
{
    (void)state;
    coord_res cur = {.cpu_time_s = 5};
    coord_failure f = failure(ACMS__V1__EXIT_REASON__EXIT_REASON_CPU_TIME, 1, 10);
    coord_decision d;
    coord_recovery_decide(NULL, &cur, &f, 0, &d);
    assert_true(d.retry);
    assert_int_equal(d.next.cpu_time_s, 10);
}

static void test_transient_backoff_same_resources(void **state)
{
    (void)state;
    static const Acms__V1__ExitReason transient[] = {
        ACMS__V1__EXIT_REASON__EXIT_REASON_SPAWN_FAILED, ACMS__V1__EXIT_REASON__EXIT_REASON_UNREACHABLE,
        ACMS__V1__EXIT_REASON__EXIT_REASON_LOST, ACMS__V1__EXIT_REASON__EXIT_REASON_SIGNAL};
    coord_res cur = {.memory_mb = 300, .max_runtime_s = 20};
    for (size_t i = 0; i < sizeof transient / sizeof *transient; i++) {
        coord_failure f = failure(transient[i], 1, 10);
        f.term_signal = SIGKILL;
        coord_decision d;
        coord_recovery_decide(NULL, &cur, &f, 12345, &d);
        assert_true(d.retry);
        assert_true(d.transient);
        assert_int_equal(d.next.memory_mb, 300);
        assert_int_equal(d.next.max_runtime_s, 20);
        assert_true(d.backoff_ms >= 100 && d.backoff_ms <= 200);
        assert_non_null(strstr(d.recovery, "backoff"));
    }
}

static void test_crash_retried_once_permanent_spawn_never(void **state)
{
    (void)state;
    coord_res cur = {.memory_mb = 100};
    coord_failure f = failure(ACMS__V1__EXIT_REASON__EXIT_REASON_SIGNAL, 1, 10);
    f.term_signal = SIGSEGV;
    coord_decision d;
    coord_recovery_decide(NULL, &cur, &f, 0, &d);
    assert_true(d.retry); /* on_failure: a crash is a failure like any other */
    assert_false(d.transient);
    assert_non_null(strstr(d.cause, "crashed"));

    f = failure(ACMS__V1__EXIT_REASON__EXIT_REASON_SPAWN_FAILED, 1, 0);
    f.permanent = 1;
    f.detail = "command not found: prep.sh";
    coord_recovery_decide(NULL, &cur, &f, 0, &d);
    assert_false(d.retry);
    assert_non_null(strstr(d.cause, "command not found"));
    assert_non_null(strstr(d.recovery, "never start"));
}

static void test_attempts_bounded(void **state)
{
    (void)state;
    coord_res cur = {.memory_mb = 100, .max_runtime_s = 10};
    coord_failure f = failure(ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY, 3, 120);
    coord_decision d;
    coord_recovery_decide(NULL, &cur, &f, 0, &d);
    assert_false(d.retry);
    assert_non_null(strstr(d.recovery, "attempts exhausted (3 of 3)"));
    assert_non_null(strstr(d.suggestion, "memory"));

    f = failure(ACMS__V1__EXIT_REASON__EXIT_REASON_UNREACHABLE, 2, 0);
    f.max_attempts = 2;
    coord_recovery_decide(NULL, &cur, &f, 0, &d);
    assert_false(d.retry);

    Acms__V1__Step step = ACMS__V1__STEP__INIT;
    Acms__V1__Environment env = ACMS__V1__ENVIRONMENT__INIT;
    assert_int_equal(coord_max_attempts(&step, &env), COORD_DEFAULT_ATTEMPTS);
    env.default_max_attempts = 5;
    assert_int_equal(coord_max_attempts(&step, &env), 5);
    step.max_attempts = 2;
    assert_int_equal(coord_max_attempts(&step, &env), 2);
}

static void test_oom_bump_survives_transient(void **state)
{
    (void)state;
    coord_res cur = {.memory_mb = 100, .max_runtime_s = 30};
    coord_failure f = failure(ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY, 1, 110);
    f.max_attempts = 4;
    coord_decision d1, d2, d3;
    coord_recovery_decide(NULL, &cur, &f, 0, &d1);
    assert_true(d1.retry);
    assert_int_equal(d1.next.memory_mb, 200);
    /* attempt 2 is lost with its coordinator: same (bumped) resources for attempt 3 */
    f = failure(ACMS__V1__EXIT_REASON__EXIT_REASON_LOST, 2, 0);
    f.max_attempts = 4;
    coord_recovery_decide(NULL, &d1.next, &f, 7, &d2);
    assert_true(d2.retry);
    assert_int_equal(d2.next.memory_mb, 200);
    assert_true(d2.backoff_ms >= 200 && d2.backoff_ms <= 400);
    /* each attempt keeps its own explanation */
    assert_string_not_equal(d1.cause, d2.cause);
    assert_non_null(strstr(d1.cause, "memory"));
    assert_non_null(strstr(d2.cause, "lost"));
    /* and a later memory kill grows from the bumped value */
    f = failure(ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY, 3, 210);
    f.max_attempts = 4;
    coord_recovery_decide(NULL, &d2.next, &f, 0, &d3);
    assert_int_equal(d3.next.memory_mb, 400);
}

static void test_cancelled_never_retries(void **state)
{
    (void)state;
    coord_res cur = {0};
    coord_failure f = failure(ACMS__V1__EXIT_REASON__EXIT_REASON_CANCELLED, 1, 0);
    coord_decision d;
    coord_recovery_decide(NULL, &cur, &f, 0, &d);
    assert_false(d.retry);
}

static acms_dag *graph(acms_arena *a, const char *const *specs, size_t n)
{
    Acms__V1__Pipeline *p = acms_pb_new(a, &acms__v1__pipeline__descriptor);
    for (size_t i = 0; i < n; i++) {
        Acms__V1__Step *s = acms_pb_new(a, &acms__v1__step__descriptor);
        const char *colon = strchr(specs[i], ':');
        s->name = acms_arena_strndup(a, specs[i], (size_t)(colon - specs[i]));
        for (const char *d = colon + 1; *d;) {
            size_t len = strcspn(d, ",");
            acms_pb_add_string(a, &s->depends_on, &s->n_depends_on, acms_arena_strndup(a, d, len));
            d += len + (d[len] == ',');
        }
        p->steps = acms_arena_push(a, p->steps, &p->n_steps, sizeof *p->steps);
        p->steps[p->n_steps - 1] = s;
    }
    acms_dag *d = NULL;
    assert_int_equal(acms_dag_build(a, p, &d, NULL), ACMS_OK);
    return d;
}

static void test_skip_sets(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    /* report (optional) -> publish; train independent -> eval */
    static const char *const specs[] = {"prep:", "report:prep", "publish:report", "train:prep", "eval:train"};
    acms_dag *d = graph(a, specs, 5);
    coord_step_state st[5] = {COORD_STEP_SUCCEEDED, COORD_STEP_FAILED, COORD_STEP_PENDING, COORD_STEP_RUNNING,
                              COORD_STEP_PENDING};
    size_t out[5];
    size_t n = coord_recovery_skip_set(d, st, 1, 1, out);
    assert_int_equal(n, 1); /* graceful degradation: only publish, eval still runs */
    assert_int_equal(out[0], 2);

    /* a required step failing: every step not started is skipped, never started */
    st[1] = COORD_STEP_PENDING;
    st[3] = COORD_STEP_FAILED;
    n = coord_recovery_skip_set(d, st, 3, 0, out);
    assert_int_equal(n, 3); /* report, publish, eval */
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_formula_without_instance_type),
        cmocka_unit_test(test_memory_next_instance_size),
        cmocka_unit_test(test_memory_explicit_request_below_instance),
        cmocka_unit_test(test_memory_quota_caps_or_refuses),
        cmocka_unit_test(test_time_doubles_within_quota),
        cmocka_unit_test(test_cpu_time_doubles),
        cmocka_unit_test(test_transient_backoff_same_resources),
        cmocka_unit_test(test_crash_retried_once_permanent_spawn_never),
        cmocka_unit_test(test_attempts_bounded),
        cmocka_unit_test(test_oom_bump_survives_transient),
        cmocka_unit_test(test_cancelled_never_retries),
        cmocka_unit_test(test_skip_sets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
