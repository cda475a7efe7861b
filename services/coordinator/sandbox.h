/* sandbox.h: the local executor's sandbox, one per step attempt, set up by the coordinator with
 * kernel features (docs/execution.md "The local sandbox"):
 *   - a cgroup (v2, else v1; detected at start): memory limit (the kernel's OOM kill is read back
 *     from the cgroup), CPU quota from vCPU, pids limit; peak memory and CPU time read from it;
 *     every process of the attempt, setsid or not, is in it and is killed with it
 *     (sandbox_cgroup.c). The cgroup is a slot of this coordinator's pool, reused by one attempt
 *     after another (sandbox_pool.c): an attempt's readings start at its own start (peak reset,
 *     OOM kills and CPU time as differences), and a slot is reused only once found empty;
 *   - a network namespace with only loopback when the step is network-isolated (sandbox_net.c);
 *   - an unprivileged user and group with a clean environment (sandbox_user.c);
 *   - a size-limited tmpfs as the work directory when volume_size_gb is set (sandbox_volume.c).
 * Without root or cgroups, what is missing is said once at start and on every attempt (`sandbox`
 * label), and the executor falls back to polling /proc (exec_poll.c) with RLIMIT_AS.
 * Threads: the coordinator's loop thread only. The *_child_* functions run in the spawned child
 * between clone and exec, sharing the coordinator's memory: they make raw system calls only, write
 * only their stack, and return a stage code instead of reporting themselves. */
#ifndef ACMS_COORD_SANDBOX_H
#define ACMS_COORD_SANDBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define COORD_CG_PATH 512

/* cgroup controllers the sandbox uses; on v2 they all live in one directory. */
enum { COORD_CG_MEMORY = 0, COORD_CG_CPU, COORD_CG_CPUACCT, COORD_CG_PIDS, COORD_CG_NCTRL };

typedef enum coord_cg_version { COORD_CG_NONE = 0, COORD_CG_V1 = 1, COORD_CG_V2 = 2 } coord_cg_version;

/* Where attempt cgroups go. */
typedef struct coord_cg_host {
    coord_cg_version version;
    char base[COORD_CG_NCTRL][COORD_CG_PATH]; /* v1: parent dir per controller, "" when absent; v2: base[0] */
    int same_as[COORD_CG_NCTRL];              /* v1: an earlier controller on the same hierarchy, else -1 */
    int memsw;                                /* v1: memory.memsw.limit_in_bytes exists (swap accounting) */
    int kill_file;                            /* v2: cgroup.kill exists (kernel >= 5.14) */
    int peak_file;                            /* v2: memory.peak exists (kernel >= 5.19) */
    char why[256];                            /* when NONE: why; else how it was found */
} coord_cg_host;

/* Test hooks and overrides for detection: NULL fields take /proc/self/mountinfo and /proc/self/cgroup. */
typedef struct coord_cg_probe {
    const char *mountinfo;
    const char *self_cgroup;
    const char *want;   /* "auto" (v2 when it has memory, cpu and pids, else v1), "v2", "v1", "off" */
    const char *parent; /* v2: an absolute cgroup path to create attempts under (delegated); v1:
                               * a directory name under our own cgroup; NULL: "acms" under our own (v2:
                               * our own cgroup, moving this process into a leaf "coordinator") */
} coord_cg_probe;

/* Finds a usable hierarchy and prepares the parent of attempt cgroups. ACMS_OK (h->version may be
 * COORD_CG_NONE, h->why says why); never fails the coordinator. */
int coord_cg_detect(coord_cg_host *h, const coord_cg_probe *probe);

typedef struct coord_cg_limits {
    uint64_t memory_mb; /* 0 = none */
    double vcpu;        /* 0 = none */
    uint32_t pids_max;  /* 0 = none */
} coord_cg_limits;

