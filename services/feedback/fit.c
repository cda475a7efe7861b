/* fit.c: the observation window and the robust, recency-weighted, censored size fits (fit.h).
 * Invariants: the window never holds more than FEEDBACK_OBS_MAX runs; a fit uses only finite,
 * positive values; a returned model has df > 0 and finite coefficients; a censored run's working
 * value is never below its limit. */
#include "fit.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acms.h"

#define MS_PER_HOUR 3600000.0
#define IRLS_ITERS 40
#define SCALE_FLOOR 0.005     /* a MAD of exactly 0 (identical runs) must not divide by 0 */
#define MIN_INPUT_SPREAD 1e-3 /* ln(x) range below this: the input has not varied */

/* --- the window ---------------------------------------------------------------------------------- */

void feedback_window_push(feedback_window *w, const feedback_obs *o)
{
    if (w->n == FEEDBACK_OBS_MAX) {
        memmove(w->v, w->v + 1, (FEEDBACK_OBS_MAX - 1) * sizeof w->v[0]);
        w->n--;
    }
    w->v[w->n++] = *o;
}

int feedback_window_format(const feedback_window *w, char *buf, size_t size)
{
    int n = snprintf(buf, size, "w1");
    if (n < 0 || (size_t)n >= size)
        return ACMS_ERR_LIMIT;
    size_t off = (size_t)n;
    for (uint32_t i = 0; i < w->n; i++) {
        const feedback_obs *o = &w->v[i];
        n = snprintf(buf + off, size - off, ";%" PRId64 ",%.10g,%.7g,%.7g,%d", o->t_ms, o->x, o->peak_mb, o->wall_ms,
                     o->censored ? 1 : 0);
        if (n < 0 || (size_t)n >= size - off)
            return ACMS_ERR_LIMIT;
        off += (size_t)n;
    }
    return ACMS_OK;
}

static int parse_obs(const char **p, feedback_obs *o)
{
    double v[5];
    const char *s = *p;
    for (int i = 0; i < 5; i++) {
        char *end;
        errno = 0;
        v[i] = strtod(s, &end);
        if (end == s || errno == ERANGE || !isfinite(v[i]) || v[i] < 0)
            return -1;
        s = end;
        if (i < 4 && *s++ != ',')
            return -1;
    }
    if ((*s != ';' && *s != '\0') || v[0] > 9e15 || (v[4] != 0 && v[4] != 1))
        return -1;
    o->t_ms = (int64_t)v[0];
    o->x = v[1];
    o->peak_mb = v[2];
    o->wall_ms = v[3];
    o->censored = v[4] == 1;
    *p = *s ? s + 1 : s;
    return 0;
}

int feedback_window_parse(feedback_window *w, const char *s)
{
    memset(w, 0, sizeof *w);
    if (!s || !*s)
        return ACMS_OK;
    if (strncmp(s, "w1", 2) != 0 || (s[2] != ';' && s[2] != '\0'))
        return ACMS_ERR_INVALID;
    const char *p = s[2] ? s + 3 : s + 2;
    while (*p) {
        feedback_obs o;
        if (w->n == FEEDBACK_OBS_MAX || parse_obs(&p, &o) != 0) {
            memset(w, 0, sizeof *w);
            return ACMS_ERR_INVALID;
        }
        w->v[w->n++] = o;
    }
    return ACMS_OK;
}

uint32_t feedback_window_with_input(const feedback_window *w)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < w->n; i++)
        k += w->v[i].x > 0;
    return k;
}

/* --- the design ---------------------------------------------------------------------------------- */

