/* exec_kubernetes.c: the kubernetes executor. One attempt = one Pod (k8s_pod.c builds it from
 * the adapted step and the environment's kubernetes settings), created, watched, read and deleted
 * by the worker threads of k8s_watch.c / k8s_ops.c; this file only fills and reads the attempt's
 * slot under the mutex, so no call here waits on the API server. Secret references are resolved
 * here (the last moment) into the ephemeral Secret's body only; secret://k8s/ references become
 * secretKeyRefs to the existing Secret. An attempt ends once its outcome and its log are in: the
 * handle is freed after the coordinator recorded both, and the Pod is deleted pod_ttl_s later. */
#include "exec_backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redact.h"
#include "k8s_watch.h"

#define SECRET_MAX 65536
#define BACKSTOP_MS 60000 /* past max_runtime_s + grace: the coordinator deletes the Pod itself */

struct coord_k8s {
    k8s_exec *x;
    k8s_slot *slot; /* owned by x, ours until detached */
    char id[K8S_NAME_MAX + 300];
    char image[512];
    int64_t start_mono;
    uint32_t max_runtime_s;
    int grace_s, ttl_s;
    int cancelled, adopting, done, timed_out, resize_reported;
    uint64_t resize_mib;
    k8s_verdict verdict;
    coord_exec_status live, final;
};

static const Acms__V1__KubernetesSettings *settings(const coord_exec_req *req)
{
    return req->env_profile ? req->env_profile->kubernetes : NULL;
}

static const char *nsof(const coord_exec_req *req, const k8s_exec *x)
{
    const Acms__V1__KubernetesSettings *ks = settings(req);
    return ks && ks->namespace_ && *ks->namespace_ ? ks->namespace_ : x->conn.ns;
}

static k8s_exec *shared(const coord_exec_req *req, char *err, size_t errsz)
{
    if (!req->k8s) {
        coord_fmt(err, errsz, "the kubernetes executor is not available here");
        return NULL;
    }
    if (!*req->k8s)
        *req->k8s = k8s_exec_new(req->tail_cap ? req->tail_cap : COORD_TAIL_CAP, err, errsz);
    return *req->k8s;
}

static coord_k8s *failed(coord_k8s *k, coord_exec_status *st, Acms__V1__ExitReason reason, int permanent,
                         const char *msg, const char *suggestion)
{
    k->done = 1;
    k->final.done = 1;
    k->final.reason = reason;
    k->final.permanent = permanent;
    k->final.exit_code = -1;
    k->final.peak_unmeasured = 1;
    coord_fmt(k->final.message, sizeof k->final.message, "%s", msg);
    coord_fmt(k->final.suggestion, sizeof k->final.suggestion, "%s", suggestion ? suggestion : "");
    *st = k->final;
    return k;
}

/* --- the Pod's environment --------------------------------------------------------------------- */

typedef struct pod_env {
    k8s_env *v;
    size_t n;
    char **keys, **values; /* the ephemeral Secret's entries (values wiped at free) */
    size_t nsec;
    char *strings; /* backing store of numbers and secret names */
} pod_env;

static void pod_env_free(pod_env *e)
{
    for (size_t i = 0; i < e->nsec; i++) {
        if (e->values[i]) {
            explicit_bzero(e->values[i], strlen(e->values[i]));
            free(e->values[i]);
        }
        free(e->keys[i]);
    }
    for (size_t i = 0; i < e->n; i++) {
        free((char *)e->v[i].secret_name);
        free((char *)e->v[i].secret_key);
    }
    free(e->keys);
    free(e->values);
    free(e->v);
    memset(e, 0, sizeof *e);
}

/* One step variable into e: plain, secret://k8s/ (existing Secret) or resolved into the ephemeral
 * Secret under key k<i>. ACMS_OK, or an error with err naming the variable (never a value). */
