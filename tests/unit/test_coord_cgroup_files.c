/* test_coord_cgroup_files.c: cgroup detection and the per-attempt files, for v2 and v1, on directory
 * trees shaped like cgroupfs (the kernel creates a cgroup's files; here the test does). What the
 * kernel does with them is tested with real cgroups in test_coord_sandbox.c and the integration
 * tests; this covers the hierarchy this host does not run (v2 with memory, as on most production
 * hosts): which mount is chosen, controller delegation, the moving of our processes into a leaf,
 * the values written (memory.max, swap.max, oom.group, cpu.max, pids.max; v1 limit_in_bytes,
 * cfs quota) and the values read back (current, peak, oom_kill, CPU time), and for a v2 slot of the
 * pool, the limits of the next attempt and readings that count from its start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coordinator/sandbox.h"
#include "acms.h"

static char root[256];

static void put(const char *rel, const char *content)
{
    char path[768], dir[1024];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    snprintf(dir, sizeof dir, "mkdir -p \"$(dirname '%s')\"", path);
    assert_int_equal(system(dir), 0);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(content, fp);
    fclose(fp);
}

static void get(const char *rel, char *buf, size_t size)
{
    char path[768];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    size_t n = fread(buf, 1, size - 1, fp);
    buf[n] = '\0';
    fclose(fp);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/acms-test-cgfiles-%ld", (long)getpid());
    mkdir(root, 0755);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

static void probe_files(const char *mountinfo, const char *self, coord_cg_probe *pr, char *mi, char *sc, size_t size)
{
    put("mountinfo", mountinfo);
    put("self", self);
    snprintf(mi, size, "%s/mountinfo", root);
    snprintf(sc, size, "%s/self", root);
    pr->mountinfo = mi;
    pr->self_cgroup = sc;
}

static void test_v2_root_cgroup(void **state)
{
    (void)state;
    char mi[512], sc[512], line[1024], buf[256];
    snprintf(line, sizeof line, "30 20 0:26 / %s/cg rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n", root);
    coord_cg_probe pr = {0};
    probe_files(line, "0::/\n", &pr, mi, sc, sizeof mi);
    put("cg/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
    put("cg/cgroup.subtree_control", "");
    put("cg/cgroup.kill", "");
    put("cg/acms/cgroup.controllers", "cpu memory pids\n");
    put("cg/acms/cgroup.subtree_control", "");
    coord_cg_host h;
    assert_int_equal(coord_cg_detect(&h, &pr), ACMS_OK);
    assert_int_equal(h.version, COORD_CG_V2);
    assert_non_null(strstr(h.base[0], "/cg/acms"));
    get("cg/cgroup.subtree_control", buf, sizeof buf);
    assert_string_equal(buf, "+memory +cpu +pids");
    get("cg/acms/cgroup.subtree_control", buf, sizeof buf);
    assert_string_equal(buf, "+memory +cpu +pids");

    /* one attempt's files */
    static const char *const files[] = {"memory.max", "memory.swap.max", "memory.oom.group", "cpu.max", "pids.max"};
    for (size_t i = 0; i < 5; i++) {
        snprintf(line, sizeof line, "cg/acms/t/%s", files[i]);
        put(line, "");
    }
    coord_cg cg;
    memset(&cg, 0, sizeof cg);
    cg.host = &h;
    cg.open = 1;
    snprintf(cg.dir[0], sizeof cg.dir[0], "%.500s/t", h.base[0]);
    coord_cg_limits lim = {.memory_mb = 512, .vcpu = 1.5, .pids_max = 4096};
    char err[256] = "";
    assert_int_equal(coord_cg_configure(&cg, &lim, err, sizeof err), ACMS_OK);
    get("cg/acms/t/memory.max", buf, sizeof buf);
    assert_string_equal(buf, "536870912");
    get("cg/acms/t/memory.swap.max", buf, sizeof buf);
    assert_string_equal(buf, "0");
    get("cg/acms/t/memory.oom.group", buf, sizeof buf);
    assert_string_equal(buf, "1");
    get("cg/acms/t/cpu.max", buf, sizeof buf);
    assert_string_equal(buf, "150000 100000");
    get("cg/acms/t/pids.max", buf, sizeof buf);
    assert_string_equal(buf, "4096");

    put("cg/acms/t/memory.current", "1048576\n");
    put("cg/acms/t/memory.peak", "536870912\n");
    put("cg/acms/t/memory.events", "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 1\n");
    put("cg/acms/t/cpu.stat", "usage_usec 3500000\nuser_usec 2500000\nsystem_usec 1000000\n");
    coord_cg_stats st;
    assert_int_equal(coord_cg_read(&cg, &st), ACMS_OK);
    assert_int_equal(st.current_kb, 1024);
    assert_int_equal(st.peak_kb, 512 * 1024);
    assert_int_equal(st.oom_kills, 1);
    assert_true(st.cpu_known);
    assert_int_equal(st.user_ms, 2500);
    assert_int_equal(st.sys_ms, 1000);
    assert_int_equal(coord_cg_set_memory(&cg, 800, err, sizeof err), ACMS_OK);
    get("cg/acms/t/memory.max", buf, sizeof buf);
    assert_string_equal(buf, "838860800");
}

