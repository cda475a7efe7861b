/* coord.h: the execution coordinator (the seed's ExecutionCoordinator: ExecutionPlanner,
 * PipelineExecutor, _handle_execution_error). Pure parts (plan.c, recovery.c) take plain structs;
 * executors (exec.c, exec_local.c, exec_http.c) run one attempt each; lease.c, store.c, report.c,
 * run.c and coord.c hold a run's state in Redis and on the bus. Invariants: an attempt number is
 * claimed in Redis before its process starts (never reused), and a finished step's record is queued
 * before anything else about the run and never dropped while the run's lease is held. */
#ifndef ACMS_COORD_H
#define ACMS_COORD_H

#include <sys/types.h>

#include "adapter/adapter.h"
#include "dag.h"
#include "keys.h"
#include "pb.h"
#include "profile.h"
#include "redis.h"
#include "retry.h"
#include "sandbox.h"
#include "secret.h"
#include "service.h"

#define COORD_SERVICE "acms-coordinator"
#define COORD_LEASE_TTL_MS 5000
#define COORD_RENEW_MS 1000
#define COORD_SCAN_MS 1000
#define COORD_SWEEP_MS 1000             /* retention sweep (common/retention.h) */
#define COORD_CANCEL_CHECK_MS 1000
#define COORD_HEARTBEAT_MS 1000
#define COORD_GRACE_MS 2000             /* SIGTERM -> SIGKILL */
#define COORD_LOG_CAP (1024 * 1024)     /* per stream and attempt */
#define COORD_TAIL_MAX 2048             /* stderr tail bytes (and at most 5 lines) */
#define COORD_TAIL_CAP 65536            /* output kept in Redis per stream and attempt (ACMS_LOG_TAIL_KB) */
#define COORD_DEFAULT_PARALLEL 4
#define COORD_DEFAULT_ATTEMPTS 3
#define COORD_MAX_ID 200                /* run ids and step names longer than this are refused */

/* --- step states and resources ---------------------------------------------------------------- */

typedef enum coord_step_state {
    COORD_STEP_PENDING = 0,   /* not started yet */
    COORD_STEP_RETRY,         /* an attempt failed; the next one starts at not_before */
    COORD_STEP_RUNNING,
    COORD_STEP_SUCCEEDED,
    COORD_STEP_FAILED,
    COORD_STEP_SKIPPED,       /* never started: a dependency failed or the run failed */
    COORD_STEP_CANCELLED,
} coord_step_state;

/* Redis/StepEvent spelling: pending retrying running succeeded failed skipped cancelled. */
const char *coord_state_name(coord_step_state s);
/* Inverse of coord_state_name; -1 when unknown. */
int coord_state_parse(const char *s);
int coord_state_terminal(coord_step_state s);

/* Resources of one attempt. */
typedef struct coord_res {
    uint64_t memory_mb;       /* 0 = no limit */
    uint32_t max_runtime_s;   /* 0 = no limit */
    uint64_t cpu_time_s;      /* 0 = no limit */
    double vcpu;
    char instance_type[64];
} coord_res;

/* The resources a step asks for (Resources filled by the adapter, else its explicit requests). */
void coord_res_from_step(const Acms__V1__Step *s, coord_res *out);
/* "UNSPECIFIED" "OK" "NONZERO" "SIGNAL" "MEMORY" "TIME" "CPU_TIME" ... and back (-1 unknown). */
const char *coord_reason_name(Acms__V1__ExitReason r);
int coord_reason_parse(const char *s);

/* --- planner (plan.c) -------------------------------------------------------------------------- */

typedef struct coord_plan {
    const acms_dag *dag;
    double *weight;           /* per step: max_runtime_s, 60 when unset */
    double *rank;             /* longest weighted path from the step to a sink, itself included */
    size_t *critical;         /* the critical path, step indices in order */
    size_t ncritical;
    double critical_s;
    uint32_t max_parallel;
} coord_plan;

/* pipeline.max_parallel, else environment.max_parallel, else COORD_DEFAULT_PARALLEL. */
uint32_t coord_plan_max_parallel(const Acms__V1__RuntimeConfiguration *rc);
/* Builds the plan in the arena from an acyclic dag whose indices are rc's steps. ACMS_OK or
 * ACMS_ERR_INVALID (cyclic or mismatched dag). */
