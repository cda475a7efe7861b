/* common/secret: the one parser of secret references (forms the validator and the adapter used to
 * judge differently), scopes per variable, prefix and folder, the services' own variables never
 * resolving (secret://env/VAULT_TOKEN), and file references that cannot escape their folder through
 * a symbolic link, a FIFO or /proc. Values never appear in errstr. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secret.h"

static void parse_valid_references(void **state)
{
    (void)state;
    acms_secret_ref r;
    assert_int_equal(acms_secret_parse("secret://env/CHURN_DB_PASSWORD", &r, NULL), ACMS_OK);
    assert_int_equal(r.kind, ACMS_SECRET_ENV);
    assert_string_equal(r.path, "CHURN_DB_PASSWORD");
    assert_int_equal(acms_secret_parse("secret://file/var/lib/acms/db", &r, NULL), ACMS_OK);
    assert_int_equal(r.kind, ACMS_SECRET_FILE);
    assert_string_equal(r.path, "/var/lib/acms/db");
    assert_int_equal(acms_secret_parse("secret://file//etc/acms/token", &r, NULL), ACMS_OK);
    assert_string_equal(r.path, "/etc/acms/token");
    assert_int_equal(acms_secret_parse("secret://vault/kv/data/prod/db#password", &r, NULL), ACMS_OK);
    assert_int_equal(r.kind, ACMS_SECRET_VAULT);
    assert_string_equal(r.path, "kv/data/prod/db");
    assert_string_equal(r.key, "password");
}

static void parse_rejects_malformed_references(void **state)
{
    (void)state;
    acms_secret_ref r;
    const char *why = NULL;
    assert_int_equal(acms_secret_parse("plain", &r, &why), ACMS_ERR_NOTFOUND);
    assert_int_equal(acms_secret_parse(NULL, &r, NULL), ACMS_ERR_NOTFOUND);
    const char *bad[] = {
        "secret://", "secret://env/", "secret://env/1ABC", "secret://env/A-B", "secret://file/",
        "secret://file/a/../../etc/passwd", "secret://file/a//b", "secret://file/a/./b", "secret://file/a/",
        "secret://vault/kv/data/db", "secret://vault/kv/data/db#", "secret://vault/#key", "secret://vault/kv/../db#k",
        "secret://vault/kv/data db#k", "secret://ssm/x", "secret://vault//kv/db#k", "secret://vault/kv//data/db#k",
        "secret://vault/kv/data/db#a#b", "secret://vault/kv/data/db/#k", "secret://env/A B", "secret://file/a\tb",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        why = NULL;
        if (acms_secret_parse(bad[i], &r, &why) != ACMS_ERR_INVALID)
            fail_msg("accepted %s", bad[i]);
        assert_non_null(why);
        assert_int_equal(r.kind, 0);
    }
}

/* secret://k8s/<secret>#<key>: the kubernetes executor's form, parsed and scoped by the same
 * module, and never resolved by a service (only a Pod reads it, through a secretKeyRef). */