static int add_var(const coord_exec_req *req, const char *pod, const Acms__V1__EnvVar *v, pod_env *e, char *secret,
                   char *err, size_t errsz, int *transient)
{
    k8s_env *o = &e->v[e->n];
    char sname[256], skey[256];
    o->name = v->name;
    const char *value = v->value ? v->value : "";
    if (!acms_secret_is_ref(value)) {
        o->value = value;
        e->n++;
        return ACMS_OK;
    }
    if (k8s_secret_ref(value, sname, sizeof sname, skey, sizeof skey)) {
        o->secret_name = strdup(sname);
        o->secret_key = strdup(skey);
        e->n++;
        return o->secret_name && o->secret_key ? ACMS_OK : ACMS_ERR_NOMEM;
    }
    char rerr[256] = "";
    int rc = coord_secret_resolve(req, value, secret, SECRET_MAX, rerr, sizeof rerr);
    if (rc == ACMS_OK && coord_redact_add(req->redact, secret))
        rc = ACMS_ERR_NOMEM;
    if (rc != ACMS_OK) {
        explicit_bzero(secret, SECRET_MAX);
        *transient = rc == ACMS_ERR_RETRY;
        coord_fmt(err, errsz, "env %s: secret reference not resolved: %s", v->name, rerr[0] ? rerr : acms_strerror(rc));
        return rc;
    }
    char key[32];
    coord_fmt(key, sizeof key, "k%zu", e->nsec);
    e->keys[e->nsec] = strdup(key);
    e->values[e->nsec] = strdup(secret);
    explicit_bzero(secret, strnlen(secret, SECRET_MAX));
    o->secret_name = strdup(pod);
    o->secret_key = strdup(key);
    e->nsec++;
    e->n++;
    return e->keys[e->nsec - 1] && e->values[e->nsec - 1] && o->secret_name && o->secret_key ? ACMS_OK : ACMS_ERR_NOMEM;
}

static int build_env(const coord_exec_req *req, const char *pod, pod_env *e, char nums[2][32], char *err, size_t errsz,
                     int *transient)
{
    size_t cap = req->nenv + 5;
    char *secret = malloc(SECRET_MAX);
    e->v = calloc(cap, sizeof *e->v);
    e->keys = calloc(cap, sizeof *e->keys);
    e->values = calloc(cap, sizeof *e->values);
    int rc = secret && e->v && e->keys && e->values ? ACMS_OK : ACMS_ERR_NOMEM;
    for (size_t i = 0; rc == ACMS_OK && i < req->nenv; i++) {
        const Acms__V1__EnvVar *v = req->env[i];
        if (!v || !v->name || !*v->name || strchr(v->name, '=')) {
            coord_fmt(err, errsz, "env[%zu]: invalid variable name", i);
            rc = ACMS_ERR_INVALID;
        } else if (strncmp(v->name, "ACMS_", 5)) {
            rc = add_var(req, pod, v, e, secret, err, errsz, transient);
        }
    }
    if (secret) {
        explicit_bzero(secret, SECRET_MAX);
        free(secret);
    }
    if (rc == ACMS_ERR_NOMEM) {
        coord_fmt(err, errsz, "out of memory building the environment");
        *transient = 1;
    }
    if (rc != ACMS_OK)
        return rc;
    coord_fmt(nums[0], 32, "%u", req->attempt);
    const char *fixed[][2] = {{"ACMS_RUN_ID", req->run_id ? req->run_id : ""},
                              {"ACMS_STEP", req->step},
                              {"ACMS_ATTEMPT", nums[0]},
                              {"ACMS_STEP_DIR", K8S_WORK_DIR},
                              {"ACMS_OUTPUT_PATH", req->output_path ? req->output_path : ""}};
    for (size_t i = 0; i < 5; i++) {
        if (i == 4 && !fixed[i][1][0])
            break;
        e->v[e->n].name = fixed[i][0];
        e->v[e->n++].value = fixed[i][1];
    }
    return ACMS_OK;
}

/* --- start ------------------------------------------------------------------------------------- */

