/* test_validator_semantic.c: level 2 on real-looking pipelines: cycles (including self-dependency
 * and several cycles), missing dependencies and the steps they strand, duplicates, the empty
 * pipeline, value ranges and cross-field rules; and that a 5000-step chain stays fast. */
#include "validator_fixture.h"

#include <time.h>

typedef struct fx {
    acms_arena *a;
    acms_issues is;
    validator_input in;
} fx;

static void run(fx *f, const char *yaml)
{
    f->a = acms_arena_new(0);
    acms_issues_init(&f->is, f->a, "semantic");
    const Acms__V1__Value *doc = vf_doc(f->a, yaml);
    Acms__V1__RuntimeConfiguration *rc = vf_runtime(f->a, NULL, NULL, doc);
    f->in = vf_input(NULL, rc, doc);
    assert_int_equal(validator_semantic(&f->in, f->a, &f->is), ACMS_OK);
    assert_non_null(f->in.dag);
}

#define HDR "apiVersion: acms/v1\nkind: Pipeline\nmetadata: {name: t}\nspec:\n  steps:\n"
#define STEP(name, type, deps) \
    "    - {name: " name ", type: " type ", command: [true], output_path: s3://b-1/" name ", depends_on: " deps "}\n"

static void test_cycle_is_found_and_broken_at_the_forward_edge(void **state)
{
    (void)state;
    fx f;
    /* prepare -> evaluate is the edge against document order */
    run(&f, HDR STEP("prepare", "processing", "[evaluate]") STEP("train", "training", "[prepare]")
                STEP("evaluate", "evaluation", "[train]") STEP("report", "custom", "[evaluate]"));
    assert_int_equal(vf_count_is(&f.is, "DAG_CYCLE"), 1);
    assert_false(f.in.dag->acyclic);
    assert_true(f.in.cycle_of[0] && f.in.cycle_of[0] == f.in.cycle_of[1] && f.in.cycle_of[1] == f.in.cycle_of[2]);
    assert_int_equal(f.in.cycle_of[3], 0);
    /* report waits on the cycle */
    const Acms__V1__ValidationIssue *u = vf_find_is(&f.is, "DAG_UNREACHABLE", "spec.steps[3].depends_on");
    assert_non_null(u);
    assert_string_equal(u->severity, "warning");
    Acms__V1__ValidationSuggestion **top = NULL;
    validator_suggest(&f.in, f.a, &f.is, &top, 10);
    const Acms__V1__ValidationIssue *c = vf_find_is(&f.is, "DAG_CYCLE", NULL);
    const Acms__V1__ValidationSuggestion *s = vf_sugg(c, "DAG_CYCLE:break", "[]");
    assert_non_null(s);
    assert_string_equal(s->patch_path, "spec.steps[0].depends_on");
    assert_ptr_equal(c->suggestions[0], s); /* ranked first */
    acms_arena_free(f.a);
}

static void test_self_dependency(void **state)
{
    (void)state;
    fx f;
    run(&f, HDR STEP("extract", "processing", "[]") STEP("train", "training", "[extract, train]")
                STEP("evaluate", "evaluation", "[train]"));
    const Acms__V1__ValidationIssue *x = vf_find_is(&f.is, "DAG_SELF_DEPENDENCY", NULL);
    assert_non_null(x);
    assert_string_equal(x->severity, "error");
    assert_non_null(vf_find_is(&f.is, "DAG_UNREACHABLE", "spec.steps[2].depends_on"));
    assert_null(vf_find_is(&f.is, "DAG_UNREACHABLE", "spec.steps[0].depends_on"));
    acms_arena_free(f.a);
}

static void test_two_cycles_are_both_reported(void **state)
{
    (void)state;
    fx f;
    run(&f, HDR STEP("a", "processing", "[b]") STEP("b", "processing", "[a]") STEP("c", "processing", "[]")
                STEP("d", "processing", "[e]") STEP("e", "processing", "[d]"));
    assert_int_equal(vf_count_is(&f.is, "DAG_CYCLE"), 2);
    assert_int_not_equal(f.in.cycle_of[0], f.in.cycle_of[3]);
    acms_arena_free(f.a);
}

