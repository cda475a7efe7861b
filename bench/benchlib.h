/* benchlib.h: what the bench programs share: a generator of realistic pipeline documents (the same
 * text for our engine, ajv and the bus), a monotonic clock, medians, and small librdkafka helpers
 * for the counting and timing consumers (plain assigned consumers, no group: no 3 s join).
 * Everything returned is malloc'd and owned by the caller unless said otherwise. */
#ifndef ACMS_BENCHLIB_H
#define ACMS_BENCHLIB_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

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

/* A consumer (no group, manual assignment) of every partition of topic from the beginning, with low
 * fetch wait. NULL with a message on stderr on failure. Destroy with bench_consumer_close. */
rd_kafka_t *bench_consumer(const char *brokers, const char *topic, int from_end);
void bench_consumer_close(rd_kafka_t *rk);
/* A plain producer tuned for throughput (linger_ms) or latency. */
rd_kafka_t *bench_producer(const char *brokers, int linger_ms);
/* Number of partitions of topic (metadata), or -1. */
int bench_partitions(rd_kafka_t *rk, const char *topic);

#endif