static void pod_in(const coord_exec_req *req, const char *name, const char *ns, const char *image, pod_env *e,
                   k8s_pod_in *in)
{
    const Acms__V1__Step *s = req->cfg;
    memset(in, 0, sizeof *in);
    in->name = name;
    in->ns = ns;
    in->run_id = req->run_id;
    in->step = req->step;
    in->pipeline = req->pipeline;
    in->attempt = req->attempt;
    in->image = image;
    in->command = req->argv;
    in->ncommand = req->argc;
    in->env = e->v;
    in->nenv = e->n;
    in->memory_mb = req->res.memory_mb;
    in->vcpu = req->res.vcpu;
    in->gpus = s && s->resources ? s->resources->gpus : 0;
    in->volume_gb = s ? s->volume_size_gb : 0;
    in->max_runtime_s = req->res.max_runtime_s;
    in->instance_type = req->res.instance_type;
    in->interruptible = s && s->interruptible && req->env_profile && req->env_profile->allow_interruptible;
    in->network_isolated = (s && s->vpc_config && s->vpc_config->network_isolation) ||
                           (req->env_profile && req->env_profile->require_network_isolation);
    in->ks = settings(req);
}

static coord_k8s *handle_new(const coord_exec_req *req, coord_exec_status *st)
{
    memset(st, 0, sizeof *st);
    coord_k8s *k = calloc(1, sizeof *k);
    if (!k) {
        coord_fmt(st->message, sizeof st->message, "out of memory");
        return NULL;
    }
    const Acms__V1__KubernetesSettings *ks = settings(req);
    const char *image = req->cfg && req->cfg->image && *req->cfg->image ? req->cfg->image
                        : ks && ks->default_image                       ? ks->default_image
                                                                        : "";
    coord_fmt(k->image, sizeof k->image, "%s", image);
    k->start_mono = acms_mono_ms();
    k->max_runtime_s = req->res.max_runtime_s;
    k->grace_s = ks && ks->termination_grace_s ? (int)ks->termination_grace_s : 30;
    k->ttl_s = ks ? (int)ks->pod_ttl_s : 0;
    return k;
}

/* Fills the slot's create request. Under x->mu. */
static void request_create(k8s_exec *x, k8s_slot *s, char *pod, char *secret, char *policy, const char *run_id)
{
    s->pod_json = pod;
    s->secret_json = secret;
    s->policy_json = policy;
    coord_fmt(s->run_id, sizeof s->run_id, "%s", run_id ? run_id : "");
    s->create = K8S_REQ_WANTED;
    s->next_log_mono = x->log_poll_s > 0 ? acms_mono_ms() + (int64_t)x->log_poll_s * 1000 : 0;
    k8s_exec_kick(x);
}

coord_k8s *coord_k8s_start(const coord_exec_req *req, coord_exec_status *st)
{
    char err[512] = "", name[K8S_NAME_MAX];
    coord_k8s *k = handle_new(req, st);
    if (!k)
        return NULL;
    k8s_exec *x = shared(req, err, sizeof err);
    if (!x)
        return failed(k, st, ACMS__V1__EXIT_REASON__EXIT_REASON_UNREACHABLE, 0, err,
                      "configure the coordinator's access to the API server (docs/kubernetes.md)");
    k->x = x;
    if (!k->image[0])
        return failed(k, st, ACMS__V1__EXIT_REASON__EXIT_REASON_SPAWN_FAILED, 1, "the step has no image",
                      "set the step's image or the environment's kubernetes.default_image");
    const char *ns = nsof(req, x);
    k8s_pod_name(req->run_id, req->step, req->attempt, name);
    coord_fmt(k->id, sizeof k->id, "pod:%s/%s", ns, name);
    pod_env e = {0};
    char nums[2][32];
    int transient = 0;
    if (build_env(req, name, &e, nums, err, sizeof err, &transient) != ACMS_OK) {
        pod_env_free(&e);
        return failed(k, st, ACMS__V1__EXIT_REASON__EXIT_REASON_SPAWN_FAILED, !transient, err, NULL);
    }
    k8s_pod_in in;
    pod_in(req, name, ns, k->image, &e, &in);
    char *pod = k8s_pod_json(&in);
    char *secret = e.nsec ? k8s_secret_json(&in, K8S_UID_PLACEHOLDER, e.keys, e.values, e.nsec) : NULL;
    char *policy = in.network_isolated ? k8s_policy_json(req->run_id, ns, in.ks) : NULL;
    int nomem = !pod || (e.nsec && !secret) || (in.network_isolated && !policy);
    pod_env_free(&e);
    pthread_mutex_lock(&x->mu);
    k->slot = nomem ? NULL : k8s_slot_get(x, ns, name);
    if (k->slot)
        request_create(x, k->slot, pod, secret, policy, req->run_id);
    pthread_mutex_unlock(&x->mu);
    if (!k->slot) {
        free(pod);
        free(policy);
        if (secret) {
            explicit_bzero(secret, strlen(secret));
            free(secret);
        }
        return failed(k, st, ACMS__V1__EXIT_REASON__EXIT_REASON_SPAWN_FAILED, 0, "out of memory", NULL);
    }
    *st = k->live;
    return k;
}

