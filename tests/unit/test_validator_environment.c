/* test_validator_environment.c: level 3 against the examples' catalogue and environment profiles
 * (and one inline environment): unknown and disallowed instance types with their fixes, quotas,
 * network isolation, interruptible capacity, executor, region and GPU advice. */
#include "validator_fixture.h"

typedef struct fx {
    acms_profiles p;
    acms_arena *a;
    acms_issues is;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    vf_profiles(&f->p);
    f->a = acms_arena_new(0);
    acms_issues_init(&f->is, f->a, "environment");
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

static void run(fx *f, const Acms__V1__Environment *env, const char *steps_yaml)
{
    const char *yaml = acms_arena_printf(f->a, "apiVersion: acms/v1\nkind: Pipeline\nmetadata: {name: churn}\n"
                                               "spec:\n  steps:\n%s", steps_yaml);
    const Acms__V1__Value *doc = vf_doc(f->a, yaml);
    Acms__V1__RuntimeConfiguration *rc = vf_runtime(f->a, &f->p, env, doc);
    validator_input in = vf_input(&f->p, rc, doc);
    assert_int_equal(validator_environment(&in, f->a, &f->is), ACMS_OK);
}

static void test_unknown_type_did_you_mean(void **state)
{
    fx *f = *state;
    run(f, acms_profiles_env(&f->p, "dev"),
        "    - {name: prep, type: processing, command: [true], instance_type: ml.m5.xlarg, output_path: s3://acme-ml/x}\n");
    const Acms__V1__ValidationIssue *x = vf_find_is(&f->is, "UNKNOWN_INSTANCE_TYPE", "spec.steps[0].instance_type");
    assert_non_null(x);
    assert_int_equal(x->line, 6);
    const Acms__V1__ValidationSuggestion *s = vf_sugg(x, "UNKNOWN_INSTANCE_TYPE:did-you-mean", "ml.m5.xlarge");
    assert_non_null(s);
    assert_null(vf_find_is(&f->is, "INSTANCE_TYPE_NOT_ALLOWED", NULL));
}

static void test_not_allowed_suggests_cheapest_allowed_fit(void **state)
{
    fx *f = *state;
    Acms__V1__Environment *env = vf_env_doc(f->a,
        "apiVersion: acms/v1\nkind: Environment\nmetadata: {name: team}\nspec:\n"
        "  region: eu-west-1\n  default_instance_type: ml.c5.xlarge\n"
        "  allowed_instance_types: [ml.c5.xlarge, ml.m5.large, ml.m5.xlarge]\n");
    run(f, env, "    - {name: prep, type: processing, command: [true], instance_type: ml.c5.large}\n");
    const Acms__V1__ValidationIssue *x = vf_find_is(&f->is, "INSTANCE_TYPE_NOT_ALLOWED", "spec.steps[0].instance_type");
    assert_non_null(x);
    /* ml.c5.large: 2 vCPU 4 GiB -> cheapest allowed with at least that is ml.m5.large ($0.115) */
    assert_non_null(vf_sugg(x, "INSTANCE_TYPE_NOT_ALLOWED:smallest-allowed-fit", "ml.m5.large"));
    assert_non_null(vf_sugg(x, "INSTANCE_TYPE_NOT_ALLOWED:env-default", "ml.c5.xlarge"));
    assert_non_null(vf_sugg(x, "INSTANCE_TYPE_NOT_ALLOWED:allowed", "ml.m5.xlarge"));
    assert_null(vf_find_is(&f->is, "ENV_NO_REGION", NULL));
}

static void test_quotas(void **state)
{
    fx *f = *state;
    run(f, acms_profiles_env(&f->p, "dev"),
        "    - {name: big, type: processing, command: [true], instance_type: ml.m5.large, instance_count: 5,\n"
        "       max_runtime_s: 7200, memory_mb: 8192, output_path: s3://acme-ml/big}\n"
        "    - {name: ok, type: processing, command: [true], instance_type: ml.m5.large, instance_count: 2,\n"
        "       max_runtime_s: 3600, output_path: s3://acme-ml/ok}\n");
    const Acms__V1__ValidationIssue *x = vf_find_is(&f->is, "QUOTA_INSTANCES", "spec.steps[0].instance_count");
    assert_non_null(vf_sugg(x, "QUOTA_INSTANCES:cap", "2"));
    x = vf_find_is(&f->is, "QUOTA_RUNTIME", "spec.steps[0].max_runtime_s");
    assert_non_null(vf_sugg(x, NULL, "3600"));
    x = vf_find_is(&f->is, "QUOTA_MEMORY", "spec.steps[0].memory_mb");
    assert_non_null(vf_sugg(x, NULL, "4096"));
    /* dev shrinks memory (x 0.0625): ml.m5.large is 512 MiB there, inside the quota */
    assert_null(vf_find_is(&f->is, "QUOTA_MEMORY", "spec.steps[1].instance_type"));
    assert_null(vf_find_is(&f->is, "QUOTA_INSTANCES", "spec.steps[1].instance_count"));
}

static void test_network_isolation_and_interruptible(void **state)
{
    fx *f = *state;
    Acms__V1__Environment *env = vf_env_doc(f->a,
        "apiVersion: acms/v1\nkind: Environment\nmetadata: {name: locked}\nspec:\n"
        "  region: us-east-1\n  require_network_isolation: true\n  allow_interruptible: false\n");
    run(f, env,
        "    - {name: open, type: training, command: [true], instance_type: ml.g4dn.xlarge, interruptible: true,\n"
        "       max_attempts: 3}\n"
        "    - {name: closed, type: processing, command: [true], instance_type: ml.m5.large,\n"
        "       vpc_config: {subnets: [subnet-1], security_group_ids: [sg-1], network_isolation: true}}\n");
    const Acms__V1__ValidationIssue *x =
        vf_find_is(&f->is, "NETWORK_ISOLATION_REQUIRED", "spec.steps[0].vpc_config.network_isolation");
    assert_non_null(x);
    assert_non_null(vf_sugg(x, NULL, "true"));
    assert_null(vf_find_is(&f->is, "NETWORK_ISOLATION_REQUIRED", "spec.steps[1].vpc_config.network_isolation"));
    x = vf_find_is(&f->is, "INTERRUPTIBLE_NOT_ALLOWED", "spec.steps[0].interruptible");
    assert_non_null(x);
    assert_string_equal(x->severity, "warning");
}

static void test_prod_environment_vpc_satisfies_isolation(void **state)
{
    fx *f = *state;
    /* the adapter gives steps the environment's VPC (isolated in prod) */
    run(f, acms_profiles_env(&f->p, "prod"),
        "    - {name: prep, type: processing, command: [true], instance_type: ml.m5.xlarge,\n"
        "       output_path: s3://acme-ml/x}\n");
    assert_null(vf_find_is(&f->is, "NETWORK_ISOLATION_REQUIRED", NULL));
    assert_int_equal(f->is.n, 0);
}

static void test_gpu_advice_region_and_executor(void **state)
{
    fx *f = *state;
    Acms__V1__Environment *env = vf_env_doc(f->a,
        "apiVersion: acms/v1\nkind: Environment\nmetadata: {name: bare}\nspec:\n  executor: local\n");
    run(f, env,
        "    - {name: train, type: training, command: [true], instance_type: ml.m5.xlarge}\n"
        "    - {name: remote, type: processing, command: [true], instance_type: ml.m5.large, executor: http}\n"
        "    - {name: gpu, type: training, command: [true], instance_type: ml.g5.xlarge}\n");
    const Acms__V1__ValidationIssue *x = vf_find_is(&f->is, "NO_GPU_FOR_TRAINING", "spec.steps[0].instance_type");
    assert_non_null(x);
    assert_string_equal(x->severity, "info");
    /* the cheapest type with >= 4 vCPU, 16 GiB and a GPU: ml.g4dn.xlarge */
    assert_non_null(vf_sugg(x, NULL, "ml.g4dn.xlarge"));
    assert_null(vf_find_is(&f->is, "NO_GPU_FOR_TRAINING", "spec.steps[2].instance_type"));
    assert_non_null(vf_find_is(&f->is, "ENV_NO_REGION", "environment.region"));
    assert_non_null(vf_find_is(&f->is, "EXECUTOR_UNAVAILABLE", "spec.steps[1].executor"));
}

static void test_mapped_gpu_type_gets_no_gpu_advice(void **state)
{
    fx *f = *state;
    /* dev maps ml.g4dn.xlarge to ml.m5.large: the environment's choice, not the user's */
    run(f, acms_profiles_env(&f->p, "dev"),
        "    - {name: train, type: training, command: [true], instance_type: ml.g4dn.xlarge,\n"
        "       output_path: s3://acme-ml/m}\n");
    assert_null(vf_find_is(&f->is, "NO_GPU_FOR_TRAINING", NULL));
    assert_int_equal(f->is.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unknown_type_did_you_mean, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_allowed_suggests_cheapest_allowed_fit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quotas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_network_isolation_and_interruptible, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prod_environment_vpc_satisfies_isolation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gpu_advice_region_and_executor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mapped_gpu_type_gets_no_gpu_advice, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
