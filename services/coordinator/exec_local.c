/* exec_local.c: the local executor. One attempt = one child in its own session (setsid) and, where
 * the host allows, its own sandbox (sandbox.h): a cgroup holding every process it starts (memory
 * limit with the kernel's OOM kill read back, CPU quota, pids limit; peak and CPU time from it), a
 * network namespace when isolated, an unprivileged user, a tmpfs volume. Exec'd without a shell in
 * <work>/<run>/<step>/attempt-<n> (or its tmpfs "work" volume). Without a cgroup, memory is polled
 * from /proc (exec_poll.c; SIGKILL above the limit; RLIMIT_AS backstop). CPU time: RLIMIT_CPU; wall
 * time: SIGTERM, SIGKILL after the grace, to every process of the attempt. Output is read from pipes
 * into size-capped logs (head + last 64 KiB) the step cannot reach. A log file is created when its
 * stream first carries a byte (a silent step costs no inode: on ext4 inode allocation was most of a
 * short step's cost), through a handle on the attempt directory taken before the step starts, with
 * O_EXCL | O_NOFOLLOW: what the step may have put at that name is replaced, never followed.
 * The child shares the coordinator's memory until exec (clone with CLONE_VM | CLONE_VFORK): between
 * clone and exec it only makes async-signal-safe calls and writes only its own stack (and errno). */
#include "exec_backend.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec_poll.h"
#include "exec_spawn.h"
#include "log.h"
#include "sandbox.h"

#define RING 65536
#define SAMPLE_MS 50
#define PUMP_BUDGET (4 * 1024 * 1024)


typedef struct logcap {
    int fd;                /* pipe read end, -1 when closed */
    int file;              /* log file, -1 when none (yet) */
    int dir;               /* the attempt directory (O_PATH, owned by coord_local), -1 when none */
    const char *name;      /* the log file's name in it */
    int opened;            /* the file was created (or its creation failed): not tried again */
    size_t head_max, head; /* bytes kept at the start of the file */
    size_t tail_max;       /* at most this much of the ring is appended at the end */
    uint64_t total;
    size_t rpos;
    int rfull;
    char ring[RING]; /* the last RING bytes */
} logcap;

struct coord_local {
    pid_t pid;
    int pidfd; /* registered in the wake set, -1 when none */
    int dirfd; /* the attempt directory (O_PATH), -1 when none */
    logcap out, err;
    int64_t start_mono, last_sample, term_at;
    int kill_sent;
    Acms__V1__ExitReason kill_cause;
    uint64_t mem_limit_kb, cpu_limit_s;
    uint32_t max_runtime_s;
    int grace_ms;
    coord_group_usage use;     /* memory and CPU samples (cgroup or /proc) */
    coord_attempt_sandbox sbx; /* cgroup, volume, identity (sandbox.h); sbx.cg.open: limits are the kernel's */
    uint64_t oom_kills;        /* the cgroup's OOM kills so far */
    uint64_t cg_user_ms, cg_sys_ms;
    int cg_cpu;              /* CPU time read from the cgroup */
    uint64_t spawner_hwm_kb; /* our own high-water mark once the child had exec'd (see classify) */
    int done;
    coord_exec_status final;
};

/* --- output capture ---------------------------------------------------------------------------- */

static void write_all(int fd, const char *p, size_t n)
{
    while (fd >= 0 && n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* disk full: the log is best effort, the step is not failed for it */
        p += w;
        n -= (size_t)w;
    }
}

static void logcap_init(logcap *c, size_t cap, const char *name)
{
    c->fd = c->file = c->dir = -1;
    c->name = name;
    if (cap < 4096)
        cap = 4096;
    c->tail_max = cap / 2 < RING ? cap / 2 : RING;
    c->head_max = cap - c->tail_max - 128;
}

/* Creates the log file at the stream's first byte. Whatever the step put at its name (it owns the
 * directory when it runs as the step user) is unlinked, not opened: no symlink or FIFO is followed.
 * Best effort, like the writes: without the file the stream still reaches the ring and Redis. */
static void logcap_open(logcap *c)
{
    c->opened = 1;
    if (c->dir < 0)
        return;
    int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    c->file = openat(c->dir, c->name, flags, 0640);
    if (c->file < 0 && errno == EEXIST && unlinkat(c->dir, c->name, 0) == 0)
        c->file = openat(c->dir, c->name, flags, 0640);
}