coord_k8s *coord_k8s_adopt(const coord_exec_req *req, coord_exec_status *st)
{
    char err[512] = "", name[K8S_NAME_MAX];
    coord_k8s *k = handle_new(req, st);
    k8s_exec *x = k ? shared(req, err, sizeof err) : NULL;
    if (!x) {
        free(k);
        return NULL;
    }
    k->x = x;
    k->adopting = 1;
    const char *ns = nsof(req, x);
    k8s_pod_name(req->run_id, req->step, req->attempt, name);
    coord_fmt(k->id, sizeof k->id, "pod:%s/%s", ns, name);
    pthread_mutex_lock(&x->mu);
    k->slot = k8s_slot_get(x, ns, name);
    if (k->slot) {
        k->slot->get = K8S_REQ_WANTED;
        k->slot->detached = 0;
        coord_fmt(k->slot->run_id, sizeof k->slot->run_id, "%s", req->run_id ? req->run_id : "");
        k->slot->next_log_mono = x->log_poll_s > 0 ? acms_mono_ms() : 0;
        k8s_exec_kick(x);
    }
    pthread_mutex_unlock(&x->mu);
    if (!k->slot) {
        free(k);
        return NULL;
    }
    *st = k->live;
    return k;
}

/* --- poll -------------------------------------------------------------------------------------- */

/* The last lines of the log for a failure's stderr_tail (printable ASCII, at most 5 lines). */
static void log_tail(const k8s_slot *s, char *out, size_t size)
{
    size_t k = s->log_len;
    const char *b = s->log_buf;
    out[0] = '\0';
    if (!b)
        return;
    while (k > 0 && (b[k - 1] == '\n' || b[k - 1] == '\r'))
        k--;
    size_t start = k > COORD_TAIL_MAX ? k - COORD_TAIL_MAX : 0, lines = 0;
    for (size_t i = k; i-- > start;)
        if (b[i] == '\n' && ++lines == 5) {
            start = i + 1;
            break;
        }
    size_t o = 0;
    for (size_t i = start; i < k && o + 1 < size; i++) {
        unsigned char ch = (unsigned char)b[i];
        out[o++] = (ch == '\n' || ch == '\t' || (ch >= 0x20 && ch < 0x7f)) ? (char)ch : '?';
    }
    out[o] = '\0';
}

/* Under x->mu: the outcome is known; finish once the log is in. 1 when final. */
static int conclude(coord_k8s *k, k8s_slot *s, const k8s_verdict *v, int64_t now)
{
    if (s->log == K8S_REQ_NONE && !s->deleted && s->create == K8S_REQ_DONE) {
        s->log = K8S_REQ_WANTED;
        k8s_exec_kick(k->x);
    }
    if (s->log == K8S_REQ_WANTED)
        return 0;
    coord_exec_status *f = &k->final;
    *f = k->live;
    f->done = 1;
    f->rss_kb = 0;
    f->reason = v->reason;
    f->exit_code = v->exit_code;
    f->permanent = v->permanent;
    f->wall_ms = (uint64_t)(now - k->start_mono);
    f->peak_rss_kb = s->metrics == 1 ? s->peak_kib : 0;
    f->peak_unmeasured = s->metrics != 1;
    coord_fmt(f->message, sizeof f->message, "%s%s", v->message,
              s->log == K8S_REQ_FAILED ? " (its log could not be read)" : "");
    coord_fmt(f->suggestion, sizeof f->suggestion, "%s", v->suggestion);
    if (v->reason != ACMS__V1__EXIT_REASON__EXIT_REASON_OK)
        log_tail(s, f->stderr_tail, sizeof f->stderr_tail);
    if (v->permanent || k->timed_out) { /* a stuck Pod does not wait for its TTL */
        s->delete_at_mono = now;
        s->delete_grace_s = 0;
    }
    k->done = 1;
    return 1;
}

