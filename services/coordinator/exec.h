/* exec.h: the executor interface. One attempt of one step runs on a backend (local process,
 * http worker, kubernetes Pod; exec.c dispatches on req.executor) and is polled until done.
 * Invariants: a step's secret references are resolved only at spawn, into the attempt's
 * environment, and wiped right after; every status an attempt reports and its captured output are
 * masked; a handle reports done exactly once its final status is fixed and keeps reporting it. */
#ifndef ACMS_COORD_EXEC_H
#define ACMS_COORD_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include "pb.h"
#include "resources.h"
#include "sandbox.h"
#include "secret.h"

#define COORD_MAX_ID 200            /* run ids and step names longer than this are refused */
#define COORD_GRACE_MS 2000         /* SIGTERM -> SIGKILL */
#define COORD_LOG_CAP (1024 * 1024) /* per stream and attempt */
#define COORD_TAIL_MAX 2048         /* stderr tail bytes (and at most 5 lines) */
#define COORD_TAIL_CAP 65536        /* output kept in Redis per stream and attempt (ACMS_LOG_TAIL_KB) */

struct k8s_exec;
struct coord_redact;

/* How the http executor authenticates to workers (exec_http_auth.c). */
typedef struct coord_http_auth {
    char token[1024];         /* bearer token (ACMS_WORKER_TOKEN_FILE), "" = none */
    char cert[512], key[512]; /* mTLS client certificate and key (ACMS_WORKER_CERT, ACMS_WORKER_KEY) */
    char cacert[512];         /* CA bundle the worker's certificate is checked against (ACMS_WORKER_CACERT) */
} coord_http_auth;
/* From the environment. ACMS_OK or ACMS_ERR_INVALID (unreadable token file, cert without key). */
int coord_http_auth_from_env(coord_http_auth *a, char *errstr, size_t errstr_size);
void coord_http_auth_release(coord_http_auth *a);
/* NULL when url may carry a step's secrets: https, or http to a loopback host; else why not. */
const char *coord_http_url_problem(const char *url);
/* Sets TLS verification, the client certificate and the bearer header on a curl handle; returns
 * hdrs with the header appended (the caller frees the list and sends it). a may be NULL. */
struct curl_slist;
struct curl_slist *coord_http_auth_apply(const coord_http_auth *a, void *curl, struct curl_slist *hdrs);

typedef struct coord_exec_req {
    const char *run_id;
    const char *step;
    uint32_t attempt;
    char *const *argv; /* step.command */
    size_t argc;
    Acms__V1__EnvVar *const *env; /* values may be secret references, resolved at spawn only */
    size_t nenv;
    const char *output_path;
    const char *workdir;   /* cwd of the process ("" or NULL = the attempt directory) */
    const char *work_root; /* $ACMS_WORK_DIR: attempt dir = <root>/<run>/<step>/attempt-<n> */
    coord_res res;
    const acms_secret_ctx *secrets; /* vault client and env deny list (coordinator's own) */
    char *const *secret_scopes;     /* the environment's scopes from the coordinator's own profile */
    size_t nsecret_scopes;
    struct coord_redact *redact;        /* filled by coord_env_build with every resolved value (exec.c) */
    const char *executor;               /* "local" (default) | "http" | "kubernetes" */
    const char *worker_url;             /* http executor endpoint */
    const coord_http_auth *worker_auth; /* http: token, client certificate (NULL = none) */
    size_t log_cap;                     /* 0 = COORD_LOG_CAP */
    int grace_ms;                       /* 0 = COORD_GRACE_MS */
    int wake_fd;                        /* local: an epoll set the process's exit is reported to (edge-triggered,
                               * through a pidfd), so the loop wakes at once; 0 = none (polled) */
    coord_sandbox *sandbox;             /* local: the host's sandbox (NULL: none, polling) */
    uint32_t volume_size_gb;            /* local: a tmpfs work directory of this size; http: passed on */
    int network_isolated;               /* vpc_config.network_isolation */
    int require_isolation;              /* the environment requires it: an attempt that cannot be isolated fails */
    int encrypt_volume, interruptible;  /* http: passed on (local enforces neither, enforce.h) */
    uint32_t gpus;
    const Acms__V1__Step *cfg;                /* kubernetes: image, GPUs, volume, interruptible, network */
    const Acms__V1__Environment *env_profile; /* kubernetes: its settings */
    const char *pipeline;
    struct k8s_exec **k8s; /* kubernetes: the shared executor state, made on first use */
    size_t tail_cap;       /* output tail kept per stream (0 = COORD_TAIL_CAP) */
} coord_exec_req;

typedef struct coord_exec_status {
    int done;
    Acms__V1__ExitReason reason; /* valid when done */
    int exit_code;
    int term_signal;
    int permanent; /* SPAWN_FAILED that a retry cannot fix */
    uint64_t peak_rss_kb;
    uint64_t rss_kb; /* live */
    uint64_t user_cpu_ms;
    uint64_t sys_cpu_ms;
    uint64_t wall_ms;
    char stderr_tail[COORD_TAIL_MAX + 1];
    char message[512];
    char dir[512];            /* the attempt directory (local) */
    char sandbox[384];        /* how the attempt is confined, and what it asked for and did not get */
    uint64_t memory_limit_mb; /* the limit in force now (raised in place by a runtime adaptation) */
    char suggestion[256];     /* permanent failures: what to fix */
    int peak_unmeasured;      /* the backend cannot measure peak memory (peak_rss_kb 0 means unknown) */
    char note[256];           /* once: what happened to a runtime resize (kubernetes) */
} coord_exec_status;

