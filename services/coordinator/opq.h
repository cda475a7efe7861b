/* opq.h: a run's pending-write queue (run_store.c): its ordered effects on Redis and the bus.
 * Invariant: a finished step's record is queued before anything else about the run and is never
 * dropped while the run's lease is held; a publication follows every write queued before it. */
#ifndef ACMS_COORD_OPQ_H
#define ACMS_COORD_OPQ_H

#include <stddef.h>

#include "pb.h"
#include "service.h"

/* Ordered effects of one run: Redis writes, bus publications, flushes and the lease release.
 * Between two barriers (flush, lease release) the Redis writes go out in order as one pipeline and
 * then the publications in order, so each publication follows every write queued before it (a
 * step's record is in Redis before its event is on the bus). What fails stays queued, in place,
 * and is retried on the next drain (a write Redis refused may then land after writes queued behind
 * it in the same pipeline); a barrier waits until everything before it is applied, so a finished
 * step's record is never lost and never overtaken by the run's terminal status. */
typedef struct coord_op coord_op;
typedef struct coord_opq {
    coord_op *head, *tail;
    size_t n;
} coord_opq;

void coord_opq_cmd(coord_opq *q, int argc, const char *const *argv); /* any Redis command (copied) */
void coord_opq_step_set(coord_opq *q, const char *run_id, const char *step, const char *const *kv, size_t nkv);
void coord_opq_run_status(coord_opq *q, const char *run_id, const char *status, const char *const *kv, size_t nkv);
/* Takes the arena holding msg (freed when the op is done). */
void coord_opq_publish(coord_opq *q, acms_topic t, const char *key, acms_arena *a, const ProtobufCMessage *msg);
void coord_opq_flush_bus(coord_opq *q); /* waits for the broker's acknowledgements so far */
void coord_opq_lease_release(coord_opq *q, const char *run_id, const char *owner);
/* Applies queued ops in order. ACMS_OK when the queue is empty, ACMS_ERR_RETRY when some remain. */
int coord_opq_drain(coord_opq *q, acms_service *svc, const char *run_id);
void coord_opq_clear(coord_opq *q);

#endif
