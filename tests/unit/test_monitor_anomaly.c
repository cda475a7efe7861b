/* The AnomalyDetector's robust baseline: recorded metric series of 20 stable runs raise nothing,
 * one 10x slower run raises exactly one anomaly, nothing is judged during warm-up, the window stays
 * bounded, and the serialised form round-trips (malformed strings are refused, not trusted). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "acms.h"
#include "monitor/anomaly.h"

/* Wall times (ms) of 20 successful runs of one step, as recorded by the local executor. */
static const double k_wall[20] = {2113, 2051, 2240, 1987, 2098, 2175, 2034, 2301, 2066, 2120,
                                  1995, 2210, 2087, 2143, 2019, 2256, 2071, 2102, 2188, 2049};
/* Peak RSS (MiB) of the same runs. */
static const double k_peak[20] = {412, 405, 419, 398, 411, 407, 415, 402, 409, 417,
                                  404, 413, 408, 410, 401, 418, 406, 412, 409, 403};

static int feed_count(monitor_baseline *b, const double *v, size_t n)
{
    int raised = 0;
    for (size_t i = 0; i < n; i++) {
        raised += monitor_anomaly_check(b, v[i], NULL);
        monitor_baseline_update(b, v[i]);
    }
    return raised;
}

static void test_stable_series_raises_none(void **state)
{
    (void)state;
    monitor_baseline wall, peak;
    monitor_baseline_init(&wall, monitor_metric_min_delta(MONITOR_METRIC_WALL));
    monitor_baseline_init(&peak, monitor_metric_min_delta(MONITOR_METRIC_PEAK));
    assert_int_equal(feed_count(&wall, k_wall, 20), 0);
    assert_int_equal(feed_count(&peak, k_peak, 20), 0);
    assert_int_equal(wall.n, 20);
    assert_true(fabs(wall.mean - 2110) < 100);
}

static void test_ten_times_slower_raises_exactly_one(void **state)
{
    (void)state;
    double series[26];
    memcpy(series, k_wall, sizeof k_wall);
    series[20] = 21000;  /* the 10x slower run */
    for (int i = 21; i < 26; i++)
        series[i] = k_wall[i - 21];
    monitor_baseline b;
    monitor_baseline_init(&b, monitor_metric_min_delta(MONITOR_METRIC_WALL));
    int raised = 0, at = -1;
    for (int i = 0; i < 26; i++) {
        monitor_anomaly an;
        if (monitor_anomaly_check(&b, series[i], &an)) {
            raised++;
            at = i;
            assert_true(an.warm);
            assert_true(an.threshold < 21000);
            assert_true(an.ratio > 9 && an.ratio < 11);
            assert_true(fabs(an.median - 2100) < 60);
        }
        monitor_baseline_update(&b, series[i]);
    }
    assert_int_equal(raised, 1);
    assert_int_equal(at, 20);
}

static void test_warm_up_judges_nothing(void **state)
{
    (void)state;
    monitor_baseline b;
    monitor_baseline_init(&b, 0);
    for (int i = 0; i < MONITOR_WARMUP - 1; i++) {
        monitor_anomaly an;
        assert_int_equal(monitor_anomaly_check(&b, 1e9, &an), 0);
        assert_false(an.warm);
        assert_true(isinf(monitor_baseline_threshold(&b)));
        monitor_baseline_update(&b, 100);
    }
    assert_int_equal(monitor_anomaly_check(&b, 1e9, NULL), 0);  /* 4 observations: still cold */
    monitor_baseline_update(&b, 100);
    assert_int_equal(monitor_anomaly_check(&b, 1e9, NULL), 1);  /* 5: warm */
    /* A constant series: the threshold is median x 1.5 (MAD is 0). */
    assert_true(fabs(monitor_baseline_threshold(&b) - 150) < 1e-9);
    assert_int_equal(monitor_anomaly_check(&b, 150, NULL), 0);
    assert_int_equal(monitor_anomaly_check(&b, 151, NULL), 1);
}

static void test_min_delta_absorbs_small_absolute_changes(void **state)
{
    (void)state;
    monitor_baseline b;
    monitor_baseline_init(&b, 1000);
    for (int i = 0; i < 10; i++)
        monitor_baseline_update(&b, 5);  /* a 5 ms step */
    assert_int_equal(monitor_anomaly_check(&b, 900, NULL), 0);  /* 180x, but only 895 ms more */
    assert_int_equal(monitor_anomaly_check(&b, 1100, NULL), 1);
}

