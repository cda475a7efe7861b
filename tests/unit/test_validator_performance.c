/* test_validator_performance.c: level 5 from history given as plain values (what history.c reads
 * from Redis): memory far above or below the p90 peak, a runtime limit under the p90 duration, too
 * little history, and the predicted duration and cost along the critical path. */
#include "validator_fixture.h"

#include <math.h>

typedef struct fx {
    acms_profiles p;
    acms_arena *a;
    acms_issues is;
    validator_input in;
    validator_step_history h[4];
} fx;

static const char *pipeline =
    "apiVersion: acms/v1\nkind: Pipeline\nmetadata: {name: churn}\nspec:\n  steps:\n"
    "    - {name: extract, type: processing, command: [true], instance_type: ml.m5.xlarge, memory_mb: 8192,\n"
    "       max_runtime_s: 600, output_path: s3://b-1/x}\n"
    "    - {name: train, type: training, depends_on: [extract], command: [true], instance_type: ml.m5.xlarge,\n"
    "       instance_count: 2, memory_mb: 1024, max_runtime_s: 60, output_path: s3://b-1/m}\n"
    "    - {name: stats, type: processing, depends_on: [extract], command: [true], instance_type: ml.m5.large,\n"
    "       max_runtime_s: 60, output_path: s3://b-1/s}\n"
    "    - {name: evaluate, type: evaluation, depends_on: [train, stats], command: [true],\n"
    "       instance_type: ml.m5.large, max_runtime_s: 60, output_path: s3://b-1/e}\n";

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    vf_profiles(&f->p);
    f->a = acms_arena_new(0);
    acms_issues_init(&f->is, f->a, "performance");
    const Acms__V1__Value *doc = vf_doc(f->a, pipeline);
    Acms__V1__RuntimeConfiguration *rc = vf_runtime(f->a, &f->p, NULL, doc);
    f->in = vf_input(&f->p, rc, doc);
    acms_issues sem;
    acms_issues_init(&sem, f->a, "semantic");
    validator_semantic(&f->in, f->a, &sem); /* builds the dag for the critical path */
    f->in.history = f->h;
    /* extract: 8 GiB requested, p90 peak 1500 MiB over 12 runs, 100 s typical */
    validator_history_apply(&f->h[0], 0, "p90_peak_mb", "1500");
    validator_history_apply(&f->h[0], 0, "p50_wall_ms", "100000");
    validator_history_apply(&f->h[0], 0, "p90_wall_ms", "150000");
    validator_history_apply(&f->h[0], 0, "runs", "12");
    /* train: 1 GiB requested, p90 peak 1800 MiB, p90 95 s > 60 s limit; learned 2304 MiB / 180 s */
    validator_history_apply(&f->h[1], 0, "p90_peak_mb", "1800");
    validator_history_apply(&f->h[1], 0, "p50_wall_ms", "80000");
    validator_history_apply(&f->h[1], 0, "p90_wall_ms", "95000");
    validator_history_apply(&f->h[1], 0, "runs", "5");
    validator_history_apply(&f->h[1], 1, "memory_mb", "2304");
    validator_history_apply(&f->h[1], 1, "runtime_s", "180");
    /* stats: only 2 runs: not judged, but timed */
    validator_history_apply(&f->h[2], 0, "p90_peak_mb", "10");
    validator_history_apply(&f->h[2], 0, "p50_wall_ms", "20000");
    validator_history_apply(&f->h[2], 0, "runs", "2");
    /* evaluate: no history */
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    acms_arena_free(f->a);
    acms_profiles_release(&f->p);
    free(f);
    return 0;
}

static void test_memory_and_runtime_judgements(void **state)
{
    fx *f = *state;
    assert_int_equal(validator_performance(&f->in, f->a, &f->is), ACMS_OK);
    const Acms__V1__ValidationIssue *x = vf_find_is(&f->is, "OVERPROVISIONED_MEMORY", "spec.steps[0].memory_mb");
    assert_non_null(x);
    assert_string_equal(x->severity, "warning");
    assert_non_null(vf_sugg(x, NULL, "1920")); /* 1500 x 1.25 = 1875 -> 1920 */
    x = vf_find_is(&f->is, "UNDERPROVISIONED_MEMORY", "spec.steps[1].memory_mb");
    assert_non_null(vf_sugg(x, NULL, "2304")); /* the learned recommendation */
    x = vf_find_is(&f->is, "RUNTIME_LIMIT_TIGHT", "spec.steps[1].max_runtime_s");
    assert_non_null(vf_sugg(x, NULL, "180"));
    assert_null(vf_find_is(&f->is, "OVERPROVISIONED_MEMORY", "spec.steps[2].instance_type")); /* 2 runs */
    assert_null(vf_find_is(&f->is, "RUNTIME_LIMIT_TIGHT", "spec.steps[0].max_runtime_s"));
}

static void test_predicted_cost(void **state)
{
    fx *f = *state;
    validator_performance(&f->in, f->a, &f->is);
    const Acms__V1__ValidationIssue *x = vf_find_is(&f->is, "PREDICTED_COST", "spec");
    assert_non_null(x);
    assert_string_equal(x->severity, "info");
    /* critical path extract (100 s) -> train (80 s) = 180 s = 3 min;
     * cost: m5.xlarge 0.23/h x (100 s + 2 x 80 s) + m5.large 0.115/h x 20 s = $0.017 */
    assert_non_null(strstr(x->message, "3 min"));
    assert_non_null(strstr(x->message, "$0.02"));
    assert_non_null(strstr(x->message, "critical path of 2 steps ending at 'train'"));
}

static void test_no_history_no_prediction(void **state)
{
    fx *f = *state;
    memset(f->h, 0, sizeof f->h);
    validator_performance(&f->in, f->a, &f->is);
    assert_int_equal(f->is.n, 0);
    f->in.history = NULL;
    validator_performance(&f->in, f->a, &f->is);
    assert_int_equal(f->is.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_memory_and_runtime_judgements, setup, teardown),
        cmocka_unit_test_setup_teardown(test_predicted_cost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_history_no_prediction, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
