/* run.h: a run in memory (run.c): its steps, their attempts and the state machine that drives
 * them on each tick. Invariants: an attempt number is claimed in Redis before its process starts
 * (never reused); a finished step's record is queued before anything else about the run; a run
 * whose lease is lost is dropped without writes. */
#ifndef ACMS_COORD_RUN_H
#define ACMS_COORD_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "exec.h"
#include "opq.h"
#include "plan.h"
#include "recovery.h"

#define COORD_CANCEL_CHECK_MS 1000
#define COORD_HEARTBEAT_MS 1000
#define COORD_SERVICE "acms-coordinator" /* the service: its events' source and its consumer group */

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
    char sandbox[384]; /* how it was confined (coord_exec_status.sandbox) */
    char live[256];    /* runtime adaptations applied while it ran, "" when none */
} coord_attempt;

typedef struct coord_step {
    const Acms__V1__Step *cfg;
    size_t idx;
    coord_step_state state;
    uint32_t attempt; /* last claimed attempt, 0 = none */
    uint32_t max_attempts;
    coord_res res;      /* resources of the running / next attempt */
    int64_t not_before; /* RETRY: monotonic ms */
    int64_t started_ms; /* wall ms of the first attempt's start */
    int64_t finished_ms;
    int64_t attempt_started_ms;
    coord_proc *proc;
    coord_exec_status live; /* last polled status of the running attempt */
    int cancel_sent;
    coord_attempt *attempts; /* malloc'd */
    size_t nattempts;
    char message[512];    /* the last attempt's cause and recovery */
    char suggestion[512]; /* for the operator, when the step failed for good */
    int64_t next_heartbeat;
    char worker_id[128];   /* http: the worker's id of the running attempt */
    char live_note[256];   /* runtime adaptations applied to the running attempt in place */
    uint64_t logged_total; /* output bytes of the running attempt already written to Redis */
    int claim;             /* result of its last claim (coord_store_claim_many) */
    int reserved;          /* holds an admission reservation (admission.c) */
    int waiting_capacity;  /* told the user it waits for the environment's capacity */
} coord_step;

typedef struct coord_ctx coord_ctx;

typedef struct coord_run {
    acms_arena *arena; /* rc, dag, plan */
    char id[COORD_MAX_ID + 1];
    const char *pipeline;
    const char *environment;
    Acms__V1__RuntimeConfiguration *rc;
    const Acms__V1__Environment *env; /* rc->environment or an empty one */
    acms_dag *dag;
    coord_plan *plan;
    coord_step *steps; /* malloc'd, dag order = document order */
    size_t n;
    coord_step_state *st; /* scratch for the planner (malloc'd) */
    int64_t *not_before;
    size_t *scratch;
    char cause_id[ACMS_ID_LEN]; /* the ConfigValidated event id: derived ids hang from it */
    char traceparent[64];
    int64_t started_ms;
    int cancel; /* cancellation requested */
    char cancel_reason[256];
    int failing;   /* a required step failed: nothing new starts */
    int finishing; /* final ops queued */
    int lost;      /* lease lost: dropped without writes */
    int resumed;   /* loaded from Redis after another owner */
    int announced; /* RUN_STARTED queued by this process */
    coord_opq q;
    int64_t next_renew, next_cancel_check, lease_ok_ms;
    long instances_reported; /* last value written to acms:env:<env>:instances, -1 none */
    uint32_t steps_done_reported;
    int admitted;            /* holds a slot of its environment (or it has no quotas) */
    int64_t next_admit;      /* queued: next admission check (monotonic ms) */
    uint32_t queue_position; /* queued: last position written, 0 none */
} coord_run;

/* A run in memory from its runtime configuration (arena taken over, also on failure). Steps start
 * PENDING unless run_store.c fills them from Redis. NULL with errstr when the pipeline is unusable. */
coord_run *coord_run_new(coord_ctx *c, const char *run_id, acms_arena *a, Acms__V1__RuntimeConfiguration *rc,
                         const char *cause_id, const char *traceparent, char *errstr, size_t errstr_size);
void coord_run_free(coord_run *r);
/* One step of the state machine. Returns 1 when the run is over (final writes applied or lease
 * lost) and can be freed. */
int coord_run_tick(coord_ctx *c, coord_run *r, int64_t now);
/* Shutdown: stop running attempts without recording them (the next owner records them LOST). */
void coord_run_abandon(coord_run *r);
size_t coord_run_running(const coord_run *r);

#endif
