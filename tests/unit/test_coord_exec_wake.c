/* test_coord_exec_wake.c: a local attempt's exit is reported to the wake set (an epoll descriptor
 * the service loop waits on) as soon as the process ends, once (edge-triggered), and its pidfd
 * leaves the set with the handle; spawning leaves the caller's signal mask as it was; a work root
 * several levels deep that does not exist yet is created. Where pidfd_open is missing (kernels before
 * 5.3, or valgrind 3.19, which does not know the call) the wake tests are skipped: the executor then
 * finds exits by its timed polls, which the other executor tests cover. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "coordinator/exec.h"

typedef struct fixture {
    char root[256];
    int efd;
    acms_secret_ctx secrets;
} fixture;


static char *test_scopes[] = {"secret://env/TEST_*"};
static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->root, sizeof f->root, "/tmp/acms-test-wake-%ld", (long)getpid());
    f->efd = epoll_create1(EPOLL_CLOEXEC);
    assert_true(f->efd > 0);
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
    close(f->efd);
    free(f);
    return 0;
}

static int have_pidfd(void)
{
    int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (fd < 0)
        return errno != ENOSYS;
    close(fd);
    return 1;
}

static coord_exec_req request(fixture *f, const char *root, char *const *argv, size_t argc)
{
    coord_exec_req req = {.run_id = "run-w", .step = "s", .attempt = 1, .argv = argv, .argc = argc,
                          .work_root = root, .secrets = &f->secrets, .secret_scopes = test_scopes, .nsecret_scopes = 1, .wake_fd = f->efd};
    return req;
}

static void test_exit_wakes_the_set_once(void **state)
{
    fixture *f = *state;
    if (!have_pidfd())
        skip();
    char *argv[] = {"sh", "-c", "sleep 0.2"};
    coord_exec_req req = request(f, f->root, argv, 3);
    coord_proc *p = coord_exec_start(&req);
    assert_non_null(p);
    coord_exec_status st;
    assert_int_equal(coord_exec_poll(p, acms_mono_ms(), &st), 0); /* still running */

    struct epoll_event ev[4];
    int64_t t0 = acms_mono_ms();
    int n = epoll_wait(f->efd, ev, 4, 10000);
    int64_t waited = acms_mono_ms() - t0;
    assert_int_equal(n, 1);
    assert_true(waited >= 100);    /* not before the process ended */
    assert_true(waited < 5000);    /* and not at some later poll */
    assert_int_equal(epoll_wait(f->efd, ev, 4, 0), 0); /* edge-triggered: reported once */

    assert_int_equal(coord_exec_poll(p, acms_mono_ms(), &st), 1);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_OK);
    coord_exec_free(p);
    assert_int_equal(epoll_wait(f->efd, ev, 4, 0), 0);
}

static void test_many_attempts_leave_nothing_in_the_set(void **state)
{
    fixture *f = *state;
    if (!have_pidfd())
        skip();
    char *argv[] = {"true"};
    for (int i = 0; i < 20; i++) {
        coord_exec_req req = request(f, f->root, argv, 1);
        req.attempt = (uint32_t)i + 1;
        coord_proc *p = coord_exec_start(&req);
        assert_non_null(p);
        struct epoll_event ev[4];
        coord_exec_status st;
        assert_int_equal(epoll_wait(f->efd, ev, 4, 10000), 1);
        assert_int_equal(coord_exec_poll(p, acms_mono_ms(), &st), 1);
        assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_OK);
        coord_exec_free(p);
    }
    /* a closed pidfd leaves the set: a later exit is the only event */
    char *sleeper[] = {"sh", "-c", "sleep 0.1"};
    coord_exec_req req = request(f, f->root, sleeper, 3);
    req.attempt = 99;
    coord_proc *p = coord_exec_start(&req);
    struct epoll_event ev[32];
    assert_int_equal(epoll_wait(f->efd, ev, 32, 10000), 1);
    coord_exec_status st;
    assert_int_equal(coord_exec_poll(p, acms_mono_ms(), &st), 1);
    coord_exec_free(p);
}

static void test_signal_mask_restored(void **state)
{
    fixture *f = *state;
    sigset_t before, after;
    sigemptyset(&before);
    sigaddset(&before, SIGUSR2);
    sigprocmask(SIG_SETMASK, &before, NULL);
    char *argv[] = {"true"};
    coord_exec_req req = request(f, f->root, argv, 1);
    coord_proc *p = coord_exec_start(&req);
    assert_non_null(p);
    sigprocmask(SIG_SETMASK, NULL, &after);
    assert_true(sigismember(&after, SIGUSR2));
    assert_false(sigismember(&after, SIGTERM));
    assert_false(sigismember(&after, SIGCHLD));
    coord_exec_status st;
    int64_t t0 = acms_mono_ms();
    while (!coord_exec_poll(p, acms_mono_ms(), &st) && acms_mono_ms() - t0 < 10000)
        usleep(5000);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_OK);
    coord_exec_free(p);
    sigemptyset(&before);
    sigprocmask(SIG_SETMASK, &before, NULL);
}

static void test_deep_work_root_created(void **state)
{
    fixture *f = *state;
    char root[400];
    snprintf(root, sizeof root, "%s/a/b/c", f->root);
    char *argv[] = {"sh", "-c", "pwd"};
    coord_exec_req req = request(f, root, argv, 3);
    coord_proc *p = coord_exec_start(&req);
    assert_non_null(p);
    coord_exec_status st;
    int64_t t0 = acms_mono_ms();
    while (!coord_exec_poll(p, acms_mono_ms(), &st) && acms_mono_ms() - t0 < 10000)
        usleep(5000);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_OK);
    coord_exec_free(p);
    struct stat sb;
    char dir[600];
    snprintf(dir, sizeof dir, "%s/run-w/s/attempt-1", root);
    assert_int_equal(stat(dir, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_non_null(strstr(st.dir, "/a/b/c/run-w/s/attempt-1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exit_wakes_the_set_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_attempts_leave_nothing_in_the_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signal_mask_restored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deep_work_root_created, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
