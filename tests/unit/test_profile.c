/* The configuration directory: examples/ loads (catalogue, three environments, two policies) and
 * its secret scopes are narrow (no whole backend, nothing under /proc, /etc, /sys, /dev or a
 * stack's run/); unset environment fields get their defaults; policies resolve per environment and
 * rules match environments and step types; a broken profile is refused with file:line, including
 * one whose secret scope is a whole backend. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "doc_fixture.h"
#include "profile.h"
#include "secret.h"

#define CATALOG                                                                          \
    "apiVersion: acms/v1\nkind: InstanceCatalog\nspec:\n  instance_types:\n"             \
    "    - {name: ml.m5.large, vcpu: 2, memory_gib: 8, price_per_hour: 0.115}\n"

static void test_examples_load(void **state)
{
    (void)state;
    acms_profiles p;
    char dir[PATH_MAX], err[512] = "";
    assert_non_null(dfx_path(dir, sizeof dir, "examples"));
    int rc = acms_profiles_load(&p, dir, err, sizeof err);
    if (rc != ACMS_OK) fail_msg("%s", err);
    assert_true(p.catalog.n >= 39);
    assert_int_equal(p.nenvs, 3);
    assert_int_equal(p.npolicies, 2);
    const Acms__V1__Environment *dev = acms_profiles_env(&p, "dev");
    assert_non_null(dev);
    assert_string_equal(dev->region, "us-east-1");
    assert_string_equal(dev->executor, "local");
    assert_int_equal(dev->max_parallel, 4);
    assert_int_equal(dev->default_max_attempts, 3);
    assert_true(dev->memory_scale == 0.0625);
    assert_string_equal(dev->learning_mode, "apply");
    assert_false(dev->require_network_isolation);
    const Acms__V1__Environment *prod = acms_profiles_env(&p, "prod");
    assert_non_null(prod);
    assert_true(prod->require_network_isolation);
    assert_true(prod->vpc && prod->vpc->set && prod->vpc->n_subnets > 0);
    assert_string_equal(prod->learning_mode, "shadow");
    assert_string_equal(prod->allowed_output_prefixes[0], "s3://acme-ml-prod/");
    assert_non_null(acms_profiles_env(&p, "staging"));
    assert_null(acms_profiles_env(&p, "qa"));
    /* every instance type an environment names is in the catalogue */
    for (size_t i = 0; i < p.nenvs; i++) {
        const Acms__V1__Environment *e = p.envs[i];
        for (size_t k = 0; k < e->n_instance_map; k++) {
            assert_non_null(acms_catalog_find(&p.catalog, e->instance_map[k]->from));
            assert_non_null(acms_catalog_find(&p.catalog, e->instance_map[k]->to));
        }
        for (size_t k = 0; k < e->n_allowed_instance_types; k++)
            assert_non_null(acms_catalog_find(&p.catalog, e->allowed_instance_types[k]));
        if (e->default_instance_type[0]) assert_non_null(acms_catalog_find(&p.catalog, e->default_instance_type));
    }

    /* the shipped scopes are narrow: no whole backend, no system or stack files */
    for (size_t i = 0; i < p.nenvs; i++)
        for (size_t k = 0; k < p.envs[i]->n_secret_scopes; k++) {
            const char *sc = p.envs[i]->secret_scopes[k];
            assert_null(acms_secret_scope_problem(sc));
            const char *bad[] = {"secret://file/proc", "secret://file/etc", "secret://file/sys", "secret://file/dev",
                                 "secret://env/ACMS_", "secret://env/VAULT_"};
            for (size_t b = 0; b < sizeof bad / sizeof *bad; b++)
                if (!strncmp(sc, bad[b], strlen(bad[b])))
                    fail_msg("environment %s: scope %s", p.envs[i]->name, sc);
            if (strstr(sc, "/run/"))
                fail_msg("environment %s: scope %s reaches a stack's run/", p.envs[i]->name, sc);
        }

    const Acms__V1__Policy *pols[8];
    size_t n = acms_profiles_policies_for(&p, prod, pols, 8);
    assert_int_equal(n, 2);
    assert_string_equal(pols[0]->name, "baseline");
    assert_string_equal(pols[1]->name, "prod-baseline");
    assert_int_equal(acms_profiles_policies_for(&p, prod, pols, 1), 1);
    n = acms_profiles_policies_for(&p, dev, pols, 8);
    assert_int_equal(n, 1);
    assert_string_equal(pols[0]->name, "baseline");

    assert_int_equal(acms_profiles_policies_for(&p, prod, pols, 8), 2);
    const Acms__V1__Policy *pb = pols[1]; /* prod-baseline */
    const Acms__V1__PolicyRule *spot = NULL, *encrypt = NULL;
    for (size_t i = 0; i < pb->n_rules; i++) {
        if (!strcmp(pb->rules[i]->id, "POL-PROD-NO-SPOT-TRAINING")) spot = pb->rules[i];
        if (!strcmp(pb->rules[i]->id, "POL-PROD-ENCRYPT")) encrypt = pb->rules[i];
        assert_true(pb->rules[i]->severity[0] && pb->rules[i]->action[0]); /* defaults filled */
    }
    assert_non_null(spot);
    assert_non_null(encrypt);
    assert_string_equal(encrypt->value, "true");
    assert_true(acms_policy_rule_applies(encrypt, "prod", "processing"));
    assert_false(acms_policy_rule_applies(encrypt, "dev", "processing"));
    assert_true(acms_policy_rule_applies(spot, "prod", "training"));
    assert_false(acms_policy_rule_applies(spot, "prod", "processing"));
    assert_false(acms_policy_rule_applies(spot, "prod", NULL));
    acms_profiles_release(&p);
    assert_null(p.arena);
}

