/* The ResourceScaler's input-aware sizing (stages.h, learned_size.c): each run is sized from its own
 * input value at the fit's upper prediction bound plus the margin, and says so (record, LearnedBasis,
 * plan basis "input-fit"); sizing.input_value is filled whatever the learning mode; without a declared
 * input, with an unresolvable one, a poor fit or a fit learned against another input it falls back to
 * the history's value and says why; a growing step without input gets its drift model's bound when that
 * is above the history's; the runtime limit follows the wall-time fit; shadow mode records only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>

#include "adapter_fixture.h"

#define HOUR_MS 3600000LL

typedef struct fx {
    acms_profiles pr;
    acms_arena *a;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (fx_profiles(&f->pr) != ACMS_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    acms_arena_free(f->a);
    acms_profiles_release(&f->pr);
    free(f);
    return 0;
}

static int per_test(void **state)
{
    fx *f = *state;
    acms_arena_free(f->a);
    f->a = acms_arena_new(0);
    return 0;
}

/* need = 100 MiB x (x / 1e6)^0.9, residual sd 2% over 20 runs, no trend. */
static const char *k_fit = "f1;p=2;i=1;t=0;b=-7.829,0.9;c=0,0,0;s2=0.0004;df=20;sd=0.02;mr=0.03;r2=0.98;tr=0;hc=0;"
                           "x=7e5,1.4e6;n=20;k=1";
/* wall = 10 s x (x / 1e6) */
static const char *k_wall = "f1;p=2;i=1;t=0;b=-4.605,1;c=0,0,0;s2=0.0004;df=20;sd=0.02;mr=0.03;r2=0.98;tr=0;hc=0;"
                            "x=7e5,1.4e6;n=20;k=0";

static Acms__V1__Pipeline *pipeline(fx *f, Acms__V1__Environment *e, const char *rows, const char *input,
                                    adapter_log *log)
{
    Acms__V1__Pipeline *p = fx_pipeline(f->a, "etl");
    Acms__V1__Step *s = fx_step(f->a, p, "prep", "processing", "ml.m5.2xlarge");
    if (rows)
        fx_step_env(f->a, s, "ROWS", rows);
    if (input) {
        s->sizing = acms_pb_new(f->a, &acms__v1__sizing__descriptor);
        s->sizing->input = acms_arena_strdup(f->a, input);
    }
    adapter_log_init(log, f->a);
    adapter_environment_adapt(f->a, &f->pr.catalog, e, p, log);
    return p;
}

static adapter_observed learned(fx *f, const char *fit, const char *wall, int usable)
{
    adapter_observed o = {.online = 1, .nlearned = 1, .now_ms = 10 * HOUR_MS};
    o.learned = acms_arena_alloc(f->a, sizeof *o.learned);
    adapter_learned *l = &o.learned[0];
    *l = (adapter_learned){.present = 1, .memory_mb = 500, .runtime_s = 600, .instance_type = "", .mode = "apply",
                           .reason = "memory: p95 peak 430 MiB", .based_on_runs = 20, .sizing_input = "ROWS",
                           .fit_method = "input-fit", .fit_note = "", .fit_usable = usable};
    if (fit)
        l->has_fit_memory = acms_sizefit_parse(&l->fit_memory, fit) == ACMS_OK;
    if (wall)
        l->has_fit_wall = acms_sizefit_parse(&l->fit_wall, wall) == ACMS_OK;
    return o;
}

static uint64_t expected_mb(const char *fit, double x, int64_t now)
{
    acms_sizefit m;
    acms_sizefit_pred p;
    assert_int_equal(acms_sizefit_parse(&m, fit), ACMS_OK);
    assert_int_equal(acms_sizefit_predict(&m, x, now, ACMS_SIZEFIT_Q, &p), 0);
    return adapter_fit_memory_mb(p.upper);
}

