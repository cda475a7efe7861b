/* k8s_ops.c: the kubernetes executor's request thread and the executor's lifetime. The thread
 * walks the slots for what they ask (create, get, delete, log, metrics, resize), makes one blocking
 * API call at a time with the mutex released, and writes the answer back under the mutex; it also
 * deletes orphans and frees detached slots whose Pod is gone. Nothing here runs on the
 * coordinator's loop. */
#include "k8s_watch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acms.h"
#include "log.h"

#define LOG_READ_MAX (8u * 1024 * 1024)
#define METRICS_PERIOD_MS 5000
#define ORPHAN_DEFAULT_S 600

static long env_long(const char *name, long dflt)
{
    const char *v = getenv(name);
    char *end;
    long x = v && *v ? strtol(v, &end, 10) : dflt;
    return v && *v && (*end || x < 0) ? dflt : x;
}

static void wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

/* s with every occurrence of from replaced by to (malloc'd), NULL when out of memory. */
static char *replace_all(const char *s, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), n = 0;
    for (const char *p = s; (p = strstr(p, from)); p += fl)
        n++;
    char *out = malloc(strlen(s) + n * (tl > fl ? tl - fl : 0) + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = s, *q;; p = q + fl) {
        q = strstr(p, from);
        size_t k = q ? (size_t)(q - p) : strlen(p);
        memcpy(o, p, k);
        o += k;
        if (!q)
            break;
        memcpy(o, to, tl);
        o += tl;
    }
    *o = '\0';
    return out;
}

/* --- create ------------------------------------------------------------------------------------ */

typedef struct create_job {
    char ns[254], name[K8S_NAME_MAX];
    char *pod, *secret, *policy;
} create_job;

static int post(k8s_exec *x, CURL *h, const char *path, const char *body, k8s_resp *r, char *err, size_t errsz)
{
    if (k8s_request(&x->conn, h, "POST", path, body, NULL, 0, r, err, errsz) < 0)
        return -1;
    if (r->status != 201 && r->status != 200 && r->status != 409)
        k8s_status_message(r, err, errsz);
    return 0;
}

/* Runs a create job. Returns 0 (pod created or already there: *pod_obj is its JSON), or the HTTP
 * status that failed (-1 transport) with err set. */
static long run_create(k8s_exec *x, CURL *h, create_job *j, cJSON **pod_obj, int *has_secret, char *err, size_t errsz)
{
    char path[600];
    k8s_resp r;
    *pod_obj = NULL;
    if (j->policy) {
        snprintf(path, sizeof path, "/apis/networking.k8s.io/v1/namespaces/%s/networkpolicies?fieldValidation=Strict",
                 j->ns);
        if (post(x, h, path, j->policy, &r, err, errsz) < 0)
            return -1;
        free(r.body);
        if (r.status != 201 && r.status != 200 && r.status != 409)
            return r.status;
    }
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods?fieldValidation=Strict", j->ns);
    if (post(x, h, path, j->pod, &r, err, errsz) < 0)
        return -1;
    long st = r.status;
    if (st == 201 || st == 200)
        *pod_obj = cJSON_Parse(r.body);
    free(r.body);
    if (st == 409) { /* ours from an earlier try: read it */
        snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/%s", j->ns, j->name);
        if (k8s_request(&x->conn, h, "GET", path, NULL, NULL, 0, &r, err, errsz) < 0)
            return -1;
        st = r.status;
        *pod_obj = st == 200 ? cJSON_Parse(r.body) : NULL;
        if (st != 200)
            k8s_status_message(&r, err, errsz);
        free(r.body);
    }
    if (!*pod_obj)
        return st ? st : -1;
    if (!j->secret)
        return 0;
    const cJSON *uid = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(*pod_obj, "metadata"), "uid");
    char *body = replace_all(j->secret, K8S_UID_PLACEHOLDER, cJSON_IsString(uid) ? uid->valuestring : "");
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/secrets?fieldValidation=Strict", j->ns);
    int rc = body ? post(x, h, path, body, &r, err, errsz) : -1;
    wipe_free(body);
    if (rc < 0)
        return -1;
    free(r.body);
    if (r.status != 201 && r.status != 200 && r.status != 409)
        return r.status;
    *has_secret = 1;
    return 0;
}

