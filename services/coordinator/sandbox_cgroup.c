/* sandbox_cgroup.c: one cgroup for a step attempt, on cgroup v2 or v1. Detection reads
 * /proc/self/mountinfo and /proc/self/cgroup: v2 is used when our hierarchy offers memory, cpu and
 * pids, else v1 when its memory hierarchy is mounted writable. v1 keeps each controller in its own
 * hierarchy (memory, cpu, cpuacct, pids; co-mounted ones share a directory); v2 has one directory.
 * Invariants: a cgroup is named once (a<pid>-<seq>, made by mkdir: never one another coordinator
 * made) and held by one attempt at a time; a slot reused by a later attempt (sandbox_pool.c) was
 * found empty after its kills, and each attempt's readings start at its own start (peak reset;
 * OOM kills and CPU time less the counters at its start); the files hold the limits of the
 * attempt in it, "none" included; a cgroup is removed only after every process in it was killed;
 * the memory limit also bounds swap (memsw / swap.max 0), so a step at its limit is OOM-killed
 * rather than swapped. */
#include "sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acms.h"

static const char *const ctrl_names[COORD_CG_NCTRL] = {"memory", "cpu", "cpuacct", "pids"};

/* snprintf for explanations, where truncation is acceptable. */
static void say(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    (void)n;
}

/* --- small file helpers ----------------------------------------------------------------------- */