/* One attempt's cgroup. */
typedef struct coord_cg {
    const coord_cg_host *host;
    int open;
    char dir[COORD_CG_NCTRL][COORD_CG_PATH]; /* "" for a controller that is absent or shares a hierarchy */
    int procs_fd[COORD_CG_NCTRL];            /* cgroup.procs, written "0" by the child; -1 once closed */
    int dir_fd;                              /* v2: the directory, for clone3's CLONE_INTO_CGROUP; -1 */
    uint64_t memory_limit;                   /* bytes, 0 = none (what the files hold) */
    long cpu_quota;                          /* µs per 100 ms period, 0 = none (what the files hold) */
    uint32_t pids_max;                       /* 0 = none (what the files hold) */
    int swappiness;                          /* v1: memory.swappiness before a limit set it to 0; -1 */
    uint64_t peak_seen;                      /* largest current usage sampled (without memory.peak) */
    int pooled;                              /* a slot of the pool: kept after the attempt when empty */
    int emptied;                             /* a SIGKILL pass found no process in it (none can enter again) */
    int peak_fd;                             /* v2 slot: memory.peak reset through this descriptor; -1 */
    uint64_t base_oom;                       /* OOM kills counted before this attempt began */
    uint64_t base_user, base_sys;            /* CPU counters before it began (v1 ticks, v2 µs) */
} coord_cg;

typedef struct coord_cg_stats {
    uint64_t current_kb; /* memory in use now (page cache included, as the limit counts it) */
    uint64_t peak_kb;
    uint64_t user_ms, sys_ms; /* CPU time of every process that ran in it */
    int cpu_known;
    uint64_t oom_kills; /* processes the kernel killed at the memory limit */
    uint64_t nprocs;    /* live processes */
} coord_cg_stats;

/* Creates <base>/<name> (each v1 hierarchy), applies the limits and opens cgroup.procs for the
 * child. ACMS_OK, or ACMS_ERR with errstr (nothing left behind). */
int coord_cg_create(const coord_cg_host *h, const char *name, const coord_cg_limits *lim, coord_cg *cg, char *errstr,
                    size_t errstr_size);
/* Applies limits to an existing attempt directory set (coord_cg_create after mkdir; tests): writes
 * each limit that differs from what the files hold (memory_limit, cpu_quota, pids_max; a fresh
 * cgroup holds none), "none" included, memsw before memory when raising. ACMS_OK or ACMS_ERR. */
int coord_cg_configure(coord_cg *cg, const coord_cg_limits *lim, char *errstr, size_t errstr_size);
/* Makes <base>/<name> (each v1 hierarchy) with no limit and opens cgroup.procs (and, v2, the
 * directory). ACMS_OK, or ACMS_ERR with errstr (nothing left behind). */
int coord_cg_make(const coord_cg_host *h, const char *name, coord_cg *cg, char *errstr, size_t errstr_size);
/* A slot's attempt begins: the peak is reset (v1 max_usage_in_bytes; v2 memory.peak through a
 * descriptor of this attempt, kernel >= 6.12) and the OOM-kill and CPU counters are taken as the
 * zero of coord_cg_read. ACMS_OK, or ACMS_ERR with errstr (v2: the peak cannot be reset here). */
int coord_cg_begin(coord_cg *cg, char *errstr, size_t errstr_size);
/* A slot's attempt has ended and the slot is empty: the page cache and kernel memory left charged
 * to it are reclaimed (v1 memory.force_empty, v2 memory.reclaim) when its usage is above
 * COORD_CG_RECLAIM_KB, and the attempt's peak descriptor is closed. Below it, what stays charged
 * (the per-CPU charge batches and kernel objects a short step leaves, 150-450 KiB here) would cost
 * a reclaim of ~14 ms of retries for nothing it can free; it counts in the next attempt's usage. */
#define COORD_CG_RECLAIM_KB 2048
void coord_cg_recycle(coord_cg *cg);
/* Closes the cgroup.procs descriptors (after the child has joined). */
void coord_cg_close_fds(coord_cg *cg);
/* Reads usage; fields it cannot read stay 0. ACMS_OK or ACMS_ERR (the cgroup is gone). */
int coord_cg_read(coord_cg *cg, coord_cg_stats *st);
/* Sets the memory limit in place (raising or lowering). ACMS_OK or ACMS_ERR with errstr. */
int coord_cg_set_memory(coord_cg *cg, uint64_t memory_mb, char *errstr, size_t errstr_size);
/* Sends sig to every process in the cgroup (SIGKILL through cgroup.kill on v2 when available;
 * sig 0 only counts). Returns the number of processes found (0: empty; -1: cgroup.procs could not
 * be read, so not known to be empty). */
