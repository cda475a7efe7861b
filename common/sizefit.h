/* sizefit.h: a fitted size model and its prediction bound (docs/learning.md, "Input-aware sizing").
 *   ln(need) = b0 [+ b1 ln(input)] [+ b2 hours since t_ref]
 * fitted by the learning engine (services/feedback/fit.c: robust, recency-weighted, censored) and
 * evaluated by the adapter's scaler for each run's own input value at prepare time. The model carries
 * what a prediction interval needs: the coefficient covariance (in units of the residual variance),
 * the residual variance pooled with a prior and its degrees of freedom. Upper bound at quantile q:
 *   mean + max(t_q(df) x s x sqrt(1 + v' C v), max_resid)
 * where v is the prediction point; the trend's horizon is capped at the longest pause seen between
 * two runs (horizon_cap_h), so a step that has not run for months is not extrapolated months ahead,
 * and a level shift is not extrapolated as lasting growth. Serialised as one compact
 * string (a Redis hash field). Pure functions; no allocation. */
#ifndef ACMS_SIZEFIT_H
#define ACMS_SIZEFIT_H

#include <stddef.h>
#include <stdint.h>

#define ACMS_SIZEFIT_MAX_P 3
#define ACMS_SIZEFIT_Q 0.995 /* one-sided quantile of the upper prediction bound */
#define ACMS_SIZEFIT_MARGIN                                                                                            \
    0.01 /* relative margin the scaler adds over the upper bound, before
                                         rounding up to a whole MiB */

typedef struct acms_sizefit {
    uint32_t p;     /* parameters (1..3), columns in the order 1, ln x, hours */
    int uses_input; /* ln(input) column present */
    int uses_trend; /* hours column present */
    double beta[ACMS_SIZEFIT_MAX_P];
    double cov[ACMS_SIZEFIT_MAX_P][ACMS_SIZEFIT_MAX_P]; /* Cov(beta) / s2 */
    double s2;                                          /* residual variance, pooled with the prior (log scale) */
    double df;                                          /* its degrees of freedom (> 0) */
    double resid_sd;                                    /* the observations' own residual sd, before pooling */
    double max_resid;                                   /* largest residual of an observation (>= 0) */
    double r2;                                          /* weighted R^2 of the fit (0 when undefined) */
    int64_t t_ref_ms;                                   /* trend origin: the newest observation */
    double horizon_cap_h; /* the longest pause between two runs (hours): the trend's reach */
    double x_lo, x_hi;    /* input range seen (0 without input) */
    uint32_t n;           /* observations */
    uint32_t censored;    /* of them, kills (need above the limit) */
} acms_sizefit;

typedef struct acms_sizefit_pred {
    double mean;      /* exp of the central prediction (MiB or ms) */
    double upper;     /* exp of the upper bound */
    double horizon_h; /* hours of trend extrapolation used */
} acms_sizefit_pred;

/* Student-t quantile (Hill's expansion around the normal quantile; within 1% for df >= 3; df is
 * clamped to >= 1). p in (0, 1). */
double acms_sizefit_t_quantile(double p, double df);
/* Standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9). */
double acms_sizefit_normal_quantile(double p);
/* Predicts at input x (ignored without an input column; must be > 0 with one) and time now_ms.
 * Returns 0 and *out, or -1 (bad model or x). */
int acms_sizefit_predict(const acms_sizefit *m, double x, int64_t now_ms, double q, acms_sizefit_pred *out);
/* Relative growth the trend gives over hours (capped at horizon_cap_h): exp(b2 x h) - 1; 0 without
 * a trend. */
double acms_sizefit_growth(const acms_sizefit *m, double hours);
/* The trend's slope, d ln(need) / d hour (0 without a trend). */
double acms_sizefit_trend_per_hour(const acms_sizefit *m);
/* "f1;p=..;i=..;t=..;b=..;c=..;s2=..;df=..;sd=..;mr=..;r2=..;tr=..;sp=..;x=lo,hi;n=..;k=.."
 * ACMS_OK or ACMS_ERR_LIMIT (512 bytes always suffice). */
int acms_sizefit_format(const acms_sizefit *m, char *buf, size_t size);
/* Parses the format (NULL/"" or malformed: ACMS_ERR_INVALID, *m zeroed). Checks the model is usable
 * (p matches the columns, finite numbers, s2 >= 0, df > 0). */
int acms_sizefit_parse(acms_sizefit *m, const char *s);

#endif
