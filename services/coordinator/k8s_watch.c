/* k8s_watch.c: Pod observations and what they mean (pure), the shared slot table, and the watch
 * threads: list by label, watch from the list's resourceVersion, relist on 410 Gone or a dropped
 * watch. The request thread lives in k8s_ops.c. */
#include "k8s_watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acms.h"
#include "log.h"
#include "strbuf.h"

#define WATCH_TIMEOUT_S 240
#define LINE_MAX_BYTES (4u * 1024 * 1024)

static const char *js(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void cp(char *dst, size_t size, const char *s)
{
    snprintf(dst, size, "%s", s ? s : "");
}

/* "512Mi", "2Gi", "1073741824", "1G" -> MiB (0 when unparsable). */
static uint64_t mib_of(const char *q)
{
    if (!q)
        return 0;
    char *end;
    double v = strtod(q, &end);
    static const struct {
        const char *suf;
        double mul;
    } units[] = {{"Ki", 1.0 / 1024},   {"Mi", 1},
                 {"Gi", 1024},         {"Ti", 1048576},
                 {"k", 1e3 / 1048576}, {"M", 1e6 / 1048576},
                 {"G", 1e9 / 1048576}, {"T", 1e12 / 1048576},
                 {"", 1.0 / 1048576}};
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (!strcmp(end, units[i].suf))
            return (uint64_t)(v * units[i].mul + 0.5);
    return 0;
}

static const cJSON *step_container(const cJSON *list)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, list)
    {
        const char *n = js(c, "name");
        if (n && !strcmp(n, K8S_CONTAINER))
            return c;
    }
    return cJSON_GetArrayItem(list, 0);
}

static void parse_conditions(const cJSON *status, k8s_obs *o)
{
    const cJSON *c;
    o->disruption[0] = o->resize[0] = '\0';
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(status, "conditions"))
    {
        const char *t = js(c, "type"), *st = js(c, "status");
        if (!t || !st || strcmp(st, "True"))
            continue;
        if (!strcmp(t, "DisruptionTarget"))
            cp(o->disruption, sizeof o->disruption, js(c, "reason") ? js(c, "reason") : "DisruptionTarget");
        else if (!strcmp(t, "PodResizePending") || !strcmp(t, "PodResizeInProgress"))
            cp(o->resize, sizeof o->resize, t);
    }
}

void k8s_obs_parse(const cJSON *pod, k8s_obs *o, int64_t now)
{
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(pod, "metadata");
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(pod, "status");
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(pod, "spec");
    char old_waiting[64];
    cp(old_waiting, sizeof old_waiting, o->waiting);
    o->present = 1;
    o->gone = 0;
    o->deleting = js(meta, "deletionTimestamp") != NULL;
    cp(o->uid, sizeof o->uid, js(meta, "uid"));
    cp(o->phase, sizeof o->phase, js(status, "phase"));
    cp(o->reason, sizeof o->reason, js(status, "reason"));
    cp(o->message, sizeof o->message, js(status, "message"));
    parse_conditions(status, o);
    const cJSON *sc = step_container(cJSON_GetObjectItemCaseSensitive(status, "containerStatuses"));
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(sc, "state");
    const cJSON *term = cJSON_GetObjectItemCaseSensitive(state, "terminated");
    const cJSON *wait = cJSON_GetObjectItemCaseSensitive(state, "waiting");
    o->terminated = term != NULL;
    const cJSON *ec = cJSON_GetObjectItemCaseSensitive(term, "exitCode");
    o->exit_code = cJSON_IsNumber(ec) ? (int)ec->valuedouble : 0;
    cp(o->term_reason, sizeof o->term_reason, js(term, "reason"));
    cp(o->waiting, sizeof o->waiting, js(wait, "reason"));
    cp(o->waiting_message, sizeof o->waiting_message, js(wait, "message"));
    if (!o->waiting[0])
        o->waiting_since = 0;
    else if (strcmp(old_waiting, o->waiting) || !o->waiting_since)
        o->waiting_since = now;
    const cJSON *c = step_container(cJSON_GetObjectItemCaseSensitive(spec, "containers"));
    const cJSON *lim = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c, "resources"), "limits");
    o->mem_limit_mib = mib_of(js(lim, "memory"));
}

