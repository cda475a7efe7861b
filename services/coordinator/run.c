/* run.c: the PipelineExecutor, one state machine per run, driven by the service tick. Each tick:
 * renew the lease, apply queued writes, notice cancellation, poll running attempts (recording each
 * finished one, deciding recovery), skip what can no longer run, start ready steps within the
 * concurrency limit, and finish the run once every step is terminal. Invariants: a step starts only
 * after its attempt is claimed in Redis and while the write queue is empty; a run with a lost or
 * unconfirmed lease writes nothing. */
#include "coord.h"
#include "admission.h"
#include "report.h"
#include "lease.h"
#include "run_store.h"

#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_state.h"

static const Acms__V1__Environment empty_env = ACMS__V1__ENVIRONMENT__INIT;

/* The environment a run names: its runtime's environment, else its metadata's. */
static const char *env_name(const Acms__V1__RuntimeConfiguration *rc)
{
    if (rc->environment && rc->environment->name && *rc->environment->name)
        return rc->environment->name;
    return rc->metadata && rc->metadata->environment ? rc->metadata->environment : "";
}

/* The profile a run executes under: the coordinator's own (quotas, executor endpoint, secret
 * scopes), never the copy carried by the event; without a context (tools, fuzzing) the event's.
 * NULL with errstr when the coordinator does not know the environment or a secret reference of the
 * pipeline is outside its scopes (nothing of such a run starts). */
static const Acms__V1__Environment *trusted_env(const coord_ctx *c, const Acms__V1__RuntimeConfiguration *rc,
                                                char *errstr, size_t errstr_size)
{
    if (!c)
        return rc->environment ? rc->environment : &empty_env;
    const char *name = env_name(rc);
    const Acms__V1__Environment *env = c->profiles ? acms_profiles_env(c->profiles, name) : NULL;
    if (!env) {
        snprintf(errstr, errstr_size, "environment '%.64s' is not in the coordinator's configuration", name);
        return NULL;
    }
    char why[512];
    const char *bad = coord_secret_check(rc->pipeline, env, &c->secrets, why, sizeof why);
    if (bad) {
        snprintf(errstr, errstr_size, "%s", bad);
        return NULL;
    }
    return env;
}

/* ACMS_OK when the run id is usable and the pipeline has 1..ACMS_MAX_STEPS steps, each named
 * within COORD_MAX_ID characters; else ACMS_ERR_INVALID with errstr. */
static int check_config(const char *run_id, const Acms__V1__RuntimeConfiguration *rc, char *errstr, size_t errstr_size)
{
    if (acms_id_problem(run_id)) {
        snprintf(errstr, errstr_size, "run id: %s", acms_id_problem(run_id));
        return ACMS_ERR_INVALID;
    }
    if (!rc || !rc->pipeline || !rc->pipeline->n_steps || rc->pipeline->n_steps > ACMS_MAX_STEPS) {
        snprintf(errstr, errstr_size, "runtime configuration without steps (or more than %d)", ACMS_MAX_STEPS);
        return ACMS_ERR_INVALID;
    }
    for (size_t i = 0; i < rc->pipeline->n_steps; i++) {
        const Acms__V1__Step *s = rc->pipeline->steps[i];
        if (!s->name || !*s->name || strlen(s->name) > COORD_MAX_ID) {
            snprintf(errstr, errstr_size, "step %zu: name missing or longer than %d characters", i, COORD_MAX_ID);
            return ACMS_ERR_INVALID;
        }
    }
    return ACMS_OK;
}

/* Every step PENDING with its attempts bound and the resources it asks for (the environment's
 * max_runtime_s quota as the default limit). */
static void init_steps(coord_run *r)
{
    for (size_t i = 0; i < r->n; i++) {
        coord_step *s = &r->steps[i];
        s->cfg = r->rc->pipeline->steps[i];
        s->idx = i;
        s->state = COORD_STEP_PENDING;
        s->max_attempts = coord_max_attempts(s->cfg, r->env);
        coord_res_from_step(s->cfg, &s->res);
        if (!s->res.max_runtime_s && r->env->quotas) /* the environment's quota is the default limit */
            s->res.max_runtime_s = r->env->quotas->max_runtime_s;
    }
}

coord_run *coord_run_new(coord_ctx *c, const char *run_id, acms_arena *a, Acms__V1__RuntimeConfiguration *rc,
                         const char *cause_id, const char *traceparent, char *errstr, size_t errstr_size)
{
    coord_run *r = NULL;
    const Acms__V1__Environment *env = NULL;
    acms_dag *dag = NULL;
    coord_plan *plan = NULL;
    if (check_config(run_id, rc, errstr, errstr_size) != ACMS_OK)
        goto fail;
    if (!(env = trusted_env(c, rc, errstr, errstr_size)))
        goto fail;
    if (acms_dag_build(a, rc->pipeline, &dag, NULL) != ACMS_OK || coord_plan_build(a, rc, dag, &plan) != ACMS_OK) {
        snprintf(errstr, errstr_size, "the step graph is unusable (duplicate, missing or cyclic dependencies)");
        goto fail;
    }
    size_t n = rc->pipeline->n_steps;
    r = calloc(1, sizeof *r);
    if (!r || !(r->steps = calloc(n, sizeof *r->steps)) || !(r->st = calloc(n, sizeof *r->st)) ||
        !(r->not_before = calloc(n, sizeof *r->not_before)) || !(r->scratch = calloc(n, sizeof *r->scratch))) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    r->arena = a;
    snprintf(r->id, sizeof r->id, "%s", run_id);
    r->rc = rc;
    r->env = env;
    r->pipeline = rc->pipeline->name ? rc->pipeline->name : "";
    r->environment = env_name(rc);
    r->dag = dag;
    r->plan = plan;
    r->n = n;
    init_steps(r);
    coord_fmt(r->cause_id, sizeof r->cause_id, "%s", cause_id ? cause_id : "");
    coord_fmt(r->traceparent, sizeof r->traceparent, "%s", traceparent ? traceparent : "");
    r->started_ms = acms_now_ms();
    r->instances_reported = -1;
    r->steps_done_reported = (uint32_t)-1;
    r->admitted = !coord_admission_needed(r->env);
    r->lease_ok_ms = acms_mono_ms();
    return r;
fail:
    if (r) {
        r->arena = NULL;
        coord_run_free(r);
    }
    acms_arena_free(a);
    return NULL;
}