static void logcap_feed(logcap *c, const char *p, size_t n)
{
    if (!c->opened && n > 0)
        logcap_open(c);
    if (c->head < c->head_max) {
        size_t w = c->head_max - c->head < n ? c->head_max - c->head : n;
        write_all(c->file, p, w);
        c->head += w;
    }
    c->total += n;
    while (n > 0) {
        size_t k = RING - c->rpos < n ? RING - c->rpos : n;
        memcpy(c->ring + c->rpos, p, k);
        c->rpos += k;
        if (c->rpos == RING) {
            c->rpos = 0;
            c->rfull = 1;
        }
        p += k;
        n -= k;
    }
}

static void logcap_pump(logcap *c)
{
    char buf[65536];
    size_t budget = PUMP_BUDGET;
    while (c->fd >= 0 && budget > 0) {
        ssize_t r = read(c->fd, buf, sizeof buf);
        if (r > 0) {
            logcap_feed(c, buf, (size_t)r);
            budget -= (size_t)r < budget ? (size_t)r : budget;
        } else if (r < 0 && errno == EINTR) {
            continue;
        } else {
            if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                close(c->fd);
                c->fd = -1;
            }
            return;
        }
    }
}

static size_t ring_len(const logcap *c)
{
    return c->rfull ? RING : c->rpos;
}

/* Copies the last k bytes of the ring into out (k <= ring_len). */
static void ring_last(const logcap *c, char *out, size_t k)
{
    size_t start = (c->rpos + RING - k) % RING;
    size_t first = RING - start < k ? RING - start : k;
    memcpy(out, c->ring + start, first);
    memcpy(out + first, c->ring, k - first);
}

static void logcap_close(logcap *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    if (c->file < 0)
        return;
    uint64_t rest = c->total - c->head;
    if (rest > 0) {
        static const size_t chunk = 4096;
        char buf[4096];
        size_t keep = rest < c->tail_max ? (size_t)rest : c->tail_max;
        if (rest > keep) {
            char marker[128];
            int m = snprintf(marker, sizeof marker, "\n[acms: %llu bytes omitted, log capped]\n",
                             (unsigned long long)(rest - keep));
            if (m > 0)
                write_all(c->file, marker, (size_t)m < sizeof marker ? (size_t)m : sizeof marker - 1);
        }
        /* write the last keep bytes of the ring, in order, through a small buffer */
        for (size_t off = 0; off < keep; off += chunk) {
            size_t k = keep - off < chunk ? keep - off : chunk;
            size_t from_end = keep - off; /* bytes from this chunk's start to the ring's end */
            size_t start = (c->rpos + RING - from_end) % RING;
            size_t first = RING - start < k ? RING - start : k;
            memcpy(buf, c->ring + start, first);
            memcpy(buf + first, c->ring, k - first);
            write_all(c->file, buf, k);
        }
    }
    close(c->file);
    c->file = -1;
}

/* Ends both logs and lets go of the attempt directory. */
static void logs_close(coord_local *l)
{
    logcap_close(&l->out);
    logcap_close(&l->err);
    if (l->dirfd >= 0) {
        close(l->dirfd);
        l->dirfd = l->out.dir = l->err.dir = -1;
    }
}

/* The last lines of stderr: at most COORD_TAIL_MAX bytes and 5 lines, printable ASCII only. */
static void stderr_tail(const logcap *c, char *out, size_t size)
{
    char buf[COORD_TAIL_MAX];
    size_t k = ring_len(c) < sizeof buf ? ring_len(c) : sizeof buf;
    ring_last(c, buf, k);
    while (k > 0 && (buf[k - 1] == '\n' || buf[k - 1] == '\r'))
        k--;
    size_t start = 0, lines = 0;
    for (size_t i = k; i-- > 0;)
        if (buf[i] == '\n' && ++lines == 5) {
            start = i + 1;
            break;
        }
    size_t o = 0;
    for (size_t i = start; i < k && o + 1 < size; i++) {
        unsigned char ch = (unsigned char)buf[i];
        out[o++] = (ch == '\n' || ch == '\t' || (ch >= 0x20 && ch < 0x7f)) ? (char)ch : '?';
    }
    out[o] = '\0';
}

/* --- measuring --------------------------------------------------------------------------------- */

/* One sample of the attempt's usage: from its cgroup when it has one (every process, setsid or not,
 * page cache included as the limit counts it; the first at SAMPLE_MS, the last when it ends: the
 * kernel enforces the limit meanwhile), else its process group from /proc. While the attempt
 * is younger than SAMPLE_MS /proc is read for the leader only (two small files instead of a walk of
 * /proc, which most short steps would pay once): what it started meanwhile is found by the walks
 * that follow, and the RLIMIT_AS backstop bounds it until then. */
