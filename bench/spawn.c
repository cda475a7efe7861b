/* spawn.c (acms-bench-spawn): what the local executor's sandbox costs per step attempt. Runs --steps
 * `true` attempts one after another through the coordinator's own executor (coord_exec_start, the
 * pidfd wake, coord_exec_poll), in each mode, alternating the order round by round:
 *   off      no sandbox: the polling path (what every attempt cost before the sandbox)
 *   sandbox  cgroup (memory 256 MiB, 1 vCPU, pids) + step user
 *   netns    sandbox + a network namespace with loopback up
 *   volume   sandbox + a 1 GiB tmpfs work directory
 *   v2_join, v2_clone3   an attempt cgroup on cgroup2 (without controllers where v1 holds them, as
 *            here), entered by writing cgroup.procs from the child (a migration) or by clone3's
 *            CLONE_INTO_CGROUP (none): what the v2 path saves
 * and prints one JSON object: per mode the median over rounds of the mean time the coordinator's
 * loop spends in coord_exec_start (start_us), of start-to-reaped (total_us), and of the CPU time
 * (user + system) of this process and the steps it reaped (cpu_us), each per attempt.
 * Needs root for the sandbox modes (null otherwise). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "benchlib.h"
#include "coordinator/exec.h"

enum { M_OFF, M_SANDBOX, M_NETNS, M_VOLUME, M_V2_JOIN, M_V2_CLONE3, M_N };
static const char *const mode_names[M_N] = {"off", "sandbox", "netns", "volume", "v2_join", "v2_clone3"};

typedef struct result {
    double start_us, total_us, cpu_us;
} result;

/* CPU time (user + system) of this process and of the children it reaped, in µs. */
static double cpu_now_us(void)
{
    struct rusage self, kids;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
    double us = 0;
    const struct rusage *both[2] = {&self, &kids};
    for (int i = 0; i < 2; i++)
        us += (double)(both[i]->ru_utime.tv_sec + both[i]->ru_stime.tv_sec) * 1e6 +
              (double)(both[i]->ru_utime.tv_usec + both[i]->ru_stime.tv_usec);
    return us;
}

/* One round of n attempts in mode m; 0 or -1 (an attempt failed: said on stderr). */
static int round_of(coord_sandbox *sb, coord_sandbox *v2, int m, size_t n, const char *root, int ep, result *out)
{
    coord_sandbox *use = m == M_OFF ? NULL : m >= M_V2_JOIN ? v2 : sb;
    if (v2)
        v2->no_clone_into = m == M_V2_JOIN;
    acms_secret_ctx secrets = {0};
    char *argv[] = {"true"};
    double start = 0, total = 0, cpu0 = cpu_now_us();
    for (size_t i = 0; i < n; i++) {
        char run[64];
        snprintf(run, sizeof run, "bench-%s", mode_names[m]);
        coord_exec_req req = {.run_id = run, .step = "s", .attempt = (uint32_t)i + 1, .argv = argv, .argc = 1,
                              .work_root = root, .secrets = &secrets, .wake_fd = ep,
                              .res = {.memory_mb = m >= M_V2_JOIN ? 0 : 256, .vcpu = m >= M_V2_JOIN ? 0 : 1},
                              .sandbox = use, .network_isolated = m == M_NETNS,
                              .volume_size_gb = m == M_VOLUME ? 1 : 0};
        int64_t t0 = bench_now_us();
        coord_proc *p = coord_exec_start(&req);
        int64_t t1 = bench_now_us();
        coord_exec_status st;
        struct epoll_event ev;
        while (!coord_exec_poll(p, acms_mono_ms(), &st))
            epoll_wait(ep, &ev, 1, 50);
        int64_t t2 = bench_now_us();
        coord_exec_free(p);
        if (st.reason != ACMS__V1__EXIT_REASON__EXIT_REASON_OK) {
            fprintf(stderr, "acms-bench-spawn: %s attempt %zu: %s\n", mode_names[m], i + 1, st.message);
            return -1;
        }
        start += (double)(t1 - t0);
        total += (double)(t2 - t0);
    }
    out->start_us = start / (double)n;
    out->total_us = total / (double)n;
    out->cpu_us = (cpu_now_us() - cpu0) / (double)n;
    return 0;
}

int main(int argc, char **argv)
{
    size_t n = 300, rounds = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--steps"))
            n = (size_t)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--rounds"))
            rounds = (size_t)strtoul(argv[i + 1], NULL, 10);
    }
    if (!n || !rounds || rounds > 64) {
        fprintf(stderr, "usage: acms-bench-spawn [--steps N] [--rounds R <= 64]\n");
        return 2;
    }
    char root[] = "/tmp/acms-bench-spawn-XXXXXX", err[256] = "";
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    chmod(root, 0711);
    coord_sandbox sb;
    if (coord_sandbox_init(&sb, err, sizeof err) != ACMS_OK) {
        fprintf(stderr, "acms-bench-spawn: %s\n", err);
        return 1;
    }
    /* a bare cgroup2 directory for the v2 modes (no limits: the controllers may live in v1) */
    coord_sandbox v2;
    memset(&v2, 0, sizeof v2);
    const char *uni = access("/sys/fs/cgroup/unified/cgroup.procs", W_OK) == 0 ? "/sys/fs/cgroup/unified"
                      : access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 ? "/sys/fs/cgroup"
                                                                              : NULL;
    v2.root = sb.root;
    v2.cg.version = COORD_CG_V2;
    snprintf(v2.cg.base[0], sizeof v2.cg.base[0], "%s/acms-bench-%ld", uni ? uni : "", (long)getpid());
    int v2ok = uni && sb.root && mkdir(v2.cg.base[0], 0755) == 0;
    int usable[M_N] = {1, sb.cg.version && sb.user, sb.cg.version && sb.user && sb.netns,
                       sb.cg.version && sb.user && sb.volumes, v2ok, v2ok};
    int ep = epoll_create1(EPOLL_CLOEXEC);
    double start[M_N][64], total[M_N][64], cpu[M_N][64];
    int rc = 0;
    for (size_t r = 0; r < rounds && !rc; r++)
        for (int k = 0; k < M_N && !rc; k++) {
            int m = r % 2 ? M_N - 1 - k : k; /* alternate the order */
            result res = {0, 0, 0};
            if (!usable[m])
                continue;
            rc = round_of(&sb, v2ok ? &v2 : NULL, m, n, root, ep, &res);
            start[m][r] = res.start_us;
            total[m][r] = res.total_us;
            cpu[m][r] = res.cpu_us;
        }
    printf("{\"steps\": %zu, \"rounds\": %zu, \"sandbox\": \"%s\"", n, rounds, sb.label);
    for (int m = 0; m < M_N; m++) {
        if (!usable[m] || rc)
            printf(", \"%s\": null", mode_names[m]);
        else
            printf(", \"%s\": {\"start_us\": %.0f, \"total_us\": %.0f, \"cpu_us\": %.0f}", mode_names[m],
                   bench_median(start[m], rounds), bench_median(total[m], rounds), bench_median(cpu[m], rounds));
    }
    printf("}\n");
    close(ep);
    coord_sandbox_release(&sb);
    coord_sandbox_release(&v2);
    if (v2ok)
        rmdir(v2.cg.base[0]);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "acms-bench-spawn: could not remove %s\n", root);
    return rc ? 1 : 0;
}