void coord_run_abandon(coord_run *r)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->steps[i].proc) {
            coord_exec_abandon(r->steps[i].proc);
            coord_exec_free(r->steps[i].proc);
            r->steps[i].proc = NULL;
        }
}

void coord_run_free(coord_run *r)
{
    if (!r)
        return;
    coord_opq_clear(&r->q); /* queued messages may point into the run's arena */
    if (r->steps) {
        coord_run_abandon(r);
        for (size_t i = 0; i < r->n; i++)
            free(r->steps[i].attempts);
    }
    free(r->steps);
    free(r->st);
    free(r->not_before);
    free(r->scratch);
    acms_arena_free(r->arena);
    free(r);
}

size_t coord_run_running(const coord_run *r)
{
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++)
        k += r->steps[i].state == COORD_STEP_RUNNING;
    return k;
}

/* --- publishing -------------------------------------------------------------------------------- */

static void publish_step(coord_run *r, const coord_step *s, Acms__V1__StepEventKind kind, const char *salt)
{
    acms_arena *a = acms_arena_new(0);
    Acms__V1__StepEvent *e = coord_report_step(a, r, s, kind, salt);
    coord_opq_publish(&r->q, ACMS_TOPIC_EXEC_STEPS, r->id, a, &e->base);
}

static void heartbeat(coord_ctx *c, coord_run *r, coord_step *s)
{
    acms_arena *a = acms_arena_new(0);
    Acms__V1__StepEvent *e = coord_report_step(a, r, s, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_HEARTBEAT, NULL);
    if (acms_service_publish(c->svc, ACMS_TOPIC_EXEC_STEPS, r->id, &e->base) != ACMS_OK)
        acms_log_debug(r->id, NULL, "heartbeat of %s dropped (producer busy)", s->cfg->name);
    acms_arena_free(a);
}

/* Queues the step's record, then its event (the record first: it is what a resumed run reads). */
static void record(coord_run *r, coord_step *s, Acms__V1__StepEventKind kind, const char *salt)
{
    coord_store_step(r, s);
    publish_step(r, s, kind, salt);
}

static void count(coord_ctx *c, const char *name, const char *labels, const char *help)
{
    acms_metrics *m = acms_service_metrics(c->svc);
    if (m)
        acms_metrics_add(m, name, labels, help, 1);
}

/* --- state changes ----------------------------------------------------------------------------- */

static void skip_step(coord_run *r, coord_step *s, coord_step_state to, const char *salt, const char *why)
{
    s->state = to;
    s->finished_ms = acms_now_ms();
    coord_fmt(s->message, sizeof s->message, "%s", why);
    record(r, s, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_SKIPPED, salt);
    acms_log_info(r->id, NULL, "step %s %s: %s", s->cfg->name, coord_state_name(to), why);
}

static void snapshot(coord_run *r)
{
    for (size_t i = 0; i < r->n; i++) {
        r->st[i] = r->steps[i].state;
        r->not_before[i] = r->steps[i].not_before;
    }
}

/* A step failed for good: degrade (optional) or fail the run (required). */
static void after_failure(coord_run *r, coord_step *s)
{
    char why[512], salt[COORD_MAX_ID + 32];
    snapshot(r);
    size_t n = coord_recovery_skip_set(r->dag, r->st, s->idx, s->cfg->optional, r->scratch);
    if (s->cfg->optional)
        coord_fmt(why, sizeof why, "optional step '%s' failed: skipped, the run continues without it", s->cfg->name);
    else
        coord_fmt(why, sizeof why, "the run failed: required step '%s' failed", s->cfg->name);
    for (size_t k = 0; k < n; k++) {
        coord_step *t = &r->steps[r->scratch[k]];
        snprintf(salt, sizeof salt, "%s/skipped", t->cfg->name);
        skip_step(r, t, COORD_STEP_SKIPPED, salt, why);
    }
    if (s->cfg->optional)
        return;
    r->failing = 1;
    for (size_t i = 0; i < r->n; i++) {
        coord_step *t = &r->steps[i];
        if (t->state != COORD_STEP_RETRY)
            continue;
        coord_fmt(why, sizeof why, "not retried: the run failed because required step '%s' failed", s->cfg->name);
        snprintf(salt, sizeof salt, "%s/abandoned", t->cfg->name);
        skip_step(r, t, COORD_STEP_FAILED, salt, why);
    }
}

static void recovery_env(coord_ctx *c, const coord_run *r, coord_recovery_env *e)
{
    memset(e, 0, sizeof *e);
    e->catalog = c->profiles ? &c->profiles->catalog : NULL;
    e->memory_scale = r->env->memory_scale;
    e->max_memory_mb = r->env->quotas ? r->env->quotas->max_memory_mb : 0;
    e->max_runtime_s = r->env->quotas ? r->env->quotas->max_runtime_s : 0;
    e->environment = r->environment;
    e->allowed = r->env->allowed_instance_types;
    e->nallowed = r->env->n_allowed_instance_types;
}