static void sample(coord_local *l, int64_t now)
{
    if (l->sbx.cg.open) {
        coord_cg_stats cs;
        if (coord_cg_read(&l->sbx.cg, &cs) != ACMS_OK)
            return;
        l->use.rss_kb = cs.current_kb;
        if (cs.peak_kb > l->use.peak_kb)
            l->use.peak_kb = cs.peak_kb;
        l->use.sampled = 1;
        l->oom_kills = cs.oom_kills;
        if (cs.cpu_known) {
            l->cg_user_ms = cs.user_ms;
            l->cg_sys_ms = cs.sys_ms;
            l->cg_cpu = 1;
        }
        return;
    }
    coord_group_sample(l->pid, now - l->start_mono < SAMPLE_MS, &l->use);
}

/* --- spawn ------------------------------------------------------------------------------------- */

/* mkdir -p: the leaf first, then up only as far as components are missing (the work root and
 * the run's directory usually exist: a new step costs two mkdir calls, not one per component). */
static int mkdir_up(char *buf)
{
    if (mkdir(buf, 0711) == 0)
        return chmod(buf, 0711); /* whatever the umask: the step user traverses, nobody lists */
    if (errno == EEXIST)
        return 0;
    char *slash = strrchr(buf, '/');
    if (errno != ENOENT || !slash || slash == buf)
        return -1;
    *slash = '\0';
    int rc = mkdir_up(buf);
    *slash = '/';
    if (rc < 0)
        return -1;
    if (mkdir(buf, 0711) == 0)
        return chmod(buf, 0711);
    return errno == EEXIST ? 0 : -1;
}

static int mkdir_p(const char *path)
{
    char buf[1024];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return mkdir_up(buf);
}

/* Why the mark: every attempt makes two directories (<step>, attempt-<n>), and on ext4 without a
 * journal an inode allocation skips, one buffer lookup each, the free inodes of its block group
 * deleted in the last 5-30 s (recently_deleted). Directories go near their parent's group, so a
 * work root under a directory where other programs churn (/tmp) pays for their deletions: perf
 * put that scan at ~30% of the coordinator's CPU for a 300-step run of `true`. Under a directory
 * marked FS_TOPDIR_FL, ext4's Orlov allocator places each new child (a run's directory) in a group
 * with many free inodes and few directories, and the run's own directories follow it there. */
int coord_local_work_root(const char *root, char *errstr, size_t errstr_size)
{
    if (mkdir_p(root) < 0) {
        snprintf(errstr, errstr_size, "mkdir %s: %s", root, strerror(errno));
        return ACMS_ERR;
    }
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return ACMS_OK;
    int flags = 0;
    if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && !(flags & FS_TOPDIR_FL)) {
        flags |= FS_TOPDIR_FL;
        if (ioctl(fd, FS_IOC_SETFLAGS, &flags) < 0)
            acms_log_debug(NULL, NULL, "work dir %s: not marked as a top directory: %s", root, strerror(errno));
    }
    close(fd);
    return ACMS_OK;
}

/* argv[0] without a slash is searched in the child's PATH (here, before the child starts). */
static int find_exe(const char *name, char *const *envp, char *out, size_t size)
{
    if (strchr(name, '/'))
        return snprintf(out, size, "%s", name) < (int)size ? 0 : -1;
    const char *path = "/usr/local/bin:/usr/bin:/bin";
    for (char *const *e = envp; *e; e++)
        if (!strncmp(*e, "PATH=", 5))
            path = *e + 5;
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t dl = colon ? (size_t)(colon - path) : strlen(path);
        struct stat sb;
        if (snprintf(out, size, "%.*s/%s", (int)dl, dl ? path : ".", name) < (int)size && stat(out, &sb) == 0 &&
            S_ISREG(sb.st_mode) && access(out, X_OK) == 0)
            return 0;
        path += dl + (colon ? 1 : 0);
    }
    return -1;
}

static int transient_errno(int e)
{
    return e == EAGAIN || e == ENOMEM || e == ETXTBSY || e == EINTR || e == EMFILE || e == ENFILE;
}

