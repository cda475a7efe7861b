/* analyze.h: the PerformanceAnalyzer. Compares what a step uses (live at heartbeats, final when it
 * finished) with its limits and proposes AdaptationOpportunities, each with a safety score in 0..1
 * (the adapter applies an opportunity only when its score reaches the environment's
 * safety_threshold, default 0.8). Pure: plain structs in, decisions out.
 *
 * Safety score table (proto/acms/v1/monitor.proto points here):
 *   kind         field          trigger                                         proposed                          safety
 *   memory_up    memory_mb      peak (or live) RSS >= 95% of the limit,          ceil(max(peak x 1.3,              0.95
 *                               or the attempt was killed for memory             peak + 100 MiB))
 *   memory_up    memory_mb      peak (or live) RSS in [90%, 95%) of the limit   same                              0.85
 *   runtime_up   max_runtime_s  elapsed >= 85% of max_runtime_s, or time kill   2 x max_runtime_s                 0.90
 *   cpu_down     vcpu           finished, >= 10 s, cpu/(wall x vcpu) < 0.2      max(0.25, used cores x 1.5)       0.60
 *                                                                                 rounded up to 0.25               (informational)
 *   memory_down  memory_mb      finished successfully, baseline warm (>= 5),    ceil(max(peak x 1.3,              0.50
 *                               peak < 25% of the limit                          peak + 100 MiB))                 (never live)
 * memory_up and runtime_up are also proposed live (step_running) so a running step can be given
 * room before it is killed; memory_down and cpu_down only ever concern the next run. */
#ifndef MONITOR_ANALYZE_H
#define MONITOR_ANALYZE_H

#include <stddef.h>
#include <stdint.h>

#define MONITOR_MAX_OPPS 4
#define MONITOR_MEM_HIGH 0.90         /* memory_up trigger */
#define MONITOR_MEM_CRIT 0.95         /* memory_up with the higher safety */
#define MONITOR_MEM_LOW 0.25          /* memory_down trigger */
#define MONITOR_RUNTIME_HIGH 0.85     /* runtime_up trigger */
#define MONITOR_CPU_IDLE 0.20         /* cpu_down trigger */
#define MONITOR_CPU_MIN_WALL_MS 10000 /* cpu_down only for steps of at least 10 s */

typedef struct monitor_usage {
    int running;              /* 1: heartbeat of a running step; 0: the attempt finished */
    int succeeded;            /* finished with exit reason OK */
    int killed_memory;        /* finished: killed for exceeding its memory limit */
    int killed_time;          /* finished: killed for exceeding max_runtime_s */
    uint64_t peak_rss_kb;     /* peak so far */
    uint64_t rss_kb;          /* current RSS (heartbeats) */
    uint64_t mem_limit_mb;    /* enforced memory limit (0 = unknown: no memory rule) */
    uint64_t cpu_ms;          /* user + sys */
    uint64_t wall_ms;         /* elapsed (heartbeat) or total (finished) */
    double vcpu;              /* 0 = unknown: no CPU rule */
    uint32_t runtime_limit_s; /* max_runtime_s (0 = none: no runtime rule) */
    uint32_t baseline_runs;   /* successful observations in the step's peak-memory baseline */
} monitor_usage;

typedef struct monitor_opportunity {
    const char *kind;  /* memory_up | memory_down | runtime_up | cpu_down (static) */
    const char *field; /* memory_mb | max_runtime_s | vcpu (static) */
    char current_value[32];
    char proposed_value[32];
    double safety;
    char reason[256];
} monitor_opportunity;

/* Fills out[] with at most MONITOR_MAX_OPPS opportunities; returns how many. */
size_t monitor_analyze(const monitor_usage *u, monitor_opportunity out[MONITOR_MAX_OPPS]);
/* The memory a step needs after reaching peak_mb: ceil(max(peak x 1.3, peak + 100 MiB)). */
uint64_t monitor_memory_up_mb(double peak_mb);

#endif
