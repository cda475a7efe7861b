/* test_coord_sandbox_pool.c: the pool of attempt cgroups with real processes and the real kernel
 * (root and cgroups needed: skipped, saying why, where absent). A slot serves one attempt after
 * another: the second attempt runs in the first one's cgroup, is not reported OOM-killed for the
 * first one's kill, gets its own peak and CPU time, not the page cache the first one left, and the
 * limits of its own (raised, lowered, none); a slot with a process left after its attempt is retired, not reused, and removed by the
 * sweep once the process is gone; a slot left by a coordinator that died is removed, with what ran
 * in it, by the next coordinator's start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coordinator/exec.h"
#include "sandbox_fixture.h"

static int setup(void **state)
{
    return sandbox_fixture_setup(state, "pool");
}

static coord_exec_status run(fixture *f, const char *step, const char *script, uint64_t memory_mb)
{
    acms_secret_ctx secrets = {0};
    char *argv[] = {"/bin/sh", "-c", (char *)script};
    coord_exec_req req = {.run_id = "run-p", .step = step, .attempt = 1, .argv = argv, .argc = 3,
                          .work_root = f->root, .secrets = &secrets, .sandbox = &f->sb,
                          .res = {.memory_mb = memory_mb, .vcpu = 1}};
    coord_exec_status st;
    memset(&st, 0, sizeof st);
    int64_t t0 = acms_mono_ms();
    coord_proc *p = coord_exec_start(&req);
    assert_non_null(p);
    while (!coord_exec_poll(p, acms_mono_ms(), &st)) {
        if (acms_mono_ms() - t0 > 60000) {
            coord_exec_abandon(p);
            fail_msg("step %s did not finish", step);
        }
        usleep(10000);
    }
    coord_exec_free(p);
    return st;
}

/* The memory cgroup the attempt's step saw (its "cgroup" file, from /proc/self/cgroup). */
static void memory_cgroup_of(const coord_exec_status *st, char *out, size_t size)
{
    char path[700], buf[4096];
    snprintf(path, sizeof path, "%s/cgroup", st->dir);
    slurp(path, buf, sizeof buf);
    const char *m = strstr(buf, ":memory:");
    assert_non_null(m);
    size_t n = strcspn(m, "\n");
    assert_true(n < size);
    memcpy(out, m, n);
    out[n] = '\0';
    assert_non_null(strstr(out, "/acms/a"));
}

static void test_oom_of_one_attempt_not_reported_for_the_next(void **state)
{
    fixture *f = *state;
    if (!need(f))
        return;
    coord_exec_status a = run(f, "hog", "cat /proc/self/cgroup > cgroup; head -c 400M /dev/zero | tail", 64);
    assert_int_equal(a.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY);
    assert_int_equal(f->sb.nfree, 1); /* emptied by the kill: back in the pool */
    /* a failure of its own: an exit code, not the OOM kill of the attempt before */
    coord_exec_status b = run(f, "after", "cat /proc/self/cgroup > cgroup; exit 3", 64);
    assert_int_equal(b.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_NONZERO);
    char ca[512], cb[512];
    memory_cgroup_of(&a, ca, sizeof ca);
    memory_cgroup_of(&b, cb, sizeof cb);
    assert_string_equal(ca, cb); /* the same slot */
}

static void test_peak_and_cpu_are_the_attempts_own(void **state)
{
    fixture *f = *state;
    if (!need(f))
        return;
    const char *big = "cat /proc/self/cgroup > cgroup; exec python3 -c 'import time\nb = b\"x\" * (150 << 20)\n"
                      "while time.process_time() < 0.5: pass\n'";
    coord_exec_status a = run(f, "big", big, 512);
    assert_int_equal(a.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_OK);
    assert_true(a.peak_rss_kb >= 150 * 1024);
    assert_true(a.user_cpu_ms + a.sys_cpu_ms >= 400);
    coord_exec_status b = run(f, "small", "cat /proc/self/cgroup > cgroup", 512);
    assert_int_equal(b.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_OK);
    char ca[512], cb[512];
    memory_cgroup_of(&a, ca, sizeof ca);
    memory_cgroup_of(&b, cb, sizeof cb);
    assert_string_equal(ca, cb);
    assert_true(b.peak_rss_kb < 100 * 1024); /* not the 150 MiB of the attempt before */
    assert_true(b.user_cpu_ms + b.sys_cpu_ms < 400);
}

/* The page cache a step leaves charged to its slot (a file it wrote) is reclaimed before the next. */
static void test_page_cache_of_the_last_step_reclaimed(void **state)
{
    fixture *f = *state;
    if (!need(f))
        return;
    coord_exec_status a = run(f, "writer", "cat /proc/self/cgroup > cgroup; head -c 80M /dev/zero > data", 512);
    assert_int_equal(a.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_OK);
    assert_true(a.peak_rss_kb >= 60 * 1024); /* the file's pages were the step's */
    coord_exec_status b = run(f, "reader", "cat /proc/self/cgroup > cgroup", 512);
    char ca[512], cb[512];
    memory_cgroup_of(&a, ca, sizeof ca);
    memory_cgroup_of(&b, cb, sizeof cb);
    assert_string_equal(ca, cb);
    assert_true(b.peak_rss_kb < 20 * 1024);
}