static void test_defaults(void **state)
{
    (void)state;
    acms_profiles p;
    char dir[64], err[512] = "";
    assert_non_null(dfx_tmpdir(dir, sizeof dir));
    assert_int_equal(dfx_write(dir, "catalog.yaml", CATALOG), 0);
    assert_int_equal(dfx_write(dir, "environments/min.yaml",
                               "apiVersion: acms/v1\nkind: Environment\nmetadata: {name: min}\nspec: {}\n"),
                     0);
    assert_int_equal(dfx_write(dir, "policies/all.yaml",
                               "apiVersion: acms/v1\nkind: Policy\nmetadata: {name: all}\n"
                               "spec: {rules: [{id: R, field: tags.owner, op: present}]}\n"),
                     0);
    assert_int_equal(dfx_write(dir, "policies/README.txt", "not a document\n"), 0);
    int rc = acms_profiles_load(&p, dir, err, sizeof err);
    if (rc != ACMS_OK) fail_msg("%s", err);
    const Acms__V1__Environment *e = acms_profiles_env(&p, "min");
    assert_non_null(e);
    assert_string_equal(e->executor, "local");
    assert_int_equal(e->max_parallel, 4);
    assert_int_equal(e->default_max_attempts, 3);
    assert_true(e->safety_threshold == 0.8);
    assert_true(e->memory_scale == 1.0);
    assert_string_equal(e->learning_mode, "apply");
    const Acms__V1__Policy *pols[4];
    assert_int_equal(acms_profiles_policies_for(&p, e, pols, 4), 1); /* empty list = every policy */
    assert_string_equal(pols[0]->rules[0]->severity, "error");
    assert_string_equal(pols[0]->rules[0]->action, "audit");
    assert_true(acms_policy_rule_applies(pols[0]->rules[0], "min", NULL));
    acms_profiles_release(&p);
    dfx_rmdir(dir);
}