static int config_waiting(const char *w)
{
    static const char *const bad[] = {"ImagePullBackOff",           "ErrImagePull",         "InvalidImageName",
                                      "CreateContainerConfigError", "CreateContainerError", "ErrImageNeverPull"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (!strcmp(w, bad[i]))
            return 1;
    return 0;
}

static void config_failure(const k8s_obs *o, const char *image, k8s_verdict *v)
{
    v->done = 1;
    v->permanent = 1;
    v->reason = ACMS__V1__EXIT_REASON__EXIT_REASON_SPAWN_FAILED;
    v->exit_code = -1;
    snprintf(v->message, sizeof v->message, "configuration failure: %s%s%.300s", o->waiting,
             o->waiting_message[0] ? ": " : "", o->waiting_message);
    if (strstr(o->waiting, "Image"))
        snprintf(v->suggestion, sizeof v->suggestion,
                 "check the step's image '%.120s' (name, tag, registry) and the pull secrets of the environment's "
                 "service account",
                 image ? image : "");
    else
        snprintf(v->suggestion, sizeof v->suggestion,
                 "check the Secrets and keys the step references (secret://k8s/...) exist in the steps' namespace");
}

static void interrupted(k8s_verdict *v, const char *what, const char *detail)
{
    v->done = 1;
    v->reason = ACMS__V1__EXIT_REASON__EXIT_REASON_INTERRUPTED;
    v->exit_code = -1;
    snprintf(v->message, sizeof v->message, "%s%s%.300s", what, detail && *detail ? ": " : "", detail ? detail : "");
}

void k8s_verdict_of(const k8s_obs *o, int64_t now, int64_t config_grace_ms, const char *image, k8s_verdict *v)
{
    memset(v, 0, sizeof *v);
    if (o->gone) {
        interrupted(v, "the Pod was deleted before it finished (node lost or removed by someone else)", NULL);
        return;
    }
    if (!o->present)
        return;
    int failed = !strcmp(o->phase, "Failed"), ok = !strcmp(o->phase, "Succeeded");
    if (ok) {
        v->done = 1;
        v->reason = ACMS__V1__EXIT_REASON__EXIT_REASON_OK;
        snprintf(v->message, sizeof v->message, "exited with code 0");
        return;
    }
    if (failed && !strcmp(o->reason, "DeadlineExceeded")) {
        v->done = 1;
        v->reason = ACMS__V1__EXIT_REASON__EXIT_REASON_TIME;
        v->exit_code = o->terminated ? o->exit_code : -1;
        snprintf(v->message, sizeof v->message, "activeDeadlineSeconds exceeded (DeadlineExceeded)");
        return;
    }
    if (failed && o->terminated && !strcmp(o->term_reason, "OOMKilled")) {
        v->done = 1;
        v->reason = ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY;
        v->exit_code = o->exit_code;
        snprintf(v->message, sizeof v->message, "OOMKilled: the container exceeded its memory limit (exit code %d)",
                 o->exit_code);
        return;
    }
    if (failed && (!strcmp(o->reason, "Evicted") || !strcmp(o->reason, "Preempting") || o->disruption[0] ||
                   !strcmp(o->reason, "NodeLost") || !strcmp(o->reason, "Terminated") ||
                   !strcmp(o->reason, "Shutdown") || !strcmp(o->reason, "NodeShutdown"))) {
        interrupted(v, o->disruption[0] ? o->disruption : o->reason, o->message);
        return;
    }
    if (!strcmp(o->phase, "Unknown")) {
        interrupted(v, "the Pod's node stopped reporting (phase Unknown)", o->message);
        return;
    }
    if (failed) {
        v->done = 1;
        v->exit_code = o->terminated ? o->exit_code : -1;
        v->reason = ACMS__V1__EXIT_REASON__EXIT_REASON_NONZERO;
        snprintf(v->message, sizeof v->message, "exited with code %d%s%s%s%.200s", v->exit_code,
                 o->term_reason[0] ? " (" : "", o->term_reason, o->term_reason[0] ? ")" : "",
                 o->message[0] ? o->message : "");
        return;
    }
    memset(v, 0, sizeof *v);
    if (o->waiting[0] && config_waiting(o->waiting) && o->waiting_since && now - o->waiting_since >= config_grace_ms)
        config_failure(o, image, v);
}

/* --- slots ------------------------------------------------------------------------------------- */

static void *watch_main(void *arg);

typedef struct watch_arg {
    k8s_exec *x;
    size_t idx;
} watch_arg;

static void ensure_watch(k8s_exec *x, const char *ns)
{
    for (size_t i = 0; i < x->nns; i++)
        if (!strcmp(x->nss[i].ns, ns))
            return;
    if (x->nns == K8S_MAX_NS) {
        acms_log_error(NULL, NULL, "kubernetes executor: more than %d namespaces: %s is not watched", K8S_MAX_NS, ns);
        return;
    }
    k8s_ns *n = &x->nss[x->nns];
    memset(n, 0, sizeof *n);
    cp(n->ns, sizeof n->ns, ns);
    watch_arg *a = malloc(sizeof *a);
    if (!a)
        return;
    a->x = x;
    a->idx = x->nns;
    if (pthread_create(&n->thread, NULL, watch_main, a) != 0) {
        free(a);
        acms_log_error(NULL, NULL, "kubernetes executor: cannot start the watch of namespace %s", ns);
        return;
    }
    n->started = 1;
    x->nns++;
}

k8s_slot *k8s_slot_get(k8s_exec *x, const char *ns, const char *name)
{
    for (k8s_slot *s = x->slots; s; s = s->next)
        if (!strcmp(s->name, name) && !strcmp(s->ns, ns))
            return s;
    k8s_slot *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    cp(s->name, sizeof s->name, name);
    cp(s->ns, sizeof s->ns, ns);
    s->metrics = x->metrics_api == 0 ? -1 : 0;
    s->next = x->slots;
    x->slots = s;
    ensure_watch(x, ns);
    return s;
}

void k8s_exec_kick(k8s_exec *x)
{
    pthread_cond_signal(&x->cv);
}

static k8s_slot *find_slot(k8s_exec *x, const char *ns, const char *name)
{
    for (k8s_slot *s = x->slots; s; s = s->next)
        if (!strcmp(s->name, name) && !strcmp(s->ns, ns))
            return s;
    return NULL;
}

/* An orphan: a terminal managed Pod no slot knows, remembered until the request thread deletes it. */
static void note_orphan(k8s_exec *x, const char *ns, const char *name, int terminal, int64_t now)
{
    for (size_t i = 0; i < x->norphans; i++)
        if (!strcmp(x->orphans[i].name, name) && !strcmp(x->orphans[i].ns, ns)) {
            if (!terminal) /* running again? (cannot happen with restartPolicy Never) */
                x->orphans[i] = x->orphans[--x->norphans];
            return;
        }
    if (!terminal)
        return;
    if (x->norphans == x->caporphans) {
        size_t cap = x->caporphans ? x->caporphans * 2 : 16;
        k8s_orphan *o = realloc(x->orphans, cap * sizeof *o);
        if (!o)
            return;
        x->orphans = o;
        x->caporphans = cap;
    }
    k8s_orphan *o = &x->orphans[x->norphans++];
    cp(o->name, sizeof o->name, name);
    cp(o->ns, sizeof o->ns, ns);
    o->terminal_since = now;
}

static void forget_orphan(k8s_exec *x, const char *ns, const char *name)
{
    for (size_t i = 0; i < x->norphans; i++)
        if (!strcmp(x->orphans[i].name, name) && !strcmp(x->orphans[i].ns, ns)) {
            x->orphans[i] = x->orphans[--x->norphans];
            return;
        }
}

/* Under x->mu: one Pod object from a list, watch event or get. */
static void apply_pod(k8s_exec *x, const char *ns, const cJSON *pod, int deleted)
{
    const char *name = js(cJSON_GetObjectItemCaseSensitive(pod, "metadata"), "name");
    if (!name)
        return;
    int64_t now = acms_mono_ms();
    k8s_slot *s = find_slot(x, ns, name);
    if (!s) {
        const char *phase = js(cJSON_GetObjectItemCaseSensitive(pod, "status"), "phase");
        int terminal = phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"));
        if (deleted)
            forget_orphan(x, ns, name);
        else
            note_orphan(x, ns, name, terminal, now);
        return;
    }
    k8s_obs_parse(pod, &s->obs, now);
    if (deleted) {
        s->obs.gone = 1;
        s->deleted = 1;
    }
    s->obs_mono = now;
}

/* --- the watch thread -------------------------------------------------------------------------- */

typedef struct stream {
    k8s_exec *x;
    k8s_ns *n;
    acms_strbuf line; /* the bytes of an event not yet ended by '\n', capped at LINE_MAX_BYTES */
    int gone;         /* an ERROR event with code 410 */
    int stop;
} stream;

static void on_event(stream *st, const char *line)
{
    cJSON *ev = cJSON_Parse(line);
    const char *type = js(ev, "type");
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(ev, "object");
    if (!type || !obj) {
        cJSON_Delete(ev);
        return;
    }
    const char *rv = js(cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "resourceVersion");
    pthread_mutex_lock(&st->x->mu);
    if (!strcmp(type, "ERROR")) {
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(obj, "code");
        st->gone = 1; /* 410 Gone, or any error: relist */
        if (!cJSON_IsNumber(code) || code->valuedouble != 410)
            acms_log_warn(NULL, NULL, "kubernetes watch of %s: error event: %.200s", st->n->ns, line);
    } else {
        if (strcmp(type, "BOOKMARK"))
            apply_pod(st->x, st->n->ns, obj, !strcmp(type, "DELETED"));
        if (rv)
            cp(st->n->rv, sizeof st->n->rv, rv);
        k8s_exec_kick(st->x);
    }
    pthread_mutex_unlock(&st->x->mu);
    cJSON_Delete(ev);
}

static size_t on_stream(char *p, size_t size, size_t nmemb, void *ud)
{
    stream *st = ud;
    size_t k = size * nmemb;
    if (acms_strbuf_add(&st->line, p, k) != ACMS_OK)
        return 0; /* an event too large: drop the watch, relist */
    char *buf = st->line.buf, *nl;
    size_t off = 0;
    while ((nl = memchr(buf + off, '\n', st->line.len - off))) {
        *nl = '\0';
        on_event(st, buf + off);
        off = (size_t)(nl - buf) + 1;
    }
    acms_strbuf_remove(&st->line, 0, off);
    return k;
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a, (void)b, (void)c, (void)d;
    stream *st = ud;
    pthread_mutex_lock(&st->x->mu);
    int stop = st->x->stop;
    pthread_mutex_unlock(&st->x->mu);
    return stop || st->gone; /* non-zero aborts the transfer */
}

/* The list: every managed Pod of the namespace; slots created before the list started and missing
 * from it are gone. Returns 0 with n->rv set, -1 on failure. */
static int list_pods(k8s_exec *x, k8s_ns *n, CURL *h)
{
    char path[1024], sel[256], err[256];
    k8s_urlencode(K8S_MANAGED_SELECTOR, sel, sizeof sel);
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods?labelSelector=%s", n->ns, sel);
    int64_t started = acms_mono_ms();
    k8s_resp r;
    if (k8s_request(&x->conn, h, "GET", path, NULL, NULL, 64u * 1024 * 1024, &r, err, sizeof err) < 0 ||
        r.status != 200) {
        if (r.status)
            k8s_status_message(&r, err, sizeof err);
        pthread_mutex_lock(&x->mu);
        cp(x->err, sizeof x->err, err);
        pthread_mutex_unlock(&x->mu);
        acms_log_warn(NULL, NULL, "kubernetes: listing pods of %s failed: %s", n->ns, err);
        free(r.body);
        return -1;
    }
    cJSON *j = cJSON_Parse(r.body);
    free(r.body);
    const char *rv = js(cJSON_GetObjectItemCaseSensitive(j, "metadata"), "resourceVersion");
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(j, "items"), *it;
    pthread_mutex_lock(&x->mu);
    for (k8s_slot *s = x->slots; s; s = s->next)
        if (!strcmp(s->ns, n->ns))
            s->obs.present = -s->obs.present - 2; /* mark: -2 unseen-before, -3 seen-before */
    cJSON_ArrayForEach(it, items) apply_pod(x, n->ns, it, 0);
    for (k8s_slot *s = x->slots; s; s = s->next) {
        if (strcmp(s->ns, n->ns) || s->obs.present >= 0)
            continue;
        int was = s->obs.present == -3;
        s->obs.present = was;
        /* absent: gone, if it existed before this list began (created or seen) */
        if ((was || (s->create == K8S_REQ_DONE && s->created_mono && s->created_mono < started)) && !s->obs.gone) {
            s->obs.gone = 1;
            s->obs_mono = acms_mono_ms();
        }
    }
    cp(n->rv, sizeof n->rv, rv);
    if (n->synced)
        n->relists++;
    n->synced = 1;
    n->list_started_mono = started;
    k8s_exec_kick(x);
    pthread_mutex_unlock(&x->mu);
    cJSON_Delete(j);
    return 0;
}

/* One watch from n->rv until it ends. 1 = ended cleanly (watch again), 0 = relist needed. */
static int watch_once(k8s_exec *x, k8s_ns *n, CURL *h)
{
    char path[1024], sel[256], err[256];
    k8s_urlencode(K8S_MANAGED_SELECTOR, sel, sizeof sel);
    snprintf(path, sizeof path,
             "/api/v1/namespaces/%s/pods?labelSelector=%s&watch=1&allowWatchBookmarks=true&resourceVersion=%s"
             "&timeoutSeconds=%d",
             n->ns, sel, n->rv, WATCH_TIMEOUT_S);
    struct curl_slist *hdrs = k8s_prepare(&x->conn, h, path, err, sizeof err);
    if (!hdrs)
        return 0;
    stream st = {.x = x, .n = n};
    acms_strbuf_init(&st.line, LINE_MAX_BYTES - 1); /* one event's line, its NUL included */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_stream);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &st);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &st);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(WATCH_TIMEOUT_S + 30) * 1000);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    acms_strbuf_release(&st.line);
    if (st.gone || status == 410)
        return 0;
    if (rc != CURLE_OK || status != 200) {
        if (!on_progress(&st, 0, 0, 0, 0))
            acms_log_info(NULL, NULL, "kubernetes watch of %s dropped (%s, HTTP %ld): relisting", n->ns,
                          curl_easy_strerror(rc), status);
        return 0;
    }
    return 1;
}

static void *watch_main(void *arg)
{
    watch_arg *a = arg;
    k8s_exec *x = a->x;
    k8s_ns *n = &x->nss[a->idx];
    free(a);
    CURL *h = curl_easy_init();
    int backoff = 200;
    while (h) {
        pthread_mutex_lock(&x->mu);
        int stop = x->stop;
        pthread_mutex_unlock(&x->mu);
        if (stop)
            break;
        if (list_pods(x, n, h) != 0) {
            usleep((useconds_t)backoff * 1000);
            backoff = backoff < 5000 ? backoff * 2 : 5000;
            continue;
        }
        backoff = 200;
        while (watch_once(x, n, h))
            ;
    }
    if (h)
        curl_easy_cleanup(h);
    return NULL;
}
