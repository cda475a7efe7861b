/* learn.c: the LearningEngine's recommendation rules (learn.h).
 * Invariants: a recommendation is never below a live floor; a floor never decays before
 * FEEDBACK_FLOOR_CLEAN_RUNS clean runs; every recommendation carries a reason naming its basis; a
 * fit is written only when fit.c returned one, and marked usable only when it passes its quality bar. */
#include "learn.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

uint64_t feedback_memory_bump_mb(double peak_mb)
{
    if (!(peak_mb > 0))
        peak_mb = 0;
    double a = peak_mb + FEEDBACK_OOM_ADD_MB, b = peak_mb * FEEDBACK_OOM_FACTOR;
    return (uint64_t)ceil(a > b ? a : b);
}

uint64_t feedback_memory_target_mb(double p95_mb)
{
    if (!(p95_mb > 0))
        p95_mb = 0;
    double a = p95_mb * (1.0 + FEEDBACK_MEM_MARGIN), b = p95_mb + FEEDBACK_MEM_MARGIN_MIN_MB;
    return (uint64_t)ceil(a > b ? a : b);
}

uint32_t feedback_runtime_target_s(double p99_wall_ms)
{
    if (!(p99_wall_ms > 0))
        p99_wall_ms = 0;
    double a = p99_wall_ms * 1.5, b = p99_wall_ms + 30000.0;
    double s = ceil((a > b ? a : b) / 1000.0);
    return s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
}

void feedback_learn_observe(feedback_stats *st, const feedback_outcome *o)
{
    if (o->killed_memory) {
        uint64_t bump = feedback_memory_bump_mb(o->killed_peak_mb);
        if (bump > st->min_memory_mb)
            st->min_memory_mb = bump;
        st->kills_memory++;
    }
    if (o->killed_time && o->killed_runtime_s > 0) {
        uint64_t floor2 = 2ull * o->killed_runtime_s;
        uint32_t f = floor2 > UINT32_MAX ? UINT32_MAX : (uint32_t)floor2;
        if (f > st->min_runtime_s)
            st->min_runtime_s = f;
        st->kills_time++;
    }
    if (o->resource_killed) {
        st->clean_runs = 0;
        return;
    }
    if (!o->success)
        return;
    if (st->clean_runs < UINT32_MAX)
        st->clean_runs++;
    if (st->clean_runs <= FEEDBACK_FLOOR_CLEAN_RUNS)
        return;
    /* Long enough without a kill: let the floors fade towards what history says. */
    if (st->min_memory_mb > 0) {
        double p95 = feedback_hist_quantile(&st->peak_mb, 0.95);
        uint64_t target = isnan(p95) ? 0 : feedback_memory_target_mb(p95);
        uint64_t next = (uint64_t)((double)st->min_memory_mb * FEEDBACK_FLOOR_DECAY);
        st->min_memory_mb = next <= target ? 0 : next;
    }
    if (st->min_runtime_s > 0) {
        double p99 = feedback_hist_quantile(&st->wall_ms, 0.99);
        uint32_t target = isnan(p99) ? 0 : feedback_runtime_target_s(p99);
        uint32_t next = (uint32_t)((double)st->min_runtime_s * FEEDBACK_FLOOR_DECAY);
        st->min_runtime_s = next <= target ? 0 : next;
    }
}

