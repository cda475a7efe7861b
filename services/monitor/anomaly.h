/* anomaly.h: the AnomalyDetector. A baseline per (pipeline, step, metric) keeps an EWMA mean and
 * variance (alpha 0.2) and a rolling window of the last 32 values (oldest first). Judgement is robust:
 *   anomalous  <=>  n >= 5 (warm)  and  v > median + max(6 * 1.4826 * MAD, 0.5 * median, min_delta)
 * over the window. Only upward deviations count (slower, bigger, busier). Only successful attempts
 * should be fed to monitor_baseline_update (a killed attempt is censored and would poison it).
 * Pure functions, no I/O; the serialised form is one compact string per metric (a Redis hash field). */
#ifndef MONITOR_ANOMALY_H
#define MONITOR_ANOMALY_H

#include <stddef.h>
#include <stdint.h>

#define MONITOR_WINDOW 32
#define MONITOR_WARMUP 5
#define MONITOR_EWMA_ALPHA 0.2
#define MONITOR_MAD_K 6.0        /* MADs above the median */
#define MONITOR_MAD_SCALE 1.4826 /* MAD -> standard deviation for normal data */
#define MONITOR_REL_SLACK 0.5    /* never flag below median x 1.5 */

typedef enum {
    MONITOR_METRIC_WALL = 0, /* wall time, ms */
    MONITOR_METRIC_PEAK,     /* peak RSS, MiB */
    MONITOR_METRIC_CPU,      /* user + sys CPU time, ms */
    MONITOR_METRIC__COUNT
} monitor_metric;

typedef struct monitor_baseline {
    uint32_t n;                    /* observations ever fed (saturating) */
    double mean;                   /* EWMA mean */
    double var;                    /* EWMA variance */
    double window[MONITOR_WINDOW]; /* last values, oldest first */
    uint32_t wn;                   /* values in window (<= MONITOR_WINDOW) */
    double min_delta;              /* absolute slack under which nothing is anomalous; not serialised */
} monitor_baseline;

typedef struct monitor_anomaly {
    int anomalous; /* 1 when v exceeds the threshold of a warm baseline */
    int warm;      /* n >= MONITOR_WARMUP */
    double observed;
    double median; /* expected value */
    double mad;
    double threshold; /* median + max(...) */
    double mean;      /* EWMA */
    double stddev;    /* sqrt(EWMA variance) */
    double ratio;     /* observed / median (0 when the median is 0) */
} monitor_anomaly;

/* An empty baseline with the metric's absolute slack (monitor_metric_min_delta). */
void monitor_baseline_init(monitor_baseline *b, double min_delta);
/* Default absolute slack per metric: 1000 ms wall, 32 MiB peak, 1000 ms CPU. */
double monitor_metric_min_delta(monitor_metric m);
/* Hash field name of a metric: "wall_ms", "peak_mb", "cpu_ms". */
const char *monitor_metric_name(monitor_metric m);

/* Feeds one observation (negative or non-finite values are ignored). */
void monitor_baseline_update(monitor_baseline *b, double v);
/* The anomaly threshold of a warm baseline, +infinity while warming up. */
double monitor_baseline_threshold(const monitor_baseline *b);
/* Judges v against b (b is not changed). Fills *out (may be NULL) and returns out->anomalous. */
int monitor_anomaly_check(const monitor_baseline *b, double v, monitor_anomaly *out);

/* Serialises to "n=<n>;mean=<m>;var=<v>;win=<v1>,<v2>,..." into buf. Returns ACMS_OK or ACMS_ERR_LIMIT
 * when buf is too small (1024 bytes always suffice). */
int monitor_baseline_format(const monitor_baseline *b, char *buf, size_t size);
/* Parses the format above into b (min_delta kept). A malformed string leaves b empty and returns
 * ACMS_ERR_INVALID; NULL or "" gives an empty baseline and ACMS_OK. */
int monitor_baseline_parse(monitor_baseline *b, const char *s);

#endif