int coord_plan_build(acms_arena *a, const Acms__V1__RuntimeConfiguration *rc, const acms_dag *dag,
                     coord_plan **out);
/* Steps to start now: PENDING with every dependency SUCCEEDED, or RETRY with not_before <= now
 * (not_before may be NULL), at most max_parallel minus the RUNNING count of them, longest remaining
 * path first (ties: document order). Writes indices to out (capacity cap); returns the count. */
size_t coord_plan_ready(const coord_plan *p, const coord_step_state *st, const int64_t *not_before, int64_t now,
                        size_t *out, size_t cap);
/* PENDING steps that can never start: a dependency FAILED, SKIPPED or CANCELLED, transitively
 * (one pass in topological order). Returns the count written to out (capacity dag->n). */
size_t coord_plan_blocked(const coord_plan *p, const coord_step_state *st, size_t *out);

/* --- recovery (recovery.c): failure class -> decision ----------------------------------------- */

typedef struct coord_failure {
    Acms__V1__ExitReason reason;
    uint32_t attempt;         /* the attempt that failed, 1-based */
    uint32_t max_attempts;
    int exit_code;
    int term_signal;
    int permanent;            /* SPAWN_FAILED that cannot improve (command not found, bad secret) */
    uint64_t peak_rss_kb;
    uint64_t cpu_ms;          /* user + sys */
    const char *detail;       /* executor message (may be NULL) */
    const char *tail;         /* its stderr tail (may be NULL) */
    acms_retry_policy policy; /* the step's (acms_retry_resolve); zero = on_failure, default backoff */
    int has_prev;             /* the attempt before it failed too: */
    Acms__V1__ExitReason prev_reason;
    int prev_exit_code;
    int prev_term_signal;
    const char *prev_tail;
    const char *suggestion;   /* the executor's advice for a permanent failure (may be NULL) */
} coord_failure;

typedef struct coord_recovery_env {
    const acms_catalog *catalog;  /* NULL: no instance-type sizing */
    double memory_scale;          /* catalogue memory x scale (0 = 1) */
    uint64_t max_memory_mb;       /* environment quota, 0 = none */
    uint32_t max_runtime_s;       /* environment quota, 0 = none */
    const char *environment;      /* name, for explanations */
    char *const *allowed;         /* allowed instance types (environment), nallowed 0 = all */
    size_t nallowed;
} coord_recovery_env;

typedef struct coord_decision {
    int retry;
    int transient;            /* the class is transient (backoff, same resources) */
    coord_res next;           /* resources of the next attempt (a copy of the current when unchanged) */
    int64_t backoff_ms;
    char cause[256];          /* what happened, in words */
    char recovery[512];       /* what the next attempt changes and why, or why there is none */
    char suggestion[512];     /* for the operator when there is no retry ("" otherwise) */
} coord_decision;

/* step.max_attempts, else env.default_max_attempts, else COORD_DEFAULT_ATTEMPTS. */
uint32_t coord_max_attempts(const Acms__V1__Step *s, const Acms__V1__Environment *env);
/* Decides what follows a failed attempt under the step's retry policy (README "Retries"): a
 * retry waits acms_retry_backoff_ms(policy, attempt, jitter). Pure: same inputs, same decision. */
void coord_recovery_decide(const coord_recovery_env *env, const coord_res *cur, const coord_failure *f,
                           uint32_t jitter, coord_decision *d);
/* After step `failed` failed for good: the PENDING steps to mark SKIPPED. Optional step: its
 * transitive dependents (graceful degradation). Required step: every PENDING step (the run fails;
 * running steps finish, steps waiting to retry are not retried). Writes indices to out (capacity
 * dag->n); returns the count. */
size_t coord_recovery_skip_set(const acms_dag *d, const coord_step_state *st, size_t failed, int optional,
                               size_t *out);

/* --- executors (exec.c, exec_local.c, exec_http.c, exec_kubernetes.c) --------------------------- */