typedef struct coord_proc coord_proc;

/* Starts one attempt. A spawn failure gives a handle already done (SPAWN_FAILED or UNREACHABLE);
 * NULL only when out of memory. Secret references are resolved here, in the caller, into the child's environment
 * only, and wiped right after; the handle keeps the values' masks (redact.h) until it is freed, and
 * every status it reports (stderr tail, message) and the attempt's captured output files are masked.
 * Owner: caller, released with coord_exec_free. */
coord_proc *coord_exec_start(const coord_exec_req *req);
/* Advances the attempt (limits, reaping, output capture) and fills *st. Returns 1 when done.
 * Non-blocking for local; the http backend makes at most one short request per 250 ms. */
int coord_exec_poll(coord_proc *p, int64_t now_mono_ms, coord_exec_status *st);
/* Asks the attempt to stop (SIGTERM, SIGKILL after the grace / DELETE); it ends CANCELLED. */
void coord_exec_cancel(coord_proc *p, int64_t now_mono_ms);
/* Kills without recording (lease lost or shutdown): SIGKILL the group and reap / best-effort DELETE. */
void coord_exec_abandon(coord_proc *p);
/* Changes the memory limit of the running attempt in place: local, its cgroup's limit (else the
 * polled limit) now, ACMS_OK (errstr may hold a remark); kubernetes, a pods/resize asked,
 * COORD_RESIZE_ASKED (its outcome comes in coord_exec_status.note); ACMS_ERR with errstr when the
 * backend cannot (http). */
#define COORD_RESIZE_ASKED 1
int coord_exec_set_memory(coord_proc *p, uint64_t memory_mb, char *errstr, size_t errstr_size);
void coord_exec_free(coord_proc *p);
/* The backend's id of the attempt: "pid:<n>", the worker's id or "pod:<ns>/<name>". */
const char *coord_exec_id(const coord_proc *p);
/* A resumed step whose attempt was running under a dead owner: the backend takes the attempt over
 * when it can (kubernetes: its Pod, found by name) and returns a handle; NULL when the attempt is
 * lost (local, http). */
coord_proc *coord_exec_adopt(const coord_exec_req *req);

/* Asks a running attempt to use memory_mb from now on (kubernetes: in-place resize). 1 when the
 * backend tries (the outcome comes later in coord_exec_status.note), 0 when it cannot. */
int coord_exec_resize(coord_proc *p, uint64_t memory_mb);
/* The last bytes of the attempt's output so far (stream 1 stdout, 2 stderr; kubernetes has one
 * combined stream, reported as stdout) into a malloc'd *out (caller frees), and the total written,
 * masked (each resolved secret by as many '*'); live (the attempt runs): the last bytes that could
 * begin a secret are left out of both until a later call. 0, or -1 when the backend keeps none. */
int coord_exec_tail(coord_proc *p, int stream, int live, char **out, size_t *len, uint64_t *total);
/* A run ended: what the backends made for the whole run goes (kubernetes: its NetworkPolicy). */
void coord_exec_run_done(struct k8s_exec *k8s, const char *run_id, const Acms__V1__Environment *env);

/* Builds "NAME=value" environment entries: PATH, HOME, LANG of this process, the step's env with
 * secret references resolved through coord_secret_resolve (secrets.c), and ACMS_RUN_ID, ACMS_STEP,
 * ACMS_ATTEMPT, ACMS_OUTPUT_PATH, ACMS_STEP_DIR (step_dir may be NULL). NULL-terminated, malloc'd;
 * release with coord_env_free, which wipes every entry. On failure returns NULL with errstr naming
 * the variable and reference (never a value) and *transient set when a retry may succeed. */
char **coord_env_build(const coord_exec_req *req, const char *step_dir, char *errstr, size_t errstr_size,
                       int *transient);
void coord_env_free(char **envp);
/* Secrets of a step (secrets.c). coord_secret_check: NULL when every secret reference of the
 * pipeline parses and lies inside the scopes of env (the coordinator's own profile), else the
 * reason (static or in buf). coord_secret_resolve: resolves one reference of an attempt into buf
 * through acms_secret_resolve with the request's scopes; same returns. */
const char *coord_secret_check(const Acms__V1__Pipeline *p, const Acms__V1__Environment *env, const acms_secret_ctx *sc,
                               char *buf, size_t size);
int coord_secret_resolve(const coord_exec_req *req, const char *ref, char *buf, size_t size, char *errstr,
                         size_t errstr_size);

/* Best-effort DELETE {worker_url}/steps/<id> (a resumed run cleaning up a dead owner's attempt). */
void coord_http_delete(const char *worker_url, const coord_http_auth *auth, const char *id);

/* Creates the work root (0711) if missing and marks it, on ext4, as a top of directory hierarchies
 * (FS_TOPDIR_FL): each run's directory then goes to a lightly used block group. ACMS_OK, or ACMS_ERR
 * (errstr) when the root cannot be created; the mark is a hint, not an error when refused
 * (exec_local.c). */
int coord_local_work_root(const char *root, char *errstr, size_t errstr_size);

/* snprintf for messages where truncation is acceptable: returns 1 when truncated, else 0. */
int coord_fmt(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Copies s into an attempt-directory path component: [A-Za-z0-9._-] kept, others '_'. */
void coord_path_component(char *out, size_t size, const char *s);

#endif
