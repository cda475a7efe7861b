/* test_coord_exec_local.c: the local executor really spawns and execs: success with rusage,
 * a nonzero exit, a memory hog killed for memory, a sleeper stopped for time, a missing command,
 * capped logs, log files made only for a stream that carried output (what the step put at their
 * names replaced, not followed), the work root made and marked as a top directory, and a secret
 * reference resolved only into the child's environment. The time limit and its grace are checked
 * on a fake clock (the now each poll is given): the step's own output is the marker that it got
 * SIGTERM, and nothing there depends on how fast the machine is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coordinator/exec.h"

typedef struct fixture {
    char root[256];
} fixture;


static char *test_scopes[] = {"secret://env/TEST_*"};
static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->root, sizeof f->root, "/tmp/acms-test-exec-%ld", (long)getpid());
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->root);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup of %s failed\n", f->root);
    free(f);
    return 0;
}

/* Runs argv to completion (or timeout_ms) and returns its final status. */
static coord_exec_status run(fixture *f, const char *step, char *const *argv, size_t argc, const coord_res *res,
                             Acms__V1__EnvVar *const *env, size_t nenv, int64_t timeout_ms, int64_t *elapsed)
{
    acms_secret_ctx secrets = {0};
    coord_exec_req req = {.run_id = "run-1", .step = step, .attempt = 1, .argv = argv, .argc = argc,
                          .env = env, .nenv = nenv, .work_root = f->root, .secrets = &secrets, .secret_scopes = test_scopes, .nsecret_scopes = 1,
                          .output_path = "s3://bucket/out"};
    if (res)
        req.res = *res;
    coord_exec_status st;
    memset(&st, 0, sizeof st);
    int64_t t0 = acms_mono_ms();
    coord_proc *p = coord_exec_start(&req);
    assert_non_null(p);
    while (!coord_exec_poll(p, acms_mono_ms(), &st)) {
        if (acms_mono_ms() - t0 > timeout_ms) {
            coord_exec_abandon(p);
            fail_msg("step %s did not finish within %lld ms", step, (long long)timeout_ms);
        }
        usleep(20000);
    }
    if (elapsed)
        *elapsed = acms_mono_ms() - t0;
    coord_exec_free(p);
    return st;
}

static void test_true_ok_with_usage(void **state)
{
    char *argv[] = {"sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo done"};
    coord_exec_status st = run(*state, "ok", argv, 3, NULL, NULL, 0, 10000, NULL);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_OK);
    assert_int_equal(st.exit_code, 0);
    assert_true(st.peak_rss_kb > 0);
    assert_true(st.user_cpu_ms + st.sys_cpu_ms > 0);
    assert_string_equal(st.stderr_tail, "");
    char path[700];
    snprintf(path, sizeof path, "%s/stdout.log", st.dir);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char line[64] = "";
    assert_non_null(fgets(line, sizeof line, fp));
    fclose(fp);
    assert_string_equal(line, "done\n");
    assert_non_null(strstr(st.dir, "/run-1/ok/attempt-1"));
}

static int exists(const char *dir, const char *name)
{
    char path[700];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return lstat(path, &sb) == 0;
}

/* A stream that carried nothing leaves no file (a silent step costs no inode for its logs). */
static void test_log_file_only_for_output(void **state)
{
    char *silent[] = {"true"};
    coord_exec_status st = run(*state, "silent", silent, 1, NULL, NULL, 0, 10000, NULL);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_OK);
    assert_false(exists(st.dir, "stdout.log"));
    assert_false(exists(st.dir, "stderr.log"));
    char *erronly[] = {"sh", "-c", "echo oops >&2"};
    st = run(*state, "erronly", erronly, 3, NULL, NULL, 0, 10000, NULL);
    assert_false(exists(st.dir, "stdout.log"));
    assert_true(exists(st.dir, "stderr.log"));
}

/* The step owns its directory and may put a symlink where its log will be created: the log replaces
 * it, and the file it pointed at is not written. */
static void test_log_not_through_planted_link(void **state)
{
    fixture *f = *state;
    char target[300], cmd[700];
    snprintf(target, sizeof target, "%s-target", f->root);
    FILE *fp = fopen(target, "w");
    assert_non_null(fp);
    fputs("untouched\n", fp);
    fclose(fp);
    snprintf(cmd, sizeof cmd, "ln -s '%s' stdout.log && echo planted", target);
    char *argv[] = {"sh", "-c", cmd};
    coord_exec_status st = run(f, "planter", argv, 3, NULL, NULL, 0, 10000, NULL);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_OK);
    char path[700], line[64] = "";
    snprintf(path, sizeof path, "%s/stdout.log", st.dir);
    struct stat sb;
    assert_int_equal(lstat(path, &sb), 0);
    assert_true(S_ISREG(sb.st_mode));
    fp = fopen(path, "r");
    assert_non_null(fp);
    assert_non_null(fgets(line, sizeof line, fp));
    fclose(fp);
    assert_string_equal(line, "planted\n");
    fp = fopen(target, "r");
    assert_non_null(fp);
    assert_non_null(fgets(line, sizeof line, fp));
    fclose(fp);
    assert_string_equal(line, "untouched\n");
    unlink(target);
}