static void kubernetes_references(void **state)
{
    (void)state;
    acms_secret_ref r;
    char buf[64], err[256];
    assert_int_equal(acms_secret_parse("secret://k8s/model-registry#api-key", &r, NULL), ACMS_OK);
    assert_int_equal(r.kind, ACMS_SECRET_K8S);
    assert_string_equal(r.path, "model-registry");
    assert_string_equal(r.key, "api-key");
    const char *bad[] = {"secret://k8s/Upper#k", "secret://k8s/name", "secret://k8s/#k", "secret://k8s/-x#k",
                         "secret://k8s/x#", "secret://k8s/a/b#k"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (acms_secret_parse(bad[i], &r, NULL) != ACMS_ERR_INVALID)
            fail_msg("accepted %s", bad[i]);
    char *scopes[] = {"secret://k8s/model-registry", "secret://k8s/team-a-*", "secret://k8s/db#password"};
    assert_null(acms_secret_scope_problem(scopes[0]));
    assert_null(acms_secret_scope_problem(scopes[1]));
    assert_null(acms_secret_scope_problem(scopes[2]));
    assert_non_null(acms_secret_scope_problem("secret://k8s/"));
    assert_non_null(acms_secret_scope_problem("secret://k8s/*"));
    acms_secret_parse("secret://k8s/model-registry#any", &r, NULL);
    assert_true(acms_secret_in_scope(&r, scopes, 3));
    acms_secret_parse("secret://k8s/team-a-db#k", &r, NULL);
    assert_true(acms_secret_in_scope(&r, scopes, 3));
    acms_secret_parse("secret://k8s/db#user", &r, NULL);
    assert_false(acms_secret_in_scope(&r, scopes, 3));
    acms_secret_parse("secret://k8s/model-registry2#k", &r, NULL);
    assert_false(acms_secret_in_scope(&r, scopes, 3));
    assert_int_equal(acms_secret_resolve(NULL, "secret://k8s/model-registry#k", scopes, 3, buf, sizeof buf, err,
                                         sizeof err),
                     ACMS_ERR_INVALID);
    assert_string_equal(buf, "");
    assert_non_null(strstr(err, "kubernetes executor"));
}

static int in(const char *ref, char *const *scopes, size_t n)
{
    acms_secret_ref r;
    assert_int_equal(acms_secret_parse(ref, &r, NULL), ACMS_OK);
    return acms_secret_in_scope(&r, scopes, n);
}

static void scopes_per_variable_prefix_and_folder(void **state)
{
    (void)state;
    char *s[] = {"secret://env/CHURN_DB_PASSWORD", "secret://env/DEV_*", "secret://file/srv/secrets/dev/",
                 "secret://file/srv/one-token", "secret://vault/kv/data/dev/", "secret://vault/kv/data/x#k"};
    size_t n = sizeof s / sizeof *s;
    assert_true(in("secret://env/CHURN_DB_PASSWORD", s, n));
    assert_false(in("secret://env/CHURN_DB_PASSWORD2", s, n));
    assert_false(in("secret://env/CHURN_DB", s, n));
    assert_true(in("secret://env/DEV_TOKEN", s, n));
    assert_false(in("secret://env/DEVX", s, n));
    assert_true(in("secret://file/srv/secrets/dev/db", s, n));
    assert_true(in("secret://file/srv/secrets/dev/a/b", s, n));
    assert_false(in("secret://file/srv/secrets/devx/db", s, n));
    assert_true(in("secret://file/srv/one-token", s, n));
    assert_false(in("secret://file/srv/one-token2", s, n));
    assert_true(in("secret://vault/kv/data/dev/db#password", s, n));
    assert_false(in("secret://vault/kv/data/development/db#password", s, n));
    assert_true(in("secret://vault/kv/data/x#k", s, n));
    assert_false(in("secret://vault/kv/data/x#other", s, n));
    /* a whole backend or "*" is no scope: it matches nothing and a profile naming it is refused */
    char *wide[] = {"*", "secret://env/", "secret://file/", "secret://vault/", "secret://env/A-*"};
    for (size_t i = 0; i < sizeof wide / sizeof *wide; i++)
        assert_non_null(acms_secret_scope_problem(wide[i]));
    assert_false(in("secret://env/DEV_TOKEN", wide, 5));
    assert_false(in("secret://file/etc/shadow", wide, 5));
    for (size_t i = 0; i < n; i++)
        assert_null(acms_secret_scope_problem(s[i]));
}

static void services_variables_never_resolve(void **state)
{
    (void)state;
    char buf[64], err[256];
    const char *names[] = {"VAULT_TOKEN", "VAULT_ADDR", "ACMS_REDIS_URL", "ACMS_MASTER_KEY_FILE", "KAFKA_PASSWORD",
                           "REDIS_PASSWORD", "REDISCLI_AUTH", "SASL_PASSWORD"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char ref[128], scope[128];
        snprintf(ref, sizeof ref, "secret://env/%s", names[i]);
        snprintf(scope, sizeof scope, "secret://env/%s", names[i]); /* even a profile naming it exactly */
        char *scopes[] = {scope};
        setenv(names[i], "service-credential-value", 1);
        assert_true(acms_secret_env_denied(NULL, names[i]));
        assert_int_equal(acms_secret_resolve(NULL, ref, scopes, 1, buf, sizeof buf, err, sizeof err), ACMS_ERR_INVALID);
        assert_string_equal(buf, "");
        assert_null(strstr(err, "service-credential-value"));
        unsetenv(names[i]);
    }
    /* the configurable deny list: names and prefixes */
    assert_true(acms_secret_env_denied("AWS_*, GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY"));
    assert_true(acms_secret_env_denied("AWS_*, GITHUB_TOKEN", "GITHUB_TOKEN"));
    assert_false(acms_secret_env_denied("AWS_*, GITHUB_TOKEN", "GITHUB_TOKEN2"));
    assert_false(acms_secret_env_denied("AWS_*", "DEV_TOKEN"));
    setenv("AWS_X", "v", 1);
    char *sc[] = {"secret://env/AWS_*"};
    acms_secret_ctx ctx = {.env_deny = "AWS_*"};
    assert_int_equal(acms_secret_resolve(&ctx, "secret://env/AWS_X", sc, 1, buf, sizeof buf, err, sizeof err),
                     ACMS_ERR_INVALID);
    assert_int_equal(acms_secret_resolve(NULL, "secret://env/AWS_X", sc, 1, buf, sizeof buf, err, sizeof err), ACMS_OK);
    unsetenv("AWS_X");
}

static void resolve_env_and_file_without_leaking(void **state)
{
    (void)state;
    char buf[64], err[256];
    char *scopes[] = {"secret://env/TEST_SECRET_*", "secret://file/tmp/"};
    setenv("TEST_SECRET_X", "hunter2-value", 1);
    assert_int_equal(acms_secret_resolve(NULL, "secret://env/TEST_SECRET_X", scopes, 2, buf, sizeof buf, err, sizeof err),
                     ACMS_OK);
    assert_string_equal(buf, "hunter2-value");
    /* out of scope: nothing resolved */
    assert_int_equal(acms_secret_resolve(NULL, "secret://env/TEST_SECRET_X", scopes + 1, 1, buf, sizeof buf, err,
                                         sizeof err),
                     ACMS_ERR_INVALID);
    assert_string_equal(buf, "");
    assert_non_null(strstr(err, "scope"));
    unsetenv("TEST_SECRET_MISSING");
    assert_int_equal(
        acms_secret_resolve(NULL, "secret://env/TEST_SECRET_MISSING", scopes, 2, buf, sizeof buf, err, sizeof err),
        ACMS_ERR_NOTFOUND);
    assert_non_null(strstr(err, "TEST_SECRET_MISSING"));

    char small[8];
    assert_int_equal(acms_secret_resolve(NULL, "secret://env/TEST_SECRET_X", scopes, 2, small, sizeof small, err,
                                         sizeof err),
                     ACMS_ERR_LIMIT);
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
    assert_int_equal(acms_secret_resolve(NULL, ref, scopes, 2, buf, sizeof buf, err, sizeof err), ACMS_OK);
    assert_string_equal(buf, "s3cr3t-file");
    assert_int_equal(acms_secret_resolve(NULL, ref, scopes, 2, small, sizeof small, err, sizeof err), ACMS_ERR_LIMIT);
    assert_null(strstr(err, "s3cr3t"));
    unlink(path);
    assert_int_equal(acms_secret_resolve(NULL, ref, scopes, 2, buf, sizeof buf, err, sizeof err), ACMS_ERR_NOTFOUND);

    /* Vault without a client is a configuration error, not a network call. */
    char *vs[] = {"secret://vault/kv/data/"};
    assert_int_equal(acms_secret_resolve(NULL, "secret://vault/kv/data/db#password", vs, 1, buf, sizeof buf, err,
                                         sizeof err),
                     ACMS_ERR_INVALID);
    assert_non_null(strstr(err, "VAULT_ADDR"));
    unsetenv("TEST_SECRET_X");
}

/* A folder in scope with links planted in it: a link to a file outside, a link to a folder outside,
 * a FIFO; and /proc named by a scope. Each is refused and nothing of the outside file is read. */
static void file_references_cannot_escape(void **state)
{
    (void)state;
    char root[] = "/tmp/acms-scope-XXXXXX";
    assert_non_null(mkdtemp(root));
    char dir[256], outside[256], p[512], scope[300], ref[600], buf[64], err[512];
    snprintf(dir, sizeof dir, "%s/allowed", root);
    snprintf(outside, sizeof outside, "%s/outside", root);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(mkdir(outside, 0700), 0);
    snprintf(p, sizeof p, "%s/prod-password", outside);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("outside-value", f);
    fclose(f);
    snprintf(scope, sizeof scope, "secret://file%s/", dir);
    char *scopes[] = {scope};

    snprintf(p, sizeof p, "%s/link", dir); /* allowed/link -> ../outside/prod-password */
    assert_int_equal(symlink("../outside/prod-password", p), 0);
    snprintf(ref, sizeof ref, "secret://file%s/link", dir);
    assert_int_equal(acms_secret_resolve(NULL, ref, scopes, 1, buf, sizeof buf, err, sizeof err), ACMS_ERR_INVALID);
    assert_non_null(strstr(err, "symbolic link"));
    assert_string_equal(buf, "");

    snprintf(p, sizeof p, "%s/sub", dir); /* allowed/sub -> ../outside */
    assert_int_equal(symlink(outside, p), 0);
    snprintf(ref, sizeof ref, "secret://file%s/sub/prod-password", dir);
    assert_int_equal(acms_secret_resolve(NULL, ref, scopes, 1, buf, sizeof buf, err, sizeof err), ACMS_ERR_INVALID);
    assert_non_null(strstr(err, "symbolic link"));
    assert_null(strstr(err, "outside-value"));

    snprintf(p, sizeof p, "%s/fifo", dir); /* a FIFO: refused at once, not waited on */
    assert_int_equal(mkfifo(p, 0600), 0);
    snprintf(ref, sizeof ref, "secret://file%s/fifo", dir);
    assert_int_equal(acms_secret_resolve(NULL, ref, scopes, 1, buf, sizeof buf, err, sizeof err), ACMS_ERR_INVALID);
    assert_non_null(strstr(err, "regular file"));

    char *proc[] = {"secret://file/proc/self/"};
    assert_int_equal(acms_secret_resolve(NULL, "secret://file/proc/self/environ", proc, 1, buf, sizeof buf, err,
                                         sizeof err),
                     ACMS_ERR_INVALID);

    snprintf(p, sizeof p, "%s/ok", dir); /* a plain file in the folder still resolves */
    f = fopen(p, "w");
    assert_non_null(f);
    fputs("inside-value\n", f);
    fclose(f);
    snprintf(ref, sizeof ref, "secret://file%s/ok", dir);
    assert_int_equal(acms_secret_resolve(NULL, ref, scopes, 1, buf, sizeof buf, err, sizeof err), ACMS_OK);
    assert_string_equal(buf, "inside-value");

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_valid_references),
        cmocka_unit_test(parse_rejects_malformed_references),
        cmocka_unit_test(kubernetes_references),
        cmocka_unit_test(scopes_per_variable_prefix_and_folder),
        cmocka_unit_test(services_variables_never_resolve),
        cmocka_unit_test(resolve_env_and_file_without_leaking),
        cmocka_unit_test(file_references_cannot_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
