/* http.c: the metrics registry and the HTTP endpoint (libmicrohttpd, its own thread or pool):
 * /healthz /readyz /metrics, and a service's own handler for other paths. Series are kept in
 * insertion order; families (name, help, type) render together as the Prometheus text format
 * requires. One mutex guards the registry. */
#include "http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM };

static const double buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

typedef struct series {
    char *name;
    char *labels;
    char *help;
    int kind;
    double value;                /* counter/gauge; histogram: sum */
    unsigned long long count;    /* histogram */
    unsigned long long b[NBUCKETS];
} series;

/* Label values may come from messages (an alert's name, a learning mode): escaped so no input adds
 * lines to /metrics or breaks its syntax, and bounded so no input grows the registry without end. */
#define METRICS_MAX_SERIES 2048 /* further series are refused (and counted) */
#define METRICS_MAX_LABELS 384  /* bytes of one escaped label body */

struct acms_metrics {
    pthread_mutex_t mu;
    char service[64];
    series *s;
    size_t n, cap;
    unsigned long long dropped; /* series refused: malformed or oversized labels, registry full */
};

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

acms_metrics *acms_metrics_new(const char *service)
{
    acms_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    pthread_mutex_init(&m->mu, NULL);
    snprintf(m->service, sizeof m->service, "%s", service ? service : "");
    return m;
}

void acms_metrics_free(acms_metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->s[i].name);
        free(m->s[i].labels);
        free(m->s[i].help);
    }
    free(m->s);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* labels (name="value",...) with each value escaped as the text format wants (\\ \" \n; other
 * control characters become '_'); a quote ends a value only before a ',' and a label name, or at the
 * end. malloc'd; NULL when labels do not have that shape or exceed METRICS_MAX_LABELS escaped. */
static char *clean_labels(const char *labels)
{
    const char *p = labels;
    size_t o = 0;
    char *out = malloc(2 * strlen(labels) + 1);
    if (!out)
        return NULL;
    while (*p) {
        if (!(isalpha((unsigned char)*p) || *p == '_'))
            goto bad;
        while (isalnum((unsigned char)*p) || *p == '_')
            out[o++] = *p++;
        if (p[0] != '=' || p[1] != '"')
            goto bad;
        out[o++] = '=';
        out[o++] = '"';
        for (p += 2;; p++) {
            if (!*p)
                goto bad;
            if (*p == '"' && (!p[1] || (p[1] == ',' && (isalpha((unsigned char)p[2]) || p[2] == '_'))))
                break;
            if (*p == '\\' || *p == '"' || *p == '\n') {
                out[o++] = '\\';
                out[o++] = *p == '\n' ? 'n' : *p;
            } else {
                out[o++] = (unsigned char)*p < 0x20 || *p == 0x7f ? '_' : *p;
            }
        }
        out[o++] = '"';
        if (*++p == ',') {
            out[o++] = *p++;
            if (!*p)
                goto bad;
        }
    }
    out[o] = '\0';
    if (o <= METRICS_MAX_LABELS)
        return out;
bad:
    free(out);
    return NULL;
}

/* Finds or creates a series; called with the lock held. NULL on allocation failure or when the
 * series is refused (m->dropped counts those). */
static series *get_series(acms_metrics *m, const char *name, const char *labels, const char *help, int kind)
{
    labels = labels ? labels : "";
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->s[i].name, name) && !strcmp(m->s[i].labels, labels))
            return &m->s[i];
    char *clean = clean_labels(labels);
    if (!clean) {
        m->dropped++;
        return NULL;
    }
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->s[i].name, name) && !strcmp(m->s[i].labels, clean)) {
            free(clean);
            return &m->s[i];
        }
    if (m->n >= METRICS_MAX_SERIES) {
        m->dropped++;
        free(clean);
        return NULL;
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 32;
        series *ns = realloc(m->s, cap * sizeof *ns);
        if (!ns) {
            free(clean);
            return NULL;
        }
        m->s = ns;
        m->cap = cap;
    }
    series *s = &m->s[m->n++];
    memset(s, 0, sizeof *s);
    s->name = strdup(name);
    s->labels = clean;
    s->help = strdup(help ? help : name);
    s->kind = kind;
    return s;
}

void acms_metrics_add(acms_metrics *m, const char *name, const char *labels, const char *help, double v)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    series *s = get_series(m, name, labels, help, KIND_COUNTER);
    if (s)
        s->value += v;
    pthread_mutex_unlock(&m->mu);
}

