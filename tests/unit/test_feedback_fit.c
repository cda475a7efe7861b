/* The learning engine's size fits (feedback/fit.h, common/sizefit.h): the log-log fit recovers a known
 * exponent; the upper prediction bound covers new runs, narrows with runs and widens away from the
 * inputs seen; one odd run does not move a robust fit; memory kills are censored observations that
 * pull the fit up (dropping them under-predicts); a growing need gets a trend that covers the next
 * round while a steady one gets none; a level shift is followed through recency weights; the window
 * and the model survive their serialised forms and refuse malformed ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "acms.h"
#include "feedback/fit.h"

#define HOUR_MS 3600000LL

/* Deterministic uniform numbers in [-1, 1] (a 64-bit LCG): tests must not depend on the libc. */
static double noise(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) / (double)(1ULL << 53) * 2.0 - 1.0;
}

/* need = base x (x / 1e6)^alpha x growth^round x (1 + amp x U) */
static double need(double base, double alpha, double x, double growth, int round, double amp, uint64_t *s)
{
    return base * pow(x / 1e6, alpha) * pow(growth, round) * (1.0 + amp * noise(s));
}

static double input(uint64_t *s) { return 1e6 * exp(0.3 * noise(s) * 1.7); }

static void push(feedback_window *w, int64_t t, double x, double peak, int censored)
{
    feedback_obs o = {.t_ms = t, .x = x, .peak_mb = peak, .wall_ms = peak * 10, .censored = censored};
    feedback_window_push(w, &o);
}

static double upper(const acms_sizefit *m, double x, int64_t now)
{
    acms_sizefit_pred p;
    assert_int_equal(acms_sizefit_predict(m, x, now, ACMS_SIZEFIT_Q, &p), 0);
    assert_true(p.upper >= p.mean);
    return p.upper;
}

static double mean(const acms_sizefit *m, double x, int64_t now)
{
    acms_sizefit_pred p;
    assert_int_equal(acms_sizefit_predict(m, x, now, ACMS_SIZEFIT_Q, &p), 0);
    return p.mean;
}

static void test_t_quantile(void **state)
{
    (void)state;
    assert_true(fabs(acms_sizefit_normal_quantile(0.975) - 1.959964) < 1e-5);
    assert_true(fabs(acms_sizefit_normal_quantile(0.005) + 2.575829) < 1e-5);
    /* Student t, 0.995: 5.841 (3 df), 4.032 (5), 3.169 (10), 2.845 (20): within 1% */
    assert_true(fabs(acms_sizefit_t_quantile(0.995, 3) / 5.841 - 1) < 0.01);
    assert_true(fabs(acms_sizefit_t_quantile(0.995, 5) / 4.032 - 1) < 0.01);
    assert_true(fabs(acms_sizefit_t_quantile(0.995, 10) / 3.169 - 1) < 0.005);
    assert_true(fabs(acms_sizefit_t_quantile(0.995, 20) / 2.845 - 1) < 0.005);
}

static void test_fit_recovers_the_exponent(void **state)
{
    (void)state;
    uint64_t s = 7;
    feedback_window w = {0};
    for (int i = 0; i < 24; i++) {
        double x = input(&s);
        push(&w, 1000 + i, x, need(120, 0.8, x, 1.0, 0, 0.02, &s), 0);
    }
    acms_sizefit m;
    const char *why;
    assert_int_equal(feedback_fit(&w, FEEDBACK_FIT_MEMORY, 1, &m, &why), ACMS_OK);
    assert_string_equal(why, "");
    assert_true(m.uses_input);
    assert_false(m.uses_trend); /* 24 runs over 23 ms of a steady need: no trend */
    assert_true(fabs(m.beta[1] - 0.8) < 0.06);
    assert_true(fabs(exp(m.beta[0] + 0.8 * log(1e6)) / 120.0 - 1) < 0.1);
    assert_true(m.r2 > 0.9);
    assert_true(m.resid_sd < 0.03);
    assert_true(feedback_fit_usable(&m));
    /* the bound covers the need at a new input, within a tight band */
    double x = 1.4e6, truth_max = 120 * pow(1.4, 0.8) * 1.02, up = upper(&m, x, 2000);
    assert_true(up >= truth_max);
    assert_true(up < truth_max * 1.15);
}

