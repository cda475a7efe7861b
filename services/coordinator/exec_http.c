/* exec_http.c: the http executor. An attempt is handed to a worker:
 *   POST {worker_url}/steps {run_id, step, attempt, command, env, limits, output_path} -> {"id": ..}
 *        limits: memory_mb max_runtime_s cpu_time_s vcpu gpus instance_type network_isolation
 *        volume_size_gb encrypt_volume interruptible (the worker enforces them; docs/execution.md)
 *   GET  {worker_url}/steps/<id> -> {"status": "running|succeeded|failed", "exit_code", "peak_rss_kb",
 *        "rss_kb", "cpu_ms", "wall_ms", "reason", "stderr_tail"}     DELETE cancels.
 * One short libcurl request (1 s connect, 2 s total) per 250 ms poll. Transport failures at start,
 * or for 3 s while polling, end the attempt UNREACHABLE (transient). The request body holds the
 * resolved environment: it is wiped as soon as the request is sent. */
#include "exec_backend.h"
#include "strbuf.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLL_MS 250
#define UNREACHABLE_MS 3000
#define RESP_MAX (256 * 1024)

struct coord_http {
    CURL *curl;
    const coord_http_auth *auth; /* borrowed from the coordinator's context */
    char base[512];
    char id[128];
    int64_t start_mono, next_poll, fail_since;
    uint32_t max_runtime_s;
    uint64_t mem_limit_kb;
    int grace_ms;
    int done;
    coord_exec_status live;
    coord_exec_status final;
};

typedef struct resp {
    char *p; /* malloc'd, NUL-terminated (the caller frees it); NULL on transport failure */
    size_t n;
} resp;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    size_t k = size * nmemb;
    return acms_strbuf_add(ud, ptr, k) == ACMS_OK ? k : 0; /* 0 (over RESP_MAX): abort the transfer */
}

/* One request. Returns 0 with *status set when the worker answered, -1 on transport failure
 * (err says why). The caller frees out->p. */
static int http_do(CURL *c, const coord_http_auth *auth, const char *method, const char *url, const char *body,
                   long *status, resp *out, char *err, size_t errsz)
{
    char ebuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = NULL;
    acms_strbuf b;
    acms_strbuf_init(&b, RESP_MAX);
    out->p = NULL;
    out->n = 0;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (body) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    hdrs = coord_http_auth_apply(auth, c, hdrs);
    if (hdrs)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (strcmp(method, body ? "POST" : "GET"))
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
    for (struct curl_slist *l = hdrs; l; l = l->next) /* the bearer token */
        explicit_bzero(l->data, strlen(l->data));
    curl_slist_free_all(hdrs);
    if (rc != CURLE_OK) {
        snprintf(err, errsz, "%s %s: %s", method, url, ebuf[0] ? ebuf : curl_easy_strerror(rc));
        acms_strbuf_release(&b);
        return -1;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    out->p = acms_strbuf_detach(&b, &out->n);
    return 0;
}

static void set_final(coord_http *h, Acms__V1__ExitReason reason, const char *msg)
{
    h->final = h->live;
    h->final.done = 1;
    h->final.reason = reason;
    h->final.rss_kb = 0;
    if (msg)
        snprintf(h->final.message, sizeof h->final.message, "%s", msg);
    h->done = 1;
}

static char *request_body(const coord_exec_req *req, char *err, size_t errsz, int *transient)
{
    char **envp = coord_env_build(req, NULL, err, errsz, transient);
    if (!envp)
        return NULL;
    cJSON *j = cJSON_CreateObject(), *env = cJSON_CreateObject(), *cmd = cJSON_CreateArray(),
          *lim = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "run_id", req->run_id ? req->run_id : "");
    cJSON_AddStringToObject(j, "step", req->step);
    cJSON_AddNumberToObject(j, "attempt", req->attempt);
    for (size_t i = 0; i < req->argc; i++)
        cJSON_AddItemToArray(cmd, cJSON_CreateString(req->argv[i]));
    cJSON_AddItemToObject(j, "command", cmd);
    for (char **e = envp; *e; e++) {
        char *eq = strchr(*e, '=');
        if (!eq)
            continue;
        *eq = '\0';
        cJSON_AddStringToObject(env, *e, eq + 1);
        *eq = '=';
    }
    cJSON_AddItemToObject(j, "env", env);
    cJSON_AddNumberToObject(lim, "memory_mb", (double)req->res.memory_mb);
    cJSON_AddNumberToObject(lim, "max_runtime_s", req->res.max_runtime_s);
    cJSON_AddNumberToObject(lim, "cpu_time_s", (double)req->res.cpu_time_s);
    /* what the worker is asked to enforce (the matrix's best effort, enforce.h) */
    cJSON_AddNumberToObject(lim, "vcpu", req->res.vcpu);
    cJSON_AddNumberToObject(lim, "gpus", req->gpus);
    cJSON_AddStringToObject(lim, "instance_type", req->res.instance_type);
    cJSON_AddBoolToObject(lim, "network_isolation", req->network_isolated);
    cJSON_AddNumberToObject(lim, "volume_size_gb", req->volume_size_gb);
    cJSON_AddBoolToObject(lim, "encrypt_volume", req->encrypt_volume);
    cJSON_AddBoolToObject(lim, "interruptible", req->interruptible);
    cJSON_AddItemToObject(j, "limits", lim);
    if (req->output_path && *req->output_path)
        cJSON_AddStringToObject(j, "output_path", req->output_path);
    char *body = cJSON_PrintUnformatted(j);
    for (cJSON *v = env->child; v; v = v->next)
        if (v->valuestring)
            explicit_bzero(v->valuestring, strlen(v->valuestring));
    cJSON_Delete(j);
    coord_env_free(envp);
    if (!body) {
        snprintf(err, errsz, "out of memory building the request");
        *transient = 1;
    }
    return body;
}

