/* soak.c (acms-bench-soak): submits a pipeline file as many runs at a steady rate, as acmsctl submit
 * does each one (the run's record "submitted" in Redis, then its ConfigSubmitted keyed by a fresh
 * run id), without a process per run:
 *   acms-bench-soak --file PIPELINE.yaml --env NAME --runs N --rate R
 * ACMS_KAFKA_BROKERS and ACMS_REDIS_URL name the stack. Prints progress on stderr and
 * {"submitted":N,"acked":A,"seconds":S} once every event is acknowledged; exit 0 when all were. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchlib.h"
#include "doc.h"
#include "log.h"
#include "run_state.h"

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

/* The Pipeline document of path in the arena, or NULL (said on stderr). */
static const Acms__V1__Value *load(acms_arena *a, const char *path)
{
    char err[512] = "";
    Acms__V1__Value **docs = NULL;
    size_t n = 0;
    if (acms_doc_parse_file(a, path, &docs, &n, err, sizeof err) != ACMS_OK) {
        fprintf(stderr, "acms-bench-soak: %s\n", err);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (acms_doc_kind(docs[i]) && !strcmp(acms_doc_kind(docs[i]), "Pipeline"))
            return docs[i];
    fprintf(stderr, "acms-bench-soak: %s: no Pipeline document\n", path);
    return NULL;
}

/* One run: its record, then its event (owned by librdkafka once produced). 0 or -1. */
static int submit(rd_kafka_t *rk, acms_redis *r, const Acms__V1__Value *doc, const char *env, const char *path,
                  const char *pipeline)
{
    acms_arena *a = acms_arena_new(0);
    char run_id[ACMS_ID_LEN];
    acms_id_random(run_id);
    Acms__V1__ConfigSubmitted *ev = acms_pb_new(a, &acms__v1__config_submitted__descriptor);
    ev->meta = acms_meta_new(a, run_id, "acms-bench-soak", NULL, NULL, NULL);
    ev->environment = (char *)env;
    ev->document = (Acms__V1__Value *)doc;
    ev->source_name = (char *)path;
    const char *kv[] = {"pipeline", pipeline, "environment", env, "source_name", path};
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = -1;
    if (acms_state_run_status(r, run_id, "submitted", kv, 6) < 0 || acms_pb_pack(&ev->base, &buf, &len) != ACMS_OK)
        goto out;
    rd_kafka_headers_t *h = rd_kafka_headers_new(3);
    rd_kafka_header_add(h, "ce_type", -1, "acms.v1.ConfigSubmitted", -1);
    rd_kafka_header_add(h, "ce_id", -1, ev->meta->event_id, -1);
    rd_kafka_header_add(h, "content-type", -1, "application/protobuf", -1);
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC("acms.config.submitted"), RD_KAFKA_V_KEY(run_id, strlen(run_id)),
            RD_KAFKA_V_VALUE(buf, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
        if (!e) {
            buf = NULL;
            rc = 0;
            break;
        }
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            fprintf(stderr, "acms-bench-soak: produce: %s\n", rd_kafka_err2str(e));
            rd_kafka_headers_destroy(h);
            break;
        }
        rd_kafka_poll(rk, 50);
    }
out:
    free(buf);
    acms_arena_free(a);
    return rc;
}

int main(int argc, char **argv)
{
    const char *file = NULL, *env = "dev";
    size_t runs = 1000;
    double rate = 20;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--file"))
            file = argv[i + 1];
        else if (!strcmp(argv[i], "--env"))
            env = argv[i + 1];
        else if (!strcmp(argv[i], "--runs"))
            runs = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--rate"))
            rate = strtod(argv[i + 1], NULL);
    }
    const char *brokers = getenv("ACMS_KAFKA_BROKERS"), *url = getenv("ACMS_REDIS_URL");
    if (!file || rate <= 0 || !brokers || !url) {
        fprintf(stderr, "usage: acms-bench-soak --file PIPELINE --env NAME --runs N --rate R "
                        "(ACMS_KAFKA_BROKERS, ACMS_REDIS_URL set)\n");
        return 2;
    }
    acms_log_init("acms-bench-soak", "error");
    acms_arena *a = acms_arena_new(0);
    const Acms__V1__Value *doc = load(a, file);
    const char *pipeline = doc ? acms_value_str(acms_value_path(doc, "metadata.name")) : NULL;
    char err[256];
    acms_redis *r = doc ? acms_redis_new(url, NULL, err, sizeof err) : NULL;
    if (doc && !r)
        fprintf(stderr, "acms-bench-soak: Redis %s: %s\n", url, err);
    dr_state st = {0};
    rd_kafka_t *rk = r ? bench_producer(brokers, 5, dr_cb, &st) : NULL;
    if (!rk) {
        acms_redis_free(r);
        acms_arena_free(a);
        return 1;
    }
    int64_t t0 = bench_now_us();
    size_t sent = 0;
    while (sent < runs) {
        double due = (double)(bench_now_us() - t0) / 1e6 * rate;
        if ((double)sent >= due) {
            rd_kafka_poll(rk, 5);
            continue;
        }
        if (submit(rk, r, doc, env, file, pipeline ? pipeline : "?") != 0)
            break;
        if (++sent % 1000 == 0)
            fprintf(stderr, "acms-bench-soak: %zu/%zu runs submitted (%.0f s)\n", sent, runs,
                    (double)(bench_now_us() - t0) / 1e6);
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 120000);
    printf("{\"submitted\":%zu,\"acked\":%zu,\"failed\":%zu,\"seconds\":%.1f}\n", sent, st.acked, st.failed,
           (double)(bench_now_us() - t0) / 1e6);
    rd_kafka_destroy(rk);
    acms_redis_free(r);
    acms_arena_free(a);
    return st.acked == runs ? 0 : 1;
}
