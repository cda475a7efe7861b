/* history.c: decaying log-spaced histograms and the per-step stats hash (history.h).
 * Invariants: total == sum(count); at most n non-zero buckets whatever the number of runs;
 * quantiles are monotone in q and lie within [min, max] of the values added. */
#include "history.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void feedback_hist_init(feedback_hist *h, double lo, double hi, uint32_t nbuckets)
{
    memset(h, 0, sizeof *h);
    h->lo = lo > 0 ? lo : 1e-3;
    h->hi = hi > h->lo ? hi : h->lo * 2;
    h->n = nbuckets == 0 ? 1 : nbuckets > FEEDBACK_HIST_MAX ? FEEDBACK_HIST_MAX : nbuckets;
}

uint32_t feedback_hist_bucket(const feedback_hist *h, double v)
{
    if (!(v > h->lo))
        return 0;
    if (v >= h->hi)
        return h->n - 1;
    double x = log(v / h->lo) / log(h->hi / h->lo) * h->n;
    uint32_t i = (uint32_t)x;
    return i >= h->n ? h->n - 1 : i;
}

void feedback_hist_add(feedback_hist *h, double v, double decay)
{
    if (!isfinite(v) || v < 0)
        return;
    if (!(decay > 0) || decay > 1)
        decay = 1;
    double total = 0;
    for (uint32_t i = 0; i < h->n; i++) {
        double c = h->count[i] * decay;
        if (c < FEEDBACK_HIST_EPS) {
            h->count[i] = h->sum[i] = 0;
            continue;
        }
        h->count[i] = c;
        h->sum[i] *= decay;
        total += c;
    }
    uint32_t b = feedback_hist_bucket(h, v);
    h->count[b] += 1.0;
    h->sum[b] += v;
    h->total = total + 1.0;
    if (h->seen == 0 || v < h->min)
        h->min = v;
    if (h->seen == 0 || v > h->max)
        h->max = v;
    if (h->seen < UINT32_MAX)
        h->seen++;
}

double feedback_hist_quantile(const feedback_hist *h, double q)
{
    if (!(h->total > 0) || h->seen == 0)
        return NAN;
    if (q < 0)
        q = 0;
    if (q > 1)
        q = 1;
    double target = q * h->total, cum = 0, v = h->max;
    for (uint32_t i = 0; i < h->n; i++) {
        double c = h->count[i];
        if (c <= 0)
            continue;
        if (cum + c >= target) {
            v = h->sum[i] / c;
            break;
        }
        cum += c;
    }
    if (v < h->min)
        v = h->min;
    if (v > h->max)
        v = h->max;
    return v;
}

uint32_t feedback_hist_used(const feedback_hist *h)
{
    uint32_t u = 0;
    for (uint32_t i = 0; i < h->n; i++)
        u += h->count[i] > 0;
    return u;
}

int feedback_hist_format(const feedback_hist *h, char *buf, size_t size)
{
    int w = snprintf(buf, size, "h1;lo=%.10g;hi=%.10g;n=%u;seen=%u;min=%.10g;max=%.10g;b=", h->lo, h->hi,
                     (unsigned)h->n, (unsigned)h->seen, h->min, h->max);
    if (w < 0 || (size_t)w >= size)
        return ACMS_ERR_LIMIT;
    size_t off = (size_t)w;
    int first = 1;
    for (uint32_t i = 0; i < h->n; i++) {
        if (h->count[i] <= 0)
            continue;
        w = snprintf(buf + off, size - off, "%s%u:%.6g:%.8g", first ? "" : ",", (unsigned)i, h->count[i],
                     h->sum[i] / h->count[i]);
        if (w < 0 || (size_t)w >= size - off)
            return ACMS_ERR_LIMIT;
        off += (size_t)w;
        first = 0;
    }
    return ACMS_OK;
}

static int num(const char **p, const char *prefix, double *out)
{
    size_t l = strlen(prefix);
    if (strncmp(*p, prefix, l) != 0)
        return -1;
    char *end;
    errno = 0;
    double v = strtod(*p + l, &end);
    if (end == *p + l || errno == ERANGE || !isfinite(v))
        return -1;
    *out = v;
    *p = end;
    return 0;
}