static void sizes_each_run_from_its_input(void **state)
{
    fx *f = *state;
    Acms__V1__Environment *e = fx_env(f->a, "prod");
    uint64_t mb[2];
    const char *rows[2] = {"1000000", "2M"};
    for (int k = 0; k < 2; k++) {
        adapter_log log;
        Acms__V1__Pipeline *p = pipeline(f, e, rows[k], "ROWS", &log);
        adapter_observed obs = learned(f, k_fit, k_wall, 1);
        Acms__V1__CapacityPlan *plan;
        adapter_scaler_scale(f->a, &f->pr.catalog, e, p, &obs, &log, &plan);
        adapter_optimizer_optimize(f->a, e, p, &obs, &log);
        const Acms__V1__Step *s = p->steps[0];
        double x = k ? 2e6 : 1e6;
        mb[k] = s->resources->memory_mb;
        assert_int_equal(mb[k], expected_mb(k_fit, x, obs.now_ms));
        assert_true(s->sizing->input_value == x);
        assert_string_equal(s->sizing->input_source, "env ROWS");
        assert_string_equal(plan->steps[0]->basis, "input-fit");
        const Acms__V1__AdaptationRecord *r = fx_rec(&log, "scaling", "prep", "resources.memory_mb");
        assert_non_null(r);
        assert_true(r->applied);
        assert_non_null(strstr(r->reason, "sized from its input ROWS"));
        assert_non_null(r->learned);
        assert_string_equal(r->learned->method, "input-fit");
        assert_string_equal(r->learned->input, "ROWS");
        assert_true(r->learned->input_value == x);
        assert_int_equal(r->learned->runs, 20);
        assert_int_equal(r->learned->censored, 1);
        assert_true(fabs(r->learned->slope - 0.9) < 1e-9);
        assert_true(r->learned->upper_mb > r->learned->predicted_mb);
        assert_true(r->learned->margin == ACMS_SIZEFIT_MARGIN);
        assert_true(fabs(r->learned->predicted_mb - 100 * pow(x / 1e6, 0.9)) < 0.5);
        /* runtime: the wall fit's bound at this input, max(x1.5, +30 s) */
        r = fx_rec(&log, "optimization", "prep", "max_runtime_s");
        assert_non_null(r);
        assert_int_equal(s->max_runtime_s, k ? 52 : 41);
        assert_non_null(strstr(r->reason, "wall-time fit"));
    }
    assert_true(fabs((double)mb[1] / (double)mb[0] - pow(2, 0.9)) < 0.02); /* needs follow the input */
}

static void falls_back_and_says_why(void **state)
{
    fx *f = *state;
    Acms__V1__Environment *e = fx_env(f->a, "prod");
    struct {
        const char *rows, *input, *fit;
        int usable;
        const char *learned_input, *why;
    } cases[] = {
        {"1000000", NULL, k_fit, 1, "ROWS", NULL},                               /* nothing declared */
        {NULL, "ROWS", k_fit, 1, "ROWS", "names no env var"},                    /* unresolvable */
        {"1000000", "ROWS", k_fit, 0, "ROWS", "poor fit (R2 0.98"},              /* poor */
        {"1000000", "ROWS", k_fit, 1, "--rows", "learned against --rows"},       /* another input */
        {"1000000", "ROWS", NULL, 1, "ROWS", "no input fit learned yet"},        /* no fit yet */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        adapter_log log;
        Acms__V1__Pipeline *p = pipeline(f, e, cases[k].rows, cases[k].input, &log);
        adapter_observed obs = learned(f, cases[k].fit, NULL, cases[k].usable);
        obs.learned[0].sizing_input = cases[k].learned_input;
        Acms__V1__CapacityPlan *plan;
        adapter_scaler_scale(f->a, &f->pr.catalog, e, p, &obs, &log, &plan);
        assert_int_equal(p->steps[0]->resources->memory_mb, 500);
        assert_string_equal(plan->steps[0]->basis, "learned");
        const Acms__V1__AdaptationRecord *r = fx_rec(&log, "scaling", "prep", "resources.memory_mb");
        assert_non_null(r);
        assert_string_equal(r->learned->method, "history");
        assert_true(r->learned->upper_mb == 500);
        if (!cases[k].why) {
            assert_string_equal(r->learned->fallback, "");
            continue;
        }
        assert_non_null(strstr(r->learned->fallback, cases[k].why));
        assert_non_null(strstr(r->reason, "input-aware sizing not used"));
        if (!cases[k].rows) { /* the declaration's problem is a record of its own */
            const Acms__V1__AdaptationRecord *d = fx_rec(&log, "scaling", "prep", "sizing.input");
            assert_non_null(d);
            assert_false(d->applied);
            assert_true(p->steps[0]->sizing->input_value == 0);
        }
    }
}