/* Sets the worker's base URL (without trailing '/'); returns why the attempt cannot start (a
 * permanent failure), or NULL. */
static const char *start_problem(coord_http *h, const coord_exec_req *req)
{
    const char *url = req->worker_url ? req->worker_url : "";
    size_t ul = strlen(url);
    while (ul > 0 && url[ul - 1] == '/')
        ul--;
    if (!ul || ul >= sizeof h->base)
        return "http executor without a worker_url (set environment.worker_url)";
    memcpy(h->base, url, ul);
    h->base[ul] = '\0';
    const char *bad = coord_http_url_problem(h->base);
    if (bad)
        return bad;
    if (!req->argc || !req->argv || !req->argv[0] || !req->argv[0][0])
        return "the step has no command";
    return NULL;
}

/* POSTs the step to the worker: its id is kept, or the attempt ends UNREACHABLE (transport
 * failure, 5xx, 429, no id in the answer) or SPAWN_FAILED (refused: permanent). */
static void post_step(coord_http *h, const char *body, char *err, size_t errsz)
{
    char target[700];
    snprintf(target, sizeof target, "%s/steps", h->base);
    long status = 0;
    resp r;
    int rc = http_do(h->curl, h->auth, "POST", target, body, &status, &r, err, errsz);
    if (rc < 0 || status >= 500 || status == 429) {
        if (rc == 0)
            coord_fmt(err, errsz, "POST %s: HTTP %ld", target, status);
        set_final(h, ACMS__V1__EXIT_REASON__EXIT_REASON_UNREACHABLE, err);
    } else if (status < 200 || status >= 300) {
        h->live.permanent = 1;
        coord_fmt(err, errsz, "POST %s: HTTP %ld (the worker refused the step)", target, status);
        set_final(h, ACMS__V1__EXIT_REASON__EXIT_REASON_SPAWN_FAILED, err);
    } else {
        cJSON *j = r.p ? cJSON_Parse(r.p) : NULL;
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
        if (cJSON_IsString(id) && id->valuestring[0] && strlen(id->valuestring) < sizeof h->id)
            snprintf(h->id, sizeof h->id, "%s", id->valuestring);
        else if (cJSON_IsNumber(id))
            snprintf(h->id, sizeof h->id, "%lld", (long long)id->valuedouble);
        else
            set_final(h, ACMS__V1__EXIT_REASON__EXIT_REASON_UNREACHABLE, "the worker's answer had no step id");
        cJSON_Delete(j);
    }
    free(r.p);
}