static void test_bound_narrows_with_runs_and_widens_away(void **state)
{
    (void)state;
    uint64_t s = 11;
    feedback_window w = {0};
    double widths[2];
    int k = 0;
    for (int i = 0; i < 30; i++) {
        double x = input(&s);
        push(&w, 1000 + i, x, need(80, 1.0, x, 1.0, 0, 0.02, &s), 0);
        if (i == 4 || i == 29) {
            acms_sizefit m;
            const char *why;
            assert_int_equal(feedback_fit(&w, FEEDBACK_FIT_MEMORY, 1, &m, &why), ACMS_OK);
            widths[k++] = upper(&m, 1e6, 5000) / mean(&m, 1e6, 5000);
            if (i == 29) /* far outside the inputs seen, the bound is wider (leverage) */
                assert_true(upper(&m, 8e6, 5000) / mean(&m, 8e6, 5000) > widths[1]);
        }
    }
    assert_true(widths[0] > widths[1]); /* 5 runs: wider than 30 */
    assert_true(widths[1] < 1.10);
}

static void test_robust_to_one_odd_run(void **state)
{
    (void)state;
    uint64_t s = 3;
    feedback_window w = {0};
    for (int i = 0; i < 20; i++) {
        double x = input(&s);
        double y = need(100, 0.7, x, 1.0, 0, 0.02, &s);
        push(&w, 1000 + i, x, i == 10 ? y * 3 : y, 0); /* one run used 3x (a leak, a retry storm) */
    }
    acms_sizefit m;
    const char *why;
    assert_int_equal(feedback_fit(&w, FEEDBACK_FIT_MEMORY, 1, &m, &why), ACMS_OK);
    assert_true(fabs(m.beta[1] - 0.7) < 0.1);
    assert_true(fabs(mean(&m, 1e6, 2000) / 100.0 - 1) < 0.05);
    /* but the bound never drops below the largest residual seen: the odd run is remembered */
    assert_true(upper(&m, 1e6, 2000) >= 2.5 * 100);
}

/* Runs whose need is above limit = pred x 1.0 are killed (censored at the limit); the others observed. */
static void censored_window(feedback_window *w, int keep_kills, uint64_t *s)
{
    memset(w, 0, sizeof *w);
    for (int i = 0; i < 24; i++) {
        double x = input(s), y = need(100, 1.0, x, 1.0, 0, 0.08, s);
        double limit = 100 * x / 1e6 * 1.02;
        if (y > limit) {
            if (keep_kills)
                push(w, 1000 + i, x, limit, 1);
            continue;
        }
        push(w, 1000 + i, x, y, 0);
    }
}

static void test_kills_are_censored_observations(void **state)
{
    (void)state;
    feedback_window with, without;
    uint64_t s1 = 5, s2 = 5;
    censored_window(&with, 1, &s1);
    censored_window(&without, 0, &s2);
    acms_sizefit mc, md;
    const char *why;
    assert_int_equal(feedback_fit(&with, FEEDBACK_FIT_MEMORY, 1, &mc, &why), ACMS_OK);
    assert_int_equal(feedback_fit(&without, FEEDBACK_FIT_MEMORY, 1, &md, &why), ACMS_OK);
    assert_true(mc.censored > 0);
    assert_int_equal(md.censored, 0);
    double c = mean(&mc, 1e6, 2000), d = mean(&md, 1e6, 2000);
    /* dropping the kills biases the need down; censoring brings it back towards the truth (100) */
    assert_true(d < 99.0);
    assert_true(c > d + 1.0);
    assert_true(fabs(c - 100) < fabs(d - 100));
    /* a kill above everything the fit predicts lifts the prediction above that limit */
    feedback_window w = without;
    push(&w, 3000, 1e6, 160, 1);
    push(&w, 3001, 1.1e6, 176, 1);
    push(&w, 3002, 0.9e6, 144, 1);
    acms_sizefit mk;
    assert_int_equal(feedback_fit(&w, FEEDBACK_FIT_MEMORY, 1, &mk, &why), ACMS_OK);
    assert_true(upper(&mk, 1e6, 4000) > 160);
}