static coord_local *spawn_failed(coord_local *l, coord_exec_status *st, int permanent, const char *fmt,
                                 const char *what, int err)
{
    l->done = 1;
    l->final.done = 1;
    l->final.reason = ACMS__V1__EXIT_REASON__EXIT_REASON_SPAWN_FAILED;
    l->final.permanent = permanent;
    l->final.exit_code = -1;
    coord_fmt(l->final.message, sizeof l->final.message, fmt, what, err ? strerror(err) : "");
    coord_attempt_sandbox_close(&l->sbx);
    logs_close(l);
    *st = l->final;
    return l;
}

/* Reports the child's exit to the wake set through a pidfd (the child is ours and unreaped, so
 * its pid cannot be reused meanwhile). Without one the exit is found by the next timed poll. */
static void watch_exit(coord_local *l, int wake_fd)
{
    if (wake_fd <= 0)
        return;
    l->pidfd = pidfd_open(l->pid, 0);
    if (l->pidfd < 0)
        return;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET};
    if (epoll_ctl(wake_fd, EPOLL_CTL_ADD, l->pidfd, &ev) < 0) {
        close(l->pidfd);
        l->pidfd = -1;
    }
}

/* Closing the pidfd also removes it from the wake set. */
static void unwatch_exit(coord_local *l)
{
    if (l->pidfd >= 0) {
        close(l->pidfd);
        l->pidfd = -1;
    }
}

/* The attempt directory <work>/<run>/<step>/attempt-<n> (parents traversable by the step user, not
 * listable), absolute in l->final.dir. NULL when created, else the failed handle. */
static coord_local *make_attempt_dir(coord_local *l, const coord_exec_req *req, coord_exec_status *st)
{
    char run[COORD_MAX_ID + 1], step[COORD_MAX_ID + 1], dir[700];
    coord_path_component(run, sizeof run, req->run_id);
    coord_path_component(step, sizeof step, req->step);
    if (snprintf(dir, sizeof dir, "%s/%s/%s/attempt-%u",
                 req->work_root && *req->work_root ? req->work_root : "run/work", run, step,
                 req->attempt) >= (int)sizeof dir)
        return spawn_failed(l, st, 1, "%s%s", "attempt directory path too long", 0);
    if (mkdir_p(dir) < 0)
        return spawn_failed(l, st, !transient_errno(errno), "mkdir %s: %s", dir, errno);
    char *abs = dir[0] == '/' ? NULL : realpath(dir, NULL); /* absolute already: one readlink a component saved */
    int toolong = coord_fmt(l->final.dir, sizeof l->final.dir, "%s", abs ? abs : dir);
    free(abs);
    if (toolong)
        return spawn_failed(l, st, 1, "%s%s", "attempt directory path too long", 0);
    return NULL;
}

/* Replaces NAME=... in a coord_env_build environment (the entry is wiped). 0 or -1. */
static int env_replace(char **envp, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    for (char **e = envp; *e; e++) {
        if (strncmp(*e, name, nl) || (*e)[nl] != '=')
            continue;
        char *n = malloc(nl + vl + 2);
        if (!n)
            return -1;
        memcpy(n, *e, nl + 1);
        memcpy(n + nl + 1, value, vl + 1);
        explicit_bzero(*e, strlen(*e));
        free(*e);
        *e = n;
        return 0;
    }
    return 0;
}

static const char *stage_name(int stage)
{
    static const char *const stages[] = {"", "setsid", "redirect", "setrlimit", "chdir", "exec"};
    if (stage >= 1 && stage <= STAGE_EXEC)
        return stages[stage];
    return stage == COORD_STAGE_CGROUP  ? "join the attempt's cgroup"
           : stage == COORD_STAGE_NETNS ? "network namespace for"
           : stage == COORD_STAGE_USER  ? "switch to the step user for"
                                        : "spawn";
}

/* (not reformatted: clang-format would put each of child_args' fields on a line of its own) */
/* clang-format off */
/* Spawns the child and waits for its exec (or the stage that failed). NULL when running, else the
 * failed handle. Takes envp (wiped and freed here). */
