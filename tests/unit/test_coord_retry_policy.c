/* test_coord_retry_policy.c: retry_policy per step. on_failure (the default) retries any failure and
 * stops early only after the same exit code and stderr tail came twice, saying so; on_error retries
 * only OOM kills, timeouts, lost and interrupted attempts; never retries nothing. The policy
 * resolves step, then environment, then defaults, and the backoff grows by its factor up to its cap
 * with equal jitter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <string.h>

#include "coordinator/recovery.h"

#define R(x) ACMS__V1__EXIT_REASON__EXIT_REASON_##x

static coord_failure failed_with(Acms__V1__ExitReason r, uint32_t attempt, acms_retry_kind kind)
{
    coord_failure f = {.reason = r, .attempt = attempt, .max_attempts = 3, .peak_rss_kb = 10 * 1024};
    f.policy.kind = kind;
    return f;
}

static void test_on_failure_retries_an_exit_code(void **state)
{
    (void)state;
    coord_res cur = {.memory_mb = 512, .max_runtime_s = 60};
    coord_failure f = failed_with(R(NONZERO), 1, ACMS_RETRY_DEFAULT);
    f.exit_code = 3;
    f.tail = "connection reset by peer";
    coord_decision d;
    coord_recovery_decide(NULL, &cur, &f, 0, &d);
    assert_true(d.retry);
    assert_int_equal(d.next.memory_mb, 512);
    assert_true(d.backoff_ms >= 100 && d.backoff_ms <= 200);
    assert_non_null(strstr(d.cause, "code 3"));
    assert_non_null(strstr(d.recovery, "on_failure"));
}

static void test_same_failure_twice_stops_and_says_so(void **state)
{
    (void)state;
    coord_res cur = {.memory_mb = 512};
    coord_failure f = failed_with(R(NONZERO), 2, ACMS_RETRY_ON_FAILURE);
    f.max_attempts = 5;
    f.exit_code = 3;
    f.tail = "KeyError: 'label'";
    f.has_prev = 1;
    f.prev_reason = R(NONZERO);
    f.prev_exit_code = 3;
    f.prev_tail = "KeyError: 'label'";
    coord_decision d;
    coord_recovery_decide(NULL, &cur, &f, 0, &d);
    assert_false(d.retry);
    assert_non_null(strstr(d.recovery, "attempts 1 and 2 failed the same way"));
    assert_non_null(strstr(d.recovery, "exit code 3"));
    assert_non_null(strstr(d.recovery, "deterministic"));
    assert_non_null(strstr(d.suggestion, "code 3"));

    /* a different tail, or a different code, is not the same failure: retried */
    f.prev_tail = "KeyError: 'id'";
    coord_recovery_decide(NULL, &cur, &f, 0, &d);
    assert_true(d.retry);
    f.prev_tail = "KeyError: 'label'";
    f.prev_exit_code = 1;
    coord_recovery_decide(NULL, &cur, &f, 0, &d);
    assert_true(d.retry);
    /* a single failure is never judged deterministic */
    f.has_prev = 0;
    f.attempt = 1;
    coord_recovery_decide(NULL, &cur, &f, 0, &d);
    assert_true(d.retry);
}

static void test_same_crash_twice_stops(void **state)
{
    (void)state;
    coord_res cur = {0};
    coord_failure f = failed_with(R(SIGNAL), 2, ACMS_RETRY_ON_FAILURE);
    f.term_signal = SIGSEGV;
    f.has_prev = 1;
    f.prev_reason = R(SIGNAL);
    f.prev_term_signal = SIGSEGV;
    coord_decision d;
    coord_recovery_decide(NULL, &cur, &f, 0, &d);
    assert_false(d.retry);
    assert_non_null(strstr(d.recovery, "signal 11"));
}

static void test_on_error_only_system_failures(void **state)
{
    (void)state;
    coord_res cur = {.memory_mb = 100, .max_runtime_s = 10};
    coord_decision d;
    static const Acms__V1__ExitReason retried[] = {R(MEMORY), R(TIME), R(LOST), R(INTERRUPTED), R(UNREACHABLE)};
    for (size_t i = 0; i < sizeof retried / sizeof *retried; i++) {
        coord_failure f = failed_with(retried[i], 1, ACMS_RETRY_ON_ERROR);
        coord_recovery_decide(NULL, &cur, &f, 0, &d);
        assert_true(d.retry);
    }
    coord_failure f = failed_with(R(NONZERO), 1, ACMS_RETRY_ON_ERROR);
    f.exit_code = 1;
    coord_recovery_decide(NULL, &cur, &f, 0, &d);
    assert_false(d.retry);
    assert_non_null(strstr(d.recovery, "on_error"));
    f = failed_with(R(SIGNAL), 1, ACMS_RETRY_ON_ERROR);
    f.term_signal = SIGABRT;
    coord_recovery_decide(NULL, &cur, &f, 0, &d);
    assert_false(d.retry);
}

