/* anomaly.c: the AnomalyDetector's robust baseline (EWMA + median/MAD over a 32-value window).
 * Invariants: window holds at most MONITOR_WINDOW values, oldest first; nothing is judged before
 * MONITOR_WARMUP observations; judging never changes the baseline. */
#include "anomaly.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acms.h"

void monitor_baseline_init(monitor_baseline *b, double min_delta)
{
    memset(b, 0, sizeof *b);
    b->min_delta = min_delta > 0 ? min_delta : 0;
}

double monitor_metric_min_delta(monitor_metric m)
{
    switch (m) {
    case MONITOR_METRIC_WALL: return 1000.0;
    case MONITOR_METRIC_PEAK: return 32.0;
    case MONITOR_METRIC_CPU: return 1000.0;
    default: return 0;
    }
}

const char *monitor_metric_name(monitor_metric m)
{
    switch (m) {
    case MONITOR_METRIC_WALL: return "wall_ms";
    case MONITOR_METRIC_PEAK: return "peak_mb";
    case MONITOR_METRIC_CPU: return "cpu_ms";
    default: return "unknown";
    }
}

void monitor_baseline_update(monitor_baseline *b, double v)
{
    if (!isfinite(v) || v < 0)
        return;
    if (b->n == 0) {
        b->mean = v;
        b->var = 0;
    } else {
        double diff = v - b->mean;
        double incr = MONITOR_EWMA_ALPHA * diff;
        b->mean += incr;
        b->var = (1.0 - MONITOR_EWMA_ALPHA) * (b->var + diff * incr);
    }
    if (b->n < UINT32_MAX)
        b->n++;
    if (b->wn == MONITOR_WINDOW) {
        memmove(b->window, b->window + 1, (MONITOR_WINDOW - 1) * sizeof b->window[0]);
        b->wn--;
    }
    b->window[b->wn++] = v;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Median of v[0..n) (sorts v in place). */
static double median_of(double *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

static void window_stats(const monitor_baseline *b, double *median, double *mad)
{
    double tmp[MONITOR_WINDOW];
    size_t n = b->wn;
    memcpy(tmp, b->window, n * sizeof tmp[0]);
    double med = median_of(tmp, n);
    for (size_t i = 0; i < n; i++)
        tmp[i] = fabs(b->window[i] - med);
    *median = med;
    *mad = median_of(tmp, n);
}

static double threshold_of(const monitor_baseline *b, double median, double mad)
{
    double slack = MONITOR_MAD_K * MONITOR_MAD_SCALE * mad;
    if (MONITOR_REL_SLACK * median > slack)
        slack = MONITOR_REL_SLACK * median;
    if (b->min_delta > slack)
        slack = b->min_delta;
    return median + slack;
}

double monitor_baseline_threshold(const monitor_baseline *b)
{
    if (b->n < MONITOR_WARMUP || b->wn == 0)
        return INFINITY;
    double med, mad;
    window_stats(b, &med, &mad);
    return threshold_of(b, med, mad);
}

int monitor_anomaly_check(const monitor_baseline *b, double v, monitor_anomaly *out)
{
    monitor_anomaly tmp;
    monitor_anomaly *a = out ? out : &tmp;
    memset(a, 0, sizeof *a);
    a->observed = v;
    a->mean = b->mean;
    a->stddev = b->var > 0 ? sqrt(b->var) : 0;
    a->warm = b->n >= MONITOR_WARMUP && b->wn > 0;
    if (b->wn > 0)
        window_stats(b, &a->median, &a->mad);
    a->ratio = a->median > 0 ? v / a->median : 0;
    if (!a->warm) {
        a->threshold = INFINITY;
        return 0;
    }
    a->threshold = threshold_of(b, a->median, a->mad);
    a->anomalous = isfinite(v) && v > a->threshold;
    return a->anomalous;
}

int monitor_baseline_format(const monitor_baseline *b, char *buf, size_t size)
{
    int w = snprintf(buf, size, "n=%u;mean=%.10g;var=%.10g;win=", (unsigned)b->n, b->mean, b->var);
    if (w < 0 || (size_t)w >= size)
        return ACMS_ERR_LIMIT;
    size_t off = (size_t)w;
    for (uint32_t i = 0; i < b->wn; i++) {
        w = snprintf(buf + off, size - off, "%s%.10g", i ? "," : "", b->window[i]);
        if (w < 0 || (size_t)w >= size - off)
            return ACMS_ERR_LIMIT;
        off += (size_t)w;
    }
    return ACMS_OK;
}

/* Parses a finite non-negative double at *p, advancing *p. */
static int parse_num(const char **p, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(*p, &end);
    if (end == *p || errno == ERANGE || !isfinite(v))
        return -1;
    *p = end;
    *out = v;
    return 0;
}

int monitor_baseline_parse(monitor_baseline *b, const char *s)
{
    double min_delta = b->min_delta;
    monitor_baseline_init(b, min_delta);
    if (!s || !*s)
        return ACMS_OK;
    monitor_baseline t;
    monitor_baseline_init(&t, min_delta);
    const char *p = s;
    double n;
    if (strncmp(p, "n=", 2) != 0)
        goto bad;
    p += 2;
    if (parse_num(&p, &n) || n < 0 || n > UINT32_MAX)
        goto bad;
    t.n = (uint32_t)n;
    if (strncmp(p, ";mean=", 6) != 0)
        goto bad;
    p += 6;
    if (parse_num(&p, &t.mean))
        goto bad;
    if (strncmp(p, ";var=", 5) != 0)
        goto bad;
    p += 5;
    if (parse_num(&p, &t.var) || t.var < 0)
        goto bad;
    if (strncmp(p, ";win=", 5) != 0)
        goto bad;
    p += 5;
    while (*p) {
        double v;
        if (t.wn == MONITOR_WINDOW || parse_num(&p, &v) || v < 0)
            goto bad;
        t.window[t.wn++] = v;
        if (*p == ',')
            p++;
        else if (*p)
            goto bad;
    }
    if (t.n < t.wn)
        t.n = t.wn;
    *b = t;
    return ACMS_OK;
bad:
    return ACMS_ERR_INVALID;
}
