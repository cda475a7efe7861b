/* kafka.h: the bus. One handle holds an idempotent producer and, optionally, a group consumer.
 * The consume loop gives at-least-once processing: a message's offset is stored only after its
 * handler returned ACMS_OK (or the message was dead-lettered) AND everything produced so far has
 * been acknowledged by the broker (flush). Batches amortise the flush. On ACMS_ERR_RETRY the
 * partition is rewound to the failed message and retried after a backoff, so nothing is skipped.
 * Rebalances: pending offsets are flushed and committed before partitions are revoked.
 * All calls are made from the one thread that owns the handle. */
#ifndef ACMS_KAFKA_H
#define ACMS_KAFKA_H

#include <signal.h>

#include "cfg.h"
#include "clock.h"

typedef struct acms_kafka acms_kafka;
typedef struct acms_metrics acms_metrics;

typedef struct acms_msg {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *key; /* not NUL-terminated; key_len bytes */
    size_t key_len;
    const uint8_t *payload;
    size_t len;
    int64_t timestamp_ms;
    char traceparent[64]; /* W3C traceparent header, "" when absent */
    char ce_type[96];     /* CloudEvents ce_type header, "" when absent */
    char claim[65];       /* acms_claim header: the payload is in Redis under this hash (claim.h), "" = inline */
    size_t claim_size;    /* acms_claim_size header: the claimed payload's size */
} acms_msg;

/* CloudEvents binding headers and trace context for a produced message (any field may be NULL). */
typedef struct acms_kafka_hdrs {
    const char *ce_id;
    const char *ce_type;   /* e.g. "acms.v1.ConfigSubmitted" */
    const char *ce_source; /* e.g. "/acms/adapter/<instance>" */
    const char *traceparent;
    int64_t time_ms;
    const char *claim; /* claim check (claim.h): the payload's hash, the payload itself left out */
    size_t claim_size;
} acms_kafka_hdrs;

typedef struct acms_kafka_loop {
    /* Processes one message. Returns ACMS_OK (done), ACMS_ERR_RETRY (transient: rewind, back off,
     * retry) or ACMS_ERR_POISON (dead-letter with *reason, then go on). */
    int (*on_msg)(void *ud, const acms_msg *m, const char **reason);
    /* Called about every tick_ms (optional). A non-OK return is logged, not fatal. */
    int (*on_tick)(void *ud);
    void *ud;
    int tick_ms;                 /* default 50 */
    int batch_max;               /* messages between flush+store, default 500 */
    volatile sig_atomic_t *stop; /* the loop returns when *stop becomes non-zero */
    /* Optional (0 = none; never stdin): a descriptor whose readability means "tick now". The loop
     * waits on it beside the consumer queue and calls on_tick as soon as it becomes readable, not
     * at the next tick_ms. on_tick must consume what made it readable (e.g. drain an edge-triggered
     * epoll set), or the loop ticks back to back. */
    int wake_fd;
    /* Optional, instead of on_msg for every message: up to group_max messages that were already
     * waiting in the local queue (never waiting for more), in consumption order, so a handler can
     * share Redis round trips between them. It sets rcs[i] (and reasons[i] for a poison) for every
     * message; rcs starts at ACMS_ERR_RETRY. The loop then treats them in order as it treats one
     * on_msg result; from the first ACMS_ERR_RETRY on, no message of the group counts as processed,
     * and each partition is rewound to its first message in that tail (they are redelivered, so a
     * handler must be idempotent as on_msg already must). Oversized payloads never reach it. */
    int (*on_batch)(void *ud, const acms_msg *msgs, size_t n, int *rcs, const char **reasons);
    int group_max; /* default 32, at most ACMS_KAFKA_GROUP_MAX */
} acms_kafka_loop;

#define ACMS_KAFKA_GROUP_MAX 64

/* New handle. group_id NULL = producer only. Returns NULL with errstr on failure.
 * metrics may be NULL; when given, the handle counts events in/out/failed/dead-lettered per topic. */
acms_kafka *acms_kafka_new(const acms_cfg *cfg, const char *group_id, acms_metrics *metrics, char *errstr,
                           size_t errstr_size);
void acms_kafka_free(acms_kafka *k); /* flushes (bounded), commits, closes */

