/* metrics.c: the metrics registry (API in metrics.h). Series are kept in insertion order; families
 * (name, help, type) render together as the Prometheus text format requires. One mutex guards the
 * registry. */
#include "metrics.h"

#include "strbuf.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM, KIND_HISTOGRAM_LONG };

static const double buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])
/* durations of work that takes seconds to hours (step attempts): as many buckets, 1 s .. 6 h */
static const double long_buckets[NBUCKETS] = {1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 21600};

typedef struct series {
    char *name;
    char *labels;
    char *help;
    int kind;
    double value;             /* counter/gauge; histogram: sum */
    unsigned long long count; /* histogram */
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

static void observe(acms_metrics *m, const char *name, const char *labels, const char *help, double seconds, int kind)
{
    if (!m)
        return;
    const double *bk = kind == KIND_HISTOGRAM_LONG ? long_buckets : buckets;
    pthread_mutex_lock(&m->mu);
    series *s = get_series(m, name, labels, help, kind);
    if (s) {
        s->value += seconds;
        s->count++;
        for (size_t i = 0; i < NBUCKETS; i++)
            if (seconds <= bk[i])
                s->b[i]++;
    }
    pthread_mutex_unlock(&m->mu);
}

void acms_metrics_observe(acms_metrics *m, const char *name, const char *labels, const char *help, double seconds)
{
    observe(m, name, labels, help, seconds, KIND_HISTOGRAM);
}

void acms_metrics_observe_long(acms_metrics *m, const char *name, const char *labels, const char *help, double seconds)
{
    observe(m, name, labels, help, seconds, KIND_HISTOGRAM_LONG);
}

double acms_metrics_get(acms_metrics *m, const char *name, const char *labels)
{
    double v = 0;
    if (!m)
        return 0;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->s[i].name, name) && !strcmp(m->s[i].labels, labels ? labels : ""))
            v = m->s[i].kind >= KIND_HISTOGRAM ? (double)m->s[i].count : m->s[i].value;
    pthread_mutex_unlock(&m->mu);
    return v;
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
    acms_strbuf b = ACMS_STRBUF_INIT;
    int rc = acms_strbuf_grow(&b, 4096);
    pthread_mutex_lock(&m->mu);
    char *done = calloc(m->n + 1, 1);
    if (!done)
        rc = ACMS_ERR_NOMEM;
    for (size_t i = 0; done && i < m->n; i++) {
        if (done[i])
            continue;
        const series *f = &m->s[i];
        static const char *const kinds[] = {"counter", "gauge", "histogram", "histogram"};
        rc |= acms_strbuf_addf(&b, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, kinds[f->kind]);
        for (size_t j = i; j < m->n; j++) {
            const series *s = &m->s[j];
            if (done[j] || strcmp(s->name, f->name))
                continue;
            done[j] = 1;
            char lb[512];
            if (s->kind != KIND_HISTOGRAM && s->kind != KIND_HISTOGRAM_LONG) {
                label_join(lb, sizeof lb, s->labels, "");
                rc |= acms_strbuf_addf(&b, "%s%s %.17g\n", s->name, lb, s->value);
                continue;
            }
            const double *bk = s->kind == KIND_HISTOGRAM_LONG ? long_buckets : buckets;
            for (size_t k = 0; k < NBUCKETS; k++) {
                char le[32];
                snprintf(le, sizeof le, "le=\"%g\"", bk[k]);
                label_join(lb, sizeof lb, s->labels, le);
                rc |= acms_strbuf_addf(&b, "%s_bucket%s %llu\n", s->name, lb, s->b[k]);
            }
            label_join(lb, sizeof lb, s->labels, "le=\"+Inf\"");
            rc |= acms_strbuf_addf(&b, "%s_bucket%s %llu\n", s->name, lb, s->count);
            label_join(lb, sizeof lb, s->labels, "");
            rc |= acms_strbuf_addf(&b, "%s_sum%s %.9g\n%s_count%s %llu\n", s->name, lb, s->value, s->name, lb,
                                   s->count);
        }
    }
    free(done);
    if (m->dropped)
        rc |= acms_strbuf_addf(&b,
                               "# HELP acms_metrics_series_dropped_total Series refused: labels malformed or over "
                               "%d bytes, or more than %d series\n# TYPE acms_metrics_series_dropped_total counter\n"
                               "acms_metrics_series_dropped_total %llu\n",
                               METRICS_MAX_LABELS, METRICS_MAX_SERIES, m->dropped);
    pthread_mutex_unlock(&m->mu);
    if (rc != ACMS_OK) {
        acms_strbuf_release(&b);
        return NULL;
    }
    return acms_strbuf_detach(&b, NULL);
}