static void do_create(k8s_exec *x, CURL *h, k8s_slot *s)
{
    create_job j;
    memset(&j, 0, sizeof j);
    snprintf(j.ns, sizeof j.ns, "%s", s->ns);
    snprintf(j.name, sizeof j.name, "%s", s->name);
    j.pod = s->pod_json;
    j.secret = s->secret_json;
    j.policy = s->policy_json;
    s->pod_json = s->secret_json = s->policy_json = NULL;
    pthread_mutex_unlock(&x->mu);
    char err[384] = "";
    cJSON *pod = NULL;
    int has_secret = 0;
    long st = run_create(x, h, &j, &pod, &has_secret, err, sizeof err);
    free(j.pod);
    free(j.policy);
    wipe_free(j.secret);
    pthread_mutex_lock(&x->mu);
    s->has_secret = has_secret;
    if (st == 0) {
        s->create = K8S_REQ_DONE;
        s->created_mono = acms_mono_ms();
        k8s_obs_parse(pod, &s->obs, s->created_mono);
        s->obs_mono = s->created_mono;
    } else {
        s->create = K8S_REQ_FAILED;
        s->create_status = st < 0 ? 0 : st;
        snprintf(s->create_error, sizeof s->create_error, "%s", err);
        if (pod) /* the pod exists but its Secret could not be made: remove it */
            s->delete_at_mono = acms_mono_ms();
    }
    cJSON_Delete(pod);
}

/* --- get, delete ------------------------------------------------------------------------------- */

static void do_get(k8s_exec *x, CURL *h, k8s_slot *s)
{
    char path[600], err[256];
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/%s", s->ns, s->name);
    pthread_mutex_unlock(&x->mu);
    k8s_resp r;
    int rc = k8s_request(&x->conn, h, "GET", path, NULL, NULL, 0, &r, err, sizeof err);
    cJSON *pod = rc == 0 && r.status == 200 ? cJSON_Parse(r.body) : NULL;
    free(r.body);
    pthread_mutex_lock(&x->mu);
    if (pod) {
        k8s_obs_parse(pod, &s->obs, acms_mono_ms());
        s->get = K8S_REQ_DONE;
        s->create = K8S_REQ_DONE;
    } else if (rc == 0 && r.status == 404) {
        s->obs.gone = 1;
        s->get = K8S_REQ_FAILED;
    } /* else: transport or server error: asked again on the next pass */
    s->obs_mono = acms_mono_ms();
    cJSON_Delete(pod);
}

static int delete_one(k8s_exec *x, CURL *h, const char *kind, const char *ns, const char *name, int grace)
{
    char path[600], body[160], err[256];
    const char *base = !strcmp(kind, "networkpolicies") ? "/apis/networking.k8s.io/v1" : "/api/v1";
    snprintf(path, sizeof path, "%s/namespaces/%s/%s/%s", base, ns, kind, name);
    snprintf(body, sizeof body,
             "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"gracePeriodSeconds\":%d,"
             "\"propagationPolicy\":\"Background\"}",
             grace);
    k8s_resp r;
    if (k8s_request(&x->conn, h, "DELETE", path, body, NULL, 0, &r, err, sizeof err) < 0) {
        acms_log_warn(NULL, NULL, "kubernetes: deleting %s %s/%s: %s", kind, ns, name, err);
        return -1;
    }
    free(r.body);
    return r.status == 200 || r.status == 202 || r.status == 404 ? 0 : -1;
}

static void do_delete(k8s_exec *x, CURL *h, k8s_slot *s)
{
    char ns[254], name[K8S_NAME_MAX];
    snprintf(ns, sizeof ns, "%s", s->ns);
    snprintf(name, sizeof name, "%s", s->name);
    int grace = s->delete_grace_s, secret = s->has_secret;
    pthread_mutex_unlock(&x->mu);
    int rc = delete_one(x, h, "pods", ns, name, grace);
    if (rc == 0 && secret) /* the garbage collector would too: the Secret is owned by the Pod */
        delete_one(x, h, "secrets", ns, name, 0);
    pthread_mutex_lock(&x->mu);
    if (rc == 0)
        s->deleted = 1;
    else
        s->delete_at_mono = acms_mono_ms() + 2000; /* retried */
}

