/* test_coord_sandbox.c: the local executor's sandbox with real processes and the real kernel (root
 * and cgroups needed: skipped, saying why, where absent): the kernel's OOM kill is read from the
 * cgroup and reported as MEMORY; a setsid child dies with its step and its memory is counted; the
 * step runs as the step user with a clean environment and cannot read our environ; an isolated step
 * sees only loopback; volume_size_gb is a tmpfs of that size; a running attempt's memory limit is
 * raised in place. The cgroup v2 file formats are checked on a directory tree shaped like cgroup2
 * (this kernel's v2 hierarchy has no memory controller when v1 holds it). The reuse of a cgroup by
 * the next attempt (the pool) is tested in test_coord_sandbox_pool.c. */
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
#include <sys/vfs.h>
#include <unistd.h>

#include "coordinator/exec.h"
#include "sandbox_fixture.h"

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

static int setup(void **state)
{
    return sandbox_fixture_setup(state, "sandbox");
}

typedef struct opts {
    uint64_t memory_mb;
    double vcpu;
    uint32_t volume_gb;
    int isolated;
    uint64_t raise_at_kb, raise_to_mb;   /* raise the limit in place once the step uses this much */
} opts;

static coord_exec_status run(fixture *f, const char *step, const char *script, const opts *o)
{
    acms_secret_ctx secrets = {0};
    char *argv[] = {"/bin/sh", "-c", (char *)script};
    coord_exec_req req = {.run_id = "run-s", .step = step, .attempt = 1, .argv = argv, .argc = 3,
                          .work_root = f->root, .secrets = &secrets, .sandbox = &f->sb,
                          .res = {.memory_mb = o->memory_mb, .vcpu = o->vcpu},
                          .volume_size_gb = o->volume_gb, .network_isolated = o->isolated};
    coord_exec_status st;
    memset(&st, 0, sizeof st);
    int64_t t0 = acms_mono_ms();
    coord_proc *p = coord_exec_start(&req);
    assert_non_null(p);
    int raised = 0;
    while (!coord_exec_poll(p, acms_mono_ms(), &st)) {
        if (o->raise_at_kb && !raised && st.rss_kb >= o->raise_at_kb) {
            char err[256] = "", marker[700];
            assert_int_equal(coord_exec_set_memory(p, o->raise_to_mb, err, sizeof err), ACMS_OK);
            snprintf(marker, sizeof marker, "%s/raised", st.dir);
            FILE *m = fopen(marker, "w"); /* the step goes on once its limit is raised */
            assert_non_null(m);
            fclose(m);
            raised = 1;
        }
        if (acms_mono_ms() - t0 > 60000) {
            coord_exec_abandon(p);
            fail_msg("step %s did not finish", step);
        }
        usleep(10000);
    }
    coord_exec_free(p);
    return st;
}

static void test_kernel_oom_reported(void **state)
{
    fixture *f = *state;
    if (!need(f))
        return;
    opts o = {.memory_mb = 64};
    coord_exec_status st = run(f, "hog", "head -c 400M /dev/zero | tail", &o);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY);
    assert_non_null(strstr(st.message, "OOM-killed by the kernel"));
    assert_true(st.peak_rss_kb > 60 * 1024 && st.peak_rss_kb <= 64 * 1024 + 64);
    assert_non_null(strstr(st.sandbox, "cgroup v"));
}

/* Waits until pid is gone (reaped by whoever is its parent now); 1 when it is, 0 after 20 s. */
static int gone(long pid)
{
    for (int i = 0; i < 2000; i++) {
        if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
            return 1;
        usleep(10000);
    }
    return 0;
}

static void test_setsid_child_killed_and_counted(void **state)
{
    fixture *f = *state;
    if (!need(f))
        return;
    /* the child leaves the process group and holds 150 MiB; the step exits 0 once it is ready */
    char script[1024];
    snprintf(script, sizeof script, "%s/setsid.sh", f->root);
    FILE *fp = fopen(script, "w");
    assert_non_null(fp);
    fputs("setsid python3 -c 'import os, time\nb = b\"x\" * (150 << 20)\n"
          "open(\"child\", \"w\").write(str(os.getpid()))\ntime.sleep(300)\n' &\n"
          "i=0; while [ ! -s child ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done\n",
          fp);
    fclose(fp);
    chmod(script, 0644);
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "sh %s", script);
    opts o = {.memory_mb = 512};
    coord_exec_status st = run(f, "setsid", cmd, &o);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_OK);
    char path[700], pid[32];
    snprintf(path, sizeof path, "%s/child", st.dir);
    slurp(path, pid, sizeof pid);
    long child = strtol(pid, NULL, 10);
    assert_true(child > 0);
    assert_true(gone(child));                  /* killed with its step */
    assert_true(st.peak_rss_kb >= 150 * 1024); /* its memory was the step's */
}

static void test_identity_and_clean_environment(void **state)
{
    fixture *f = *state;
    if (!need(f))
        return;
    setenv("ACMS_TEST_SECRET_IN_COORDINATOR", "s3cr3t-in-the-coordinator", 1);
    char script[512];
    snprintf(script, sizeof script,
             "id -u > out; env > env.txt; cat /proc/%ld/environ > stolen 2>/dev/null; echo $? > rc", (long)getpid());
    opts o = {0};
    coord_exec_status st = run(f, "who", script, &o);
    unsetenv("ACMS_TEST_SECRET_IN_COORDINATOR");
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_OK);
    char path[700], buf[8192];
    snprintf(path, sizeof path, "%s/out", st.dir);
    slurp(path, buf, sizeof buf);
    assert_int_equal(strtol(buf, NULL, 10), (long)f->sb.uid);
    snprintf(path, sizeof path, "%s/env.txt", st.dir);
    slurp(path, buf, sizeof buf);
    assert_null(strstr(buf, "s3cr3t-in-the-coordinator"));
    assert_non_null(strstr(buf, "ACMS_STEP=who"));
    snprintf(path, sizeof path, "%s/rc", st.dir);
    slurp(path, buf, sizeof buf);
    assert_int_not_equal(strtol(buf, NULL, 10), 0); /* our environ is not readable */
}

