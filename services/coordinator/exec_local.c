/* exec_local.c: the local executor. One attempt = one child in its own session (setsid), so the
 * whole process group can be signalled; exec'd without a shell in <work>/<run>/<step>/attempt-<n>.
 * Limits: memory (group RSS polled from /proc, SIGKILL above the limit; RLIMIT_AS backstop), CPU
 * time (RLIMIT_CPU), wall time (SIGTERM, SIGKILL after the grace). Output is read from pipes into
 * size-capped logs (head + last 64 KiB). Usage comes from wait4's rusage and the polled samples.
 * The child shares the coordinator's memory until exec (clone with CLONE_VM | CLONE_VFORK): between
 * clone and exec it only makes async-signal-safe calls and writes only its own stack (and errno). */
#include "coord.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define RING 65536
#define SAMPLE_MS 50
#define PUMP_BUDGET (4 * 1024 * 1024)

enum { STAGE_SETSID = 1, STAGE_DUP, STAGE_RLIMIT, STAGE_CHDIR, STAGE_EXEC };

typedef struct logcap {
    int fd;                 /* pipe read end, -1 when closed */
    int file;               /* log file, -1 when none */
    size_t head_max, head;  /* bytes kept at the start of the file */
    size_t tail_max;        /* at most this much of the ring is appended at the end */
    uint64_t total;
    size_t rpos;
    int rfull;
    char ring[RING];        /* the last RING bytes */
} logcap;