coord_http *coord_http_start(const coord_exec_req *req, coord_exec_status *st)
{
    memset(st, 0, sizeof *st);
    coord_http *h = calloc(1, sizeof *h);
    if (!h || !(h->curl = curl_easy_init())) {
        free(h);
        snprintf(st->message, sizeof st->message, "out of memory");
        return NULL;
    }
    h->start_mono = acms_mono_ms();
    h->max_runtime_s = req->res.max_runtime_s;
    h->mem_limit_kb = req->res.memory_mb * 1024;
    h->grace_ms = req->grace_ms > 0 ? req->grace_ms : COORD_GRACE_MS;
    h->auth = req->worker_auth;
    const char *bad = start_problem(h, req);
    if (bad) {
        h->live.permanent = 1;
        set_final(h, ACMS__V1__EXIT_REASON__EXIT_REASON_SPAWN_FAILED, bad);
        *st = h->final;
        return h;
    }
    char err[512] = "";
    int transient = 0;
    char *body = request_body(req, err, sizeof err, &transient);
    if (!body) {
        h->live.permanent = !transient;
        set_final(h, ACMS__V1__EXIT_REASON__EXIT_REASON_SPAWN_FAILED, err);
        *st = h->final;
        return h;
    }
    post_step(h, body, err, sizeof err);
    explicit_bzero(body, strlen(body));
    free(body);
    h->next_poll = h->start_mono + POLL_MS;
    *st = h->done ? h->final : h->live;
    return h;
}

static uint64_t num(const cJSON *j, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    return cJSON_IsNumber(v) && v->valuedouble > 0 ? (uint64_t)v->valuedouble : 0;
}

static Acms__V1__ExitReason map_reason(const char *s, int exit_code)
{
    static const struct {
        const char *name;
        Acms__V1__ExitReason r;
    } map[] = {
        {"memory", ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY},
        {"time", ACMS__V1__EXIT_REASON__EXIT_REASON_TIME},
        {"cpu_time", ACMS__V1__EXIT_REASON__EXIT_REASON_CPU_TIME},
        {"signal", ACMS__V1__EXIT_REASON__EXIT_REASON_SIGNAL},
        {"cancelled", ACMS__V1__EXIT_REASON__EXIT_REASON_CANCELLED},
        {"spawn_failed", ACMS__V1__EXIT_REASON__EXIT_REASON_SPAWN_FAILED},
        {"nonzero", ACMS__V1__EXIT_REASON__EXIT_REASON_NONZERO},
    };
    for (size_t i = 0; s && i < sizeof map / sizeof *map; i++)
        if (!strcmp(s, map[i].name))
            return map[i].r;
    return exit_code == 0 ? ACMS__V1__EXIT_REASON__EXIT_REASON_OK : ACMS__V1__EXIT_REASON__EXIT_REASON_NONZERO;
}

static void send_delete(CURL *c, const coord_http_auth *auth, const char *base, const char *id)
{
    char url[700], err[256];
    long status;
    resp r;
    if (!id[0])
        return;
    snprintf(url, sizeof url, "%s/steps/%s", base, id);
    if (http_do(c, auth, "DELETE", url, NULL, &status, &r, err, sizeof err) == 0)
        free(r.p);
}

/* The backstops, should the worker not enforce the limits itself: past max_runtime_s (and the
 * grace) or over the memory limit, the attempt is deleted and ends. Returns 1 when it ended. */
static int backstop(coord_http *h, int64_t now)
{
    if (h->max_runtime_s && now - h->start_mono > (int64_t)h->max_runtime_s * 1000 + h->grace_ms + 1000) {
        send_delete(h->curl, h->auth, h->base, h->id);
        set_final(h, ACMS__V1__EXIT_REASON__EXIT_REASON_TIME, "max_runtime_s exceeded (stopped by the coordinator)");
        return 1;
    }
    if (h->mem_limit_kb && h->live.rss_kb > h->mem_limit_kb) {
        send_delete(h->curl, h->auth, h->base, h->id);
        set_final(h, ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY, "memory limit exceeded (stopped by the coordinator)");
        return 1;
    }
    return 0;
}

/* A finished attempt's answer (state "succeeded" or "failed"): its exit code, reason and, when it
 * failed, its stderr tail become the final status. */