static void test_network_isolated_sees_loopback_only(void **state)
{
    fixture *f = *state;
    if (!need(f) || !f->sb.netns) {
        printf("SKIP: no network namespaces: %s\n", f->why);
        return;
    }
    opts o = {.isolated = 1};
    coord_exec_status st = run(f, "net", "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' > ifaces", &o);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_OK);
    char path[700], buf[1024];
    snprintf(path, sizeof path, "%s/ifaces", st.dir);
    slurp(path, buf, sizeof buf);
    assert_string_equal(buf, "lo\n");
    assert_non_null(strstr(st.sandbox, "netns"));
}

static void test_volume_is_sized_tmpfs(void **state)
{
    fixture *f = *state;
    if (!need(f))
        return;
    opts o = {.volume_gb = 1, .memory_mb = 256};
    coord_exec_status st = run(f, "vol", "stat -f -c '%T %b %S' .", &o);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_OK);
    char path[700], buf[256];
    snprintf(path, sizeof path, "%s/stdout.log", st.dir);
    slurp(path, buf, sizeof buf);
    unsigned long long blocks = 0, bsize = 0;
    char type[32] = "";
    assert_int_equal(sscanf(buf, "%31s %llu %llu", type, &blocks, &bsize), 3);
    assert_string_equal(type, "tmpfs");
    assert_int_equal(blocks * bsize, 1ULL << 30);
    (void)TMPFS_MAGIC;
    snprintf(path, sizeof path, "%s/work", st.dir);
    struct statfs sfs;
    assert_int_equal(statfs(path, &sfs), 0);
    assert_int_not_equal(sfs.f_type, TMPFS_MAGIC); /* unmounted once the attempt ended */
}

static void test_raise_memory_in_place(void **state)
{
    fixture *f = *state;
    if (!need(f))
        return;
    /* 100 MiB, then (once its limit went 160 -> 400 MiB and "raised" exists) 200 MiB more */
    opts o = {.memory_mb = 160, .raise_at_kb = 90 * 1024, .raise_to_mb = 400};
    const char *script = "exec python3 -c 'import os, time\nb = b\"x\" * (100 << 20)\n"
                         "t = time.time()\nwhile not os.path.exists(\"raised\") and time.time() < t + 60: time.sleep(0.02)\n"
                         "c = b\"y\" * (200 << 20)\n'";
    coord_exec_status st = run(f, "raise", script, &o);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_OK);
    assert_true(st.peak_rss_kb > 250 * 1024);
    assert_int_equal(st.memory_limit_mb, 400);
}

/* clone3 with CLONE_INTO_CGROUP starts the child inside its v2 cgroup, no migration. This host's
 * cgroup2 (the unified hierarchy) has no memory controller, but a cgroup there is a cgroup: the
 * mechanism is the same as with one. */
static void test_clone3_into_v2_cgroup(void **state)
{
    fixture *f = *state;
    const char *unified = access("/sys/fs/cgroup/unified/cgroup.procs", W_OK) == 0 ? "/sys/fs/cgroup/unified"
                          : access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 ? "/sys/fs/cgroup"
                                                                                  : NULL;
    if (!f->sb.root || !unified) {
        printf("SKIP: no writable cgroup2 hierarchy here (%s)\n", f->why);
        return;
    }
    coord_sandbox sb;
    memset(&sb, 0, sizeof sb);
    sb.root = 1;
    sb.cg.version = COORD_CG_V2;
    snprintf(sb.cg.base[0], sizeof sb.cg.base[0], "%s/acms-test-%ld", unified, (long)getpid());
    assert_int_equal(mkdir(sb.cg.base[0], 0755), 0);
    snprintf(sb.label, sizeof sb.label, "test");
    char *argv[] = {"/bin/cat", "/proc/self/cgroup"};
    acms_secret_ctx secrets = {0};
    coord_exec_req req = {.run_id = "run-s", .step = "into", .attempt = 1, .argv = argv, .argc = 2,
                          .work_root = f->root, .secrets = &secrets, .sandbox = &sb};
    coord_exec_status st;
    coord_proc *p = coord_exec_start(&req);
    assert_non_null(p);
    int64_t t0 = acms_mono_ms();
    while (!coord_exec_poll(p, acms_mono_ms(), &st) && acms_mono_ms() - t0 < 30000)
        usleep(10000);
    coord_exec_free(p);
    assert_int_equal(st.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_OK);
    char path[700], buf[4096], want[256];
    snprintf(path, sizeof path, "%s/stdout.log", st.dir);
    slurp(path, buf, sizeof buf);
    snprintf(want, sizeof want, "0::%s/a%ld-1\n", sb.cg.base[0] + strlen(unified), (long)getpid());
    assert_non_null(strstr(buf, want));
#if defined(__x86_64__)
    const char *pre = getenv("LD_PRELOAD"); /* valgrind does not know clone3: the fallback joined by writing */
    if (!(pre && strstr(pre, "vgpreload")))
        assert_non_null(strstr(st.sandbox, "clone3"));
#endif
    coord_sandbox_release(&sb);
    assert_int_equal(rmdir(sb.cg.base[0]), 0); /* the attempt's cgroup was removed */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kernel_oom_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setsid_child_killed_and_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identity_and_clean_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_network_isolated_sees_loopback_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_volume_is_sized_tmpfs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raise_memory_in_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clone3_into_v2_cgroup, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
