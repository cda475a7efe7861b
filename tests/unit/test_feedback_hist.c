/* The PerformanceTracker's decaying histogram: quantiles are close to the true ones (within a
 * bucket), decay makes old values fade, the state stays bounded whatever the number of runs, and
 * the compact string form round-trips while malformed strings are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "feedback/history.h"

static feedback_hist mem_hist(void)
{
    feedback_hist h;
    feedback_hist_init(&h, 1.0, 1048576.0, FEEDBACK_HIST_MAX);
    return h;
}

static int near(double got, double want, double rel) { return fabs(got - want) <= rel * want; }

static void test_empty_and_constant(void **state)
{
    (void)state;
    feedback_hist h = mem_hist();
    assert_true(isnan(feedback_hist_quantile(&h, 0.5)));
    for (int i = 0; i < 30; i++)
        feedback_hist_add(&h, 300, FEEDBACK_DECAY);
    /* A constant series is reproduced exactly (quantiles are clamped to the extremes seen). */
    assert_true(feedback_hist_quantile(&h, 0.0) == 300);
    assert_true(feedback_hist_quantile(&h, 0.5) == 300);
    assert_true(feedback_hist_quantile(&h, 0.99) == 300);
    assert_int_equal(feedback_hist_used(&h), 1);
    /* The decayed mass converges to 1 / (1 - 0.9) = 10. */
    assert_true(near(h.total, 10 * (1 - pow(0.9, 30)), 1e-9));
}

static void test_quantiles_of_a_spread(void **state)
{
    (void)state;
    feedback_hist h = mem_hist();
    for (int v = 1; v <= 1000; v++)
        feedback_hist_add(&h, (double)v, 1.0);  /* no decay: plain quantiles */
    double ratio = pow(1048576.0, 1.0 / FEEDBACK_HIST_MAX);  /* bucket width, ~11% */
    assert_true(near(feedback_hist_quantile(&h, 0.50), 500, ratio - 1));
    assert_true(near(feedback_hist_quantile(&h, 0.90), 900, ratio - 1));
    assert_true(near(feedback_hist_quantile(&h, 0.95), 950, ratio - 1));
    assert_true(near(feedback_hist_quantile(&h, 0.99), 990, ratio - 1));
    assert_true(feedback_hist_quantile(&h, 1.0) <= 1000);
    double prev = 0;
    for (double q = 0; q <= 1.0; q += 0.01) {  /* monotone */
        double v = feedback_hist_quantile(&h, q);
        assert_true(v >= prev);
        prev = v;
    }
}

static void test_decay_makes_old_values_fade(void **state)
{
    (void)state;
    feedback_hist h = mem_hist();
    for (int i = 0; i < 50; i++)
        feedback_hist_add(&h, 100, FEEDBACK_DECAY);
    assert_true(feedback_hist_quantile(&h, 0.5) == 100);
    /* The step's usage grows: 10 runs at 1000 MiB already outweigh 50 old runs at 100. */
    for (int i = 0; i < 10; i++)
        feedback_hist_add(&h, 1000, FEEDBACK_DECAY);
    assert_true(near(feedback_hist_quantile(&h, 0.5), 1000, 0.12));
    /* 40 runs later the old values carry less than 1% of the weight: even p01 is the new level. */
    for (int i = 0; i < 40; i++)
        feedback_hist_add(&h, 1000, FEEDBACK_DECAY);
    assert_true(near(feedback_hist_quantile(&h, 0.01), 1000, 0.12));
    /* Without decay the old runs would still be the median. */
    feedback_hist g = mem_hist();
    for (int i = 0; i < 50; i++)
        feedback_hist_add(&g, 100, 1.0);
    for (int i = 0; i < 45; i++)
        feedback_hist_add(&g, 1000, 1.0);
    assert_true(feedback_hist_quantile(&g, 0.5) < 150);
}

static void test_bounded_whatever_the_runs(void **state)
{
    (void)state;
    feedback_hist h = mem_hist();
    srand(42);
    for (int i = 0; i < 200000; i++)
        feedback_hist_add(&h, exp((double)(rand() % 2000) / 100.0), FEEDBACK_DECAY);  /* 1 .. e^20 */
    assert_true(feedback_hist_used(&h) <= FEEDBACK_HIST_MAX);
    assert_true(h.total < 10.0 + 1e-6);
    char buf[8192];
    assert_int_equal(feedback_hist_format(&h, buf, sizeof buf), ACMS_OK);
    assert_true(strlen(buf) < 4096);
    /* Values beyond the range land in the edge buckets. */
    feedback_hist e = mem_hist();
    feedback_hist_add(&e, 0, 1.0);
    feedback_hist_add(&e, 1e12, 1.0);
    assert_int_equal(feedback_hist_bucket(&e, 0), 0);
    assert_int_equal(feedback_hist_bucket(&e, 1e12), FEEDBACK_HIST_MAX - 1);
    assert_true(feedback_hist_quantile(&e, 1.0) == 1e12);
    feedback_hist_add(&e, NAN, 0.5);  /* ignored, and no decay applied */
    assert_true(e.total == 2.0);
}

