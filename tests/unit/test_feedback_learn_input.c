/* The LearningEngine's input-aware and drift-aware recommendations (learn.h, fit.h): runs with a
 * sizing input give an input fit written beside the history's values; a killed run with no measured
 * success enters the window as a censored observation (a successful retry's measure replaces it); a
 * new sizing input forgets the old inputs; a growing step without an input gets a drift model while a
 * steady one gets none; a scattered fit is written but marked unusable with a note; the window and the
 * fits survive the Redis hashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "feedback/learn.h"

#define HOUR_MS 3600000LL

static double noise(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) / (double)(1ULL << 53) * 2.0 - 1.0;
}

static feedback_outcome run(double peak_mb, double x, const char *input, int64_t t)
{
    feedback_outcome o = {.step = "prep", .success = 1, .observed = 1, .attempts = 1,
                          .peak_rss_kb = (uint64_t)(peak_mb * 1024), .wall_ms = (uint64_t)(peak_mb * 100),
                          .cpu_ms = 100, .mem_limit_mb = 1024, .configured_runtime_s = 3600, .input_name = input,
                          .input_value = x, .t_ms = t};
    return o;
}

static void observe(feedback_stats *st, const feedback_outcome *o)
{
    feedback_stats_track(st, o);
    feedback_learn_observe(st, o);
}

static const char *field(const char **kv, size_t n, const char *name)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        if (!strcmp(kv[i], name))
            return kv[i + 1];
    return NULL;
}

static void test_input_fit_beside_history(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    feedback_stats st;
    feedback_stats_init(&st);
    feedback_learn_in in = {.mode = "apply"};
    feedback_rec rec;
    uint64_t s = 3;
    for (int i = 0; i < 2; i++) {
        double x = 1e6 * (1 + 0.3 * noise(&s));
        feedback_outcome o = run(100 * pow(x / 1e6, 0.9), x, "ROWS", 1000 + i);
        observe(&st, &o);
    }
    assert_int_equal(feedback_learn_recommend(&st, &in, &rec), 1);
    assert_false(rec.has_fit_memory); /* two runs: not enough */
    assert_non_null(strstr(rec.fit_note, "fewer than 3"));
    for (int i = 2; i < 12; i++) {
        double x = 1e6 * (1 + 0.3 * noise(&s));
        feedback_outcome o = run(100 * pow(x / 1e6, 0.9) * (1 + 0.01 * noise(&s)), x, "ROWS", 1000 + i);
        observe(&st, &o);
    }
    assert_int_equal(feedback_learn_recommend(&st, &in, &rec), 1);
    assert_true(rec.memory_mb > 0); /* the history's value stays the fallback */
    assert_true(rec.has_fit_memory);
    assert_true(rec.fit_usable);
    assert_string_equal(rec.fit_method, "input-fit");
    assert_string_equal(rec.sizing_input, "ROWS");
    assert_true(fabs(rec.fit_memory.beta[1] - 0.9) < 0.05);
    assert_true(rec.has_fit_wall);
    assert_non_null(strstr(rec.reason, "memory ~ ROWS^0.9"));
    const char **kv;
    size_t n = feedback_rec_to_hash(a, &rec, "123", "abc", &kv);
    assert_string_equal(field(kv, n, "fit_method"), "input-fit");
    assert_string_equal(field(kv, n, "fit_usable"), "1");
    assert_string_equal(field(kv, n, "sizing_input"), "ROWS");
    acms_sizefit m;
    assert_int_equal(acms_sizefit_parse(&m, field(kv, n, "fit_memory")), ACMS_OK);
    assert_int_equal(acms_sizefit_parse(&m, field(kv, n, "fit_wall")), ACMS_OK);
    assert_string_equal(field(kv, n, "command_hash"), "abc");
    /* the values outlive the recommendation they came from (the service applies them after its loop) */
    char reason[sizeof rec.reason];
    memcpy(reason, rec.reason, sizeof reason);
    memset(&rec, 0x55, sizeof rec);
    assert_string_equal(field(kv, n, "reason"), reason);
    /* the window and the input name survive the stats hash */
    n = feedback_stats_to_hash(a, &st, &kv);
    feedback_stats back;
    assert_int_equal(feedback_stats_from_hash(&back, a, kv, n), ACMS_OK);
    assert_int_equal(back.obs.n, 12);
    assert_string_equal(back.sizing_input, "ROWS");
    assert_true(fabs(back.obs.v[11].x / st.obs.v[11].x - 1) < 1e-9);
    acms_arena_free(a);
}

static void test_kill_is_a_censored_observation(void **state)
{
    (void)state;
    feedback_stats st;
    feedback_stats_init(&st);
    /* killed at its 150 MiB limit, no successful attempt: censored at 150 */
    feedback_outcome k = {.step = "prep", .attempts = 1, .resource_killed = 1, .killed_memory = 1,
                          .killed_peak_mb = 150, .censored_memory = 1, .input_name = "ROWS", .input_value = 2e6,
                          .t_ms = 5};
    observe(&st, &k);
    assert_int_equal(st.obs.n, 1);
    assert_true(st.obs.v[0].censored);
    assert_true(st.obs.v[0].peak_mb == 150);
    assert_true(st.obs.v[0].x == 2e6);
    assert_int_equal(st.runs, 0); /* not a success for the histograms */
    /* killed, then a retry succeeded with its measure: the measure is the observation */
    feedback_outcome r = run(180, 2e6, "ROWS", 6);
    r.resource_killed = r.killed_memory = 1;
    r.killed_peak_mb = 150;
    observe(&st, &r);
    assert_int_equal(st.obs.n, 2);
    assert_false(st.obs.v[1].censored);
    assert_true(fabs(st.obs.v[1].peak_mb - 180) < 0.01);
    /* a failure that is not a memory kill is no observation */
    feedback_outcome f = {.step = "prep", .attempts = 1, .input_name = "ROWS", .input_value = 1e6, .t_ms = 7};
    observe(&st, &f);
    assert_int_equal(st.obs.n, 2);
}