/* Records a recovery decision that changed resources in acms:run:<run>:adaptations (for watchers). */
static void log_recovery(coord_run *r, const coord_step *s, const coord_res *old, const char *why)
{
    const char *argv[3] = {"RPUSH", NULL, NULL};
    char key[ACMS_KEY_MAX], json[1600], esc[1100];
    size_t k = 0;
    for (const char *p = why; *p && k + 2 < sizeof esc; p++) {
        if (*p == '"' || *p == '\\')
            esc[k++] = '\\';
        esc[k++] = (unsigned char)*p < 0x20 ? ' ' : *p;
    }
    esc[k] = '\0';
    if (!acms_key_run_part(key, sizeof key, r->id, "adaptations"))
        return;
    argv[1] = key;
    if (old->memory_mb != s->res.memory_mb) {
        coord_fmt(json, sizeof json,
                  "{\"stage\":\"recovery\",\"step\":\"%s\",\"field\":\"resources.memory_mb\",\"old_value\":\"%llu\","
                  "\"new_value\":\"%llu\",\"reason\":\"%s\",\"safety_score\":1,\"applied\":true}",
                  s->cfg->name, (unsigned long long)old->memory_mb, (unsigned long long)s->res.memory_mb, esc);
        argv[2] = json;
        coord_opq_cmd(&r->q, 3, argv);
    }
    if (old->max_runtime_s != s->res.max_runtime_s) {
        coord_fmt(json, sizeof json,
                  "{\"stage\":\"recovery\",\"step\":\"%s\",\"field\":\"max_runtime_s\",\"old_value\":\"%u\","
                  "\"new_value\":\"%u\",\"reason\":\"%s\",\"safety_score\":1,\"applied\":true}",
                  s->cfg->name, old->max_runtime_s, s->res.max_runtime_s, esc);
        argv[2] = json;
        coord_opq_cmd(&r->q, 3, argv);
    }
}

/* The record of an ended attempt. */
static void attempt_of(const coord_step *s, const coord_exec_status *st, coord_attempt *at)
{
    memset(at, 0, sizeof *at);
    at->attempt = s->attempt;
    at->reason = st->reason;
    at->exit_code = st->exit_code;
    at->term_signal = st->term_signal;
    at->peak_rss_kb = st->peak_rss_kb;
    at->user_cpu_ms = st->user_cpu_ms;
    at->sys_cpu_ms = st->sys_cpu_ms;
    at->wall_ms = st->wall_ms;
    at->res = s->res;
    coord_fmt(at->sandbox, sizeof at->sandbox, "%s", st->sandbox);
    coord_fmt(at->live, sizeof at->live, "%s", s->live_note);
    at->started_ms = s->attempt_started_ms;
    at->finished_ms = acms_now_ms();
}

/* The failed attempt (the last of s->attempts) as recovery sees it: its class, the step's retry
 * policy, and the attempt before it (the deterministic-failure judgement compares the two). */
static void failure_of(const coord_run *r, const coord_step *s, const coord_exec_status *st, coord_failure *f)
{
    coord_failure x = {.reason = st->reason,
                       .attempt = s->attempt,
                       .max_attempts = s->max_attempts,
                       .exit_code = st->exit_code,
                       .term_signal = st->term_signal,
                       .permanent = st->permanent,
                       .peak_rss_kb = st->peak_rss_kb,
                       .cpu_ms = st->user_cpu_ms + st->sys_cpu_ms,
                       .detail = st->message,
                       .tail = st->stderr_tail,
                       .suggestion = st->suggestion};
    acms_retry_resolve(s->cfg, r->env, &x.policy);
    if (s->nattempts >= 2) {
        const coord_attempt *prev = &s->attempts[s->nattempts - 2];
        x.has_prev = prev->attempt + 1 == s->attempt;
        x.prev_reason = prev->reason;
        x.prev_exit_code = prev->exit_code;
        x.prev_term_signal = prev->term_signal;
        x.prev_tail = prev->stderr_tail;
    }
    *f = x;
}

/* An attempt ended: its output's tail, handle and reservation go; it is counted by reason. */
static void close_attempt(coord_ctx *c, coord_run *r, coord_step *s, const coord_exec_status *st)
{
    if (s->proc) {
        coord_logs_record(c, r, s, 1); /* the output's tail is queued before the handle (and Pod) goes */
        coord_exec_free(s->proc);
        s->proc = NULL;
    }
    if (s->reserved) {
        coord_admission_release_step(r, s);
        s->reserved = 0;
    }
    char labels[64];
    snprintf(labels, sizeof labels, "reason=\"%s\"", coord_reason_name(st->reason));
    count(c, "acms_coord_attempts_total", labels, "Step attempts by exit reason");
    if (acms_service_metrics(c->svc))
        acms_metrics_observe_long(acms_service_metrics(c->svc), "acms_coord_step_duration_seconds", labels,
                                  "Wall time of step attempts by exit reason", (double)st->wall_ms / 1000.0);
}

