/* sizefit.c: the size model's prediction bound and serialised form (sizefit.h).
 * Invariants: a parsed model is usable (finite, s2 >= 0, df > 0, p = 1 + uses_input + uses_trend);
 * the upper bound is never below the mean plus the largest residual seen; the trend horizon is
 * within [0, horizon_cap_h]. */
#include "sizefit.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acms.h"

#define MS_PER_HOUR 3600000.0

double acms_sizefit_normal_quantile(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,  -2.759285104469687e+02,
                               1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                               6.680131188771972e+01, -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                               -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    if (!(p > 0))
        return -INFINITY;
    if (!(p < 1))
        return INFINITY;
    const double plow = 0.02425;
    if (p < plow || p > 1 - plow) {
        double q = sqrt(-2 * log(p < plow ? p : 1 - p));
        double x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
                   ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        return p < plow ? x : -x;
    }
    double q = p - 0.5, r = q * q;
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
           (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

double acms_sizefit_t_quantile(double p, double df)
{
    double z = acms_sizefit_normal_quantile(p);
    if (!isfinite(z))
        return z;
    if (!(df >= 1))
        df = 1;
    double z2 = z * z, z3 = z2 * z, z5 = z3 * z2, z7 = z5 * z2, z9 = z7 * z2;
    double g1 = (z3 + z) / 4;
    double g2 = (5 * z5 + 16 * z3 + 3 * z) / 96;
    double g3 = (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / 384;
    double g4 = (79 * z9 + 776 * z7 + 1482 * z5 - 1920 * z3 - 945 * z) / 92160;
    return z + g1 / df + g2 / (df * df) + g3 / (df * df * df) + g4 / (df * df * df * df);
}

/* The prediction point v (columns 1, ln x, hours) and the horizon used. Returns 0 or -1. */
static int point(const acms_sizefit *m, double x, int64_t now_ms, double v[ACMS_SIZEFIT_MAX_P], double *horizon_h)
{
    uint32_t k = 0;
    v[k++] = 1.0;
    if (m->uses_input) {
        if (!(x > 0) || !isfinite(x))
            return -1;
        v[k++] = log(x);
    }
    *horizon_h = 0;
    if (m->uses_trend) {
        double h = (double)(now_ms - m->t_ref_ms) / MS_PER_HOUR;
        if (!(h > 0))
            h = 0;
        if (h > m->horizon_cap_h)
            h = m->horizon_cap_h;
        *horizon_h = h;
        v[k++] = h;
    }
    return k == m->p ? 0 : -1;
}

int acms_sizefit_predict(const acms_sizefit *m, double x, int64_t now_ms, double q, acms_sizefit_pred *out)
{
    memset(out, 0, sizeof *out);
    double v[ACMS_SIZEFIT_MAX_P];
    if (!m || m->p == 0 || m->p > ACMS_SIZEFIT_MAX_P || point(m, x, now_ms, v, &out->horizon_h) != 0)
        return -1;
    double mean = 0, lev = 0;
    for (uint32_t i = 0; i < m->p; i++) {
        mean += v[i] * m->beta[i];
        for (uint32_t j = 0; j < m->p; j++)
            lev += v[i] * m->cov[i][j] * v[j];
    }
    if (!(lev > 0))
        lev = 0;
    double half = acms_sizefit_t_quantile(q, m->df) * sqrt(m->s2 * (1.0 + lev));
    if (!(half >= m->max_resid))
        half = m->max_resid;
    if (!isfinite(mean) || !isfinite(half) || mean + half > 700)
        return -1;
    out->mean = exp(mean);
    out->upper = exp(mean + half);
    return 0;
}

double acms_sizefit_trend_per_hour(const acms_sizefit *m)
{
    return m && m->uses_trend && m->p > 1 ? m->beta[m->p - 1] : 0;
}

double acms_sizefit_growth(const acms_sizefit *m, double hours)
{
    if (!(hours > 0))
        return 0;
    if (m && hours > m->horizon_cap_h)
        hours = m->horizon_cap_h;
    return expm1(acms_sizefit_trend_per_hour(m) * hours);
}

int acms_sizefit_format(const acms_sizefit *m, char *buf, size_t size)
{
    int w = snprintf(buf, size, "f1;p=%u;i=%d;t=%d;b=", (unsigned)m->p, m->uses_input ? 1 : 0, m->uses_trend ? 1 : 0);
    if (w < 0 || (size_t)w >= size)
        return ACMS_ERR_LIMIT;
    size_t off = (size_t)w;
    for (uint32_t i = 0; i < m->p && i < ACMS_SIZEFIT_MAX_P; i++) {
        w = snprintf(buf + off, size - off, "%s%.12g", i ? "," : "", m->beta[i]);
        if (w < 0 || (size_t)w >= size - off)
            return ACMS_ERR_LIMIT;
        off += (size_t)w;
    }
    w = snprintf(buf + off, size - off, ";c=");
    if (w < 0 || (size_t)w >= size - off)
        return ACMS_ERR_LIMIT;
    off += (size_t)w;
    int first = 1;
    for (uint32_t i = 0; i < m->p && i < ACMS_SIZEFIT_MAX_P; i++)
        for (uint32_t j = i; j < m->p; j++) {
            w = snprintf(buf + off, size - off, "%s%.12g", first ? "" : ",", m->cov[i][j]);
            if (w < 0 || (size_t)w >= size - off)
                return ACMS_ERR_LIMIT;
            off += (size_t)w;
            first = 0;
        }
    w = snprintf(buf + off, size - off,
                 ";s2=%.10g;df=%.6g;sd=%.6g;mr=%.6g;r2=%.6g;tr=%lld;hc=%.10g;x=%.10g,%.10g;n=%u;k=%u", m->s2, m->df,
                 m->resid_sd, m->max_resid, m->r2, (long long)m->t_ref_ms, m->horizon_cap_h, m->x_lo, m->x_hi,
                 (unsigned)m->n, (unsigned)m->censored);
    return w < 0 || (size_t)w >= size - off ? ACMS_ERR_LIMIT : ACMS_OK;
}

/* Reads "<key>=" then count comma-separated numbers. Returns 0 or -1. */
static int nums(const char **p, const char *key, double *out, size_t count)
{
    size_t l = strlen(key);
    if (strncmp(*p, key, l) != 0)
        return -1;
    const char *s = *p + l;
    for (size_t i = 0; i < count; i++) {
        char *end;
        errno = 0;
        out[i] = strtod(s, &end);
        if (end == s || errno == ERANGE || !isfinite(out[i]))
            return -1;
        s = end;
        if (i + 1 < count) {
            if (*s != ',')
                return -1;
            s++;
        }
    }
    if (*s != ';' && *s != '\0')
        return -1;
    *p = *s ? s + 1 : s;
    return 0;
}

static int parse_fields(acms_sizefit *m, const char *s)
{
    double p, in, tr, v[6], t[12];
    if (strncmp(s, "f1;", 3) != 0)
        return -1;
    s += 3;
    if (nums(&s, "p=", &p, 1) || nums(&s, "i=", &in, 1) || nums(&s, "t=", &tr, 1))
        return -1;
    if (p < 1 || p > ACMS_SIZEFIT_MAX_P || p != floor(p) || (in != 0 && in != 1) || (tr != 0 && tr != 1) ||
        p != 1 + in + tr)
        return -1;
    m->p = (uint32_t)p;
    m->uses_input = in == 1;
    m->uses_trend = tr == 1;
    if (nums(&s, "b=", m->beta, m->p) || nums(&s, "c=", v, m->p * (m->p + 1) / 2))
        return -1;
    for (uint32_t i = 0, k = 0; i < m->p; i++)
        for (uint32_t j = i; j < m->p; j++, k++)
            m->cov[i][j] = m->cov[j][i] = v[k];
    if (nums(&s, "s2=", &m->s2, 1) || nums(&s, "df=", &m->df, 1) || nums(&s, "sd=", &m->resid_sd, 1) ||
        nums(&s, "mr=", &m->max_resid, 1) || nums(&s, "r2=", &m->r2, 1) || nums(&s, "tr=", &t[0], 1) ||
        nums(&s, "hc=", &m->horizon_cap_h, 1) || nums(&s, "x=", &t[1], 2) || nums(&s, "n=", &t[3], 1) ||
        nums(&s, "k=", &t[4], 1) || *s)
        return -1;
    if (m->s2 < 0 || !(m->df > 0) || m->horizon_cap_h < 0 || m->max_resid < 0 || t[3] < 0 || t[4] < 0 || t[3] > 1e9 ||
        t[4] > t[3] || fabs(t[0]) > 9e15)
        return -1;
    m->t_ref_ms = (int64_t)t[0];
    m->x_lo = t[1];
    m->x_hi = t[2];
    m->n = (uint32_t)t[3];
    m->censored = (uint32_t)t[4];
    return 0;
}

int acms_sizefit_parse(acms_sizefit *m, const char *s)
{
    memset(m, 0, sizeof *m);
    if (!s || !*s || parse_fields(m, s) != 0) {
        memset(m, 0, sizeof *m);
        return ACMS_ERR_INVALID;
    }
    return ACMS_OK;
}
