/* live.c: adapt_during_execution. Judges one AdaptationOpportunity from the monitor and either
 * applies it (the coordinator changes pending steps and the next attempt) or refuses it with the
 * reason. Invariants: nothing below the safety threshold, nothing beyond the environment's quotas,
 * never shrink the memory of a running step (the Vertical Pod Autoscaler's in-place rule: a smaller
 * limit under a live process means an OOM kill); one decision, one AdaptationRecord. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"

#define S(x) ((x) ? (x) : "")

static int parse_number(const char *s, double *out)
{
    char *end;
    if (!s || !*s)
        return 0;
    double d = strtod(s, &end);
    while (*end == ' ')
        end++;
    if (*end || !isfinite(d) || d <= 0)
        return 0;
    *out = d;
    return 1;
}

static int refuse(Acms__V1__AdaptationRecord *rec, const char *reason)
{
    rec->applied = 0;
    rec->reason = (char *)reason;
    return 0;
}

int adapter_live_decide(const adapter_ctx *ctx, const Acms__V1__Environment *env,
                        const Acms__V1__AdaptationOpportunity *opp, double threshold, Acms__V1__AdaptationRecord *rec,
                        uint64_t *memory_mb, uint32_t *runtime_s)
{
    (void)ctx;
    *memory_mb = 0;
    *runtime_s = 0;
    acms__v1__adaptation_record__init(rec);
    rec->stage = (char *)"runtime";
    if (!opp)
        return refuse(rec, "no opportunity");
    rec->step = (char *)S(opp->step);
    rec->field = (char *)S(opp->field);
    rec->old_value = (char *)S(opp->current_value);
    rec->new_value = (char *)S(opp->proposed_value);
    rec->safety_score = opp->safety_score;

    if (!env)
        return refuse(rec, "refused: the run's environment is unknown to this adapter (profiles changed?)");
    double t = threshold > 0 ? threshold
                             : (env->safety_threshold > 0 ? env->safety_threshold : ADAPTER_DEFAULT_SAFETY_THRESHOLD);
    if (!(opp->safety_score >= t))
        return refuse(rec, "refused: safety score below the threshold for runtime adaptations");

    double proposed = 0, current = 0;
    if (!parse_number(opp->proposed_value, &proposed))
        return refuse(rec, "refused: proposed value is not a positive number");
    int have_current = parse_number(opp->current_value, &current);
    const char *field = S(opp->field), *kind = S(opp->kind);
    const Acms__V1__Quotas *q = env->quotas;

    if (strcmp(field, "memory_mb") == 0) {
        if (q && q->max_memory_mb > 0 && proposed > (double)q->max_memory_mb)
            return refuse(rec, "refused: proposed memory exceeds the environment's quota max_memory_mb");
        int down = strcmp(kind, "memory_down") == 0 || (have_current && proposed < current);
        if (down && opp->step_running)
            return refuse(rec, "refused: shrinking the memory of a running step could kill it (in-place rule); "
                               "the learned recommendation sizes the next run instead");
        if (have_current && proposed == current)
            return refuse(rec, "refused: proposed memory equals the current limit");
        *memory_mb = (uint64_t)llround(proposed);
    } else if (strcmp(field, "max_runtime_s") == 0) {
        if (q && q->max_runtime_s > 0 && proposed > (double)q->max_runtime_s)
            return refuse(rec, "refused: proposed runtime limit exceeds the environment's quota max_runtime_s");
        if (proposed > (double)UINT32_MAX)
            return refuse(rec, "refused: proposed runtime limit out of range");
        if (have_current && proposed == current)
            return refuse(rec, "refused: proposed runtime limit equals the current limit");
        *runtime_s = (uint32_t)llround(proposed);
    } else if (strcmp(field, "vcpu") == 0) {
        return refuse(rec, "refused: vCPU changes are not applied at runtime (executors enforce memory and time)");
    } else {
        return refuse(rec, "refused: field cannot be adapted at runtime");
    }
    rec->applied = 1;
    rec->reason = (char *)(*S(opp->reason) ? opp->reason
                                           : "applied: safety score above the threshold and within quotas");
    return 1;
}