static coord_local *launch(coord_local *l, const coord_exec_req *req, char **envp, const char *exe, const char *cwd,
                           coord_exec_status *st)
{
    char **argv = calloc(req->argc + 1, sizeof *argv);
    int po[2] = {-1, -1}, pe[2] = {-1, -1}, pr[2] = {-1, -1}, devnull = -1, err = 0;
    if (!argv || pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0 || pipe2(pr, O_CLOEXEC) < 0 ||
        (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
        err = errno ? errno : ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < req->argc; i++)
        argv[i] = req->argv[i];
    fcntl(po[0], F_SETPIPE_SZ, 1024 * 1024);
    fcntl(pe[0], F_SETPIPE_SZ, 1024 * 1024);
    child_args ca = {.exe = exe, .argv = argv, .envp = envp, .cwd = cwd, .in_fd = devnull, .out_fd = po[1],
                     .err_fd = pe[1], .report_fd = pr[1], .parent = getpid(), .cpu_s = req->res.cpu_time_s,
                     .sandbox = l->sbx.child};
    if (req->res.memory_mb && !l->sbx.cg.open) { /* only without a cgroup: it breaks CUDA, JVMs, JAX */
        uint64_t four = req->res.memory_mb * 4, plus = req->res.memory_mb + 1024;
        ca.as_bytes = (four > plus ? four : plus) * 1024 * 1024;
    }
    int into = 0;
    pid_t pid = coord_spawn_child(&ca, l->sbx.cg.open ? l->sbx.into_fd : -1, &into);
    if (into)
        coord_fmt(l->final.sandbox + strlen(l->final.sandbox), sizeof l->final.sandbox - strlen(l->final.sandbox),
                  " (started in its cgroup: clone3)");
    err = pid < 0 ? errno : 0;
    l->start_mono = acms_mono_ms();
    if (l->sbx.cg.open)
        l->last_sample = l->start_mono; /* the kernel holds the limits: the first reading at +SAMPLE_MS */
    coord_attempt_sandbox_started(&l->sbx);
    close(po[1]);
    close(pe[1]);
    close(pr[1]);
    close(devnull);
    po[1] = pe[1] = pr[1] = devnull = -1;
    coord_env_free(envp); /* wipes the resolved secrets: they live on only in the child */
    envp = NULL;
    free(argv);
    argv = NULL;
    if (pid < 0)
        goto fail;
    int msg[2];
    ssize_t r;
    do
        r = read(pr[0], msg, sizeof msg);
    while (r < 0 && errno == EINTR);
    close(pr[0]);
    if (r == (ssize_t)sizeof msg) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        char detail[256];
        coord_fmt(detail, sizeof detail, "%s %s%s", stage_name(msg[0]), msg[0] == STAGE_CHDIR ? cwd : exe,
                  msg[1] == EACCES && l->sbx.child.drop ? " (as the step user: is it readable and executable?)" : "");
        close(po[0]);
        close(pe[0]);
        return spawn_failed(l, st, !transient_errno(msg[1]), "%s: %s", detail, msg[1]);
    }
    l->pid = pid;
    l->out.fd = po[0];
    l->err.fd = pe[0];
    return NULL;
fail:
    for (int i = 0; i < 2; i++) {
        if (po[i] >= 0)
            close(po[i]);
        if (pe[i] >= 0)
            close(pe[i]);
        if (pr[i] >= 0)
            close(pr[i]);
    }
    if (devnull >= 0)
        close(devnull);
    coord_env_free(envp);
    free(argv);
    return spawn_failed(l, st, 0, "%s: %s", "clone", err);
}
/* clang-format on */

