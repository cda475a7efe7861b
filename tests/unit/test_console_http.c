/* acms-console over real HTTP on loopback (libcurl) and a real redis-server, reached as a Redis user
 * that may only read (an ACL user with +@read: any write would be refused). The page and its
 * headers (CSP, nosniff), no path outside the page, the bearer token on /api/ only, the run list and
 * its filters, a run's view (DAG layers, a plain-text credential redacted, alerts in time order, the
 * verdict, findings, the learned recommendation), a pipeline name full of markup returned as data,
 * stored configurations with masked texts and diffs, 405 for other methods, metrics per route,
 * readiness and 503 when Redis is gone; then servers of their own show the connection limit and the
 * idle timeout (each waited for as an event, with a generous deadline). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <errno.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "adapter/adapter.h"
#include "console/console.h"
#include "console/mask.h"
#include "doc.h"
#include "redis_fixture.h"
#include "config_store.h"

#define TOKEN "s3cr3t-t0ken"
#define XSS "<img src=x onerror=alert(1)>"

typedef struct fx {
    fx_redis srv;
    console *c;
    acms_http *h;
    acms_metrics *m;
    int port;
} fx;

typedef struct answer {
    long status;
    char body[1 << 17];
    size_t len;
    char headers[8192];
    size_t hlen;
} answer;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    answer *a = ud;
    size_t k = sz * n;
    if (a->len + k < sizeof a->body) {
        memcpy(a->body + a->len, p, k);
        a->len += k;
        a->body[a->len] = '\0';
    }
    return k;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    answer *a = ud;
    size_t k = sz * n;
    if (a->hlen + k < sizeof a->headers) {
        memcpy(a->headers + a->hlen, p, k);
        a->hlen += k;
        a->headers[a->hlen] = '\0';
    }
    return k;
}

/* One request (method NULL = GET); auth is the whole Authorization header value or NULL. */
static answer *req(int port, const char *method, const char *path, const char *auth)
{
    static answer a;
    memset(&a, 0, sizeof a);
    char url[512], hdr[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    struct curl_slist *hs = NULL;
    if (auth) {
        snprintf(hdr, sizeof hdr, "Authorization: %s", auth);
        hs = curl_slist_append(hs, hdr);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &a);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    if (method)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.status);
    curl_slist_free_all(hs);
    curl_easy_cleanup(c);
    return &a;
}

static answer *api(fx *f, const char *path) { return req(f->port, NULL, path, "Bearer " TOKEN); }

static cJSON *json_of(const answer *a, long status)
{
    assert_int_equal(a->status, status);
    assert_non_null(strstr(a->headers, "application/json"));
    cJSON *j = cJSON_Parse(a->body);
    assert_non_null(j);
    return j;
}

static void redis_ok(acms_redis *r, redisReply *rep)
{
    (void)r;
    assert_non_null(rep);
    assert_int_not_equal(rep->type, REDIS_REPLY_ERROR);
    freeReplyObject(rep);
}

/* --- the data a real stack leaves ---------------------------------------------------------------- */

static const char *const pipeline_yaml =
    "apiVersion: acms/v1\nkind: Pipeline\nmetadata: {name: p1}\nspec:\n  steps:\n"
    "    - {name: prep, type: processing, command: [\"true\"], env: {DB_PASSWORD: hunter2-hunter2}}\n"
    "    - {name: train, type: training, command: [\"false\"], depends_on: [prep]}\n";

static void seed_runtime(acms_redis *r)
{
    acms_arena *a = acms_arena_new(0);
    Acms__V1__Value **docs = NULL;
    size_t n = 0;
    char err[256];
    assert_int_equal(acms_doc_parse(a, pipeline_yaml, strlen(pipeline_yaml), &docs, &n, err, sizeof err), ACMS_OK);
    acms_issues is;
    acms_issues_init(&is, a, "syntax");
    Acms__V1__RuntimeConfiguration *rc = acms_pb_new(a, &acms__v1__runtime_configuration__descriptor);
    assert_int_equal(acms_doc_to_pipeline(a, docs[0], &rc->pipeline, &is), ACMS_OK);
    uint8_t *buf;
    size_t len;
    assert_int_equal(acms_pb_pack(&rc->base, &buf, &len), ACMS_OK);
    redis_ok(r, acms_redis_cmd(r, "SET acms:run:r1:runtime %b", buf, len));
    free(buf);
    acms_arena_free(a);
}

