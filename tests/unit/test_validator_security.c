/* test_validator_security.c: level 4. The adapter's secret findings become issues with fixes inside
 * the environment's secret scopes; without adapter metadata a built-in check still catches plain
 * credentials; the examples' baseline and prod-baseline policies are evaluated per step (rule id =
 * issue code, policy fix with patch); outputs outside the allowed prefixes are refused. */
#include "validator_fixture.h"

typedef struct fx {
    acms_profiles p;
    acms_arena *a;
    acms_issues is;
    Acms__V1__RuntimeConfiguration *rc;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    vf_profiles(&f->p);
    f->a = acms_arena_new(0);
    acms_issues_init(&f->is, f->a, "security");
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

static const char *pipeline =
    "apiVersion: acms/v1\nkind: Pipeline\nmetadata: {name: churn}\nspec:\n  steps:\n"
    "    - name: extract\n"
    "      type: processing\n"
    "      command: [sh, -c, 'extract --password=hunter2']\n"
    "      instance_type: ml.m5.xlarge\n"
    "      max_runtime_s: 600\n"
    "      output_path: s3://acme-ml/churn/raw\n"
    "      env: {DB_PASSWORD: hunter2, API: 'secret://vault/kv/data/other/api#key', TOKEN: 'secret://env/NOPE'}\n"
    "      tags: {owner: growth, cost-center: cc-1}\n"
    "    - name: train\n"
    "      type: training\n"
    "      depends_on: [extract]\n"
    "      command: [python, train.py]\n"
    "      instance_type: ml.m5.xlarge\n"
    "      max_runtime_s: 90000\n"
    "      interruptible: true\n"
    "      output_path: s3://elsewhere/model\n";

static Acms__V1__SecretFinding *finding(acms_arena *a, const char *step, const char *field, const char *kind)
{
    Acms__V1__SecretFinding *s = acms_pb_new(a, &acms__v1__secret_finding__descriptor);
    s->step = (char *)step;
    s->field = (char *)field;
    s->kind = (char *)kind;
    s->detail = acms_arena_printf(a, "%s of %s", kind, field);
    return s;
}

static validator_input prepare(fx *f, const char *env)
{
    const Acms__V1__Value *doc = vf_doc(f->a, pipeline);
    f->rc = vf_runtime(f->a, &f->p, acms_profiles_env(&f->p, env), doc);
    validator_input in = vf_input(&f->p, f->rc, doc);
    return in;
}

static void add_findings(fx *f)
{
    Acms__V1__RuntimeMetadata *md = f->rc->metadata;
    md->n_secret_findings = 5;
    md->secret_findings = acms_arena_alloc(f->a, 5 * sizeof *md->secret_findings);
    md->secret_findings[0] = finding(f->a, "extract", "env.DB_PASSWORD", "plaintext_credential");
    md->secret_findings[1] = finding(f->a, "extract", "env.API", "out_of_scope_reference");
    md->secret_findings[2] = finding(f->a, "extract", "env.TOKEN", "unresolvable_reference");
    md->secret_findings[3] = finding(f->a, "extract", "command[2]", "plaintext_credential");
    md->secret_findings[4] = finding(f->a, "extract", "env.TOKEN", "malformed_reference");
}

static void test_findings_become_issues_with_fixes(void **state)
{
    fx *f = *state;
    validator_input in = prepare(f, "prod");
    add_findings(f);
    assert_int_equal(validator_security(&in, f->a, &f->is), ACMS_OK);
    const Acms__V1__ValidationIssue *x = vf_find_is(&f->is, "PLAINTEXT_CREDENTIAL", "spec.steps[0].env.DB_PASSWORD");
    assert_non_null(x);
    assert_string_equal(x->severity, "error");
    assert_string_equal(x->level, "security");
    /* prod reads the prod Vault path and one named variable only */
    assert_non_null(vf_sugg(x, "PLAINTEXT_CREDENTIAL:use-secret-scope", "secret://vault/kv/data/prod/churn#db_password"));
    const Acms__V1__ValidationSuggestion *s = vf_sugg(x, "PLAINTEXT_CREDENTIAL:use-secret-env", "secret://env/DB_PASSWORD");
    assert_non_null(s);
    assert_string_equal(s->patch_path, "spec.steps[0].env.DB_PASSWORD");
    assert_true(s->confidence < 0.5); /* outside prod's scopes: offered, ranked low */
    assert_non_null(vf_find_is(&f->is, "PLAINTEXT_CREDENTIAL", "spec.steps[0].command[2]"));
    x = vf_find_is(&f->is, "SECRET_OUT_OF_SCOPE", "spec.steps[0].env.API");
    assert_non_null(x);
    assert_true(x->n_suggestions >= 2);
    assert_non_null(vf_find_is(&f->is, "SECRET_UNRESOLVABLE", "spec.steps[0].env.TOKEN"));
    assert_non_null(vf_find_is(&f->is, "BAD_SECRET_REF", "spec.steps[0].env.TOKEN"));
}

static void test_malformed_reference_not_reported_twice(void **state)
{
    fx *f = *state;
    validator_input in = prepare(f, "dev");
    add_findings(f);
    acms_issue_add(&f->is, "BAD_SECRET_REF", "error", "spec.steps[0].env.TOKEN", NULL, "from syntax");
    validator_security(&in, f->a, &f->is);
    assert_int_equal(vf_count_is(&f->is, "BAD_SECRET_REF"), 1);
}

static void test_builtin_plaintext_check_without_metadata(void **state)
{
    fx *f = *state;
    validator_input in = prepare(f, "dev");
    in.meta = NULL;
    validator_security(&in, f->a, &f->is);
    const Acms__V1__ValidationIssue *x = vf_find_is(&f->is, "PLAINTEXT_CREDENTIAL", "spec.steps[0].env.DB_PASSWORD");
    assert_non_null(x);
    assert_non_null(vf_sugg(x, NULL, "secret://env/DB_PASSWORD"));
    assert_int_equal(vf_count_is(&f->is, "PLAINTEXT_CREDENTIAL"), 1); /* TOKEN is a reference */
}

/* Sensitive words are found in any ASCII case, anywhere in the name, also in a name longer than
 * the folding buffer. */
static void test_builtin_check_ignores_case(void **state)
{
    fx *f = *state;
    validator_input in = prepare(f, "dev");
    in.meta = NULL;
    Acms__V1__Step *s = (Acms__V1__Step *)in.pipeline->steps[1];
    char *long_name = acms_arena_alloc(f->a, 301);
    memset(long_name, 'x', 300);
    memcpy(long_name + 290, "_pAsSwD", 7);
    const char *names[] = {"my_Api_Key", "HOMEDIR", "x_access_key_id", "credentials", long_name};
    for (size_t k = 0; k < 5; k++) {
        Acms__V1__EnvVar *e = acms_pb_new(f->a, &acms__v1__env_var__descriptor);
        e->name = (char *)names[k];
        e->value = (char *)"plain";
        s->env = acms_arena_push(f->a, s->env, &s->n_env, sizeof *s->env);
        s->env[s->n_env - 1] = e;
    }
    validator_security(&in, f->a, &f->is);
    assert_non_null(vf_find_is(&f->is, "PLAINTEXT_CREDENTIAL", "spec.steps[1].env.my_Api_Key"));
    assert_non_null(vf_find_is(&f->is, "PLAINTEXT_CREDENTIAL", "spec.steps[1].env.x_access_key_id"));
    assert_non_null(vf_find_is(&f->is, "PLAINTEXT_CREDENTIAL", "spec.steps[1].env.credentials"));
    assert_null(vf_find_is(&f->is, "PLAINTEXT_CREDENTIAL", "spec.steps[1].env.HOMEDIR"));
    assert_int_equal(vf_count_is(&f->is, "PLAINTEXT_CREDENTIAL"), 5);
}

static void test_prod_policies(void **state)
{
    fx *f = *state;
    validator_input in = prepare(f, "prod");
    validator_security(&in, f->a, &f->is);
    /* encrypt_volume not set on either step */
    const Acms__V1__ValidationIssue *x = vf_find_is(&f->is, "POL-PROD-ENCRYPT", "spec.steps[0].encrypt_volume");
    assert_non_null(x);
    assert_string_equal(x->severity, "error");
    const Acms__V1__ValidationSuggestion *s = vf_sugg(x, "POL-PROD-ENCRYPT:policy-fix", "true");
    assert_non_null(s);
    assert_string_equal(s->source, "policy");
    assert_string_equal(s->text, "set encrypt_volume: true");
    /* the prod VPC is isolated: no isolation issue */
    assert_null(vf_find_is(&f->is, "POL-PROD-NETWORK-ISOLATION", NULL));
    /* cost centre: tagged on extract, missing on train */
    assert_null(vf_find_is(&f->is, "POL-PROD-COST-CENTER", "spec.steps[0].tags.cost-center"));
    assert_non_null(vf_find_is(&f->is, "POL-PROD-COST-CENTER", "spec.steps[1].tags.cost-center"));
    x = vf_find_is(&f->is, "POL-PROD-MAX-RUNTIME", "spec.steps[1].max_runtime_s");
    assert_non_null(vf_sugg(x, NULL, "86400"));
    x = vf_find_is(&f->is, "POL-PROD-NO-SPOT-TRAINING", "spec.steps[1].interruptible");
    assert_non_null(x);
    assert_string_equal(x->severity, "warning");
    /* outputs: extract was rewritten into the prod bucket, train's is elsewhere */
    assert_null(vf_find_is(&f->is, "POL-PROD-OUTPUT-BUCKET", "spec.steps[0].output_path"));
    x = vf_find_is(&f->is, "POL-PROD-OUTPUT-BUCKET", "spec.steps[1].output_path");
    assert_non_null(vf_sugg(x, NULL, "s3://acme-ml-prod/model"));
    x = vf_find_is(&f->is, "OUTPUT_LOCATION_NOT_ALLOWED", "spec.steps[1].output_path");
    assert_non_null(vf_sugg(x, "OUTPUT_LOCATION_NOT_ALLOWED:rewrite", "s3://acme-ml-prod/model"));
    /* baseline: the owner tag is missing on train only (warning) */
    x = vf_find_is(&f->is, "POL-OWNER-TAG", "spec.steps[1].tags.owner");
    assert_non_null(x);
    assert_string_equal(x->severity, "warning");
    assert_null(vf_find_is(&f->is, "POL-OWNER-TAG", "spec.steps[0].tags.owner"));
}

static void test_dev_applies_baseline_only(void **state)
{
    fx *f = *state;
    validator_input in = prepare(f, "dev");
    validator_security(&in, f->a, &f->is);
    assert_null(vf_find_is(&f->is, "POL-PROD-ENCRYPT", NULL));
    assert_non_null(vf_find_is(&f->is, "POL-OWNER-TAG", "spec.steps[1].tags.owner"));
    assert_non_null(vf_find_is(&f->is, "OUTPUT_LOCATION_NOT_ALLOWED", "spec.steps[1].output_path"));
    assert_null(vf_find_is(&f->is, "OUTPUT_LOCATION_NOT_ALLOWED", "spec.steps[0].output_path"));
}

/* A suggested reference is checked before it is offered: a secret://file/ path that does not exist
 * comes with "create the file" (and less confidence) until it does; a reference outside the
 * environment's scopes says first that they must be widened (bad/plaintext-password.yaml's 75 % fix
 * secret://file/db_password validated and then failed at run time: no such file). */
static void test_suggested_references_are_checked(void **state)
{
    fx *f = *state;
    validator_input in = prepare(f, "dev");
    char dir[] = "/tmp/acms-sugg-XXXXXX";
    assert_non_null(mkdtemp(dir));
    Acms__V1__Environment env = *in.env;
    char *scopes[] = {acms_arena_printf(f->a, "secret://file%s/", dir), "secret://vault/kv/data/dev/"};
    env.secret_scopes = scopes;
    env.n_secret_scopes = 2; /* no secret://env/ scope */
    in.env = &env;
    in.meta = NULL;
    validator_security(&in, f->a, &f->is);
    const Acms__V1__ValidationIssue *x = vf_find_is(&f->is, "PLAINTEXT_CREDENTIAL", "spec.steps[0].env.DB_PASSWORD");
    assert_non_null(x);
    const char *ref = acms_arena_printf(f->a, "secret://file%s/db_password", dir);
    const Acms__V1__ValidationSuggestion *s = vf_sugg(x, "PLAINTEXT_CREDENTIAL:use-secret-scope", ref);
    assert_non_null(s);
    assert_non_null(strstr(s->text, "create the file"));
    assert_null(strstr(s->text, "secret_scopes")); /* inside them */
    assert_true(s->confidence < 0.7);
    /* outside the scopes: offered low, with widening the scopes as the first thing to do */
    s = vf_sugg(x, "PLAINTEXT_CREDENTIAL:use-secret-env", "secret://env/DB_PASSWORD");
    assert_non_null(s);
    assert_true(s->confidence < 0.5);
    assert_non_null(strstr(s->text, "add secret://env/DB_PASSWORD to the secret_scopes of environment dev"));
    s = vf_sugg(x, "PLAINTEXT_CREDENTIAL:use-secret-scope", "secret://vault/kv/data/dev/churn#db_password");
    assert_non_null(s);
    assert_non_null(strstr(s->text, "write the value to Vault at kv/data/dev/churn under the key db_password"));

    /* once the file exists the same reference is offered as it is */
    char file[128];
    snprintf(file, sizeof file, "%s/db_password", dir);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    acms_issues again;
    acms_issues_init(&again, f->a, "security");
    validator_security(&in, f->a, &again);
    s = vf_sugg(vf_find_is(&again, "PLAINTEXT_CREDENTIAL", "spec.steps[0].env.DB_PASSWORD"),
                "PLAINTEXT_CREDENTIAL:use-secret-scope", ref);
    assert_non_null(s);
    assert_null(strstr(s->text, "create the file"));
    assert_true(s->confidence >= 0.75);
    unlink(file);
    rmdir(dir);
}

/* A '..' component climbs out of the allowed prefix: refused before the prefix check (also as %2e%2e);
 * "." and empty components are only dropped. */
static void test_output_path_traversal(void **state)
{
    fx *f = *state;
    validator_input in = prepare(f, "dev");
    Acms__V1__Step *s0 = f->rc->pipeline->steps[0], *s1 = f->rc->pipeline->steps[1];
    s0->output_path = "s3://acme-ml-dev/../acme-ml-prod/x";
    s1->output_path = "s3://acme-ml-dev/./a//b/";
    validator_security(&in, f->a, &f->is);
    assert_non_null(vf_find_is(&f->is, "OUTPUT_PATH_TRAVERSAL", "spec.steps[0].output_path"));
    assert_null(vf_find_is(&f->is, "OUTPUT_PATH_TRAVERSAL", "spec.steps[1].output_path"));
    assert_null(vf_find_is(&f->is, "OUTPUT_LOCATION_NOT_ALLOWED", "spec.steps[1].output_path"));
    acms_issues_init(&f->is, f->a, "security");
    s0->output_path = "s3://acme-ml-dev/%2e%2E/acme-ml-prod/x";
    s1->output_path = "/data/../etc/x";
    validator_security(&in, f->a, &f->is);
    assert_non_null(vf_find_is(&f->is, "OUTPUT_PATH_TRAVERSAL", "spec.steps[0].output_path"));
    assert_non_null(vf_find_is(&f->is, "OUTPUT_PATH_TRAVERSAL", "spec.steps[1].output_path"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_findings_become_issues_with_fixes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_reference_not_reported_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_builtin_plaintext_check_without_metadata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_builtin_check_ignores_case, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prod_policies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dev_applies_baseline_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_suggested_references_are_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_output_path_traversal, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