static void test_new_input_forgets_old_values(void **state)
{
    (void)state;
    feedback_stats st;
    feedback_stats_init(&st);
    for (int i = 0; i < 4; i++) {
        feedback_outcome o = run(100 + i, 1e6 + i, "ROWS", i);
        observe(&st, &o);
    }
    feedback_outcome o = run(100, 3e9, "input_size_bytes", 10);
    observe(&st, &o);
    assert_string_equal(st.sizing_input, "input_size_bytes");
    assert_int_equal(feedback_window_with_input(&st.obs), 1);
    feedback_learn_in in = {.mode = "apply"};
    feedback_rec rec;
    feedback_learn_recommend(&st, &in, &rec);
    assert_false(rec.has_fit_memory);
    assert_non_null(strstr(rec.fit_note, "fewer than 3 runs with an input"));
}

static void test_drift_without_input(void **state)
{
    (void)state;
    feedback_learn_in in = {.mode = "apply"};
    feedback_rec rec;
    uint64_t s = 8;
    for (int growing = 0; growing < 2; growing++) {
        feedback_stats st;
        feedback_stats_init(&st);
        for (int r = 0; r < 6; r++)
            for (int k = 0; k < 4; k++) {
                double need = 120 * pow(growing ? 1.08 : 1.0, r) * (1 + 0.02 * noise(&s));
                feedback_outcome o = run(need, 0, "", r * HOUR_MS + k);
                observe(&st, &o);
            }
        feedback_learn_recommend(&st, &in, &rec);
        if (growing) {
            assert_true(rec.has_fit_memory);
            assert_string_equal(rec.fit_method, "history-trend");
            assert_true(rec.fit_memory.uses_trend);
            assert_non_null(strstr(rec.reason, "growing"));
        } else {
            assert_false(rec.has_fit_memory);
            assert_string_equal(rec.fit_method, "");
        }
    }
}

static void test_scattered_fit_is_not_usable(void **state)
{
    (void)state;
    feedback_stats st;
    feedback_stats_init(&st);
    uint64_t s = 2;
    for (int i = 0; i < 12; i++) {
        feedback_outcome o = run(100 * (1 + 0.8 * noise(&s)), 1e6 * (1 + 0.3 * noise(&s)), "ROWS", i);
        observe(&st, &o);
    }
    feedback_learn_in in = {.mode = "apply"};
    feedback_rec rec;
    feedback_learn_recommend(&st, &in, &rec);
    assert_true(rec.has_fit_memory);
    assert_false(rec.fit_usable);
    assert_non_null(strstr(rec.fit_note, "poor fit"));
}

static void test_insights_of_an_input_sized_step(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    feedback_stats st;
    feedback_stats_init(&st);
    uint64_t s = 6;
    for (int i = 0; i < 8; i++) {
        double x = 1e6 * (1 + 0.3 * noise(&s));
        feedback_outcome o = run(100 * x / 1e6 * (1 + 0.01 * noise(&s)), x, "ROWS", i);
        o.mem_limit_mb = 400; /* far from the history's value: a history-sized step would get right_size_memory */
        observe(&st, &o);
    }
    feedback_outcome k = run(0, 2e6, "ROWS", 9);
    k.success = k.observed = 0;
    k.peak_rss_kb = 0;
    k.resource_killed = k.killed_memory = k.censored_memory = 1;
    k.killed_peak_mb = 150;
    observe(&st, &k);
    feedback_learn_in in = {.mode = "apply"};
    feedback_rec rec;
    feedback_learn_recommend(&st, &in, &rec);
    assert_true(rec.fit_usable);
    assert_true(rec.min_memory_mb >= 250); /* the floor stays the history's fallback */
    Acms__V1__LearningInsight **v = NULL;
    size_t n = 0;
    feedback_learn_insights(a, "etl", &k, &st, &rec, &v, &n);
    assert_true(n >= 1);
    assert_string_equal(v[0]->kind, "memory_bump");
    assert_non_null(strstr(v[0]->summary, "in its input fit (a censored run"));
    assert_null(strstr(v[0]->summary, "at least"));
    feedback_outcome ok = run(100, 1e6, "ROWS", 10);
    ok.mem_limit_mb = 400;
    v = NULL;
    n = 0;
    feedback_learn_insights(a, "etl", &ok, &st, &rec, &v, &n);
    for (size_t i = 0; i < n; i++)
        assert_string_not_equal(v[i]->kind, "right_size_memory");
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_input_fit_beside_history),
        cmocka_unit_test(test_kill_is_a_censored_observation),
        cmocka_unit_test(test_new_input_forgets_old_values),
        cmocka_unit_test(test_drift_without_input),
        cmocka_unit_test(test_scattered_fit_is_not_usable),
        cmocka_unit_test(test_insights_of_an_input_sized_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