/* The verdict as the validator keeps it: one packed ValidationResult. */
static void seed_verdict(acms_redis *r)
{
    acms_arena *a = acms_arena_new(0);
    Acms__V1__ValidationResult *res = acms_pb_new(a, &acms__v1__validation_result__descriptor);
    Acms__V1__ValidationIssue *is = acms_pb_new(a, &acms__v1__validation_issue__descriptor);
    Acms__V1__ValidationSuggestion *sg = acms_pb_new(a, &acms__v1__validation_suggestion__descriptor);
    sg->text = "fix it";
    sg->confidence = 0.9;
    is->code = "X";
    is->message = "m";
    is->suggestions = acms_arena_alloc(a, sizeof *is->suggestions);
    is->suggestions[0] = sg;
    is->n_suggestions = 1;
    res->issues = acms_arena_alloc(a, sizeof *res->issues);
    res->issues[0] = is;
    res->n_issues = 1;
    uint8_t *buf;
    size_t len;
    assert_int_equal(acms_pb_pack(&res->base, &buf, &len), ACMS_OK);
    redis_ok(r, acms_redis_cmd(r, "RPUSH acms:run:r1:validation %b", buf, len));
    free(buf);
    acms_arena_free(a);
}

static void seed(acms_redis *r)
{
    redis_ok(r, acms_redis_cmd(r, "HSET acms:run:r1 run_id r1 pipeline p1 environment dev status failed "
                                  "submitted_ms 1000 finished_ms 3000 steps_total 2 steps_done 2"));
    redis_ok(r, acms_redis_cmd(r, "HSET acms:run:r2 run_id r2 pipeline %s environment prod status rejected "
                                  "submitted_ms 2000 reason %s",
                               XSS, "metadata.name: " XSS " is not a valid name"));
    redis_ok(r, acms_redis_cmd(r, "ZADD acms:runs 1000 r1 2000 r2"));
    redis_ok(r, acms_redis_cmd(r, "RPUSH acms:run:r1:steps prep train"));
    redis_ok(r, acms_redis_cmd(r, "HSET acms:run:r1:step:prep status succeeded attempt 1"));
    redis_ok(r, acms_redis_cmd(r, "HSET acms:run:r1:step:train status failed attempt 1 memory_mb 512 attempts %s",
                               "[{\"attempt\":1,\"reason\":\"NONZERO\",\"cause\":\"exited with code 1\","
                               "\"stderr_tail\":\"reading\\nDB_PASSWORD=hunter2-hunter2\\n\"}]"));
    redis_ok(r, acms_redis_cmd(r, "RPUSH acms:run:r1:adaptations %s",
                               "{\"stage\":\"environment\",\"step\":\"prep\",\"field\":\"executor\","
                               "\"new_value\":\"local\",\"reason\":\"default of environment dev\",\"applied\":true}"));
    seed_verdict(r);
    redis_ok(r, acms_redis_cmd(r, "HSET acms:run:r1:alerts e2 %s e1 %s",
                               "{\"name\":\"Second\",\"starts_at_ms\":2500}", "{\"name\":\"First\",\"starts_at_ms\":2100}"));
    redis_ok(r, acms_redis_cmd(r, "HSET acms:run:r1:findings f1 %s",
                               "{\"step\":\"train\",\"meta\":{\"timestamp_ms\":2200},\"result\":{\"valid\":false}}"));
    redis_ok(r, acms_redis_cmd(r, "HSET acms:learn:rec:p1:train memory_mb 300 reason learned"));
    redis_ok(r, acms_redis_cmd(r, "ACL SETUSER console on >pw ~acms:* resetchannels -@all +@read +ping +select"));
    seed_runtime(r);
    char err[256] = "";
    acms_store *st = acms_store_open("redis", r, err, sizeof err);
    acms_arena *a = acms_arena_new(0);
    acms_store_doc *d;
    int created;
    const char *v1 = "apiVersion: acms/v1\nkind: Pipeline\nmetadata: {name: cfg}\nspec:\n  steps:\n"
                     "    - {name: a, type: processing, command: [\"true\"]}\n";
    const char *v2 = "apiVersion: acms/v1\nkind: Pipeline\nmetadata: {name: cfg}\nspec:\n  steps:\n"
                     "    - {name: a, type: processing, command: [\"true\"], env: {API_TOKEN: tok-9f8e7d6c5b}}\n";
    assert_int_equal(acms_store_put(st, a, v1, strlen(v1), &d, &created, err, sizeof err), ACMS_OK);
    assert_int_equal(acms_store_put(st, a, v2, strlen(v2), &d, &created, err, sizeof err), ACMS_OK);
    acms_arena_free(a);
    acms_store_close(st);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    *state = f;
    if (fx_redis_start(&f->srv) != 0)
        return -1;
    seed(f->srv.r);
    const char *repo = getenv("ACMS_REPO");
    console_opts o = {.token = TOKEN, .threads = 2, .max_connections = 16, .timeout_s = 5};
    snprintf(o.web_dir, sizeof o.web_dir, "%s/services/console/web", repo ? repo : ".");
    char url[128], err[512] = "";
    snprintf(url, sizeof url, "redis://console:pw@127.0.0.1:%d", f->srv.port);
    f->m = acms_metrics_new("acms-console");
    f->c = console_new(&o, url, f->m, err, sizeof err);
    if (!f->c) {
        fprintf(stderr, "console_new: %s\n", err);
        return -1;
    }
    f->port = fx_redis_free_port();
    acms_http_opts ho = {.addr = "127.0.0.1", .port = f->port, .threads = 2, .max_connections = 16,
                         .timeout_s = 5, .handler = console_handle, .handler_ud = f->c};
    acms_http_probes probes = {.ready = console_ready, .ud = f->c};
    f->h = acms_http_start_opts(&ho, f->m, &probes, err, sizeof err);
    return f->h ? 0 : -1;
}

