/* learn.h: the LearningEngine. From a step's decayed history it recommends, per (pipeline, step):
 *   memory_mb  = max(ceil(max(p95(peak) x 1.15, p95(peak) + 8 MiB)), min_memory_mb)
 *   runtime_s  = max(ceil(max(p99(wall) x 1.5, p99(wall) + 30 s) / 1000), min_runtime_s)
 *   instance   = the cheapest catalogue type of the step's family with memory_mb / memory_scale of the
 *                environment (the catalogue memory a type needs to give memory_mb), the vCPUs seen
 *                used (p95 cores x 1.2) and its GPUs (acms_catalog_smallest_fit); the adapter uses
 *                memory_mb directly for the local limit, the type is for the record.
 * Margin: 15% over the p95 is the safety margin of Autopilot-style recommenders; the absolute minimum
 * (+8 MiB) only covers the allocator and runtime jitter of small processes. It was 32 MiB, which
 * left every step under 213 MiB with 13-60% slack however steady it was (make bench-learning).
 * A memory kill raises a lasting floor min_memory_mb = max(peak + 100 MiB, peak x 1.2) of the peak
 * at the kill (the Vertical Pod Autoscaler's OOM rule); a time kill raises min_runtime_s to at least
 * 2 x the killed limit. Floors hold for FEEDBACK_FLOOR_CLEAN_RUNS clean runs, then decay by 10% per
 * clean run and vanish once below the history-based value. Written to Redis as
 *   acms:learn:rec:<pipeline>:<step> {memory_mb, runtime_s, instance_type, mode, based_on_runs,
 *                                     reason, updated_ms, min_memory_mb, min_runtime_s}
 * with mode "apply" (the adapter applies it) or "shadow" (reported only).
 * Input-aware sizing and drift (fit.h, docs/learning.md): when the step declares a sizing input, peak
 * memory and wall time are also fitted against it (fit_memory, fit_wall: common/sizefit.h models the
 * adapter evaluates for each run's own input value); without one, a level fit whose growth is
 * significant is kept as a drift model (method "history-trend"). Written beside the history-based
 * values, which stay the fallback: sizing_input, fit_method (input-fit | history-trend | ""),
 * fit_usable (1 when the memory fit is good enough to size from), fit_note (why not), fit_memory,
 * fit_wall. The hash is replaced as a whole, so no field outlives the recommendation it belonged to.
 * Pure. */
#ifndef FEEDBACK_LEARN_H
#define FEEDBACK_LEARN_H

#include "history.h"

#define FEEDBACK_MEM_MARGIN 0.15
#define FEEDBACK_MEM_MARGIN_MIN_MB 8.0
#define FEEDBACK_OOM_ADD_MB 100.0
#define FEEDBACK_OOM_FACTOR 1.2
#define FEEDBACK_FLOOR_CLEAN_RUNS 10
#define FEEDBACK_FLOOR_DECAY 0.9

typedef struct feedback_learn_in {
    const acms_catalog *catalog; /* may be NULL: no instance type */
    const char *instance_type;   /* the step's (mapped) type, for its family */
    double vcpu;                 /* configured vCPUs (used when no CPU history) */
    uint32_t gpus;
    char *const *allowed; /* environment's allowed_instance_types (n 0 = all) */
    size_t nallowed;
    const char *mode;    /* apply | shadow */
    double memory_scale; /* environment's memory_scale (0 = 1): type memory x scale = limit */
} feedback_learn_in;

typedef struct feedback_rec {
    uint64_t memory_mb;        /* 0 = no memory recommendation */
    uint32_t runtime_s;        /* 0 = no runtime recommendation */
    const char *instance_type; /* "" = none */
    const char *mode;
    uint32_t based_on_runs;
    char reason[1024];
    uint64_t min_memory_mb;
    uint32_t min_runtime_s;
    double p95_peak_mb; /* NAN without history */
    double p99_wall_ms;
    /* size fits (fit.h) */
    const char *sizing_input; /* the declared sizing input ("" = none) */
    const char *fit_method;   /* "input-fit", "history-trend" or "" */
    int has_fit_memory, has_fit_wall;
    int fit_usable;       /* the memory fit is good enough to size from */
    const char *fit_note; /* why there is no usable input fit ("" when there is one) */
    acms_sizefit fit_memory, fit_wall;
} feedback_rec;

uint64_t feedback_memory_bump_mb(double peak_mb);       /* ceil(max(peak + 100, peak x 1.2)) */
uint64_t feedback_memory_target_mb(double p95_mb);      /* ceil(max(p95 x 1.15, p95 + 8)) */
uint32_t feedback_runtime_target_s(double p99_wall_ms); /* ceil(max(p99 x 1.5, p99 + 30000) / 1000) */

/* Learning across versions of a pipeline: stats and recommendations are keyed by (pipeline, step),
 * so a new version of a pipeline starts from what earlier versions taught; both hashes also record
 * command_hash (StepResult.command_hash, acms_store_command_hash of the step's command). When
 * acms_store_command_applies says the command changed, the step's history starts afresh here and the
 * adapter ignores the old recommendation (services/adapter/scaler.c). */

/* Updates the floors and the clean-run count of st from a run's outcome (after feedback_stats_track). */
void feedback_learn_observe(feedback_stats *st, const feedback_outcome *o);
/* Fills *out; returns 1 when it recommends something (memory or runtime), else 0. */
int feedback_learn_recommend(const feedback_stats *st, const feedback_learn_in *in, feedback_rec *out);
/* The fields of acms:learn:rec:<pipeline>:<step> for rec (names static, values copied into the arena, so
 * they outlive rec; the op replaces the hash): memory_mb
 * runtime_s instance_type mode based_on_runs reason updated_ms min_memory_mb min_runtime_s
 * command_hash sizing_input fit_method fit_usable fit_note fit_memory fit_wall. Returns the number of
 * strings (2 per pair). */
size_t feedback_rec_to_hash(acms_arena *a, const feedback_rec *rec, const char *updated_ms, const char *command_hash,
                            const char ***kv);
/* Insights worth reporting for this step's run (memory_bump, right_size_memory, runtime_limit),
 * appended to *v (arena). A step sized from its input (a usable input fit) gets no right_size_memory
 * (each run is sized from its own input; the history's value is only the fallback), and its
 * memory_bump says the kill is in the fit rather than announcing a floor. */
void feedback_learn_insights(acms_arena *a, const char *pipeline, const feedback_outcome *o, const feedback_stats *st,
                             const feedback_rec *rec, Acms__V1__LearningInsight ***v, size_t *n);

#endif
