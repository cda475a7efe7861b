/* test_enforce_matrix.c: the enforcement matrix. Every executor states every field with a reason;
 * the local executor enforces memory, vCPU, network isolation, volume size and runtime and does not
 * enforce encryption or GPUs; policy fields map to matrix fields; and the validator turns a policy
 * requiring what the executor cannot enforce into ENFORCEMENT_GAP: an error where the environment
 * sets require_enforcement (prod), a warning elsewhere, nothing for an executor that does its best. */
#include "validator_fixture.h"

#include "enforce.h"

static void test_every_cell_is_stated(void **state)
{
    (void)state;
    const acms_enf_column *cols;
    size_t n = acms_enf_columns(&cols);
    assert_true(n >= 2);
    for (size_t k = 0; k < n; k++) {
        assert_non_null(cols[k].executor);
        assert_ptr_equal(acms_enf_executor(cols[k].executor), &cols[k]);
        for (int f = 0; f < ACMS_ENF__COUNT; f++) {
            assert_non_null(cols[k].cell[f].how);
            assert_true(strlen(cols[k].cell[f].how) > 10);
        }
    }
    assert_ptr_equal(acms_enf_executor(NULL), acms_enf_executor("local"));
    assert_ptr_equal(acms_enf_executor(""), acms_enf_executor("local"));
    assert_null(acms_enf_executor("mainframe"));
    assert_string_equal(acms_enf_level_name(ACMS_ENF_BEST_EFFORT), "best effort");
    assert_string_equal(acms_enf_field_name(ACMS_ENF_NETWORK_ISOLATION), "network_isolation");
}

static void test_local_and_http_columns(void **state)
{
    (void)state;
    const acms_enf_column *l = acms_enf_executor("local"), *h = acms_enf_executor("http");
    assert_int_equal(l->cell[ACMS_ENF_MEMORY].level, ACMS_ENF_ENFORCED);
    assert_int_equal(l->cell[ACMS_ENF_VCPU].level, ACMS_ENF_ENFORCED);
    assert_int_equal(l->cell[ACMS_ENF_NETWORK_ISOLATION].level, ACMS_ENF_ENFORCED);
    assert_int_equal(l->cell[ACMS_ENF_VOLUME_SIZE].level, ACMS_ENF_ENFORCED);
    assert_int_equal(l->cell[ACMS_ENF_MAX_RUNTIME].level, ACMS_ENF_ENFORCED);
    assert_int_equal(l->cell[ACMS_ENF_ENCRYPT_VOLUME].level, ACMS_ENF_NOT);
    assert_int_equal(l->cell[ACMS_ENF_GPUS].level, ACMS_ENF_NOT);
    assert_int_equal(l->cell[ACMS_ENF_INTERRUPTIBLE].level, ACMS_ENF_NOT);
    assert_int_equal(h->cell[ACMS_ENF_MAX_RUNTIME].level, ACMS_ENF_ENFORCED);
    assert_int_equal(h->cell[ACMS_ENF_ENCRYPT_VOLUME].level, ACMS_ENF_BEST_EFFORT);
    assert_int_equal(h->cell[ACMS_ENF_MEMORY].level, ACMS_ENF_BEST_EFFORT);
}

static void test_policy_fields_and_requests(void **state)
{
    (void)state;
    assert_int_equal(acms_enf_field_of("encrypt_volume"), ACMS_ENF_ENCRYPT_VOLUME);
    assert_int_equal(acms_enf_field_of("vpc_config.network_isolation"), ACMS_ENF_NETWORK_ISOLATION);
    assert_int_equal(acms_enf_field_of("resources.memory_mb"), ACMS_ENF_MEMORY);
    assert_int_equal(acms_enf_field_of("memory_mb"), ACMS_ENF_MEMORY);
    assert_int_equal(acms_enf_field_of("resources.gpus"), ACMS_ENF_GPUS);
    assert_int_equal(acms_enf_field_of("max_runtime_s"), ACMS_ENF_MAX_RUNTIME);
    assert_int_equal(acms_enf_field_of("tags.owner"), -1);
    assert_int_equal(acms_enf_field_of("output_path"), -1);

    Acms__V1__Step s = ACMS__V1__STEP__INIT;
    Acms__V1__Resources r = ACMS__V1__RESOURCES__INIT;
    Acms__V1__VpcConfig v = ACMS__V1__VPC_CONFIG__INIT;
    for (int f = 0; f < ACMS_ENF__COUNT; f++)
        assert_false(acms_enf_step_asks(&s, (acms_enf_field)f));
    r.memory_mb = 512;
    r.gpus = 1;
    v.network_isolation = 1;
    s.resources = &r;
    s.vpc_config = &v;
    s.encrypt_volume = 1;
    s.volume_size_gb = 30;
    assert_true(acms_enf_step_asks(&s, ACMS_ENF_MEMORY));
    assert_true(acms_enf_step_asks(&s, ACMS_ENF_GPUS));
    assert_true(acms_enf_step_asks(&s, ACMS_ENF_NETWORK_ISOLATION));
    assert_true(acms_enf_step_asks(&s, ACMS_ENF_ENCRYPT_VOLUME));
    assert_true(acms_enf_step_asks(&s, ACMS_ENF_VOLUME_SIZE));
    assert_false(acms_enf_step_asks(&s, ACMS_ENF_INTERRUPTIBLE));
    Acms__V1__Environment env = ACMS__V1__ENVIRONMENT__INIT;
    assert_string_equal(acms_enf_step_executor(&s, NULL), "local");
    env.executor = "http";
    assert_string_equal(acms_enf_step_executor(&s, &env), "http");
    s.executor = "local";
    assert_string_equal(acms_enf_step_executor(&s, &env), "local");
}

