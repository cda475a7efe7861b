/* coord.c: the coordinator's context and its three inputs. ConfigValidated creates a run in Redis
 * (idempotent by run id) and starts it under a lease; AdaptedEvent stores overrides for a step's
 * next attempt; ControlEvent CANCEL sets the run's cancel key (its owner, wherever it is, sees it
 * within a second). The tick drives the owned runs and, every second, takes over active runs whose
 * lease expired. At shutdown nothing new starts; running attempts get the shutdown timeout to end,
 * then the rest is left to lease recovery (their attempts become LOST and are retried). */
#include "coord.h"
#include "lease.h"
#include "run_store.h"
#include "keys.h"

#include "crypt.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "k8s_watch.h"
#include "retention.h"
#include "run_state.h"

uint32_t coord_rand(coord_ctx *c)
{
    /* xorshift32: jitter only, not security */
    uint32_t x = c->rng ? c->rng : 0x9e3779b9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c->rng = x;
    return x;
}

static long env_long(const char *name, long dflt)
{
    const char *v = getenv(name);
    char *end;
    if (!v || !*v)
        return dflt;
    long x = strtol(v, &end, 10);
    return *end || x < 0 ? dflt : x;
}

/* The eventfd that makes a newly accepted run's first tick immediate (coord_tick reads it). */
static void start_wake_init(coord_ctx *c)
{
    struct epoll_event ev = {.events = EPOLLIN};
    c->start_fd = c->wake_fd > 0 ? eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) : -1;
    ev.data.fd = c->start_fd;
    if (c->start_fd > 0 && epoll_ctl(c->wake_fd, EPOLL_CTL_ADD, c->start_fd, &ev) < 0) {
        close(c->start_fd);
        c->start_fd = -1;
    }
}

/* A run was accepted: the consume loop sees the epoll set readable and ticks at once. */
static void start_wake(const coord_ctx *c)
{
    uint64_t one = 1;
    if (c->start_fd > 0 && write(c->start_fd, &one, sizeof one) < 0)
        acms_log_debug(NULL, NULL, "start wake: %s", strerror(errno)); /* the timer's tick starts it */
}

int coord_init(acms_service *svc, coord_ctx **out, char *errstr, size_t errstr_size)
{
    const acms_cfg *cfg = acms_service_cfg(svc);
    coord_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(errstr, errstr_size, "out of memory");
        return ACMS_ERR_NOMEM;
    }
    c->svc = svc;
    snprintf(c->owner, sizeof c->owner, "%s", cfg->instance_id);
    snprintf(c->work_root, sizeof c->work_root, "%s", cfg->work_dir[0] ? cfg->work_dir : "run/work");
    c->profiles = acms_service_profiles(svc);
    c->lease_ttl_ms = (int)env_long("ACMS_COORD_LEASE_TTL_MS", COORD_LEASE_TTL_MS);
    if (c->lease_ttl_ms < 2 * COORD_RENEW_MS)
        c->lease_ttl_ms = 2 * COORD_RENEW_MS;
    c->max_runs = (size_t)env_long("ACMS_COORD_MAX_RUNS", 0);
    c->tail_cap = (size_t)env_long("ACMS_LOG_TAIL_KB", COORD_TAIL_CAP / 1024) * 1024;
    if (!c->tail_cap || c->tail_cap > 4u * 1024 * 1024)
        c->tail_cap = COORD_TAIL_CAP;
    c->rng = (uint32_t)getpid() ^ (uint32_t)acms_now_ms() ^ (uint32_t)time(NULL) << 7;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(errstr, errstr_size, "libcurl initialisation failed");
        free(c);
        return ACMS_ERR;
    }
    if (acms_secret_ctx_from_env(&c->secrets, errstr, errstr_size) != ACMS_OK ||
        acms_crypt_from_env(&c->crypt, c->secrets.vault, errstr, errstr_size) != ACMS_OK ||
        coord_http_auth_from_env(&c->worker_auth, errstr, errstr_size) != ACMS_OK ||
        coord_sandbox_init(&c->sandbox, errstr, errstr_size) != ACMS_OK) {
        coord_http_auth_release(&c->worker_auth);
        acms_crypt_free(c->crypt);
        acms_secret_ctx_release(&c->secrets);
        curl_global_cleanup();
        free(c);
        return ACMS_ERR_INVALID;
    }
    acms_log_info(NULL, NULL, "sandbox for local steps: %s", c->sandbox.label);
    char werr[600];
    if (coord_local_work_root(c->work_root, werr, sizeof werr) != ACMS_OK)
        acms_log_warn(NULL, NULL, "%s: local steps cannot start until it can be made", werr);
    c->wake_fd = epoll_create1(EPOLL_CLOEXEC);
    if (c->wake_fd < 0) {
        acms_log_warn(NULL, NULL, "epoll: %s: step ends are noticed on the tick only", strerror(errno));
        c->wake_fd = 0;
    }
    start_wake_init(c);
    acms_log_info(NULL, NULL, "coordinator %s: work dir %s, lease ttl %d ms%s", c->owner, c->work_root, c->lease_ttl_ms,
                  c->profiles ? "" : ", no instance catalogue (memory retries use the formula)");
    *out = c;
    return ACMS_OK;
}