/* --- log, metrics, resize ---------------------------------------------------------------------- */

static void do_log(k8s_exec *x, CURL *h, k8s_slot *s)
{
    char path[700], err[256];
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/%s/log?container=%s", s->ns, s->name, K8S_CONTAINER);
    size_t cap = x->log_cap;
    int final = s->log == K8S_REQ_WANTED;
    pthread_mutex_unlock(&x->mu);
    k8s_resp r;
    int rc = k8s_request(&x->conn, h, "GET", path, NULL, NULL, LOG_READ_MAX, &r, err, sizeof err);
    pthread_mutex_lock(&x->mu);
    if (rc == 0 && r.status == 200) {
        size_t keep = r.len < cap ? r.len : cap;
        char *b = malloc(keep + 1);
        if (b) {
            if (keep) /* an empty log has no body at all */
                memcpy(b, r.body + (r.len - keep), keep);
            b[keep] = '\0';
            free(s->log_buf);
            s->log_buf = b;
            s->log_len = keep;
            s->log_total = r.len;
        }
    }
    if (final)
        s->log = rc == 0 && (r.status == 200 || r.status == 400 || r.status == 404) ? K8S_REQ_DONE : K8S_REQ_FAILED;
    if (s->next_log_mono)
        s->next_log_mono = acms_mono_ms() + (int64_t)x->log_poll_s * 1000;
    free(r.body);
}

/* The step container's memory working set in KiB from a PodMetrics object, 0 when absent. */
static uint64_t working_set_kib(const cJSON *m)
{
    const cJSON *c;
    uint64_t kib = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(m, "containers"))
    {
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c, "usage"), "memory");
        if (!cJSON_IsString(u))
            continue;
        char *end;
        double v = strtod(u->valuestring, &end);
        double mul = !strcmp(end, "Ki") ? 1 : !strcmp(end, "Mi") ? 1024 : !strcmp(end, "Gi") ? 1048576 : 1.0 / 1024;
        kib += (uint64_t)(v * mul);
    }
    return kib;
}

static void do_metrics(k8s_exec *x, CURL *h, k8s_slot *s)
{
    char path[600], err[256];
    snprintf(path, sizeof path, "/apis/metrics.k8s.io/v1beta1/namespaces/%s/pods/%s", s->ns, s->name);
    int probe = x->metrics_api < 0;
    pthread_mutex_unlock(&x->mu);
    k8s_resp r, d = {0};
    int rc = k8s_request(&x->conn, h, "GET", path, NULL, NULL, 0, &r, err, sizeof err);
    cJSON *m = rc == 0 && r.status == 200 ? cJSON_Parse(r.body) : NULL;
    int absent = -1;
    if (probe && rc == 0 && r.status == 404 &&
        k8s_request(&x->conn, h, "GET", "/apis/metrics.k8s.io/v1beta1", NULL, NULL, 0, &d, err, sizeof err) == 0)
        absent = d.status == 404;
    free(r.body);
    free(d.body);
    pthread_mutex_lock(&x->mu);
    if (m || absent == 0)
        x->metrics_api = 1;
    if (absent == 1) {
        x->metrics_api = 0;
        for (k8s_slot *t = x->slots; t; t = t->next)
            t->metrics = -1;
    }
    uint64_t kib = m ? working_set_kib(m) : 0;
    if (m)
        s->metrics = 1;
    if (kib > s->peak_kib)
        s->peak_kib = kib;
    s->next_metrics_mono = acms_mono_ms() + METRICS_PERIOD_MS;
    cJSON_Delete(m);
}

