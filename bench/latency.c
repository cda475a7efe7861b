/* latency.c (acms-bench-latency): offered-rate latency through a chain of consumers.
 *   acms-bench-latency --in TOPIC --out TOPIC [--rate 500] [--duration-s 6] [--run-prefix P]
 * Produces ConfigSubmitted events (small realistic pipelines) to --in at a fixed rate (an open loop:
 * the schedule does not wait for answers) and times the arrival of each run id on --out from its
 * send time, in this one process and one monotonic clock. The --out consumer is positioned at the
 * current end of every partition, and one warm-up event per partition has gone through the chain,
 * before the first timed send. Prints
 *   {"sent":N,"received":R,"p50_ms":..,"p90_ms":..,"p99_ms":..,"max_ms":..,"achieved_rate":..,
 *    "warmup_flush_ms":..}
 * and exits 0 when every event arrived within 10 s after the last send. --late-ms MS lists on stderr
 * each event slower than MS: its number, its send time from the first send and its latency. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchlib.h"
#include "log.h"

static int position_at_end(rd_kafka_t *c, const char *topic)
{
    int np = bench_partitions(c, topic);
    if (np <= 0)
        return -1;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(np);
    for (int p = 0; p < np; p++) {
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(c, topic, p, &lo, &hi, 5000)) {
            rd_kafka_topic_partition_list_destroy(l);
            return -1;
        }
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = hi;
    }
    rd_kafka_resp_err_t e = rd_kafka_assign(c, l);
    rd_kafka_topic_partition_list_destroy(l);
    return e ? -1 : 0;
}

/* warm_up: one event per partition of IN, keyed PREFIX.warm-N (the receive loop ignores keys without
 * "PREFIX-"), flushed, then waits until each has come out of OUT. librdkafka before 2.10.1 does not
 * ask for a topic's leader when rd_kafka_producev first names it (librdkafka#5032): what is produced
 * waits on the unassigned queue for the client's topic scan, once a second from rd_kafka_new
 * (bench/README.md, "Round 3: bench hygiene"). bench_partitions makes the topic with
 * rd_kafka_topic_new, which asks; the chain's first events also pay its own start-up. Neither is
 * latency at the offered rate. */