static coord_run *find_run(coord_ctx *c, const char *id, size_t *idx)
{
    for (size_t i = 0; i < c->nruns; i++)
        if (!strcmp(c->runs[i]->id, id)) {
            if (idx)
                *idx = i;
            return c->runs[i];
        }
    return NULL;
}

static int add_run(coord_ctx *c, coord_run *r)
{
    if (c->nruns == c->caprun) {
        size_t cap = c->caprun ? c->caprun * 2 : 16;
        coord_run **v = realloc(c->runs, cap * sizeof *v);
        if (!v)
            return ACMS_ERR_NOMEM;
        c->runs = v;
        c->caprun = cap;
    }
    c->runs[c->nruns++] = r;
    return ACMS_OK;
}

static void remove_run(coord_ctx *c, size_t i)
{
    coord_run_free(c->runs[i]);
    memmove(&c->runs[i], &c->runs[i + 1], (c->nruns - i - 1) * sizeof *c->runs);
    c->nruns--;
}

/* --- inputs ------------------------------------------------------------------------------------ */

static int on_validated(coord_ctx *c, acms_service *svc, const acms_msg *m, const char **reason)
{
    acms_arena *a = acms_arena_new(0);
    Acms__V1__ConfigValidated *in = (Acms__V1__ConfigValidated *)acms_pb_decode(
        a, &acms__v1__config_validated__descriptor, m->payload, m->len, reason);
    if (!in) {
        acms_arena_free(a);
        return ACMS_ERR_POISON;
    }
    const char *run_id = in->meta->run_id;
    if (in->result && !in->result->valid) {
        acms_log_warn(run_id, in->meta->event_id, "ConfigValidated says the configuration is invalid: not executed");
        acms_arena_free(a);
        return ACMS_OK;
    }
    if (find_run(c, run_id, NULL)) {
        acms_arena_free(a);
        return ACMS_OK; /* redelivered: already ours */
    }
    char event_id[ACMS_ID_LEN], tp[64];
    snprintf(event_id, sizeof event_id, "%s", in->meta->event_id);
    coord_fmt(tp, sizeof tp, "%s", in->meta->traceparent ? in->meta->traceparent : "");
    char err[200];
    Acms__V1__RuntimeConfiguration *rc = in->runtime;
    coord_run *r = coord_run_new(c, run_id, a, rc, event_id, tp, err, sizeof err); /* takes the arena */
    if (!r) {
        coord_fmt(c->reason, sizeof c->reason, "unusable runtime configuration: %s", err);
        *reason = c->reason;
        return ACMS_ERR_POISON;
    }
    acms_redis *rd = acms_service_redis(svc);
    int created = coord_store_create(rd, c->crypt, r->id, rc, event_id, tp);
    if (created == ACMS_ERR_RETRY) {
        coord_run_free(r);
        return ACMS_ERR_RETRY;
    }
    if (created == 0) {
        acms_log_info(r->id, event_id, "run already created: duplicate ConfigValidated ignored");
        coord_run_free(r);
        return ACMS_OK; /* if it is still active and unowned, the scan takes it over */
    }
    if (created == 2 && coord_store_load_steps(rd, r) != ACMS_OK) { /* a retry: its reused steps */
        coord_run_free(r);
        return ACMS_ERR_RETRY; /* created: the redelivery finds it and the scan resumes it */
    }
    int lease = (c->max_runs && c->nruns >= c->max_runs) ? 0
                                                         : coord_lease_acquire(rd, r->id, c->owner, c->lease_ttl_ms);
    if (lease != 1 || add_run(c, r) != ACMS_OK) {
        acms_log_info(r->id, event_id, "run created; left to another replica (lease %d)", lease);
        coord_run_free(r);
        return ACMS_OK;
    }
    r->lease_ok_ms = acms_mono_ms();
    start_wake(c);
    acms_log_info(r->id, event_id,
                  "run accepted: pipeline %s, environment %s, %zu step(s), max_parallel %u, critical path %.0f s",
                  r->pipeline, r->environment, r->n, r->plan->max_parallel, r->plan->critical_s);
    return ACMS_OK;
}