/* Reads path into buf (NUL-terminated). Length, or -1. */
static ssize_t read_file(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = 0;
    while (n + 1 < size) {
        ssize_t r = read(fd, buf + n, size - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    return (ssize_t)n;
}

static int write_file(const char *path, const char *value)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = strlen(value);
    ssize_t w;
    do
        w = write(fd, value, n);
    while (w < 0 && errno == EINTR);
    int e = errno;
    close(fd);
    errno = e;
    return w == (ssize_t)n ? 0 : -1;
}

/* <dir>/<file> into out; -1 when too long. */
static int join(char *out, size_t size, const char *dir, const char *file)
{
    int n = snprintf(out, size, "%s/%s", dir, file);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

static int write_in(const char *dir, const char *file, const char *value)
{
    char p[COORD_CG_PATH + 64];
    if (join(p, sizeof p, dir, file) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return write_file(p, value);
}

static int exists_in(const char *dir, const char *file)
{
    char p[COORD_CG_PATH + 64];
    return join(p, sizeof p, dir, file) == 0 && access(p, F_OK) == 0;
}

/* The number after "key " in a "key value" list (memory.events, cpu.stat, oom_control). */
static int kv_number(const char *text, const char *key, uint64_t *out)
{
    size_t kl = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (!strncmp(p, key, kl) && p[kl] == ' ') {
            *out = strtoull(p + kl + 1, NULL, 10);
            return 1;
        }
    return 0;
}

static int read_u64(const char *dir, const char *file, uint64_t *out)
{
    char p[COORD_CG_PATH + 64], buf[64];
    if (join(p, sizeof p, dir, file) < 0 || read_file(p, buf, sizeof buf) <= 0)
        return 0;
    if (!strncmp(buf, "max", 3))
        return 0;
    *out = strtoull(buf, NULL, 10);
    return 1;
}

/* --- detection -------------------------------------------------------------------------------- */

typedef struct mounts {
    char v2[COORD_CG_PATH], v2_root[COORD_CG_PATH];
    char v1[COORD_CG_NCTRL][COORD_CG_PATH], v1_root[COORD_CG_NCTRL][COORD_CG_PATH];
} mounts;

/* Does the comma-separated option list opts name controller c exactly? */
static int has_opt(const char *opts, const char *c)
{
    size_t cl = strlen(c);
    for (const char *p = opts; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t l = comma ? (size_t)(comma - p) : strlen(p);
        if (l == cl && !strncmp(p, c, cl))
            return 1;
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

/* One mountinfo line: "id parent maj:min root mountpoint opts ... - fstype source superopts". */
static void scan_mount_line(char *line, mounts *m)
{
    char *f[5] = {0}, *save = NULL, *tok = strtok_r(line, " ", &save);
    for (int k = 0; tok && k < 5; k++, tok = strtok_r(NULL, " ", &save))
        f[k] = tok;
    while (tok && strcmp(tok, "-"))
        tok = strtok_r(NULL, " ", &save);
    char *fstype = tok ? strtok_r(NULL, " ", &save) : NULL;
    char *source = fstype ? strtok_r(NULL, " ", &save) : NULL;
    char *super = source ? strtok_r(NULL, " \n", &save) : NULL;
    if (!f[4] || !fstype)
        return;
    if (!strcmp(fstype, "cgroup2") && !m->v2[0]) {
        snprintf(m->v2, sizeof m->v2, "%s", f[4]);
        snprintf(m->v2_root, sizeof m->v2_root, "%s", f[3]);
    } else if (!strcmp(fstype, "cgroup") && super) {
        for (int c = 0; c < COORD_CG_NCTRL; c++)
            if (has_opt(super, ctrl_names[c]) && !m->v1[c][0]) {
                snprintf(m->v1[c], sizeof m->v1[c], "%s", f[4]);
                snprintf(m->v1_root[c], sizeof m->v1_root[c], "%s", f[3]);
            }
    }
}

static int read_mounts(const char *path, mounts *m)
{
    FILE *fp = fopen(path, "re");
    if (!fp)
        return -1;
    char line[4096];
    while (fgets(line, sizeof line, fp))
        scan_mount_line(line, m);
    fclose(fp);
    return 0;
}

/* Our cgroup path for controller c (v1) or the unified hierarchy (c < 0) from /proc/self/cgroup. */
static int own_path(const char *self, int c, char *out, size_t size)
{
    char buf[8192];
    if (read_file(self, buf, sizeof buf) <= 0)
        return -1;
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        int match = c < 0 ? !strcmp(c1 + 1, "") && !strncmp(line, "0:", 2) : has_opt(c1 + 1, ctrl_names[c]);
        if (match)
            return snprintf(out, size, "%s", c2 + 1) < (int)size ? 0 : -1;
    }
    return -1;
}

/* mount + (path without the mount's root) into out. */
static int under_mount(char *out, size_t size, const char *mnt, const char *root, const char *path)
{
    size_t rl = strlen(root);
    if (rl > 1 && !strncmp(path, root, rl))
        path += rl;
    int n = snprintf(out, size, "%s%s", mnt, !strcmp(path, "/") ? "" : path);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* mkdir that accepts an existing directory. */
static int ensure_dir(const char *d)
{
    return mkdir(d, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

/* v2 needs memory, cpu and pids enabled for children of dir: they must be in dir's cgroup.controllers. */
static int v2_offers(const char *dir)
{
    char p[COORD_CG_PATH + 64], buf[512];
    if (join(p, sizeof p, dir, "cgroup.controllers") < 0 || read_file(p, buf, sizeof buf) < 0)
        return 0;
    for (char *nl = strchr(buf, '\n'); nl; nl = strchr(nl, '\n'))
        *nl = ' ';
    char spaced[600];
    snprintf(spaced, sizeof spaced, " %s ", buf);
    return strstr(spaced, " memory ") && strstr(spaced, " cpu ") && strstr(spaced, " pids ");
}

/* Moves every process of dir into dir/leaf (v2's "no internal processes": a cgroup that delegates
 * controllers to children holds no process itself). 0 or -1. */
static int v2_move_all(const char *dir, const char *leaf)
{
    char sub[COORD_CG_PATH], procs[COORD_CG_PATH + 64], buf[16384];
    if (join(sub, sizeof sub, dir, leaf) < 0 || ensure_dir(sub) < 0 ||
        join(procs, sizeof procs, dir, "cgroup.procs") < 0)
        return -1;
    if (read_file(procs, buf, sizeof buf) < 0)
        return -1;
    char *save = NULL;
    for (char *pid = strtok_r(buf, "\n", &save); pid; pid = strtok_r(NULL, "\n", &save))
        if (write_in(sub, "cgroup.procs", pid) < 0 && errno != ESRCH)
            return -1;
    return 0;
}

static int v2_delegate(const char *dir)
{
    return write_in(dir, "cgroup.subtree_control", "+memory +cpu +pids");
}

static int detect_v2(coord_cg_host *h, const mounts *m, const coord_cg_probe *pr)
{
    char own[COORD_CG_PATH], dir[COORD_CG_PATH], base[COORD_CG_PATH];
    if (!m->v2[0]) {
        say(h->why, sizeof h->why, "no cgroup2 mount");
        return -1;
    }
    if (pr->parent && pr->parent[0] == '/') {
        if (under_mount(base, sizeof base, m->v2, m->v2_root, pr->parent) < 0 || ensure_dir(base) < 0)
            goto fail;
    } else {
        if (own_path(pr->self_cgroup, -1, own, sizeof own) < 0 ||
            under_mount(dir, sizeof dir, m->v2, m->v2_root, own) < 0)
            goto fail;
        char *slash = strrchr(dir, '/');
        if (slash && !strcmp(slash, "/coordinator") && strlen(dir) > strlen(m->v2))
            *slash = '\0'; /* a restart: we already live in the leaf */
        if (!v2_offers(dir)) {
            say(h->why, sizeof h->why, "cgroup2 at %s lacks memory, cpu or pids", dir);
            return -1;
        }
        if (strcmp(dir, m->v2) && (v2_move_all(dir, "coordinator") < 0 || v2_delegate(dir) < 0))
            goto fail;
        if (!strcmp(dir, m->v2) && v2_delegate(dir) < 0)
            goto fail;
        if (join(base, sizeof base, dir, "acms") < 0 || ensure_dir(base) < 0)
            goto fail;
    }
    if (!v2_offers(base) || v2_delegate(base) < 0) {
        say(h->why, sizeof h->why, "cgroup2 %s: cannot delegate memory, cpu and pids (%s)", base, strerror(errno));
        return -1;
    }
    h->version = COORD_CG_V2;
    snprintf(h->base[0], sizeof h->base[0], "%s", base);
    h->kill_file = exists_in(base, "cgroup.kill");
    h->peak_file = 1; /* checked per attempt: memory.peak exists only in children on >= 5.19 */
    say(h->why, sizeof h->why, "cgroup v2 at %s", base);
    return 0;
fail:
    say(h->why, sizeof h->why, "cgroup2: %s", strerror(errno ? errno : EINVAL));
    return -1;
}

static int detect_v1(coord_cg_host *h, const mounts *m, const coord_cg_probe *pr)
{
    const char *leaf = pr->parent && *pr->parent && pr->parent[0] != '/' ? pr->parent : "acms";
    if (!m->v1[COORD_CG_MEMORY][0]) {
        say(h->why, sizeof h->why, "no cgroup v1 memory hierarchy");
        return -1;
    }
    for (int c = 0; c < COORD_CG_NCTRL; c++) {
        h->same_as[c] = -1;
        for (int e = 0; e < c; e++)
            if (m->v1[c][0] && !strcmp(m->v1[c], m->v1[e]))
                h->same_as[c] = e;
        char own[COORD_CG_PATH], dir[COORD_CG_PATH];
        if (!m->v1[c][0] || h->same_as[c] >= 0)
            continue;
        if (own_path(pr->self_cgroup, c, own, sizeof own) < 0 ||
            under_mount(dir, sizeof dir, m->v1[c], m->v1_root[c], own) < 0 ||
            join(h->base[c], sizeof h->base[c], dir, leaf) < 0 || ensure_dir(h->base[c]) < 0) {
            if (c == COORD_CG_MEMORY) {
                say(h->why, sizeof h->why, "cgroup v1 memory at %s: %s", m->v1[c], strerror(errno ? errno : EINVAL));
                return -1;
            }
            h->base[c][0] = '\0'; /* that controller is not used */
        }
    }
    h->version = COORD_CG_V1;
    h->memsw = exists_in(h->base[COORD_CG_MEMORY], "memory.memsw.limit_in_bytes");
    char names[64] = "";
    for (int c = 0; c < COORD_CG_NCTRL; c++)
        if (h->base[c][0] || (h->same_as[c] >= 0 && h->base[h->same_as[c]][0]))
            say(names + strlen(names), sizeof names - strlen(names), "%s%s", names[0] ? " " : "", ctrl_names[c]);
    say(h->why, sizeof h->why, "cgroup v1 (%s) under %s", names, h->base[COORD_CG_MEMORY]);
    return 0;
}

int coord_cg_detect(coord_cg_host *h, const coord_cg_probe *probe)
{
    coord_cg_probe pr = probe ? *probe : (coord_cg_probe){0};
    memset(h, 0, sizeof *h);
    if (!pr.mountinfo)
        pr.mountinfo = "/proc/self/mountinfo";
    if (!pr.self_cgroup)
        pr.self_cgroup = "/proc/self/cgroup";
    const char *want = pr.want && *pr.want ? pr.want : "auto";
    if (!strcmp(want, "off")) {
        say(h->why, sizeof h->why, "cgroups switched off (ACMS_CGROUP=off)");
        return ACMS_OK;
    }
    mounts m;
    memset(&m, 0, sizeof m);
    if (read_mounts(pr.mountinfo, &m) < 0) {
        say(h->why, sizeof h->why, "%s unreadable", pr.mountinfo);
        return ACMS_OK;
    }
    char why2[256] = "v2 not tried (ACMS_CGROUP=v1)", why1[256] = "v1 not tried (ACMS_CGROUP=v2)";
    if (strcmp(want, "v1")) {
        if (detect_v2(h, &m, &pr) == 0)
            return ACMS_OK;
        snprintf(why2, sizeof why2, "%s", h->why);
        memset(h, 0, sizeof *h);
    }
    if (strcmp(want, "v2")) {
        if (detect_v1(h, &m, &pr) == 0)
            return ACMS_OK;
        snprintf(why1, sizeof why1, "%s", h->why);
        memset(h, 0, sizeof *h);
    }
    say(h->why, sizeof h->why, "no usable cgroup: %.120s; %.120s", why2, why1);
    return ACMS_OK;
}

/* --- one attempt ------------------------------------------------------------------------------ */

/* The directory of controller c for cg ("" when that controller is not available). */
static const char *cg_dir(const coord_cg *cg, int c)
{
    if (cg->host->version == COORD_CG_V2)
        return cg->dir[0];
    int s = cg->host->same_as[c];
    return s >= 0 ? cg->dir[s] : cg->dir[c];
}

static int fail_errno(char *errstr, size_t errstr_size, const char *what, const char *where)
{
    say(errstr, errstr_size, "%s %s: %s", what, where, strerror(errno ? errno : EIO));
    return ACMS_ERR;
}

/* The v1 memory limit (0 = none, "-1"): memsw >= limit at every moment, so memsw is raised first
 * and lowered last. */
static int set_memory_v1(const char *dir, uint64_t bytes, uint64_t old, int memsw)
{
    char v[32];
    if (bytes)
        snprintf(v, sizeof v, "%" PRIu64, bytes);
    else
        snprintf(v, sizeof v, "-1");
    if (!memsw)
        return write_in(dir, "memory.limit_in_bytes", v);
    int raising = !bytes || (old && bytes > old);
    if (raising)
        return write_in(dir, "memory.memsw.limit_in_bytes", v) || write_in(dir, "memory.limit_in_bytes", v) ? -1 : 0;
    return write_in(dir, "memory.limit_in_bytes", v) || write_in(dir, "memory.memsw.limit_in_bytes", v) ? -1 : 0;
}

/* CPU quota in µs per 100 ms period for vcpu cores, 0 = none. */
static long quota_of(double vcpu)
{
    if (vcpu <= 0)
        return 0;
    long q = (long)(vcpu * 100000.0);
    return q < 1000 ? 1000 : q;
}

static int configure_v2(coord_cg *cg, const coord_cg_limits *lim, char *errstr, size_t errstr_size)
{
    const char *d = cg->dir[0];
    char v[64];
    uint64_t mem = lim->memory_mb << 20;
    long q = quota_of(lim->vcpu);
    if (mem != cg->memory_limit) {
        if (mem)
            snprintf(v, sizeof v, "%" PRIu64, mem);
        else
            snprintf(v, sizeof v, "max");
        if (write_in(d, "memory.max", v) < 0)
            return fail_errno(errstr, errstr_size, "memory.max in", d);
        if (exists_in(d, "memory.swap.max"))
            (void)write_in(d, "memory.swap.max", mem ? "0" : "max");
        (void)write_in(d, "memory.oom.group", mem ? "1" : "0"); /* an OOM kill ends the whole attempt */
        cg->memory_limit = mem;
    }
    if (q != cg->cpu_quota) {
        if (q)
            snprintf(v, sizeof v, "%ld 100000", q);
        else
            snprintf(v, sizeof v, "max 100000");
        if (write_in(d, "cpu.max", v) < 0)
            return fail_errno(errstr, errstr_size, "cpu.max in", d);
        cg->cpu_quota = q;
    }
    if (lim->pids_max != cg->pids_max) {
        if (lim->pids_max)
            snprintf(v, sizeof v, "%u", lim->pids_max);
        else
            snprintf(v, sizeof v, "max");
        if (write_in(d, "pids.max", v) < 0)
            return fail_errno(errstr, errstr_size, "pids.max in", d);
        cg->pids_max = lim->pids_max;
    }
    return ACMS_OK;
}

/* v1 memory.swappiness: 0 under a limit (nothing of the step swapped), what it was without. */
static void swappiness_v1(coord_cg *cg, const char *mem, int limited)
{
    uint64_t v;
    char s[24];
    if (limited) {
        if (cg->swappiness < 0 && read_u64(mem, "memory.swappiness", &v))
            cg->swappiness = (int)v;
        (void)write_in(mem, "memory.swappiness", "0");
    } else if (cg->swappiness >= 0) {
        snprintf(s, sizeof s, "%d", cg->swappiness);
        (void)write_in(mem, "memory.swappiness", s);
    }
}

static int configure_v1(coord_cg *cg, const coord_cg_limits *lim, char *errstr, size_t errstr_size)
{
    const char *mem = cg_dir(cg, COORD_CG_MEMORY), *cpu = cg_dir(cg, COORD_CG_CPU), *pids = cg_dir(cg, COORD_CG_PIDS);
    char v[64];
    uint64_t bytes = lim->memory_mb << 20;
    long q = quota_of(lim->vcpu);
    if (bytes != cg->memory_limit && mem[0]) {
        if (set_memory_v1(mem, bytes, cg->memory_limit, cg->host->memsw) < 0)
            return fail_errno(errstr, errstr_size, "memory limit in", mem);
        swappiness_v1(cg, mem, bytes != 0);
        cg->memory_limit = bytes;
    }
    if (q != cg->cpu_quota && cpu[0]) {
        snprintf(v, sizeof v, "%ld", q ? q : -1L);
        if (write_in(cpu, "cpu.cfs_period_us", "100000") < 0 || write_in(cpu, "cpu.cfs_quota_us", v) < 0)
            return fail_errno(errstr, errstr_size, "CPU quota in", cpu);
        cg->cpu_quota = q;
    }
    if (lim->pids_max != cg->pids_max && pids[0]) {
        if (lim->pids_max)
            snprintf(v, sizeof v, "%u", lim->pids_max);
        else
            snprintf(v, sizeof v, "max");
        if (write_in(pids, "pids.max", v) < 0)
            return fail_errno(errstr, errstr_size, "pids.max in", pids);
        cg->pids_max = lim->pids_max;
    }
    return ACMS_OK;
}

int coord_cg_configure(coord_cg *cg, const coord_cg_limits *lim, char *errstr, size_t errstr_size)
{
    if (!cg->memory_limit && !cg->cpu_quota && !cg->pids_max)
        cg->swappiness = -1; /* a fresh cgroup (or one with no limit): nothing saved yet */
    return cg->host->version == COORD_CG_V2 ? configure_v2(cg, lim, errstr, errstr_size)
                                            : configure_v1(cg, lim, errstr, errstr_size);
}

int coord_cg_make(const coord_cg_host *h, const char *name, coord_cg *cg, char *errstr, size_t errstr_size)
{
    memset(cg, 0, sizeof *cg);
    cg->host = h;
    cg->dir_fd = cg->peak_fd = -1;
    cg->swappiness = -1;
    for (int c = 0; c < COORD_CG_NCTRL; c++)
        cg->procs_fd[c] = -1;
    int n = h->version == COORD_CG_V2 ? 1 : h->version == COORD_CG_V1 ? COORD_CG_NCTRL : 0;
    for (int c = 0; c < n; c++) {
        if (!h->base[c][0])
            continue;
        if (join(cg->dir[c], sizeof cg->dir[c], h->base[c], name) < 0 || mkdir(cg->dir[c], 0755) < 0) {
            fail_errno(errstr, errstr_size, "cgroup", cg->dir[c]);
            cg->dir[c][0] = '\0';
            goto undo;
        }
        char procs[COORD_CG_PATH + 64];
        if (join(procs, sizeof procs, cg->dir[c], "cgroup.procs") < 0 ||
            (cg->procs_fd[c] = open(procs, O_WRONLY | O_CLOEXEC)) < 0) {
            fail_errno(errstr, errstr_size, "cgroup.procs of", cg->dir[c]);
            goto undo;
        }
    }
    if (h->version == COORD_CG_V2)
        cg->dir_fd = open(cg->dir[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* -1: the child joins by writing */
    cg->open = 1;
    return ACMS_OK;
undo:
    coord_cg_close_fds(cg);
    for (int c = 0; c < COORD_CG_NCTRL; c++)
        if (cg->dir[c][0])
            rmdir(cg->dir[c]);
    return ACMS_ERR;
}

int coord_cg_create(const coord_cg_host *h, const char *name, const coord_cg_limits *lim, coord_cg *cg, char *errstr,
                    size_t errstr_size)
{
    if (coord_cg_make(h, name, cg, errstr, errstr_size) != ACMS_OK)
        return ACMS_ERR;
    if (coord_cg_configure(cg, lim, errstr, errstr_size) == ACMS_OK)
        return ACMS_OK;
    coord_cg_close_fds(cg);
    for (int c = 0; c < COORD_CG_NCTRL; c++)
        if (cg->dir[c][0])
            rmdir(cg->dir[c]);
    cg->open = 0;
    return ACMS_ERR;
}

void coord_cg_close_fds(coord_cg *cg)
{
    if (cg->dir_fd > 0) {
        close(cg->dir_fd);
        cg->dir_fd = -1;
    }
    if (cg->peak_fd > 0) {
        close(cg->peak_fd);
        cg->peak_fd = -1;
    }
    for (int c = 0; c < COORD_CG_NCTRL; c++)
        if (cg->procs_fd[c] >= 0) {
            close(cg->procs_fd[c]);
            cg->procs_fd[c] = -1;
        }
}

/* The raw counters: OOM kills and CPU time (v1: USER_HZ ticks from cpuacct.stat; v2: µs from
 * cpu.stat). Returns 1 when the CPU counters were read. */
static int counters(const coord_cg *cg, uint64_t *oom, uint64_t *user, uint64_t *sys)
{
    char p[COORD_CG_PATH + 64], buf[1024];
    int v2 = cg->host->version == COORD_CG_V2;
    const char *mem = cg_dir(cg, COORD_CG_MEMORY), *acct = v2 ? cg->dir[0] : cg_dir(cg, COORD_CG_CPUACCT);
    *oom = *user = *sys = 0;
    if (join(p, sizeof p, mem, v2 ? "memory.events" : "memory.oom_control") == 0 && read_file(p, buf, sizeof buf) > 0)
        kv_number(buf, "oom_kill", oom);
    return acct[0] && join(p, sizeof p, acct, v2 ? "cpu.stat" : "cpuacct.stat") == 0 &&
           read_file(p, buf, sizeof buf) > 0 && kv_number(buf, v2 ? "user_usec" : "user", user) &&
           kv_number(buf, v2 ? "system_usec" : "system", sys);
}

/* v2 memory.peak reset for this descriptor only (kernel >= 6.12: writing any text to it). */
static int reset_peak_v2(coord_cg *cg, char *errstr, size_t errstr_size)
{
    char p[COORD_CG_PATH + 64];
    if (join(p, sizeof p, cg->dir[0], "memory.peak") < 0)
        return fail_errno(errstr, errstr_size, "memory.peak of", cg->dir[0]);
    int fd = open(p, O_RDWR | O_CLOEXEC);
    if (fd < 0 || write(fd, "0", 1) != 1) {
        fail_errno(errstr, errstr_size, "reset (kernel >= 6.12)", p);
        if (fd >= 0)
            close(fd);
        return ACMS_ERR;
    }
    if (cg->peak_fd > 0)
        close(cg->peak_fd);
    cg->peak_fd = fd;
    return ACMS_OK;
}

int coord_cg_begin(coord_cg *cg, char *errstr, size_t errstr_size)
{
    const char *mem = cg_dir(cg, COORD_CG_MEMORY);
    if (cg->host->version == COORD_CG_V2) {
        if (reset_peak_v2(cg, errstr, errstr_size) != ACMS_OK)
            return ACMS_ERR;
    } else if (mem[0] && write_in(mem, "memory.max_usage_in_bytes", "0") < 0) {
        return fail_errno(errstr, errstr_size, "peak reset in", mem);
    }
    counters(cg, &cg->base_oom, &cg->base_user, &cg->base_sys);
    cg->peak_seen = 0;
    cg->emptied = 0;
    return ACMS_OK;
}

void coord_cg_recycle(coord_cg *cg)
{
    const char *mem = cg_dir(cg, COORD_CG_MEMORY);
    uint64_t used = 0;
    if (cg->peak_fd > 0) {
        close(cg->peak_fd);
        cg->peak_fd = -1;
    }
    int v2 = cg->host->version == COORD_CG_V2;
    if (!mem[0] || !read_u64(mem, v2 ? "memory.current" : "memory.usage_in_bytes", &used) ||
        used <= (uint64_t)COORD_CG_RECLAIM_KB << 10)
        return;
    if (v2) {
        char v[32];
        snprintf(v, sizeof v, "%" PRIu64, used);
        (void)write_in(mem, "memory.reclaim", v); /* EAGAIN when not all of it could go: best effort */
    } else {
        (void)write_in(mem, "memory.force_empty", "0");
    }
}

static uint64_t less(uint64_t v, uint64_t base)
{
    return v > base ? v - base : 0;
}

static void read_v2(coord_cg *cg, coord_cg_stats *st)
{
    const char *d = cg->dir[0];
    char buf[64];
    uint64_t v, oom, us, sy;
    if (read_u64(d, "memory.current", &v))
        st->current_kb = v >> 10;
    if (cg->peak_fd > 0) {
        ssize_t n = pread(cg->peak_fd, buf, sizeof buf - 1, 0);
        if (n > 0) {
            buf[n] = '\0';
            st->peak_kb = strtoull(buf, NULL, 10) >> 10;
        }
    } else if (read_u64(d, "memory.peak", &v)) {
        st->peak_kb = v >> 10;
    }
    int cpu = counters(cg, &oom, &us, &sy);
    st->oom_kills = less(oom, cg->base_oom);
    if (cpu) {
        st->user_ms = less(us, cg->base_user) / 1000;
        st->sys_ms = less(sy, cg->base_sys) / 1000;
        st->cpu_known = 1;
    }
}

static void read_v1(coord_cg *cg, coord_cg_stats *st)
{
    const char *mem = cg_dir(cg, COORD_CG_MEMORY);
    uint64_t v, oom, ut, stt;
    if (read_u64(mem, "memory.usage_in_bytes", &v))
        st->current_kb = v >> 10;
    if (read_u64(mem, "memory.max_usage_in_bytes", &v))
        st->peak_kb = v >> 10;
    int cpu = counters(cg, &oom, &ut, &stt);
    st->oom_kills = less(oom, cg->base_oom);
    long hz = sysconf(_SC_CLK_TCK);
    if (cpu) {
        st->user_ms = less(ut, cg->base_user) * 1000 / (uint64_t)(hz > 0 ? hz : 100);
        st->sys_ms = less(stt, cg->base_sys) * 1000 / (uint64_t)(hz > 0 ? hz : 100);
        st->cpu_known = 1;
    }
}

int coord_cg_read(coord_cg *cg, coord_cg_stats *st)
{
    memset(st, 0, sizeof *st);
    if (!cg->open)
        return ACMS_ERR;
    if (access(cg_dir(cg, COORD_CG_MEMORY), F_OK) < 0)
        return ACMS_ERR;
    if (cg->host->version == COORD_CG_V2)
        read_v2(cg, st);
    else
        read_v1(cg, st);
    if (st->current_kb > cg->peak_seen)
        cg->peak_seen = st->current_kb;
    if (st->peak_kb < cg->peak_seen)
        st->peak_kb = cg->peak_seen; /* no memory.peak: the largest sample */
    return ACMS_OK;
}

int coord_cg_set_memory(coord_cg *cg, uint64_t memory_mb, char *errstr, size_t errstr_size)
{
    const char *d = cg_dir(cg, COORD_CG_MEMORY);
    uint64_t bytes = memory_mb << 20;
    int rc;
    if (!cg->open || !d[0]) {
        snprintf(errstr, errstr_size, "the attempt has no memory cgroup");
        return ACMS_ERR;
    }
    if (cg->host->version == COORD_CG_V2) {
        char v[32];
        snprintf(v, sizeof v, "%" PRIu64, bytes);
        rc = write_in(d, "memory.max", v);
    } else {
        rc = set_memory_v1(d, bytes, cg->memory_limit, cg->host->memsw);
    }
    if (rc < 0)
        return fail_errno(errstr, errstr_size, "memory limit of", d);
    cg->memory_limit = bytes;
    return ACMS_OK;
}

int coord_cg_signal(coord_cg *cg, int sig)
{
    const char *d = cg_dir(cg, COORD_CG_MEMORY);
    if (!d[0])
        d = cg_dir(cg, COORD_CG_PIDS);
    char p[COORD_CG_PATH + 64], buf[16384];
    if (!cg->open || !d[0])
        return 0;
    if (join(p, sizeof p, d, "cgroup.procs") < 0 || read_file(p, buf, sizeof buf) < 0)
        return -1; /* unknown: not taken for empty */
    int n = 0;
    for (char *q = buf; *q;) {
        long pid = strtol(q, &q, 10);
        if (pid > 0) {
            n++;
            if (!(cg->host->version == COORD_CG_V2 && cg->host->kill_file && sig == SIGKILL))
                kill((pid_t)pid, sig);
        }
        while (*q == '\n')
            q++;
    }
    if (n && cg->host->version == COORD_CG_V2 && cg->host->kill_file && sig == SIGKILL)
        (void)write_in(d, "cgroup.kill", "1"); /* atomic: nothing can fork past it */
    if (!n && sig == SIGKILL)
        cg->emptied = 1;
    return n;
}

int coord_cg_remove(coord_cg *cg)
{
    int busy = 0;
    coord_cg_close_fds(cg);
    for (int c = COORD_CG_NCTRL - 1; c >= 0; c--) {
        if (!cg->dir[c][0])
            continue;
        if (rmdir(cg->dir[c]) == 0 || errno == ENOENT)
            cg->dir[c][0] = '\0';
        else if (errno == EBUSY)
            busy = 1;
        else
            return ACMS_ERR;
    }
    if (busy)
        return ACMS_ERR_RETRY;
    cg->open = 0;
    return ACMS_OK;
}
