/* The PerformanceAnalyzer's rules: memory at 95% of its limit proposes memory_up with safety >= 0.9
 * (90-95%: 0.85), live heartbeats too; an idle CPU on a long step proposes cpu_down (0.6); runtime at
 * 85% of max_runtime_s proposes 2x (0.9); heavy over-provisioning proposes memory_down (0.5) only
 * after warm-up and never for a running step; a healthy step proposes nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/analyze.h"

static monitor_usage healthy(void)
{
    monitor_usage u = {
        .succeeded = 1, .peak_rss_kb = 600 * 1024, .mem_limit_mb = 1024, .cpu_ms = 30000, .wall_ms = 20000,
        .vcpu = 2, .runtime_limit_s = 60, .baseline_runs = 10,
    };
    return u;
}

static const monitor_opportunity *find(const monitor_opportunity *o, size_t n, const char *kind)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(o[i].kind, kind))
            return &o[i];
    return NULL;
}

static void test_healthy_step_proposes_nothing(void **state)
{
    (void)state;
    monitor_usage u = healthy();
    monitor_opportunity o[MONITOR_MAX_OPPS];
    assert_int_equal(monitor_analyze(&u, o), 0);
}

static void test_memory_at_95_percent(void **state)
{
    (void)state;
    monitor_usage u = healthy();
    u.peak_rss_kb = (uint64_t)(0.96 * 1024 * 1024);  /* 983 MiB of 1024 */
    monitor_opportunity o[MONITOR_MAX_OPPS];
    size_t n = monitor_analyze(&u, o);
    const monitor_opportunity *m = find(o, n, "memory_up");
    assert_non_null(m);
    assert_string_equal(m->field, "memory_mb");
    assert_true(m->safety >= 0.9);
    assert_string_equal(m->current_value, "1024");
    /* ceil(max(983.04 x 1.3, 983.04 + 100)) = 1278 */
    assert_int_equal(strtoull(m->proposed_value, NULL, 10), 1278);
    assert_int_equal(monitor_memory_up_mb(983.04), 1278);
    assert_int_equal(monitor_memory_up_mb(200), 300);  /* +100 MiB wins for small peaks */
    assert_non_null(strstr(m->reason, "96%"));
}

static void test_memory_between_90_and_95(void **state)
{
    (void)state;
    monitor_usage u = healthy();
    u.peak_rss_kb = (uint64_t)(0.92 * 1024 * 1024);
    monitor_opportunity o[MONITOR_MAX_OPPS];
    size_t n = monitor_analyze(&u, o);
    const monitor_opportunity *m = find(o, n, "memory_up");
    assert_non_null(m);
    assert_true(m->safety > 0.8 && m->safety < 0.9);
    u.peak_rss_kb = (uint64_t)(0.89 * 1024 * 1024);
    n = monitor_analyze(&u, o);
    assert_null(find(o, n, "memory_up"));
}

static void test_live_rss_counts_at_heartbeats(void **state)
{
    (void)state;
    monitor_usage u = healthy();
    u.running = 1;
    u.succeeded = 0;
    u.peak_rss_kb = 500 * 1024;
    u.rss_kb = 1000 * 1024;  /* current RSS is what matters live */
    monitor_opportunity o[MONITOR_MAX_OPPS];
    size_t n = monitor_analyze(&u, o);
    const monitor_opportunity *m = find(o, n, "memory_up");
    assert_non_null(m);
    assert_true(m->safety >= 0.95);
    assert_non_null(strstr(m->reason, "live"));
}

static void test_memory_kill_proposes_more_than_the_limit(void **state)
{
    (void)state;
    monitor_usage u = healthy();
    u.succeeded = 0;
    u.killed_memory = 1;
    u.peak_rss_kb = 0;  /* unknown after the kill */
    monitor_opportunity o[MONITOR_MAX_OPPS];
    size_t n = monitor_analyze(&u, o);
    const monitor_opportunity *m = find(o, n, "memory_up");
    assert_non_null(m);
    assert_true(m->safety >= 0.95);
    assert_true(strtoull(m->proposed_value, NULL, 10) >= 1024 + 100);
}

