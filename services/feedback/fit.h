/* fit.h: the learning engine's observations and its size fits (docs/learning.md).
 * Per (pipeline, step) a bounded window of the last FEEDBACK_OBS_MAX runs (time, input value, peak
 * memory, wall time, censored) is kept in the stats hash (field "obs", under 2 KiB), so the state
 * stays small whatever the number of runs. From it, feedback_fit fits
 *   ln(need) = b0 [+ b1 ln(input)] [+ b2 hours]     (common/sizefit.h)
 * by weighted least squares with
 *   - recency weights 0.5^(age / FEEDBACK_FIT_HALFLIFE), age counted in runs (newest = 0);
 *   - Huber weights (k = 1.345 x the residuals' MAD scale), iterated: one odd run does not move the fit;
 *   - censoring: a memory kill says the need was above the limit; its value is imputed as
 *     E[y | y > ln(limit)] under the current fit (Buckley-James), so kills pull the fit up instead of
 *     being dropped;
 *   - a trend column only when the runs were started at two times at least (runs started within
 *     FEEDBACK_FIT_SAME_TIME_MS of each other are one point in time) and the fitted growth is positive
 *     and significant (t > FEEDBACK_FIT_TREND_T): drift is extrapolated, noise is not;
 *   - the residual variance pooled with a prior (FEEDBACK_FIT_PRIOR_SD, FEEDBACK_FIT_PRIOR_DF), so a
 *     fit from three runs is not trusted as if its three residuals were the whole story.
 * A fit is poor (the scaler falls back to history quantiles) when its residual sd exceeds
 * FEEDBACK_FIT_MAX_SD or it has fewer than FEEDBACK_FIT_MIN_RUNS runs. Pure. */
#ifndef FEEDBACK_FIT_H
#define FEEDBACK_FIT_H

#include <stddef.h>
#include <stdint.h>

#include "sizefit.h"

#define FEEDBACK_OBS_MAX 32
#define FEEDBACK_FIT_HALFLIFE 16.0
#define FEEDBACK_FIT_HUBER_K 1.345
#define FEEDBACK_FIT_TREND_T 2.0
#define FEEDBACK_FIT_SAME_TIME_MS 1000
#define FEEDBACK_FIT_PRIOR_SD 0.03
#define FEEDBACK_FIT_PRIOR_DF 3.0
#define FEEDBACK_FIT_MIN_RUNS 3
#define FEEDBACK_FIT_MAX_SD 0.25

typedef struct feedback_obs {
    int64_t t_ms;   /* when the run started */
    double x;       /* the run's input value (0 = none) */
    double peak_mb; /* peak memory; for a censored run the limit it was killed at */
    double wall_ms; /* 0 = unknown (and for censored runs) */
    int censored;   /* killed for memory: the need was above peak_mb */
} feedback_obs;

/* Oldest first; a push beyond FEEDBACK_OBS_MAX drops the oldest. */
typedef struct feedback_window {
    feedback_obs v[FEEDBACK_OBS_MAX];
    uint32_t n;
} feedback_window;

void feedback_window_push(feedback_window *w, const feedback_obs *o);
/* "w1;<t>,<x>,<peak>,<wall>,<c>;..." ACMS_OK or ACMS_ERR_LIMIT (4096 bytes always suffice). */
int feedback_window_format(const feedback_window *w, char *buf, size_t size);
/* NULL/"" gives an empty window (ACMS_OK); malformed: empty window and ACMS_ERR_INVALID. */
int feedback_window_parse(feedback_window *w, const char *s);
/* Runs in the window with an input value (x > 0). */
uint32_t feedback_window_with_input(const feedback_window *w);

typedef enum { FEEDBACK_FIT_MEMORY, FEEDBACK_FIT_WALL } feedback_fit_target;

/* Fits target over the window: against ln(input) when use_input (runs without input are left out),
 * else a level. Returns ACMS_OK with *m, or ACMS_ERR_NOTFOUND when the runs are too few (fewer than
 * FEEDBACK_FIT_MIN_RUNS usable, or none left for the residual) or, with use_input, the input never
 * varied (then *m is the level fit without input, if any, and *why says so). *why (static text) is
 * "" on success. */
int feedback_fit(const feedback_window *w, feedback_fit_target target, int use_input, acms_sizefit *m,
                 const char **why);
/* 1 when the fit is good enough to size from (enough runs, residual sd within FEEDBACK_FIT_MAX_SD). */
int feedback_fit_usable(const acms_sizefit *m);

#endif