static int dir_flags(const char *path, int *flags)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    assert_true(fd >= 0);
    int rc = ioctl(fd, FS_IOC_GETFLAGS, flags);
    close(fd);
    return rc;
}

/* The work root is made (with its parents) and, where the filesystem takes the flag (ext4), marked
 * FS_TOPDIR_FL; a filesystem that refuses it is no error. */
static void test_work_root_made_and_marked(void **state)
{
    fixture *f = *state;
    char root[400], probe[400], err[256] = "";
    snprintf(root, sizeof root, "%s/a/work", f->root);
    snprintf(probe, sizeof probe, "%s/probe", f->root);
    assert_int_equal(coord_local_work_root(root, err, sizeof err), ACMS_OK);
    struct stat sb;
    assert_int_equal(stat(root, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(sb.st_mode & 0777, 0711);
    /* does this filesystem keep the flag? asked of a sibling directory directly */
    assert_int_equal(mkdir(probe, 0700), 0);
    int flags = 0, takes = 0;
    if (dir_flags(probe, &flags) == 0) {
        int fd = open(probe, O_RDONLY | O_DIRECTORY);
        flags |= FS_TOPDIR_FL;
        takes = ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
        close(fd);
    }
    flags = 0;
    if (takes) {
        assert_int_equal(dir_flags(root, &flags), 0);
        assert_true(flags & FS_TOPDIR_FL);
    }
    assert_int_equal(coord_local_work_root(root, err, sizeof err), ACMS_OK); /* again: already there */
}

static void test_nonzero_exit(void **state)
{
    char *argv[] = {"sh", "-c", "echo first >&2; echo 'boom: bad input' >&2; exit 3"};
    coord_exec_status st = run(*state, "bad", argv, 3, NULL, NULL, 0, 10000, NULL);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_NONZERO);
    assert_int_equal(st.exit_code, 3);
    assert_non_null(strstr(st.stderr_tail, "boom: bad input"));
    assert_non_null(strstr(st.stderr_tail, "first"));
}

static void test_memory_hog_killed(void **state)
{
    char *argv[] = {"sh", "-c", "head -c 400M /dev/zero | tail"};
    coord_res res = {.memory_mb = 64};
    coord_exec_status st = run(*state, "hog", argv, 3, &res, NULL, 0, 20000, NULL);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY);
    assert_true(st.peak_rss_kb > 64 * 1024);
}

/* A step that ends before its first sample has only ru_maxrss, which holds the spawning process's
 * own high-water mark (the child shares its memory until exec). A large coordinator must not make
 * a small failing step look like it ran out of memory: no MEMORY verdict, no such peak. */
static void test_short_step_peak_not_the_spawners(void **state)
{
    enum { HELD_MB = 96 };
    char *held = malloc((size_t)HELD_MB << 20);
    assert_non_null(held);
    memset(held, 1, (size_t)HELD_MB << 20); /* our high-water mark is now above HELD_MB */
    fixture *f = *state;
    char *argv[] = {"sh", "-c", "exit 3"};
    acms_secret_ctx secrets = {0};
    coord_exec_req req = {.run_id = "run-1", .step = "short", .attempt = 1, .argv = argv, .argc = 3,
                          .work_root = f->root, .secrets = &secrets, .secret_scopes = test_scopes, .nsecret_scopes = 1, .output_path = "s3://bucket/out",
                          .res = {.memory_mb = 48}};
    coord_exec_status st;
    memset(&st, 0, sizeof st);
    coord_proc *p = coord_exec_start(&req);
    assert_non_null(p);
    usleep(300 * 1000); /* the step is long gone before the first poll could sample it */
    int64_t t0 = acms_mono_ms();
    while (!coord_exec_poll(p, acms_mono_ms(), &st)) {
        assert_true(acms_mono_ms() - t0 < 10000);
        usleep(20000);
    }
    coord_exec_free(p);
    free(held);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_NONZERO);
    assert_int_equal(st.exit_code, 3);
    assert_true(st.peak_rss_kb < 48 * 1024);
}

/* A step for the time-limit tests, with max_runtime_s 1 and a grace of 2 s. *t0 and *t1 bound its
 * start on the monotonic clock: a fake now of *t1 + 1000 is past its limit, *t0 + 999 is not. */