struct k8s_exec;

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
    char *const *argv;        /* step.command */
    size_t argc;
    Acms__V1__EnvVar *const *env;   /* values may be secret references, resolved at spawn only */
    size_t nenv;
    const char *output_path;
    const char *workdir;      /* cwd of the process ("" or NULL = the attempt directory) */
    const char *work_root;    /* $ACMS_WORK_DIR: attempt dir = <root>/<run>/<step>/attempt-<n> */
    coord_res res;
    const acms_secret_ctx *secrets; /* vault client and env deny list (coordinator's own) */
    char *const *secret_scopes;     /* the environment's scopes from the coordinator's own profile */
    size_t nsecret_scopes;
    struct coord_redact *redact;    /* filled by coord_env_build with every resolved value (exec.c) */
    const char *executor;     /* "local" (default) | "http" | "kubernetes" */
    const char *worker_url;   /* http executor endpoint */
    const coord_http_auth *worker_auth; /* http: token, client certificate (NULL = none) */
    size_t log_cap;           /* 0 = COORD_LOG_CAP */
    int grace_ms;             /* 0 = COORD_GRACE_MS */
    int wake_fd;              /* local: an epoll set the process's exit is reported to (edge-triggered,
                               * through a pidfd), so the loop wakes at once; 0 = none (polled) */
    coord_sandbox *sandbox;   /* local: the host's sandbox (NULL: none, polling) */
    uint32_t volume_size_gb;  /* local: a tmpfs work directory of this size; http: passed on */
    int network_isolated;     /* vpc_config.network_isolation */
    int require_isolation;    /* the environment requires it: an attempt that cannot be isolated fails */
    int encrypt_volume, interruptible;   /* http: passed on (local enforces neither, enforce.h) */
    uint32_t gpus;
    const Acms__V1__Step *cfg;          /* kubernetes: image, GPUs, volume, interruptible, network */
    const Acms__V1__Environment *env_profile;   /* kubernetes: its settings */
    const char *pipeline;
    struct k8s_exec **k8s;    /* kubernetes: the shared executor state, made on first use */
    size_t tail_cap;          /* output tail kept per stream (0 = COORD_TAIL_CAP) */
} coord_exec_req;