static void drift_model_raises_the_history(void **state)
{
    fx *f = *state;
    Acms__V1__Environment *e = fx_env(f->a, "prod");
    /* a level of 450 MiB at t_ref = 9 h, growing 5% per hour, pauses of 1 h */
    const char *trend = "f1;p=2;i=0;t=1;b=6.109,0.04879;c=0,0,0;s2=0.0004;df=20;sd=0.02;mr=0.03;r2=0.9;"
                        "tr=32400000;hc=1;x=0,0;n=20;k=0";
    adapter_log log;
    Acms__V1__Pipeline *p = pipeline(f, e, NULL, NULL, &log);
    adapter_observed obs = learned(f, trend, NULL, 1);
    obs.learned[0].fit_method = "history-trend";
    obs.learned[0].sizing_input = "";
    Acms__V1__CapacityPlan *plan;
    adapter_scaler_scale(f->a, &f->pr.catalog, e, p, &obs, &log, &plan);
    uint64_t want = expected_mb(trend, 0, obs.now_ms);
    assert_true(want > 500);
    assert_int_equal(p->steps[0]->resources->memory_mb, want);
    const Acms__V1__AdaptationRecord *r = fx_rec(&log, "scaling", "prep", "resources.memory_mb");
    assert_string_equal(r->learned->method, "history-trend");
    assert_true(r->learned->trend_per_hour > 0.048);
    assert_non_null(strstr(r->reason, "a growing need"));
    /* a model whose bound is below the history's leaves the history's value */
    obs.now_ms = 0; /* no extrapolation: 450 MiB + bound + margin < 500 */
    p = pipeline(f, e, NULL, NULL, &log);
    adapter_scaler_scale(f->a, &f->pr.catalog, e, p, &obs, &log, &plan);
    assert_int_equal(p->steps[0]->resources->memory_mb, 500);
}

static void shadow_records_input_sizing_only(void **state)
{
    fx *f = *state;
    Acms__V1__Environment *e = fx_env(f->a, "prod");
    e->learning_mode = "shadow";
    adapter_log log;
    Acms__V1__Pipeline *p = pipeline(f, e, "1500000", "ROWS", &log);
    adapter_observed obs = learned(f, k_fit, NULL, 1);
    Acms__V1__CapacityPlan *plan;
    adapter_scaler_scale(f->a, &f->pr.catalog, e, p, &obs, &log, &plan);
    assert_int_equal(p->steps[0]->resources->memory_mb, 32768);
    assert_true(p->steps[0]->sizing->input_value == 1.5e6); /* the engine still learns from it */
    const Acms__V1__AdaptationRecord *r = fx_rec(&log, "scaling", "prep", "resources.memory_mb");
    assert_false(r->applied);
    assert_string_equal(r->learned->method, "input-fit");
    assert_int_equal(r->new_value[0] != '\0', 1);
    assert_int_equal(strtoull(r->new_value, NULL, 10), expected_mb(k_fit, 1.5e6, obs.now_ms));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(sizes_each_run_from_its_input, per_test),
        cmocka_unit_test_setup(falls_back_and_says_why, per_test),
        cmocka_unit_test_setup(drift_model_raises_the_history, per_test),
        cmocka_unit_test_setup(shadow_records_input_sizing_only, per_test),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