/* Under x->mu: the verdict of the slot as it stands. */
static void judge(coord_k8s *k, k8s_slot *s, int64_t now, k8s_verdict *v)
{
    memset(v, 0, sizeof *v);
    if (s->create == K8S_REQ_FAILED) {
        long st = s->create_status;
        v->done = 1;
        v->exit_code = -1;
        v->permanent = st >= 400 && st < 500 && st != 429 && st != 409;
        v->reason = v->permanent ? ACMS__V1__EXIT_REASON__EXIT_REASON_SPAWN_FAILED
                                 : ACMS__V1__EXIT_REASON__EXIT_REASON_UNREACHABLE;
        coord_fmt(v->message, sizeof v->message, "the API server did not create the Pod: %s", s->create_error);
        if (st == 403)
            coord_fmt(v->suggestion, sizeof v->suggestion,
                      "grant the coordinator's Role pods/secrets/networkpolicies create in namespace %s", s->ns);
        else if (v->permanent)
            coord_fmt(v->suggestion, sizeof v->suggestion,
                      "fix the step or the environment's kubernetes settings named in the API server's answer");
        return;
    }
    if (k->adopting && s->get == K8S_REQ_FAILED) {
        v->done = 1;
        v->exit_code = -1;
        v->reason = ACMS__V1__EXIT_REASON__EXIT_REASON_LOST;
        coord_fmt(v->message, sizeof v->message, "its coordinator stopped and no Pod of this attempt exists");
        return;
    }
    if (k->cancelled && (s->deleted || s->obs.gone)) {
        v->done = 1;
        v->exit_code = -1;
        v->reason = ACMS__V1__EXIT_REASON__EXIT_REASON_CANCELLED;
        coord_fmt(v->message, sizeof v->message, "cancelled: Pod deleted with a grace period of %d s", k->grace_s);
        return;
    }
    if (s->create != K8S_REQ_DONE || (k->adopting && s->get != K8S_REQ_DONE && !s->obs.present))
        return;
    k8s_verdict_of(&s->obs, now, k->x->config_grace_ms, k->image, v);
    if (!v->done && k->max_runtime_s &&
        now - k->start_mono > (int64_t)k->max_runtime_s * 1000 + k->grace_s * 1000 + BACKSTOP_MS) {
        k->timed_out = 1;
        v->done = 1;
        v->exit_code = -1;
        v->reason = ACMS__V1__EXIT_REASON__EXIT_REASON_TIME;
        coord_fmt(v->message, sizeof v->message,
                  "max_runtime_s %u exceeded (the Pod was not stopped by its "
                  "activeDeadlineSeconds: deleted by the coordinator)",
                  k->max_runtime_s);
    }
}

/* Under x->mu: the runtime resize's outcome, once, into st->note. */
static void resize_note(coord_k8s *k, k8s_slot *s, coord_exec_status *st)
{
    if (!k->resize_mib || k->resize_reported || s->resize == K8S_REQ_WANTED)
        return;
    k->resize_reported = 1;
    if (s->resize == K8S_REQ_DONE)
        coord_fmt(st->note, sizeof st->note, "memory resized in place to %llu MiB (pods/resize)",
                  (unsigned long long)k->resize_mib);
    else
        coord_fmt(st->note, sizeof st->note, "not resized in place (%.160s): %llu MiB applies to the next attempt",
                  s->resize_error, (unsigned long long)k->resize_mib);
}