void acms_metrics_set(acms_metrics *m, const char *name, const char *labels, const char *help, double v)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    series *s = get_series(m, name, labels, help, KIND_GAUGE);
    if (s)
        s->value = v;
    pthread_mutex_unlock(&m->mu);
}

void acms_metrics_observe(acms_metrics *m, const char *name, const char *labels, const char *help, double seconds)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    series *s = get_series(m, name, labels, help, KIND_HISTOGRAM);
    if (s) {
        s->value += seconds;
        s->count++;
        for (size_t i = 0; i < NBUCKETS; i++)
            if (seconds <= buckets[i])
                s->b[i]++;
    }
    pthread_mutex_unlock(&m->mu);
}

double acms_metrics_get(acms_metrics *m, const char *name, const char *labels)
{
    double v = 0;
    if (!m)
        return 0;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->s[i].name, name) && !strcmp(m->s[i].labels, labels ? labels : ""))
            v = m->s[i].kind == KIND_HISTOGRAM ? (double)m->s[i].count : m->s[i].value;
    pthread_mutex_unlock(&m->mu);
    return v;
}

typedef struct {
    char *buf;
    size_t len, cap;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2 + (size_t)n;
        char *nb = realloc(b->buf, cap);
        if (!nb)
            return;
        b->buf = nb;
        b->cap = cap;
    }
}

static void label_join(char *out, size_t size, const char *labels, const char *extra)
{
    if (*labels && *extra)
        snprintf(out, size, "{%s,%s}", labels, extra);
    else if (*labels || *extra)
        snprintf(out, size, "{%s%s}", labels, extra);
    else
        out[0] = '\0';
}

char *acms_metrics_render(acms_metrics *m)
{
    sbuf b = {malloc(4096), 0, 4096};
    if (!b.buf)
        return NULL;
    b.buf[0] = '\0';
    pthread_mutex_lock(&m->mu);
    char *done = calloc(m->n + 1, 1);
    for (size_t i = 0; done && i < m->n; i++) {
        if (done[i])
            continue;
        const series *f = &m->s[i];
        static const char *const kinds[] = {"counter", "gauge", "histogram"};
        sb_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, kinds[f->kind]);
        for (size_t j = i; j < m->n; j++) {
            const series *s = &m->s[j];
            if (done[j] || strcmp(s->name, f->name))
                continue;
            done[j] = 1;
            char lb[512];
            if (s->kind != KIND_HISTOGRAM) {
                label_join(lb, sizeof lb, s->labels, "");
                sb_printf(&b, "%s%s %.17g\n", s->name, lb, s->value);
                continue;
            }
            for (size_t k = 0; k < NBUCKETS; k++) {
                char le[32];
                snprintf(le, sizeof le, "le=\"%g\"", buckets[k]);
                label_join(lb, sizeof lb, s->labels, le);
                sb_printf(&b, "%s_bucket%s %llu\n", s->name, lb, s->b[k]);
            }
            label_join(lb, sizeof lb, s->labels, "le=\"+Inf\"");
            sb_printf(&b, "%s_bucket%s %llu\n", s->name, lb, s->count);
            label_join(lb, sizeof lb, s->labels, "");
            sb_printf(&b, "%s_sum%s %.9g\n%s_count%s %llu\n", s->name, lb, s->value, s->name, lb, s->count);
        }
    }
    free(done);
    if (m->dropped)
        sb_printf(&b,
                  "# HELP acms_metrics_series_dropped_total Series refused: labels malformed or over %d bytes, "
                  "or more than %d series\n# TYPE acms_metrics_series_dropped_total counter\n"
                  "acms_metrics_series_dropped_total %llu\n",
                  METRICS_MAX_LABELS, METRICS_MAX_SERIES, m->dropped);
    pthread_mutex_unlock(&m->mu);
    return b.buf;
}

const char *acms_http_req_method(const acms_http_req *req) { return req->method; }
const char *acms_http_req_path(const acms_http_req *req) { return req->path; }

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

acms_http *acms_http_start(const char *addr, int port, acms_metrics *m, const acms_http_probes *probes,
                           char *errstr, size_t errstr_size)
{
    if (port <= 0)
        return NULL;
    acms_http_opts o = {.addr = addr, .port = port};
    return acms_http_start_opts(&o, m, probes, errstr, errstr_size);
}

acms_http *acms_http_start_opts(const acms_http_opts *o, acms_metrics *m, const acms_http_probes *probes,
                                char *errstr, size_t errstr_size)
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
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, (uint16_t)o->port, NULL, NULL,
                            answer, h, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
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