static void attempt_succeeded(coord_run *r, coord_step *s, const coord_exec_status *st, coord_attempt *at,
                              const char *salt)
{
    s->state = COORD_STEP_SUCCEEDED;
    snprintf(at->cause, sizeof at->cause, "exited with code 0");
    if (st->peak_unmeasured && !at->peak_rss_kb)
        coord_fmt(s->message, sizeof s->message, "succeeded on attempt %u (wall %.1f s, peak memory not measured)",
                  s->attempt, (double)at->wall_ms / 1000.0);
    else
        coord_fmt(s->message, sizeof s->message, "succeeded on attempt %u (wall %.1f s, peak %llu MiB)", s->attempt,
                  (double)at->wall_ms / 1000.0, (unsigned long long)(at->peak_rss_kb / 1024));
    record(r, s, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_FINISHED, salt);
    acms_log_info(r->id, NULL, "step %s attempt %u succeeded in %llu ms", s->cfg->name, s->attempt,
                  (unsigned long long)at->wall_ms);
}

/* A failed attempt: recovery decides between a retry (RETRY at not_before, with its resources),
 * the end of the step (FAILED, its dependents skipped) or CANCELLED when the run is. */
static void attempt_failed(coord_ctx *c, coord_run *r, coord_step *s, const coord_exec_status *st, coord_attempt *at,
                           const char *salt, int64_t now)
{
    coord_failure f;
    failure_of(r, s, st, &f);
    coord_recovery_env renv;
    recovery_env(c, r, &renv);
    coord_decision d;
    coord_recovery_decide(&renv, &s->res, &f, coord_rand(c), &d);
    coord_fmt(at->cause, sizeof at->cause, "%s", d.cause);
    coord_fmt(at->stderr_tail, sizeof at->stderr_tail, "%s", st->stderr_tail);
    if (r->cancel) {
        s->state = COORD_STEP_CANCELLED;
        coord_fmt(at->recovery, sizeof at->recovery, "no retry: the run was cancelled");
    } else if (d.retry && !r->failing) {
        coord_res old = s->res;
        s->state = COORD_STEP_RETRY;
        s->res = d.next;
        s->not_before = now + d.backoff_ms;
        coord_fmt(at->recovery, sizeof at->recovery, "%s", d.recovery);
        log_recovery(r, s, &old, d.recovery);
    } else {
        s->state = COORD_STEP_FAILED;
        coord_fmt(at->recovery, sizeof at->recovery, "%s",
                  d.retry ? "no retry: the run failed because of another step" : d.recovery);
        coord_fmt(s->suggestion, sizeof s->suggestion, "%s", d.suggestion);
    }
    coord_fmt(s->message, sizeof s->message, "attempt %u %s: %s; %s", s->attempt, coord_reason_name(st->reason),
              at->cause, at->recovery);
    record(r, s, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_FINISHED, salt);
    acms_log_info(r->id, NULL, "step %s: %s", s->cfg->name, s->message);
    if (s->state == COORD_STEP_FAILED)
        after_failure(r, s);
}

/* An attempt ended (st->done): record it, decide what follows. */
static void attempt_done(coord_ctx *c, coord_run *r, coord_step *s, const coord_exec_status *st, int64_t now)
{
    coord_attempt *grown = realloc(s->attempts, (s->nattempts + 1) * sizeof *s->attempts);
    if (!grown) {
        acms_log_error(r->id, NULL, "out of memory recording step %s: retried next tick", s->cfg->name);
        return;
    }
    s->attempts = grown;
    coord_attempt *at = &s->attempts[s->nattempts++];
    attempt_of(s, st, at);
    s->finished_ms = at->finished_ms;
    close_attempt(c, r, s, st);
    char salt[COORD_MAX_ID + 32];
    snprintf(salt, sizeof salt, "%s/%u/finished", s->cfg->name, s->attempt);
    if (st->reason == ACMS__V1__EXIT_REASON__EXIT_REASON_OK)
        attempt_succeeded(r, s, st, at, salt);
    else
        attempt_failed(c, r, s, st, at, salt, now);
}

/* The executor's request for the current attempt of s. */
static void exec_req(coord_ctx *c, const coord_run *r, const coord_step *s, coord_exec_req *req)
{
    const Acms__V1__Step *cfg = s->cfg;
    coord_exec_req q = {
        .run_id = r->id,
        .step = cfg->name,
        .attempt = s->attempt,
        .argv = cfg->command,
        .argc = cfg->n_command,
        .env = cfg->env,
        .nenv = cfg->n_env,
        .output_path = cfg->output_path,
        .workdir = cfg->workdir,
        .work_root = c->work_root,
        .res = s->res,
        .secrets = &c->secrets,
        .secret_scopes = r->env->secret_scopes,
        .nsecret_scopes = r->env->n_secret_scopes,
        .executor = cfg->executor && *cfg->executor ? cfg->executor : r->env->executor,
        .worker_url = r->env->worker_url,
        .worker_auth = &c->worker_auth,
        .wake_fd = c->wake_fd,
        .cfg = cfg,
        .env_profile = r->env,
        .pipeline = r->pipeline,
        .k8s = &c->k8s,
        .tail_cap = c->tail_cap,
        .sandbox = &c->sandbox,
        .volume_size_gb = cfg->volume_size_gb,
        .network_isolated = cfg->vpc_config && cfg->vpc_config->network_isolation,
        .require_isolation = r->env->require_network_isolation,
        .encrypt_volume = cfg->encrypt_volume,
        .interruptible = cfg->interruptible,
        .gpus = cfg->resources ? cfg->resources->gpus : 0,
    };
    *req = q;
}

/* A step marked running in Redis by a dead owner (found when resuming): the backend takes its
 * attempt over when it can (a Pod), else that attempt is LOST. */
