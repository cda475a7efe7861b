/* history.h: the PerformanceTracker. Per (pipeline, step) usage history with decaying weights:
 * fixed log-spaced histograms (peak MiB 1 MiB..1 TiB, wall ms 1 ms..2^32 ms, cores 0.001..1024;
 * 128 buckets each) whose counts are multiplied by a decay (0.9) before each new run is added,
 * so older runs count less and the state stays bounded whatever the number of runs.
 * Each bucket also keeps the decayed sum of its values; a quantile is the weighted mean of the bucket
 * where the cumulative weight crosses q (exact for clustered data, within half a bucket otherwise).
 * Beside the histograms, the last FEEDBACK_OBS_MAX runs themselves (fit.h: time, input value, peak,
 * wall, censored) for the size fits; a memory kill without a measured success enters it as a censored
 * run. Pure functions; the serialised form is one compact string per histogram (a Redis hash field)
 * and the stats hash acms:feedback:stats:<pipeline>:<step> (fields listed at feedback_stats_to_hash). */
#ifndef FEEDBACK_HISTORY_H
#define FEEDBACK_HISTORY_H

#include "arena.h"
#include "fit.h"
#include "outcome.h"

#define FEEDBACK_HIST_MAX 128
#define FEEDBACK_DECAY 0.9
#define FEEDBACK_HIST_EPS 1e-4 /* decayed counts below this are dropped */

typedef struct feedback_hist {
    double lo, hi; /* range; values outside land in the first/last bucket */
    uint32_t n;    /* buckets (<= FEEDBACK_HIST_MAX) */
    double count[FEEDBACK_HIST_MAX];
    double sum[FEEDBACK_HIST_MAX]; /* decayed sum of the values in each bucket */
    double total;                  /* sum of counts */
    double min, max;               /* exact extremes ever added (valid when seen > 0) */
    uint32_t seen;                 /* values ever added (saturating) */
} feedback_hist;

void feedback_hist_init(feedback_hist *h, double lo, double hi, uint32_t nbuckets);
/* Decays every count by decay (0 < decay <= 1; 1 = no decay), then adds v with weight 1.
 * Non-finite or negative v is ignored (no decay either). */
void feedback_hist_add(feedback_hist *h, double v, double decay);
/* The q-quantile (0..1) of the weighted values; NAN when empty. */
double feedback_hist_quantile(const feedback_hist *h, double q);
/* Index of the bucket holding v. */
uint32_t feedback_hist_bucket(const feedback_hist *h, double v);
/* Buckets with a non-zero count. */
uint32_t feedback_hist_used(const feedback_hist *h);

/* "h1;lo=<lo>;hi=<hi>;n=<n>;seen=<s>;min=<m>;max=<M>;b=<i>:<count>:<mean>,..." (non-zero buckets only).
 * ACMS_OK or ACMS_ERR_LIMIT when buf is too small (8192 bytes always suffice). */
int feedback_hist_format(const feedback_hist *h, char *buf, size_t size);
/* Parses the format into h. NULL/"" leaves h empty with ACMS_OK. A string with another range or
 * bucket count, or malformed, leaves h empty (its range kept) and returns ACMS_ERR_INVALID. */
int feedback_hist_parse(feedback_hist *h, const char *s);

/* What the tracker keeps per (pipeline, step). The learn fields are owned by learn.c. */
typedef struct feedback_stats {
    feedback_hist wall_ms;
    feedback_hist peak_mb;
    feedback_hist cores; /* CPU cores used: cpu_ms / wall_ms */
    uint32_t runs;       /* successful observations ever */
    double last_wall_ms, last_peak_mb, max_peak_mb, max_wall_ms;
    /* learn.c */
    uint64_t min_memory_mb; /* floor after a memory kill (0 = none) */
    uint32_t min_runtime_s; /* floor after a time kill (0 = none) */
    uint32_t clean_runs;    /* runs since the last resource kill */
    uint32_t kills_memory, kills_time;
    /* fit.h */
    feedback_window obs;      /* the last runs, for the size fits */
    const char *sizing_input; /* the step's declared sizing input ("" = none declared) */
    const char *version;      /* optimistic concurrency token read from Redis ("0" when new) */
} feedback_stats;

void feedback_stats_init(feedback_stats *st);
/* Adds a run's successful usage (o->observed) with decay FEEDBACK_DECAY, and the run to the window
 * (a measured success, or a censored memory kill; with o->input_value). A new sizing input name
 * forgets the input values of the runs before it (they measured something else). Other outcomes
 * (failed, skipped) change nothing here. sizing_input points into o afterwards. */
void feedback_stats_track(feedback_stats *st, const feedback_outcome *o);
/* Reads the stats hash (alternating field/value strings; unknown fields ignored). A malformed
 * histogram is reset (and ACMS_ERR_INVALID returned) rather than trusted. */
int feedback_stats_from_hash(feedback_stats *st, acms_arena *a, const char *const *kv, size_t nkv);
/* Field/value pairs to write (arena): hist_wall_ms hist_peak_mb hist_cores runs last_wall_ms
 * last_peak_mb max_peak_mb max_wall_ms p50_wall_ms p90_wall_ms p95_wall_ms p99_wall_ms p50_peak_mb
 * p90_peak_mb p95_peak_mb p99_peak_mb p95_cores min_memory_mb min_runtime_s clean_runs kills_memory
 * kills_time obs sizing_input. Returns the number of strings (2 per pair). */
size_t feedback_stats_to_hash(acms_arena *a, const feedback_stats *st, const char ***kv);

#endif
