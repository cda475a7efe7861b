/* console.c: the console's context, its options, and the request path: headers every answer
 * carries, the bearer token on /api/, routing to the API or the page, metrics per route. */
#include "console.h"

#include "log.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keys.h"
#include "pb.h"

/* --- options ------------------------------------------------------------------------------------ */

/* An unsigned variable in [lo, hi], def when unset. ACMS_OK or ACMS_ERR_INVALID (errstr). */
static int env_uint(const char *name, unsigned def, unsigned lo, unsigned hi, unsigned *out, char *errstr,
                    size_t errstr_size)
{
    const char *v = getenv(name);
    char *end = NULL;
    *out = def;
    if (!v || !*v)
        return ACMS_OK;
    unsigned long n = strtoul(v, &end, 10);
    if (*end || n < lo || n > hi) {
        snprintf(errstr, errstr_size, "%s='%s': expected a whole number from %u to %u", name, v, lo, hi);
        return ACMS_ERR_INVALID;
    }
    *out = (unsigned)n;
    return ACMS_OK;
}

int console_opts_load(console_opts *o, const char *exe_dir, char *errstr, size_t errstr_size)
{
    memset(o, 0, sizeof *o);
    const char *tok = getenv("ACMS_CONSOLE_TOKEN"), *store = getenv("ACMS_CONFIG_STORE");
    if (tok && strlen(tok) >= sizeof o->token) {
        snprintf(errstr, errstr_size, "ACMS_CONSOLE_TOKEN: longer than %zu bytes", sizeof o->token - 1);
        return ACMS_ERR_INVALID;
    }
    snprintf(o->token, sizeof o->token, "%s", tok ? tok : "");
    snprintf(o->store, sizeof o->store, "%s", store ? store : "");
    if (env_uint("ACMS_CONSOLE_THREADS", 4, 1, 64, &o->threads, errstr, errstr_size) ||
        env_uint("ACMS_CONSOLE_MAX_CONNECTIONS", 64, 1, 10000, &o->max_connections, errstr, errstr_size) ||
        env_uint("ACMS_CONSOLE_TIMEOUT_S", 15, 1, 3600, &o->timeout_s, errstr, errstr_size))
        return ACMS_ERR_INVALID;
    return console_web_locate(getenv("ACMS_CONSOLE_WEB_DIR"), exe_dir, o->web_dir, sizeof o->web_dir, errstr,
                              errstr_size);
}

/* --- life ---------------------------------------------------------------------------------------- */

/* Encrypted stored configurations open with the services' key provider (crypt.h): the key ring of
 * ACMS_MASTER_KEY_FILE (and _PREVIOUS), or Vault's transit engine (ACMS_MASTER_KEY_TRANSIT) through
 * a Vault client of the console's own (VAULT_ADDR and its login variables), which the request
 * threads share (vault.h: thread-safe). */
static int open_crypt(console *c, char *errstr, size_t errstr_size)
{
    int rc = acms_vault_from_env(&c->vault, errstr, errstr_size);
    if (rc == ACMS_OK)
        rc = acms_crypt_from_env(&c->crypt, c->vault, errstr, errstr_size);
    if (rc != ACMS_OK)
        return rc;
    if (c->crypt)
        acms_log_info(NULL, NULL, "encrypted configurations open with master key %s", acms_crypt_key_id(c->crypt));
    return ACMS_OK;
}

console *console_new(const console_opts *o, const char *redis_url, acms_metrics *m, char *errstr, size_t errstr_size)
{
    console *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    c->opts = *o;
    c->metrics = m;
    if (console_web_load(&c->web, o->web_dir, errstr, errstr_size) != ACMS_OK) {
        free(c);
        return NULL;
    }
    c->pool = console_pool_new(redis_url, o->threads, m, errstr, errstr_size);
    if (!c->pool || open_crypt(c, errstr, errstr_size) != ACMS_OK) {
        console_free(c);
        return NULL;
    }
    return c;
}

void console_free(console *c)
{
    if (!c)
        return;
    console_pool_free(c->pool);
    console_web_release(&c->web);
    acms_crypt_free(c->crypt);
    acms_vault_free(c->vault); /* after the key ring, which borrows it */
    explicit_bzero(c->opts.token, sizeof c->opts.token);
    free(c);
}