static int teardown(void **state)
{
    fx *f = *state;
    acms_http_stop(f->h);
    console_free(f->c);
    acms_metrics_free(f->m);
    fx_redis_stop(&f->srv);
    free(f);
    return 0;
}

/* --- the page ------------------------------------------------------------------------------------ */

static void test_page(void **state)
{
    fx *f = *state;
    answer *a = req(f->port, NULL, "/", NULL); /* the page needs no token: it holds no data */
    assert_int_equal(a->status, 200);
    assert_non_null(strstr(a->body, "<script src=\"app.js\"></script>"));
    assert_non_null(strstr(a->headers, "Content-Security-Policy: default-src 'none'; script-src 'self'"));
    assert_non_null(strstr(a->headers, "X-Content-Type-Options: nosniff"));
    assert_non_null(strstr(a->headers, "text/html"));
    a = req(f->port, NULL, "/app.js", NULL);
    assert_int_equal(a->status, 200);
    assert_non_null(strstr(a->headers, "text/javascript"));
    assert_int_equal(req(f->port, NULL, "/../console.c", NULL)->status, 404);
    assert_int_equal(req(f->port, NULL, "/%2e%2e/console.c", NULL)->status, 404);
    assert_int_equal(req(f->port, NULL, "/web/app.js", NULL)->status, 404);
    assert_int_equal(req(f->port, NULL, "/nothing.js", NULL)->status, 404);
    a = req(f->port, "POST", "/api/runs", "Bearer " TOKEN);
    assert_int_equal(a->status, 405);
    assert_non_null(strstr(a->headers, "Allow: GET, HEAD"));
}

