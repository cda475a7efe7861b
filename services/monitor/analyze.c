/* analyze.c: the PerformanceAnalyzer's utilisation rules (table in analyze.h).
 * Invariants: a proposal always moves in its kind's direction (memory_up proposes more than the
 * limit, memory_down less, cpu_down fewer vCPUs), and nothing is proposed without a known limit. */
#include "analyze.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

uint64_t monitor_memory_up_mb(double peak_mb)
{
    if (!(peak_mb > 0))
        peak_mb = 0;
    double a = peak_mb * 1.3, b = peak_mb + 100.0;
    return (uint64_t)ceil(a > b ? a : b);
}

static monitor_opportunity *add(monitor_opportunity *out, size_t *n, const char *kind, const char *field, double safety)
{
    if (*n >= MONITOR_MAX_OPPS)
        return NULL;
    monitor_opportunity *o = &out[(*n)++];
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->field = field;
    o->safety = safety;
    return o;
}

static void memory_rules(const monitor_usage *u, monitor_opportunity *out, size_t *n)
{
    if (u->mem_limit_mb == 0)
        return;
    double limit = (double)u->mem_limit_mb;
    uint64_t used_kb = u->peak_rss_kb;
    if (u->running && u->rss_kb > used_kb)
        used_kb = u->rss_kb;
    double used_mb = (double)used_kb / 1024.0;
    double util = used_mb / limit;

    if (u->killed_memory || util >= MONITOR_MEM_HIGH) {
        /* A kill leaves the peak near the limit: size from whichever is larger. */
        double basis = u->killed_memory && used_mb < limit ? limit : used_mb;
        uint64_t proposed = monitor_memory_up_mb(basis);
        double safety = (u->killed_memory || util >= MONITOR_MEM_CRIT) ? 0.95 : 0.85;
        monitor_opportunity *o = add(out, n, "memory_up", "memory_mb", safety);
        if (!o)
            return;
        snprintf(o->current_value, sizeof o->current_value, "%llu", (unsigned long long)u->mem_limit_mb);
        snprintf(o->proposed_value, sizeof o->proposed_value, "%llu", (unsigned long long)proposed);
        if (u->killed_memory)
            snprintf(
                o->reason, sizeof o->reason,
                "killed for memory at %.0f MiB of a %llu MiB limit; next attempt needs max(peak x 1.3, peak + 100 MiB)",
                used_mb, (unsigned long long)u->mem_limit_mb);
        else
            snprintf(o->reason, sizeof o->reason, "%s RSS %.0f MiB is %.0f%% of the %llu MiB limit",
                     u->running ? "live" : "peak", used_mb, util * 100.0, (unsigned long long)u->mem_limit_mb);
        return;
    }
    /* memory_down: finished, successful, warm history, heavily over-provisioned. Never live. */
    if (!u->running && u->succeeded && u->baseline_runs >= 5 && used_kb > 0 && util < MONITOR_MEM_LOW) {
        uint64_t proposed = monitor_memory_up_mb(used_mb);
        if (proposed >= u->mem_limit_mb)
            return;
        monitor_opportunity *o = add(out, n, "memory_down", "memory_mb", 0.5);
        if (!o)
            return;
        snprintf(o->current_value, sizeof o->current_value, "%llu", (unsigned long long)u->mem_limit_mb);
        snprintf(o->proposed_value, sizeof o->proposed_value, "%llu", (unsigned long long)proposed);
        snprintf(o->reason, sizeof o->reason,
                 "peak RSS %.0f MiB is only %.0f%% of the %llu MiB limit after %u successful runs", used_mb,
                 util * 100.0, (unsigned long long)u->mem_limit_mb, (unsigned)u->baseline_runs);
    }
}

static void runtime_rule(const monitor_usage *u, monitor_opportunity *out, size_t *n)
{
    if (u->runtime_limit_s == 0)
        return;
    double limit_ms = (double)u->runtime_limit_s * 1000.0;
    double share = (double)u->wall_ms / limit_ms;
    if (!u->killed_time && share < MONITOR_RUNTIME_HIGH)
        return;
    uint64_t proposed = 2ull * u->runtime_limit_s;
    monitor_opportunity *o = add(out, n, "runtime_up", "max_runtime_s", 0.9);
    if (!o)
        return;
    snprintf(o->current_value, sizeof o->current_value, "%u", (unsigned)u->runtime_limit_s);
    snprintf(o->proposed_value, sizeof o->proposed_value, "%llu", (unsigned long long)proposed);
    if (u->killed_time)
        snprintf(o->reason, sizeof o->reason, "killed after reaching max_runtime_s %u s", (unsigned)u->runtime_limit_s);
    else
        snprintf(o->reason, sizeof o->reason, "%s %.1f s is %.0f%% of max_runtime_s %u s",
                 u->running ? "elapsed" : "wall time", (double)u->wall_ms / 1000.0, share * 100.0,
                 (unsigned)u->runtime_limit_s);
}

static void cpu_rule(const monitor_usage *u, monitor_opportunity *out, size_t *n)
{
    if (u->running || !u->succeeded || u->vcpu <= 0 || u->wall_ms < MONITOR_CPU_MIN_WALL_MS)
        return;
    double cores = (double)u->cpu_ms / (double)u->wall_ms;
    double util = cores / u->vcpu;
    if (util >= MONITOR_CPU_IDLE)
        return;
    double proposed = ceil(cores * 1.5 * 4.0) / 4.0;
    if (proposed < 0.25)
        proposed = 0.25;
    if (proposed >= u->vcpu)
        return;
    monitor_opportunity *o = add(out, n, "cpu_down", "vcpu", 0.6);
    if (!o)
        return;
    snprintf(o->current_value, sizeof o->current_value, "%g", u->vcpu);
    snprintf(o->proposed_value, sizeof o->proposed_value, "%g", proposed);
    snprintf(o->reason, sizeof o->reason, "CPU mostly idle: %.2f cores used of %g vCPU (%.0f%%) over %.1f s", cores,
             u->vcpu, util * 100.0, (double)u->wall_ms / 1000.0);
}

size_t monitor_analyze(const monitor_usage *u, monitor_opportunity out[MONITOR_MAX_OPPS])
{
    size_t n = 0;
    memory_rules(u, out, &n);
    runtime_rule(u, out, &n);
    cpu_rule(u, out, &n);
    return n;
}