int coord_k8s_poll(coord_k8s *k, int64_t now, coord_exec_status *st)
{
    if (k->done) {
        *st = k->final;
        return 1;
    }
    k8s_slot *s = k->slot;
    k8s_verdict v;
    pthread_mutex_lock(&k->x->mu);
    judge(k, s, now, &v);
    k->live.wall_ms = (uint64_t)(now - k->start_mono);
    k->live.peak_rss_kb = s->metrics == 1 ? s->peak_kib : 0;
    k->live.peak_unmeasured = s->metrics != 1;
    k->live.note[0] = '\0';
    resize_note(k, s, &k->live);
    if (v.done) {
        k->verdict = v;
        if (k->timed_out && !s->delete_at_mono) {
            s->delete_at_mono = now;
            s->delete_grace_s = k->grace_s;
        }
    }
    int fin = v.done && conclude(k, s, &v, now);
    pthread_mutex_unlock(&k->x->mu);
    *st = fin ? k->final : k->live;
    return fin;
}

void coord_k8s_cancel(coord_k8s *k, int64_t now)
{
    (void)now;
    if (k->done || k->cancelled || !k->slot)
        return;
    k->cancelled = 1;
    pthread_mutex_lock(&k->x->mu);
    k->slot->delete_at_mono = acms_mono_ms();
    k->slot->delete_grace_s = k->grace_s;
    k8s_exec_kick(k->x);
    pthread_mutex_unlock(&k->x->mu);
}

/* Lease lost or shutdown: the Pod keeps running; the next owner adopts it by name. */
void coord_k8s_abandon(coord_k8s *k)
{
    if (k->done)
        return;
    k->done = 1;
    k->final = k->live;
    k->final.done = 1;
    k->final.reason = ACMS__V1__EXIT_REASON__EXIT_REASON_LOST;
    coord_fmt(k->final.message, sizeof k->final.message, "left running for the next owner to adopt");
}

void coord_k8s_free(coord_k8s *k)
{
    if (!k)
        return;
    if (k->slot) {
        pthread_mutex_lock(&k->x->mu);
        k8s_slot *s = k->slot;
        /* a finished attempt (recorded by now) is deleted after the TTL; an abandoned one is left */
        if (k->done && k->final.reason != ACMS__V1__EXIT_REASON__EXIT_REASON_LOST && !s->delete_at_mono) {
            s->delete_at_mono = acms_mono_ms() + (int64_t)k->ttl_s * 1000;
            s->delete_grace_s = 0;
        } else if (!k->done) {
            coord_k8s_abandon(k);
        }
        s->detached = 1;
        k8s_exec_kick(k->x);
        pthread_mutex_unlock(&k->x->mu);
    }
    free(k);
}

const char *coord_k8s_id(const coord_k8s *k)
{
    return k->id;
}

int coord_k8s_resize(coord_k8s *k, uint64_t memory_mb)
{
    if (k->done || !k->slot || !memory_mb || memory_mb <= k->resize_mib)
        return 0; /* a raise only, above any resize already asked */
    pthread_mutex_lock(&k->x->mu);
    k->resize_mib = memory_mb;
    k->resize_reported = 0;
    k->slot->resize_mib = memory_mb;
    k->slot->resize = K8S_REQ_WANTED;
    k->slot->resize_error[0] = '\0';
    k8s_exec_kick(k->x);
    pthread_mutex_unlock(&k->x->mu);
    return 1;
}

int coord_k8s_tail(coord_k8s *k, char **out, size_t *len, uint64_t *total)
{
    *out = NULL;
    *len = 0;
    *total = 0;
    if (!k->slot)
        return -1;
    pthread_mutex_lock(&k->x->mu);
    k8s_slot *s = k->slot;
    if (s->log_buf && (*out = malloc(s->log_len + 1))) {
        memcpy(*out, s->log_buf, s->log_len + 1);
        *len = s->log_len;
        *total = s->log_total;
    }
    pthread_mutex_unlock(&k->x->mu);
    return *out ? 0 : -1;
}

void coord_k8s_run_done(k8s_exec *x, const char *run_id, const Acms__V1__Environment *env)
{
    char name[K8S_NAME_MAX];
    if (!x)
        return;
    const Acms__V1__KubernetesSettings *ks = env ? env->kubernetes : NULL;
    k8s_policy_name(run_id, name);
    pthread_mutex_lock(&x->mu);
    k8s_exec_delete_later(x, "networkpolicies", ks && ks->namespace_ && *ks->namespace_ ? ks->namespace_ : x->conn.ns,
                          name);
    pthread_mutex_unlock(&x->mu);
}
