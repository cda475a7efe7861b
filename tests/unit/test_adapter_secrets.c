/* SecretManager: scope checks (the services' own variables refused whatever the scopes), unresolvable
 * references, and plain-text credential detection by name and by value pattern, with findings that
 * never contain the value. Parsing and resolution: test_common_secret.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "adapter_fixture.h"

static void credential_names(void **state)
{
    (void)state;
    const char *yes[] = {"DB_PASSWORD", "GITHUB_TOKEN", "api-key", "API_KEY", "client_secret", "dbPassword",
                         "AWS_SECRET_ACCESS_KEY", "PRIVATE_KEY", "SERVICE_CREDENTIALS", "--db-passwd"};
    const char *no[] = {"TOKENIZER_PATH", "MAX_TOKENS", "PASSWORD_FILE", "ROWS", "SECRET_NAME", "KEY", "MONKEY",
                        "tokenizer", ""};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        if (!adapter_secret_name_sensitive(yes[i]))
            fail_msg("%s not flagged", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        if (adapter_secret_name_sensitive(no[i]))
            fail_msg("%s flagged", no[i]);
}

static void credential_value_patterns(void **state)
{
    (void)state;
    assert_non_null(adapter_secret_value_pattern("AKIAIOSFODNN7EXAMPLE"));
    assert_non_null(adapter_secret_value_pattern("key=AKIAIOSFODNN7EXAMPLE;"));
    assert_non_null(adapter_secret_value_pattern(
        "-----BEGIN RSA PRIVATE KEY-----\nMIIE...\n-----END RSA PRIVATE KEY-----"));
    assert_non_null(adapter_secret_value_pattern("ghp_0123456789abcdefghijABCDEFGHIJ012345"));
    assert_non_null(adapter_secret_value_pattern("xoxb-123456789012-abcdefghijkl"));
    assert_non_null(adapter_secret_value_pattern(
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"));
    assert_null(adapter_secret_value_pattern("AKIA-short"));
    assert_null(adapter_secret_value_pattern("XAKIAIOSFODNN7EXAMPLEX"));
    assert_null(adapter_secret_value_pattern("1000"));
    assert_null(adapter_secret_value_pattern("s3://acme-ml/churn/prep"));
    assert_null(adapter_secret_value_pattern("-----BEGIN CERTIFICATE-----"));
    assert_null(adapter_secret_value_pattern("eyJust-a-word"));
    assert_null(adapter_secret_value_pattern("secret://env/AKIAIOSFODNN7EXAMPLE"));
}

static const Acms__V1__SecretFinding *finding(const adapter_findings *f, const char *field)
{
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->v[i]->field, field))
            return f->v[i];
    return NULL;
}

static void check_pipeline_findings(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__Environment *e = fx_env(a, "dev");
    char *scopes[] = {"secret://env/CHURN_*", "secret://file/var/lib/acms/secrets/", "secret://env/VAULT_TOKEN"};
    e->secret_scopes = scopes;
    e->n_secret_scopes = 3;
    setenv("CHURN_DB_PASSWORD", "resolvable-value", 1);
    unsetenv("CHURN_API_TOKEN");

    Acms__V1__Pipeline *p = fx_pipeline(a, "churn");
    Acms__V1__Step *s = fx_step(a, p, "prep", "processing", "ml.m5.large");
    fx_step_env(a, s, "DB_PASSWORD", "secret://env/CHURN_DB_PASSWORD");  /* fine */
    fx_step_env(a, s, "API_TOKEN", "secret://env/CHURN_API_TOKEN");      /* unresolvable */
    fx_step_env(a, s, "OTHER", "secret://env/PROD_DB_PASSWORD");         /* out of scope */
    fx_step_env(a, s, "BROKEN", "secret://env/");                        /* malformed */
    fx_step_env(a, s, "VT", "secret://env/VAULT_TOKEN");                 /* the services' own: refused */
    fx_step_env(a, s, "ADMIN_PASSWORD", "hunter2");                      /* plain text by name */
    fx_step_env(a, s, "AWS_KEY_ID", "AKIAIOSFODNN7EXAMPLE");              /* plain text by pattern */
    fx_step_env(a, s, "ROWS", "1000");                                   /* fine */
    fx_step_env(a, s, "TOKENIZER_PATH", "/models/tok");                  /* fine */
    fx_step_env(a, s, "API_KEY", "${API_KEY}");                         /* a variable, not a value */
    const char *cmd[] = {"train.py", "--db-password=hunter2", "--rows", "10", "--token=$TOKEN",
                         "export DB_PASSWORD=$X; run"};
    s->command = (char **)cmd;
    s->n_command = 6;

    adapter_ctx ctx = {.check_secrets = 1};
    adapter_findings f;
    adapter_findings_init(&f, a);
    adapter_secrets_check(&ctx, e, p, &f);

    assert_null(finding(&f, "env.DB_PASSWORD"));
    assert_null(finding(&f, "env.ROWS"));
    assert_null(finding(&f, "env.TOKENIZER_PATH"));
    assert_string_equal(finding(&f, "env.API_TOKEN")->kind, "unresolvable_reference");
    assert_string_equal(finding(&f, "env.OTHER")->kind, "out_of_scope_reference");
    assert_non_null(strstr(finding(&f, "env.OTHER")->detail, "secret://env/CHURN_"));
    assert_string_equal(finding(&f, "env.VT")->kind, "out_of_scope_reference");
    assert_non_null(strstr(finding(&f, "env.VT")->detail, "services' own"));
    assert_string_equal(finding(&f, "env.BROKEN")->kind, "malformed_reference");
    assert_string_equal(finding(&f, "env.ADMIN_PASSWORD")->kind, "plaintext_credential");
    assert_string_equal(finding(&f, "env.AWS_KEY_ID")->kind, "plaintext_credential");
    assert_string_equal(finding(&f, "command[1]")->kind, "plaintext_credential");
    assert_null(finding(&f, "command[3]"));
    assert_null(finding(&f, "command[4]"));
    assert_null(finding(&f, "command[5]"));
    assert_null(finding(&f, "env.API_KEY"));
    assert_int_equal(f.n, 7);
    for (size_t i = 0; i < f.n; i++) {
        assert_string_equal(f.v[i]->step, "prep");
        assert_null(strstr(f.v[i]->detail, "hunter2"));
        assert_null(strstr(f.v[i]->detail, "AKIAIOSFODNN7EXAMPLE"));
        assert_null(strstr(f.v[i]->detail, "resolvable-value"));
    }

    /* Without check_secrets (acmsctl offline), scope and form are still checked, resolution is not. */
    adapter_ctx offline = {.check_secrets = 0};
    adapter_findings g;
    adapter_findings_init(&g, a);
    adapter_secrets_check(&offline, e, p, &g);
    assert_null(finding(&g, "env.API_TOKEN"));
    assert_non_null(finding(&g, "env.OTHER"));
    assert_int_equal(g.n, 6);
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(credential_names),
        cmocka_unit_test(credential_value_patterns),
        cmocka_unit_test(check_pipeline_findings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
