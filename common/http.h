/* http.h: the HTTP endpoint of every service, served by libmicrohttpd:
 *   GET /healthz  200 "ok" while the process runs and its loop makes progress, else 503 with the reason
 *   GET /readyz   200 when the ready probe says so (Kafka and Redis reachable, topics there, partitions
 *                 assigned), else 503 with the reason
 *   GET /metrics  Prometheus text exposition of an acms_metrics registry (metrics.h), with the two probes' answers
 *                 as of the scrape (acms_service_healthy, acms_service_ready: 1 or 0)
 *   anything else: the service's own handler when it gives one (acms-console's API and page), else 404
 * Only GET and HEAD are served; every answer carries X-Content-Type-Options: nosniff. */
#ifndef ACMS_HTTP_H
#define ACMS_HTTP_H

#include "acms.h"
#include "metrics.h"

typedef struct acms_http acms_http;

/* Connection limits: a connection idle (no byte in either direction) this long is closed; at most
 * ACMS_HTTP_PER_IP_LIMIT connections per client address (a slow "trickle" client holds no more than
 * that, so probes and scrapes from other addresses are still served), ACMS_HTTP_MAX_CONNECTIONS in
 * all, 32 KiB of request buffer each. */
#define ACMS_HTTP_IDLE_TIMEOUT_S 3
#define ACMS_HTTP_PER_IP_LIMIT 8
#define ACMS_HTTP_MAX_CONNECTIONS 64

/* The probes behind /readyz and /healthz: each returns non-zero when ready / healthy, else 0 with
 * the reason in why (answered with 503). Called from the server thread: they must only read flags. */
typedef struct acms_http_probes {
    int (*ready)(void *ud, char *why, size_t why_size);
    int (*healthy)(void *ud, char *why, size_t why_size); /* NULL = healthy while the process runs */
    void *ud;
} acms_http_probes;

/* Starts the endpoint on addr:port (port 0 = do nothing, returns NULL without error). */
acms_http *acms_http_start(const char *addr, int port, acms_metrics *m, const acms_http_probes *probes, char *errstr,
                           size_t errstr_size);
void acms_http_stop(acms_http *h);

/* --- a service's own paths ------------------------------------------------------------------- */
typedef struct acms_http_req acms_http_req; /* one request, valid during the handler call */

/* The answer a handler fills in. body is malloc'd and handed over (NULL = empty); content_type and
 * header names/values must outlive the call (static strings). */
#define ACMS_HTTP_MAX_HEADERS 8
typedef struct acms_http_resp {
    unsigned status;
    char *body;
    size_t len;
    const char *content_type;
    const char *headers[ACMS_HTTP_MAX_HEADERS][2];
    size_t nheaders;
} acms_http_resp;

/* Called for every GET/HEAD path other than /healthz, /readyz and /metrics, from a server thread
 * (several at once when threads > 1). Fills resp (status 0 = 404). Must not block for long. */
typedef void (*acms_http_handler)(void *ud, const acms_http_req *req, acms_http_resp *resp);

typedef struct acms_http_opts {
    const char *addr;          /* IPv4 address to bind ("0.0.0.0" in containers) */
    int port;                  /* > 0 */
    unsigned threads;          /* server threads (a pool); 0 = 1 */
    unsigned max_connections;  /* connections at once; 0 = ACMS_HTTP_MAX_CONNECTIONS (with a pool,
                                  * shared among the threads) */
    unsigned per_ip_limit;     /* connections per client address; 0 = ACMS_HTTP_PER_IP_LIMIT */
    unsigned timeout_s;        /* a connection idle this long is closed; 0 = ACMS_HTTP_IDLE_TIMEOUT_S */
    acms_http_handler handler; /* NULL = health and metrics only */
    void *handler_ud;
} acms_http_opts;

/* Starts a server with options (see acms_http_start). NULL with errstr when it cannot listen. */
acms_http *acms_http_start_opts(const acms_http_opts *o, acms_metrics *m, const acms_http_probes *probes, char *errstr,
                                size_t errstr_size);
/* The request's method ("GET", "HEAD"), path (percent-decoded, without the query), a query argument
 * (decoded; NULL when absent) and a request header (case-insensitive name; NULL when absent). */
const char *acms_http_req_method(const acms_http_req *req);
const char *acms_http_req_path(const acms_http_req *req);
const char *acms_http_req_arg(const acms_http_req *req, const char *name);
const char *acms_http_req_header(const acms_http_req *req, const char *name);
/* Adds a response header (ignored past ACMS_HTTP_MAX_HEADERS). */
void acms_http_resp_header(acms_http_resp *resp, const char *name, const char *value);

#endif