typedef struct design {
    uint32_t n, p;
    int input, trend;
    double X[FEEDBACK_OBS_MAX][ACMS_SIZEFIT_MAX_P];
    double y[FEEDBACK_OBS_MAX]; /* working response: ln(value), imputed for censored runs */
    double c[FEEDBACK_OBS_MAX]; /* ln(limit) of a censored run */
    int cens[FEEDBACK_OBS_MAX];
    double w[FEEDBACK_OBS_MAX]; /* recency */
    double h[FEEDBACK_OBS_MAX]; /* Huber */
    double r[FEEDBACK_OBS_MAX]; /* residuals */
    int64_t t_ref, t_min;
    double max_gap_h; /* the longest pause between two consecutive runs */
    uint32_t pauses;  /* pauses of at least FEEDBACK_FIT_SAME_TIME_MS between them */
    double x_lo, x_hi;
    uint32_t ncens;
} design;

static int usable(const feedback_obs *o, feedback_fit_target target, int use_input)
{
    if (use_input && !(o->x > 0 && isfinite(o->x)))
        return 0;
    if (target == FEEDBACK_FIT_WALL)
        return !o->censored && o->wall_ms > 0 && isfinite(o->wall_ms);
    return o->peak_mb > 0 && isfinite(o->peak_mb);
}

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

/* The longest pause between two runs usable for target, in time order (results may arrive out of it),
 * and how many pauses of at least FEEDBACK_FIT_SAME_TIME_MS there are (*pauses). */
static double max_gap_h(const feedback_window *win, feedback_fit_target target, int use_input, uint32_t *pauses)
{
    int64_t t[FEEDBACK_OBS_MAX];
    uint32_t n = 0;
    for (uint32_t i = 0; i < win->n; i++)
        if (usable(&win->v[i], target, use_input))
            t[n++] = win->v[i].t_ms;
    qsort(t, n, sizeof t[0], cmp_i64);
    double gap = 0;
    *pauses = 0;
    for (uint32_t k = 1; k < n; k++) {
        gap = fmax(gap, (double)(t[k] - t[k - 1]) / MS_PER_HOUR);
        *pauses += t[k] - t[k - 1] >= FEEDBACK_FIT_SAME_TIME_MS;
    }
    return gap;
}

/* Fills d from the window (columns 1 [, ln x] [, hours since the newest run]); returns the runs used. */
static uint32_t collect(const feedback_window *win, feedback_fit_target target, int use_input, int trend, design *d)
{
    memset(d, 0, sizeof *d);
    d->input = use_input;
    d->trend = trend;
    d->p = 1 + (use_input ? 1 : 0) + (trend ? 1 : 0);
    int first = 1;
    for (uint32_t i = 0; i < win->n; i++) {
        const feedback_obs *o = &win->v[i];
        if (!usable(o, target, use_input))
            continue;
        d->t_ref = first || o->t_ms > d->t_ref ? o->t_ms : d->t_ref;
        d->t_min = first || o->t_ms < d->t_min ? o->t_ms : d->t_min;
        d->x_lo = first || o->x < d->x_lo ? o->x : d->x_lo;
        d->x_hi = first || o->x > d->x_hi ? o->x : d->x_hi;
        first = 0;
    }
    for (uint32_t i = 0; i < win->n; i++) {
        const feedback_obs *o = &win->v[i];
        if (!usable(o, target, use_input))
            continue;
        uint32_t k = d->n++, c = 0;
        d->y[k] = d->c[k] = log(target == FEEDBACK_FIT_WALL ? o->wall_ms : o->peak_mb);
        d->cens[k] = target == FEEDBACK_FIT_MEMORY && o->censored;
        d->ncens += (uint32_t)d->cens[k];
        d->h[k] = 1.0;
        d->X[k][c++] = 1.0;
        if (use_input)
            d->X[k][c++] = log(o->x);
        if (trend)
            d->X[k][c++] = (double)(o->t_ms - d->t_ref) / MS_PER_HOUR;
    }
    d->max_gap_h = max_gap_h(win, target, use_input, &d->pauses);
    for (uint32_t k = 0; k < d->n; k++)
        d->w[k] = pow(0.5, (double)(d->n - 1 - k) / FEEDBACK_FIT_HALFLIFE);
    if (!use_input)
        d->x_lo = d->x_hi = 0;
    return d->n;
}