/* Appends text to out->reason ("; " separated); truncates quietly when full. */
static void because(feedback_rec *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void because(feedback_rec *out, const char *fmt, ...)
{
    size_t len = strlen(out->reason);
    if (len + 3 >= sizeof out->reason)
        return;
    if (len) {
        memcpy(out->reason + len, "; ", 3);
        len += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(out->reason + len, sizeof out->reason - len, fmt, ap);
    va_end(ap);
    if (w < 0)
        out->reason[len] = '\0';
}

/* "35 s", "2.0 h", "1.5 d": a pause between runs, for reasons. */
static void pause_text(double hours, char *buf, size_t size)
{
    int w = hours < 1.0 / 60 ? snprintf(buf, size, "%.0f s", hours * 3600)
            : hours < 1      ? snprintf(buf, size, "%.0f min", hours * 60)
            : hours < 48     ? snprintf(buf, size, "%.1f h", hours)
                             : snprintf(buf, size, "%.1f d", hours / 24);
    if (w < 0)
        buf[0] = '\0';
}

/* One clause describing a fit for the reason ("memory ~ ROWS^0.82, R2 0.97, ..."). */
static void describe_fit(feedback_rec *out, const char *what, const acms_sizefit *m, const char *input)
{
    char growth[96] = "", pause[32];
    if (m->uses_trend) {
        pause_text(m->horizon_cap_h, pause, sizeof pause);
        if (snprintf(growth, sizeof growth, ", growing %.1f%% per %s (the longest pause between runs)",
                     acms_sizefit_growth(m, m->horizon_cap_h) * 100.0, pause) < 0)
            growth[0] = '\0';
    }
    char killed[64] = "";
    if (m->censored && snprintf(killed, sizeof killed, ", %u killed (censored)", (unsigned)m->censored) < 0)
        killed[0] = '\0';
    if (m->uses_input)
        because(out, "%s fit over %u runs%s: %s ~ %s^%.2f, R2 %.2f, residual sd %.1f%%%s", what, (unsigned)m->n, killed,
                what, input, m->beta[1], m->r2, m->resid_sd * 100.0, growth);
    else
        because(out, "%s trend over %u runs%s: residual sd %.1f%%%s", what, (unsigned)m->n, killed, m->resid_sd * 100.0,
                growth);
}

/* The size fits of st (fit.h) into out: input fits when the step declares a sizing input, else a
 * drift model when the level grows significantly. */
static void learn_fits(const feedback_stats *st, feedback_rec *out)
{
    const char *why = "";
    out->sizing_input = st->sizing_input ? st->sizing_input : "";
    out->fit_method = "";
    out->fit_note = "";
    if (*out->sizing_input) {
        if (feedback_fit(&st->obs, FEEDBACK_FIT_MEMORY, 1, &out->fit_memory, &why) == ACMS_OK) {
            out->has_fit_memory = 1;
            out->fit_method = "input-fit";
            out->fit_usable = feedback_fit_usable(&out->fit_memory);
            if (!out->fit_usable)
                out->fit_note = "poor fit: the runs scatter more than 25% around it";
            describe_fit(out, "memory", &out->fit_memory, out->sizing_input);
        } else {
            out->fit_note = why;
        }
        out->has_fit_wall = feedback_fit(&st->obs, FEEDBACK_FIT_WALL, 1, &out->fit_wall, &why) == ACMS_OK &&
                            feedback_fit_usable(&out->fit_wall);
        if (out->has_fit_wall)
            describe_fit(out, "wall", &out->fit_wall, out->sizing_input);
        return;
    }
    acms_sizefit m;
    if (feedback_fit(&st->obs, FEEDBACK_FIT_MEMORY, 0, &m, &why) == ACMS_OK && m.uses_trend &&
        feedback_fit_usable(&m)) {
        out->fit_memory = m;
        out->has_fit_memory = out->fit_usable = 1;
        out->fit_method = "history-trend";
        describe_fit(out, "memory", &m, "");
    }
}

int feedback_learn_recommend(const feedback_stats *st, const feedback_learn_in *in, feedback_rec *out)
{
    memset(out, 0, sizeof *out);
    out->instance_type = "";
    out->mode = in->mode && *in->mode ? in->mode : "shadow";
    out->based_on_runs = st->runs;
    out->min_memory_mb = st->min_memory_mb;
    out->min_runtime_s = st->min_runtime_s;
    out->p95_peak_mb = feedback_hist_quantile(&st->peak_mb, 0.95);
    out->p99_wall_ms = feedback_hist_quantile(&st->wall_ms, 0.99);

    if (!isnan(out->p95_peak_mb)) {
        out->memory_mb = feedback_memory_target_mb(out->p95_peak_mb);
        because(out, "memory: p95 peak %.0f MiB over %u runs + %.0f%% (>= %.0f MiB) = %llu MiB", out->p95_peak_mb,
                (unsigned)st->runs, FEEDBACK_MEM_MARGIN * 100.0, FEEDBACK_MEM_MARGIN_MIN_MB,
                (unsigned long long)out->memory_mb);
    }
    if (st->min_memory_mb > out->memory_mb) {
        out->memory_mb = st->min_memory_mb;
        because(out, "memory: floor %llu MiB after a memory kill (max(peak + 100 MiB, peak x 1.2)), %u/%d clean runs",
                (unsigned long long)st->min_memory_mb, (unsigned)st->clean_runs, FEEDBACK_FLOOR_CLEAN_RUNS);
    }
    if (!isnan(out->p99_wall_ms)) {
        out->runtime_s = feedback_runtime_target_s(out->p99_wall_ms);
        because(out, "runtime: p99 wall %.1f s -> max(x1.5, +30 s) = %u s", out->p99_wall_ms / 1000.0,
                (unsigned)out->runtime_s);
    }
    if (st->min_runtime_s > out->runtime_s) {
        out->runtime_s = st->min_runtime_s;
        because(out, "runtime: floor %u s after a time kill (2 x the killed limit)", (unsigned)st->min_runtime_s);
    }
    if (in->catalog && out->memory_mb > 0) {
        const acms_instance_type *cur = in->instance_type && *in->instance_type
                                            ? acms_catalog_find(in->catalog, in->instance_type)
                                            : NULL;
        double p95c = feedback_hist_quantile(&st->cores, 0.95);
        double vcpu = isnan(p95c) ? in->vcpu : p95c * 1.2;
        double scale = in->memory_scale > 0 ? in->memory_scale : 1.0;
        uint64_t type_mb = (uint64_t)ceil((double)out->memory_mb / scale);
        const acms_instance_type *t = acms_catalog_smallest_fit(in->catalog, cur ? cur->family : NULL, vcpu, type_mb,
                                                                in->gpus, in->allowed, in->nallowed);
        if (t) {
            out->instance_type = t->name;
            because(out, "instance: %s, the cheapest of its family with %llu MiB%s and %.2f vCPU", t->name,
                    (unsigned long long)type_mb, scale != 1.0 ? " (memory_mb / memory_scale)" : "", vcpu);
        }
    }
    learn_fits(st, out);
    return out->memory_mb > 0 || out->runtime_s > 0 || out->has_fit_memory;
}

/* Appends field = a copy of value (the rec, and its reason buffer, may not outlive the hash op). */
static void pair(acms_arena *a, const char ***kv, size_t *n, const char *field, const char *value)
{
    *kv = acms_arena_push(a, *kv, n, sizeof **kv);
    (*kv)[*n - 1] = field;
    *kv = acms_arena_push(a, *kv, n, sizeof **kv);
    (*kv)[*n - 1] = acms_arena_strdup(a, value ? value : "");
}

static const char *fit_text(acms_arena *a, int has, const acms_sizefit *m)
{
    char buf[512];
    return has && acms_sizefit_format(m, buf, sizeof buf) == ACMS_OK ? acms_arena_strdup(a, buf) : "";
}

size_t feedback_rec_to_hash(acms_arena *a, const feedback_rec *rec, const char *updated_ms, const char *command_hash,
                            const char ***kv)
{
    size_t n = 0;
    *kv = NULL;
    pair(a, kv, &n, "memory_mb", acms_arena_printf(a, "%" PRIu64, rec->memory_mb));
    pair(a, kv, &n, "runtime_s", acms_arena_printf(a, "%u", (unsigned)rec->runtime_s));
    pair(a, kv, &n, "instance_type", rec->instance_type);
    pair(a, kv, &n, "mode", rec->mode);
    pair(a, kv, &n, "based_on_runs", acms_arena_printf(a, "%u", (unsigned)rec->based_on_runs));
    pair(a, kv, &n, "reason", rec->reason);
    pair(a, kv, &n, "updated_ms", updated_ms);
    pair(a, kv, &n, "min_memory_mb", acms_arena_printf(a, "%" PRIu64, rec->min_memory_mb));
    pair(a, kv, &n, "min_runtime_s", acms_arena_printf(a, "%u", (unsigned)rec->min_runtime_s));
    pair(a, kv, &n, "command_hash", command_hash);
    pair(a, kv, &n, "sizing_input", rec->sizing_input);
    pair(a, kv, &n, "fit_method", rec->fit_method);
    pair(a, kv, &n, "fit_usable", rec->fit_usable ? "1" : "0");
    pair(a, kv, &n, "fit_note", rec->fit_note);
    pair(a, kv, &n, "fit_memory", fit_text(a, rec->has_fit_memory, &rec->fit_memory));
    pair(a, kv, &n, "fit_wall", fit_text(a, rec->has_fit_wall, &rec->fit_wall));
    return n;
}

static Acms__V1__LearningInsight *insight(acms_arena *a, const char *pipeline, const feedback_outcome *o,
                                          const feedback_rec *rec, const char *kind)
{
    Acms__V1__LearningInsight *li = acms_pb_new(a, &acms__v1__learning_insight__descriptor);
    li->pipeline = (char *)pipeline;
    li->step = (char *)o->step;
    li->kind = (char *)kind;
    li->based_on_runs = rec->based_on_runs;
    li->recommended_memory_mb = rec->memory_mb;
    li->recommended_runtime_s = rec->runtime_s;
    li->recommended_instance_type = (char *)rec->instance_type;
    li->mode = (char *)rec->mode;
    return li;
}

static void push(acms_arena *a, Acms__V1__LearningInsight ***v, size_t *n, Acms__V1__LearningInsight *li)
{
    *v = acms_arena_push(a, *v, n, sizeof **v);
    (*v)[*n - 1] = li;
}

static int differs(double now, double rec, double share)
{
    return now > 0 && rec > 0 && fabs(rec - now) / now > share;
}

void feedback_learn_insights(acms_arena *a, const char *pipeline, const feedback_outcome *o, const feedback_stats *st,
                             const feedback_rec *rec, Acms__V1__LearningInsight ***v, size_t *n)
{
    const char *mode = !strcmp(rec->mode, "apply") ? "applied to the next run" : "recommended only (shadow mode)";
    int by_input = rec->fit_usable && !strcmp(rec->fit_method, "input-fit");
    if (o->killed_memory && by_input) {
        Acms__V1__LearningInsight *li = insight(a, pipeline, o, rec, "memory_bump");
        li->summary = acms_arena_printf(
            a,
            "%s was killed for memory at %.0f MiB with %s = %.6g; the kill is in its input fit (%s), so the next "
            "runs are sized from their own %s at the fit's upper bound; %s",
            o->step, o->killed_peak_mb, rec->sizing_input, o->input_value,
            o->censored_memory ? "a censored run: the need was above the limit" : "as its retry's measure",
            rec->sizing_input, mode);
        li->expected_effect = acms_arena_strdup(a,
                                                "no memory kill on the next runs of this step, whatever their input");
        push(a, v, n, li);
    } else if (o->killed_memory) {
        Acms__V1__LearningInsight *li = insight(a, pipeline, o, rec, "memory_bump");
        li->summary = acms_arena_printf(
            a,
            "%s was killed for memory at %.0f MiB; next runs get at least %llu MiB (max(peak + 100 MiB, peak x 1.2)), "
            "kept for %d clean runs; %s",
            o->step, o->killed_peak_mb, (unsigned long long)st->min_memory_mb, FEEDBACK_FLOOR_CLEAN_RUNS, mode);
        li->expected_effect = acms_arena_strdup(a, "no memory kill and no retry on the next run of this step");
        push(a, v, n, li);
    } else if (!by_input && rec->memory_mb && differs((double)o->mem_limit_mb, (double)rec->memory_mb, 0.10)) {
        /* (a step sized from its input gets its size per run: the history's value is only its fallback) */
        Acms__V1__LearningInsight *li = insight(a, pipeline, o, rec, "right_size_memory");
        double new_slack = isnan(rec->p95_peak_mb) ? 0 : 1.0 - rec->p95_peak_mb / (double)rec->memory_mb;
        li->summary = acms_arena_printf(a, "%s: p95 peak %.0f MiB over %u runs; memory %llu MiB -> %llu MiB (%s)%s%s",
                                        o->step, rec->p95_peak_mb, (unsigned)rec->based_on_runs,
                                        (unsigned long long)o->mem_limit_mb, (unsigned long long)rec->memory_mb, mode,
                                        *rec->instance_type ? ", instance type " : "", rec->instance_type);
        li->expected_effect = acms_arena_printf(a, "memory slack %.0f%% -> about %.0f%%",
                                                o->has_memory_slack ? o->memory_slack * 100.0 : 0, new_slack * 100.0);
        push(a, v, n, li);
    }
    if (o->killed_time) {
        Acms__V1__LearningInsight *li = insight(a, pipeline, o, rec, "runtime_limit");
        li->summary = acms_arena_printf(a, "%s was killed at its %u s runtime limit; next runs get at least %u s; %s",
                                        o->step, (unsigned)o->killed_runtime_s, (unsigned)st->min_runtime_s, mode);
        li->expected_effect = acms_arena_strdup(a, "no time kill on the next run of this step");
        push(a, v, n, li);
    } else if (rec->runtime_s && differs((double)o->configured_runtime_s, (double)rec->runtime_s, 0.20)) {
        Acms__V1__LearningInsight *li = insight(a, pipeline, o, rec, "runtime_limit");
        li->summary = acms_arena_printf(a, "%s: p99 wall %.1f s over %u runs; max_runtime_s %u s -> %u s (%s)", o->step,
                                        rec->p99_wall_ms / 1000.0, (unsigned)rec->based_on_runs,
                                        (unsigned)o->configured_runtime_s, (unsigned)rec->runtime_s, mode);
        li->expected_effect = acms_arena_strdup(a,
                                                "a hung step is stopped sooner while normal runs keep a 1.5x margin");
        push(a, v, n, li);
    }
}
