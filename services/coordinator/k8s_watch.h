/* k8s_watch.h: the kubernetes executor's shared state and its two kinds of worker threads.
 * A watch thread per namespace lists the Pods labelled app.kubernetes.io/managed-by=
 * acms-coordinator, then watches from the list's resourceVersion, relisting on 410 Gone and on a
 * dropped watch; what it sees lands in the attempt slots. One request thread makes every other
 * call (create Pod / Secret / NetworkPolicy, get, delete, log, metrics, resize), driven by what the
 * slots ask for. The coordinator's loop only reads and writes slots under the mutex: it never waits
 * on the API server. A slot is created by an attempt's start or adoption, detached when the
 * attempt's handle is freed, and freed by the request thread once its Pod is deleted.
 * Invariants: the Secret body (resolved values) lives in a slot only until it is sent, and is wiped
 * then; a Pod is deleted only when its attempt asked for it (cancel, record done + TTL, limit
 * backstop) or when it is an orphan: terminal, in no slot, for ACMS_K8S_ORPHAN_S. */
#ifndef ACMS_K8S_WATCH_H
#define ACMS_K8S_WATCH_H

#include <pthread.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "acms/v1/exec.pb-c.h"
#include "k8s_client.h"
#include "k8s_pod.h"

/* What the API server says about one Pod. */
typedef struct k8s_obs {
    int present;  /* seen by a list, watch or get */
    int gone;     /* deleted (DELETED event, 404, or missing from a relist) */
    int deleting; /* metadata.deletionTimestamp set */
    char uid[64];
    char phase[16];  /* Pending Running Succeeded Failed Unknown */
    char reason[64]; /* status.reason: Evicted, DeadlineExceeded, NodeLost, ... */
    char message[256];
    int terminated; /* the step container terminated */
    int exit_code;
    char term_reason[64]; /* OOMKilled, Error, Completed, ... */
    char waiting[64];     /* ImagePullBackOff, ErrImagePull, CreateContainerConfigError, ... */
    char waiting_message[256];
    int64_t waiting_since;  /* monotonic ms the current waiting reason was first seen */
    char disruption[64];    /* DisruptionTarget condition's reason (PreemptionByScheduler, ...) */
    char resize[64];        /* PodResizePending / PodResizeInProgress reason, or "" */
    uint64_t mem_limit_mib; /* the step container's memory limit as the server has it */
} k8s_obs;

/* Parses a Pod object into o (keeps waiting_since when the waiting reason did not change). */
void k8s_obs_parse(const cJSON *pod, k8s_obs *o, int64_t now_mono);

/* What an observation means for the attempt. */
typedef struct k8s_verdict {
    int done;
    Acms__V1__ExitReason reason;
    int exit_code;
    int permanent; /* configuration failure: a retry fails the same way */
    char message[512];
    char suggestion[256];
} k8s_verdict;

/* Classifies o: Succeeded -> OK; DeadlineExceeded -> TIME; OOMKilled -> MEMORY; Evicted,
 * preemption (DisruptionTarget), node lost, deleted by someone else -> INTERRUPTED; a waiting reason
 * of ImagePullBackOff / ErrImagePull / InvalidImageName / CreateContainerConfigError /
 * CreateContainerError lasting config_grace_ms -> SPAWN_FAILED permanent with a suggestion; another
 * failure -> NONZERO with the exit code. image names the Pod's image (for messages). */
void k8s_verdict_of(const k8s_obs *o, int64_t now_mono, int64_t config_grace_ms, const char *image, k8s_verdict *v);

/* --- the shared state ------------------------------------------------------------------------- */

enum { K8S_REQ_NONE = 0, K8S_REQ_WANTED, K8S_REQ_DONE, K8S_REQ_FAILED };