/* --- weighted least squares ------------------------------------------------------------------------ */

/* Inverts the p x p matrix a into inv (Gauss-Jordan, partial pivoting). Returns 0 or -1 (singular). */
static int invert(uint32_t p, double a[ACMS_SIZEFIT_MAX_P][ACMS_SIZEFIT_MAX_P],
                  double inv[ACMS_SIZEFIT_MAX_P][ACMS_SIZEFIT_MAX_P])
{
    double m[ACMS_SIZEFIT_MAX_P][2 * ACMS_SIZEFIT_MAX_P];
    double scale = 0;
    for (uint32_t i = 0; i < p; i++)
        for (uint32_t j = 0; j < p; j++) {
            m[i][j] = a[i][j];
            m[i][p + j] = i == j;
            if (fabs(a[i][j]) > scale)
                scale = fabs(a[i][j]);
        }
    for (uint32_t c = 0; c < p; c++) {
        uint32_t piv = c;
        for (uint32_t r = c + 1; r < p; r++)
            if (fabs(m[r][c]) > fabs(m[piv][c]))
                piv = r;
        if (!(fabs(m[piv][c]) > 1e-12 * (scale > 0 ? scale : 1)))
            return -1;
        for (uint32_t j = 0; j < 2 * p; j++) {
            double t = m[c][j];
            m[c][j] = m[piv][j];
            m[piv][j] = t;
        }
        double d = m[c][c];
        for (uint32_t j = 0; j < 2 * p; j++)
            m[c][j] /= d;
        for (uint32_t r = 0; r < p; r++) {
            if (r == c)
                continue;
            double f = m[r][c];
            for (uint32_t j = 0; j < 2 * p; j++)
                m[r][j] -= f * m[c][j];
        }
    }
    for (uint32_t i = 0; i < p; i++)
        for (uint32_t j = 0; j < p; j++)
            inv[i][j] = m[i][p + j];
    return 0;
}

/* beta = (X'WX)^-1 X'Wy with W = w x h; ainv = (X'WX)^-1. Returns 0 or -1. */
static int wls(const design *d, double beta[ACMS_SIZEFIT_MAX_P], double ainv[ACMS_SIZEFIT_MAX_P][ACMS_SIZEFIT_MAX_P])
{
    double a[ACMS_SIZEFIT_MAX_P][ACMS_SIZEFIT_MAX_P] = {{0}}, b[ACMS_SIZEFIT_MAX_P] = {0};
    for (uint32_t k = 0; k < d->n; k++) {
        double wk = d->w[k] * d->h[k];
        for (uint32_t i = 0; i < d->p; i++) {
            b[i] += wk * d->X[k][i] * d->y[k];
            for (uint32_t j = 0; j < d->p; j++)
                a[i][j] += wk * d->X[k][i] * d->X[k][j];
        }
    }
    if (invert(d->p, a, ainv) != 0)
        return -1;
    for (uint32_t i = 0; i < d->p; i++) {
        beta[i] = 0;
        for (uint32_t j = 0; j < d->p; j++)
            beta[i] += ainv[i][j] * b[j];
    }
    return 0;
}