static void test_token(void **state)
{
    fx *f = *state;
    answer *a = req(f->port, NULL, "/api/runs", NULL);
    assert_int_equal(a->status, 401);
    assert_non_null(strstr(a->headers, "WWW-Authenticate: Bearer"));
    assert_null(strstr(a->body, "r1"));
    assert_int_equal(req(f->port, NULL, "/api/runs", "Bearer " TOKEN "x")->status, 401);
    assert_int_equal(req(f->port, NULL, "/api/runs", "Bearer s3cr3t")->status, 401);
    assert_int_equal(req(f->port, NULL, "/api/runs/r1", "Basic " TOKEN)->status, 401);
    assert_int_equal(req(f->port, NULL, "/api/configs", NULL)->status, 401);
    assert_int_equal(req(f->port, NULL, "/api/runs", "bearer " TOKEN)->status, 200);
    assert_int_equal(req(f->port, NULL, "/healthz", NULL)->status, 200);
}

/* --- runs ---------------------------------------------------------------------------------------- */

static void test_run_list(void **state)
{
    fx *f = *state;
    cJSON *j = json_of(api(f, "/api/runs"), 200), *runs = cJSON_GetObjectItem(j, "runs");
    assert_int_equal(cJSON_GetArraySize(runs), 2);
    /* markup in a pipeline name is data: the very string, inside JSON */
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(runs, 0), "pipeline")->valuestring, XSS);
    cJSON_Delete(j);
    j = json_of(api(f, "/api/runs?env=dev&status=failed"), 200);
    runs = cJSON_GetObjectItem(j, "runs");
    assert_int_equal(cJSON_GetArraySize(runs), 1);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(runs, 0), "run_id")->valuestring, "r1");
    cJSON_Delete(j);
    j = json_of(api(f, "/api/runs?limit=1"), 200);
    assert_non_null(cJSON_GetObjectItem(j, "next"));
    cJSON_Delete(j);
    cJSON_Delete(json_of(api(f, "/api/runs?limit=0"), 400));
    cJSON_Delete(json_of(api(f, "/api/runs?before_ms=x"), 400));
}

static cJSON *get(const cJSON *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *cur = o;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && cur; k = strtok_r(NULL, ".", &save))
        cur = cJSON_IsArray(cur) ? cJSON_GetArrayItem(cur, atoi(k)) : cJSON_GetObjectItem(cur, k);
    return (cJSON *)cur;
}

static void test_run_view(void **state)
{
    fx *f = *state;
    answer *a = api(f, "/api/runs/r1");
    assert_null(strstr(a->body, "hunter2")); /* in the pipeline's env and in the output tail */
    cJSON *j = json_of(a, 200);
    assert_string_equal(get(j, "run.status")->valuestring, "failed");
    assert_int_equal(cJSON_GetArraySize(get(j, "run.steps")), 2);
    assert_string_equal(get(j, "run.steps.1.attempts.0.cause")->valuestring, "exited with code 1");
    assert_string_equal(get(j, "run.adaptations.0.reason")->valuestring, "default of environment dev");
    assert_string_equal(get(j, "graph.nodes.0.name")->valuestring, "prep");
    assert_int_equal((int)get(j, "graph.nodes.0.layer")->valuedouble, 0);
    assert_int_equal((int)get(j, "graph.nodes.1.layer")->valuedouble, 1);
    assert_string_equal(get(j, "graph.nodes.1.depends_on.0")->valuestring, "prep");
    assert_string_equal(get(j, "graph.nodes.0.env.0.value")->valuestring, ADAPTER_REDACTED);
    assert_true(cJSON_IsObject(get(j, "validation")));
    assert_false(cJSON_IsTrue(get(j, "validation.valid"))); /* false: left out, as in proto3 JSON */
    assert_string_equal(get(j, "validation.issues.0.suggestions.0.text")->valuestring, "fix it");
    assert_string_equal(get(j, "alerts.0.name")->valuestring, "First"); /* in time order */
    assert_string_equal(get(j, "alerts.1.name")->valuestring, "Second");
    assert_string_equal(get(j, "findings.0.step")->valuestring, "train");
    assert_int_equal((int)get(j, "recommendations.train.memory_mb")->valuedouble, 300);
    assert_null(get(j, "recommendations.prep"));
    cJSON_Delete(j);
    j = json_of(api(f, "/api/runs/r2"), 200);
    assert_string_equal(get(j, "run.pipeline")->valuestring, XSS);
    assert_true(cJSON_IsNull(get(j, "graph")));
    cJSON_Delete(j);
    cJSON_Delete(json_of(api(f, "/api/runs/nope"), 404));
    cJSON_Delete(json_of(api(f, "/api/runs/a%20b"), 400));
    cJSON_Delete(json_of(api(f, "/api/runs/a%2Fb"), 400));
    cJSON_Delete(json_of(api(f, "/api/elsewhere"), 404));
}

