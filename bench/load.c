/* load.c (acms-bench-load): pre-loads a topic with realistic events for the throughput figures:
 *   acms-bench-load --topic T --count N [--kind submitted|prepared] [--run-prefix P] [--plan]
 * ConfigSubmitted (or ConfigPrepared, prepared offline) events of 64 different 5-10 step pipelines,
 * keyed by unique run ids P-0 .. P-(N-1), produced with a long linger for speed; exits after every
 * message is acknowledged and prints {"produced":N,"bytes":B}. --plan only prints the bytes the load
 * would take and the partitions needed to keep it under the devbroker's 5 MiB per partition. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchlib.h"
#include "log.h"

typedef struct dr_state {
    size_t acked, failed;
} dr_state;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    dr_state *st = opaque;
    (void)rk;
    if (m->err)
        st->failed++;
    else
        st->acked++;
}

int main(int argc, char **argv)
{
    const char *topic = NULL, *kind = "submitted", *prefix = "bench", *config_dir = "examples";
    size_t count = 50000;
    int plan = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(argv[i], "--topic"))
            topic = v, i++;
        else if (!strcmp(argv[i], "--count"))
            count = strtoul(v, NULL, 10), i++;
        else if (!strcmp(argv[i], "--kind"))
            kind = v, i++;
        else if (!strcmp(argv[i], "--run-prefix"))
            prefix = v, i++;
        else if (!strcmp(argv[i], "--config-dir"))
            config_dir = v, i++;
        else if (!strcmp(argv[i], "--plan"))
            plan = 1;
    }
    if (!topic && !plan) {
        fprintf(stderr, "usage: acms-bench-load --topic T --count N [--kind submitted|prepared] [--run-prefix P] [--plan]\n");
        return 2;
    }
    acms_log_init("acms-bench-load", "error");
    bench_templates t;
    if (bench_templates_build(&t, 64, !strcmp(kind, "prepared"), config_dir, "dev") != 0)
        return 1;
    if (plan) {
        unsigned long long bytes = (unsigned long long)t.avg_event_bytes * count;
        unsigned long long per = 4ULL * 1024 * 1024; /* headroom under the 5 MiB trim */
        printf("{\"bytes\":%llu,\"avg_event_bytes\":%zu,\"partitions\":%llu}\n", bytes, t.avg_event_bytes,
               (bytes + per - 1) / per);
        bench_templates_free(&t);
        return 0;
    }
    const char *brokers = getenv("ACMS_KAFKA_BROKERS");
    if (!brokers || !*brokers) {
        fprintf(stderr, "acms-bench-load: ACMS_KAFKA_BROKERS is not set\n");
        return 2;
    }
    dr_state st = {0};
    rd_kafka_t *rk = bench_producer(brokers, 50, dr_cb, &st);
    if (!rk)
        return 1;
    const char *ce_type = !strcmp(kind, "prepared") ? "acms.v1.ConfigPrepared" : "acms.v1.ConfigSubmitted";
    unsigned long long bytes = 0;
    int64_t t0 = bench_now_us();
    for (size_t i = 0; i < count; i++) {
        char run_id[96];
        size_t len = 0;
        snprintf(run_id, sizeof run_id, "%s-%zu", prefix, i);
        uint8_t *payload = bench_event(&t, i, run_id, &len);
        if (!payload)
            return 1;
        rd_kafka_headers_t *h = rd_kafka_headers_new(2);
        rd_kafka_header_add(h, "ce_type", -1, ce_type, -1);
        rd_kafka_header_add(h, "content-type", -1, "application/protobuf", -1);
        for (;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(run_id, strlen(run_id)), RD_KAFKA_V_VALUE(payload, len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
            if (!e)
                break;
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                fprintf(stderr, "acms-bench-load: produce: %s\n", rd_kafka_err2str(e));
                return 1;
            }
            rd_kafka_poll(rk, 50);
        }
        bytes += len;
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 120000);
    double secs = (double)(bench_now_us() - t0) / 1e6;
    printf("{\"produced\":%zu,\"acked\":%zu,\"failed\":%zu,\"bytes\":%llu,\"seconds\":%.2f}\n", count, st.acked,
           st.failed, bytes, secs);
    rd_kafka_destroy(rk);
    bench_templates_free(&t);
    return st.acked == count ? 0 : 1;
}
