/* SecretManager: reference parsing, env and file resolution (values never in errstr), scope checks,
 * unresolvable references, and plain-text credential detection by name and by value pattern, with
 * findings that never contain the value. Vault resolution is covered by the integration tests
 * (tests/lib/vault_mock.py); here only its configuration error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "adapter/secrets.h"
#include "adapter_fixture.h"

static void parse_valid_references(void **state)
{
    (void)state;
    adapter_secret_ref r;
    assert_int_equal(adapter_secret_parse("secret://env/CHURN_DB_PASSWORD", &r), ACMS_OK);
    assert_int_equal(r.kind, ADAPTER_SECRET_ENV);
    assert_string_equal(r.path, "CHURN_DB_PASSWORD");
    assert_int_equal(adapter_secret_parse("secret://file/run/secrets/db", &r), ACMS_OK);
    assert_int_equal(r.kind, ADAPTER_SECRET_FILE);
    assert_string_equal(r.path, "/run/secrets/db");
    assert_int_equal(adapter_secret_parse("secret://file//etc/acms/token", &r), ACMS_OK);
    assert_string_equal(r.path, "/etc/acms/token");
    assert_int_equal(adapter_secret_parse("secret://vault/kv/data/prod/db#password", &r), ACMS_OK);
    assert_int_equal(r.kind, ADAPTER_SECRET_VAULT);
    assert_string_equal(r.path, "kv/data/prod/db");
    assert_string_equal(r.key, "password");
}

static void parse_rejects_malformed_references(void **state)
{
    (void)state;
    adapter_secret_ref r;
    assert_int_equal(adapter_secret_parse("plain", &r), ACMS_ERR_NOTFOUND);
    assert_int_equal(adapter_secret_parse(NULL, &r), ACMS_ERR_NOTFOUND);
    const char *bad[] = {
        "secret://",        "secret://env/",           "secret://env/1ABC",         "secret://env/A-B",
        "secret://file/",   "secret://file/a/../../etc/passwd", "secret://vault/kv/data/db",
        "secret://vault/kv/data/db#", "secret://vault/#key", "secret://vault/kv/../db#k",
        "secret://vault/kv/data db#k", "secret://ssm/x", "secret://vault//kv/db#k",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (adapter_secret_parse(bad[i], &r) != ACMS_ERR_INVALID)
            fail_msg("accepted %s", bad[i]);
        assert_int_equal(r.kind, 0);
    }
}

static void resolve_env_and_file_without_leaking(void **state)
{
    (void)state;
    char buf[64], err[256];
    setenv("ACMS_TEST_SECRET_X", "hunter2-value", 1);
    assert_int_equal(adapter_secret_resolve(NULL, "secret://env/ACMS_TEST_SECRET_X", buf, sizeof buf, err, sizeof err),
                     ACMS_OK);
    assert_string_equal(buf, "hunter2-value");
    unsetenv("ACMS_TEST_SECRET_MISSING");
    assert_int_equal(
        adapter_secret_resolve(NULL, "secret://env/ACMS_TEST_SECRET_MISSING", buf, sizeof buf, err, sizeof err),
        ACMS_ERR_NOTFOUND);
    assert_non_null(strstr(err, "ACMS_TEST_SECRET_MISSING"));
    assert_string_equal(buf, "");

    /* Too small a buffer: refused, wiped, the value not in errstr. */
    char small[8];
    const char *x = "secret://env/ACMS_TEST_SECRET_X";
    assert_int_equal(adapter_secret_resolve(NULL, x, small, sizeof small, err, sizeof err), ACMS_ERR_LIMIT);
    assert_null(strstr(err, "hunter2"));
    for (size_t i = 0; i < sizeof small; i++)
        assert_int_equal(small[i], 0);

    char path[] = "/tmp/acms-secret-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "s3cr3t-file\n", 12), 12);
    close(fd);
    char ref[128];
    snprintf(ref, sizeof ref, "secret://file%s", path);
    assert_int_equal(adapter_secret_resolve(NULL, ref, buf, sizeof buf, err, sizeof err), ACMS_OK);
    assert_string_equal(buf, "s3cr3t-file");
    assert_int_equal(adapter_secret_resolve(NULL, ref, small, sizeof small, err, sizeof err), ACMS_ERR_LIMIT);
    assert_null(strstr(err, "s3cr3t"));
    unlink(path);
    assert_int_equal(adapter_secret_resolve(NULL, ref, buf, sizeof buf, err, sizeof err), ACMS_ERR_NOTFOUND);

    /* Vault without VAULT_ADDR is a configuration error, not a network call. */
    adapter_ctx ctx = {0};
    const char *v = "secret://vault/kv/data/db#password";
    assert_int_equal(adapter_secret_resolve(&ctx, v, buf, sizeof buf, err, sizeof err), ACMS_ERR_INVALID);
    assert_non_null(strstr(err, "VAULT_ADDR"));
}

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
    char *scopes[] = {"secret://env/CHURN_", "secret://file/run/secrets/"};
    e->secret_scopes = scopes;
    e->n_secret_scopes = 2;
    setenv("CHURN_DB_PASSWORD", "resolvable-value", 1);
    unsetenv("CHURN_API_TOKEN");

    Acms__V1__Pipeline *p = fx_pipeline(a, "churn");
    Acms__V1__Step *s = fx_step(a, p, "prep", "processing", "ml.m5.large");
    fx_step_env(a, s, "DB_PASSWORD", "secret://env/CHURN_DB_PASSWORD");  /* fine */
    fx_step_env(a, s, "API_TOKEN", "secret://env/CHURN_API_TOKEN");      /* unresolvable */
    fx_step_env(a, s, "OTHER", "secret://env/PROD_DB_PASSWORD");         /* out of scope */
    fx_step_env(a, s, "BROKEN", "secret://env/");                        /* malformed */
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
    assert_string_equal(finding(&f, "env.BROKEN")->kind, "malformed_reference");
    assert_string_equal(finding(&f, "env.ADMIN_PASSWORD")->kind, "plaintext_credential");
    assert_string_equal(finding(&f, "env.AWS_KEY_ID")->kind, "plaintext_credential");
    assert_string_equal(finding(&f, "command[1]")->kind, "plaintext_credential");
    assert_null(finding(&f, "command[3]"));
    assert_null(finding(&f, "command[4]"));
    assert_null(finding(&f, "command[5]"));
    assert_null(finding(&f, "env.API_KEY"));
    assert_int_equal(f.n, 6);
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
    assert_int_equal(g.n, 5);
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_valid_references),
        cmocka_unit_test(parse_rejects_malformed_references),
        cmocka_unit_test(resolve_env_and_file_without_leaking),
        cmocka_unit_test(credential_names),
        cmocka_unit_test(credential_value_patterns),
        cmocka_unit_test(check_pipeline_findings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