static const char *pipeline = "apiVersion: acms/v1\nkind: Pipeline\nmetadata: {name: gap}\nspec:\n  steps:\n"
                              "    - name: a\n"
                              "      type: processing\n"
                              "      command: ['true']\n"
                              "      instance_type: ml.m5.xlarge\n"
                              "      max_runtime_s: 600\n"
                              "      encrypt_volume: true\n"
                              "      output_path: s3://acme-ml/x\n";

/* ENFORCEMENT_GAP issues of the pipeline validated for env (with its executor replaced when given). */
static size_t gaps(acms_arena *a, acms_profiles *p, const char *env_name, const char *executor, int strict,
                   const char **severity)
{
    const Acms__V1__Environment *orig = acms_profiles_env(p, env_name);
    Acms__V1__Environment *env = acms_arena_alloc(a, sizeof *env);
    *env = *orig;
    if (executor)
        env->executor = (char *)executor;
    if (strict >= 0)
        env->require_enforcement = strict;
    const Acms__V1__Value *doc = vf_doc(a, pipeline);
    Acms__V1__RuntimeConfiguration *rc = vf_runtime(a, p, env, doc);
    validator_input in = vf_input(p, rc, doc);
    acms_issues is;
    acms_issues_init(&is, a, "security");
    validator_security(&in, a, &is);
    const Acms__V1__ValidationIssue *x = vf_find_is(&is, "ENFORCEMENT_GAP", "spec.steps[0].encrypt_volume");
    *severity = x ? x->severity : "";
    return vf_count_is(&is, "ENFORCEMENT_GAP");
}

static void test_validator_gap(void **state)
{
    (void)state;
    acms_profiles p;
    vf_profiles(&p);
    acms_arena *a = acms_arena_new(0);
    const char *sev;
    /* prod as shipped: require_enforcement, local executor, POL-PROD-ENCRYPT requires encrypt_volume */
    assert_int_equal(gaps(a, &p, "prod", NULL, -1, &sev), 1);
    assert_string_equal(sev, "error");
    /* the same policies where enforcement is not required: a warning */
    assert_int_equal(gaps(a, &p, "prod", NULL, 0, &sev), 1);
    assert_string_equal(sev, "warning");
    /* an executor that passes encryption on to its worker: no gap */
    assert_int_equal(gaps(a, &p, "prod", "http", -1, &sev), 0);
    /* dev has no rule requiring encryption */
    assert_int_equal(gaps(a, &p, "dev", NULL, 1, &sev), 0);
    acms_arena_free(a);
    acms_profiles_release(&p);
}

/* docs/execution.md holds the same table: a row per field, a cell per column starting with its level. */
static void test_docs_table_matches(void **state)
{
    (void)state;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/docs/execution.md", vf_repo());
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    const acms_enf_column *cols;
    size_t n = acms_enf_columns(&cols);
    int rows = 0;
    char line[4096];
    while (fgets(line, sizeof line, fp)) {
        for (int f = 0; f < ACMS_ENF__COUNT; f++) {
            char head[64];
            snprintf(head, sizeof head, "| `%s` | ", acms_enf_field_name((acms_enf_field)f));
            if (strncmp(line, head, strlen(head)))
                continue;
            rows++;
            const char *cell = line + strlen(head);
            for (size_t k = 0; k < n; k++) {
                const char *lv = acms_enf_level_name(cols[k].cell[f].level);
                if (strncmp(cell, lv, strlen(lv)))
                    fail_msg("docs/execution.md: %s, executor %s: expected '%s' at '%.30s'",
                             acms_enf_field_name((acms_enf_field)f), cols[k].executor, lv, cell);
                const char *bar = strstr(cell, " | ");
                cell = bar ? bar + 3 : cell + strlen(cell);
            }
        }
    }
    fclose(fp);
    assert_int_equal(rows, ACMS_ENF__COUNT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_cell_is_stated),
        cmocka_unit_test(test_local_and_http_columns),
        cmocka_unit_test(test_policy_fields_and_requests),
        cmocka_unit_test(test_validator_gap),
        cmocka_unit_test(test_docs_table_matches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