/* The next attempt's limits are its own: raised (memsw first on v1), lowered, and none. */
static void test_limits_rewritten_for_each_attempt(void **state)
{
    fixture *f = *state;
    if (!need(f) || f->sb.cg.version != COORD_CG_V1) {
        printf("SKIP: checks v1's files (%s)\n", f->why);
        return;
    }
    static const struct {
        uint64_t mb;
        uint64_t want;
    } steps[] = {{64, 64 << 20}, {512, 512 << 20}, {32, 32 << 20}, {0, 0}};
    char first[COORD_CG_PATH] = "", err[256] = "";
    for (size_t i = 0; i < 4; i++) {
        coord_cg cg;
        coord_cg_limits lim = {.memory_mb = steps[i].mb, .pids_max = 100};
        assert_int_equal(coord_pool_take(&f->sb, &lim, &cg, err, sizeof err), ACMS_OK);
        const char *mem = cg.dir[COORD_CG_MEMORY];
        if (!first[0])
            snprintf(first, sizeof first, "%s", mem);
        assert_string_equal(mem, first);
        char path[1024], buf[64];
        snprintf(path, sizeof path, "%s/memory.limit_in_bytes", mem);
        slurp(path, buf, sizeof buf);
        if (steps[i].want)
            assert_int_equal(strtoull(buf, NULL, 10), steps[i].want);
        else
            assert_true(strtoull(buf, NULL, 10) > (1ULL << 50)); /* none: the kernel's maximum */
        if (f->sb.cg.memsw) {
            snprintf(path, sizeof path, "%s/memory.memsw.limit_in_bytes", mem);
            char sw[64];
            slurp(path, sw, sizeof sw);
            assert_string_equal(sw, buf);
        }
        coord_pool_put(&f->sb, &cg, coord_cg_signal(&cg, 0));
        assert_int_equal(f->sb.nfree, 1);
    }
}

/* Forks a process that sleeps until killed; its pid. */
static pid_t sleeper(void)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/bin/sleep", "sleep", "300", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void join_pid(const coord_cg *cg, pid_t pid)
{
    for (int c = 0; c < COORD_CG_NCTRL; c++) {
        if (!cg->dir[c][0])
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/cgroup.procs", cg->dir[c]);
        FILE *fp = fopen(path, "w");
        assert_non_null(fp);
        fprintf(fp, "%ld\n", (long)pid);
        assert_int_equal(fclose(fp), 0);
    }
}

static void test_slot_with_a_process_left_is_retired(void **state)
{
    fixture *f = *state;
    if (!need(f))
        return;
    coord_cg cg;
    coord_cg_limits lim = {.memory_mb = 64, .pids_max = 100};
    char err[256] = "", dir[COORD_CG_PATH];
    assert_int_equal(coord_pool_take(&f->sb, &lim, &cg, err, sizeof err), ACMS_OK);
    snprintf(dir, sizeof dir, "%s", cg.dir[COORD_CG_MEMORY]);
    pid_t pid = sleeper();
    join_pid(&cg, pid);
    int n = coord_cg_signal(&cg, 0);
    assert_int_equal(n, 1);
    coord_pool_put(&f->sb, &cg, n);
    assert_int_equal(f->sb.nfree, 0); /* not reused */
    assert_true(f->sb.nbusy > 0);     /* left to the sweep */
    assert_int_equal(access(dir, F_OK), 0);
    coord_cg next;
    assert_int_equal(coord_pool_take(&f->sb, &lim, &next, err, sizeof err), ACMS_OK);
    assert_string_not_equal(next.dir[COORD_CG_MEMORY], dir); /* a new slot, not the busy one */
    coord_pool_put(&f->sb, &next, coord_cg_signal(&next, 0));
    kill(pid, SIGKILL);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    for (int i = 0; i < 500 && f->sb.nbusy; i++) {
        coord_sandbox_sweep(&f->sb);
        if (f->sb.nbusy)
            usleep(10000);
    }
    assert_int_equal(f->sb.nbusy, 0);
    assert_int_equal(access(dir, F_OK), -1);
}

/* A slot of a coordinator that died (a<pid>-<n>, no such process), with a process still in it. */
static void test_dead_coordinators_slots_swept_at_start(void **state)
{
    fixture *f = *state;
    if (!need(f))
        return;
    pid_t dead = fork();
    assert_true(dead >= 0);
    if (dead == 0)
        _exit(0);
    int status;
    assert_int_equal(waitpid(dead, &status, 0), dead);
    char name[64], err[256] = "";
    snprintf(name, sizeof name, "a%ld-7", (long)dead);
    coord_cg cg;
    assert_int_equal(coord_cg_make(&f->sb.cg, name, &cg, err, sizeof err), ACMS_OK);
    pid_t pid = sleeper();
    join_pid(&cg, pid);
    coord_cg_close_fds(&cg);
    coord_sandbox next;
    assert_int_equal(coord_sandbox_init(&next, err, sizeof err), ACMS_OK);
    assert_int_equal(waitpid(pid, &status, 0), pid); /* killed by the new coordinator's start */
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    for (int i = 0; i < 500 && next.nbusy; i++) {
        coord_sandbox_sweep(&next);
        if (next.nbusy)
            usleep(10000);
    }
    for (int c = 0; c < COORD_CG_NCTRL; c++)
        if (cg.dir[c][0])
            assert_int_equal(access(cg.dir[c], F_OK), -1);
    coord_sandbox_release(&next);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_oom_of_one_attempt_not_reported_for_the_next, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peak_and_cpu_are_the_attempts_own, setup, teardown),
        cmocka_unit_test_setup_teardown(test_page_cache_of_the_last_step_reclaimed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits_rewritten_for_each_attempt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slot_with_a_process_left_is_retired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_coordinators_slots_swept_at_start, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