static coord_proc *start_timed(fixture *f, const char *step, char *const *argv, size_t argc, int64_t *t0, int64_t *t1)
{
    acms_secret_ctx secrets = {0};
    coord_exec_req req = {.run_id = "run-1", .step = step, .attempt = 1, .argv = argv, .argc = argc,
                          .work_root = f->root, .secrets = &secrets, .secret_scopes = test_scopes, .nsecret_scopes = 1,
                          .output_path = "s3://bucket/out", .grace_ms = 2000};
    req.res.max_runtime_s = 1;
    *t0 = acms_mono_ms();
    coord_proc *p = coord_exec_start(&req);
    *t1 = acms_mono_ms();
    assert_non_null(p);
    return p;
}

/* The attempt's stdout.log so far, NUL-terminated. */
static void read_stdout(const char *dir, char *buf, size_t size)
{
    char path[700];
    snprintf(path, sizeof path, "%s/stdout.log", dir);
    FILE *fp = fopen(path, "r");
    size_t n = fp ? fread(buf, 1, size - 1, fp) : 0;
    if (fp)
        fclose(fp);
    buf[n] = '\0';
}

/* The highest "tick-N" line of the attempt's stdout.log so far, 0 when none. */
static int last_tick(const char *dir)
{
    char buf[65536];
    int last = 0, n;
    read_stdout(dir, buf, sizeof buf);
    for (const char *q = strstr(buf, "tick-"); q; q = strstr(q + 1, "tick-"))
        if (sscanf(q, "tick-%d", &n) == 1 && n > last)
            last = n;
    return last;
}

/* Polls at the fixed (fake) time now until the step is done (returns 1) or, when want is not NULL,
 * its stdout.log holds want (returns 0). Fails after a generous 60 s of real time. */
static int poll_at(coord_proc *p, int64_t now, const char *want, coord_exec_status *st)
{
    int64_t deadline = acms_mono_ms() + 60000;
    for (;;) {
        memset(st, 0, sizeof *st);
        if (coord_exec_poll(p, now, st))
            return 1;
        if (want && st->dir[0]) {
            char buf[65536];
            read_stdout(st->dir, buf, sizeof buf);
            if (strstr(buf, want))
                return 0;
        }
        if (acms_mono_ms() > deadline) {
            coord_exec_abandon(p);
            fail_msg("no %s within 60 s", want ? want : "end");
        }
        usleep(10000);
    }
}

static void test_time_limit(void **state)
{
    char *argv[] = {"sleep", "1000"};
    int64_t t0, t1;
    coord_exec_status st;
    coord_proc *p = start_timed(*state, "slow", argv, 2, &t0, &t1);
    assert_int_equal(coord_exec_poll(p, t0 + 999, &st), 0); /* within its limit: left alone */
    /* past it: SIGTERM, and the clock stands still, so only the SIGTERM (not the SIGKILL after the
     * grace) can end it */
    assert_int_equal(poll_at(p, t1 + 1000, NULL, &st), 1);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_TIME);
    assert_int_equal(st.term_signal, SIGTERM);
    assert_true(st.wall_ms >= 1000);
    coord_exec_free(p);
}

static void test_term_ignored_then_killed(void **state)
{
    /* says when it is ready, then ticks and shrugs off SIGTERM, saying so */
    char *argv[] = {"sh", "-c",
                    "trap 'echo term-seen' TERM; echo ready; i=0; while :; do i=$((i+1)); echo tick-$i; sleep 0.05; done"};
    int64_t t0, t1;
    coord_exec_status st;
    coord_proc *p = start_timed(*state, "ignores-sigterm", argv, 3, &t0, &t1);
    assert_int_equal(poll_at(p, t0, "ready", &st), 0); /* the trap is set */
    int64_t limit = t1 + 1000;
    /* SIGTERM at the limit; the clock stands still short of the grace: the step lives on */
    assert_int_equal(poll_at(p, limit, "term-seen", &st), 0);
    assert_int_equal(coord_exec_poll(p, limit + 1999, &st), 0);
    /* alive after that poll: two more ticks (a SIGKILL sent by it would leave at most one unread) */
    char tick[32];
    snprintf(tick, sizeof tick, "tick-%d\n", last_tick(st.dir) + 2);
    assert_int_equal(poll_at(p, limit + 1999, tick, &st), 0);
    /* the grace has passed: SIGKILL */
    assert_int_equal(poll_at(p, limit + 2000, NULL, &st), 1);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_TIME);
    assert_int_equal(st.term_signal, SIGKILL);
    assert_true(st.wall_ms >= 3000); /* 1 s limit + 2 s grace */
    coord_exec_free(p);
}

static void test_command_not_found(void **state)
{
    char *argv[] = {"acms-no-such-command-xyz"};
    coord_exec_status st = run(*state, "missing", argv, 1, NULL, NULL, 0, 5000, NULL);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_SPAWN_FAILED);
    assert_true(st.permanent);
    assert_non_null(strstr(st.message, "acms-no-such-command-xyz"));
}