static void test_bad_profile_names_file_and_line(void **state)
{
    (void)state;
    acms_profiles p;
    char dir[64], file[PATH_MAX], want[PATH_MAX + 128], err[512] = "";
    assert_non_null(dfx_tmpdir(dir, sizeof dir));
    assert_int_equal(dfx_write(dir, "catalog.yaml", CATALOG), 0);
    assert_int_equal(dfx_write(dir, "environments/broken.yaml",
                               "apiVersion: acms/v1\nkind: Environment\nmetadata: {name: broken}\nspec:\n"
                               "  region: us-east-1\n  memroy_scale: 0.5\n"),
                     0);
    assert_int_equal(acms_profiles_load(&p, dir, err, sizeof err), ACMS_ERR_INVALID);
    assert_null(p.arena); /* nothing to release */
    assert_non_null(dfx_join(file, sizeof file, dir, "environments/broken.yaml"));
    snprintf(want, sizeof want, "%s:6: spec.memroy_scale: unknown field 'memroy_scale' (did you mean 'memory_scale'?)",
             file);
    assert_string_equal(err, want);

    /* a syntax error names the file and the line too */
    assert_int_equal(dfx_write(dir, "environments/broken.yaml", "apiVersion: acms/v1\nkind: [Environment\n"), 0);
    assert_int_equal(acms_profiles_load(&p, dir, err, sizeof err), ACMS_ERR_INVALID);
    assert_non_null(strstr(err, file));
    assert_non_null(strstr(err, "line 3"));

    /* an environment naming a policy that does not exist */
    assert_int_equal(dfx_write(dir, "environments/broken.yaml",
                               "apiVersion: acms/v1\nkind: Environment\nmetadata: {name: e}\nspec: {policies: [nope]}\n"),
                     0);
    assert_int_equal(acms_profiles_load(&p, dir, err, sizeof err), ACMS_ERR_INVALID);
    assert_non_null(strstr(err, "policy 'nope'"));

    /* the wrong kind in the environments directory */
    assert_int_equal(dfx_write(dir, "environments/broken.yaml",
                               "apiVersion: acms/v1\nkind: Policy\nmetadata: {name: e}\nspec: {}\n"),
                     0);
    assert_int_equal(acms_profiles_load(&p, dir, err, sizeof err), ACMS_ERR_INVALID);
    assert_non_null(strstr(err, "expected kind Environment"));

    /* an instance type the catalogue does not know */
    assert_int_equal(dfx_write(dir, "environments/broken.yaml",
                               "apiVersion: acms/v1\nkind: Environment\nmetadata: {name: e}\nspec:\n"
                               "  instance_map:\n    ml.m5.large: ml.m5.larg\n"),
                     0);
    assert_int_equal(acms_profiles_load(&p, dir, err, sizeof err), ACMS_ERR_INVALID);
    snprintf(want, sizeof want, "%s:6: unknown instance type 'ml.m5.larg'", file);
    assert_non_null(strstr(err, want));

    /* two environments with one name */
    assert_int_equal(dfx_write(dir, "environments/broken.yaml",
                               "apiVersion: acms/v1\nkind: Environment\nmetadata: {name: e}\nspec: {}\n---\n"
                               "apiVersion: acms/v1\nkind: Environment\nmetadata: {name: e}\nspec: {}\n"),
                     0);
    assert_int_equal(acms_profiles_load(&p, dir, err, sizeof err), ACMS_ERR_INVALID);
    assert_non_null(strstr(err, "defined twice"));

    /* a secret scope that is a whole backend (it would reach the services' credentials or any file) */
    assert_int_equal(dfx_write(dir, "environments/broken.yaml",
                               "apiVersion: acms/v1\nkind: Environment\nmetadata: {name: e}\nspec:\n"
                               "  secret_scopes:\n    - \"secret://env/DEV_*\"\n    - \"secret://env/\"\n"),
                     0);
    assert_int_equal(acms_profiles_load(&p, dir, err, sizeof err), ACMS_ERR_INVALID);
    snprintf(want, sizeof want, "%s:7: secret scope 'secret://env/'", file);
    if (!strstr(err, want))
        fail_msg("expected '%s' in: %s", want, err);
    dfx_rmdir(dir);

    assert_int_equal(acms_profiles_load(&p, "/nonexistent/acms", err, sizeof err), ACMS_ERR_NOTFOUND);
    assert_non_null(dfx_tmpdir(dir, sizeof dir));
    assert_int_equal(acms_profiles_load(&p, dir, err, sizeof err), ACMS_ERR_NOTFOUND); /* no catalogue */
    dfx_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples_load),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_bad_profile_names_file_and_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
