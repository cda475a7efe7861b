/* on_validation.c: a ValidationResultEvent -> fix statistics. The pipeline's last issues
 * (acms:feedback:lastissues:<pipeline>:<env>) are diffed against the new ones (fixes.h): an issue a
 * suggestion was offered for counts as offered, one gone since counts as resolved, and the resolved
 * ones are kept for the run's ExecutionFeedback. The last-issues hash is versioned: a concurrent
 * update is re-read, and nothing is counted twice. */
#include <string.h>

#include "feedback.h"
#include "fixes.h"
#include "apply.h"

#define LASTISSUES_TTL_S (30 * 24 * 3600)

/* What one try writes and counts. */
typedef struct fix_out {
    feedback_hash_op *ops;
    size_t nops;
    size_t ninc;     /* counters incremented */
    size_t resolved; /* of them, resolved ones */
} fix_out;

/* Reads the pipeline's last issues and builds the writes: the new issues (versioned, replacing the
 * old), one counter op per fix code, and the run's credited fixes. ACMS_OK or ACMS_ERR_RETRY. */
static int fix_ops(feedback_job *j, const feedback_fixset *cur, const char *lkey, fix_out *out)
{
    acms_arena *a = j->a;
    const char **kv;
    size_t nkv;
    if (acms_redis_hgetall(j->r, a, lkey, &kv, &nkv) != ACMS_OK)
        return ACMS_ERR_RETRY;
    const char *version = "0";
    for (size_t i = 0; i + 1 < nkv; i += 2)
        if (!strcmp(kv[i], "version"))
            version = kv[i + 1];
    feedback_fixset prev;
    feedback_fixset_from_hash(a, kv, nkv, &prev);
    feedback_fix_incr *inc;
    size_t ninc = feedback_fix_diff(a, &prev, cur, &inc);

    feedback_hash_op *ops = acms_arena_alloc(a, (ninc + 2) * sizeof *ops);
    size_t nops = 1;
    ops[0].key = lkey;
    ops[0].expect_version = version;
    ops[0].replace = 1;
    ops[0].ttl_s = LASTISSUES_TTL_S;
    for (size_t i = 0; i < cur->n; i++)
        acms_hash_op_add(a, &ops[0].set, &ops[0].nset, cur->v[i].code, feedback_fixset_join(a, &cur->v[i]));
    size_t resolved = 0;
    for (size_t i = 0; i < ninc; i++) {
        const char *fkey = feedback_key_fix(a, inc[i].code);
        size_t k;
        for (k = 1; k < nops && strcmp(ops[k].key, fkey) != 0; k++) {
        }
        if (k == nops) {
            memset(&ops[nops++], 0, sizeof ops[0]);
            ops[k].key = fkey;
        }
        acms_hash_op_add(a, &ops[k].incr, &ops[k].nincr, inc[i].field, "1");
        resolved += strstr(inc[i].field, ":resolved") != NULL;
    }
    const char *credited = feedback_fix_resolved_join(a, inc, ninc);
    if (*credited) { /* for the run's ExecutionFeedback (fix_effective insights) */
        feedback_hash_op *ro = &ops[nops++];
        memset(ro, 0, sizeof *ro);
        ro->key = feedback_key_runfixes(a, j->run);
        ro->ttl_s = FEEDBACK_RUN_TTL_S;
        ro->run_id = j->run;
        acms_hash_op_add(a, &ro->set, &ro->nset, "fixes_resolved", credited);
    }
    *out = (fix_out){.ops = ops, .nops = nops, .ninc = ninc, .resolved = resolved};
    return ACMS_OK;
}

int feedback_on_validation(feedback_job *j, const Acms__V1__ValidationResultEvent *ev)
{
    acms_arena *a = j->a;
    if (!ev->result || !feedback_fix_phase_counts(ev->result->phase))
        return ACMS_OK;
    if (!ev->pipeline || !*ev->pipeline) {
        acms_log_debug(j->run, j->id, "validation result without pipeline name: no fix statistics");
        return ACMS_OK;
    }
    const char *seen = feedback_key_seen(a, j->id);
    int s = acms_redis_exists(j->r, seen);
    if (s != 0)
        return s < 0 ? ACMS_ERR_RETRY : ACMS_OK;
    feedback_fixset cur;
    feedback_fixset_collect(a, ev->result, &cur);
    const char *lkey = feedback_key_lastissues(a, ev->pipeline, ev->environment ? ev->environment : "");
    for (int tries = 0; tries < FEEDBACK_APPLY_TRIES; tries++) {
        fix_out o;
        if (fix_ops(j, &cur, lkey, &o) != ACMS_OK)
            return ACMS_ERR_RETRY;
        int rc = feedback_apply(j->r, seen, o.ops, o.nops);
        if (rc < 0 && rc != ACMS_ERR_STALE)
            return ACMS_ERR_RETRY;
        if (rc == 1) {
            feedback_count(j, "acms_feedback_fix_offered_total", NULL, "Suggestions offered (fix statistics)",
                           (double)(o.ninc - o.resolved));
            feedback_count(j, "acms_feedback_fix_resolved_total", NULL, "Suggestions credited with a resolved issue",
                           (double)o.resolved);
            if (o.resolved)
                acms_log_info(j->run, j->id, "fix statistics: %zu suggestions credited as resolved for %s/%s",
                              o.resolved, ev->pipeline, ev->environment);
        }
        if (rc >= 0)
            return ACMS_OK;
    }
    return ACMS_ERR_RETRY;
}