static void lost_attempt(coord_ctx *c, coord_run *r, coord_step *s, int64_t now)
{
    coord_exec_req req;
    exec_req(c, r, s, &req);
    if ((s->proc = coord_exec_adopt(&req))) {
        memset(&s->live, 0, sizeof s->live);
        s->logged_total = 0;
        s->next_heartbeat = now + COORD_HEARTBEAT_MS;
        acms_log_info(r->id, NULL, "step %s attempt %u adopted (%s)", s->cfg->name, s->attempt, coord_exec_id(s->proc));
        return;
    }
    const char *exec = s->cfg->executor && *s->cfg->executor ? s->cfg->executor : r->env->executor;
    if (exec && !strcmp(exec, "http") && s->worker_id[0])
        coord_http_delete(r->env->worker_url, &c->worker_auth, s->worker_id);
    coord_exec_status st;
    memset(&st, 0, sizeof st);
    st.done = 1;
    st.reason = ACMS__V1__EXIT_REASON__EXIT_REASON_LOST;
    snprintf(st.message, sizeof st.message, "its coordinator stopped while it ran");
    if (s->attempt_started_ms && acms_now_ms() > s->attempt_started_ms)
        st.wall_ms = (uint64_t)(acms_now_ms() - s->attempt_started_ms);
    attempt_done(c, r, s, &st, now);
}

/* Starts the attempt of s that coord_store_claim_many has just claimed (adapted: its description). */
static void start_step(coord_ctx *c, coord_run *r, coord_step *s, const char *adapted, int64_t now)
{
    int64_t wall = acms_now_ms();
    s->state = COORD_STEP_RUNNING;
    s->attempt_started_ms = wall;
    if (!s->started_ms)
        s->started_ms = wall;
    s->cancel_sent = 0;
    s->logged_total = 0;
    s->worker_id[0] = '\0';
    s->live_note[0] = '\0';
    memset(&s->live, 0, sizeof s->live);
    coord_fmt(s->message, sizeof s->message, "attempt %u of %u started%s%s", s->attempt, s->max_attempts,
              adapted[0] ? "; runtime adaptation applied: " : "", adapted);
    const Acms__V1__Step *cfg = s->cfg;
    coord_exec_req req;
    exec_req(c, r, s, &req);
    s->proc = coord_exec_start(&req);
    s->next_heartbeat = now + COORD_HEARTBEAT_MS;
    char salt[COORD_MAX_ID + 32];
    snprintf(salt, sizeof salt, "%s/%u/started", cfg->name, s->attempt);
    publish_step(r, s, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_STARTED, salt);
    if (s->proc && req.executor && !strcmp(req.executor, "http") && *coord_exec_id(s->proc)) {
        coord_fmt(s->worker_id, sizeof s->worker_id, "%s", coord_exec_id(s->proc));
        const char *kv[] = {"worker_id", s->worker_id};
        coord_opq_step_set(&r->q, r->id, cfg->name, kv, 2);
    }
    acms_log_info(r->id, NULL, "step %s attempt %u started (%s, memory %llu MiB, max_runtime_s %u)%s%s", cfg->name,
                  s->attempt, s->proc ? coord_exec_id(s->proc) : "no handle", (unsigned long long)s->res.memory_mb,
                  s->res.max_runtime_s, adapted[0] ? ", adapted: " : "", adapted);
    if (!s->proc) {
        coord_exec_status st;
        memset(&st, 0, sizeof st);
        st.done = 1;
        st.reason = ACMS__V1__EXIT_REASON__EXIT_REASON_SPAWN_FAILED;
        snprintf(st.message, sizeof st.message, "out of memory starting the attempt");
        attempt_done(c, r, s, &st, now);
    }
}

/* Keeps, of the n steps, those the environment's capacity admits now (all of them without step
 * quotas); the others wait, told once. Returns the count kept (compacted in place). */
static size_t reserve(coord_ctx *c, coord_run *r, coord_step **steps, size_t n)
{
    const Acms__V1__Quotas *q = r->env->quotas;
    int granted[64];
    uint64_t inst = 0, mb = 0;
    if (!q || !(q->max_total_instances || q->max_memory_mb) || !n)
        return n;
    int rc = coord_admission_steps(acms_service_redis(c->svc), r, steps, n, granted, &inst, &mb);
    if (rc == ACMS_ERR_NOTFOUND) {
        acms_log_warn(r->id, NULL, "the run's slot in environment %s expired: admission again before new steps",
                      r->environment);
        r->admitted = 0;
    }
    if (rc != ACMS_OK)
        return 0;
    size_t kept = 0;
    for (size_t k = 0; k < n; k++) {
        coord_step *s = steps[k];
        if (granted[k]) {
            s->reserved = 1;
            s->waiting_capacity = 0;
            steps[kept++] = s;
        } else if (!s->waiting_capacity) {
            s->waiting_capacity = 1;
            coord_fmt(s->message, sizeof s->message,
                      "waiting for capacity: environment %s has %llu of %u instances and %llu of %llu MiB in use",
                      r->environment, (unsigned long long)inst, q->max_total_instances, (unsigned long long)mb,
                      (unsigned long long)q->max_memory_mb);
            const char *kv[] = {"message", s->message};
            coord_opq_step_set(&r->q, r->id, s->cfg->name, kv, 2);
            acms_log_info(r->id, NULL, "step %s %s", s->cfg->name, s->message);
        }
    }
    return kept;
}

/* Claims the ready steps (indices, n of them) the environment's capacity admits, in one round trip,
 * then starts those claimed, in order. A step whose claim was refused or not decided (Redis away)
 * waits for a later tick. */