static void test_never_retries_nothing(void **state)
{
    (void)state;
    coord_res cur = {.memory_mb = 100, .max_runtime_s = 10};
    coord_decision d;
    static const Acms__V1__ExitReason any[] = {R(MEMORY), R(TIME), R(LOST), R(NONZERO), R(UNREACHABLE)};
    for (size_t i = 0; i < sizeof any / sizeof *any; i++) {
        coord_failure f = failed_with(any[i], 1, ACMS_RETRY_NEVER);
        coord_recovery_decide(NULL, &cur, &f, 0, &d);
        assert_false(d.retry);
        assert_non_null(strstr(d.recovery, "retry_policy is never"));
    }
}

static void test_oom_retry_has_more_memory_and_backoff(void **state)
{
    (void)state;
    coord_res cur = {.memory_mb = 100};
    coord_failure f = failed_with(R(MEMORY), 1, ACMS_RETRY_ON_ERROR);
    f.peak_rss_kb = 101 * 1024;
    f.policy.backoff_s = 1;
    f.policy.factor = 3;
    f.policy.max_s = 60;
    coord_decision d;
    coord_recovery_decide(NULL, &cur, &f, 7, &d);
    assert_true(d.retry);
    assert_int_equal(d.next.memory_mb, 200);
    assert_true(d.backoff_ms >= 500 && d.backoff_ms <= 1000);
    assert_non_null(strstr(d.recovery, "backoff"));
}

static void test_resolve_step_env_defaults(void **state)
{
    (void)state;
    Acms__V1__Step s = ACMS__V1__STEP__INIT;
    Acms__V1__Environment env = ACMS__V1__ENVIRONMENT__INIT;
    acms_retry_policy p;
    acms_retry_resolve(&s, NULL, &p);
    assert_int_equal(p.kind, ACMS_RETRY_ON_FAILURE);
    assert_true(p.backoff_s == ACMS_RETRY_BACKOFF_S && p.factor == ACMS_RETRY_FACTOR && p.max_s == ACMS_RETRY_MAX_S);
    env.default_retry_policy = "on_error";
    env.retry_backoff_s = 2;
    acms_retry_resolve(&s, &env, &p);
    assert_int_equal(p.kind, ACMS_RETRY_ON_ERROR);
    assert_true(p.backoff_s == 2 && p.max_s == ACMS_RETRY_MAX_S);
    s.retry_policy = "never";
    s.retry_backoff_s = 0.5;
    s.retry_backoff_factor = 0.5; /* below 1: no shrinking delays */
    s.retry_backoff_max_s = 1e12;
    acms_retry_resolve(&s, &env, &p);
    assert_int_equal(p.kind, ACMS_RETRY_NEVER);
    assert_true(p.backoff_s == 0.5 && p.factor == 1 && p.max_s == ACMS_RETRY_LIMIT_S);
    assert_int_equal(acms_retry_parse("on_failure"), ACMS_RETRY_ON_FAILURE);
    assert_int_equal(acms_retry_parse(""), ACMS_RETRY_DEFAULT);
    assert_int_equal(acms_retry_parse("always"), -1);
}

static void test_backoff_grows_and_caps(void **state)
{
    (void)state;
    acms_retry_policy p = {ACMS_RETRY_ON_FAILURE, 0.2, 2, 10};
    for (uint32_t j = 0; j < 1000; j += 37) {
        assert_true(acms_retry_backoff_ms(&p, 1, j) >= 100 && acms_retry_backoff_ms(&p, 1, j) <= 200);
        assert_true(acms_retry_backoff_ms(&p, 2, j) >= 200 && acms_retry_backoff_ms(&p, 2, j) <= 400);
        assert_true(acms_retry_backoff_ms(&p, 3, j) >= 400 && acms_retry_backoff_ms(&p, 3, j) <= 800);
        assert_true(acms_retry_backoff_ms(&p, 20, j) >= 5000 && acms_retry_backoff_ms(&p, 20, j) <= 10000);
    }
    assert_int_equal(acms_retry_backoff_ms(&p, 1, 0), 100);
    assert_int_equal(acms_retry_backoff_ms(&p, 100, 5000), 10000);
    assert_int_equal(acms_retry_backoff_ms(NULL, 1, 0), 100);
    acms_retry_policy slow = {ACMS_RETRY_ON_FAILURE, 5, 3, 30};
    assert_int_equal(acms_retry_backoff_ms(&slow, 2, 0), 7500);   /* 15 s, half fixed */
    assert_int_equal(acms_retry_backoff_ms(&slow, 3, 0), 15000);  /* 45 s capped at 30 */
    assert_int_equal(acms_retry_backoff_ms(&slow, 3, 15000), 30000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_on_failure_retries_an_exit_code),
        cmocka_unit_test(test_same_failure_twice_stops_and_says_so),
        cmocka_unit_test(test_same_crash_twice_stops),
        cmocka_unit_test(test_on_error_only_system_failures),
        cmocka_unit_test(test_never_retries_nothing),
        cmocka_unit_test(test_oom_retry_has_more_memory_and_backoff),
        cmocka_unit_test(test_resolve_step_env_defaults),
        cmocka_unit_test(test_backoff_grows_and_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
