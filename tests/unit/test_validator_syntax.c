/* test_validator_syntax.c: level 1 on the document as written: names, output URIs, secret reference
 * syntax, step types and limits, reserved ACMS_ variable names, with fixes and source lines; and the
 * typed-only mode. */
#include "validator_fixture.h"

static const char *good =
    "apiVersion: acms/v1\n"
    "kind: Pipeline\n"
    "metadata: {name: churn-training}\n"
    "spec:\n"
    "  steps:\n"
    "    - name: extract\n"
    "      type: processing\n"
    "      command: [sh, -c, echo hi]\n"
    "      instance_type: ml.m5.xlarge\n"
    "      output_path: s3://acme-ml/churn/raw\n"
    "      env: {DB_PASSWORD: \"secret://env/CHURN_DB_PASSWORD\", TOKEN: \"secret://vault/kv/data/dev/api#token\"}\n"
    "    - name: train_model-2\n"
    "      type: training\n"
    "      depends_on: [extract]\n"
    "      command: [python, train.py]\n"
    "      output_path: /data/models\n";

static const char *bad =
    "apiVersion: acms/v1\n"
    "kind: Pipeline\n"
    "metadata: {name: Churn Training}\n"
    "spec:\n"
    "  steps:\n"
    "    - name: Extract Data!\n"                                   /* line 6 */
    "      type: processing\n"
    "      command: [sh, -c, echo hi]\n"
    "      output_path: S3://acme-ml/raw\n"
    "      env: {DB_PASSWORD: \"secrets://env/DB_PASSWORD\", API: \"secret://environment/API_KEY\", "
    "VAULT: \"secret://vault/kv/data/dev/db\", 'bad-name': x}\n"
    "    - name: train\n"
    "      type: trainig\n"
    "      command: [python, train.py]\n"
    "      output_path: models/out\n"
    "    - name: eval\n"
    "      type: evaluation\n"
    "      command: [python, eval.py]\n"
    "      output_path: s3://Bad_Bucket/x\n"
    "      instnace_type: ml.m5.large\n";

typedef struct fx {
    acms_arena *a;
    acms_issues is;
    validator_input in;
} fx;

static void run_syntax(fx *f, const char *yaml)
{
    f->a = acms_arena_new(0);
    acms_issues_init(&f->is, f->a, "syntax");
    memset(&f->in, 0, sizeof f->in);
    f->in.document = vf_doc(f->a, yaml);
    Acms__V1__Pipeline *p = NULL;
    assert_int_equal(validator_syntax(&f->in, f->a, &f->is, &p), ACMS_OK);
    assert_non_null(p);
}

static void test_good_document_has_no_issue(void **state)
{
    (void)state;
    fx f;
    run_syntax(&f, good);
    for (size_t i = 0; i < f.is.n; i++)
        print_message("unexpected: %s %s %s\n", f.is.v[i]->code, f.is.v[i]->path, f.is.v[i]->message);
    assert_int_equal(f.is.n, 0);
    assert_int_equal(f.in.unknown_fields, 0);
    acms_arena_free(f.a);
}

static void test_bad_names_get_slug_fix_and_line(void **state)
{
    (void)state;
    fx f;
    run_syntax(&f, bad);
    const Acms__V1__ValidationIssue *x = vf_find_is(&f.is, "BAD_NAME", "spec.steps[0].name");
    assert_non_null(x);
    assert_string_equal(x->severity, "error");
    assert_string_equal(x->level, "syntax");
    assert_int_equal(x->line, 6);
    assert_non_null(vf_sugg(x, "BAD_NAME:slugify", "extract-data"));
    x = vf_find_is(&f.is, "BAD_NAME", "metadata.name");
    assert_non_null(x);
    assert_non_null(vf_sugg(x, NULL, "churn-training"));
    acms_arena_free(f.a);
}

static void test_bad_uris(void **state)
{
    (void)state;
    fx f;
    run_syntax(&f, bad);
    const Acms__V1__ValidationIssue *x = vf_find_is(&f.is, "BAD_URI", "spec.steps[0].output_path");
    assert_non_null(x);
    assert_non_null(vf_sugg(x, "BAD_URI:fix-scheme", "s3://acme-ml/raw"));
    x = vf_find_is(&f.is, "BAD_URI", "spec.steps[1].output_path");
    assert_non_null(x); /* relative path: no obvious fix */
    assert_null(vf_sugg(x, "BAD_URI:fix-scheme", NULL));
    assert_non_null(vf_find_is(&f.is, "BAD_URI", "spec.steps[2].output_path")); /* bucket name */
    acms_arena_free(f.a);
}