static void start_ready(coord_ctx *c, coord_run *r, const size_t *ready, size_t n, int64_t now)
{
    enum { MAXB = 64 };
    coord_step *steps[MAXB];
    char buf[MAXB][256], *adapted[MAXB];
    if (n > MAXB)
        n = MAXB;
    for (size_t k = 0; k < n; k++) {
        steps[k] = &r->steps[ready[k]];
        adapted[k] = buf[k];
    }
    n = reserve(c, r, steps, n);
    if (!n)
        return;
    coord_store_claim_many(acms_service_redis(c->svc), r, steps, n, c->owner, adapted, sizeof buf[0]);
    for (size_t k = 0; k < n; k++) {
        if (steps[k]->claim == 1) {
            start_step(c, r, steps[k], adapted[k], now);
        } else if (steps[k]->reserved) {
            coord_admission_release_step(r, steps[k]);
            steps[k]->reserved = 0;
        }
    }
}

static void cancel_steps(coord_run *r, int64_t now)
{
    char salt[COORD_MAX_ID + 32];
    for (size_t i = 0; i < r->n; i++) {
        coord_step *s = &r->steps[i];
        if (s->state == COORD_STEP_RUNNING && s->proc && !s->cancel_sent) {
            coord_exec_cancel(s->proc, now);
            s->cancel_sent = 1;
        } else if (s->state == COORD_STEP_PENDING || s->state == COORD_STEP_RETRY) {
            snprintf(salt, sizeof salt, "%s/cancelled", s->cfg->name);
            skip_step(r, s, COORD_STEP_CANCELLED, salt,
                      s->state == COORD_STEP_PENDING ? "cancelled before it started"
                                                     : "cancelled while waiting to retry");
        }
    }
}

static void skip_blocked(coord_run *r)
{
    snapshot(r);
    size_t n = coord_plan_blocked(r->plan, r->st, r->scratch);
    char why[512], salt[COORD_MAX_ID + 32];
    for (size_t k = 0; k < n; k++) {
        coord_step *s = &r->steps[r->scratch[k]];
        const char *dep = "?";
        for (size_t m = 0; m < r->dag->ndeps[s->idx]; m++)
            if (r->steps[r->dag->deps[s->idx][m]].state != COORD_STEP_SUCCEEDED) {
                dep = r->steps[r->dag->deps[s->idx][m]].cfg->name;
                break;
            }
        coord_fmt(why, sizeof why, "dependency '%s' did not succeed", dep);
        snprintf(salt, sizeof salt, "%s/skipped", s->cfg->name);
        skip_step(r, s, COORD_STEP_SKIPPED, salt, why);
    }
}

/* First tick of a run in this process: announce it (again, after a resume: ids are derived). */
static void announce(coord_ctx *c, coord_run *r)
{
    acms_arena *a = acms_arena_new(0);
    Acms__V1__StepEvent *e = coord_report_run(a, r, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_RUN_STARTED, "running",
                                              r->resumed ? "resumed by a new owner" : "");
    char total[24];
    snprintf(total, sizeof total, "%zu", r->n);
    const char *kv[] = {"owner",        c->owner,      "pipeline", r->pipeline, "environment",
                        r->environment, "steps_total", total,      "sandbox",   c->sandbox.label};
    coord_opq_run_status(&r->q, r->id, "running", kv, sizeof kv / sizeof *kv);
    coord_opq_publish(&r->q, ACMS_TOPIC_EXEC_STEPS, r->id, a, &e->base);
    if (!r->resumed)
        return;
    char salt[COORD_MAX_ID + 32];
    for (size_t i = 0; i < r->n; i++) {
        coord_step *s = &r->steps[i];
        if (s->state == COORD_STEP_SUCCEEDED || s->state == COORD_STEP_RETRY ||
            (s->state == COORD_STEP_FAILED && s->nattempts && s->attempts[s->nattempts - 1].attempt == s->attempt)) {
            snprintf(salt, sizeof salt, "%s/%u/finished", s->cfg->name, s->attempt);
            publish_step(r, s, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_FINISHED, salt);
        } else if (s->state == COORD_STEP_SKIPPED || s->state == COORD_STEP_CANCELLED) {
            snprintf(salt, sizeof salt, "%s/%s", s->cfg->name,
                     s->state == COORD_STEP_SKIPPED ? "skipped" : "cancelled");
            publish_step(r, s, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_SKIPPED, salt);
        }
    }
    acms_log_info(r->id, NULL, "run resumed by %s", c->owner);
}

static void progress(coord_run *r)
{
    uint32_t done = 0;
    long inst = 0;
    for (size_t i = 0; i < r->n; i++) {
        done += coord_state_terminal(r->steps[i].state);
        if (r->steps[i].state == COORD_STEP_RUNNING)
            inst += r->steps[i].cfg->instance_count ? r->steps[i].cfg->instance_count : 1;
    }
    if (done != r->steps_done_reported) {
        char v[24];
        snprintf(v, sizeof v, "%u", done);
        const char *kv[] = {"steps_done", v};
        coord_opq_run_status(&r->q, r->id, "running", kv, 2);
        r->steps_done_reported = done;
    }
    if (inst != r->instances_reported) {
        char key[ACMS_KEY_MAX], v[24];
        acms_key_env_instances(key, sizeof key, r->environment);
        snprintf(v, sizeof v, "%ld", inst);
        const char *argv[] = {"HSET", key, r->id, v};
        coord_opq_cmd(&r->q, 4, argv);
        r->instances_reported = inst;
    }
}

