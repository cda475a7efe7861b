/* test_coord_exec_http_auth.c: the http executor carries a step's resolved secrets, so it talks to a
 * worker off loopback over https only (refused before any connection otherwise), and it
 * authenticates with the bearer token of ACMS_WORKER_TOKEN_FILE: a worker requiring a token runs
 * the step with the right one and refuses it (401, the attempt fails permanently) without it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coordinator/exec.h"

typedef struct fixture {
    pid_t worker;
    char url[64], dir[128], token_file[160];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    const char *repo = getenv("ACMS_REPO") ? getenv("ACMS_REPO") : ".";
    char script[600];
    snprintf(script, sizeof script, "%s/tests/lib/http_worker.py", repo);
    snprintf(f->dir, sizeof f->dir, "/tmp/acms-test-http-auth-%ld", (long)getpid());
    snprintf(f->token_file, sizeof f->token_file, "%s.token", f->dir);
    FILE *t = fopen(f->token_file, "w");
    if (!t)
        return -1;
    fputs("worker-token-0123456789\n", t);
    fclose(t);
    *state = f;
    const char *py = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    int p[2];
    if (pipe(p) < 0)
        return -1;
    f->worker = fork();
    if (f->worker == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execlp(py, py, script, "--work-dir", f->dir, "--token-file", f->token_file, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char line[32] = "";
    FILE *in = fdopen(p[0], "r");
    if (!in || !fgets(line, sizeof line, in) || atoi(line) <= 0)
        return -1;
    fclose(in);
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d/", atoi(line));
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->worker > 0) {
        kill(f->worker, SIGTERM);
        waitpid(f->worker, NULL, 0);
    }
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup of %s failed\n", f->dir);
    unlink(f->token_file);
    free(f);
    return 0;
}

static coord_exec_status run(const char *url, const coord_http_auth *auth)
{
    char *argv[] = {"true"};
    acms_secret_ctx secrets = {0};
    coord_exec_req req = {.run_id = "run-a", .step = "s", .attempt = 1, .argv = argv, .argc = 1, .executor = "http",
                          .worker_url = url, .worker_auth = auth, .secrets = &secrets};
    coord_exec_status st;
    int64_t t0 = acms_mono_ms();
    coord_proc *p = coord_exec_start(&req);
    assert_non_null(p);
    while (!coord_exec_poll(p, acms_mono_ms(), &st)) {
        assert_true(acms_mono_ms() - t0 < 20000);
        usleep(20000);
    }
    coord_exec_free(p);
    return st;
}

static void https_required_off_loopback(void **state)
{
    (void)state;
    assert_non_null(coord_http_url_problem("http://10.1.2.3:8080/"));
    assert_non_null(coord_http_url_problem("http://worker.internal/"));
    assert_non_null(coord_http_url_problem("ftp://127.0.0.1/"));
    assert_non_null(coord_http_url_problem("not a url"));
    assert_null(coord_http_url_problem("https://worker.internal:8443/"));
    assert_null(coord_http_url_problem("http://127.0.0.1:9000/"));
    assert_null(coord_http_url_problem("http://localhost:9000"));
    assert_null(coord_http_url_problem("http://[::1]:9000/"));
    coord_exec_status st = run("http://10.1.2.3:9/", NULL); /* refused before any connection */
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_SPAWN_FAILED);
    assert_true(st.permanent);
    assert_non_null(strstr(st.message, "https"));
}

static void bearer_token(void **state)
{
    fixture *f = *state;
    coord_http_auth auth;
    char err[256] = "";
    setenv("ACMS_WORKER_TOKEN_FILE", f->token_file, 1);
    assert_int_equal(coord_http_auth_from_env(&auth, err, sizeof err), ACMS_OK);
    unsetenv("ACMS_WORKER_TOKEN_FILE");
    assert_string_equal(auth.token, "worker-token-0123456789");
    coord_exec_status st = run(f->url, &auth);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_OK);
    st = run(f->url, NULL);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_SPAWN_FAILED);
    assert_true(st.permanent);
    assert_non_null(strstr(st.message, "401"));
    snprintf(auth.token, sizeof auth.token, "wrong-token");
    st = run(f->url, &auth);
    assert_non_null(strstr(st.message, "401"));
    coord_http_auth_release(&auth);
    /* a client certificate without its key is a configuration error */
    setenv("ACMS_WORKER_CERT", "/nonexistent.pem", 1);
    assert_int_equal(coord_http_auth_from_env(&auth, err, sizeof err), ACMS_ERR_INVALID);
    unsetenv("ACMS_WORKER_CERT");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(https_required_off_loopback),
        cmocka_unit_test(bearer_token),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
