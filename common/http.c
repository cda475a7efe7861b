/* http.c: the HTTP endpoint (libmicrohttpd, its own thread or pool): /healthz /readyz /metrics, and
 * a service's own handler for other paths. The registry behind /metrics is metrics.c. */
#include "http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct acms_http {
    struct MHD_Daemon *d;
    acms_metrics *m;
    acms_http_probes probes;
    acms_http_handler handler;
    void *handler_ud;
};

struct acms_http_req {
    struct MHD_Connection *c;
    const char *method;
    const char *path;
};

const char *acms_http_req_method(const acms_http_req *req)
{
    return req->method;
}
const char *acms_http_req_path(const acms_http_req *req)
{
    return req->path;
}

const char *acms_http_req_arg(const acms_http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->c, MHD_GET_ARGUMENT_KIND, name);
}

const char *acms_http_req_header(const acms_http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->c, MHD_HEADER_KIND, name);
}

void acms_http_resp_header(acms_http_resp *resp, const char *name, const char *value)
{
    if (resp->nheaders >= ACMS_HTTP_MAX_HEADERS)
        return;
    resp->headers[resp->nheaders][0] = name;
    resp->headers[resp->nheaders][1] = value;
    resp->nheaders++;
}

static void resp_text(acms_http_resp *r, unsigned status, const char *text)
{
    r->status = status;
    r->body = strdup(text);
    r->len = r->body ? strlen(r->body) : 0;
}

/* The built-in paths, else the service's handler, else 404. */
static void route(acms_http *h, const acms_http_req *req, acms_http_resp *r)
{
    r->content_type = "text/plain; charset=utf-8";
    if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
        resp_text(r, 405, "method not allowed\n");
        acms_http_resp_header(r, "Allow", "GET, HEAD");
    } else if (!strcmp(req->path, "/healthz") || !strcmp(req->path, "/readyz")) {
        int ready = !strcmp(req->path, "/readyz");
        int (*probe)(void *, char *, size_t) = ready ? h->probes.ready : h->probes.healthy;
        char why[400] = "", text[440];
        int ok = probe ? probe(h->probes.ud, why, sizeof why) : 1;
        if (ok)
            snprintf(text, sizeof text, "%s\n", ready ? "ready" : "ok");
        else
            snprintf(text, sizeof text, "%s: %s\n", ready ? "not ready" : "unhealthy", why[0] ? why : "unknown");
        resp_text(r, ok ? 200 : 503, text);
    } else if (!strcmp(req->path, "/metrics")) {
        /* the probes' answers as gauges, as of this scrape: a stalled loop cannot set them itself */
        char why[400];
        acms_metrics_set(h->m, "acms_service_healthy", NULL, "1 when /healthz answers 200 (the loop progresses)",
                         !h->probes.healthy || h->probes.healthy(h->probes.ud, why, sizeof why) ? 1 : 0);
        acms_metrics_set(h->m, "acms_service_ready", NULL, "1 when /readyz answers 200",
                         !h->probes.ready || h->probes.ready(h->probes.ud, why, sizeof why) ? 1 : 0);
        r->status = 200;
        r->body = acms_metrics_render(h->m);
        r->len = r->body ? strlen(r->body) : 0;
        r->content_type = "text/plain; version=0.0.4; charset=utf-8";
    } else if (h->handler) {
        h->handler(h->handler_ud, req, r);
        if (r->status == 0) {
            free(r->body);
            resp_text(r, 404, "not found\n");
        }
    } else {
        resp_text(r, 404, "not found: try /healthz, /readyz or /metrics\n");
    }
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    (void)upload;
    (void)con_cls;
    acms_http *h = cls;
    if (*upload_size) {
        *upload_size = 0; /* a body is never read: GET and HEAD only (405 below) */
        return MHD_YES;
    }
    acms_http_req req = {.c = c, .method = method, .path = url};
    acms_http_resp r = {0};
    route(h, &req, &r);
    if (!r.body && r.len) /* out of memory */
        return MHD_NO;
    struct MHD_Response *mr = MHD_create_response_from_buffer(r.len, r.body ? r.body : (char *)"",
                                                              r.body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!mr) {
        free(r.body);
        return MHD_NO;
    }
    MHD_add_response_header(mr, "Content-Type", r.content_type ? r.content_type : "text/plain; charset=utf-8");
    MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
    for (size_t i = 0; i < r.nheaders; i++)
        MHD_add_response_header(mr, r.headers[i][0], r.headers[i][1]);
    enum MHD_Result ret = MHD_queue_response(c, r.status, mr);
    MHD_destroy_response(mr);
    return ret;
}

acms_http *acms_http_start(const char *addr, int port, acms_metrics *m, const acms_http_probes *probes, char *errstr,
                           size_t errstr_size)
{
    if (port <= 0)
        return NULL;
    acms_http_opts o = {.addr = addr, .port = port};
    return acms_http_start_opts(&o, m, probes, errstr, errstr_size);
}

acms_http *acms_http_start_opts(const acms_http_opts *o, acms_metrics *m, const acms_http_probes *probes, char *errstr,
                                size_t errstr_size)
{
    acms_http *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    h->m = m;
    if (probes)
        h->probes = *probes;
    h->handler = o->handler;
    h->handler_ud = o->handler_ud;
    const char *addr = o->addr && *o->addr ? o->addr : "127.0.0.1";
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)o->port);
    if (o->port <= 0 || o->port > 65535 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        snprintf(errstr, errstr_size, "cannot listen on '%s' port %d: not an IPv4 address and port", addr, o->port);
        free(h);
        return NULL;
    }
    unsigned threads = o->threads ? o->threads : 1;
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_SOCK_ADDR, 0, &sa},
        {MHD_OPTION_CONNECTION_TIMEOUT, o->timeout_s ? o->timeout_s : ACMS_HTTP_IDLE_TIMEOUT_S, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, o->max_connections ? o->max_connections : ACMS_HTTP_MAX_CONNECTIONS, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->per_ip_limit ? o->per_ip_limit : ACMS_HTTP_PER_IP_LIMIT, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, 32 * 1024, NULL},
        {threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads, NULL}, /* one thread: no pool */
        {MHD_OPTION_END, 0, NULL},
    };
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, (uint16_t)o->port, NULL, NULL, answer,
                            h, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!h->d) {
        snprintf(errstr, errstr_size, "cannot listen on %s:%d (port in use?)", addr, o->port);
        free(h);
        return NULL;
    }
    return h;
}

void acms_http_stop(acms_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    free(h);
}