coord_local *coord_local_start(const coord_exec_req *req, coord_exec_status *st)
{
    memset(st, 0, sizeof *st);
    coord_local *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(st->message, sizeof st->message, "out of memory");
        return NULL;
    }
    l->pidfd = l->dirfd = -1;
    size_t cap = req->log_cap ? req->log_cap : COORD_LOG_CAP;
    logcap_init(&l->out, cap, "stdout.log");
    logcap_init(&l->err, cap, "stderr.log");
    l->grace_ms = req->grace_ms > 0 ? req->grace_ms : COORD_GRACE_MS;
    l->mem_limit_kb = req->res.memory_mb * 1024;
    l->cpu_limit_s = req->res.cpu_time_s;
    l->max_runtime_s = req->res.max_runtime_s;
    char exe[1024], errbuf[512], workdir[1024];
    if (make_attempt_dir(l, req, st))
        return l;
    if (!req->argc || !req->argv || !req->argv[0] || !req->argv[0][0])
        return spawn_failed(l, st, 1, "%s%s", "the step has no command", 0);
    coord_attempt_spec spec = {.attempt_dir = l->final.dir,
                               .memory_mb = req->res.memory_mb,
                               .vcpu = req->res.vcpu,
                               .volume_size_gb = req->volume_size_gb,
                               .network_isolated = req->network_isolated,
                               .require_isolation = req->require_isolation};
    int permanent = 0, transient = 0;
    if (coord_attempt_sandbox_open(&l->sbx, req->sandbox, &spec, workdir, sizeof workdir, errbuf, sizeof errbuf,
                                   &permanent) != ACMS_OK)
        return spawn_failed(l, st, permanent, "sandbox: %s%s", errbuf, 0);
    coord_fmt(l->final.sandbox, sizeof l->final.sandbox, "%s%s%s", l->sbx.label,
              l->sbx.note[0] ? "; asked but not given: " : "", l->sbx.note);
    l->dirfd = open(l->final.dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (l->dirfd < 0)
        return spawn_failed(l, st, 0, "open %s: %s", l->final.dir, errno);
    l->out.dir = l->err.dir = l->dirfd;
    char **envp = coord_env_build(req, workdir, errbuf, sizeof errbuf, &transient);
    if (!envp)
        return spawn_failed(l, st, !transient, "%s%s", errbuf, 0);
    if (l->sbx.child.drop && env_replace(envp, "HOME", workdir) < 0) {
        coord_env_free(envp);
        return spawn_failed(l, st, 0, "%s%s", "out of memory building the environment", 0);
    }
    if (find_exe(req->argv[0], envp, exe, sizeof exe) < 0) {
        coord_env_free(envp);
        return spawn_failed(l, st, 1, "command not found: %s%s", req->argv[0], 0);
    }
    if (launch(l, req, envp, exe, req->workdir && *req->workdir ? req->workdir : workdir, st))
        return l;
    struct rusage self;
    if (getrusage(RUSAGE_SELF, &self) == 0)
        l->spawner_hwm_kb = (uint64_t)self.ru_maxrss;
    watch_exit(l, req->wake_fd);
    fcntl(l->out.fd, F_SETFL, O_NONBLOCK);
    fcntl(l->err.fd, F_SETFL, O_NONBLOCK);
    return l;
}

/* --- running ----------------------------------------------------------------------------------- */

static uint64_t peak_of(const coord_local *l)
{
    return l->use.hwm_kb > l->use.peak_kb ? l->use.hwm_kb : l->use.peak_kb;
}

static void fill_live(const coord_local *l, int64_t now, coord_exec_status *st)
{
    st->rss_kb = l->use.rss_kb;
    st->peak_rss_kb = peak_of(l);
    st->user_cpu_ms = l->cg_cpu ? l->cg_user_ms : coord_ticks_ms(l->use.utime_ticks);
    st->sys_cpu_ms = l->cg_cpu ? l->cg_sys_ms : coord_ticks_ms(l->use.stime_ticks);
    st->wall_ms = now > l->start_mono ? (uint64_t)(now - l->start_mono) : 0;
    st->memory_limit_mb = l->mem_limit_kb / 1024;
}

/* Every process of the attempt: its cgroup when it has one (setsid children included), and its
 * process group (the unreaped leader keeps the group id reserved). */
static void signal_step(coord_local *l, int sig)
{
    killpg(l->pid, sig);
    if (l->sbx.cg.open)
        coord_cg_signal(&l->sbx.cg, sig);
}

/* Peak memory and CPU time of the ended attempt. From the cgroup when it had one. Without: sampled
 * peaks are exact lower bounds, and a process that ended before its first sample has only
 * ru_maxrss, which the kernel set at exec to the pre-exec image's high-water mark: ours, since the
 * child shared our memory until then. Above our own mark it is the step's own peak; at or below it
 * the step's peak is unknown (and no larger than that), so it is reported as 0, "not measured",
 * which no memory decision (classification below, recovery, monitor, learning) takes for a reading. */
static void measure(coord_local *l, const struct rusage *ru)
{
    coord_exec_status *f = &l->final;
    f->peak_rss_kb = peak_of(l);
    if (!l->use.sampled)
        f->peak_rss_kb = (uint64_t)ru->ru_maxrss > l->spawner_hwm_kb ? (uint64_t)ru->ru_maxrss : 0;
    f->user_cpu_ms = (uint64_t)ru->ru_utime.tv_sec * 1000 + (uint64_t)ru->ru_utime.tv_usec / 1000;
    f->sys_cpu_ms = (uint64_t)ru->ru_stime.tv_sec * 1000 + (uint64_t)ru->ru_stime.tv_usec / 1000;
    if (l->cg_cpu) {
        f->user_cpu_ms = l->cg_user_ms;
        f->sys_cpu_ms = l->cg_sys_ms;
    }
}