struct coord_local {
    pid_t pid;
    int pidfd;              /* registered in the wake set, -1 when none */
    logcap out, err;
    int64_t start_mono, last_sample, term_at;
    int kill_sent;
    Acms__V1__ExitReason kill_cause;
    uint64_t mem_limit_kb, cpu_limit_s;
    uint32_t max_runtime_s;
    int grace_ms;
    uint64_t peak_kb, rss_kb, utime_ticks, stime_ticks;
    uint64_t hwm_kb;        /* largest VmHWM of a group member seen */
    int sampled;            /* at least one /proc sample found the group */
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

static void logcap_init(logcap *c, size_t cap)
{
    c->fd = c->file = -1;
    if (cap < 4096)
        cap = 4096;
    c->tail_max = cap / 2 < RING ? cap / 2 : RING;
    c->head_max = cap - c->tail_max - 128;
}

static void logcap_feed(logcap *c, const char *p, size_t n)
{
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

/* --- /proc sampling ---------------------------------------------------------------------------- */

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

/* Adds process pid (a decimal string) to the sums when it is a live member of the group: RSS
 * pages, CPU ticks, and its VmHWM into l->hwm_kb. Returns 1 when it was a member. */
static int sample_one(coord_local *l, const char *pid, uint64_t *rss_pages, uint64_t *ut, uint64_t *st)
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
    if (k < 22 || (pid_t)f[2] != l->pid)
        return 0;
    *ut += f[11] + f[13];
    *st += f[12] + f[14];
    *rss_pages += f[21];
    uint64_t hwm = vm_hwm_kb(pid);
    if (hwm > l->hwm_kb)
        l->hwm_kb = hwm;
    l->sampled = 1;
    return 1;
}

/* Sums RSS and CPU ticks over the live members of process group pgid, and keeps the largest
 * member's VmHWM. Why not ru_maxrss alone: the kernel records the pre-exec image's high-water mark
 * (for our CLONE_VM child, the coordinator's own) in the child's maxrss at exec, which would
 * inflate every peak. While the attempt is younger than SAMPLE_MS only the leader is read (two
 * small files instead of a walk of /proc, which most short steps would pay once): what it started
 * meanwhile is found by the walks that follow, and the RLIMIT_AS backstop bounds it until then. */
static void sample_group(coord_local *l, int64_t now)
{
    uint64_t rss_pages = 0, ut = 0, st = 0;
    long page_kb = sysconf(_SC_PAGESIZE) / 1024;
    if (now - l->start_mono < SAMPLE_MS) {
        char pid[24];
        snprintf(pid, sizeof pid, "%ld", (long)l->pid);
        if (!sample_one(l, pid, &rss_pages, &ut, &st))
            return;
    } else {
        DIR *d = opendir("/proc");
        if (!d)
            return;
        struct dirent *e;
        while ((e = readdir(d)))
            if (e->d_name[0] >= '1' && e->d_name[0] <= '9')
                sample_one(l, e->d_name, &rss_pages, &ut, &st);
        closedir(d);
    }
    l->rss_kb = rss_pages * (uint64_t)(page_kb > 0 ? page_kb : 4);
    if (l->rss_kb > l->peak_kb)
        l->peak_kb = l->rss_kb;
    if (ut > l->utime_ticks)
        l->utime_ticks = ut;
    if (st > l->stime_ticks)
        l->stime_ticks = st;
}

static uint64_t ticks_ms(uint64_t ticks)
{
    long hz = sysconf(_SC_CLK_TCK);
    return ticks * 1000 / (uint64_t)(hz > 0 ? hz : 100);
}

/* --- spawn ------------------------------------------------------------------------------------- */

typedef struct child_args {
    const char *exe;
    char *const *argv;
    char *const *envp;
    const char *cwd;
    int in_fd, out_fd, err_fd, report_fd;
    pid_t parent;
    uint64_t as_bytes, cpu_s;
} child_args;

static void child_fail(int fd, int stage)
{
    int msg[2] = {stage, errno};
    ssize_t w = write(fd, msg, sizeof msg);
    (void)w;
    _exit(127);
}

static int child_main(void *arg)
{
    const child_args *a = arg;
    sigset_t none;
    sigemptyset(&none);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            sigaction(s, &sa, NULL);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (setsid() < 0)
        child_fail(a->report_fd, STAGE_SETSID);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != a->parent)
        _exit(127); /* the coordinator died before prctl */
    if (dup2(a->in_fd, 0) < 0 || dup2(a->out_fd, 1) < 0 || dup2(a->err_fd, 2) < 0)
        child_fail(a->report_fd, STAGE_DUP);
    for (int fd = 0; fd < 3; fd++)
        fcntl(fd, F_SETFD, 0);
    struct rlimit rl;
    rl.rlim_cur = rl.rlim_max = 0;
    setrlimit(RLIMIT_CORE, &rl);
    if (a->as_bytes) {
        rl.rlim_cur = rl.rlim_max = a->as_bytes;
        if (setrlimit(RLIMIT_AS, &rl) < 0)
            child_fail(a->report_fd, STAGE_RLIMIT);
    }
    if (a->cpu_s) {
        rl.rlim_cur = a->cpu_s;
        rl.rlim_max = a->cpu_s + 2; /* SIGXCPU first, SIGKILL if it is ignored */
        if (setrlimit(RLIMIT_CPU, &rl) < 0)
            child_fail(a->report_fd, STAGE_RLIMIT);
    }
    if (a->cwd && chdir(a->cwd) < 0)
        child_fail(a->report_fd, STAGE_CHDIR);
    if (a->report_fd > 3)
        close_range(3, (unsigned)a->report_fd - 1, 0);
    close_range((unsigned)a->report_fd + 1, ~0U, 0);
    execve(a->exe, a->argv, a->envp);
    child_fail(a->report_fd, STAGE_EXEC);
    return 127;
}

/* Starts child_main(a) in a new process that shares our memory until it execs or exits (the
 * calling thread is suspended meanwhile, as with vfork and posix_spawn): no page tables to copy
 * and no copy-on-write faults afterwards, which a fork of this multi-threaded, Redis- and
 * Kafka-connected process pays on every step. Every signal is blocked in this thread across the
 * clone, so none of our handlers can run in the child before it restores default dispositions.
 * Returns the child's pid, or -1 with errno set. */