int feedback_hist_parse(feedback_hist *h, const char *s)
{
    double lo = h->lo, hi = h->hi;
    uint32_t n = h->n;
    feedback_hist_init(h, lo, hi, n);
    if (!s || !*s)
        return ACMS_OK;
    feedback_hist t;
    feedback_hist_init(&t, lo, hi, n);
    double plo, phi, pn, seen;
    const char *p = s;
    if (strncmp(p, "h1", 2) != 0)
        return ACMS_ERR_INVALID;
    p += 2;
    if (num(&p, ";lo=", &plo) || num(&p, ";hi=", &phi) || num(&p, ";n=", &pn) || num(&p, ";seen=", &seen) ||
        num(&p, ";min=", &t.min) || num(&p, ";max=", &t.max))
        return ACMS_ERR_INVALID;
    if (fabs(plo - lo) > 1e-9 * lo || fabs(phi - hi) > 1e-9 * hi || pn != (double)n || seen < 0)
        return ACMS_ERR_INVALID;
    t.seen = seen > UINT32_MAX ? UINT32_MAX : (uint32_t)seen;
    if (strncmp(p, ";b=", 3) != 0)
        return ACMS_ERR_INVALID;
    p += 3;
    while (*p) {
        char *end;
        errno = 0;
        unsigned long i = strtoul(p, &end, 10);
        if (end == p || *end != ':' || i >= n)
            return ACMS_ERR_INVALID;
        p = end + 1;
        double c = strtod(p, &end);
        if (end == p || *end != ':' || !isfinite(c) || c < 0)
            return ACMS_ERR_INVALID;
        p = end + 1;
        double mean = strtod(p, &end);
        if (end == p || !isfinite(mean) || mean < 0)
            return ACMS_ERR_INVALID;
        t.count[i] = c;
        t.sum[i] = c * mean;
        t.total += c;
        p = end;
        if (*p == ',')
            p++;
        else if (*p)
            return ACMS_ERR_INVALID;
    }
    *h = t;
    return ACMS_OK;
}

/* --- stats ---------------------------------------------------------------------------------- */

void feedback_stats_init(feedback_stats *st)
{
    memset(st, 0, sizeof *st);
    feedback_hist_init(&st->wall_ms, 1.0, 4294967296.0, FEEDBACK_HIST_MAX);
    feedback_hist_init(&st->peak_mb, 1.0, 1048576.0, FEEDBACK_HIST_MAX);
    feedback_hist_init(&st->cores, 0.001, 1024.0, FEEDBACK_HIST_MAX);
    st->sizing_input = "";
    st->version = "0";
}

/* The run as an observation for the fits; 0 when it is none (not measured, not a memory kill). */
static int obs_of(const feedback_outcome *o, feedback_obs *ob)
{
    memset(ob, 0, sizeof *ob);
    ob->t_ms = o->t_ms;
    ob->x = o->input_value > 0 && isfinite(o->input_value) ? o->input_value : 0;
    if (o->observed && o->peak_rss_kb > 0) {
        ob->peak_mb = (double)o->peak_rss_kb / 1024.0;
        ob->wall_ms = (double)o->wall_ms;
        return 1;
    }
    if (o->censored_memory && o->killed_peak_mb > 0) {
        ob->peak_mb = o->killed_peak_mb;
        ob->censored = 1;
        return 1;
    }
    return 0;
}

static void track_window(feedback_stats *st, const feedback_outcome *o)
{
    feedback_obs ob;
    if (!obs_of(o, &ob))
        return;
    const char *name = o->input_name ? o->input_name : "";
    if (*name && strcmp(name, st->sizing_input) != 0) {
        for (uint32_t i = 0; i < st->obs.n; i++)
            st->obs.v[i].x = 0;
        st->sizing_input = name;
    }
    feedback_window_push(&st->obs, &ob);
}

void feedback_stats_track(feedback_stats *st, const feedback_outcome *o)
{
    track_window(st, o);
    if (!o->observed)
        return;
    double wall = (double)o->wall_ms, peak = (double)o->peak_rss_kb / 1024.0;
    if (o->wall_ms > 0) {
        feedback_hist_add(&st->wall_ms, wall, FEEDBACK_DECAY);
        feedback_hist_add(&st->cores, (double)o->cpu_ms / wall, FEEDBACK_DECAY);
        st->last_wall_ms = wall;
        if (wall > st->max_wall_ms)
            st->max_wall_ms = wall;
    }
    if (o->peak_rss_kb > 0) {
        feedback_hist_add(&st->peak_mb, peak, FEEDBACK_DECAY);
        st->last_peak_mb = peak;
        if (peak > st->max_peak_mb)
            st->max_peak_mb = peak;
    }
    if (st->runs < UINT32_MAX)
        st->runs++;
}

static const char *get(const char *const *kv, size_t nkv, const char *field)
{
    for (size_t i = 0; i + 1 < nkv; i += 2)
        if (!strcmp(kv[i], field))
            return kv[i + 1];
    return NULL;
}

static double dget(const char *const *kv, size_t nkv, const char *field)
{
    const char *v = get(kv, nkv, field);
    if (!v)
        return 0;
    double d = strtod(v, NULL);
    return isfinite(d) && d > 0 ? d : 0;
}

