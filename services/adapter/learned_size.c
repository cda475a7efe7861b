/* learned_size.c: which learned size a step gets and what it was based on (stages.h). In order:
 *   input-fit      the step declares a sizing input, it resolves for this run and the learning engine
 *                  has a usable fit against that input: the fit's upper prediction bound at this run's
 *                  input value (and the run's time, for a growing step) plus the margin;
 *   history-trend  no input declared, the need grows significantly: the drift model's bound now,
 *                  when it is above the history's value;
 *   history        the history quantiles' value (feedback/learn.h), with the reason an input-aware
 *                  size was not used when an input is declared.
 * Invariants: a size from a fit is never below its upper bound; every size has a basis and a reason. */
#include <math.h>
#include <string.h>

#include "stages.h"

#define S(x) ((x) ? (x) : "")

uint64_t adapter_fit_memory_mb(double upper_mb)
{
    if (!(upper_mb > 0) || !isfinite(upper_mb))
        return 0;
    double v = ceil(upper_mb * (1.0 + ACMS_SIZEFIT_MARGIN));
    return v > 1e15 ? (uint64_t)1e15 : (uint64_t)v;
}

/* Why the input fit cannot size this run (arena text), or NULL when it can. */
static const char *input_fallback(acms_arena *a, const adapter_learned *l, acms_sizing_status st,
                                  const acms_sizing_input *in)
{
    const acms_sizefit *m = &l->fit_memory;
    if (st != ACMS_SIZING_OK)
        return acms_sizing_status_text(st);
    if (!l->has_fit_memory || !m->uses_input)
        return *S(l->fit_note) ? acms_arena_printf(a, "no input fit yet: %s", l->fit_note) : "no input fit learned yet";
    if (strcmp(S(l->sizing_input), S(in->name)) != 0)
        return acms_arena_printf(a, "the fit was learned against %s, the step now declares %s", S(l->sizing_input),
                                 S(in->name));
    if (!l->fit_usable)
        return acms_arena_printf(a, "poor fit (R2 %.2f, residual sd %.0f%% over %u runs)%s%s", m->r2,
                                 m->resid_sd * 100.0, (unsigned)m->n, *S(l->fit_note) ? ": " : "", S(l->fit_note));
    return NULL;
}

/* ", growing 6.0% per 35 s" for a model with a trend, else "". */
static const char *growth_text(acms_arena *a, const acms_sizefit *m, double horizon_h)
{
    if (!m->uses_trend)
        return "";
    double s = horizon_h * 3600.0;
    const char *ahead = s < 120    ? acms_arena_printf(a, "%.0f s", s)
                        : s < 7200 ? acms_arena_printf(a, "%.0f min", s / 60)
                                   : acms_arena_printf(a, "%.1f h", s / 3600);
    return acms_arena_printf(a, ", growth %.1f%% extrapolated %s ahead", acms_sizefit_growth(m, horizon_h) * 100.0,
                             ahead);
}

/* ", 2 of them killed for memory (censored)" when the fit holds kills, else "". */
static const char *killed_text(acms_arena *a, const acms_sizefit *m)
{
    return m->censored ? acms_arena_printf(a, ", %u of them killed for memory (censored)", (unsigned)m->censored) : "";
}

static Acms__V1__LearnedBasis *basis_of(acms_arena *a, const adapter_learned *l, const char *method)
{
    Acms__V1__LearnedBasis *b = acms_pb_new(a, &acms__v1__learned_basis__descriptor);
    b->method = (char *)method;
    b->runs = l->based_on_runs;
    b->input = (char *)"";
    b->fallback = (char *)"";
    return b;
}

/* Fills b's fit figures from m and p. */
static void fit_figures(Acms__V1__LearnedBasis *b, const acms_sizefit *m, const acms_sizefit_pred *p)
{
    b->runs = m->n;
    b->predicted_mb = p->mean;
    b->upper_mb = p->upper;
    b->margin = ACMS_SIZEFIT_MARGIN;
    b->r2 = m->r2;
    b->residual_sd = m->resid_sd;
    b->slope = m->uses_input ? m->beta[1] : 0;
    b->trend_per_hour = acms_sizefit_trend_per_hour(m);
    b->censored = m->censored;
}

/* The runtime from the wall fit at this input: max(upper x 1.5, upper + 30 s), at least the floor. */
static void runtime_from_fit(acms_arena *a, const adapter_learned *l, const acms_sizing_input *in, int64_t now_ms,
                             adapter_size *out)
{
    acms_sizefit_pred p;
    if (!l->has_fit_wall || acms_sizefit_predict(&l->fit_wall, in->value, now_ms, ACMS_SIZEFIT_Q, &p) != 0)
        return;
    double ms = fmax(p.upper * 1.5, p.upper + 30000.0), sec = ceil(ms / 1000.0);
    uint32_t r = sec > UINT32_MAX ? UINT32_MAX : (uint32_t)sec;
    out->runtime_s = r > l->min_runtime_s ? r : l->min_runtime_s;
    out->runtime_why = acms_arena_printf(a,
                                         "from its input %s = %.6g: the wall-time fit over %u runs predicts %.1f s, "
                                         "upper bound %.1f s; max(x1.5, +30 s) = %u s%s",
                                         in->name, in->value, (unsigned)l->fit_wall.n, p.mean / 1000.0,
                                         p.upper / 1000.0, r,
                                         out->runtime_s > r ? " (raised to the floor after a time kill)" : "");
}

