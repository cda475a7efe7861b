/* optimizer.c: the RuntimeOptimizer. Cheaper interruptible capacity for re-runnable steps where the
 * environment allows it, and runtime limits fitted to history (learned runtime_s: tightened so hangs
 * are caught sooner, loosened so healthy runs are not timed out). Invariants: no history, no limit
 * change; limits stay within quotas.max_runtime_s; every decision is a record of stage "optimization". */
#include <string.h>

#include "adapt_reason.h"
#include "stages.h"

#define STAGE "optimization"
#define S(x) ((x) ? (x) : "")

/* Below this relative gap a learned limit is not worth a change (avoids churn run after run). */
#define TIGHTEN_GAP 0.9

static int rerunnable_type(const char *type)
{
    return type && (strcmp(type, "processing") == 0 || strcmp(type, "transform") == 0);
}

static void runtime_from_history(acms_arena *a, const Acms__V1__Environment *env, Acms__V1__Step *s,
                                 const adapter_learned *l, adapter_log *log)
{
    adapter_learn_mode mode = adapter_learn_mode_of(env, l);
    if (mode == ADAPTER_LEARN_OFF || l->runtime_s == 0)
        return;
    int apply = mode == ADAPTER_LEARN_APPLY;
    const char *shadow = apply ? "" : "; shadow mode: recorded, not applied";
    uint32_t cap = env->quotas ? env->quotas->max_runtime_s : 0;
    uint32_t target = l->runtime_s, cur = s->max_runtime_s;
    const char *capped = "";
    if (cap && target > cap) {
        target = cap;
        capped = acms_arena_printf(a, " (capped at quota max_runtime_s %u)", cap);
    }
    const char *why;
    if (cur == 0)
        why = "no max_runtime_s given: limit from history";
    else if (target < cur && (double)target < (double)cur * TIGHTEN_GAP)
        why = "history shows runs finish well within the limit: tightened so a hang is caught sooner";
    else if (target > cur)
        why = "history shows runs need more than the limit: loosened so healthy runs are not timed out";
    else
        return;
    double safety = 0.5 + 0.09 * (double)l->based_on_runs;
    if (safety > 0.95)
        safety = 0.95;
    adapter_log_add(log, STAGE, s->name, "max_runtime_s", cur ? acms_arena_printf(a, "%u", cur) : "",
                    acms_arena_printf(a, "%u", target), safety, apply, "%s (learned %u s from %u run(s)%s%s)%s%s", why,
                    l->runtime_s, l->based_on_runs, *S(l->reason) ? ": " : "", S(l->reason), capped, shadow);
    if (apply)
        s->max_runtime_s = target;
}

void adapter_optimizer_optimize(acms_arena *a, const Acms__V1__Environment *env, Acms__V1__Pipeline *p,
                                const adapter_observed *obs, adapter_log *log)
{
    const char *env_name = NULL;
    for (size_t i = 0; i < p->n_steps; i++) {
        Acms__V1__Step *s = p->steps[i];
        if (env->allow_interruptible && !s->interruptible && rerunnable_type(s->type)) {
            s->interruptible = 1;
            if (!env_name)
                env_name = acms_arena_strdup(a, S(env->name)); /* records outlive the profiles */
            adapter_log_note(log, STAGE, s->name, "interruptible", "false", "true", 0.9, 1, ACMS_REASON_INTERRUPTIBLE,
                             2, env_name, s->type);
        }
        const adapter_learned *l = obs && i < obs->nlearned ? &obs->learned[i] : NULL;
        if (l && l->present && adapter_learned_applies(l, s))
            runtime_from_history(a, env, s, l, log);
    }
}