static double fitted(const design *d, uint32_t k, const double *beta)
{
    double v = 0;
    for (uint32_t i = 0; i < d->p; i++)
        v += d->X[k][i] * beta[i];
    return v;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* 1.4826 x the median absolute residual, at least SCALE_FLOOR. */
static double mad_scale(const design *d)
{
    double v[FEEDBACK_OBS_MAX];
    for (uint32_t k = 0; k < d->n; k++)
        v[k] = fabs(d->r[k]);
    qsort(v, d->n, sizeof v[0], cmp_double);
    double med = d->n % 2 ? v[d->n / 2] : (v[d->n / 2 - 1] + v[d->n / 2]) / 2;
    double s = 1.4826 * med;
    return s > SCALE_FLOOR ? s : SCALE_FLOOR;
}

/* E[z | z > a] for a standard normal z (the inverse Mills ratio), stable for large a. */
static double mills(double a)
{
    if (a > 30)
        return a + 1.0 / a;
    double tail = 0.5 * erfc(a / sqrt(2.0));
    double dens = exp(-0.5 * a * a) / sqrt(2.0 * M_PI);
    return tail > 0 ? dens / tail : a + 1.0 / a;
}

/* Iteratively reweighted least squares: Huber weights and censored runs imputed from the current
 * fit. Returns 0 with beta, ainv and d->r set, or -1 (singular design). */
static int irls(design *d, double beta[ACMS_SIZEFIT_MAX_P], double ainv[ACMS_SIZEFIT_MAX_P][ACMS_SIZEFIT_MAX_P])
{
    if (wls(d, beta, ainv) != 0)
        return -1;
    for (int it = 0; it < IRLS_ITERS; it++) {
        for (uint32_t k = 0; k < d->n; k++)
            d->r[k] = d->y[k] - fitted(d, k, beta);
        double s = mad_scale(d), sc = s > FEEDBACK_FIT_PRIOR_SD ? s : FEEDBACK_FIT_PRIOR_SD;
        for (uint32_t k = 0; k < d->n; k++) {
            if (d->cens[k]) {
                double mu = fitted(d, k, beta);
                d->y[k] = mu + sc * mills((d->c[k] - mu) / sc);
                if (d->y[k] < d->c[k])
                    d->y[k] = d->c[k];
                d->r[k] = d->y[k] - mu;
            }
            double lim = FEEDBACK_FIT_HUBER_K * s;
            d->h[k] = fabs(d->r[k]) <= lim ? 1.0 : lim / fabs(d->r[k]);
        }
        double prev[ACMS_SIZEFIT_MAX_P];
        memcpy(prev, beta, sizeof prev);
        if (wls(d, beta, ainv) != 0)
            return -1;
        double delta = 0;
        for (uint32_t i = 0; i < d->p; i++)
            delta = fmax(delta, fabs(beta[i] - prev[i]));
        if (delta < 1e-10)
            break;
    }
    for (uint32_t k = 0; k < d->n; k++)
        d->r[k] = d->y[k] - fitted(d, k, beta);
    return 0;
}

/* --- the model ------------------------------------------------------------------------------------- */

/* The model of a converged fit: sandwich covariance (recency weights are not precisions), the
 * residual variance pooled with the prior, R^2 and the extremes. Returns 0, or -1 when no degree of
 * freedom is left for the residual. */
static int finish(const design *d, const double *beta, double ainv[ACMS_SIZEFIT_MAX_P][ACMS_SIZEFIT_MAX_P],
                  acms_sizefit *m)
{
    double bm[ACMS_SIZEFIT_MAX_P][ACMS_SIZEFIT_MAX_P] = {{0}};
    double sw = 0, sw2 = 0, swr2 = 0, swy = 0, maxr = 0;
    for (uint32_t k = 0; k < d->n; k++) {
        double wk = d->w[k] * d->h[k];
        sw += wk;
        sw2 += wk * wk;
        swr2 += wk * d->r[k] * d->r[k];
        swy += wk * d->y[k];
        if (!d->cens[k] && d->r[k] > maxr)
            maxr = d->r[k];
        for (uint32_t i = 0; i < d->p; i++)
            for (uint32_t j = 0; j < d->p; j++)
                bm[i][j] += wk * wk * d->X[k][i] * d->X[k][j];
    }
    double neff = sw * sw / sw2, df = neff - (double)d->p;
    if (!(sw > 0) || !(df >= 0.5))
        return -1;
    memset(m, 0, sizeof *m);
    m->p = d->p;
    m->uses_input = d->input;
    m->uses_trend = d->trend;
    for (uint32_t i = 0; i < d->p; i++) {
        m->beta[i] = beta[i];
        for (uint32_t j = 0; j < d->p; j++)
            for (uint32_t a = 0; a < d->p; a++)
                for (uint32_t b = 0; b < d->p; b++)
                    m->cov[i][j] += ainv[i][a] * bm[a][b] * ainv[b][j];
    }
    double s2obs = swr2 / sw * neff / df;
    double prior = FEEDBACK_FIT_PRIOR_SD * FEEDBACK_FIT_PRIOR_SD;
    m->s2 = (df * s2obs + FEEDBACK_FIT_PRIOR_DF * prior) / (df + FEEDBACK_FIT_PRIOR_DF);
    m->df = df + FEEDBACK_FIT_PRIOR_DF;
    m->resid_sd = sqrt(s2obs);
    m->max_resid = maxr;
    double ybar = swy / sw, sst = 0;
    for (uint32_t k = 0; k < d->n; k++)
        sst += d->w[k] * d->h[k] * (d->y[k] - ybar) * (d->y[k] - ybar);
    m->r2 = sst > 1e-12 ? fmax(0.0, 1.0 - swr2 / sst) : 0;
    m->t_ref_ms = d->t_ref;
    m->horizon_cap_h = d->max_gap_h;
    m->x_lo = d->x_lo;
    m->x_hi = d->x_hi;
    m->n = d->n;
    m->censored = d->ncens;
    for (uint32_t i = 0; i < d->p; i++)
        if (!isfinite(m->beta[i]))
            return -1;
    return 0;
}

/* The fit with a trend column when its growth is positive and significant; else -1. */
static int fit_trend(const feedback_window *w, feedback_fit_target target, int use_input, acms_sizefit *m)
{
    design d;
    double beta[ACMS_SIZEFIT_MAX_P], ainv[ACMS_SIZEFIT_MAX_P][ACMS_SIZEFIT_MAX_P];
    collect(w, target, use_input, 1, &d);
    if (d.pauses == 0 || d.n < d.p + 2 || irls(&d, beta, ainv) != 0 || finish(&d, beta, ainv, m) != 0)
        return -1; /* runs started together are one point in time: no trend to see */
    uint32_t t = m->p - 1;
    double slope = m->beta[t], se = sqrt(m->s2 * m->cov[t][t]);
    return slope > 0 && se > 0 && slope / se > FEEDBACK_FIT_TREND_T ? 0 : -1;
}

int feedback_fit(const feedback_window *w, feedback_fit_target target, int use_input, acms_sizefit *m, const char **why)
{
    design d;
    double beta[ACMS_SIZEFIT_MAX_P], ainv[ACMS_SIZEFIT_MAX_P][ACMS_SIZEFIT_MAX_P];
    memset(m, 0, sizeof *m);
    *why = "";
    if (collect(w, target, use_input, 0, &d) < FEEDBACK_FIT_MIN_RUNS) {
        *why = use_input ? "fewer than 3 runs with an input value" : "fewer than 3 runs";
        return ACMS_ERR_NOTFOUND;
    }
    if (use_input && log(d.x_hi) - log(d.x_lo) < MIN_INPUT_SPREAD) {
        *why = "the input has not varied yet";
        return ACMS_ERR_NOTFOUND;
    }
    if (fit_trend(w, target, use_input, m) == 0)
        return ACMS_OK;
    if (irls(&d, beta, ainv) != 0 || finish(&d, beta, ainv, m) != 0) {
        memset(m, 0, sizeof *m);
        *why = "too few distinct runs to fit";
        return ACMS_ERR_NOTFOUND;
    }
    return ACMS_OK;
}

int feedback_fit_usable(const acms_sizefit *m)
{
    return m && m->p > 0 && m->n >= FEEDBACK_FIT_MIN_RUNS && m->resid_sd <= FEEDBACK_FIT_MAX_SD;
}
