/* forward.c (acms-bench-forward): the null forwarder every bus figure is compared with. It runs the
 * services' own consume loop (common/kafka: at-least-once, offsets stored after the produced copy is
 * acknowledged, metrics counted) and produces each payload unchanged, with the same CloudEvents
 * headers a service adds, to another topic: consume -> produce, no decode, no Redis.
 *   acms-bench-forward --in TOPIC --out TOPIC [--ready-file PATH]
 * Configuration as for a service (ACMS_KAFKA_BROKERS, ACMS_GROUP_ID, ACMS_KAFKA_*). SIGTERM stops it
 * in order. --ready-file is written once partitions are assigned. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "kafka.h"
#include "log.h"

static volatile sig_atomic_t stop_requested;

typedef struct fwd {
    acms_kafka *k;
    const char *out;
    const char *ready_file;
    int ready_written;
} fwd;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int on_msg(void *ud, const acms_msg *m, const char **reason)
{
    fwd *f = ud;
    char key[256];
    size_t n = m->key_len < sizeof key - 1 ? m->key_len : sizeof key - 1;
    if (m->key)
        memcpy(key, m->key, n);
    key[n] = '\0';
    acms_kafka_hdrs h = {
        .ce_type = m->ce_type[0] ? m->ce_type : NULL,
        .traceparent = m->traceparent[0] ? m->traceparent : NULL,
        .time_ms = m->timestamp_ms,
    };
    (void)reason;
    return acms_kafka_produce(f->k, f->out, m->key ? key : NULL, m->payload, m->len, &h);
}

static int on_tick(void *ud)
{
    fwd *f = ud;
    if (f->ready_file && !f->ready_written && acms_kafka_assigned(f->k)) {
        FILE *fp = fopen(f->ready_file, "w");
        if (fp) {
            fputs("ready\n", fp);
            fclose(fp);
        }
        f->ready_written = 1;
    }
    return ACMS_OK;
}

int main(int argc, char **argv)
{
    fwd f = {0};
    const char *in = NULL;
    char err[512];
    acms_cfg cfg;
    int rc = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--in"))
            in = argv[i + 1];
        else if (!strcmp(argv[i], "--out"))
            f.out = argv[i + 1];
        else if (!strcmp(argv[i], "--ready-file"))
            f.ready_file = argv[i + 1];
    }
    if (!in || !f.out) {
        fprintf(stderr, "usage: acms-bench-forward --in TOPIC --out TOPIC [--ready-file PATH]\n");
        return 2;
    }
    if (acms_cfg_load(&cfg, "acms-bench-forward", err, sizeof err) != ACMS_OK) {
        fprintf(stderr, "acms-bench-forward: %s\n", err);
        return 2;
    }
    acms_log_init(cfg.service, cfg.log_level);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    acms_metrics *metrics = acms_metrics_new(cfg.service);
    f.k = acms_kafka_new(&cfg, cfg.group_id, metrics, err, sizeof err);
    if (!f.k) {
        fprintf(stderr, "acms-bench-forward: %s\n", err);
        goto out;
    }
    const char *topics[] = {in};
    if (acms_kafka_subscribe(f.k, topics, 1) != ACMS_OK)
        goto out;
    acms_kafka_loop loop = {
        .on_msg = on_msg,
        .on_tick = on_tick,
        .ud = &f,
        .tick_ms = 50,
        .batch_max = 500,
        .stop = &stop_requested,
    };
    rc = acms_kafka_run(f.k, &loop) == ACMS_OK ? 0 : 1;
out:
    acms_kafka_free(f.k);
    acms_metrics_free(metrics);
    return rc;
}