/* Every step is terminal: queue the result, the terminal status and the clean-up. */
static int finish(coord_ctx *c, coord_run *r)
{
    acms_arena *a = acms_arena_new(0);
    Acms__V1__AdaptationRecord **recs = NULL;
    size_t nrecs = 0;
    if (coord_store_adaptations(acms_service_redis(c->svc), a, r->id, &recs, &nrecs) != ACMS_OK) {
        acms_arena_free(a);
        return ACMS_ERR_RETRY;
    }
    Acms__V1__ExecutionResult *res = coord_report_result(a, r, recs, nrecs);
    res->owner = acms_arena_strdup(a, c->owner);
    const char *status = coord_report_status(r);
    char analysis[1024];
    coord_fmt(analysis, sizeof analysis, "%s", res->failure_analysis);
    if (protobuf_c_message_get_packed_size(&res->base) > ACMS_MAX_MESSAGE_BYTES - 64 * 1024) {
        size_t size = coord_report_fit(a, res, ACMS_MAX_MESSAGE_BYTES - 64 * 1024);
        acms_log_warn(r->id, r->cause_id, "execution result trimmed to %zu bytes to fit the message limit", size);
    }
    char fin[24], done[24], reason[1024];
    snprintf(fin, sizeof fin, "%lld", (long long)res->finished_ms);
    snprintf(done, sizeof done, "%zu", r->n);
    coord_fmt(reason, sizeof reason, "%s", analysis);
    char *summary = coord_summary_json(r); /* what stays once the run is compacted (retention.h) */
    const char *kv[] = {"finished_ms", fin,  "success", res->success ? "1" : "0", "reason", reason,
                        "steps_done",  done, "summary", summary ? summary : "{}"};
    coord_opq_publish(&r->q, ACMS_TOPIC_EXEC_RESULTS, r->id, a, &res->base);
    acms_arena *b = acms_arena_new(0);
    Acms__V1__StepEvent *e = coord_report_run(b, r, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_RUN_FINISHED, status,
                                              reason);
    coord_opq_publish(&r->q, ACMS_TOPIC_EXEC_STEPS, r->id, b, &e->base);
    coord_opq_flush_bus(&r->q); /* the result is acknowledged before the run leaves the active set */
    coord_opq_run_status(&r->q, r->id, status, kv, sizeof kv / sizeof *kv); /* sets the run's expiry */
    cJSON_free(summary);
    char key[ACMS_KEY_MAX];
    acms_key_env_instances(key, sizeof key, r->environment);
    const char *hdel[] = {"HDEL", key, r->id};
    const char *srem[] = {"SREM", ACMS_KEY_RUNS_ACTIVE, r->id};
    coord_opq_cmd(&r->q, 3, hdel);
    coord_opq_cmd(&r->q, 3, srem);
    if (coord_admission_needed(r->env))
        coord_admission_release_run(r);
    coord_opq_lease_release(&r->q, r->id, c->owner);
    coord_exec_run_done(c->k8s, r->id, r->env);
    r->finishing = 1;
    char labels[64];
    snprintf(labels, sizeof labels, "status=\"%s\"", status);
    count(c, "acms_coord_runs_finished_total", labels, "Runs finished by status");
    acms_log_info(r->id, r->cause_id, "run %s: %s", status, reason[0] ? reason : "every step succeeded");
    return ACMS_OK;
}

/* A run waiting for its environment's slot: asks every COORD_ADMIT_POLL_MS; while queued, its status
 * says so with the reason, and its place in line whenever that changes. */
static void admit(coord_ctx *c, coord_run *r, int64_t now)
{
    coord_admission ad;
    r->next_admit = now + COORD_ADMIT_POLL_MS;
    if (coord_admission_run(acms_service_redis(c->svc), r, COORD_ADMIT_LEASE_MS, &ad) != ACMS_OK)
        return;
    if (ad.admitted) {
        r->admitted = 1;
        if (r->queue_position)
            acms_log_info(r->id, NULL, "admitted in environment %s (%u run(s) active)", r->environment, ad.active);
        return;
    }
    if (ad.position == r->queue_position)
        return;
    char why[256], pos[16];
    const Acms__V1__Quotas *q = r->env->quotas;
    coord_fmt(why, sizeof why, "waiting for a run slot: environment %s allows max_active_runs %u and %u are active",
              r->environment, q ? q->max_active_runs : 0, ad.active);
    snprintf(pos, sizeof pos, "%u", ad.position);
    const char *kv[] = {"queue_reason", why, "queue_position", pos, "owner", c->owner};
    coord_opq_run_status(&r->q, r->id, "queued", kv, 6);
    if (!r->queue_position)
        acms_log_info(r->id, NULL, "queued at position %u: %s", ad.position, why);
    r->queue_position = ad.position;
}

/* Every second: the cancel key and the steps with an in-place adaptation pending, in one round trip. */
static void check_controls(coord_ctx *c, coord_run *r, int64_t now)
{
    acms_redis *rd = acms_service_redis(c->svc);
    r->next_cancel_check = now + COORD_CANCEL_CHECK_MS;
    char key[ACMS_KEY_MAX];
    acms_redis_append(rd, "GET %s", acms_key_run_part(key, sizeof key, r->id, "cancel"));
    acms_redis_append(rd, "SMEMBERS %s", acms_key_run_part(key, sizeof key, r->id, "live"));
    redisReply *rep[2] = {0};
    if (acms_redis_exec(rd, rep, 2) != ACMS_OK)
        return;
    if (rep[0]->type == REDIS_REPLY_STRING) {
        r->cancel = 1;
        coord_fmt(r->cancel_reason, sizeof r->cancel_reason, "%s",
                  strcmp(rep[0]->str, "1") ? rep[0]->str : "cancel requested");
        acms_log_info(r->id, NULL, "cancellation requested: %s", r->cancel_reason);
    }
    if (!r->cancel && coord_live_apply(c, r, rep[1]) != ACMS_OK)
        r->next_cancel_check = now; /* Redis went away midway: the rest on the next tick */
    freeReplyObject(rep[0]);
    freeReplyObject(rep[1]);
}