static void test_round_trip_and_malformed(void **state)
{
    (void)state;
    feedback_hist h = mem_hist(), g = mem_hist();
    for (int i = 1; i <= 300; i++)
        feedback_hist_add(&h, (double)(i * 7 % 500 + 1), FEEDBACK_DECAY);
    char buf[8192];
    assert_int_equal(feedback_hist_format(&h, buf, sizeof buf), ACMS_OK);
    assert_int_equal(feedback_hist_parse(&g, buf), ACMS_OK);
    assert_int_equal(g.seen, h.seen);
    assert_true(g.min == h.min && g.max == h.max);
    for (double q = 0.05; q < 1.0; q += 0.05)
        assert_true(near(feedback_hist_quantile(&g, q), feedback_hist_quantile(&h, q), 1e-4));

    const char *bad[] = {"x", "h1;lo=1", "h1;lo=2;hi=1048576;n=128;seen=1;min=1;max=1;b=",  /* other range */
                         "h1;lo=1;hi=1048576;n=64;seen=1;min=1;max=1;b=",                      /* other size */
                         "h1;lo=1;hi=1048576;n=128;seen=1;min=1;max=1;b=128:1:1",              /* index out */
                         "h1;lo=1;hi=1048576;n=128;seen=1;min=1;max=1;b=3:-1:1",
                         "h1;lo=1;hi=1048576;n=128;seen=1;min=1;max=1;b=3:1",
                         "h1;lo=1;hi=1048576;n=128;seen=1;min=1;max=1;b=3:1:2;"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(feedback_hist_parse(&g, bad[i]), ACMS_ERR_INVALID);
        assert_true(isnan(feedback_hist_quantile(&g, 0.5)));
        assert_true(g.lo == 1.0 && g.n == FEEDBACK_HIST_MAX);  /* range kept */
    }
    char small[20];
    assert_int_equal(feedback_hist_format(&h, small, sizeof small), ACMS_ERR_LIMIT);
}

static void test_stats_hash_fields(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    feedback_stats st, back;
    feedback_stats_init(&st);
    feedback_outcome o = {.observed = 1, .success = 1, .wall_ms = 12000, .cpu_ms = 6000, .peak_rss_kb = 200 * 1024};
    for (int i = 0; i < 8; i++)
        feedback_stats_track(&st, &o);
    feedback_outcome failed = {.success = 0, .wall_ms = 99999, .peak_rss_kb = 999999};
    feedback_stats_track(&st, &failed);  /* unobserved: ignored */
    assert_int_equal(st.runs, 8);
    const char **kv;
    size_t n = feedback_stats_to_hash(a, &st, &kv);
    const char *want[] = {"p50_wall_ms", "p90_wall_ms", "p90_peak_mb", "p95_peak_mb", "runs", "max_peak_mb"};
    for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
        size_t i;
        for (i = 0; i < n && strcmp(kv[i], want[w]); i += 2) {
        }
        assert_true(i < n);
    }
    for (size_t i = 0; i < n; i += 2) {
        if (!strcmp(kv[i], "p95_peak_mb"))
            assert_string_equal(kv[i + 1], "200.0");
        if (!strcmp(kv[i], "p50_wall_ms"))
            assert_string_equal(kv[i + 1], "12000");
        if (!strcmp(kv[i], "runs"))
            assert_string_equal(kv[i + 1], "8");
    }
    assert_int_equal(feedback_stats_from_hash(&back, a, kv, n), ACMS_OK);
    assert_int_equal(back.runs, 8);
    assert_true(feedback_hist_quantile(&back.peak_mb, 0.95) == 200);
    assert_true(fabs(feedback_hist_quantile(&back.cores, 0.5) - 0.5) < 1e-9);
    assert_string_equal(back.version, "0");
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_and_constant),
        cmocka_unit_test(test_quantiles_of_a_spread),
        cmocka_unit_test(test_decay_makes_old_values_fade),
        cmocka_unit_test(test_bounded_whatever_the_runs),
        cmocka_unit_test(test_round_trip_and_malformed),
        cmocka_unit_test(test_stats_hash_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