typedef struct coord_exec_status {
    int done;
    Acms__V1__ExitReason reason;    /* valid when done */
    int exit_code;
    int term_signal;
    int permanent;            /* SPAWN_FAILED that a retry cannot fix */
    uint64_t peak_rss_kb;
    uint64_t rss_kb;          /* live */
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
const char *coord_secret_check(const Acms__V1__Pipeline *p, const Acms__V1__Environment *env,
                               const acms_secret_ctx *sc, char *buf, size_t size);
int coord_secret_resolve(const coord_exec_req *req, const char *ref, char *buf, size_t size, char *errstr,
                         size_t errstr_size);

/* snprintf for messages where truncation is acceptable: returns 1 when truncated, else 0. */
int coord_fmt(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Copies s into an attempt-directory path component: [A-Za-z0-9._-] kept, others '_'. */
void coord_path_component(char *out, size_t size, const char *s);

/* Backends (exec.c dispatches). */
typedef struct coord_local coord_local;
/* Creates the work root (0711) if missing and marks it, on ext4, as a top of directory hierarchies
 * (FS_TOPDIR_FL): each run's directory then goes to a lightly used block group. ACMS_OK, or ACMS_ERR
 * (errstr) when the root cannot be created; the mark is a hint, not an error when refused. */
int coord_local_work_root(const char *root, char *errstr, size_t errstr_size);
coord_local *coord_local_start(const coord_exec_req *req, coord_exec_status *st);
int coord_local_poll(coord_local *l, int64_t now, coord_exec_status *st);
void coord_local_cancel(coord_local *l, int64_t now);
void coord_local_abandon(coord_local *l);
void coord_local_free(coord_local *l);
pid_t coord_local_pid(const coord_local *l);
int coord_local_set_memory(coord_local *l, uint64_t memory_mb, char *errstr, size_t errstr_size);

typedef struct coord_http coord_http;
coord_http *coord_http_start(const coord_exec_req *req, coord_exec_status *st);
int coord_http_poll(coord_http *h, int64_t now, coord_exec_status *st);
void coord_http_cancel(coord_http *h, int64_t now);
void coord_http_abandon(coord_http *h);
void coord_http_free(coord_http *h);
const char *coord_http_id(const coord_http *h);

typedef struct coord_k8s coord_k8s;
coord_k8s *coord_k8s_start(const coord_exec_req *req, coord_exec_status *st);
coord_k8s *coord_k8s_adopt(const coord_exec_req *req, coord_exec_status *st);
int coord_k8s_poll(coord_k8s *k, int64_t now, coord_exec_status *st);
void coord_k8s_cancel(coord_k8s *k, int64_t now);
void coord_k8s_abandon(coord_k8s *k);
void coord_k8s_free(coord_k8s *k);
const char *coord_k8s_id(const coord_k8s *k);
int coord_k8s_resize(coord_k8s *k, uint64_t memory_mb);
int coord_k8s_tail(coord_k8s *k, char **out, size_t *len, uint64_t *total);
void coord_k8s_run_done(struct k8s_exec *x, const char *run_id, const Acms__V1__Environment *env);
/* local: the last bytes of stdout (1) or stderr (2), at most cap (<= 64 KiB). */
size_t coord_local_tail(const coord_local *l, int stream, char *out, size_t cap, uint64_t *total);
/* Best-effort DELETE {worker_url}/steps/<id> (a resumed run cleaning up a dead owner's attempt). */
void coord_http_delete(const char *worker_url, const coord_http_auth *auth, const char *id);

/* --- leases (lease.c): acms:lease:<run> = owner, PX ttl ---------------------------------------- */

/* 1 = we own it now (taken or already ours, expiry refreshed), 0 = another owner, ACMS_ERR_RETRY. */
int coord_lease_acquire(acms_redis *r, const char *run_id, const char *owner, int ttl_ms);
/* coord_lease_acquire for a run found in acms:runs:active by a scan: 0 also when the run has left
 * the set since (its owner finished it), checked in the same script. */
int coord_lease_take_over(acms_redis *r, const char *run_id, const char *owner, int ttl_ms);
/* 1 = renewed, 0 = lost (expired or taken), ACMS_ERR_RETRY. */
int coord_lease_renew(acms_redis *r, const char *run_id, const char *owner, int ttl_ms);
/* Deletes the lease if still ours. 1 released, 0 not ours, ACMS_ERR_RETRY. */
int coord_lease_release(acms_redis *r, const char *run_id, const char *owner);

/* --- attempts (store.c) ------------------------------------------------------------------------ */

typedef struct coord_attempt {
    uint32_t attempt;
    Acms__V1__ExitReason reason;
    int exit_code;
    int term_signal;
    uint64_t peak_rss_kb;
    uint64_t user_cpu_ms;
    uint64_t sys_cpu_ms;
    uint64_t wall_ms;
    coord_res res;
    int64_t started_ms;
    int64_t finished_ms;
    char cause[256];
    char recovery[512];
    char stderr_tail[COORD_TAIL_MAX + 1];
    char sandbox[384];        /* how it was confined (coord_exec_status.sandbox) */
    char live[256];           /* runtime adaptations applied while it ran, "" when none */
} coord_attempt;

/* The "attempts" field of a step hash: a JSON list. Returns a malloc'd string (caller frees). */
char *coord_attempts_json(const coord_attempt *a, size_t n);
/* Parses it back into a malloc'd array (caller frees). ACMS_OK or ACMS_ERR_INVALID. */
int coord_attempts_parse(const char *json, coord_attempt **out, size_t *n);

/* --- the pending-write queue (store.c) --------------------------------------------------------- */

/* Ordered effects of one run: Redis writes, bus publications, flushes and the lease release.
 * Between two barriers (flush, lease release) the Redis writes go out in order as one pipeline and
 * then the publications in order, so each publication follows every write queued before it (a
 * step's record is in Redis before its event is on the bus). What fails stays queued, in place,
 * and is retried on the next drain (a write Redis refused may then land after writes queued behind
 * it in the same pipeline); a barrier waits until everything before it is applied, so a finished
 * step's record is never lost and never overtaken by the run's terminal status. */
typedef struct coord_op coord_op;
typedef struct coord_opq {
    coord_op *head, *tail;
    size_t n;
} coord_opq;

void coord_opq_cmd(coord_opq *q, int argc, const char *const *argv);   /* any Redis command (copied) */
void coord_opq_step_set(coord_opq *q, const char *run_id, const char *step, const char *const *kv, size_t nkv);
void coord_opq_run_status(coord_opq *q, const char *run_id, const char *status, const char *const *kv, size_t nkv);
/* Takes the arena holding msg (freed when the op is done). */
void coord_opq_publish(coord_opq *q, acms_topic t, const char *key, acms_arena *a, const ProtobufCMessage *msg);
void coord_opq_flush_bus(coord_opq *q);   /* waits for the broker's acknowledgements so far */
void coord_opq_lease_release(coord_opq *q, const char *run_id, const char *owner);
/* Applies queued ops in order. ACMS_OK when the queue is empty, ACMS_ERR_RETRY when some remain. */
int coord_opq_drain(coord_opq *q, acms_service *svc, const char *run_id);
void coord_opq_clear(coord_opq *q);

/* --- runs (run.c, store.c, report.c) ----------------------------------------------------------- */

typedef struct coord_step {
    const Acms__V1__Step *cfg;
    size_t idx;
    coord_step_state state;
    uint32_t attempt;         /* last claimed attempt, 0 = none */
    uint32_t max_attempts;
    coord_res res;            /* resources of the running / next attempt */
    int64_t not_before;       /* RETRY: monotonic ms */
    int64_t started_ms;       /* wall ms of the first attempt's start */
    int64_t finished_ms;
    int64_t attempt_started_ms;
    coord_proc *proc;
    coord_exec_status live;   /* last polled status of the running attempt */
    int cancel_sent;
    coord_attempt *attempts;  /* malloc'd */
    size_t nattempts;
    char message[512];        /* the last attempt's cause and recovery */
    char suggestion[512];     /* for the operator, when the step failed for good */
    int64_t next_heartbeat;
    char worker_id[128];      /* http: the worker's id of the running attempt */
    char live_note[256];      /* runtime adaptations applied to the running attempt in place */
    uint64_t logged_total;    /* output bytes of the running attempt already written to Redis */
    int claim;                /* result of its last claim (coord_store_claim_many) */
    int reserved;             /* holds an admission reservation (admission.c) */
    int waiting_capacity;     /* told the user it waits for the environment's capacity */
} coord_step;

typedef struct coord_ctx coord_ctx;

typedef struct coord_run {
    acms_arena *arena;        /* rc, dag, plan */
    char id[COORD_MAX_ID + 1];
    const char *pipeline;
    const char *environment;
    Acms__V1__RuntimeConfiguration *rc;
    const Acms__V1__Environment *env;   /* rc->environment or an empty one */
    acms_dag *dag;
    coord_plan *plan;
    coord_step *steps;        /* malloc'd, dag order = document order */
    size_t n;
    coord_step_state *st;     /* scratch for the planner (malloc'd) */
    int64_t *not_before;
    size_t *scratch;
    char cause_id[ACMS_ID_LEN];     /* the ConfigValidated event id: derived ids hang from it */
    char traceparent[64];
    int64_t started_ms;
    int cancel;               /* cancellation requested */
    char cancel_reason[256];
    int failing;              /* a required step failed: nothing new starts */
    int finishing;            /* final ops queued */
    int lost;                 /* lease lost: dropped without writes */
    int resumed;              /* loaded from Redis after another owner */
    int announced;            /* RUN_STARTED queued by this process */
    coord_opq q;
    int64_t next_renew, next_cancel_check, lease_ok_ms;
    long instances_reported;  /* last value written to acms:env:<env>:instances, -1 none */
    uint32_t steps_done_reported;
    int admitted;             /* holds a slot of its environment (or it has no quotas) */
    int64_t next_admit;       /* queued: next admission check (monotonic ms) */
    uint32_t queue_position;  /* queued: last position written, 0 none */
} coord_run;

struct coord_ctx {
    acms_service *svc;
    char owner[128];          /* lease value: the instance id */
    char work_root[512];
    const acms_profiles *profiles;
    acms_secret_ctx secrets;  /* vault client, env deny list */
    struct acms_crypt *crypt; /* the run's stored runtime configuration sealed at rest; NULL = off */
    coord_http_auth worker_auth; /* how the http executor authenticates to workers */
    coord_run **runs;
    size_t nruns, caprun;
    int64_t next_scan;
    int64_t next_sweep;       /* monotonic ms of the next retention sweep */
    int wake_fd;              /* epoll set of the running local attempts' pidfds (coord_wake_fd) */
    coord_sandbox sandbox;    /* what local attempts get (probed at start) */
    struct k8s_exec *k8s;     /* kubernetes executor state (threads), made on first use */
    size_t tail_cap;          /* ACMS_LOG_TAIL_KB x 1024 */
    uint32_t rng;
    int draining;             /* shutdown: no new steps, no new runs */
    int lease_ttl_ms;
    size_t max_runs;          /* ACMS_COORD_MAX_RUNS, 0 = unlimited */
    char reason[256];         /* dead-letter reason of the last poison message */
};

/* run.c */
/* A run in memory from its runtime configuration (arena taken over, also on failure). Steps start
 * PENDING unless store.c fills them from Redis. NULL with errstr when the pipeline is unusable. */
coord_run *coord_run_new(coord_ctx *c, const char *run_id, acms_arena *a, Acms__V1__RuntimeConfiguration *rc,
                         const char *cause_id, const char *traceparent, char *errstr, size_t errstr_size);
void coord_run_free(coord_run *r);
/* One step of the state machine. Returns 1 when the run is over (final writes applied or lease
 * lost) and can be freed. */
int coord_run_tick(coord_ctx *c, coord_run *r, int64_t now);
/* Shutdown: stop running attempts without recording them (the next owner records them LOST). */
void coord_run_abandon(coord_run *r);
size_t coord_run_running(const coord_run *r);

/* store.c */
/* Creates the run in Redis (runtime, step list, step hashes, active set) unless it exists, has ended
 * or is gone (retention.h); with crypt the runtime configuration is sealed (kind "runtime", id = run
 * id, version 1). A retry (acmsctl retry: the run hash's reuse_steps and retry_of) records the steps
 * it reuses succeeded. 1 created, 2 created with reused steps (coord_store_load_steps then reads
 * them), 0 duplicate, ACMS_ERR_RETRY. */
int coord_store_create(acms_redis *rd, const struct acms_crypt *crypt, const char *run_id,
                       const Acms__V1__RuntimeConfiguration *rc, const char *cause_id, const char *traceparent);
/* Claims attempt s->attempt+1 of each of n steps, in one round trip: status running, overrides
 * applied and cleared, each step in one script. steps[i]->claim is then 1 claimed (s->res updated,
 * adapted[i] (adapted_size bytes) describes applied overrides), 0 refused (step terminal or
 * attempt already claimed: s->attempt updated), ACMS_ERR_RETRY (Redis away) or ACMS_ERR_INVALID
 * (unusable key). */
void coord_store_claim_many(acms_redis *rd, const coord_run *r, coord_step *const *steps, size_t n,
                            const char *owner, char *const *adapted, size_t adapted_size);
/* Loads a run owned by us now (lease held) from Redis into memory. ACMS_OK, ACMS_ERR_NOTFOUND
 * (no runtime: not resumable), ACMS_ERR_RETRY. */
int coord_store_resume(coord_ctx *c, const char *run_id, coord_run **out);
/* Reads every step hash of r into its steps (states, attempts, resources). ACMS_OK or ACMS_ERR_RETRY. */
int coord_store_load_steps(acms_redis *rd, coord_run *r);
/* Queues the step hash after an attempt finished or the step reached a state. */
void coord_store_step(coord_run *r, const coord_step *s);
/* Runtime adaptation records of the run (acms:run:<run>:adaptations) into the arena. */
int coord_store_adaptations(acms_redis *rd, acms_arena *a, const char *run_id, Acms__V1__AdaptationRecord ***out,
                            size_t *n);

/* admission.c: the environment's quotas (max_active_runs, max_total_instances, max_memory_mb) as
 * Redis reservations with leases, shared by every replica. */
#define COORD_ADMIT_LEASE_MS 15000   /* a crashed replica's slots and reservations come free after this */
#define COORD_ADMIT_POLL_MS 500      /* a queued run checks for a slot this often */
typedef struct coord_admission {
    int admitted;
    uint32_t position;        /* queued: 1-based place in the environment's FIFO */
    uint32_t active;          /* runs holding a slot */
} coord_admission;
/* Does the environment have a quota admission enforces? */
int coord_admission_needed(const Acms__V1__Environment *env);
/* Admits the run if it is first in line and a slot is free (else queues it, keeping its place),
 * or renews its slot. ACMS_OK with *out, or ACMS_ERR_RETRY. */
int coord_admission_run(acms_redis *rd, const coord_run *r, int lease_ms, coord_admission *out);
/* Renews the run's slot: 1 renewed, 0 lost (expired: it must be admitted again), ACMS_ERR_RETRY. */
int coord_admission_renew(acms_redis *rd, const coord_run *r, int lease_ms);
/* Reserves capacity for steps (instance_count, res.memory_mb) within max_total_instances and
 * max_memory_mb: granted[i] 1 or 0; *in_use_* the environment's totals after. ACMS_OK,
 * ACMS_ERR_NOTFOUND (the run has no slot any more) or ACMS_ERR_RETRY. At most 64 steps. */
int coord_admission_steps(acms_redis *rd, const coord_run *r, coord_step *const *steps, size_t n, int *granted,
                          uint64_t *in_use_instances, uint64_t *in_use_mb);
/* Queue the release of a step's reservation / of everything the run holds (write queue). */
void coord_admission_release_step(coord_run *r, const coord_step *s);
void coord_admission_release_run(coord_run *r);
/* The same release of a run, at once. ACMS_OK or ACMS_ERR_RETRY. */
int coord_admission_release_now(acms_redis *rd, const char *env, const char *run_id);

/* live.c: applies the in-place adaptations pending for the run's steps (steps: the members of
 * acms:run:<run>:live). ACMS_OK or ACMS_ERR_RETRY (the rest is handled on the next check). */
int coord_live_apply(coord_ctx *c, coord_run *r, const redisReply *steps);
/* logs.c: acms:run:<run>:log:<step>:<attempt> (hash: stdout, stdout_total, stderr, stderr_total,
 * done), the last tail_cap bytes of each stream. Queues the write when the output grew (final:
 * always, with done=1); on the run's queue, so it lands in order with the step's record. */
void coord_logs_record(coord_ctx *c, coord_run *r, coord_step *s, int final);
/* A runtime resize's outcome as an adaptation record (stage runtime) of the step. */
void coord_logs_note(coord_run *r, const coord_step *s, const char *note);

/* report.c */
/* A StepEvent of a step in the arena (salt NULL = random id; else derived from the run's cause). */
Acms__V1__StepEvent *coord_report_step(acms_arena *a, const coord_run *r, const coord_step *s,
                                       Acms__V1__StepEventKind kind, const char *salt);
Acms__V1__StepEvent *coord_report_run(acms_arena *a, const coord_run *r, Acms__V1__StepEventKind kind,
                                      const char *status, const char *message);
Acms__V1__StepMetrics *coord_report_metrics(acms_arena *a, const coord_attempt *at);
/* The run's final status: cancelled | failed | succeeded. */
const char *coord_report_status(const coord_run *r);
/* The ExecutionResult of a finished run; runtime adaptation records are appended to the log. */
Acms__V1__ExecutionResult *coord_report_result(acms_arena *a, const coord_run *r,
                                               Acms__V1__AdaptationRecord *const *runtime, size_t nruntime);

/* summary.c: the run's summary (per step: status, times, exit reason, peak, message, attempts with
 * reason, cause and recovery) as JSON, written with the terminal status; a compacted run is read
 * back from it. malloc'd (cJSON_free), NULL when out of memory. */
char *coord_summary_json(const coord_run *r);

/* Shrinks a result whose packed size exceeds limit: stderr tails first, then all attempts but the
 * last of each step. Returns the packed size after trimming. */
size_t coord_report_fit(acms_arena *a, Acms__V1__ExecutionResult *res, size_t limit);

/* coord.c: context, handlers, tick (main.c wires these). */
int coord_init(acms_service *svc, coord_ctx **out, char *errstr, size_t errstr_size);
void coord_release(coord_ctx *c);
int coord_handle(coord_ctx *c, acms_service *svc, const acms_msg *m, const char **reason);
/* Why a decoded AdaptedEvent cannot be real (the adapter always names the step and asks for a
 * plausible size): NULL when plausible, else the dead-letter reason. */
const char *coord_adapted_problem(const Acms__V1__AdaptedEvent *in);
int coord_tick(coord_ctx *c, acms_service *svc);
/* The descriptor readable when a local attempt has ended (the service loop then ticks at once);
 * coord_tick consumes its events. 0 when unavailable (ticks on the timer only). */
int coord_wake_fd(const coord_ctx *c);
uint32_t coord_rand(coord_ctx *c);

#endif