static void finish(coord_http *h, const cJSON *j, const char *state)
{
    const cJSON *ec = cJSON_GetObjectItemCaseSensitive(j, "exit_code");
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(j, "reason");
    const cJSON *tail = cJSON_GetObjectItemCaseSensitive(j, "stderr_tail");
    int code = cJSON_IsNumber(ec) ? (int)ec->valuedouble : (!strcmp(state, "succeeded") ? 0 : -1);
    h->live.exit_code = code;
    Acms__V1__ExitReason reason = !strcmp(state, "succeeded")
                                      ? ACMS__V1__EXIT_REASON__EXIT_REASON_OK
                                      : map_reason(cJSON_IsString(rs) ? rs->valuestring : NULL, code);
    if (reason == ACMS__V1__EXIT_REASON__EXIT_REASON_OK && strcmp(state, "succeeded"))
        reason = ACMS__V1__EXIT_REASON__EXIT_REASON_NONZERO;
    char msg[128];
    snprintf(msg, sizeof msg, "worker: %s (exit code %d)", state, code);
    set_final(h, reason, msg);
    if (reason != ACMS__V1__EXIT_REASON__EXIT_REASON_OK && cJSON_IsString(tail))
        snprintf(h->final.stderr_tail, sizeof h->final.stderr_tail, "%s", tail->valuestring);
}

/* The worker's answer to GET (body, may be NULL): the live figures, and the final status once the
 * attempt finished. Returns 1 when it finished. */
static int take_answer(coord_http *h, const char *body)
{
    cJSON *j = body ? cJSON_Parse(body) : NULL;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "status");
    const char *state = cJSON_IsString(s) ? s->valuestring : "";
    uint64_t peak = num(j, "peak_rss_kb");
    if (peak > h->live.peak_rss_kb)
        h->live.peak_rss_kb = peak;
    h->live.rss_kb = num(j, "rss_kb");
    h->live.user_cpu_ms = num(j, "cpu_ms");
    if (num(j, "wall_ms"))
        h->live.wall_ms = num(j, "wall_ms");
    int done = !strcmp(state, "succeeded") || !strcmp(state, "failed");
    if (done)
        finish(h, j, state);
    cJSON_Delete(j);
    return done;
}

/* One GET of the attempt: a transport failure (or a 5xx) lasting UNREACHABLE_MS ends it
 * UNREACHABLE, a 404 ends it LOST, else the answer is taken. Returns 1 when it ended. */
static int ask_worker(coord_http *h, int64_t now)
{
    char url[700], err[512];
    long status = 0;
    resp r;
    snprintf(url, sizeof url, "%s/steps/%s", h->base, h->id);
    if (http_do(h->curl, h->auth, "GET", url, NULL, &status, &r, err, sizeof err) < 0 || status >= 500) {
        free(r.p);
        if (!h->fail_since)
            h->fail_since = now;
        if (now - h->fail_since < UNREACHABLE_MS)
            return 0;
        set_final(h, ACMS__V1__EXIT_REASON__EXIT_REASON_UNREACHABLE, err);
        return 1;
    }
    h->fail_since = 0;
    if (status == 404) {
        free(r.p);
        set_final(h, ACMS__V1__EXIT_REASON__EXIT_REASON_LOST, "the worker no longer knows this attempt");
        return 1;
    }
    int done = take_answer(h, r.p);
    free(r.p);
    return done;
}

int coord_http_poll(coord_http *h, int64_t now, coord_exec_status *st)
{
    if (h->done) {
        *st = h->final;
        return 1;
    }
    h->live.wall_ms = now > h->start_mono ? (uint64_t)(now - h->start_mono) : 0;
    if (now < h->next_poll) {
        *st = h->live;
        return 0;
    }
    h->next_poll = now + POLL_MS;
    int done = backstop(h, now) || ask_worker(h, now);
    *st = done ? h->final : h->live;
    return done;
}

void coord_http_cancel(coord_http *h, int64_t now)
{
    (void)now;
    if (h->done)
        return;
    send_delete(h->curl, h->auth, h->base, h->id);
    set_final(h, ACMS__V1__EXIT_REASON__EXIT_REASON_CANCELLED, "cancelled");
}

void coord_http_abandon(coord_http *h)
{
    if (h->done)
        return;
    send_delete(h->curl, h->auth, h->base, h->id);
    set_final(h, ACMS__V1__EXIT_REASON__EXIT_REASON_LOST, "abandoned by its coordinator");
}

void coord_http_free(coord_http *h)
{
    if (!h)
        return;
    if (h->curl)
        curl_easy_cleanup(h->curl);
    free(h);
}

const char *coord_http_id(const coord_http *h)
{
    return h->id;
}

void coord_http_delete(const char *worker_url, const coord_http_auth *auth, const char *id)
{
    CURL *c;
    if (!worker_url || !*worker_url || !id || !*id || coord_http_url_problem(worker_url) || !(c = curl_easy_init()))
        return;
    send_delete(c, auth, worker_url, id);
    curl_easy_cleanup(c);
}
