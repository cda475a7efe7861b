/* batch.c: the ConfigPrepared events waiting in the queue, validated together: they share three
 * Redis round trips (the steps' history, the fix statistics of all their issue codes, the status
 * writes through common/batch.h) instead of three each. Anything else, and an event that does not
 * decode, goes through validator_handle first. Per message the outcome is validator_on_prepared's. */
#include "batch.h"
#include "run_state.h"
#include "validator/handlers.h"

/* Up to BATCH_MAX_STEPS steps a configuration shares the group's history reads; a larger one reads
 * its own (validator_validate_levels with no history), in chunks. */
#define BATCH_MAX_STEPS 256

typedef struct batch_item {
    Acms__V1__ConfigPrepared *in; /* NULL: not (or no longer) in the group */
    validator_step_history *history;
    const size_t *reads; /* its steps' read pairs in the history pipeline (NULL: reads its own) */
    validator_pass vp;
    Acms__V1__ValidationResult *res;
    const char *kv[4];  /* its status write (acms_batch_write points here) */
    const char *packed; /* res packed (the run's record, reused by the events) */
    size_t packed_len;
    int64_t t0_ms;
} batch_item;

typedef struct validator_batch {
    const validator_ctx *c;
    acms_service *svc;
    acms_arena *a;
    const acms_msg *msgs;
    batch_item *it;
    validator_fix_history fixes; /* of every issue code the group met */
} validator_batch;

static int join(void *ctx, size_t i)
{
    validator_batch *b = ctx;
    const char *why = NULL;
    if (!b->c->redis || acms_cfg_topic_id(acms_service_cfg(b->svc), b->msgs[i].topic) != ACMS_TOPIC_CONFIG_PREPARED)
        return 0;
    b->it[i].in = validator_prepared_decode(b->a, &b->msgs[i], &why);
    b->it[i].t0_ms = acms_mono_ms();
    return b->it[i].in != NULL; /* one that does not decode is a poison: handled alone, with the reason */
}

static int alone(void *ctx, size_t i, const char **reason)
{
    validator_batch *b = ctx;
    return validator_handle(b->c, b->svc, &b->msgs[i], reason);
}

/* The result, then its status write; a result that cannot be finished leaves the group. */
static int status(void *ctx, size_t i, acms_batch_write *w)
{
    validator_batch *b = ctx;
    batch_item *it = &b->it[i];
    if (!it->in)
        return ACMS_ERR_INVALID;
    if (validator_validate_finish(b->c, b->a, &it->vp, &b->fixes, &it->res) != ACMS_OK) {
        it->in = NULL;
        return ACMS_ERR_RETRY;
    }
    size_t nkv;
    const char *st = validator_verdict_status(b->a, it->res, it->kv, &nkv);
    it->packed = validator_result_packed(b->a, it->res, &it->packed_len);
    *w = (acms_batch_write){.run_id = it->in->meta->run_id,
                            .status = st,
                            .kv = nkv ? it->kv : NULL,
                            .nkv = nkv,
                            .list_suffix = ACMS_STATE_VALIDATION,
                            .items = &it->packed,
                            .lens = &it->packed_len,
                            .nitems = 1};
    return ACMS_OK;
}

static int publish(void *ctx, size_t i, int applied)
{
    validator_batch *b = ctx;
    batch_item *it = &b->it[i];
    if (applied < 0)
        return ACMS_ERR_RETRY;
    return validator_prepared_publish(b->svc, b->a, &b->msgs[i], it->in, it->res, it->packed, it->packed_len,
                                      (double)(acms_mono_ms() - it->t0_ms) / 1000.0);
}

static const acms_batch_ops batch_ops = {.join = join, .alone = alone, .status = status, .publish = publish};

/* 1. The history of every step of every member (up to BATCH_MAX_STEPS steps), in one round trip, each
 * key read once for the group.
 * ACMS_OK or ACMS_ERR_RETRY. */
static int load_history(validator_batch *b, size_t n)
{
    validator_history_reads hr;
    validator_history_reads_init(&hr, b->a, 16 * n);
    for (size_t i = 0; i < n; i++) {
        const Acms__V1__Pipeline *p = b->it[i].in ? b->it[i].in->runtime->pipeline : NULL;
        b->it[i].reads = NULL;
        if (p && p->n_steps > 0 && p->n_steps <= BATCH_MAX_STEPS)
            b->it[i].reads = validator_history_queue(&hr, b->c->redis, b->a, p);
    }
    size_t cmds = 2 * hr.n;
    if (cmds == 0)
        return ACMS_OK;
    redisReply **rep = acms_arena_alloc(b->a, cmds * sizeof *rep);
    if (acms_redis_exec(b->c->redis, rep, cmds) != ACMS_OK)
        return ACMS_ERR_RETRY;
    for (size_t i = 0; i < n; i++)
        if (b->it[i].in && b->it[i].reads)
            b->it[i].history = validator_history_collect(b->a, b->it[i].in->runtime->pipeline, b->it[i].reads, rep);
    for (size_t k = 0; k < cmds; k++)
        if (rep[k])
            freeReplyObject(rep[k]);
    return ACMS_OK;
}

/* 2. The levels of every member (one that fails leaves the group), then the fix statistics of every
 * issue code met, in one round trip, into b->fixes. ACMS_OK or ACMS_ERR_RETRY. */
static int validate_levels(validator_batch *b, size_t n)
{
    acms_issues all;
    acms_issues_init(&all, b->a, "all");
    for (size_t i = 0; i < n; i++) {
        batch_item *it = &b->it[i];
        if (!it->in)
            continue;
        acms_log_set_trace(b->msgs[i].traceparent);
        if (validator_validate_levels(b->c, b->a, it->in->runtime, it->in->document, it->history, &it->vp) != ACMS_OK) {
            it->in = NULL; /* stays ACMS_ERR_RETRY */
            continue;
        }
        for (size_t k = 0; k < it->vp.is.n; k++) {
            all.v = acms_arena_push(b->a, all.v, &all.n, sizeof *all.v);
            all.v[all.n - 1] = it->vp.is.v[k];
        }
    }
    acms_log_set_trace(NULL);
    if (all.n > 0 && validator_history_load_fixes(b->c->redis, b->a, &all, &b->fixes) != ACMS_OK)
        return ACMS_ERR_RETRY;
    return ACMS_OK;
}

int validator_handle_batch(const validator_ctx *c, acms_service *svc, const acms_msg *msgs, size_t n, int *rcs,
                           const char **reasons)
{
    acms_arena *a = acms_arena_new(0);
    validator_batch b = {.c = c, .svc = svc, .a = a, .msgs = msgs};
    b.it = acms_arena_alloc(a, (n ? n : 1) * sizeof *b.it);
    if (acms_batch_split(&batch_ops, &b, n, rcs, reasons) == 0 || load_history(&b, n) != ACMS_OK ||
        validate_levels(&b, n) != ACMS_OK)
        goto out; /* those left in the group stay ACMS_ERR_RETRY */
    /* 3. results, and every status write in one round trip; 4. publish, in order */
    acms_batch_write_publish(c->redis, &batch_ops, &b, msgs, n, rcs);
out:
    acms_arena_free(a);
    return ACMS_OK;
}