/* 4 runs per round, rounds 1 h apart, the need growing by growth per round. */
static void rounds(feedback_window *w, int nrounds, double growth, uint64_t *s)
{
    memset(w, 0, sizeof *w);
    for (int r = 0; r < nrounds; r++)
        for (int k = 0; k < 4; k++) {
            double x = input(s);
            push(w, (int64_t)r * HOUR_MS + k, x, need(150, 0.9, x, growth, r, 0.03, s), 0);
        }
}

static void test_drift_is_extrapolated(void **state)
{
    (void)state;
    uint64_t s = 9;
    feedback_window w;
    rounds(&w, 5, 1.06, &s);
    acms_sizefit m;
    const char *why;
    assert_int_equal(feedback_fit(&w, FEEDBACK_FIT_MEMORY, 1, &m, &why), ACMS_OK);
    assert_true(m.uses_trend);
    assert_true(m.uses_input);
    assert_true(fabs(acms_sizefit_growth(&m, 1.0) - 0.06) < 0.02); /* 6% per hour ... */
    assert_true(fabs(acms_sizefit_growth(&m, 24.0) - 0.06) < 0.02); /* ... extrapolated one pause at most */
    assert_true(fabs(exp(m.beta[2]) - 1.06) < 0.02);
    /* the next round (5 h after the first): the bound covers its worst need */
    int64_t next = 5 * HOUR_MS;
    for (double x = 0.7e6; x <= 1.5e6; x += 0.2e6) {
        double worst = 150 * pow(x / 1e6, 0.9) * pow(1.06, 5) * 1.03;
        assert_true(upper(&m, x, next) >= worst);
        assert_true(upper(&m, x, next) < worst * 1.15);
    }
    /* the horizon is capped at the longest pause between runs (1 h): a year later is not a year of growth */
    acms_sizefit_pred p;
    assert_int_equal(acms_sizefit_predict(&m, 1e6, 365 * 24 * HOUR_MS, ACMS_SIZEFIT_Q, &p), 0);
    assert_true(fabs(p.horizon_h - 1.0) < 1e-6);
    assert_true(fabs(m.horizon_cap_h - 1.0) < 1e-6);
    /* runs started together (within a second) are one point in time: their differences are no trend */
    feedback_window together = {0};
    for (int k = 0; k < 8; k++)
        push(&together, 5000 + 100 * k, 1e6, 100 * (1 + 0.05 * k), 0);
    assert_int_equal(feedback_fit(&together, FEEDBACK_FIT_MEMORY, 0, &m, &why), ACMS_OK);
    assert_false(m.uses_trend);
    /* a steady need over the same rounds gets no trend */
    rounds(&w, 5, 1.0, &s);
    assert_int_equal(feedback_fit(&w, FEEDBACK_FIT_MEMORY, 1, &m, &why), ACMS_OK);
    assert_false(m.uses_trend);
    assert_true(acms_sizefit_trend_per_hour(&m) == 0);
}

