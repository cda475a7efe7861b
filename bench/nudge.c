/* nudge.c (acms-bench-nudge): what the fetch nudge (ACMS_KAFKA_FETCH_NUDGE, common/kafka_loop.c)
 * buys a consumer with a backlog larger than its prefetch queue, beside the same consumer without it
 * (the baseline). librdkafka 2.0 stops fetching for a fixed second whenever the local queue reaches
 * queued.max.messages.kbytes; the nudge wakes the fetcher as soon as the queue runs dry. On
 * librdkafka's mock cluster (in process): --messages (240) of 16 KiB over 16 partitions, produced in
 * batches, consumed through acms_kafka_run with a 1 MiB queue and 0.5 ms of work per message, with
 * the nudge and without, alternating the order round by round (--rounds, 3). Prints one JSON object:
 * per mode the medians over rounds of the longest gap between two messages and of the time to
 * consume the backlog, the nudges sent, and the ratio of the times. Exit 1 when a round did not
 * consume every message. */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchlib.h"
#include "kafka.h"
#include "log.h"

#define PARTITIONS 16
#define MSG_BYTES (16 * 1024)
#define MAX_ROUNDS 15

typedef struct counter {
    volatile sig_atomic_t stop;
    int n, want;
    int64_t deadline_ms, first_ms, last_ms, max_gap_ms;
} counter;

static int on_msg(void *ud, const acms_msg *m, const char **reason)
{
    counter *c = ud;
    int64_t now = acms_mono_ms();
    (void)m;
    (void)reason;
    usleep(500); /* a service's work on the event */
    if (c->n == 0)
        c->first_ms = now;
    else if (now - c->last_ms > c->max_gap_ms)
        c->max_gap_ms = now - c->last_ms;
    c->last_ms = now;
    if (++c->n >= c->want)
        c->stop = 1;
    return ACMS_OK;
}

static int on_tick(void *ud)
{
    counter *c = ud;
    if (acms_mono_ms() > c->deadline_ms)
        c->stop = 1;
    return ACMS_OK;
}

static void cfg_init(acms_cfg *c, const char *brokers, int nudge)
{
    memset(c, 0, sizeof *c);
    snprintf(c->service, sizeof c->service, "bench-nudge");
    snprintf(c->instance_id, sizeof c->instance_id, "bench-nudge-%d", nudge);
    snprintf(c->brokers, sizeof c->brokers, "%s", brokers);
    c->shutdown_timeout_ms = 3000;
    c->queue_kb = 1024;
    c->fetch_nudge = nudge;
}

/* n messages on topic, in batches of several per partition. 0 or -1. */
static int produce_backlog(const char *brokers, const char *topic, int n)
{
    acms_cfg c;
    char err[256], key[32];
    int rc = -1;
    cfg_init(&c, brokers, 0);
    c.linger_ms = 100;
    acms_kafka *p = acms_kafka_new(&c, NULL, NULL, err, sizeof err);
    char *payload = malloc(MSG_BYTES);
    if (!p || !payload)
        goto out;
    memset(payload, 'x', MSG_BYTES);
    for (int i = 0; i < n; i++) {
        if (snprintf(key, sizeof key, "run-%d", i) >= (int)sizeof key ||
            acms_kafka_produce(p, topic, key, payload, MSG_BYTES, NULL) != ACMS_OK)
            goto out;
    }
    rc = acms_kafka_flush(p, 10000) == ACMS_OK ? 0 : -1;
out:
    free(payload);
    acms_kafka_free(p);
    return rc;
}

/* Consumes the whole backlog with a fresh group; 0 when every message came, else -1. */
static int consume(const char *brokers, const char *topic, const char *group, int nudge, int want, counter *out,
                   int64_t *nudges)
{
    acms_cfg c;
    char err[256];
    memset(out, 0, sizeof *out);
    out->want = want;
    out->deadline_ms = acms_mono_ms() + 120000;
    cfg_init(&c, brokers, nudge);
    acms_kafka *k = acms_kafka_new(&c, group, NULL, err, sizeof err);
    if (!k) {
        fprintf(stderr, "bench-nudge: %s\n", err);
        return -1;
    }
    const char *topics[] = {topic};
    acms_kafka_loop loop = {.on_msg = on_msg, .on_tick = on_tick, .ud = out, .tick_ms = 50, .stop = &out->stop};
    int rc = acms_kafka_subscribe(k, topics, 1) == ACMS_OK && acms_kafka_run(k, &loop) == ACMS_OK ? 0 : -1;
    *nudges = acms_kafka_fetch_nudges(k);
    acms_kafka_free(k);
    return rc == 0 && out->n == want ? 0 : -1;
}

int main(int argc, char **argv)
{
    int n = 240, rounds = 3, rc = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--messages"))
            n = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rounds"))
            rounds = atoi(argv[i + 1]);
    }
    if (n < 1 || rounds < 1 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "usage: acms-bench-nudge [--messages N] [--rounds 1..%d]\n", MAX_ROUNDS);
        return 2;
    }
    acms_log_init("bench-nudge", "error");
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    rd_kafka_t *host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    rd_kafka_mock_cluster_t *mc = host ? rd_kafka_mock_cluster_new(host, 1) : NULL;
    if (!mc) {
        fprintf(stderr, "bench-nudge: no mock cluster: %s\n", err);
        goto out;
    }
    const char *brokers = rd_kafka_mock_cluster_bootstraps(mc);
    if (rd_kafka_mock_topic_create(mc, "nudge", PARTITIONS, 1) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        produce_backlog(brokers, "nudge", n) != 0) {
        fprintf(stderr, "bench-nudge: could not produce the backlog\n");
        goto out;
    }
    double gap[2][MAX_ROUNDS], total[2][MAX_ROUNDS];
    int64_t nudges[2] = {0, 0};
    for (int r = 0; r < rounds; r++) {
        for (int j = 0; j < 2; j++) {
            int nudge = (r % 2 == 0) ? 1 - j : j; /* even rounds with the nudge first */
            char group[64];
            int64_t sent = 0;
            counter c;
            snprintf(group, sizeof group, "g-%d-%d", r, nudge);
            if (consume(brokers, "nudge", group, nudge, n, &c, &sent) != 0) {
                fprintf(stderr, "bench-nudge: round %d (nudge %d): %d of %d messages\n", r, nudge, c.n, n);
                goto out;
            }
            gap[nudge][r] = (double)c.max_gap_ms;
            total[nudge][r] = (double)(c.last_ms - c.first_ms);
            nudges[nudge] += sent;
        }
    }
    double on_total = bench_median(total[1], (size_t)rounds), off_total = bench_median(total[0], (size_t)rounds);
    printf("{\"messages\": %d, \"rounds\": %d, \"on\": {\"max_gap_ms\": %.0f, \"total_ms\": %.0f, \"nudges\": %lld}, "
           "\"off\": {\"max_gap_ms\": %.0f, \"total_ms\": %.0f, \"nudges\": %lld}, \"ratio_total\": %.3f}\n",
           n, rounds, bench_median(gap[1], (size_t)rounds), on_total, (long long)nudges[1],
           bench_median(gap[0], (size_t)rounds), off_total, (long long)nudges[0],
           off_total > 0 ? on_total / off_total : 0.0);
    rc = 0;
out:
    if (mc)
        rd_kafka_mock_cluster_destroy(mc);
    if (host)
        rd_kafka_destroy(host);
    return rc;
}