/* --- stored configurations ----------------------------------------------------------------------- */

static void test_configs(void **state)
{
    fx *f = *state;
    cJSON *j = json_of(api(f, "/api/configs"), 200);
    assert_string_equal(get(j, "configs.0.id")->valuestring, "cfg");
    assert_int_equal((int)get(j, "configs.0.version")->valuedouble, 2);
    cJSON_Delete(j);
    j = json_of(api(f, "/api/configs/cfg"), 200);
    assert_int_equal(cJSON_GetArraySize(get(j, "versions")), 2);
    cJSON_Delete(j);
    answer *a = api(f, "/api/configs/cfg/versions/2");
    assert_null(strstr(a->body, "9f8e7d6c5b"));
    j = json_of(a, 200);
    assert_non_null(strstr(get(j, "document")->valuestring, "API_TOKEN: " CONSOLE_MASK));
    assert_int_equal((int)get(j, "masked_values")->valuedouble, 1);
    assert_string_equal(get(j, "ref")->valuestring, "cfg@2");
    cJSON_Delete(j);
    a = api(f, "/api/configs/cfg/diff?from=1&to=2");
    assert_null(strstr(a->body, "9f8e7d6c5b"));
    j = json_of(a, 200);
    assert_false(cJSON_IsTrue(get(j, "identical")));
    assert_int_equal((int)get(j, "changed_lines")->valuedouble, 2);
    assert_non_null(strstr(get(j, "diff")->valuestring, "+    - {name: a"));
    cJSON_Delete(j);
    j = json_of(api(f, "/api/configs/cfg/diff"), 200); /* default: the latest against the one before */
    assert_string_equal(get(j, "from")->valuestring, "cfg@1");
    cJSON_Delete(j);
    cJSON_Delete(json_of(api(f, "/api/configs/cfg/versions/7"), 404));
    cJSON_Delete(json_of(api(f, "/api/configs/cfg/versions/x"), 400));
    cJSON_Delete(json_of(api(f, "/api/configs/cfg/diff?from=0"), 400));
    cJSON_Delete(json_of(api(f, "/api/configs/.hidden"), 400));
    cJSON_Delete(json_of(api(f, "/api/configs/none"), 404));
}

static void test_metrics_and_readiness(void **state)
{
    fx *f = *state;
    assert_int_equal(req(f->port, NULL, "/readyz", NULL)->status, 200);
    answer *a = req(f->port, NULL, "/metrics", NULL);
    assert_non_null(strstr(a->body, "acms_console_requests_total{route=\"run\",code=\"200\"}"));
    assert_non_null(strstr(a->body, "acms_console_requests_total{route=\"unauthorized\",code=\"401\"}"));
    fx_redis_kill(&f->srv); /* Redis gone: not ready, and the API says so */
    assert_int_equal(req(f->port, NULL, "/readyz", NULL)->status, 503);
    cJSON_Delete(json_of(api(f, "/api/runs"), 503));
    cJSON_Delete(json_of(api(f, "/api/runs/r1"), 503));
    assert_int_equal(req(f->port, NULL, "/", NULL)->status, 200); /* the page still loads */
}