static void test_level_shift_is_followed(void **state)
{
    (void)state;
    uint64_t s = 21;
    feedback_window up = {0}, down = {0};
    double lsum = 0;
    for (int i = 0; i < 32; i++) { /* a step whose need changed 10 runs ago */
        double u = 1 + 0.02 * noise(&s);
        push(&up, 1000 + i, 0, (i < 22 ? 100 : 150) * u, 0);
        push(&down, 1000 + i, 0, (i < 22 ? 200 : 100) * u, 0);
        lsum += log((i < 22 ? 200 : 100) * u);
    }
    acms_sizefit m;
    const char *why;
    /* up: the growth is followed (a trend, extrapolated no further than one pause between runs) */
    assert_int_equal(feedback_fit(&up, FEEDBACK_FIT_MEMORY, 0, &m, &why), ACMS_OK);
    assert_false(m.uses_input);
    assert_true(upper(&m, 0, 2000) >= 150 * 1.02);
    assert_true(mean(&m, 0, 2000) < 170);
    /* down: no trend is extrapolated downwards; recency weights put the level nearer the recent
     * runs than an unweighted mean of the window would (exp(mean ln) = 161 MiB here) */
    assert_int_equal(feedback_fit(&down, FEEDBACK_FIT_MEMORY, 0, &m, &why), ACMS_OK);
    assert_false(m.uses_trend);
    assert_true(mean(&m, 0, 2000) < 0.9 * exp(lsum / 32));
    assert_true(upper(&m, 0, 2000) >= 100 * 1.02);
}

static void test_not_enough_to_fit(void **state)
{
    (void)state;
    feedback_window w = {0};
    acms_sizefit m;
    const char *why;
    push(&w, 1, 1e6, 100, 0);
    push(&w, 2, 1.2e6, 120, 0);
    assert_int_equal(feedback_fit(&w, FEEDBACK_FIT_MEMORY, 1, &m, &why), ACMS_ERR_NOTFOUND);
    assert_non_null(strstr(why, "fewer than 3"));
    push(&w, 3, 0, 110, 0); /* no input value: does not count for an input fit */
    assert_int_equal(feedback_fit(&w, FEEDBACK_FIT_MEMORY, 1, &m, &why), ACMS_ERR_NOTFOUND);
    feedback_window same = {0};
    for (int i = 0; i < 5; i++)
        push(&same, i, 1e6, 100 + i, 0);
    assert_int_equal(feedback_fit(&same, FEEDBACK_FIT_MEMORY, 1, &m, &why), ACMS_ERR_NOTFOUND);
    assert_non_null(strstr(why, "not varied"));
    assert_int_equal(feedback_fit(&same, FEEDBACK_FIT_MEMORY, 0, &m, &why), ACMS_OK); /* a level fits */
    /* a fit whose runs scatter widely is not usable */
    uint64_t s = 1;
    feedback_window wide = {0};
    for (int i = 0; i < 12; i++)
        push(&wide, i, input(&s), 100 * (1 + 0.9 * noise(&s)), 0);
    assert_int_equal(feedback_fit(&wide, FEEDBACK_FIT_MEMORY, 1, &m, &why), ACMS_OK);
    assert_false(feedback_fit_usable(&m));
}

static void test_wall_fit_skips_kills(void **state)
{
    (void)state;
    feedback_window w = {0};
    for (int i = 0; i < 6; i++)
        push(&w, i, 1e6 * (1 + 0.1 * i), 100 * (1 + 0.1 * i), 0);
    push(&w, 10, 2e6, 150, 1);
    acms_sizefit m;
    const char *why;
    assert_int_equal(feedback_fit(&w, FEEDBACK_FIT_WALL, 1, &m, &why), ACMS_OK);
    assert_int_equal(m.n, 6);
    assert_true(fabs(m.beta[1] - 1.0) < 0.01);
}