static void test_secret_reference_syntax(void **state)
{
    (void)state;
    fx f;
    run_syntax(&f, bad);
    const Acms__V1__ValidationIssue *x = vf_find_is(&f.is, "BAD_SECRET_REF", "spec.steps[0].env.DB_PASSWORD");
    assert_non_null(x);
    assert_non_null(vf_sugg(x, "BAD_SECRET_REF:fix-syntax", "secret://env/DB_PASSWORD"));
    x = vf_find_is(&f.is, "BAD_SECRET_REF", "spec.steps[0].env.API");
    assert_non_null(x);
    assert_non_null(vf_sugg(x, NULL, "secret://env/API_KEY"));
    x = vf_find_is(&f.is, "BAD_SECRET_REF", "spec.steps[0].env.VAULT"); /* vault ref without #key */
    assert_non_null(x);
    assert_non_null(vf_find_is(&f.is, "BAD_ENV_NAME", "spec.steps[0].env.bad-name"));
    acms_arena_free(f.a);
}

static void test_step_type_and_unknown_field(void **state)
{
    (void)state;
    fx f;
    run_syntax(&f, bad);
    const Acms__V1__ValidationIssue *x = vf_find_is(&f.is, "UNKNOWN_STEP_TYPE", "spec.steps[1].type");
    assert_non_null(x);
    assert_non_null(vf_sugg(x, NULL, "training"));
    assert_non_null(vf_find_is(&f.is, "UNKNOWN_FIELD", "spec.steps[2].instnace_type"));
    assert_int_equal(f.in.unknown_fields, 1);
    acms_arena_free(f.a);
}

/* A step's ACMS_ variable is an error naming it, with renames as text (no set-patch: a rename is not
 * one, and the value may be a credential); a rename the step already uses is not offered. */
static void test_reserved_env_name(void **state)
{
    (void)state;
    fx f;
    run_syntax(&f, "apiVersion: acms/v1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n  steps:\n"
                   "    - name: s\n      type: processing\n      command: [sh, -c, echo hi]\n"
                   "      output_path: s3://acme-ml/x\n"
                   "      env: {ACMS_MODE: fast, MODE: slow, ACMS_TOKEN: hunter2, LEVEL: '3'}\n");
    const Acms__V1__ValidationIssue *x = vf_find_is(&f.is, "RESERVED_ENV_NAME", "spec.steps[0].env.ACMS_MODE");
    assert_non_null(x);
    assert_string_equal(x->severity, "error");
    assert_int_equal(x->line, 10);
    assert_non_null(strstr(x->message, "ACMS_MODE is in the ACMS_ namespace"));
    /* MODE is taken by the step: only APP_MODE is offered */
    assert_int_equal(x->n_suggestions, 1);
    assert_non_null(strstr(x->suggestions[0]->text, "rename the variable to APP_MODE"));
    x = vf_find_is(&f.is, "RESERVED_ENV_NAME", "spec.steps[0].env.ACMS_TOKEN");
    assert_non_null(x);
    assert_int_equal(x->n_suggestions, 2);
    for (size_t k = 0; k < x->n_suggestions; k++) {
        assert_string_equal(x->suggestions[k]->patch_path, "");
        assert_string_equal(x->suggestions[k]->patch_value, "");
    }
    assert_non_null(strstr(x->suggestions[0]->text, "rename the variable to TOKEN"));
    assert_null(vf_find_is(&f.is, "RESERVED_ENV_NAME", "spec.steps[0].env.LEVEL"));
    acms_arena_free(f.a);
}

static void test_typed_pipeline_without_document(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__Pipeline *p = acms_pb_new(a, &acms__v1__pipeline__descriptor);
    p->name = "ok-name";
    p->n_steps = 1;
    p->steps = acms_arena_alloc(a, sizeof *p->steps);
    Acms__V1__Step *s = acms_pb_new(a, &acms__v1__step__descriptor);
    p->steps[0] = s;
    s->name = "-leading-dash";
    s->line = 42;
    s->n_command = VALIDATOR_MAX_COMMAND_ARGS + 1;
    s->command = acms_arena_alloc(a, s->n_command * sizeof *s->command);
    for (size_t i = 0; i < s->n_command; i++)
        s->command[i] = "x";
    acms_issues is;
    acms_issues_init(&is, a, "syntax");
    validator_input in = {.pipeline = p};
    assert_int_equal(validator_syntax(&in, a, &is, NULL), ACMS_OK);
    const Acms__V1__ValidationIssue *x = vf_find_is(&is, "BAD_NAME", "spec.steps[0].name");
    assert_non_null(x);
    assert_int_equal(x->line, 42); /* from the typed step */
    assert_non_null(vf_sugg(x, NULL, "leading-dash"));
    assert_non_null(vf_find_is(&is, "COMMAND_TOO_LONG", "spec.steps[0].command"));
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_document_has_no_issue),
        cmocka_unit_test(test_bad_names_get_slug_fix_and_line),
        cmocka_unit_test(test_bad_uris),
        cmocka_unit_test(test_secret_reference_syntax),
        cmocka_unit_test(test_step_type_and_unknown_field),
        cmocka_unit_test(test_reserved_env_name),
        cmocka_unit_test(test_typed_pipeline_without_document),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
