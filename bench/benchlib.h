/* benchlib.h: what the bench programs share: a generator of realistic pipeline documents (the same
 * text for our engine, ajv and the bus), a monotonic clock, medians, and small librdkafka helpers
 * for the counting and timing consumers (plain assigned consumers, no group: no 3 s join).
 * Everything returned is malloc'd and owned by the caller unless said otherwise. */
#ifndef ACMS_BENCHLIB_H
#define ACMS_BENCHLIB_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "pb.h"

typedef enum { BENCH_SHAPE_REALISTIC, BENCH_SHAPE_TREE } bench_shape;

/* A Pipeline document of nsteps steps, compact JSON (json != 0) or block YAML. REALISTIC: a random
 * DAG (each step depends on 0-2 earlier steps), mixed types, instance types, env and tags, valid for
 * the example "dev" environment; seed picks the variation. TREE: step i depends on step (i-1)/2 and
 * runs ["true"], with max_parallel (0 = not set). Returns a malloc'd NUL-terminated string. */
char *bench_pipeline(size_t nsteps, uint64_t seed, int json, bench_shape shape, int max_parallel);

int64_t bench_now_us(void);                       /* monotonic */
int64_t bench_wall_ms(void);                      /* epoch */
double bench_median(double *v, size_t n);         /* sorts v */
double bench_percentile(double *v, size_t n, double p); /* sorts v; p in [0, 100] */
uint64_t bench_rand(uint64_t *state);             /* xorshift64* */

/* Pre-packed event bodies: n different realistic pipelines (5-10 steps), each packed once as the
 * part of a ConfigSubmitted (environment, document, source name) or, with prepared != 0, of a
 * ConfigPrepared (runtime prepared offline by adapter_prepare for env, and the document). An event
 * is a packed EventMeta-only message followed by a body: protobuf merges concatenated messages. */
typedef struct bench_templates {
    uint8_t **body;
    size_t *len;
    size_t n;
    size_t avg_event_bytes;
} bench_templates;

/* Builds n bodies. 0, or -1 with a message on stderr. */
int bench_templates_build(bench_templates *t, size_t n, int prepared, const char *config_dir, const char *env);
void bench_templates_free(bench_templates *t);
/* The payload of event i (malloc'd, *len): meta {run_id, timestamp now, source acms-bench} + body i % n. */
uint8_t *bench_event(const bench_templates *t, size_t i, const char *run_id, size_t *len);

/* A consumer (no group, manual assignment) of every partition of topic from the beginning, with low
 * fetch wait. NULL with a message on stderr on failure. Destroy with bench_consumer_close. */
rd_kafka_t *bench_consumer(const char *brokers, const char *topic, int from_end);
void bench_consumer_close(rd_kafka_t *rk);
/* A plain idempotent producer tuned for throughput (linger_ms 50) or latency (0); dr (may be NULL)
 * gets every delivery report with opaque. */
rd_kafka_t *bench_producer(const char *brokers, int linger_ms,
                           void (*dr)(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque), void *opaque);
/* Number of partitions of topic (metadata), or -1. */
int bench_partitions(rd_kafka_t *rk, const char *topic);

#endif