/* Stores an adaptation for the step's next attempt and, for memory, for its running one: the run's
 * owner sees the step in acms:run:<run>:live within a second (live.c). */
static const char *const adapted_script = ACMS_RETENTION_LUA
    "if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[3]) then return 0 end\n"
    "if redis.call('EXISTS', KEYS[2]) == 0 then return 2 end\n"
    "if tonumber(ARGV[1]) > 0 then\n"
    "  redis.call('HSET', KEYS[2], 'override_memory_mb', ARGV[1], 'live_memory_mb', ARGV[1])\n"
    "  redis.call('SADD', KEYS[3], ARGV[4])\n"
    /* a finished run's set expires with the run (retention.h); a live run's with the run's end */
    "  if not acms_retain(ARGV[5], KEYS[3], tonumber(ARGV[3]) * 1000) then redis.call('EXPIRE', KEYS[3], ARGV[3]) end\n"
    "end\n"
    "if tonumber(ARGV[2]) > 0 then redis.call('HSET', KEYS[2], 'override_runtime_s', ARGV[2]) end\n"
    "return 1\n";

/* 2^30 MiB (1 PiB): no instance has it; anything above is a corrupted or forged event */
#define COORD_ADAPTED_MAX_MB (1ULL << 30)

const char *coord_adapted_problem(const Acms__V1__AdaptedEvent *in)
{
    if (!in || !in->step || !*in->step)
        return "AdaptedEvent without a step";
    if (in->memory_mb > COORD_ADAPTED_MAX_MB)
        return "AdaptedEvent with an impossible memory size";
    return NULL;
}

static int on_adapted(coord_ctx *c, acms_service *svc, const acms_msg *m, const char **reason)
{
    (void)c; /* the run's owner, wherever it is, applies it in place (live.c) */
    acms_arena *a = acms_arena_new(0);
    Acms__V1__AdaptedEvent *in = (Acms__V1__AdaptedEvent *)acms_pb_decode(a, &acms__v1__adapted_event__descriptor,
                                                                          m->payload, m->len, reason);
    if (!in) {
        acms_arena_free(a);
        return ACMS_ERR_POISON;
    }
    const char *run_id = in->meta->run_id;
    int rc = ACMS_OK;
    if ((*reason = coord_adapted_problem(in)) != NULL) {
        acms_arena_free(a);
        return ACMS_ERR_POISON;
    }
    if (!in->memory_mb && !in->max_runtime_s) {
        acms_log_info(run_id, in->meta->event_id, "adaptation without a step memory/runtime change: nothing to apply");
        goto out;
    }
    const char *argv[] = {"EVAL",
                          adapted_script,
                          "3",
                          acms_key_seen(acms_key_buf(a), ACMS_KEY_MAX, COORD_SERVICE, in->meta->event_id),
                          acms_key_step(acms_key_buf(a), ACMS_KEY_MAX, run_id, in->step),
                          acms_key_run_part(acms_key_buf(a), ACMS_KEY_MAX, run_id, "live"),
                          acms_arena_printf(a, "%llu", (unsigned long long)in->memory_mb),
                          acms_arena_printf(a, "%u", in->max_runtime_s),
                          acms_arena_printf(a, "%d", acms_redis_seen_ttl_s(acms_service_redis(svc))),
                          in->step,
                          run_id};
    size_t len[11];
    for (int i = 0; i < 11; i++)
        len[i] = strlen(argv[i]);
    redisReply *rep = acms_redis_cmdargv(acms_service_redis(svc), 11, argv, len);
    if (!rep || rep->type != REDIS_REPLY_INTEGER) {
        rc = ACMS_ERR_RETRY;
    } else if (rep->integer == 1) {
        acms_log_info(run_id, in->meta->event_id,
                      "adaptation stored for step %s (memory %llu MiB, max_runtime_s %u): "
                      "applies to its next attempt%s",
                      in->step, (unsigned long long)in->memory_mb, in->max_runtime_s,
                      in->memory_mb ? " and, in place, to its running one (by the run's owner)" : "");
    } else if (rep->integer == 2) {
        acms_log_warn(run_id, in->meta->event_id, "adaptation for unknown step %s ignored", in->step);
    }
    if (rep)
        freeReplyObject(rep);
out:
    acms_arena_free(a);
    return rc;
}