int coord_cg_signal(coord_cg *cg, int sig);
/* Removes the directories. ACMS_OK, ACMS_ERR_RETRY (still busy: dying processes), ACMS_ERR. */
int coord_cg_remove(coord_cg *cg);

/* --- the host's sandbox ----------------------------------------------------------------------- */

typedef enum coord_sandbox_mode { COORD_SANDBOX_AUTO = 0, COORD_SANDBOX_OFF, COORD_SANDBOX_REQUIRE } coord_sandbox_mode;

typedef struct coord_sandbox {
    coord_sandbox_mode mode;
    int root; /* running as uid 0 */
    coord_cg_host cg;
    int netns; /* a network namespace could be made at start */
    int user;  /* steps run as uid/gid below */
    uid_t uid;
    gid_t gid;
    char user_name[64];
    int volumes; /* tmpfs work directories can be mounted (root) */
    uint32_t pids_max;
    int no_clone_into; /* v2: join by writing cgroup.procs instead of clone3 (benchmarks) */
    uint64_t seq;      /* attempt cgroup names: a<pid>-<seq> */
    int pool;          /* slots reused: 1 (v1; v2 where memory.peak resets), 0 (one per attempt), -1 unknown */
    coord_cg *free;    /* empty slots, ready for the next attempt (sandbox_pool.c) */
    size_t nfree, capfree;
    char label[384]; /* what steps get, in words (log, acmsctl status) */
    char **busy;     /* attempt cgroups still to remove (processes were dying) */
    size_t nbusy, capbusy;
} coord_sandbox;

/* Reads ACMS_SANDBOX (auto | off | require), ACMS_STEP_USER (default acms-step; "" = the
 * coordinator's own user), ACMS_CGROUP (auto | v2 | v1 | off), ACMS_CGROUP_PARENT,
 * ACMS_STEP_PIDS_MAX (default 4096) and probes the host. ACMS_OK, or ACMS_ERR with errstr when
 * ACMS_SANDBOX=require and something is missing or a variable is invalid. */
int coord_sandbox_init(coord_sandbox *sb, char *errstr, size_t errstr_size);
void coord_sandbox_release(coord_sandbox *sb);
/* Removes attempt cgroups left busy earlier (call once per tick; cheap when there is none). */
void coord_sandbox_sweep(coord_sandbox *sb);
/* Keeps a busy attempt cgroup for coord_sandbox_sweep (takes a copy of cg). */
void coord_sandbox_defer(coord_sandbox *sb, const coord_cg *cg);

/* --- the pool of slots (sandbox_pool.c) ------------------------------------------------------- */

#define COORD_POOL_MAX 32 /* empty slots kept; beyond it a slot is removed after its attempt */

/* A cgroup for one attempt with limits lim, ready to be joined: a free slot of the pool (limits
 * rewritten, peak reset, counters taken as zero), else a new one (a<pid>-<seq>, made by mkdir, so
 * no other coordinator holds it). Where the pool cannot work (v2 before 6.12: no peak reset) the
 * cgroup is one per attempt, cg->pooled 0. ACMS_OK, or ACMS_ERR with errstr (nothing held). */
int coord_pool_take(coord_sandbox *sb, const coord_cg_limits *lim, coord_cg *cg, char *errstr, size_t errstr_size);
/* Gives the attempt's cgroup back once its processes were killed; nprocs: how many were still
 * found after the kills (-1: unknown, taken as not empty). An empty slot is recycled (coord_cg_recycle) and kept; a slot with a
 * process left, or beyond COORD_POOL_MAX, is retired: removed now, or by coord_sandbox_sweep
 * once its processes are gone. A cgroup that is not a slot is removed the same way. */
void coord_pool_put(coord_sandbox *sb, coord_cg *cg, int nprocs);
/* Removes every free slot (shutdown); a slot left by a coordinator that died is removed by the
 * next one's start (a<pid>-*: no such process, or our own pid). */
void coord_pool_release(coord_sandbox *sb);

