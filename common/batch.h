/* batch.h: the group loop of a service that handles the messages already waiting together
 * (acms_service_ops.handle_batch): each message either joins the group or is handled alone, at
 * once and in order, before any of the group's Redis commands is queued; the group's run-status
 * writes (common/run_state.h) then go to Redis in one round trip, and each member whose write was
 * queued is published in input order, under its own trace. A message's outcome stays
 * ACMS_ERR_RETRY unless one of these steps gives it another. The service keeps its members in its
 * own context (ctx) and says through the callbacks which index is what. */
#ifndef ACMS_BATCH_H
#define ACMS_BATCH_H

#include <stddef.h>

#include "kafka.h"
#include "redis.h"

/* One member's status write: acms_state_run_status_blobs' arguments. The pointers must stay valid
 * until acms_batch_write_publish returns. */
typedef struct acms_batch_write {
    const char *run_id, *status;
    const char *const *kv; /* field/value pairs, nkv entries (may be NULL when 0) */
    size_t nkv;
    const char *list_suffix; /* the list the write replaces (acms:run:<run>:<suffix>) */
    const char *const *items;
    const size_t *lens;
    size_t nitems;
} acms_batch_write;

typedef struct acms_batch_ops {
    /* Whether message i joins the group (1) or is handled alone (0). Runs no Redis command. */
    int (*join)(void *ctx, size_t i);
    /* Handles message i alone: its outcome, *reason set for a poison (the service's handle()). */
    int (*alone)(void *ctx, size_t i, const char **reason);
    /* Member i's status write into *w: ACMS_OK, or anything else when i has left the group (a
     * failure since joining: its outcome is left as it is). */
    int (*status)(void *ctx, size_t i, acms_batch_write *w);
    /* After member i's write answered applied (1 written, 0 refused, ACMS_ERR_RETRY failed):
     * publishes what follows from it; returns the message's outcome. */
    int (*publish)(void *ctx, size_t i, int applied);
} acms_batch_ops;

/* Sets every rcs[i] to ACMS_ERR_RETRY, then for i in order asks join, and handles the others
 * alone (rcs[i], reasons[i]). Returns how many joined. */
size_t acms_batch_split(const acms_batch_ops *ops, void *ctx, size_t n, int *rcs, const char **reasons);

/* Queues the status write of every member that still has one, runs them in one round trip, then
 * for each of those in order sets the trace to msgs[i].traceparent and rcs[i] to publish's
 * answer (the trace is cleared after). A write that cannot be queued (unusable arguments) leaves
 * its member at ACMS_ERR_RETRY, as does a lost connection (nothing is published then).
 * Returns how many members were published, or ACMS_ERR_RETRY (connection lost), ACMS_ERR_NOMEM. */
int acms_batch_write_publish(acms_redis *r, const acms_batch_ops *ops, void *ctx, const acms_msg *msgs, size_t n,
                             int *rcs);

#endif