static void do_resize(k8s_exec *x, CURL *h, k8s_slot *s)
{
    char path[600], body[400], err[256] = "";
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/%s/resize", s->ns, s->name);
    snprintf(body, sizeof body,
             "{\"spec\":{\"containers\":[{\"name\":\"%s\",\"resources\":{\"requests\":{\"memory\":\"%lluMi\"},"
             "\"limits\":{\"memory\":\"%lluMi\"}}}]}}",
             K8S_CONTAINER, (unsigned long long)s->resize_mib, (unsigned long long)s->resize_mib);
    pthread_mutex_unlock(&x->mu);
    k8s_resp r;
    int rc = k8s_request(&x->conn, h, "PATCH", path, body, "application/strategic-merge-patch+json", 0, &r, err,
                         sizeof err);
    cJSON *pod = rc == 0 && r.status == 200 ? cJSON_Parse(r.body) : NULL;
    if (rc == 0 && !pod)
        k8s_status_message(&r, err, sizeof err);
    free(r.body);
    pthread_mutex_lock(&x->mu);
    if (pod) {
        s->resize = K8S_REQ_DONE;
        x->resize_api = 1;
        k8s_obs_parse(pod, &s->obs, acms_mono_ms());
    } else {
        s->resize = K8S_REQ_FAILED;
        if (rc == 0 && (r.status == 404 || r.status == 405))
            x->resize_api = 0;
        snprintf(s->resize_error, sizeof s->resize_error, "%s",
                 rc == 0 && (r.status == 404 || r.status == 405)
                     ? "the API server has no pods/resize subresource (in-place resize needs Kubernetes 1.33+)"
                     : err);
    }
    cJSON_Delete(pod);
}

/* --- the loop ---------------------------------------------------------------------------------- */

static int running(const k8s_slot *s)
{
    return s->create == K8S_REQ_DONE && s->obs.present && !s->obs.gone && !strcmp(s->obs.phase, "Running");
}

/* Under x->mu: one piece of work for slot s, done. 1 when something was done. */
static int serve_slot(k8s_exec *x, CURL *h, k8s_slot *s, int64_t now)
{
    if (s->create == K8S_REQ_WANTED)
        do_create(x, h, s);
    else if (s->get == K8S_REQ_WANTED)
        do_get(x, h, s);
    else if (s->delete_at_mono && !s->deleted && now >= s->delete_at_mono)
        do_delete(x, h, s);
    else if (s->log == K8S_REQ_WANTED && !s->deleted)
        do_log(x, h, s);
    else if (s->resize == K8S_REQ_WANTED && running(s))
        do_resize(x, h, s);
    else if (!s->detached && s->next_log_mono && now >= s->next_log_mono && running(s))
        do_log(x, h, s);
    else if (!s->detached && s->metrics >= 0 && x->metrics_api != 0 && now >= s->next_metrics_mono && running(s))
        do_metrics(x, h, s);
    else
        return 0;
    return 1;
}

/* Under x->mu: frees detached slots that need nothing more (deleted, or left for adoption). */
static void reap_slots(k8s_exec *x)
{
    for (k8s_slot **pp = &x->slots; *pp;) {
        k8s_slot *s = *pp;
        int pending = s->create == K8S_REQ_WANTED || (s->delete_at_mono && !s->deleted);
        if (s->detached && !pending) {
            *pp = s->next;
            free(s->pod_json);
            wipe_free(s->secret_json);
            free(s->policy_json);
            free(s->log_buf);
            free(s);
            continue;
        }
        pp = &s->next;
    }
}

void k8s_exec_delete_later(k8s_exec *x, const char *kind, const char *ns, const char *name)
{
    if (x->npend == x->cappend) {
        size_t cap = x->cappend ? x->cappend * 2 : 8;
        k8s_pending *p = realloc(x->pend, cap * sizeof *p);
        if (!p)
            return;
        x->pend = p;
        x->cappend = cap;
    }
    k8s_pending *p = &x->pend[x->npend++];
    snprintf(p->kind, sizeof p->kind, "%s", kind);
    snprintf(p->ns, sizeof p->ns, "%s", ns);
    snprintf(p->name, sizeof p->name, "%s", name);
    k8s_exec_kick(x);
}

