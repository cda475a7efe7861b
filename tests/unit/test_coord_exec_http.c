/* test_coord_exec_http.c: the http executor against tests/lib/http_worker.py (python3, loopback):
 * success, a nonzero exit with its stderr tail, memory and time kills reported by the worker,
 * cancellation, a secret resolved into the request only, an unreachable worker (transient) and a
 * refused command (permanent). Skipped when python3 or the worker script is missing. */
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
    char url[64];
    char dir[128];
} fixture;


static char *test_scopes[] = {"secret://env/TEST_*"};
static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    const char *repo = getenv("ACMS_REPO") ? getenv("ACMS_REPO") : ".";
    char script[600];
    snprintf(script, sizeof script, "%s/tests/lib/http_worker.py", repo);
    snprintf(f->dir, sizeof f->dir, "/tmp/acms-test-http-%ld", (long)getpid());
    *state = f;
    /* the system interpreter directly: a pyenv shim would stand between us and the worker's pid */
    const char *py = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    if (access(script, R_OK) != 0 || system("command -v python3 >/dev/null 2>&1") != 0)
        return 0; /* tests skip */
    int p[2];
    if (pipe(p) < 0)
        return -1;
    f->worker = fork();
    if (f->worker == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execlp(py, py, script, "--work-dir", f->dir, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char line[32] = "";
    FILE *in = fdopen(p[0], "r");
    if (!in || !fgets(line, sizeof line, in) || atoi(line) <= 0) {
        if (in)
            fclose(in);
        return -1;
    }
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
    free(f);
    return 0;
}

static coord_exec_status run(const char *url, char *const *argv, size_t argc, const coord_res *res,
                             Acms__V1__EnvVar *const *env, size_t nenv, int cancel_after_ms, int64_t *elapsed)
{
    acms_secret_ctx secrets = {0};
    coord_exec_req req = {.run_id = "run-h", .step = "s", .attempt = 1, .argv = argv, .argc = argc, .env = env,
                          .nenv = nenv, .executor = "http", .worker_url = url, .secrets = &secrets, .secret_scopes = test_scopes, .nsecret_scopes = 1};
    if (res)
        req.res = *res;
    coord_exec_status st;
    int64_t t0 = acms_mono_ms();
    coord_proc *p = coord_exec_start(&req);
    assert_non_null(p);
    int cancelled = 0;
    while (!coord_exec_poll(p, acms_mono_ms(), &st)) {
        if (cancel_after_ms && !cancelled && acms_mono_ms() - t0 >= cancel_after_ms) {
            coord_exec_cancel(p, acms_mono_ms());
            cancelled = 1;
        }
        assert_true(acms_mono_ms() - t0 < 20000);
        usleep(20000);
    }
    if (elapsed)
        *elapsed = acms_mono_ms() - t0;
    coord_exec_free(p);
    return st;
}

#define NEED_WORKER(f)                                                                                              \
    do {                                                                                                           \
        if ((f)->worker <= 0)                                                                                      \
            skip();                                                                                                \
    } while (0)

static void test_ok(void **state)
{
    fixture *f = *state;
    NEED_WORKER(f);
    char *argv[] = {"sh", "-c", "sleep 0.3"};
    coord_exec_status st = run(f->url, argv, 3, NULL, NULL, 0, 0, NULL);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_OK);
    assert_int_equal(st.exit_code, 0);
    assert_true(st.wall_ms >= 250);
}

static void test_nonzero_with_tail(void **state)
{
    fixture *f = *state;
    NEED_WORKER(f);
    char *argv[] = {"sh", "-c", "echo 'bad row 17' >&2; exit 3"};
    coord_exec_status st = run(f->url, argv, 3, NULL, NULL, 0, 0, NULL);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_NONZERO);
    assert_int_equal(st.exit_code, 3);
    assert_non_null(strstr(st.stderr_tail, "bad row 17"));
}

static void test_memory_and_time(void **state)
{
    fixture *f = *state;
    NEED_WORKER(f);
    char *hog[] = {"sh", "-c", "head -c 400M /dev/zero | tail"};
    coord_res mem = {.memory_mb = 64};
    coord_exec_status st = run(f->url, hog, 3, &mem, NULL, 0, 0, NULL);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY);
    assert_true(st.peak_rss_kb > 64 * 1024);

    char *slow[] = {"sleep", "10"};
    coord_res time_limit = {.max_runtime_s = 1};
    int64_t elapsed = 0;
    st = run(f->url, slow, 2, &time_limit, NULL, 0, 0, &elapsed);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_TIME);
    assert_true(elapsed < 5000);
}

static void test_cancel(void **state)
{
    fixture *f = *state;
    NEED_WORKER(f);
    char *argv[] = {"sleep", "30"};
    int64_t elapsed = 0;
    coord_exec_status st = run(f->url, argv, 2, NULL, NULL, 0, 500, &elapsed);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_CANCELLED);
    assert_true(elapsed < 3000);
}

static void test_secret_in_child_only(void **state)
{
    fixture *f = *state;
    NEED_WORKER(f);
    char out[256], cmd[400];
    snprintf(out, sizeof out, "%s-secret.txt", f->dir);
    snprintf(cmd, sizeof cmd, "printf %%s \"$TOKEN/$ACMS_STEP/$ACMS_ATTEMPT\" > '%s'", out);
    setenv("TEST_HTTP_TOKEN", "tok-123", 1);
    Acms__V1__EnvVar tok = ACMS__V1__ENV_VAR__INIT;
    tok.name = "TOKEN";
    tok.value = "secret://env/TEST_HTTP_TOKEN";
    Acms__V1__EnvVar *env[] = {&tok};
    char *argv[] = {"sh", "-c", cmd};
    coord_exec_status st = run(f->url, argv, 3, NULL, env, 1, 0, NULL);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_OK);
    assert_string_equal(tok.value, "secret://env/TEST_HTTP_TOKEN");
    FILE *fp = fopen(out, "r");
    assert_non_null(fp);
    char buf[64] = "";
    assert_non_null(fgets(buf, sizeof buf, fp));
    fclose(fp);
    unlink(out);
    assert_string_equal(buf, "tok-123/s/1");
    unsetenv("TEST_HTTP_TOKEN");
}

static void test_unreachable_and_refused(void **state)
{
    fixture *f = *state;
    char *argv[] = {"true"};
    coord_exec_status st = run("http://127.0.0.1:1", argv, 1, NULL, NULL, 0, 0, NULL);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_UNREACHABLE);
    assert_false(st.permanent);

    st = run("", argv, 1, NULL, NULL, 0, 0, NULL);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_SPAWN_FAILED);
    assert_true(st.permanent);

    NEED_WORKER(f);
    char *missing[] = {"acms-no-such-command-xyz"};
    st = run(f->url, missing, 1, NULL, NULL, 0, 0, NULL);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_SPAWN_FAILED);
    assert_true(st.permanent);
    assert_non_null(strstr(st.message, "422"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok),
        cmocka_unit_test(test_nonzero_with_tail),
        cmocka_unit_test(test_memory_and_time),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_secret_in_child_only),
        cmocka_unit_test(test_unreachable_and_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