static void test_downward_values_are_not_anomalies(void **state)
{
    (void)state;
    monitor_baseline b;
    monitor_baseline_init(&b, 0);
    feed_count(&b, k_wall, 20);
    assert_int_equal(monitor_anomaly_check(&b, 1, NULL), 0);
}

static void test_window_is_bounded_and_recent(void **state)
{
    (void)state;
    monitor_baseline b;
    monitor_baseline_init(&b, 0);
    for (int i = 0; i < 1000; i++)
        monitor_baseline_update(&b, (double)i);
    assert_int_equal(b.wn, MONITOR_WINDOW);
    assert_int_equal(b.n, 1000);
    assert_true(b.window[0] == 1000 - MONITOR_WINDOW);
    assert_true(b.window[MONITOR_WINDOW - 1] == 999);
    monitor_baseline_update(&b, NAN);  /* ignored */
    monitor_baseline_update(&b, -1);   /* ignored */
    assert_int_equal(b.n, 1000);
}

static void test_serialisation_round_trips(void **state)
{
    (void)state;
    monitor_baseline b, c;
    monitor_baseline_init(&b, 1000);
    feed_count(&b, k_wall, 20);
    for (int i = 0; i < 20; i++)
        monitor_baseline_update(&b, k_wall[i] * 1.01);
    char buf[1024];
    assert_int_equal(monitor_baseline_format(&b, buf, sizeof buf), ACMS_OK);
    assert_true(strlen(buf) < 1024);
    monitor_baseline_init(&c, 1000);
    assert_int_equal(monitor_baseline_parse(&c, buf), ACMS_OK);
    assert_int_equal(c.n, b.n);
    assert_int_equal(c.wn, b.wn);
    assert_true(fabs(c.mean - b.mean) < 1e-6);
    assert_true(fabs(c.var - b.var) / (b.var + 1) < 1e-6);
    for (uint32_t i = 0; i < b.wn; i++)
        assert_true(fabs(c.window[i] - b.window[i]) < 1e-6);
    assert_true(c.min_delta == 1000);
    assert_true(fabs(monitor_baseline_threshold(&c) - monitor_baseline_threshold(&b)) < 1e-6);

    char small[16];
    assert_int_equal(monitor_baseline_format(&b, small, sizeof small), ACMS_ERR_LIMIT);
}

static void test_malformed_strings_are_refused(void **state)
{
    (void)state;
    monitor_baseline b;
    monitor_baseline_init(&b, 5);
    assert_int_equal(monitor_baseline_parse(&b, NULL), ACMS_OK);
    assert_int_equal(monitor_baseline_parse(&b, ""), ACMS_OK);
    assert_int_equal(b.n, 0);
    const char *bad[] = {"garbage", "n=3;mean=1;var=0", "n=3;mean=x;var=0;win=1,2,3", "n=3;mean=1;var=-1;win=1",
                         "n=2;mean=1;var=0;win=1,,2", "n=1;mean=1;var=0;win=1;extra", "n=1;mean=inf;var=0;win="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(monitor_baseline_parse(&b, bad[i]), ACMS_ERR_INVALID);
        assert_int_equal(b.n, 0);
        assert_true(b.min_delta == 5);
    }
    /* More than the window's worth of values. */
    char buf[2048];
    int off = snprintf(buf, sizeof buf, "n=40;mean=1;var=0;win=");
    for (int i = 0; i < 40; i++)
        off += snprintf(buf + off, sizeof buf - (size_t)off, "%s1", i ? "," : "");
    assert_int_equal(monitor_baseline_parse(&b, buf), ACMS_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stable_series_raises_none),
        cmocka_unit_test(test_ten_times_slower_raises_exactly_one),
        cmocka_unit_test(test_warm_up_judges_nothing),
        cmocka_unit_test(test_min_delta_absorbs_small_absolute_changes),
        cmocka_unit_test(test_downward_values_are_not_anomalies),
        cmocka_unit_test(test_window_is_bounded_and_recent),
        cmocka_unit_test(test_serialisation_round_trips),
        cmocka_unit_test(test_malformed_strings_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
