/* batch.c: the group loop shared by the adapter and the validator (batch.h). The status writes are
 * queued only after every message handled alone is done, so their replies are the pipeline's
 * replies in order; member k's reply is replies[k] for the k-th member queued. */
#include "batch.h"

#include <stdlib.h>

#include "log.h"
#include "run_state.h"

size_t acms_batch_split(const acms_batch_ops *ops, void *ctx, size_t n, int *rcs, const char **reasons)
{
    size_t joined = 0;
    for (size_t i = 0; i < n; i++) {
        rcs[i] = ACMS_ERR_RETRY;
        if (ops->join(ctx, i))
            joined++;
        else
            rcs[i] = ops->alone(ctx, i, &reasons[i]);
    }
    return joined;
}

/* Queues each member's write; idx[k] is the message of the k-th queued. Returns how many. */
static size_t queue_writes(acms_redis *r, const acms_batch_ops *ops, void *ctx, size_t n, size_t *idx)
{
    size_t queued = 0;
    for (size_t i = 0; i < n; i++) {
        acms_batch_write w = {0};
        if (ops->status(ctx, i, &w) != ACMS_OK)
            continue;
        if (acms_state_run_status_blobs_append(r, w.run_id, w.status, w.kv, w.nkv, w.list_suffix, w.items, w.lens,
                                               w.nitems) != ACMS_OK)
            continue; /* unusable: nothing queued, the message is retried */
        idx[queued++] = i;
    }
    return queued;
}

int acms_batch_write_publish(acms_redis *r, const acms_batch_ops *ops, void *ctx, const acms_msg *msgs, size_t n,
                             int *rcs)
{
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    redisReply **rep = malloc((n ? n : 1) * sizeof *rep);
    int rc = ACMS_ERR_NOMEM;
    if (!idx || !rep)
        goto out; /* before anything is queued */
    size_t queued = queue_writes(r, ops, ctx, n, idx);
    rc = 0;
    if (queued == 0)
        goto out;
    if (acms_redis_exec(r, rep, queued) != ACMS_OK) {
        rc = ACMS_ERR_RETRY;
        goto out;
    }
    for (size_t k = 0; k < queued; k++) {
        int applied = acms_state_run_status_reply(rep[k]);
        if (rep[k])
            freeReplyObject(rep[k]);
        acms_log_set_trace(msgs[idx[k]].traceparent);
        rcs[idx[k]] = ops->publish(ctx, idx[k], applied);
    }
    acms_log_set_trace(NULL);
    rc = (int)queued;
out:
    free(idx);
    free(rep);
    return rc;
}
