/* kafka_int.h: private state of an acms_kafka handle, shared by kafka.c (handle, producer,
 * dead letters), kafka_conf.c (configuration), kafka_loop.c (consume loop, offsets, rebalances)
 * and kafka_admin.c (topics). Not part of the API: only those files include it. All fields are owned by the handle's one thread, except
 * the atomics, which the health endpoint's and librdkafka's threads touch. */
#ifndef ACMS_KAFKA_INT_H
#define ACMS_KAFKA_INT_H

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>

#include "kafka.h"

/* A message whose delivery failed, kept to be produced again by the next flush. */
typedef struct acms_kafka_failed {
    struct acms_kafka_failed *next;
    char *topic;
    void *key;
    size_t key_len;
    void *payload;
    size_t len;
    rd_kafka_headers_t *hdrs; /* owned copy, or NULL */
} acms_kafka_failed;

struct acms_kafka {
    acms_cfg cfg; /* copy: the handle does not depend on the caller's */
    rd_kafka_t *producer;
    rd_kafka_t *consumer;                       /* NULL for a producer-only handle */
    acms_metrics *metrics;                      /* borrowed, may be NULL */
    atomic_int assigned;                        /* set on the first assignment, never cleared */
    atomic_int fatal;                           /* a fatal client error was reported */
    atomic_llong last_commitfail_ms;            /* log rate limit (librdkafka threads) */
    rd_kafka_topic_partition_list_t *pending;   /* processed offsets (+1) not yet stored */
    rd_kafka_topic_partition_list_t *committed; /* lag: the committed offsets of assigned partitions
                                                 * not consumed from since the assignment (kafka_loop.c);
                                                 * NULL after a rebalance until asked again */
    acms_kafka_failed *failed;                  /* failed deliveries to re-queue */
    acms_kafka_failed **failed_tail;
    size_t nfailed;
    int64_t last_poll_err_ms; /* rate limit for consumer error logs */
    int64_t deadline_ms;      /* shutdown: monotonic bound on flushes from then on, 0 = none */
    const acms_clock *clock;  /* the deadline's clock (acms_kafka_set_clock), NULL = the system's */
    int nudge;                /* wake the fetcher when the local queue runs dry (kafka_loop.c):
                                         * ACMS_KAFKA_FETCH_NUDGE and no fetch.queue.backoff.ms */
    atomic_llong nudges;      /* how many times it did */
    int64_t queue_bytes;      /* queued.max.messages.kbytes as set, in bytes */
    char subscribed[32][256]; /* the topics subscribed to (lag gauges exist for each) */
    int nsubscribed;
    atomic_int revocations;   /* partitions revoked or lost so far (kafka_loop.c) */
    atomic_llong progress_ms; /* monotonic: the loop last committed or was idle (health) */
    atomic_int stalled;       /* 1 while no progress for longer than cfg.stall_timeout_ms */
};

/* Helpers shared between the files (internal, hence the double underscore). */

/* librdkafka callbacks (kafka.c), set by the configuration (kafka_conf.c). */
void acms_kafka__log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);
void acms_kafka__error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque);
void acms_kafka__dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);

/* Configuration (kafka_conf.c): NULL / -1 with errstr on a refused setting. */
rd_kafka_conf_t *acms_kafka__base_conf(acms_kafka *k, char *errstr, size_t errstr_size);
int acms_kafka__producer_conf(acms_kafka *k, rd_kafka_conf_t *conf, char *errstr, size_t errstr_size);
int acms_kafka__consumer_conf(acms_kafka *k, rd_kafka_conf_t *conf, const char *group_id, char *errstr,
                              size_t errstr_size);
int acms_kafka__passthrough(const acms_cfg *c, rd_kafka_conf_t *conf, char *errstr, size_t errstr_size);

/* Rebalance callback of the consumer (kafka_loop.c). */
void acms_kafka__rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                              void *opaque);
/* Records that m (topic/partition/offset) was processed: its offset+1 becomes pending. */
void acms_kafka__pending_add(acms_kafka *k, const char *topic, int32_t partition, int64_t offset);
/* Stores the pending offsets (they are then auto-committed) and clears them. Only call after
 * a successful acms_kafka_flush. Returns the number of partitions stored. */
int acms_kafka__pending_store(acms_kafka *k);
/* Drops the pending offsets without storing them (after a failed flush on revoke). */
void acms_kafka__pending_clear(acms_kafka *k);

/* How long one flush may wait: ACMS_SHUTDOWN_TIMEOUT_MS, or what is left of the shutdown deadline
 * once one is set (0 when it has passed: flushes then only poll). */
int acms_kafka__budget_ms(const acms_kafka *k);

/* Metric helpers: no-ops when k->metrics is NULL. */
void acms_kafka__count(acms_kafka *k, const char *name, const char *help, const char *topic, double v);

#endif