/* The exit reason: our own kill first, then the kernel's OOM kill read from the cgroup (without
 * one: a peak above the limit), the CPU-time limit, and what the process itself did. */
static Acms__V1__ExitReason verdict(coord_local *l, int status)
{
    coord_exec_status *f = &l->final;
    uint64_t cpu_ms = f->user_cpu_ms + f->sys_cpu_ms;
    int oom = l->sbx.cg.open ? l->oom_kills > 0 : l->mem_limit_kb && f->peak_rss_kb > l->mem_limit_kb;
    if (WIFEXITED(status)) {
        f->exit_code = WEXITSTATUS(status);
        if (l->kill_cause)
            return l->kill_cause;
        if (f->exit_code == 0)
            return ACMS__V1__EXIT_REASON__EXIT_REASON_OK;
        return oom ? ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY : ACMS__V1__EXIT_REASON__EXIT_REASON_NONZERO;
    }
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    f->term_signal = sig;
    f->exit_code = -1;
    if (l->kill_cause)
        return l->kill_cause;
    if (oom && sig == SIGKILL)
        return ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY;
    if (sig == SIGXCPU || (sig == SIGKILL && l->cpu_limit_s && cpu_ms >= l->cpu_limit_s * 1000))
        return ACMS__V1__EXIT_REASON__EXIT_REASON_CPU_TIME;
    return oom ? ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY : ACMS__V1__EXIT_REASON__EXIT_REASON_SIGNAL;
}

static void classify(coord_local *l, int status, const struct rusage *ru)
{
    coord_exec_status *f = &l->final;
    measure(l, ru);
    f->reason = verdict(l, status);
    switch (f->reason) {
    case ACMS__V1__EXIT_REASON__EXIT_REASON_OK: snprintf(f->message, sizeof f->message, "exited with code 0"); break;
    case ACMS__V1__EXIT_REASON__EXIT_REASON_NONZERO:
        snprintf(f->message, sizeof f->message, "exited with code %d", f->exit_code);
        break;
    case ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY:
        if (l->sbx.cg.open)
            snprintf(f->message, sizeof f->message,
                     "OOM-killed by the kernel at its cgroup memory limit of %llu MiB, "
                     "%llu process(es)",
                     (unsigned long long)(l->mem_limit_kb / 1024), (unsigned long long)l->oom_kills);
        else
            snprintf(f->message, sizeof f->message, "memory limit %llu MiB exceeded (peak %llu MiB, polled)",
                     (unsigned long long)(l->mem_limit_kb / 1024), (unsigned long long)(f->peak_rss_kb / 1024));
        break;
    case ACMS__V1__EXIT_REASON__EXIT_REASON_TIME:
        snprintf(f->message, sizeof f->message, "max_runtime_s %u exceeded", l->max_runtime_s);
        break;
    case ACMS__V1__EXIT_REASON__EXIT_REASON_CPU_TIME:
        snprintf(f->message, sizeof f->message, "CPU-time limit %llu s exceeded", (unsigned long long)l->cpu_limit_s);
        break;
    case ACMS__V1__EXIT_REASON__EXIT_REASON_CANCELLED: snprintf(f->message, sizeof f->message, "cancelled"); break;
    default:
        snprintf(f->message, sizeof f->message, "killed by signal %d (%s)", f->term_signal, strsignal(f->term_signal));
        break;
    }
}

/* The leader has exited (not yet reaped): kill what is left of the attempt, reap, measure, drain,
 * classify, then end its sandbox. */
static void finish(coord_local *l, int64_t now)
{
    signal_step(l, SIGKILL);
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(l->pid, &status, 0, &ru) < 0 && errno == EINTR)
        ;
    unwatch_exit(l);
    logcap_pump(&l->out);
    logcap_pump(&l->err);
    if (l->sbx.cg.open)
        sample(l, now); /* the last reading: CPU of every process, the peak, the OOM kills */
    fill_live(l, now, &l->final);
    l->final.rss_kb = 0;
    classify(l, status, &ru);
    coord_attempt_sandbox_close(&l->sbx);
    if (l->final.reason != ACMS__V1__EXIT_REASON__EXIT_REASON_OK)
        stderr_tail(&l->err, l->final.stderr_tail, sizeof l->final.stderr_tail);
    logs_close(l);
    l->final.done = 1;
    l->done = 1;
}

