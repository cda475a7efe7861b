/* console.h: acms-console, the read-only web console: a JSON API over Redis and the page that uses it,
 * served on the endpoint every service has (common/http.h), beside /healthz, /readyz and /metrics.
 *   GET /                                   the page (web/, static files read once at start)
 *   GET /api/runs?env=&pipeline=&status=&limit=&before_ms=&skip=   recent runs, newest first
 *   GET /api/runs/<run>                     a run: steps and attempts, the DAG, adaptations, the
 *                                           validation verdict, runtime findings, alerts, feedback,
 *                                           learned recommendations
 *   GET /api/configs                        stored configurations (latest version of each id)
 *   GET /api/configs/<id>                   the versions of one id
 *   GET /api/configs/<id>/versions/<n>      one version's text
 *   GET /api/configs/<id>/diff?from=A&to=B  the unified diff of two versions
 * Invariants: nothing is ever written (no handler sends a write command); no secret value is shown
 * (stored documents, pipelines and output tails pass through mask.h; references stay); with a token
 * (ACMS_CONSOLE_TOKEN) every /api/ request needs "Authorization: Bearer <token>" (compared in
 * constant time); every answer carries a Content-Security-Policy that lets the page run only its own
 * script, so text from runs can never run as code even if a renderer slipped. */
#ifndef CONSOLE_CONSOLE_H
#define CONSOLE_CONSOLE_H

#include <cjson/cJSON.h>

#include "cfg.h"
#include "crypt.h"
#include "http.h"
#include "pool.h"
#include "web.h"

#define CONSOLE_DEFAULT_PORT 8090
#define CONSOLE_MAX_TOKEN 256

/* What the console reads beside acms_cfg (environment variables, docs/configuration.md). */
typedef struct console_opts {
    char web_dir[1024];            /* ACMS_CONSOLE_WEB_DIR, else found beside the program */
    char token[CONSOLE_MAX_TOKEN]; /* ACMS_CONSOLE_TOKEN ("" = no token asked); never logged */
    char store[512];               /* ACMS_CONFIG_STORE ("" = redis) */
    unsigned threads;              /* ACMS_CONSOLE_THREADS, 1..64, default 4: server threads = Redis connections */
    unsigned max_connections;      /* ACMS_CONSOLE_MAX_CONNECTIONS, 1..10000, default 64 */
    unsigned timeout_s;            /* ACMS_CONSOLE_TIMEOUT_S, 1..3600, default 15: idle connection timeout */
} console_opts;

/* Reads the options from the environment; exe_dir is the program's directory (to find the page).
 * ACMS_OK, or ACMS_ERR_INVALID / ACMS_ERR_NOTFOUND with errstr naming the variable or the place. */
int console_opts_load(console_opts *o, const char *exe_dir, char *errstr, size_t errstr_size);

typedef struct console {
    console_opts opts;
    console_web web;
    console_pool *pool;
    acms_metrics *metrics; /* borrowed */
    acms_crypt *crypt;     /* the master key (file key ring or Vault transit), NULL without one (crypt.h) */
    acms_vault *vault;     /* VAULT_ADDR's client (transit), NULL without it */
} console;

/* The console over Redis at redis_url: loads the page and opens the connections. NULL with errstr. */
console *console_new(const console_opts *o, const char *redis_url, acms_metrics *m, char *errstr, size_t errstr_size);
void console_free(console *c);
/* The server's handler (acms_http_handler) and readiness probe (Redis answers PING; else 0 and why). */
void console_handle(void *ud, const acms_http_req *req, acms_http_resp *resp);
int console_ready(void *ud, char *why, size_t why_size);

/* --- inside the console ------------------------------------------------------------------------ */
/* Answers with j (deleted here) as JSON. */
void console_json(acms_http_resp *resp, unsigned status, cJSON *j);
/* Answers {"error": {"code": status, "message": ...}}. */
void console_error(acms_http_resp *resp, unsigned status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* 1 when s is usable as a run id in a key (keys.h: [A-Za-z0-9._-], at most ACMS_MAX_ID). */
int console_valid_run_id(const char *s);

/* api_runs.c */
void console_api_runs(console *c, acms_redis *r, const acms_http_req *req, acms_http_resp *resp);
void console_api_run(console *c, acms_redis *r, const char *run_id, acms_http_resp *resp);
/* api_configs.c: path is what follows "/api/configs" ("", "/<id>", "/<id>/versions/<n>", "/<id>/diff"). */
void console_api_configs(console *c, acms_redis *r, const char *path, const acms_http_req *req, acms_http_resp *resp);

#endif