static int warm_up(rd_kafka_t *p, rd_kafka_t *c, const bench_templates *t, const char *in, const char *prefix,
                   double *flush_ms)
{
    int64_t t0 = bench_now_us();
    int np = bench_partitions(p, in), seen = 0;
    if (np <= 0)
        return -1;
    char key[112];
    for (int i = 0; i < np; i++) {
        size_t len = 0;
        snprintf(key, sizeof key, "%s.warm-%d", prefix, i);
        uint8_t *payload = bench_event(t, (size_t)i, key, &len);
        if (!payload ||
            rd_kafka_producev(p, RD_KAFKA_V_TOPIC(in), RD_KAFKA_V_PARTITION(i), RD_KAFKA_V_KEY(key, strlen(key)),
                              RD_KAFKA_V_VALUE(payload, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
                              RD_KAFKA_V_HEADER("ce_type", "acms.v1.ConfigSubmitted", -1),
                              RD_KAFKA_V_END) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            free(payload);
            return -1;
        }
    }
    if (rd_kafka_flush(p, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return -1;
    *flush_ms = (double)(bench_now_us() - t0) / 1000.0;
    size_t plen = strlen(prefix);
    for (int64_t end = bench_now_us() + 30 * 1000000LL; seen < np && bench_now_us() < end;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        if (!m)
            continue;
        if (!m->err && m->key && m->key_len > plen + 6 && !memcmp(m->key, prefix, plen) &&
            !memcmp((const char *)m->key + plen, ".warm-", 6))
            seen++;
        rd_kafka_message_destroy(m);
    }
    return seen < np ? -1 : 0;
}

/* report: the slow events on stderr (--late-ms), then the result line; compacts and sorts LAT */
static void report(const int64_t *sent, double *lat, size_t n, size_t received, int64_t start, double late_ms,
                   double warm_flush_ms)
{
    for (size_t i = 0; late_ms > 0 && i < n; i++)
        if (lat[i] > late_ms)
            fprintf(stderr, "late %zu sent_ms %.1f latency_ms %.1f\n", i, (double)(sent[i] - start) / 1000.0, lat[i]);
    double secs = (double)(sent[n - 1] - sent[0]) / 1e6;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (lat[i] > 0)
            lat[k++] = lat[i];
    double p50 = bench_percentile(lat, k, 50), p90 = bench_percentile(lat, k, 90), p99 = bench_percentile(lat, k, 99);
    printf("{\"sent\":%zu,\"received\":%zu,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
           "\"achieved_rate\":%.1f,\"warmup_flush_ms\":%.1f}\n",
           n, received, p50, p90, p99, k ? lat[k - 1] : 0.0, secs > 0 ? (double)(n - 1) / secs : 0.0, warm_flush_ms);
}

int main(int argc, char **argv)
{
    const char *in = NULL, *out = NULL, *prefix = "lat";
    double rate = 500, duration = 6, late_ms = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(argv[i], "--in"))
            in = v, i++;
        else if (!strcmp(argv[i], "--out"))
            out = v, i++;
        else if (!strcmp(argv[i], "--rate"))
            rate = atof(v), i++;
        else if (!strcmp(argv[i], "--duration-s"))
            duration = atof(v), i++;
        else if (!strcmp(argv[i], "--run-prefix"))
            prefix = v, i++;
        else if (!strcmp(argv[i], "--late-ms"))
            late_ms = atof(v), i++;
    }
    const char *brokers = getenv("ACMS_KAFKA_BROKERS");
    if (!in || !out || !brokers || rate <= 0 || duration <= 0) {
        fprintf(stderr, "usage: ACMS_KAFKA_BROKERS=.. acms-bench-latency --in T --out T [--rate R] [--duration-s S]\n");
        return 2;
    }
    acms_log_init("acms-bench-latency", "error");
    bench_templates t;
    if (bench_templates_build(&t, 16, 0, "examples", "dev") != 0)
        return 1;
    size_t n = (size_t)(rate * duration);
    int64_t *sent = calloc(n, sizeof *sent);
    double *lat = calloc(n, sizeof *lat);
    if (!sent || !lat)
        return 1;
    rd_kafka_t *p = bench_producer(brokers, 0, NULL, NULL);
    rd_kafka_t *c = bench_consumer(brokers, out, 1);
    if (!p || !c || position_at_end(c, out) != 0) {
        fprintf(stderr, "acms-bench-latency: cannot set up the clients\n");
        return 1;
    }
    double warm_flush_ms = 0;
    if (warm_up(p, c, &t, in, prefix, &warm_flush_ms) != 0) {
        fprintf(stderr, "acms-bench-latency: the warm-up events did not come out of the chain within 30 s\n");
        return 1;
    }
    size_t plen = strlen(prefix), received = 0, next = 0;
    int64_t start = bench_now_us(), period_us = (int64_t)(1e6 / rate), end_wait = 0;
    for (;;) {
        int64_t now = bench_now_us();
        while (next < n && now >= start + (int64_t)next * period_us) {
            char run_id[96];
            size_t len = 0;
            snprintf(run_id, sizeof run_id, "%s-%zu", prefix, next);
            uint8_t *payload = bench_event(&t, next, run_id, &len);
            sent[next] = bench_now_us();
            rd_kafka_resp_err_t e = rd_kafka_producev(
                p, RD_KAFKA_V_TOPIC(in), RD_KAFKA_V_KEY(run_id, strlen(run_id)), RD_KAFKA_V_VALUE(payload, len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_HEADER("ce_type", "acms.v1.ConfigSubmitted", -1),
                RD_KAFKA_V_END);
            if (e) {
                free(payload);
                fprintf(stderr, "acms-bench-latency: produce: %s\n", rd_kafka_err2str(e));
            }
            next++;
            now = bench_now_us();
        }
        rd_kafka_poll(p, 0);
        if (next == n && !end_wait)
            end_wait = now + 10 * 1000000LL;
        if (received == n || (end_wait && now > end_wait))
            break;
        int64_t wait_us = next < n ? start + (int64_t)next * period_us - now : 100000;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, wait_us > 1000 ? (int)(wait_us / 1000) : 0);
        if (!m)
            continue;
        int64_t got = bench_now_us();
        if (!m->err && m->key && m->key_len > plen + 1 && !memcmp(m->key, prefix, plen) &&
            ((const char *)m->key)[plen] == '-') {
            char num[32];
            size_t k = m->key_len - plen - 1 < sizeof num - 1 ? m->key_len - plen - 1 : sizeof num - 1;
            memcpy(num, (const char *)m->key + plen + 1, k);
            num[k] = '\0';
            size_t i = strtoul(num, NULL, 10);
            if (i < next && sent[i] && lat[i] == 0) {
                lat[i] = (double)(got - sent[i]) / 1000.0;
                received++;
            }
        }
        rd_kafka_message_destroy(m);
    }
    report(sent, lat, n, received, start, late_ms, warm_flush_ms);
    bench_consumer_close(c);
    rd_kafka_flush(p, 5000);
    rd_kafka_destroy(p);
    bench_templates_free(&t);
    free(sent);
    free(lat);
    return received == n ? 0 : 1;
}