typedef struct k8s_slot {
    struct k8s_slot *next;
    char name[K8S_NAME_MAX];
    char ns[254];
    char run_id[201];
    k8s_obs obs;
    int64_t obs_mono; /* last change of obs */
    int detached;     /* the attempt's handle is gone */
    /* create: policy (optional) -> pod -> secret (optional, owned by the pod: its uid replaces
     * K8S_UID_PLACEHOLDER in the template, which is wiped once sent) */
    int create; /* K8S_REQ_* */
    char *pod_json, *secret_json, *policy_json;
    long create_status; /* HTTP status of the failed step, 0 transport */
    char create_error[384];
    int64_t created_mono;
    int get;               /* adoption: K8S_REQ_* */
    int log;               /* K8S_REQ_* : a log read wanted / done */
    int64_t next_log_mono; /* running: next periodic log read (0 = none) */
    char *log_buf;         /* the last log_cap bytes of the container's output (malloc'd) */
    size_t log_len;
    uint64_t log_total;
    int metrics; /* 1 measured at least once, 0 not yet, -1 no metrics API */
    int64_t next_metrics_mono;
    uint64_t peak_kib;   /* the largest working set seen */
    uint64_t resize_mib; /* wanted in-place memory (0 = none) */
    int resize;          /* K8S_REQ_*; FAILED = the server cannot resize in place */
    char resize_error[256];
    int64_t delete_at_mono; /* 0 = not asked */
    int delete_grace_s;
    int deleted; /* DELETE answered (200, 202 or 404) */
    int has_secret;
} k8s_slot;

typedef struct k8s_ns {
    char ns[254];
    pthread_t thread;
    int started;
    char rv[64]; /* resourceVersion watched from */
    int synced;  /* a list has completed */
    int64_t list_started_mono;
    uint64_t relists; /* lists after the first (410 or dropped watch) */
} k8s_ns;

#define K8S_MAX_NS 8
#define K8S_UID_PLACEHOLDER "00000000-0000-0000-0000-acms0pod0uid"

typedef struct k8s_orphan {
    char name[K8S_NAME_MAX], ns[254];
    int64_t terminal_since;
} k8s_orphan;

/* An object to delete that belongs to no attempt (a run's NetworkPolicy once the run ended). */
typedef struct k8s_pending {
    char kind[32], ns[254], name[K8S_NAME_MAX];
} k8s_pending;

typedef struct k8s_exec {
    k8s_conn conn;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled when a slot wants work */
    pthread_t req_thread;
    int stop;
    k8s_slot *slots;
    k8s_ns nss[K8S_MAX_NS];
    size_t nns;
    k8s_orphan *orphans;
    size_t norphans, caporphans;
    k8s_pending *pend;
    size_t npend, cappend;
    int metrics_api; /* -1 unknown, 0 absent, 1 present */
    int resize_api;  /* -1 unknown, 0 the server has no pods/resize, 1 it has */
    size_t log_cap;  /* bytes of output tail kept per attempt */
    int log_poll_s;  /* running Pods: log read period (0 = at the end only) */
    int orphan_s;
    int64_t config_grace_ms;
    char err[256]; /* last connection-level problem (for messages) */
} k8s_exec;

/* Loads the connection and starts the request thread. NULL with errstr when the API server is not
 * configured or a thread cannot start. Free with k8s_exec_free (stops and joins the threads). */
k8s_exec *k8s_exec_new(size_t log_cap, char *errstr, size_t errstr_size);
void k8s_exec_free(k8s_exec *x);

/* Under x->mu: the slot of Pod name in ns, or a new one (NULL when out of memory); ensures a
 * watch thread for ns. */
k8s_slot *k8s_slot_get(k8s_exec *x, const char *ns, const char *name);
/* Under x->mu: wakes the request thread. */
void k8s_exec_kick(k8s_exec *x);
/* Under x->mu: queues the deletion of kind ("networkpolicies") ns/name. */
void k8s_exec_delete_later(k8s_exec *x, const char *kind, const char *ns, const char *name);

#endif