static void test_v2_service_cgroup_moves_into_a_leaf(void **state)
{
    (void)state;
    char mi[512], sc[512], line[1024], buf[256];
    snprintf(line, sizeof line, "30 20 0:26 / %s/cg rw - cgroup2 cgroup2 rw\n", root);
    coord_cg_probe pr = {0};
    probe_files(line, "0::/system.slice/acms.service\n", &pr, mi, sc, sizeof mi);
    put("cg/system.slice/acms.service/cgroup.controllers", "cpu memory pids\n");
    put("cg/system.slice/acms.service/cgroup.procs", "4242\n");
    put("cg/system.slice/acms.service/cgroup.subtree_control", "");
    put("cg/system.slice/acms.service/coordinator/cgroup.procs", "");
    put("cg/system.slice/acms.service/acms/cgroup.controllers", "cpu memory pids\n");
    put("cg/system.slice/acms.service/acms/cgroup.subtree_control", "");
    coord_cg_host h;
    assert_int_equal(coord_cg_detect(&h, &pr), ACMS_OK);
    assert_int_equal(h.version, COORD_CG_V2);
    get("cg/system.slice/acms.service/coordinator/cgroup.procs", buf, sizeof buf);
    assert_string_equal(buf, "4242"); /* our process left the cgroup that now delegates */
    get("cg/system.slice/acms.service/cgroup.subtree_control", buf, sizeof buf);
    assert_string_equal(buf, "+memory +cpu +pids");
    assert_non_null(strstr(h.base[0], "/system.slice/acms.service/acms"));

    /* a restart finds itself in the leaf and uses the same parent */
    put("self", "0::/system.slice/acms.service/coordinator\n");
    assert_int_equal(coord_cg_detect(&h, &pr), ACMS_OK);
    assert_int_equal(h.version, COORD_CG_V2);
    assert_non_null(strstr(h.base[0], "/system.slice/acms.service/acms"));
}

