/* Validation of sizing declarations (services/validator/sizing.c): a resolvable input gives no issue;
 * an unknown name (with "did you mean" among the step's env vars or parameters), a value that is not a
 * positive number, a secret reference and a parameter with no value are errors naming the place; both
 * input and input_size_bytes is a warning; input_value written by hand is refused by the document
 * conversion (it is the adapter's). */
#include "validator_fixture.h"

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
    assert_int_equal(validator_sizing(&f->in, f->a, &f->is), ACMS_OK);
}

#define HDR "apiVersion: acms/v1\nkind: Pipeline\nmetadata: {name: t}\nspec:\n  steps:\n"
#define STEP(name, extra)                                                                                             \
    "    - {name: " name ", type: processing, command: [./prep.sh, --rows, 2M, --cols=30], output_path: s3://b/" name \
    ", env: {ROWS: '1500000', NAME: abc, TOKEN: 'secret://env/T'}" extra "}\n"

static void test_resolvable_inputs_pass(void **state)
{
    (void)state;
    fx f;
    run(&f, HDR STEP("a", ", sizing: {input: ROWS}") STEP("b", ", sizing: {input: --rows}")
            STEP("c", ", sizing: {input: --cols}") STEP("d", ", sizing: {input_size_bytes: 5000000000}")
                STEP("e", ""));
    assert_int_equal(f.is.n, 0);
    acms_arena_free(f.a);
}

static void test_bad_declarations(void **state)
{
    (void)state;
    fx f;
    run(&f, HDR STEP("a", ", sizing: {input: ROW}") STEP("b", ", sizing: {input: NAME}")
            STEP("c", ", sizing: {input: TOKEN}") STEP("d", ", sizing: {input: --row}")
                STEP("e", ", sizing: {input: ROWS, input_size_bytes: 5}"));
    const Acms__V1__ValidationIssue *x = vf_find_is(&f.is, "SIZING_INPUT_UNKNOWN", "spec.steps[0].sizing.input");
    assert_non_null(x);
    assert_string_equal(x->severity, "error");
    const Acms__V1__ValidationSuggestion *s = vf_sugg(x, "SIZING_INPUT_UNKNOWN:closest", "ROWS");
    assert_non_null(s);
    assert_string_equal(s->patch_path, "spec.steps[0].sizing.input");
    x = vf_find_is(&f.is, "SIZING_INPUT_NOT_A_NUMBER", "spec.steps[1].env.NAME");
    assert_non_null(x);
    assert_non_null(strstr(x->message, "'abc'"));
    assert_true(x->n_suggestions > 0);
    x = vf_find_is(&f.is, "SIZING_INPUT_SECRET", "spec.steps[2].sizing.input");
    assert_non_null(x);
    assert_null(strstr(x->message, "secret://")); /* the reference itself is not repeated */
    x = vf_find_is(&f.is, "SIZING_INPUT_UNKNOWN", "spec.steps[3].sizing.input");
    assert_non_null(x);
    assert_non_null(vf_sugg(x, "SIZING_INPUT_UNKNOWN:closest", "--rows")); /* among the parameters */
    x = vf_find_is(&f.is, "SIZING_INPUT_AMBIGUOUS", "spec.steps[4].sizing.input_size_bytes");
    assert_non_null(x);
    assert_string_equal(x->severity, "warning");
    assert_int_equal(acms_issues_count(&f.is, "error"), 4);
    acms_arena_free(f.a);

    run(&f, HDR "    - {name: z, type: processing, command: [./prep.sh, --rows], output_path: s3://b/z, "
                "sizing: {input: --rows}}\n");
    assert_non_null(vf_find_is(&f.is, "SIZING_INPUT_NO_VALUE", "spec.steps[0].sizing.input"));
    acms_arena_free(f.a);
}

static void test_input_value_is_the_adapters(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    acms_issues is;
    acms_issues_init(&is, a, "syntax");
    Acms__V1__Pipeline *p = NULL;
    acms_doc_to_pipeline(a, vf_doc(a, HDR STEP("a", ", sizing: {input: ROWS, input_value: 7}")), &p, &is);
    const Acms__V1__ValidationIssue *x = vf_find_is(&is, "FIELD_NOT_ALLOWED", "spec.steps[0].sizing.input_value");
    assert_non_null(x);
    assert_non_null(strstr(x->message, "filled by the adapter"));
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolvable_inputs_pass),
        cmocka_unit_test(test_bad_declarations),
        cmocka_unit_test(test_input_value_is_the_adapters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