static pid_t spawn_child(const child_args *a)
{
    enum { STACK = 64 * 1024 };
    char *stack = malloc(STACK);
    if (!stack) {
        errno = ENOMEM;
        return -1;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = clone(child_main, stack + STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, (void *)a);
    int e = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    free(stack);
    errno = e;
    return pid;
}

/* mkdir -p: the leaf first, then up only as far as components are missing (the work root and
 * the run's directory usually exist: a new step costs two mkdir calls, not one per component). */
static int mkdir_up(char *buf)
{
    if (mkdir(buf, 0750) == 0 || errno == EEXIST)
        return 0;
    char *slash = strrchr(buf, '/');
    if (errno != ENOENT || !slash || slash == buf)
        return -1;
    *slash = '\0';
    int rc = mkdir_up(buf);
    *slash = '/';
    if (rc < 0)
        return -1;
    return mkdir(buf, 0750) == 0 || errno == EEXIST ? 0 : -1;
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
    logcap_close(&l->out);
    logcap_close(&l->err);
    *st = l->final;
    return l;
}

static int open_log(const char *dir, const char *name)
{
    char path[1024];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return -1;
    return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
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

coord_local *coord_local_start(const coord_exec_req *req, coord_exec_status *st)
{
    memset(st, 0, sizeof *st);
    coord_local *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(st->message, sizeof st->message, "out of memory");
        return NULL;
    }
    l->pidfd = -1;
    size_t cap = req->log_cap ? req->log_cap : COORD_LOG_CAP;
    logcap_init(&l->out, cap);
    logcap_init(&l->err, cap);
    l->grace_ms = req->grace_ms > 0 ? req->grace_ms : COORD_GRACE_MS;
    l->mem_limit_kb = req->res.memory_mb * 1024;
    l->cpu_limit_s = req->res.cpu_time_s;
    l->max_runtime_s = req->res.max_runtime_s;

    char run[COORD_MAX_ID + 1], step[COORD_MAX_ID + 1], dir[700], exe[1024], errbuf[512];
    coord_path_component(run, sizeof run, req->run_id);
    coord_path_component(step, sizeof step, req->step);
    if (snprintf(dir, sizeof dir, "%s/%s/%s/attempt-%u", req->work_root && *req->work_root ? req->work_root : "run/work",
                 run, step, req->attempt) >= (int)sizeof dir)
        return spawn_failed(l, st, 1, "%s%s", "attempt directory path too long", 0);
    if (mkdir_p(dir) < 0)
        return spawn_failed(l, st, !transient_errno(errno), "mkdir %s: %s", dir, errno);
    char *abs = realpath(dir, NULL);
    int toolong = coord_fmt(l->final.dir, sizeof l->final.dir, "%s", abs ? abs : dir);
    free(abs);
    if (toolong)
        return spawn_failed(l, st, 1, "%s%s", "attempt directory path too long", 0);
    if (!req->argc || !req->argv || !req->argv[0] || !req->argv[0][0])
        return spawn_failed(l, st, 1, "%s%s", "the step has no command", 0);
    l->out.file = open_log(l->final.dir, "stdout.log");
    l->err.file = open_log(l->final.dir, "stderr.log");

    int transient = 0;
    char **envp = coord_env_build(req, l->final.dir, errbuf, sizeof errbuf, &transient);
    if (!envp)
        return spawn_failed(l, st, !transient, "%s%s", errbuf, 0);
    if (find_exe(req->argv[0], envp, exe, sizeof exe) < 0) {
        coord_env_free(envp);
        return spawn_failed(l, st, 1, "command not found: %s%s", req->argv[0], 0);
    }
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
    child_args ca = {.exe = exe, .argv = argv, .envp = envp, .cwd = req->workdir && *req->workdir ? req->workdir : l->final.dir,
                     .in_fd = devnull, .out_fd = po[1], .err_fd = pe[1], .report_fd = pr[1], .parent = getpid(),
                     .cpu_s = req->res.cpu_time_s};
    if (req->res.memory_mb) {
        uint64_t four = req->res.memory_mb * 4, plus = req->res.memory_mb + 1024;
        ca.as_bytes = (four > plus ? four : plus) * 1024 * 1024;
    }
    pid_t pid = spawn_child(&ca);
    err = pid < 0 ? errno : 0;
    l->start_mono = acms_mono_ms();
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
    pr[0] = -1;
    if (r == (ssize_t)sizeof msg) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        static const char *const stages[] = {"", "setsid", "redirect", "setrlimit", "chdir", "exec"};
        const char *what = msg[0] >= 1 && msg[0] <= STAGE_EXEC ? stages[msg[0]] : "spawn";
        char detail[256];
        coord_fmt(detail, sizeof detail, "%s %s", what, msg[0] == STAGE_CHDIR ? ca.cwd : exe);
        close(po[0]);
        close(pe[0]);
        return spawn_failed(l, st, !transient_errno(msg[1]), "%s: %s", detail, msg[1]);
    }
    l->pid = pid;
    struct rusage self;
    if (getrusage(RUSAGE_SELF, &self) == 0)
        l->spawner_hwm_kb = (uint64_t)self.ru_maxrss;
    watch_exit(l, req->wake_fd);
    l->out.fd = po[0];
    l->err.fd = pe[0];
    fcntl(po[0], F_SETFL, O_NONBLOCK);
    fcntl(pe[0], F_SETFL, O_NONBLOCK);
    l->last_sample = 0;
    return l;
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

/* --- running ----------------------------------------------------------------------------------- */

static void fill_live(const coord_local *l, int64_t now, coord_exec_status *st)
{
    st->rss_kb = l->rss_kb;
    st->peak_rss_kb = l->hwm_kb > l->peak_kb ? l->hwm_kb : l->peak_kb;
    st->user_cpu_ms = ticks_ms(l->utime_ticks);
    st->sys_cpu_ms = ticks_ms(l->stime_ticks);
    st->wall_ms = now > l->start_mono ? (uint64_t)(now - l->start_mono) : 0;
}

static void classify(coord_local *l, int status, const struct rusage *ru)
{
    coord_exec_status *f = &l->final;
    /* Sampled peaks are exact lower bounds. A process that ended before its first sample has only
     * ru_maxrss, which the kernel set at exec to the pre-exec image's high-water mark: ours, since
     * the child shared our memory until then. Above our own mark it is the step's own peak; at or
     * below it the step's peak is unknown (and no larger than that), so it is reported as 0, "not
     * measured", which no memory decision (classification below, recovery, monitor, learning)
     * takes for a reading. */
    f->peak_rss_kb = l->hwm_kb > l->peak_kb ? l->hwm_kb : l->peak_kb;
    if (!l->sampled)
        f->peak_rss_kb = (uint64_t)ru->ru_maxrss > l->spawner_hwm_kb ? (uint64_t)ru->ru_maxrss : 0;
    f->user_cpu_ms = (uint64_t)ru->ru_utime.tv_sec * 1000 + (uint64_t)ru->ru_utime.tv_usec / 1000;
    f->sys_cpu_ms = (uint64_t)ru->ru_stime.tv_sec * 1000 + (uint64_t)ru->ru_stime.tv_usec / 1000;
    uint64_t cpu_ms = f->user_cpu_ms + f->sys_cpu_ms;
    int over_mem = l->mem_limit_kb && f->peak_rss_kb > l->mem_limit_kb;
    if (WIFEXITED(status)) {
        f->exit_code = WEXITSTATUS(status);
        if (l->kill_cause)
            f->reason = l->kill_cause;
        else if (f->exit_code == 0)
            f->reason = ACMS__V1__EXIT_REASON__EXIT_REASON_OK;
        else
            f->reason = over_mem ? ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY : ACMS__V1__EXIT_REASON__EXIT_REASON_NONZERO;
    } else {
        int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        f->term_signal = sig;
        f->exit_code = -1;
        if (l->kill_cause)
            f->reason = l->kill_cause;
        else if (sig == SIGXCPU || (sig == SIGKILL && l->cpu_limit_s && cpu_ms >= l->cpu_limit_s * 1000))
            f->reason = ACMS__V1__EXIT_REASON__EXIT_REASON_CPU_TIME;
        else if (over_mem)
            f->reason = ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY;
        else
            f->reason = ACMS__V1__EXIT_REASON__EXIT_REASON_SIGNAL;
    }
    switch (f->reason) {
    case ACMS__V1__EXIT_REASON__EXIT_REASON_OK:
        snprintf(f->message, sizeof f->message, "exited with code 0");
        break;
    case ACMS__V1__EXIT_REASON__EXIT_REASON_NONZERO:
        snprintf(f->message, sizeof f->message, "exited with code %d", f->exit_code);
        break;
    case ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY:
        snprintf(f->message, sizeof f->message, "memory limit %llu MiB exceeded (peak %llu MiB)",
                 (unsigned long long)(l->mem_limit_kb / 1024), (unsigned long long)(f->peak_rss_kb / 1024));
        break;
    case ACMS__V1__EXIT_REASON__EXIT_REASON_TIME:
        snprintf(f->message, sizeof f->message, "max_runtime_s %u exceeded", l->max_runtime_s);
        break;
    case ACMS__V1__EXIT_REASON__EXIT_REASON_CPU_TIME:
        snprintf(f->message, sizeof f->message, "CPU-time limit %llu s exceeded",
                 (unsigned long long)l->cpu_limit_s);
        break;
    case ACMS__V1__EXIT_REASON__EXIT_REASON_CANCELLED:
        snprintf(f->message, sizeof f->message, "cancelled");
        break;
    default:
        snprintf(f->message, sizeof f->message, "killed by signal %d (%s)", f->term_signal,
                 strsignal(f->term_signal));
        break;
    }
}

/* The leader has exited (not yet reaped): kill what is left of its group, reap, drain, classify. */
static void finish(coord_local *l, int64_t now)
{
    killpg(l->pid, SIGKILL); /* the unreaped leader keeps the group id reserved */
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(l->pid, &status, 0, &ru) < 0 && errno == EINTR)
        ;
    unwatch_exit(l);
    logcap_pump(&l->out);
    logcap_pump(&l->err);
    fill_live(l, now, &l->final);
    l->final.rss_kb = 0;
    classify(l, status, &ru);
    if (l->final.reason != ACMS__V1__EXIT_REASON__EXIT_REASON_OK)
        stderr_tail(&l->err, l->final.stderr_tail, sizeof l->final.stderr_tail);
    logcap_close(&l->out);
    logcap_close(&l->err);
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
        logcap_close(&l->out);
        logcap_close(&l->err);
        l->final.done = l->done = 1;
        *st = l->final;
        return 1;
    }
    if (now - l->last_sample >= SAMPLE_MS) {
        l->last_sample = now;
        sample_group(l, now);
    }
    if (l->mem_limit_kb && l->rss_kb > l->mem_limit_kb && !l->kill_cause) {
        l->kill_cause = ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY;
        killpg(l->pid, SIGKILL);
        l->kill_sent = 1;
    }
    if (l->max_runtime_s && !l->kill_cause && now - l->start_mono >= (int64_t)l->max_runtime_s * 1000) {
        l->kill_cause = ACMS__V1__EXIT_REASON__EXIT_REASON_TIME;
        killpg(l->pid, SIGTERM);
        l->term_at = now;
    }
    if (l->term_at && !l->kill_sent && now - l->term_at >= l->grace_ms) {
        killpg(l->pid, SIGKILL);
        l->kill_sent = 1;
    }
    memset(st, 0, sizeof *st);
    fill_live(l, now, st);
    snprintf(st->dir, sizeof st->dir, "%s", l->final.dir);
    return 0;
}

void coord_local_cancel(coord_local *l, int64_t now)
{
    if (l->done || l->kill_cause)
        return;
    l->kill_cause = ACMS__V1__EXIT_REASON__EXIT_REASON_CANCELLED;
    killpg(l->pid, SIGTERM);
    l->term_at = now ? now : 1;
}

void coord_local_abandon(coord_local *l)
{
    if (l->done)
        return;
    killpg(l->pid, SIGKILL);
    int status;
    for (int i = 0; i < 100; i++) { /* SIGKILL is prompt unless the process is in D state */
        pid_t r = waitpid(l->pid, &status, WNOHANG);
        if (r == l->pid || (r < 0 && errno != EINTR))
            break;
        usleep(10000);
    }
    unwatch_exit(l);
    logcap_pump(&l->out);
    logcap_pump(&l->err);
    logcap_close(&l->out);
    logcap_close(&l->err);
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