static void test_serialised_forms(void **state)
{
    (void)state;
    feedback_window w = {0}, back;
    for (int i = 0; i < 40; i++)
        push(&w, 1700000000000LL + i, 1e6 + i, 100.5 + i, i % 3 == 0);
    assert_int_equal(w.n, FEEDBACK_OBS_MAX); /* bounded: the oldest runs went */
    assert_true(fabs(w.v[0].peak_mb - 108.5) < 1e-9);
    char buf[4096];
    assert_int_equal(feedback_window_format(&w, buf, sizeof buf), ACMS_OK);
    assert_true(strlen(buf) < 2048);
    assert_int_equal(feedback_window_parse(&back, buf), ACMS_OK);
    assert_int_equal(back.n, w.n);
    assert_int_equal(back.v[31].t_ms, w.v[31].t_ms);
    assert_int_equal(back.v[30].censored, w.v[30].censored);
    assert_int_equal(feedback_window_parse(&back, ""), ACMS_OK);
    assert_int_equal(back.n, 0);
    const char *bad[] = {"w2;1,1,1,1,0", "w1;1,1,1,1", "w1;1,1,1,1,2", "w1;1,1,-1,1,0", "w1;1,1,1,1,0;x", "w1;1,nan,1,1,0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(feedback_window_parse(&back, bad[i]), ACMS_ERR_INVALID);
        assert_int_equal(back.n, 0);
    }

    uint64_t s = 4;
    feedback_window r;
    rounds(&r, 4, 1.06, &s);
    acms_sizefit m, m2;
    const char *why;
    assert_int_equal(feedback_fit(&r, FEEDBACK_FIT_MEMORY, 1, &m, &why), ACMS_OK);
    char fb[512];
    assert_int_equal(acms_sizefit_format(&m, fb, sizeof fb), ACMS_OK);
    assert_int_equal(acms_sizefit_parse(&m2, fb), ACMS_OK);
    assert_true(fabs(upper(&m, 1.2e6, 4 * HOUR_MS) / upper(&m2, 1.2e6, 4 * HOUR_MS) - 1) < 1e-7);
    assert_int_equal(acms_sizefit_format(&m, fb, 40), ACMS_ERR_LIMIT);
    const char *badm[] = {"", "f2;p=1", "f1;p=2;i=1;t=1;b=1,2;c=1,0,1;s2=0.01;df=3;sd=0;mr=0;r2=0;tr=0;hc=0;x=0,0;n=3;k=0",
                          "f1;p=1;i=0;t=0;b=1;c=1;s2=-1;df=3;sd=0;mr=0;r2=0;tr=0;hc=0;x=0,0;n=3;k=0",
                          "f1;p=1;i=0;t=0;b=1;c=1;s2=0.1;df=0;sd=0;mr=0;r2=0;tr=0;hc=0;x=0,0;n=3;k=0",
                          "f1;p=1;i=0;t=0;b=inf;c=1;s2=0.1;df=3;sd=0;mr=0;r2=0;tr=0;hc=0;x=0,0;n=3;k=0",
                          "f1;p=1;i=0;t=0;b=1;c=1;s2=0.1;df=3;sd=0;mr=0;r2=0;tr=0;hc=0;x=0,0;n=3;k=4"};
    for (size_t i = 0; i < sizeof badm / sizeof badm[0]; i++)
        assert_int_equal(acms_sizefit_parse(&m2, badm[i]), ACMS_ERR_INVALID);
    assert_int_equal(acms_sizefit_parse(&m2, "f1;p=1;i=0;t=0;b=4.6;c=0.1;s2=0.0009;df=5;sd=0.02;mr=0;r2=0;tr=0;hc=0;x=0,0;n=5;k=0"),
                     ACMS_OK);
    acms_sizefit_pred p;
    assert_int_equal(acms_sizefit_predict(&m2, 0, 0, 0.995, &p), 0);
    assert_true(fabs(p.mean - exp(4.6)) < 1e-6);
    /* upper = mean + t(0.995, 5) x 0.03 x sqrt(1.1) */
    assert_true(fabs(log(p.upper) - 4.6 - acms_sizefit_t_quantile(0.995, 5) * 0.03 * sqrt(1.1)) < 1e-9);
    m2.uses_input = 1; /* a model whose columns disagree with p is refused */
    assert_int_equal(acms_sizefit_predict(&m2, 1e6, 0, 0.995, &p), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_t_quantile),
        cmocka_unit_test(test_fit_recovers_the_exponent),
        cmocka_unit_test(test_bound_narrows_with_runs_and_widens_away),
        cmocka_unit_test(test_robust_to_one_odd_run),
        cmocka_unit_test(test_kills_are_censored_observations),
        cmocka_unit_test(test_drift_is_extrapolated),
        cmocka_unit_test(test_level_shift_is_followed),
        cmocka_unit_test(test_not_enough_to_fit),
        cmocka_unit_test(test_wall_fit_skips_kills),
        cmocka_unit_test(test_serialised_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
