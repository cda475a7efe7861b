/* coord.h: the execution coordinator object (the seed's ExecutionCoordinator): its context, the
 * runs it owns and the handlers main.c wires. The parts live in their own headers: plan.h and
 * recovery.h (pure), exec.h (executors), lease.h, run.h, run_store.h, opq.h, admission.h,
 * report.h. Invariant: a run is driven by the one replica holding its lease. */
#ifndef ACMS_COORD_COORD_H
#define ACMS_COORD_COORD_H

#include "profile.h"
#include "run.h"
#include "sandbox.h"
#include "secret.h"
#include "service.h"

#define COORD_SCAN_MS 1000
#define COORD_SWEEP_MS 1000 /* retention sweep (common/retention.h) */

struct coord_ctx {
    acms_service *svc;
    char owner[128]; /* lease value: the instance id */
    char work_root[512];
    const acms_profiles *profiles;
    acms_secret_ctx secrets;     /* vault client, env deny list */
    struct acms_crypt *crypt;    /* the run's stored runtime configuration sealed at rest; NULL = off */
    coord_http_auth worker_auth; /* how the http executor authenticates to workers */
    coord_run **runs;
    size_t nruns, caprun;
    int64_t next_scan;
    int64_t next_sweep;    /* monotonic ms of the next retention sweep */
    int wake_fd;           /* epoll set of the running local attempts' pidfds (coord_wake_fd) */
    int start_fd;          /* eventfd in that set: a run just accepted ticks at once, not at the timer */
    coord_sandbox sandbox; /* what local attempts get (probed at start) */
    struct k8s_exec *k8s;  /* kubernetes executor state (threads), made on first use */
    size_t tail_cap;       /* ACMS_LOG_TAIL_KB x 1024 */
    uint32_t rng;
    int draining; /* shutdown: no new steps, no new runs */
    int lease_ttl_ms;
    size_t max_runs;  /* ACMS_COORD_MAX_RUNS, 0 = unlimited */
    char reason[256]; /* dead-letter reason of the last poison message */
};

/* live.c: applies the in-place adaptations pending for the run's steps (steps: the members of
 * acms:run:<run>:live). ACMS_OK or ACMS_ERR_RETRY (the rest is handled on the next check). */
int coord_live_apply(coord_ctx *c, coord_run *r, const redisReply *steps);
/* logs.c: acms:run:<run>:log:<step>:<attempt> (hash: stdout, stdout_total, stderr, stderr_total,
 * done), the last tail_cap bytes of each stream. Queues the write when the output grew (final:
 * always, with done=1); on the run's queue, so it lands in order with the step's record. */
void coord_logs_record(coord_ctx *c, coord_run *r, coord_step *s, int final);
/* A runtime resize's outcome as an adaptation record (stage runtime) of the step. */
void coord_logs_note(coord_run *r, const coord_step *s, const char *note);

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
