/* service.h: the skeleton every service's main.c fills in. acms_service_main() parses --help and
 * --version, loads the configuration, starts logging, the health/metrics endpoint, Redis and Kafka,
 * subscribes to the input topics, runs the consume loop until SIGTERM/SIGINT, then shuts down in
 * order: stop fetching, finish the event in hand, flush the producer, commit, close.
 * Handlers get the acms_service to publish and reach Redis; they never see librdkafka. */
#ifndef ACMS_SERVICE_H
#define ACMS_SERVICE_H

#include "cfg.h"
#include "http.h"
#include "kafka.h"
#include "log.h"
#include "pb.h"
#include "profile.h"
#include "redis.h"

typedef struct acms_service acms_service;

typedef struct acms_service_ops {
    const char *name;         /* "acms-adapter" */
    const char *summary;      /* one line for --help */
    const char *extra_help;   /* service-specific variables for --help, or NULL */
    const acms_topic *inputs; /* topics consumed */
    size_t ninputs;
    int needs_profiles; /* load ACMS_CONFIG_DIR at start-up */
    /* Builds the service context. ACMS_OK or an error with errstr (the process exits 1). */
    int (*init)(acms_service *svc, void **ctx, char *errstr, size_t errstr_size);
    /* One input message, already size-checked. Same contract as acms_kafka_loop.on_msg. */
    int (*handle)(void *ctx, acms_service *svc, const acms_msg *m, const char **reason);
    /* Optional: the messages already waiting, handled together (acms_kafka_loop.on_batch); handle
     * stays required (tools and tests call it). */
    int (*handle_batch)(void *ctx, acms_service *svc, const acms_msg *msgs, size_t n, int *rcs, const char **reasons);
    int (*tick)(void *ctx, acms_service *svc); /* optional */
    int tick_ms;
    /* Optional, asked once after init: a descriptor that, when readable, runs tick at once
     * (acms_kafka_loop.wake_fd: tick must consume the readiness); 0 or less = none. */
    int (*wake_fd)(void *ctx);
    void (*release)(void *ctx);
} acms_service_ops;

/* Runs the service; returns the process exit code (0 after an orderly shutdown). */
int acms_service_main(int argc, char **argv, const acms_service_ops *ops);

const acms_cfg *acms_service_cfg(const acms_service *svc);
acms_redis *acms_service_redis(acms_service *svc);
acms_kafka *acms_service_kafka(acms_service *svc);
acms_metrics *acms_service_metrics(acms_service *svc);
const acms_profiles *acms_service_profiles(const acms_service *svc);
/* Non-zero once shutdown was requested (long handlers may check it). */
int acms_service_stopping(const acms_service *svc);

/* Packs msg and queues it on topic t, keyed by key (the run id), with CloudEvents headers taken
 * from the message's EventMeta (field 1). ACMS_OK or ACMS_ERR_RETRY. */
int acms_service_publish(acms_service *svc, acms_topic t, const char *key, const ProtobufCMessage *msg);
/* acms_service_publish of msg with the fields raw (unset in msg) carried as packed bytes: a
 * sub-message forwarded unchanged, or already packed, is not packed again (acms_pb_pack_with_fields). */
int acms_service_publish_with_fields(acms_service *svc, acms_topic t, const char *key, const ProtobufCMessage *msg,
                                     const acms_pb_raw_field *raw, size_t n_raw);

#endif
