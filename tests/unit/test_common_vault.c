/* The Vault client (common/vault*.c) against tests/lib/vault_mock.py on loopback: AppRole and
 * Kubernetes logins, renewal of a login token before its lease runs out, a new login when the token
 * expires under a running client (the mock expires every token at once), the namespace header, the
 * KV cache, transit as the master key of encryption at rest, and a slow Vault costing one timeout and
 * then failing fast. No assertion measures a duration: the test waits for the client's counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypt.h"
#include "vault.h"

typedef struct mock {
    pid_t pid;
    char addr[64];
} mock;

static char g_dir[64];

/* Starts vault_mock.py with extra options (NULL-terminated). */
static void mock_start(mock *m, const char *const *opts)
{
    const char *repo = getenv("ACMS_REPO") ? getenv("ACMS_REPO") : ".";
    char script[600], secrets[128];
    snprintf(script, sizeof script, "%s/tests/lib/vault_mock.py", repo);
    snprintf(secrets, sizeof secrets, "%s/secrets.json", g_dir);
    const char *argv[20] = {"/usr/bin/python3", script, secrets, "-"};
    size_t k = 4;
    for (; opts && *opts && k < 19; opts++)
        argv[k++] = *opts;
    argv[k] = NULL;
    int p[2];
    assert_int_equal(pipe(p), 0);
    m->pid = fork();
    if (m->pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    char line[32] = "";
    FILE *in = fdopen(p[0], "r");
    assert_non_null(fgets(line, sizeof line, in));
    fclose(in);
    snprintf(m->addr, sizeof m->addr, "http://127.0.0.1:%d", atoi(line));
}

static void mock_stop(mock *m)
{
    kill(m->pid, SIGTERM);
    waitpid(m->pid, NULL, 0);
}

static void mock_post(const mock *m, const char *path)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "curl -s -X POST %s/v1/%s >/dev/null", m->addr, path);
    assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/acms-vault-XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    char p[128];
    snprintf(p, sizeof p, "%s/secrets.json", g_dir);
    FILE *f = fopen(p, "w");
    fputs("{\"kv/data/dev/db\": {\"password\": \"vault-pw-1\"}}\n", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/jwt", g_dir);
    f = fopen(p, "w");
    fputs("sa-jwt-token\n", f);
    fclose(f);
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        return -1;
    curl_global_cleanup();
    return 0;
}

static acms_vault *client(const mock *m, acms_vault_opts o)
{
    char err[256] = "";
    o.addr = m->addr;
    acms_vault *v = acms_vault_new(&o, err, sizeof err);
    if (!v)
        fail_msg("%s", err);
    return v;
}

static int read_pw(acms_vault *v, char *buf, size_t size)
{
    char err[256] = "";
    return acms_vault_read_kv(v, "kv/data/dev/db", "password", buf, size, err, sizeof err);
}

static void approle_login_renewal_and_expiry(void **state)
{
    (void)state;
    mock m;
    const char *opts[] = {"--approle", "role-1:secret-1", "--token-ttl", "3", "--max-ttl", "600", NULL};
    mock_start(&m, opts);
    acms_vault *v = client(&m, (acms_vault_opts){.role_id = "role-1", .secret_id = "secret-1", .cache_ttl_s = 0});
    char buf[64];
    acms_vault_stats s;
    assert_int_equal(read_pw(v, buf, sizeof buf), ACMS_OK);
    assert_string_equal(buf, "vault-pw-1");
    acms_vault_get_stats(v, &s);
    assert_int_equal(s.logins, 1);
    /* a third of the 3 s lease left: the client renews (waits for its counter, 30 s at most) */
    for (int i = 0; i < 300 && s.renewals == 0; i++) {
        usleep(100000);
        assert_int_equal(read_pw(v, buf, sizeof buf), ACMS_OK);
        acms_vault_get_stats(v, &s);
    }
    assert_true(s.renewals >= 1);
    assert_int_equal(s.logins, 1);
    /* the token expires under the running client: a 403, a new login, the read succeeds */
    mock_post(&m, "sys/mock/expire-tokens");
    assert_int_equal(read_pw(v, buf, sizeof buf), ACMS_OK);
    assert_string_equal(buf, "vault-pw-1");
    acms_vault_get_stats(v, &s);
    assert_int_equal(s.logins, 2);
    acms_vault_free(v);
    /* a wrong secret id: a clear refusal */
    v = client(&m, (acms_vault_opts){.role_id = "role-1", .secret_id = "nope", .cache_ttl_s = 0});
    char err[256] = "";
    assert_int_equal(acms_vault_read_kv(v, "kv/data/dev/db", "password", buf, sizeof buf, err, sizeof err), ACMS_ERR);
    assert_non_null(strstr(err, "approle login refused"));
    assert_null(strstr(err, "nope"));
    acms_vault_free(v);
    mock_stop(&m);
}