/* The input fit's size at this input. Returns 1 when it gave one. */
static int size_from_input(acms_arena *a, const adapter_learned *l, const acms_sizing_input *in, int64_t now_ms,
                           adapter_size *out)
{
    const acms_sizefit *m = &l->fit_memory;
    acms_sizefit_pred p;
    if (acms_sizefit_predict(m, in->value, now_ms, ACMS_SIZEFIT_Q, &p) != 0)
        return 0;
    out->memory_mb = adapter_fit_memory_mb(p.upper);
    out->basis = basis_of(a, l, "input-fit");
    out->basis->input = (char *)in->name;
    out->basis->input_value = in->value;
    fit_figures(out->basis, m, &p);
    const char *outside = in->value > m->x_hi * 1.5 || in->value < m->x_lo / 1.5
                              ? acms_arena_printf(a, " (outside the inputs seen, %.6g..%.6g: a wider bound)", m->x_lo,
                                                  m->x_hi)
                              : "";
    out->why = acms_arena_printf(a,
                                 "sized from its input %s = %.6g%s: the fit over %u runs%s predicts "
                                 "%.0f MiB, upper bound %.0f MiB (%.1f%%; %s^%.2f, R2 %.2f, residual sd %.1f%%%s) + "
                                 "%.0f%% margin = %llu MiB",
                                 in->name, in->value, outside, (unsigned)m->n, killed_text(a, m), p.mean, p.upper,
                                 ACMS_SIZEFIT_Q * 100.0, in->name, m->beta[1], m->r2, m->resid_sd * 100.0,
                                 growth_text(a, m, p.horizon_h), ACMS_SIZEFIT_MARGIN * 100.0,
                                 (unsigned long long)out->memory_mb);
    runtime_from_fit(a, l, in, now_ms, out);
    return 1;
}

/* A drift model's size now, when above the history's. Returns 1 when it gave the size. */
static int size_from_trend(acms_arena *a, const adapter_learned *l, int64_t now_ms, adapter_size *out)
{
    const acms_sizefit *m = &l->fit_memory;
    acms_sizefit_pred p;
    if (!l->has_fit_memory || !l->fit_usable || m->uses_input || !m->uses_trend ||
        acms_sizefit_predict(m, 0, now_ms, ACMS_SIZEFIT_Q, &p) != 0)
        return 0;
    uint64_t mb = adapter_fit_memory_mb(p.upper);
    if (mb <= l->memory_mb)
        return 0;
    out->memory_mb = mb;
    out->basis = basis_of(a, l, "history-trend");
    fit_figures(out->basis, m, &p);
    out->why = acms_arena_printf(a,
                                 "a growing need: the trend over %u runs%s predicts %.0f MiB now, "
                                 "upper bound %.0f MiB (%.1f%%, residual sd %.1f%%%s) + margin = %llu MiB, above the "
                                 "history's %llu MiB",
                                 (unsigned)m->n, killed_text(a, m), p.mean, p.upper, ACMS_SIZEFIT_Q * 100.0,
                                 m->resid_sd * 100.0, growth_text(a, m, p.horizon_h), (unsigned long long)mb,
                                 (unsigned long long)l->memory_mb);
    return 1;
}

void adapter_learned_size(acms_arena *a, const adapter_learned *l, acms_sizing_status st, const acms_sizing_input *in,
                          int64_t now_ms, adapter_size *out)
{
    memset(out, 0, sizeof *out);
    out->why = "";
    out->runtime_why = "";
    const char *fallback = NULL;
    if (st != ACMS_SIZING_NONE) {
        fallback = input_fallback(a, l, st, in);
        if (!fallback && size_from_input(a, l, in, now_ms, out))
            return;
        if (!fallback)
            fallback = "the fit gave no prediction for this input";
    } else if (size_from_trend(a, l, now_ms, out)) {
        return;
    }
    if (l->memory_mb == 0)
        return;
    out->memory_mb = l->memory_mb;
    out->basis = basis_of(a, l, "history");
    out->basis->upper_mb = (double)l->memory_mb;
    if (fallback) {
        out->basis->input = (char *)S(in->name);
        out->basis->input_value = in->value;
        out->basis->fallback = (char *)fallback;
    }
    out->why = acms_arena_printf(a, "learned from %u run(s)%s%s%s%s", l->based_on_runs, *S(l->reason) ? ": " : "",
                                 S(l->reason), fallback ? "; input-aware sizing not used: " : "",
                                 fallback ? fallback : "");
}