int console_ready(void *ud, char *why, size_t why_size)
{
    console *c = ud;
    acms_redis *r = console_pool_get(c->pool);
    int ok = acms_redis_ping(r) == ACMS_OK;
    console_pool_put(c->pool, r);
    if (!ok)
        snprintf(why, why_size, "Redis does not answer");
    return ok;
}

/* --- answers ----------------------------------------------------------------------------------- */

void console_json(acms_http_resp *resp, unsigned status, cJSON *j)
{
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    resp->status = s ? status : 500;
    resp->body = s ? s : strdup("{\"error\":{\"code\":500,\"message\":\"out of memory\"}}");
    resp->len = resp->body ? strlen(resp->body) : 0;
    resp->content_type = "application/json; charset=utf-8";
    acms_http_resp_header(resp, "Cache-Control", "no-store");
}

void console_error(acms_http_resp *resp, unsigned status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *j = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(j, "error");
    cJSON_AddNumberToObject(e, "code", status);
    cJSON_AddStringToObject(e, "message", msg);
    console_json(resp, status, j);
}

int console_valid_run_id(const char *s)
{
    return s && acms_id_problem(s) == NULL; /* the rule every service decodes ids by (keys.h) */
}

/* --- the request path ------------------------------------------------------------------------- */

/* With a token configured: does the request carry it? Compared as SHA-256 digests in constant time,
 * so neither the token's bytes nor its length show in the time taken. */
static int authorized(const console *c, const acms_http_req *req)
{
    if (!c->opts.token[0])
        return 1;
    const char *h = acms_http_req_header(req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    char want[65], got[65];
    acms_sha256_hex(c->opts.token, strlen(c->opts.token), want);
    acms_sha256_hex(h + 7, strlen(h + 7), got);
    return CRYPTO_memcmp(want, got, 64) == 0;
}

static void page_headers(acms_http_resp *resp)
{
    acms_http_resp_header(resp, "Content-Security-Policy",
                          "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                          "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    acms_http_resp_header(resp, "X-Frame-Options", "DENY");
    acms_http_resp_header(resp, "Referrer-Policy", "no-referrer");
}

static void serve_file(const console *c, const char *path, acms_http_resp *resp)
{
    const console_file *f = console_web_find(&c->web, path);
    if (!f)
        return; /* 404 */
    resp->status = 200;
    resp->body = malloc(f->len ? f->len : 1);
    if (resp->body)
        memcpy(resp->body, f->data, f->len);
    resp->len = f->len;
    resp->content_type = f->type;
    acms_http_resp_header(resp, "Cache-Control", "no-cache");
}

/* /api/...: the route's metric label. */
static const char *api(console *c, const char *path, const acms_http_req *req, acms_http_resp *resp)
{
    if (!authorized(c, req)) {
        console_error(resp, 401, "a bearer token is required (Authorization: Bearer <ACMS_CONSOLE_TOKEN>)");
        acms_http_resp_header(resp, "WWW-Authenticate", "Bearer realm=\"acms-console\"");
        return "unauthorized";
    }
    const char *route = "unknown";
    acms_redis *r = console_pool_get(c->pool);
    if (!strcmp(path, "/api/runs")) {
        route = "runs";
        console_api_runs(c, r, req, resp);
    } else if (!strncmp(path, "/api/runs/", 10)) {
        route = "run";
        console_api_run(c, r, path + 10, resp);
    } else if (!strcmp(path, "/api/configs") || !strncmp(path, "/api/configs/", 13)) {
        route = "configs";
        console_api_configs(c, r, path + 12, req, resp);
    } else {
        console_error(resp, 404, "no such API path");
    }
    console_pool_put(c->pool, r);
    return route;
}

void console_handle(void *ud, const acms_http_req *req, acms_http_resp *resp)
{
    console *c = ud;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const char *path = acms_http_req_path(req), *route = "page";
    page_headers(resp);
    if (!strcmp(path, "/api") || !strncmp(path, "/api/", 5))
        route = api(c, path, req, resp);
    else
        serve_file(c, path, resp);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    char lbl[96];
    snprintf(lbl, sizeof lbl, "route=\"%s\",code=\"%u\"", route, resp->status ? resp->status : 404);
    acms_metrics_add(c->metrics, "acms_console_requests_total", lbl, "Console requests by route and status", 1);
    snprintf(lbl, sizeof lbl, "route=\"%s\"", route);
    acms_metrics_observe(c->metrics, "acms_console_request_seconds", lbl, "Time to answer a console request",
                         (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
}