/* Under x->mu: one queued deletion. 1 when one was made (or given up after a failure). */
static int serve_pending(k8s_exec *x, CURL *h)
{
    if (!x->npend)
        return 0;
    k8s_pending p = x->pend[0];
    memmove(x->pend, x->pend + 1, (x->npend - 1) * sizeof *x->pend);
    x->npend--;
    pthread_mutex_unlock(&x->mu);
    if (delete_one(x, h, p.kind, p.ns, p.name, 0) != 0)
        acms_log_warn(NULL, NULL, "kubernetes: %s %s/%s not deleted (the orphan sweep of a later run will not see it)",
                      p.kind, p.ns, p.name);
    pthread_mutex_lock(&x->mu);
    return 1;
}

/* Under x->mu: deletes one orphan whose time has come. 1 when one was deleted. */
static int serve_orphans(k8s_exec *x, CURL *h, int64_t now)
{
    for (size_t i = 0; i < x->norphans; i++) {
        if (now - x->orphans[i].terminal_since < (int64_t)x->orphan_s * 1000)
            continue;
        k8s_orphan o = x->orphans[i];
        x->orphans[i] = x->orphans[--x->norphans];
        pthread_mutex_unlock(&x->mu);
        acms_log_info(NULL, NULL, "kubernetes: deleting orphan pod %s/%s (finished, no attempt claims it)", o.ns,
                      o.name);
        if (delete_one(x, h, "pods", o.ns, o.name, 0) == 0)
            delete_one(x, h, "secrets", o.ns, o.name, 0);
        pthread_mutex_lock(&x->mu);
        return 1;
    }
    return 0;
}

static void *req_main(void *arg)
{
    k8s_exec *x = arg;
    CURL *h = curl_easy_init();
    pthread_mutex_lock(&x->mu);
    while (h && !x->stop) {
        int64_t now = acms_mono_ms();
        int did = 0;
        for (k8s_slot *s = x->slots; s && !did; s = s->next)
            did = serve_slot(x, h, s, now);
        if (!did)
            did = serve_pending(x, h);
        if (!did)
            did = serve_orphans(x, h, now);
        reap_slots(x);
        if (did)
            continue;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&x->cv, &x->mu, &ts);
    }
    pthread_mutex_unlock(&x->mu);
    if (h)
        curl_easy_cleanup(h);
    return NULL;
}

k8s_exec *k8s_exec_new(size_t log_cap, char *errstr, size_t errstr_size)
{
    k8s_exec *x = calloc(1, sizeof *x);
    if (!x) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    if (k8s_conn_load(&x->conn, errstr, errstr_size) != ACMS_OK) {
        free(x);
        return NULL;
    }
    x->metrics_api = -1;
    x->resize_api = -1;
    x->log_cap = log_cap ? log_cap : 65536;
    x->log_poll_s = (int)env_long("ACMS_K8S_LOG_POLL_S", 5);
    x->orphan_s = (int)env_long("ACMS_K8S_ORPHAN_S", ORPHAN_DEFAULT_S);
    x->config_grace_ms = env_long("ACMS_K8S_CONFIG_GRACE_S", 10) * 1000;
    pthread_mutex_init(&x->mu, NULL);
    pthread_cond_init(&x->cv, NULL);
    int e = pthread_create(&x->req_thread, NULL, req_main, x);
    if (e) {
        snprintf(errstr, errstr_size, "cannot start the request thread: %s", strerror(e));
        k8s_conn_release(&x->conn);
        free(x);
        return NULL;
    }
    acms_log_info(NULL, NULL, "kubernetes executor: API server %s (%s), namespace %s", x->conn.server, x->conn.source,
                  x->conn.ns);
    return x;
}

void k8s_exec_free(k8s_exec *x)
{
    if (!x)
        return;
    pthread_mutex_lock(&x->mu);
    x->stop = 1;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
    pthread_join(x->req_thread, NULL);
    for (size_t i = 0; i < x->nns; i++)
        if (x->nss[i].started)
            pthread_join(x->nss[i].thread, NULL);
    for (k8s_slot *s = x->slots, *n; s; s = n) {
        n = s->next;
        free(s->pod_json);
        wipe_free(s->secret_json);
        free(s->policy_json);
        free(s->log_buf);
        free(s);
    }
    free(x->orphans);
    free(x->pend);
    k8s_conn_release(&x->conn);
    pthread_mutex_destroy(&x->mu);
    pthread_cond_destroy(&x->cv);
    free(x);
}