static void test_exec_failure_reported(void **state)
{
    fixture *f = *state;
    char script[300];
    snprintf(script, sizeof script, "%s-noexec.sh", f->root);
    FILE *fp = fopen(script, "w");
    assert_non_null(fp);
    fputs("#!/bin/sh\nexit 0\n", fp);
    fclose(fp);
    chmod(script, 0644); /* not executable: execve fails with EACCES in the child */
    char *argv[] = {script};
    coord_exec_status st = run(f, "noexec", argv, 1, NULL, NULL, 0, 5000, NULL);
    unlink(script);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_SPAWN_FAILED);
    assert_true(st.permanent);
    assert_non_null(strstr(st.message, "exec"));
}

static void test_secret_reaches_child_only(void **state)
{
    fixture *f = *state;
    setenv("TEST_DB_PASSWORD", "s3cr3t-value", 1);
    Acms__V1__EnvVar pw = ACMS__V1__ENV_VAR__INIT, rows = ACMS__V1__ENV_VAR__INIT;
    pw.name = "DB_PASSWORD";
    pw.value = "secret://env/TEST_DB_PASSWORD";
    rows.name = "ROWS";
    rows.value = "1000";
    Acms__V1__EnvVar *env[] = {&pw, &rows};
    char *argv[] = {"sh", "-c", "env > env.txt"};
    coord_exec_status st = run(f, "secret", argv, 3, NULL, env, 2, 5000, NULL);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_OK);
    /* the step's configuration still holds the reference */
    assert_string_equal(pw.value, "secret://env/TEST_DB_PASSWORD");
    char path[700], buf[8192];
    snprintf(path, sizeof path, "%s/env.txt", st.dir);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "DB_PASSWORD=s3cr3t-value\n"));
    assert_non_null(strstr(buf, "ROWS=1000\n"));
    assert_non_null(strstr(buf, "ACMS_RUN_ID=run-1\n"));
    assert_non_null(strstr(buf, "ACMS_STEP=secret\n"));
    assert_non_null(strstr(buf, "ACMS_ATTEMPT=1\n"));
    assert_non_null(strstr(buf, "ACMS_OUTPUT_PATH=s3://bucket/out\n"));
    assert_null(strstr(buf, "TEST_DB_PASSWORD")); /* only the minimal environment is inherited */
    unsetenv("TEST_DB_PASSWORD");
}

static void test_unresolvable_secret_fails_spawn(void **state)
{
    unsetenv("TEST_MISSING_SECRET");
    Acms__V1__EnvVar pw = ACMS__V1__ENV_VAR__INIT;
    pw.name = "TOKEN";
    pw.value = "secret://env/TEST_MISSING_SECRET";
    Acms__V1__EnvVar *env[] = {&pw};
    char *argv[] = {"true"};
    coord_exec_status st = run(*state, "nosecret", argv, 1, NULL, env, 1, 5000, NULL);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_SPAWN_FAILED);
    assert_true(st.permanent);
    assert_non_null(strstr(st.message, "TOKEN"));
}

static void test_log_capped(void **state)
{
    fixture *f = *state;
    acms_secret_ctx secrets = {0};
    char *argv[] = {"sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' 'x'; echo; echo END-OF-OUTPUT"};
    coord_exec_req req = {.run_id = "run-1", .step = "chatty", .attempt = 1, .argv = argv, .argc = 3,
                          .work_root = f->root, .secrets = &secrets, .secret_scopes = test_scopes, .nsecret_scopes = 1, .log_cap = 256 * 1024};
    coord_exec_status st;
    coord_proc *p = coord_exec_start(&req);
    int64_t t0 = acms_mono_ms();
    while (!coord_exec_poll(p, acms_mono_ms(), &st)) {
        assert_true(acms_mono_ms() - t0 < 20000);
        usleep(20000);
    }
    coord_exec_free(p);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_OK);
    char path[700];
    snprintf(path, sizeof path, "%s/stdout.log", st.dir);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_true(sb.st_size <= 256 * 1024);
    assert_true(sb.st_size > 128 * 1024);
    FILE *fp = fopen(path, "r");
    char *buf = malloc((size_t)sb.st_size + 1);
    size_t n = fread(buf, 1, (size_t)sb.st_size, fp);
    fclose(fp);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "bytes omitted"));
    assert_non_null(strstr(buf, "END-OF-OUTPUT\n"));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_true_ok_with_usage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_file_only_for_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_not_through_planted_link, setup, teardown),
        cmocka_unit_test_setup_teardown(test_work_root_made_and_marked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nonzero_exit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_hog_killed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_step_peak_not_the_spawners, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_term_ignored_then_killed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_failure_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_reaches_child_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unresolvable_secret_fails_spawn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_capped, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