static int on_control(coord_ctx *c, acms_service *svc, const acms_msg *m, const char **reason)
{
    acms_arena *a = acms_arena_new(0);
    Acms__V1__ControlEvent *in = (Acms__V1__ControlEvent *)acms_pb_decode(a, &acms__v1__control_event__descriptor,
                                                                          m->payload, m->len, reason);
    if (!in) {
        acms_arena_free(a);
        return ACMS_ERR_POISON;
    }
    if (in->action != ACMS__V1__CONTROL_ACTION__CONTROL_ACTION_CANCEL) {
        *reason = "unknown control action";
        acms_arena_free(a);
        return ACMS_ERR_POISON;
    }
    const char *run_id = in->meta->run_id;
    const char *why = in->reason && *in->reason ? in->reason : "cancelled on request";
    int rc = acms_state_cancel_flag(acms_service_redis(svc), run_id, why);
    coord_run *r = rc == ACMS_OK ? find_run(c, run_id, NULL) : NULL;
    if (r && !r->cancel) {
        r->cancel = 1;
        coord_fmt(r->cancel_reason, sizeof r->cancel_reason, "%s", why);
    }
    if (rc == ACMS_OK)
        acms_log_info(run_id, in->meta->event_id, "cancel requested (%s)%s", why, r ? "" : "; the owner will see it");
    acms_arena_free(a);
    return rc;
}

int coord_handle(coord_ctx *c, acms_service *svc, const acms_msg *m, const char **reason)
{
    c->svc = svc;
    switch (acms_cfg_topic_id(acms_service_cfg(svc), m->topic)) {
    case ACMS_TOPIC_CONFIG_VALIDATED: return on_validated(c, svc, m, reason);
    case ACMS_TOPIC_EXEC_ADAPTED: return on_adapted(c, svc, m, reason);
    case ACMS_TOPIC_CONTROL: return on_control(c, svc, m, reason);
    default: *reason = "message from a topic the coordinator does not consume"; return ACMS_ERR_POISON;
    }
}

/* --- tick -------------------------------------------------------------------------------------- */

/* The run was marked active but cannot be resumed: end it as failed rather than leave it hanging. */
static void bury(acms_redis *rd, const char *run_id, const char *owner)
{
    const char *kv[] = {"reason", "the coordinator's stored state of this run is missing or unreadable", "success",
                        "0"};
    if (acms_state_run_status(rd, run_id, "failed", kv, 4) == ACMS_ERR_RETRY)
        return;
    redisReply *rep = acms_redis_cmd(rd, "SREM " ACMS_KEY_RUNS_ACTIVE " %s", run_id);
    if (rep)
        freeReplyObject(rep);
    coord_lease_release(rd, run_id, owner);
}

static void scan(coord_ctx *c, int64_t now)
{
    acms_redis *rd = acms_service_redis(c->svc);
    redisReply *rep = acms_redis_cmd(rd, "SMEMBERS " ACMS_KEY_RUNS_ACTIVE);
    if (!rep)
        return;
    for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
        const redisReply *e = rep->element[i];
        if (e->type != REDIS_REPLY_STRING || e->len > COORD_MAX_ID || find_run(c, e->str, NULL))
            continue;
        if (c->max_runs && c->nruns >= c->max_runs)
            break;
        if (coord_lease_take_over(rd, e->str, c->owner, c->lease_ttl_ms) != 1)
            continue;
        coord_run *r = NULL;
        int rc = coord_store_resume(c, e->str, &r);
        if (rc == ACMS_OK && add_run(c, r) == ACMS_OK) {
            r->lease_ok_ms = now;
            acms_log_info(r->id, NULL, "taking over run (lease expired): %zu step(s)", r->n);
            continue;
        }
        if (rc == ACMS_OK)
            coord_run_free(r);
        if (rc == ACMS_ERR_NOTFOUND)
            bury(rd, e->str, c->owner);
        else
            coord_lease_release(rd, e->str, c->owner);
    }
    freeReplyObject(rep);
}

/* Finished runs leave the run index when their keys expire, and are compacted once they are
 * ACMS_RUN_COMPACT_S old (common/retention.h). Every replica sweeps; the script is atomic. */
static void sweep(coord_ctx *c)
{
    const acms_cfg *cfg = acms_service_cfg(c->svc);
    acms_sweep sw = {.now_ms = acms_now_ms(),
                     .compact_after_ms = cfg->run_compact_s < cfg->run_retention_s ? (int64_t)cfg->run_compact_s * 1000
                                                                                   : -1,
                     .tombstone_ms = (int64_t)cfg->seen_ttl_s * 1000};
    if (acms_retention_sweep(acms_service_redis(c->svc), &sw) != ACMS_OK)
        return;
    acms_metrics *m = acms_service_metrics(c->svc);
    if (m) {
        acms_metrics_add(m, "acms_retention_runs_expired_total", NULL,
                         "Finished runs whose keys expired (left the run index)", (double)sw.expired);
        acms_metrics_add(m, "acms_retention_runs_compacted_total", NULL, "Finished runs compacted to their summary",
                         (double)sw.compacted);
    }
    if (sw.expired || sw.compacted)
        acms_log_debug(NULL, NULL, "retention: %zu run(s) expired, %zu compacted", sw.expired, sw.compacted);
}