static void test_idle_cpu_on_a_long_step(void **state)
{
    (void)state;
    monitor_usage u = healthy();
    u.vcpu = 4;
    u.wall_ms = 20000;
    u.cpu_ms = 4000;  /* 0.2 cores of 4: 5% */
    monitor_opportunity o[MONITOR_MAX_OPPS];
    size_t n = monitor_analyze(&u, o);
    const monitor_opportunity *c = find(o, n, "cpu_down");
    assert_non_null(c);
    assert_string_equal(c->field, "vcpu");
    assert_true(c->safety > 0.55 && c->safety < 0.65);
    assert_true(strtod(c->proposed_value, NULL) < 4);
    assert_true(strtod(c->proposed_value, NULL) >= 0.25);
    /* Short steps and running steps are not judged for CPU. */
    u.wall_ms = 5000;
    u.cpu_ms = 100;
    n = monitor_analyze(&u, o);
    assert_null(find(o, n, "cpu_down"));
    u.wall_ms = 20000;
    u.running = 1;
    n = monitor_analyze(&u, o);
    assert_null(find(o, n, "cpu_down"));
}

static void test_runtime_near_its_limit(void **state)
{
    (void)state;
    monitor_usage u = healthy();
    u.wall_ms = 52000;  /* 87% of 60 s */
    monitor_opportunity o[MONITOR_MAX_OPPS];
    size_t n = monitor_analyze(&u, o);
    const monitor_opportunity *r = find(o, n, "runtime_up");
    assert_non_null(r);
    assert_string_equal(r->field, "max_runtime_s");
    assert_string_equal(r->current_value, "60");
    assert_string_equal(r->proposed_value, "120");
    assert_true(r->safety >= 0.9);
    u.wall_ms = 50000;  /* 83% */
    n = monitor_analyze(&u, o);
    assert_null(find(o, n, "runtime_up"));
    u.running = 1;      /* live at 90% */
    u.wall_ms = 54000;
    n = monitor_analyze(&u, o);
    assert_non_null(find(o, n, "runtime_up"));
    u.runtime_limit_s = 0;  /* no limit, no rule */
    n = monitor_analyze(&u, o);
    assert_null(find(o, n, "runtime_up"));
}

static void test_memory_down_needs_warm_history_and_a_finished_step(void **state)
{
    (void)state;
    monitor_usage u = healthy();
    u.mem_limit_mb = 8192;
    u.peak_rss_kb = 300 * 1024;  /* 3.7% */
    monitor_opportunity o[MONITOR_MAX_OPPS];
    size_t n = monitor_analyze(&u, o);
    const monitor_opportunity *d = find(o, n, "memory_down");
    assert_non_null(d);
    assert_true(d->safety > 0.45 && d->safety < 0.55);
    assert_int_equal(strtoull(d->proposed_value, NULL, 10), 400);
    u.baseline_runs = 4;
    n = monitor_analyze(&u, o);
    assert_null(find(o, n, "memory_down"));
    u.baseline_runs = 10;
    u.running = 1;
    n = monitor_analyze(&u, o);
    assert_null(find(o, n, "memory_down"));
    u.running = 0;
    u.succeeded = 0;
    n = monitor_analyze(&u, o);
    assert_null(find(o, n, "memory_down"));
}

static void test_unknown_limits_propose_nothing(void **state)
{
    (void)state;
    monitor_usage u = {.succeeded = 1, .peak_rss_kb = 1 << 30, .wall_ms = 1000000, .cpu_ms = 1};
    monitor_opportunity o[MONITOR_MAX_OPPS];
    assert_int_equal(monitor_analyze(&u, o), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_healthy_step_proposes_nothing),
        cmocka_unit_test(test_memory_at_95_percent),
        cmocka_unit_test(test_memory_between_90_and_95),
        cmocka_unit_test(test_live_rss_counts_at_heartbeats),
        cmocka_unit_test(test_memory_kill_proposes_more_than_the_limit),
        cmocka_unit_test(test_idle_cpu_on_a_long_step),
        cmocka_unit_test(test_runtime_near_its_limit),
        cmocka_unit_test(test_memory_down_needs_warm_history_and_a_finished_step),
        cmocka_unit_test(test_unknown_limits_propose_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