/* --- per attempt ------------------------------------------------------------------------------ */

/* What the child does between clone and exec, decided by coord_attempt_sandbox_open. */
typedef struct coord_child_sandbox {
    int cg_fds[COORD_CG_NCTRL]; /* write "0" to each (join the cgroup first); -1 = none */
    int netns;                  /* unshare the network namespace and bring loopback up */
    int drop;                   /* switch to uid/gid with no supplementary groups */
    uid_t uid;
    gid_t gid;
} coord_child_sandbox;

/* Child stages reported on failure (continuing exec_local's numbering). */
enum { COORD_STAGE_CGROUP = 16, COORD_STAGE_NETNS, COORD_STAGE_USER };

typedef struct coord_attempt_sandbox {
    coord_sandbox *host; /* NULL: no sandbox (polling) */
    coord_cg cg;
    char volume[COORD_CG_PATH]; /* mounted tmpfs work directory, "" when none */
    uint64_t volume_gb;
    int into_fd;     /* v2: the cgroup's directory for clone3's CLONE_INTO_CGROUP, -1 = none */
    char label[384]; /* what this attempt got */
    char note[256];  /* what it asked for and did not get ("" when nothing) */
    coord_child_sandbox child;
} coord_attempt_sandbox;

typedef struct coord_attempt_spec {
    const char *attempt_dir; /* created by the executor; logs stay here, out of the step's reach */
    uint64_t memory_mb;
    double vcpu;
    uint32_t volume_size_gb;
    int network_isolated;
    int require_isolation; /* the environment requires it: fail rather than run unisolated */
} coord_attempt_spec;

/* Sets up an attempt: cgroup, work directory (<attempt_dir>/work, a tmpfs when a volume is asked,
 * owned by the step user), the child's actions. *workdir receives the step's working directory.
 * ACMS_OK, or ACMS_ERR with errstr and *permanent (a retry cannot help) after undoing everything.
 * With host == NULL or nothing available, only the label and note are set. */
int coord_attempt_sandbox_open(coord_attempt_sandbox *as, coord_sandbox *host, const coord_attempt_spec *spec,
                               char *workdir, size_t workdir_size, char *errstr, size_t errstr_size, int *permanent);
/* After the child has exec'd (or failed): the child's descriptors are no longer its (a slot keeps
 * them for the next attempt; a cgroup of its own closes them). */
void coord_attempt_sandbox_started(coord_attempt_sandbox *as);
/* Ends the attempt's sandbox: kills what is left, gives the cgroup back to the pool (or removes
 * it, or defers its removal), unmounts the volume. Idempotent. */
void coord_attempt_sandbox_close(coord_attempt_sandbox *as);

/* Child side, first thing after setsid: joins the attempt's cgroup (every hierarchy). 0 or
 * COORD_STAGE_CGROUP (errno set). Async-signal-safe. */
int coord_child_join_cgroup(const coord_child_sandbox *cs);
/* Child side, last thing before closing descriptors and exec: the network namespace, then the
 * user. 0 or the COORD_STAGE_* that failed (errno set). Async-signal-safe. */
int coord_child_confine(const coord_child_sandbox *cs);

/* sandbox_net.c: a fresh network namespace for the calling (child) thread with loopback up.
 * 0 or -1 (errno). Async-signal-safe. */
int coord_net_isolate(void);
/* Can this process make network namespaces? Probes once in a short-lived child. */
int coord_net_probe(char *why, size_t why_size);

/* sandbox_user.c: the step user (name or numeric uid), 0 found, -1 not (why says so). */
int coord_user_lookup(const char *name, uid_t *uid, gid_t *gid, char *why, size_t why_size);
/* Child side: drop to uid/gid with no supplementary groups and no new privileges. 0 or -1. */
int coord_user_drop(uid_t uid, gid_t gid);

/* sandbox_volume.c: mounts a tmpfs of size_gb at dir owned by uid/gid (mode 0700). 0 or -1 (errno). */
int coord_volume_mount(const char *dir, uint64_t size_gb, uid_t uid, gid_t gid);
/* Lazily unmounts dir. 0 or -1 (errno). */
int coord_volume_unmount(const char *dir);

#endif