static uint32_t u32(double d)
{
    return d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

int feedback_stats_from_hash(feedback_stats *st, acms_arena *a, const char *const *kv, size_t nkv)
{
    feedback_stats_init(st);
    int rc = ACMS_OK;
    if (feedback_hist_parse(&st->wall_ms, get(kv, nkv, "hist_wall_ms")) != ACMS_OK)
        rc = ACMS_ERR_INVALID;
    if (feedback_hist_parse(&st->peak_mb, get(kv, nkv, "hist_peak_mb")) != ACMS_OK)
        rc = ACMS_ERR_INVALID;
    if (feedback_hist_parse(&st->cores, get(kv, nkv, "hist_cores")) != ACMS_OK)
        rc = ACMS_ERR_INVALID;
    st->runs = u32(dget(kv, nkv, "runs"));
    st->last_wall_ms = dget(kv, nkv, "last_wall_ms");
    st->last_peak_mb = dget(kv, nkv, "last_peak_mb");
    st->max_peak_mb = dget(kv, nkv, "max_peak_mb");
    st->max_wall_ms = dget(kv, nkv, "max_wall_ms");
    st->min_memory_mb = (uint64_t)dget(kv, nkv, "min_memory_mb");
    st->min_runtime_s = u32(dget(kv, nkv, "min_runtime_s"));
    st->clean_runs = u32(dget(kv, nkv, "clean_runs"));
    st->kills_memory = u32(dget(kv, nkv, "kills_memory"));
    st->kills_time = u32(dget(kv, nkv, "kills_time"));
    if (feedback_window_parse(&st->obs, get(kv, nkv, "obs")) != ACMS_OK)
        rc = ACMS_ERR_INVALID;
    const char *si = get(kv, nkv, "sizing_input");
    st->sizing_input = acms_arena_strdup(a, si ? si : "");
    const char *v = get(kv, nkv, "version");
    st->version = acms_arena_strdup(a, v ? v : "0");
    return rc;
}

static void put(acms_arena *a, const char ***kv, size_t *n, const char *field, const char *value)
{
    *kv = acms_arena_push(a, *kv, n, sizeof **kv);
    (*kv)[*n - 1] = field;
    *kv = acms_arena_push(a, *kv, n, sizeof **kv);
    (*kv)[*n - 1] = value;
}

static void putq(acms_arena *a, const char ***kv, size_t *n, const char *field, const feedback_hist *h, double q,
                 const char *fmt)
{
    double v = feedback_hist_quantile(h, q);
    if (!isnan(v))
        put(a, kv, n, field, acms_arena_printf(a, fmt, v));
}

static void puthist(acms_arena *a, const char ***kv, size_t *n, const char *field, const feedback_hist *h)
{
    char buf[8192];
    if (feedback_hist_format(h, buf, sizeof buf) == ACMS_OK)
        put(a, kv, n, field, acms_arena_strdup(a, buf));
}

size_t feedback_stats_to_hash(acms_arena *a, const feedback_stats *st, const char ***kv)
{
    size_t n = 0;
    *kv = NULL;
    puthist(a, kv, &n, "hist_wall_ms", &st->wall_ms);
    puthist(a, kv, &n, "hist_peak_mb", &st->peak_mb);
    puthist(a, kv, &n, "hist_cores", &st->cores);
    put(a, kv, &n, "runs", acms_arena_printf(a, "%u", (unsigned)st->runs));
    put(a, kv, &n, "last_wall_ms", acms_arena_printf(a, "%.0f", st->last_wall_ms));
    put(a, kv, &n, "last_peak_mb", acms_arena_printf(a, "%.1f", st->last_peak_mb));
    put(a, kv, &n, "max_peak_mb", acms_arena_printf(a, "%.1f", st->max_peak_mb));
    put(a, kv, &n, "max_wall_ms", acms_arena_printf(a, "%.0f", st->max_wall_ms));
    putq(a, kv, &n, "p50_wall_ms", &st->wall_ms, 0.50, "%.0f");
    putq(a, kv, &n, "p90_wall_ms", &st->wall_ms, 0.90, "%.0f");
    putq(a, kv, &n, "p95_wall_ms", &st->wall_ms, 0.95, "%.0f");
    putq(a, kv, &n, "p99_wall_ms", &st->wall_ms, 0.99, "%.0f");
    putq(a, kv, &n, "p50_peak_mb", &st->peak_mb, 0.50, "%.1f");
    putq(a, kv, &n, "p90_peak_mb", &st->peak_mb, 0.90, "%.1f");
    putq(a, kv, &n, "p95_peak_mb", &st->peak_mb, 0.95, "%.1f");
    putq(a, kv, &n, "p99_peak_mb", &st->peak_mb, 0.99, "%.1f");
    putq(a, kv, &n, "p95_cores", &st->cores, 0.95, "%.3f");
    put(a, kv, &n, "min_memory_mb", acms_arena_printf(a, "%" PRIu64, st->min_memory_mb));
    put(a, kv, &n, "min_runtime_s", acms_arena_printf(a, "%u", (unsigned)st->min_runtime_s));
    put(a, kv, &n, "clean_runs", acms_arena_printf(a, "%u", (unsigned)st->clean_runs));
    put(a, kv, &n, "kills_memory", acms_arena_printf(a, "%u", (unsigned)st->kills_memory));
    put(a, kv, &n, "kills_time", acms_arena_printf(a, "%u", (unsigned)st->kills_time));
    char buf[4096];
    if (feedback_window_format(&st->obs, buf, sizeof buf) == ACMS_OK)
        put(a, kv, &n, "obs", acms_arena_strdup(a, buf));
    put(a, kv, &n, "sizing_input", st->sizing_input ? st->sizing_input : "");
    return n;
}