int coord_local_poll(coord_local *l, int64_t now, coord_exec_status *st)
{
    if (l->done) {
        *st = l->final;
        return 1;
    }
    logcap_pump(&l->out);
    logcap_pump(&l->err);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int w = waitid(P_PID, (id_t)l->pid, &si, WEXITED | WNOHANG | WNOWAIT);
    if (w == 0 && si.si_pid == l->pid) {
        finish(l, now);
        *st = l->final;
        return 1;
    }
    if (w < 0 && errno == ECHILD) { /* reaped behind our back: nothing to measure */
        l->final.reason = ACMS__V1__EXIT_REASON__EXIT_REASON_SIGNAL;
        snprintf(l->final.message, sizeof l->final.message, "the step's process vanished (reaped elsewhere)");
        unwatch_exit(l);
        coord_attempt_sandbox_close(&l->sbx);
        logs_close(l);
        l->final.done = l->done = 1;
        *st = l->final;
        return 1;
    }
    if (now - l->last_sample >= SAMPLE_MS) {
        l->last_sample = now;
        sample(l, now);
    }
    /* without a cgroup the limit is ours to enforce; with one, the kernel's */
    if (!l->sbx.cg.open && l->mem_limit_kb && l->use.rss_kb > l->mem_limit_kb && !l->kill_cause) {
        l->kill_cause = ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY;
        signal_step(l, SIGKILL);
        l->kill_sent = 1;
    }
    if (l->max_runtime_s && !l->kill_cause && now - l->start_mono >= (int64_t)l->max_runtime_s * 1000) {
        l->kill_cause = ACMS__V1__EXIT_REASON__EXIT_REASON_TIME;
        signal_step(l, SIGTERM);
        l->term_at = now;
    }
    if (l->term_at && !l->kill_sent && now - l->term_at >= l->grace_ms) {
        signal_step(l, SIGKILL);
        l->kill_sent = 1;
    }
    memset(st, 0, sizeof *st);
    fill_live(l, now, st);
    snprintf(st->dir, sizeof st->dir, "%s", l->final.dir);
    snprintf(st->sandbox, sizeof st->sandbox, "%s", l->final.sandbox);
    return 0;
}

int coord_local_set_memory(coord_local *l, uint64_t memory_mb, char *errstr, size_t errstr_size)
{
    if (l->done) {
        snprintf(errstr, errstr_size, "the attempt has ended");
        return ACMS_ERR;
    }
    if (l->sbx.cg.open && coord_cg_set_memory(&l->sbx.cg, memory_mb, errstr, errstr_size) != ACMS_OK)
        return ACMS_ERR;
    if (!l->sbx.cg.open)
        snprintf(errstr, errstr_size, "polled limit raised; RLIMIT_AS unchanged (no cgroup)");
    l->mem_limit_kb = memory_mb * 1024;
    return ACMS_OK;
}

void coord_local_cancel(coord_local *l, int64_t now)
{
    if (l->done || l->kill_cause)
        return;
    l->kill_cause = ACMS__V1__EXIT_REASON__EXIT_REASON_CANCELLED;
    signal_step(l, SIGTERM);
    l->term_at = now ? now : 1;
}

void coord_local_abandon(coord_local *l)
{
    if (l->done)
        return;
    signal_step(l, SIGKILL);
    int status;
    for (int i = 0; i < 100; i++) { /* SIGKILL is prompt unless the process is in D state */
        pid_t r = waitpid(l->pid, &status, WNOHANG);
        if (r == l->pid || (r < 0 && errno != EINTR))
            break;
        usleep(10000);
    }
    unwatch_exit(l);
    coord_attempt_sandbox_close(&l->sbx);
    logcap_pump(&l->out);
    logcap_pump(&l->err);
    logs_close(l);
    l->final.done = l->done = 1;
    l->final.reason = ACMS__V1__EXIT_REASON__EXIT_REASON_LOST;
    snprintf(l->final.message, sizeof l->final.message, "abandoned by its coordinator");
}

void coord_local_free(coord_local *l)
{
    if (!l)
        return;
    coord_local_abandon(l);
    free(l);
}

pid_t coord_local_pid(const coord_local *l)
{
    return l->pid;
}

size_t coord_local_tail(const coord_local *l, int stream, char *out, size_t cap, uint64_t *total)
{
    const logcap *c = stream == 2 ? &l->err : &l->out;
    size_t k = ring_len(c) < cap ? ring_len(c) : cap;
    ring_last(c, out, k);
    *total = c->total;
    return k;
}
