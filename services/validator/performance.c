/* performance.c: validation level 5, predictions from history. What earlier runs of the same
 * pipeline step used (the feedback service's statistics and recommendations, passed in as plain
 * validator_step_history values) is compared with what the step requests: memory far above or below
 * the p90 peak, a runtime limit under the p90 duration, and the expected duration and cost of the
 * run (catalogue prices, critical path of the DAG). Statistics of fewer than
 * VALIDATOR_MIN_HISTORY_RUNS runs are not judged. */
#include "paths.h"
#include "steps.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Memory to suggest: the learned recommendation, else p90 peak + 25 %, rounded up to 64 MiB. */
static uint64_t target_memory(const validator_step_history *h)
{
    if (h->has_rec && h->rec_memory_mb)
        return h->rec_memory_mb;
    uint64_t m = (uint64_t)ceil(h->p90_peak_mb * 1.25);
    return (m + 63) / 64 * 64;
}

static const char *duration(acms_arena *a, double s)
{
    if (s < 90)
        return acms_arena_printf(a, "%.0f s", s);
    if (s < 5400)
        return acms_arena_printf(a, "%.0f min", s / 60);
    return acms_arena_printf(a, "%.1f h", s / 3600);
}

static void judge_step(const validator_input *in, acms_arena *a, acms_issues *is, size_t i, const Acms__V1__Step *s,
                       const validator_step_history *h, const acms_catalog *cat)
{
    if (!h->has_stats || h->runs < VALIDATOR_MIN_HISTORY_RUNS)
        return;
    uint64_t req = validator_step_memory_mb(s, cat);
    const char *mfield = s->memory_mb || !s->instance_type ? "memory_mb" : "instance_type";
    if (h->p90_peak_mb > 0 && req > 0) {
        uint64_t want = target_memory(h);
        if ((double)req > 2.0 * h->p90_peak_mb) {
            Acms__V1__ValidationIssue *x = validator_step_issue(
                in, is, i, mfield, "OVERPROVISIONED_MEMORY", "warning",
                "step '%s' requests %llu MiB but its p90 peak over %llu runs is %.0f MiB (%.1fx)",
                validator_str(s->name), (unsigned long long)req, (unsigned long long)h->runs, h->p90_peak_mb,
                (double)req / h->p90_peak_mb);
            if (want < req)
                acms_issue_suggest(is, x, "OVERPROVISIONED_MEMORY:right-size", "pattern", 0.7,
                                   validator_step_path(a, i, "memory_mb"),
                                   acms_arena_printf(a, "%llu", (unsigned long long)want),
                                   "request memory_mb: %llu (p90 peak plus headroom)", (unsigned long long)want);
        } else if ((double)req < h->p90_peak_mb) {
            if (want < (uint64_t)ceil(h->p90_peak_mb))
                want = ((uint64_t)ceil(h->p90_peak_mb * 1.25) + 63) / 64 * 64;
            Acms__V1__ValidationIssue *x = validator_step_issue(
                in, is, i, mfield, "UNDERPROVISIONED_MEMORY", "warning",
                "step '%s' requests %llu MiB but its p90 peak over %llu runs is %.0f MiB: likely killed for memory",
                validator_str(s->name), (unsigned long long)req, (unsigned long long)h->runs, h->p90_peak_mb);
            acms_issue_suggest(is, x, "UNDERPROVISIONED_MEMORY:right-size", "pattern", 0.8,
                               validator_step_path(a, i, "memory_mb"),
                               acms_arena_printf(a, "%llu", (unsigned long long)want),
                               "request memory_mb: %llu (p90 peak plus headroom)", (unsigned long long)want);
        }
    }
    if (s->max_runtime_s && h->p90_wall_ms > 0 && (double)s->max_runtime_s * 1000.0 < h->p90_wall_ms) {
        uint32_t want = h->has_rec && h->rec_runtime_s * 1000.0 > h->p90_wall_ms
                            ? h->rec_runtime_s
                            : (uint32_t)ceil(h->p90_wall_ms * 1.5 / 1000.0);
        Acms__V1__ValidationIssue *x = validator_step_issue(
            in, is, i, "max_runtime_s", "RUNTIME_LIMIT_TIGHT", "warning",
            "max_runtime_s of step '%s' is %u s but its p90 duration over %llu runs is %.0f s: likely killed for time",
            validator_str(s->name), s->max_runtime_s, (unsigned long long)h->runs, h->p90_wall_ms / 1000.0);
        acms_issue_suggest(is, x, "RUNTIME_LIMIT_TIGHT:raise", "pattern", 0.8,
                           validator_step_path(a, i, "max_runtime_s"), acms_arena_printf(a, "%u", want),
                           "set max_runtime_s to %u", want);
    }
}

int validator_performance(const validator_input *in, acms_arena *a, acms_issues *is)
{
    const Acms__V1__Pipeline *p = in->pipeline;
    if (in->history == NULL || p == NULL || p->n_steps == 0)
        return ACMS_OK;
    const acms_catalog *cat = in->profiles && in->profiles->catalog.n ? &in->profiles->catalog : NULL;
    double *secs = acms_arena_alloc(a, p->n_steps * sizeof *secs);
    double cost = 0, sum = 0;
    size_t known = 0, priced = 0;
    for (size_t i = 0; i < p->n_steps; i++) {
        const Acms__V1__Step *s = p->steps[i];
        const validator_step_history *h = &in->history[i];
        judge_step(in, a, is, i, s, h, cat);
        if (h->has_stats && h->runs > 0 && h->p50_wall_ms > 0)
            secs[i] = h->p50_wall_ms / 1000.0;
        else if (h->has_rec && h->rec_runtime_s)
            secs[i] = h->rec_runtime_s / 1.5; /* recommendations carry a 1.5x margin over the typical duration */
        if (secs[i] <= 0)
            continue;
        known++;
        sum += secs[i];
        const acms_instance_type *t = cat && s->instance_type ? acms_catalog_find(cat, s->instance_type) : NULL;
        if (t) {
            cost += t->price_per_hour * (s->instance_count ? s->instance_count : 1) * secs[i] / 3600.0;
            priced++;
        }
    }
    if (known == 0)
        return ACMS_OK;
    double total = sum;
    const char *basis = "sum of steps (the graph has cycles)";
    if (in->dag && in->dag->acyclic && in->dag->n == p->n_steps) {
        size_t *path = acms_arena_alloc(a, p->n_steps * sizeof *path);
        size_t len = acms_dag_critical_path(in->dag, secs, path, &total);
        basis = len ? acms_arena_printf(a, "critical path of %zu steps ending at '%s'", len,
                                        in->dag->names[path[len - 1]])
                    : basis;
    }
    acms_issue_add(
        is, "PREDICTED_COST", "info", "spec", NULL,
        "expected duration %s (%s), expected cost $%.2f (%zu of %zu steps priced; from history of %zu steps)",
        duration(a, total), basis, cost, priced, p->n_steps, known);
    return ACMS_OK;
}