static void kubernetes_namespace_and_cache(void **state)
{
    (void)state;
    mock m;
    const char *opts[] = {"--k8s", "acms:sa-jwt-token", "--namespace", "team-a", NULL};
    mock_start(&m, opts);
    char jwt[128], buf[64];
    snprintf(jwt, sizeof jwt, "%s/jwt", g_dir);
    acms_vault *v = client(&m, (acms_vault_opts){.k8s_role = "acms", .k8s_jwt_file = jwt, .ns = "team-a", .cache_ttl_s = 60});
    assert_int_equal(read_pw(v, buf, sizeof buf), ACMS_OK);
    assert_int_equal(read_pw(v, buf, sizeof buf), ACMS_OK);
    acms_vault_stats s;
    acms_vault_get_stats(v, &s);
    assert_int_equal(s.logins, 1);
    assert_int_equal(s.cache_hits, 1);
    acms_vault_free(v);
    /* without the namespace the same login is refused */
    v = client(&m, (acms_vault_opts){.k8s_role = "acms", .k8s_jwt_file = jwt, .cache_ttl_s = 0});
    assert_int_not_equal(read_pw(v, buf, sizeof buf), ACMS_OK);
    acms_vault_free(v);
    mock_stop(&m);
}

static void transit_master_key(void **state)
{
    (void)state;
    mock m;
    const char *opts[] = {"--approle", "r:s", NULL};
    mock_start(&m, opts);
    acms_vault *v = client(&m, (acms_vault_opts){.role_id = "r", .secret_id = "s"});
    setenv("ACMS_MASTER_KEY_TRANSIT", "acms-at-rest", 1);
    unsetenv("ACMS_MASTER_KEY_FILE");
    acms_crypt *c = NULL;
    char err[256] = "", *env = NULL, *plain = NULL;
    size_t n = 0, pn = 0;
    assert_int_equal(acms_crypt_from_env(&c, v, err, sizeof err), ACMS_OK);
    unsetenv("ACMS_MASTER_KEY_TRANSIT");
    acms_arena *a = acms_arena_new(0);
    assert_int_equal(acms_crypt_seal(c, a, "config", "x", 1, "transit-sealed", 14, &env, &n, err, sizeof err), ACMS_OK);
    assert_non_null(strstr(env, "t-acms-at-rest"));
    assert_int_equal(acms_crypt_open(c, a, "config", "x", 1, env, n, &plain, &pn, err, sizeof err), ACMS_OK);
    assert_string_equal(plain, "transit-sealed");
    acms_arena_free(a);
    acms_crypt_free(c);
    acms_vault_free(v);
    mock_stop(&m);
}

static void slow_vault_fails_fast(void **state)
{
    (void)state;
    mock m;
    const char *opts[] = {"--approle", "r:s", "--delay-ms", "3000", NULL};
    mock_start(&m, opts);
    acms_vault *v = client(&m, (acms_vault_opts){.role_id = "r", .secret_id = "s", .timeout_ms = 300,
                                                 .backoff_ms = 60000, .cache_ttl_s = 0});
    char buf[64];
    assert_int_equal(read_pw(v, buf, sizeof buf), ACMS_ERR_RETRY); /* one timeout */
    acms_vault_stats before, after;
    acms_vault_get_stats(v, &before);
    for (int i = 0; i < 5; i++)
        assert_int_equal(read_pw(v, buf, sizeof buf), ACMS_ERR_RETRY); /* no request: backing off */
    acms_vault_get_stats(v, &after);
    assert_int_equal(after.requests, before.requests);
    assert_int_equal(after.fast_failures, before.fast_failures + 5);
    acms_vault_free(v);
    mock_stop(&m);
}

int main(void)
{
    if (access("/usr/bin/python3", X_OK) != 0)
        return 0;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(approle_login_renewal_and_expiry),
        cmocka_unit_test(kubernetes_namespace_and_cache),
        cmocka_unit_test(transit_master_key),
        cmocka_unit_test(slow_vault_fails_fast),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