/* After our lease expired: take it again only if nobody else holds it and no other replica has
 * resumed the run since (a replica that resumes a run writes itself as owner before it starts
 * anything) and the run is still active. Otherwise the lease, if we took it, is given back. */
static int still_ours(coord_ctx *c, coord_run *r)
{
    acms_redis *rd = acms_service_redis(c->svc);
    if (coord_lease_acquire(rd, r->id, c->owner, c->lease_ttl_ms) != 1)
        return 0;
    char key[ACMS_KEY_MAX];
    redisReply *owner = acms_redis_cmd(rd, "HGET %s owner", acms_key_run(key, sizeof key, r->id));
    redisReply *active = acms_redis_cmd(rd, "SISMEMBER %s %s", ACMS_KEY_RUNS_ACTIVE, r->id);
    int ours = owner && active && owner->type == REDIS_REPLY_STRING && !strcmp(owner->str, c->owner) &&
               acms_redis_int(active, 0) == 1;
    if (owner)
        freeReplyObject(owner);
    if (active)
        freeReplyObject(active);
    if (!ours)
        coord_lease_release(rd, r->id, c->owner);
    return ours;
}

/* Renews the run's lease (and its slot in the environment). 0, or 1 when the lease is lost to
 * another coordinator: the run is then dropped here without writes. */
static int renew(coord_ctx *c, coord_run *r, int64_t now)
{
    acms_redis *rd = acms_service_redis(c->svc);
    int lr = coord_lease_renew(rd, r->id, c->owner, c->lease_ttl_ms);
    if (lr == 0 && still_ours(c, r)) {
        acms_log_warn(r->id, NULL, "lease had expired (Redis unreachable?); re-acquired: no other owner took the run");
        lr = 1;
    }
    if (lr == 0) {
        acms_log_warn(r->id, NULL, "lease lost to another coordinator: dropping the run here");
        r->lost = 1;
        coord_run_abandon(r);
        coord_opq_clear(&r->q);
        return 1;
    }
    r->next_renew = now + (lr == 1 ? COORD_RENEW_MS : 250);
    if (lr == 1)
        r->lease_ok_ms = now;
    if (lr == 1 && r->admitted && coord_admission_needed(r->env) &&
        coord_admission_renew(rd, r, COORD_ADMIT_LEASE_MS) == 0) {
        acms_log_warn(r->id, NULL, "the run's slot in environment %s expired: admission again before new steps",
                      r->environment);
        r->admitted = 0;
    }
    return 0;
}

/* Polls the running attempts: records the ended ones, sends heartbeats and runtime notes. Runs even
 * when fenced (limits stay enforced); the records wait in the queue. */
static void poll_running(coord_ctx *c, coord_run *r, int64_t now)
{
    for (size_t i = 0; i < r->n; i++) {
        coord_step *s = &r->steps[i];
        if (s->state != COORD_STEP_RUNNING)
            continue;
        if (!s->proc) {
            lost_attempt(c, r, s, now);
            continue;
        }
        coord_exec_status st;
        if (coord_exec_poll(s->proc, now, &st)) {
            attempt_done(c, r, s, &st, now);
            continue;
        }
        s->live = st;
        if (st.note[0])
            coord_logs_note(r, s, st.note);
        if (now >= s->next_heartbeat) {
            s->next_heartbeat = now + COORD_HEARTBEAT_MS;
            heartbeat(c, r, s);
            coord_logs_record(c, r, s, 0);
        }
    }
}

int coord_run_tick(coord_ctx *c, coord_run *r, int64_t now)
{
    acms_service *svc = c->svc;
    if (now >= r->next_renew && renew(c, r, now))
        return 1;
    /* Without a confirmed lease for most of its ttl, another replica may take over: write nothing. */
    int fenced = now - r->lease_ok_ms > c->lease_ttl_ms - COORD_RENEW_MS;
    if (!r->admitted && !fenced && !r->finishing && now >= r->next_admit)
        admit(c, r, now);
    if (r->admitted && !r->announced && !fenced) {
        announce(c, r);
        r->announced = 1;
    }
    int backlog = fenced || coord_opq_drain(&r->q, svc, r->id) != ACMS_OK;
    if (r->finishing)
        return !backlog;

    if (!r->cancel && now >= r->next_cancel_check)
        check_controls(c, r, now);
    if (r->cancel)
        cancel_steps(r, now);

    poll_running(c, r, now);
    skip_blocked(r);
    if (!backlog && r->admitted && !r->cancel && !r->failing && !c->draining && !acms_service_stopping(svc)) {
        snapshot(r);
        size_t n = coord_plan_ready(r->plan, r->st, r->not_before, now, r->scratch, r->n);
        size_t *ready = n ? malloc(n * sizeof *ready) : NULL;
        if (ready) {
            memcpy(ready, r->scratch, n * sizeof *ready);
            start_ready(c, r, ready, n, now);
            free(ready);
        }
    }
    if (r->announced)
        progress(r); /* a queued run says "queued" until it is admitted */
    /* This tick's records and events go out now, while the steps it started run. */
    if (!fenced && r->q.n)
        coord_opq_drain(&r->q, svc, r->id);
    for (size_t i = 0; i < r->n; i++)
        if (!coord_state_terminal(r->steps[i].state))
            return 0;
    if (finish(c, r) != ACMS_OK)
        return 0;
    return !fenced && coord_opq_drain(&r->q, svc, r->id) == ACMS_OK;
}
