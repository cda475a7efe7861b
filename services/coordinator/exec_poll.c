/* exec_poll.c: measuring a step without a cgroup. The group's RSS and CPU ticks are summed over its
 * live members from /proc/<pid>/stat, and the largest member's VmHWM is kept. What this cannot see:
 * a child that left the process group (setsid), and anything between two samples; the sandbox's
 * cgroup has neither blind spot (sandbox_cgroup.c). */
#include "exec_poll.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Reads /proc/<pid>/<file> into buf (NUL-terminated); its length, 0 when unreadable or empty. */
static size_t read_proc(const char *pid, const char *file, char *buf, size_t size)
{
    char path[64];
    if (snprintf(path, sizeof path, "/proc/%s/%s", pid, file) >= (int)sizeof path)
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return (size_t)n;
}

/* VmHWM (peak RSS since exec) of one process, 0 when unknown. */
static uint64_t vm_hwm_kb(const char *pid)
{
    char buf[4096];
    if (!read_proc(pid, "status", buf, sizeof buf))
        return 0;
    const char *p = strstr(buf, "VmHWM:");
    return p ? strtoull(p + 6, NULL, 10) : 0;
}

/* Adds process pid (a decimal string) to the sums when it is a live member of group pgid: RSS
 * pages, CPU ticks, and its VmHWM into u->hwm_kb. Returns 1 when it was a member. */
static int sample_one(pid_t pgid, const char *pid, coord_group_usage *u, uint64_t *rss_pages, uint64_t *ut,
                      uint64_t *st)
{
    char buf[1024];
    if (!read_proc(pid, "stat", buf, sizeof buf))
        return 0;
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    /* fields after ") ": state ppid pgrp ... utime(14) stime(15) cutime cstime ... rss(24) */
    unsigned long long f[22] = {0};
    int k = 0;
    char *save = NULL;
    for (char *tok = strtok_r(p + 2, " ", &save); tok && k < 22; tok = strtok_r(NULL, " ", &save), k++)
        f[k] = strtoull(tok, NULL, 10);
    if (k < 22 || (pid_t)f[2] != pgid)
        return 0;
    *ut += f[11] + f[13];
    *st += f[12] + f[14];
    *rss_pages += f[21];
    uint64_t hwm = vm_hwm_kb(pid);
    if (hwm > u->hwm_kb)
        u->hwm_kb = hwm;
    u->sampled = 1;
    return 1;
}

void coord_group_sample(pid_t pgid, int leader_only, coord_group_usage *u)
{
    uint64_t rss_pages = 0, ut = 0, st = 0;
    long page_kb = sysconf(_SC_PAGESIZE) / 1024;
    if (leader_only) {
        char pid[24];
        snprintf(pid, sizeof pid, "%ld", (long)pgid);
        if (!sample_one(pgid, pid, u, &rss_pages, &ut, &st))
            return;
    } else {
        DIR *d = opendir("/proc");
        if (!d)
            return;
        struct dirent *e;
        while ((e = readdir(d)))
            if (e->d_name[0] >= '1' && e->d_name[0] <= '9')
                sample_one(pgid, e->d_name, u, &rss_pages, &ut, &st);
        closedir(d);
    }
    u->rss_kb = rss_pages * (uint64_t)(page_kb > 0 ? page_kb : 4);
    if (u->rss_kb > u->peak_kb)
        u->peak_kb = u->rss_kb;
    if (ut > u->utime_ticks)
        u->utime_ticks = ut;
    if (st > u->stime_ticks)
        u->stime_ticks = st;
}

uint64_t coord_ticks_ms(uint64_t ticks)
{
    long hz = sysconf(_SC_CLK_TCK);
    return ticks * 1000 / (uint64_t)(hz > 0 ? hz : 100);
}