int coord_wake_fd(const coord_ctx *c)
{
    return c->wake_fd;
}

/* Consumes the exit events (edge-triggered): the run ticks below reap whatever has ended. */
static void wake_drain(coord_ctx *c)
{
    struct epoll_event ev[64];
    if (c->wake_fd <= 0)
        return;
    while (epoll_wait(c->wake_fd, ev, 64, 0) == 64)
        ;
    uint64_t n;
    if (c->start_fd > 0 && read(c->start_fd, &n, sizeof n) < 0 && errno != EAGAIN)
        acms_log_debug(NULL, NULL, "start wake: %s", strerror(errno));
}

int coord_tick(coord_ctx *c, acms_service *svc)
{
    c->svc = svc;
    wake_drain(c);
    if (c->sandbox.nbusy)
        coord_sandbox_sweep(&c->sandbox);
    int64_t now = acms_mono_ms();
    if (!c->draining && !acms_service_stopping(svc) && now >= c->next_scan) {
        c->next_scan = now + COORD_SCAN_MS;
        scan(c, now);
    }
    if (now >= c->next_sweep) {
        c->next_sweep = now + COORD_SWEEP_MS;
        sweep(c);
    }
    size_t running = 0;
    for (size_t i = 0; i < c->nruns;) {
        acms_log_set_trace(c->runs[i]->traceparent); /* the run's log lines carry its trace */
        int done = coord_run_tick(c, c->runs[i], now);
        acms_log_set_trace(NULL);
        if (done) {
            remove_run(c, i);
            for (size_t k = 0; k < c->nruns; k++) /* a slot may have come free: queued runs ask now */
                c->runs[k]->next_admit = 0;
            continue;
        }
        running += coord_run_running(c->runs[i]);
        i++;
    }
    acms_metrics *m = acms_service_metrics(svc);
    if (m) {
        acms_metrics_set(m, "acms_coord_runs_active", NULL, "Runs this replica executes (holds the lease of)",
                         (double)c->nruns);
        acms_metrics_set(m, "acms_coord_steps_running", NULL, "Step attempts running here", (double)running);
    }
    return ACMS_OK;
}

void coord_release(coord_ctx *c)
{
    if (!c)
        return;
    c->draining = 1;
    const acms_cfg *cfg = acms_service_cfg(c->svc);
    int budget = cfg->shutdown_timeout_ms > 0 ? cfg->shutdown_timeout_ms : 10000;
    /* The drain shares the shutdown deadline the consume loop started at the stop request, and
     * leaves a quarter of the budget to flush what it produces (acms_kafka_free). */
    int64_t deadline = acms_kafka_start_deadline(acms_service_kafka(c->svc));
    if (!deadline)
        deadline = acms_mono_ms() + budget;
    deadline -= budget / 4;
    while (c->nruns && acms_mono_ms() < deadline) {
        coord_tick(c, c->svc);
        int busy = 0;
        for (size_t i = 0; i < c->nruns; i++)
            busy |= coord_run_running(c->runs[i]) > 0 || c->runs[i]->q.n > 0;
        if (!busy)
            break;
        usleep(20000);
    }
    acms_redis *rd = acms_service_redis(c->svc);
    while (c->nruns) {
        coord_run *r = c->runs[c->nruns - 1];
        size_t n = coord_run_running(r);
        if (n)
            acms_log_warn(r->id, NULL, "shutdown: %zu attempt(s) still running are stopped and left to lease recovery",
                          n);
        coord_run_abandon(r);
        if (!r->lost) {
            coord_opq_drain(&r->q, c->svc, r->id);
            coord_lease_release(rd, r->id, c->owner); /* another replica resumes it without waiting */
        }
        remove_run(c, c->nruns - 1);
    }
    free(c->runs);
    coord_sandbox_release(&c->sandbox);
    if (c->start_fd > 0)
        close(c->start_fd);
    if (c->wake_fd > 0)
        close(c->wake_fd);
    k8s_exec_free(c->k8s); /* after the runs: their attempts' slots are detached by now */
    acms_crypt_free(c->crypt);
    coord_http_auth_release(&c->worker_auth);
    acms_secret_ctx_release(&c->secrets);
    curl_global_cleanup();
    free(c);
}