/* --- connections -------------------------------------------------------------------------------- */

static int connect_to(int port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(s, (struct sockaddr *)&sa, sizeof sa), 0);
    struct timeval tv = {.tv_sec = 0, .tv_usec = 200 * 1000};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return s;
}

/* Seconds until the server closed s (it sends nothing first), or -1 when still open after limit_s. */
static double closed_within(int s, double limit_s)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        char b;
        ssize_t n = recv(s, &b, 1, 0);
        clock_gettime(CLOCK_MONOTONIC, &t);
        double el = (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            return el;
        if (el > limit_s)
            return -1;
    }
}

/* One GET /healthz on a new connection: 1 when answered 200 OK, 0 when the server closed it unanswered. */
static int healthz_answered(int port)
{
    int d = connect_to(port);
    const char *get = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    char buf[256] = "";
    size_t got = 0;
    if (send(d, get, strlen(get), MSG_NOSIGNAL) == (ssize_t)strlen(get)) {
        for (int i = 0; i < 150 && got < sizeof buf - 1; i++) { /* 200 ms receive timeout each */
            ssize_t n = recv(d, buf + got, sizeof buf - 1 - got, 0);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
                break;
            if (n > 0)
                got += (size_t)n;
        }
    }
    close(d);
    if (!strstr(buf, "200 OK"))
        usleep(100 * 1000);
    return strstr(buf, "200 OK") != NULL;
}

/* At most max_connections at once: one more is closed unanswered, and once a connection is gone a
 * new one is served. The idle timeout is an hour here, so only the limit can close a connection. */
static void test_connection_limit(void **state)
{
    (void)state;
    int port = fx_redis_free_port();
    char err[256] = "";
    acms_http_opts ho = {.addr = "127.0.0.1", .port = port, .threads = 1, .max_connections = 2, .timeout_s = 3600};
    acms_http *h = acms_http_start_opts(&ho, NULL, NULL, err, sizeof err);
    assert_non_null(h);
    int a = connect_to(port), b = connect_to(port), c = connect_to(port);
    assert_true(closed_within(c, 30) >= 0); /* over the limit: closed without an answer */
    close(a);
    /* room again: a request is answered (the server counts a connection until it has cleaned it up,
     * a moment after the client's close, so a new one may still be turned away: try again) */
    int answered = 0;
    for (int tries = 0; tries < 100 && !answered; tries++)
        answered = healthz_answered(port);
    assert_true(answered);
    close(b);
    close(c);
    acms_http_stop(h);
}

/* A connection that sends nothing is closed after timeout_s (seen as the close itself, with a
 * generous deadline; nothing is timed). */
static void test_idle_timeout(void **state)
{
    (void)state;
    int port = fx_redis_free_port();
    char err[256] = "";
    acms_http_opts ho = {.addr = "127.0.0.1", .port = port, .threads = 2, .max_connections = 16, .timeout_s = 1};
    acms_http *h = acms_http_start_opts(&ho, NULL, NULL, err, sizeof err);
    assert_non_null(h);
    int a = connect_to(port);
    const char *partial = "GET /healthz HTTP/1.1\r\nHost: x\r\n"; /* a request never finished */
    int b = connect_to(port);
    assert_int_equal(send(b, partial, strlen(partial), MSG_NOSIGNAL), (ssize_t)strlen(partial));
    assert_true(closed_within(a, 30) >= 0);
    assert_true(closed_within(b, 30) >= 0);
    close(a);
    close(b);
    acms_http_stop(h);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page),
        cmocka_unit_test(test_token),
        cmocka_unit_test(test_run_list),
        cmocka_unit_test(test_run_view),
        cmocka_unit_test(test_configs),
        cmocka_unit_test(test_metrics_and_readiness), /* last: stops Redis */
    };
    const struct CMUnitTest alone[] = {cmocka_unit_test(test_connection_limit), cmocka_unit_test(test_idle_timeout)};
    int rc = cmocka_run_group_tests(tests, setup, teardown) | cmocka_run_group_tests(alone, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