int acms_kafka_subscribe(acms_kafka *k, const char *const *topics, size_t ntopics);
/* Non-zero once the consumer has been assigned partitions at least once (readiness). */
int acms_kafka_assigned(const acms_kafka *k);
/* Events fetched and waiting in the consumer's local queue (not yet handed to the loop). */
int64_t acms_kafka_queued(acms_kafka *k);
/* Total consumer lag over assigned partitions (high watermark - position, or - the committed offset
 * where nothing was consumed since the assignment), -1 unknown. The consume loop's thread only (it
 * may ask the group coordinator once per assignment, up to 2 s). */
int64_t acms_kafka_lag(acms_kafka *k);

/* How many times the consume loop woke the fetcher after the local queue ran dry (see
 * ACMS_KAFKA_FETCH_NUDGE in cfg.h); 0 when the nudge is off or not needed. */
int64_t acms_kafka_fetch_nudges(const acms_kafka *k);

/* Queues a message (copied). Delivery is confirmed by acms_kafka_flush. ACMS_OK, ACMS_ERR_RETRY
 * (queue full after waiting), ACMS_ERR_LIMIT (refused for good before it left, e.g. larger than the
 * bus limit or an unknown topic: already dead-lettered, logged and counted) or ACMS_ERR. */
int acms_kafka_produce(acms_kafka *k, const char *topic, const char *key, const void *payload, size_t len,
                       const acms_kafka_hdrs *hdrs);
/* Non-zero for a produce/delivery error that waiting cannot fix (MSG_SIZE_TOO_LARGE,
 * RECORD_LIST_TOO_LARGE, TOPIC_AUTHORIZATION_FAILED, an unknown topic, INVALID_RECORD, ...). */
int acms_kafka_permanent_error(int err);

/* Waits until every queued message is acknowledged or refused for good (dead-lettered by the
 * delivery report). ACMS_OK, or ACMS_ERR_RETRY when a delivery failed transiently or the timeout
 * passed (the failed messages have been re-queued). */
int acms_kafka_flush(acms_kafka *k, int timeout_ms);

/* For a client that must say truthfully whether its messages were delivered (acmsctl): flushes;
 * on failure takes back what was never sent and waits for what is in flight. ACMS_OK when every
 * message was acknowledged; ACMS_ERR_RETRY when some were not, and then none of those is ever sent
 * by this handle (they are dropped, logged). */
int acms_kafka_settle(acms_kafka *k, int timeout_ms);

/* Publishes a DeadLetter for m with reason to the dead-letter topic (queued like any produce). */
int acms_kafka_deadletter(acms_kafka *k, const acms_msg *m, const char *reason);

/* Runs the consume loop until *loop->stop. Returns ACMS_OK on orderly stop (pending offsets
 * committed) or ACMS_ERR on a fatal client error. When it sees *loop->stop it starts the shutdown
 * deadline (below) unless one is set, so the final flush and commit are bounded by it. */
int acms_kafka_run(acms_kafka *k, const acms_kafka_loop *loop);

/* The shutdown deadline (acms_mono_ms clock): from then on every flush of this handle, including
 * those of acms_kafka_free and of the revocation when the consumer leaves its group, waits only
 * for what is left of it, so stop -> close takes at most ACMS_SHUTDOWN_TIMEOUT_MS in all.
 * acms_kafka_start_deadline sets it to now + ACMS_SHUTDOWN_TIMEOUT_MS unless already set and
 * returns it; acms_kafka_deadline returns it (0 = not started). Owner thread only. */
int64_t acms_kafka_start_deadline(acms_kafka *k);
int64_t acms_kafka_deadline(const acms_kafka *k);
/* The clock the shutdown deadline is read on (clock.h; borrowed, outlives k): NULL, the default, is
 * the system's monotonic clock; a test passes a fake one. Set before the deadline starts. */
void acms_kafka_set_clock(acms_kafka *k, const acms_clock *clock);

/* Health (ACMS_STALL_TIMEOUT_MS): non-zero when the consume loop has had work in hand and neither
 * committed nor been idle for longer than the bound (a wedged partition, a handler that never
 * returns, output never acknowledged); *stalled_ms (optional) gets how long. Any thread. */
int acms_kafka_stalled(const acms_kafka *k, int64_t *stalled_ms);

/* Reachability check (metadata request within timeout_ms) for /readyz. */
int acms_kafka_reachable(acms_kafka *k, int timeout_ms);

#endif