static void test_missing_dependency_strands_dependents(void **state)
{
    (void)state;
    fx f;
    run(&f, HDR STEP("preprocess", "processing", "[]") STEP("train", "training", "[preprocesss]")
                STEP("evaluate", "evaluation", "[train]") STEP("publish", "custom", "[evaluate, preprocess]"));
    const Acms__V1__ValidationIssue *x = vf_find_is(&f.is, "DAG_MISSING_DEPENDENCY", NULL);
    assert_non_null(x);
    assert_non_null(vf_sugg(x, NULL, "preprocess"));
    assert_non_null(vf_find_is(&f.is, "DAG_UNREACHABLE", "spec.steps[2].depends_on"));
    assert_non_null(vf_find_is(&f.is, "DAG_UNREACHABLE", "spec.steps[3].depends_on"));
    assert_int_equal(vf_count_is(&f.is, "DAG_UNREACHABLE"), 2);
    acms_arena_free(f.a);
}

static void test_duplicates(void **state)
{
    (void)state;
    fx f;
    run(&f, HDR STEP("a", "processing", "[]") STEP("b", "processing", "[a, a]") STEP("b", "custom", "[a]"));
    assert_non_null(vf_find_is(&f.is, "DAG_DUPLICATE_STEP", NULL));
    const Acms__V1__ValidationIssue *x = vf_find_is(&f.is, "DUPLICATE_DEPENDENCY", "spec.steps[1].depends_on[1]");
    assert_non_null(x);
    const Acms__V1__ValidationSuggestion *s = vf_sugg(x, "DUPLICATE_DEPENDENCY:dedupe", "[\"a\"]");
    assert_non_null(s);
    assert_string_equal(s->patch_path, "spec.steps[1].depends_on");
    acms_arena_free(f.a);
}

static void test_empty_pipeline(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    acms_issues is;
    acms_issues_init(&is, a, "semantic");
    Acms__V1__Pipeline *p = acms_pb_new(a, &acms__v1__pipeline__descriptor);
    validator_input in = {.pipeline = p};
    assert_int_equal(validator_semantic(&in, a, &is), ACMS_OK);
    assert_non_null(vf_find_is(&is, "DAG_EMPTY", "spec.steps"));
    acms_arena_free(a);
}

static void test_ranges_and_cross_fields(void **state)
{
    (void)state;
    fx f;
    run(&f, HDR
        "    - {name: a, type: training, command: [true], instance_count: 0, max_runtime_s: 500000, memory_mb: 0}\n"
        "    - {name: b, type: processing, command: [true], instance_count: 5000, volume_size_gb: 20000,\n"
        "       output_path: s3://bkt/out, interruptible: true, max_attempts: 1,\n"
        "       vpc_config: {subnets: [subnet-1]}}\n"
        "    - {name: c, type: evaluation, command: [true], output_path: s3://bkt/out/, max_attempts: 50}\n"
        "    - {name: d, type: training, command: [true], output_path: s3://bkt/d}\n");
    const Acms__V1__ValidationIssue *x = vf_find_is(&f.is, "VALUE_OUT_OF_RANGE", "spec.steps[0].instance_count");
    assert_non_null(x);
    assert_int_equal(x->line, 6);
    assert_non_null(vf_sugg(x, NULL, "1"));
    assert_non_null(vf_find_is(&f.is, "VALUE_OUT_OF_RANGE", "spec.steps[0].max_runtime_s"));
    assert_non_null(vf_find_is(&f.is, "VALUE_OUT_OF_RANGE", "spec.steps[0].memory_mb"));
    x = vf_find_is(&f.is, "VALUE_OUT_OF_RANGE", "spec.steps[1].instance_count");
    assert_non_null(vf_sugg(x, NULL, "1000"));
    assert_non_null(vf_find_is(&f.is, "VALUE_OUT_OF_RANGE", "spec.steps[1].volume_size_gb"));
    assert_non_null(vf_find_is(&f.is, "VALUE_OUT_OF_RANGE", "spec.steps[2].max_attempts"));
    assert_null(vf_find_is(&f.is, "VALUE_OUT_OF_RANGE", "spec.steps[3].instance_count")); /* unset is fine */
    assert_non_null(vf_find_is(&f.is, "MISSING_OUTPUT", "spec.steps[0].output_path"));
    assert_null(vf_find_is(&f.is, "MISSING_OUTPUT", "spec.steps[3].output_path"));
    assert_non_null(vf_find_is(&f.is, "VPC_INCOMPLETE", "spec.steps[1].vpc_config.security_group_ids"));
    x = vf_find_is(&f.is, "SPOT_NO_RETRY", "spec.steps[1].max_attempts");
    assert_non_null(vf_sugg(x, NULL, "3"));
    x = vf_find_is(&f.is, "DUPLICATE_OUTPUT_PATH", "spec.steps[2].output_path");
    assert_non_null(x);
    assert_non_null(vf_sugg(x, NULL, "s3://bkt/out/c"));
    acms_arena_free(f.a);
}