static void test_v2_without_memory_falls_to_v1(void **state)
{
    (void)state;
    char mi[512], sc[512], line[2048], buf[256];
    snprintf(line, sizeof line,
             "30 20 0:26 / %s/unified rw - cgroup2 cgroup2 rw\n"
             "31 20 0:27 / %s/memory rw - cgroup cgroup rw,memory\n"
             "32 20 0:28 / %s/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
             "33 20 0:29 / %s/pids rw - cgroup cgroup rw,pids\n",
             root, root, root, root);
    coord_cg_probe pr = {0};
    probe_files(line, "9:pids:/\n4:memory:/box/7\n2:cpu,cpuacct:/\n0::/\n", &pr, mi, sc, sizeof mi);
    put("unified/cgroup.controllers", "hugetlb\n");
    put("memory/box/7/acms/memory.memsw.limit_in_bytes", "");
    put("cpu,cpuacct/x", "");
    put("pids/x", "");
    coord_cg_host h;
    assert_int_equal(coord_cg_detect(&h, &pr), ACMS_OK);
    assert_int_equal(h.version, COORD_CG_V1);
    assert_non_null(strstr(h.base[COORD_CG_MEMORY], "/memory/box/7/acms"));
    assert_int_equal(h.same_as[COORD_CG_CPUACCT], COORD_CG_CPU);
    assert_true(h.memsw);
    assert_non_null(strstr(h.why, "memory cpu cpuacct pids"));

    static const char *const files[] = {"memory/box/7/acms/t/memory.limit_in_bytes",
                                        "memory/box/7/acms/t/memory.memsw.limit_in_bytes",
                                        "memory/box/7/acms/t/memory.swappiness", "cpu,cpuacct/acms/t/cpu.cfs_period_us",
                                        "cpu,cpuacct/acms/t/cpu.cfs_quota_us", "pids/acms/t/pids.max"};
    for (size_t i = 0; i < 6; i++)
        put(files[i], "");
    coord_cg cg;
    memset(&cg, 0, sizeof cg);
    cg.host = &h;
    cg.open = 1;
    snprintf(cg.dir[COORD_CG_MEMORY], sizeof cg.dir[0], "%.500s/t", h.base[COORD_CG_MEMORY]);
    snprintf(cg.dir[COORD_CG_CPU], sizeof cg.dir[0], "%.500s/t", h.base[COORD_CG_CPU]);
    snprintf(cg.dir[COORD_CG_PIDS], sizeof cg.dir[0], "%.500s/t", h.base[COORD_CG_PIDS]);
    coord_cg_limits lim = {.memory_mb = 256, .vcpu = 1, .pids_max = 100};
    char err[256] = "";
    assert_int_equal(coord_cg_configure(&cg, &lim, err, sizeof err), ACMS_OK);
    get(files[0], buf, sizeof buf);
    assert_string_equal(buf, "268435456");
    get(files[1], buf, sizeof buf);
    assert_string_equal(buf, "268435456");
    get(files[4], buf, sizeof buf);
    assert_string_equal(buf, "100000");
    get(files[5], buf, sizeof buf);
    assert_string_equal(buf, "100");

    put("memory/box/7/acms/t/memory.usage_in_bytes", "2097152\n");
    put("memory/box/7/acms/t/memory.max_usage_in_bytes", "268435456\n");
    put("memory/box/7/acms/t/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
    put("cpu,cpuacct/acms/t/cpuacct.stat", "user 150\nsystem 50\n");
    coord_cg_stats st;
    assert_int_equal(coord_cg_read(&cg, &st), ACMS_OK);
    assert_int_equal(st.current_kb, 2048);
    assert_int_equal(st.peak_kb, 256 * 1024);
    assert_int_equal(st.oom_kills, 2);
    long hz = sysconf(_SC_CLK_TCK);
    assert_int_equal(st.user_ms, 150 * 1000 / hz);
    assert_int_equal(st.sys_ms, 50 * 1000 / hz);
}

/* A v2 slot of the pool (sandbox_pool.c), on files shaped like cgroup2: the next attempt's limits
 * replace the last one's ("max" where it has none), and its readings count from its start: the peak
 * read through the descriptor it reset, OOM kills and CPU time less the counters at its start. */
static void test_v2_slot_counts_from_the_attempts_start(void **state)
{
    (void)state;
    coord_cg_host h;
    memset(&h, 0, sizeof h);
    h.version = COORD_CG_V2;
    snprintf(h.base[0], sizeof h.base[0], "%s/cg/acms", root);
    static const char *const files[] = {"memory.max", "memory.swap.max", "memory.oom.group", "cpu.max", "pids.max"};
    char line[256], buf[256], err[256] = "";
    coord_cg cg;
    memset(&cg, 0, sizeof cg);
    cg.host = &h;
    cg.open = cg.pooled = 1;
    snprintf(cg.dir[0], sizeof cg.dir[0], "%.500s/s", h.base[0]);
    coord_cg_limits first = {.memory_mb = 512, .vcpu = 1.5, .pids_max = 4096}, next = {.pids_max = 4096};
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < 5; i++) {
            snprintf(line, sizeof line, "cg/acms/s/%s", files[i]);
            put(line, "");
        }
        assert_int_equal(coord_cg_configure(&cg, round ? &next : &first, err, sizeof err), ACMS_OK);
    }
    get("cg/acms/s/memory.max", buf, sizeof buf);
    assert_string_equal(buf, "max");
    get("cg/acms/s/memory.swap.max", buf, sizeof buf);
    assert_string_equal(buf, "max");
    get("cg/acms/s/memory.oom.group", buf, sizeof buf);
    assert_string_equal(buf, "0");
    get("cg/acms/s/cpu.max", buf, sizeof buf);
    assert_string_equal(buf, "max 100000");
    get("cg/acms/s/pids.max", buf, sizeof buf); /* unchanged: not written again */
    assert_string_equal(buf, "");

    put("cg/acms/s/memory.peak", "536870912\n");
    put("cg/acms/s/memory.events", "oom 1\noom_kill 1\n");
    put("cg/acms/s/cpu.stat", "usage_usec 3500000\nuser_usec 2500000\nsystem_usec 1000000\n");
    assert_int_equal(coord_cg_begin(&cg, err, sizeof err), ACMS_OK);
    assert_true(cg.peak_fd > 0);
    put("cg/acms/s/memory.current", "1048576\n");
    put("cg/acms/s/memory.peak", "2097152\n"); /* what the reset descriptor reads */
    put("cg/acms/s/memory.events", "oom 1\noom_kill 1\n");
    put("cg/acms/s/cpu.stat", "usage_usec 3800000\nuser_usec 2700000\nsystem_usec 1100000\n");
    coord_cg_stats st;
    assert_int_equal(coord_cg_read(&cg, &st), ACMS_OK);
    assert_int_equal(st.peak_kb, 2048);
    assert_int_equal(st.oom_kills, 0); /* the kill before this attempt is not its own */
    assert_int_equal(st.user_ms, 200);
    assert_int_equal(st.sys_ms, 100);
    put("cg/acms/s/memory.events", "oom 2\noom_kill 2\n");
    assert_int_equal(coord_cg_read(&cg, &st), ACMS_OK);
    assert_int_equal(st.oom_kills, 1);
    coord_cg_close_fds(&cg);
}

static void test_nothing_usable_says_why(void **state)
{
    (void)state;
    char mi[512], sc[512];
    coord_cg_probe pr = {0};
    probe_files("30 20 0:26 / /proc rw - proc proc rw\n", "0::/\n", &pr, mi, sc, sizeof mi);
    coord_cg_host h;
    assert_int_equal(coord_cg_detect(&h, &pr), ACMS_OK);
    assert_int_equal(h.version, COORD_CG_NONE);
    assert_non_null(strstr(h.why, "no cgroup2 mount"));
    assert_non_null(strstr(h.why, "no cgroup v1 memory hierarchy"));
    pr.want = "off";
    assert_int_equal(coord_cg_detect(&h, &pr), ACMS_OK);
    assert_int_equal(h.version, COORD_CG_NONE);
    assert_non_null(strstr(h.why, "ACMS_CGROUP=off"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_v2_root_cgroup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v2_service_cgroup_moves_into_a_leaf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v2_without_memory_falls_to_v1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v2_slot_counts_from_the_attempts_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nothing_usable_says_why, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