static void test_duplicate_env_var_in_typed_step(void **state)
{
    (void)state;
    fx f;
    run(&f, HDR STEP("a", "processing", "[]"));
    Acms__V1__Step *s = f.in.pipeline->steps[0];
    s->n_env = 2;
    s->env = acms_arena_alloc(f.a, 2 * sizeof *s->env);
    for (int i = 0; i < 2; i++) {
        s->env[i] = acms_pb_new(f.a, &acms__v1__env_var__descriptor);
        s->env[i]->name = "ROWS";
        s->env[i]->value = i ? "2" : "1";
    }
    acms_issues_init(&f.is, f.a, "semantic");
    validator_semantic(&f.in, f.a, &f.is);
    assert_non_null(vf_find_is(&f.is, "DUPLICATE_ENV_VAR", "spec.steps[0].env.ROWS"));
    acms_arena_free(f.a);
}

static void test_long_chain_is_linear(void **state)
{
    (void)state;
    enum { N = 5000 };
    acms_arena *a = acms_arena_new(0);
    Acms__V1__Pipeline *p = acms_pb_new(a, &acms__v1__pipeline__descriptor);
    p->name = "long";
    p->n_steps = N;
    p->steps = acms_arena_alloc(a, N * sizeof *p->steps);
    for (size_t i = 0; i < N; i++) {
        Acms__V1__Step *s = acms_pb_new(a, &acms__v1__step__descriptor);
        s->name = acms_arena_printf(a, "step-%zu", i);
        s->type = "processing";
        s->output_path = acms_arena_printf(a, "s3://bkt/%zu", i);
        if (i) {
            s->n_depends_on = 1;
            s->depends_on = acms_arena_alloc(a, sizeof *s->depends_on);
            s->depends_on[0] = (char *)p->steps[i - 1]->name;
        }
        p->steps[i] = s;
    }
    /* close one big cycle: everything downstream is in it */
    p->steps[0]->n_depends_on = 1;
    p->steps[0]->depends_on = acms_arena_alloc(a, sizeof(char *));
    p->steps[0]->depends_on[0] = (char *)p->steps[N - 1]->name;
    acms_issues is;
    acms_issues_init(&is, a, "semantic");
    validator_input in = {.pipeline = p};
    clock_t t0 = clock();
    validator_semantic(&in, a, &is);
    Acms__V1__ValidationSuggestion **top = NULL;
    validator_suggest(&in, a, &is, &top, 10);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    assert_int_equal(vf_count_is(&is, "DAG_CYCLE"), 1);
    assert_true(in.cycle_of[0] && in.cycle_of[N - 1] == in.cycle_of[0]);
    assert_true(secs < 0.5);
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cycle_is_found_and_broken_at_the_forward_edge),
        cmocka_unit_test(test_self_dependency),
        cmocka_unit_test(test_two_cycles_are_both_reported),
        cmocka_unit_test(test_missing_dependency_strands_dependents),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_empty_pipeline),
        cmocka_unit_test(test_ranges_and_cross_fields),
        cmocka_unit_test(test_duplicate_env_var_in_typed_step),
        cmocka_unit_test(test_long_chain_is_linear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
