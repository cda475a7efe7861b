/* kafka_fixture.h: librdkafka's mock cluster (the devbroker's engine) in the test's process, one
 * broker on a loopback port, for tests of the consume loop; a bus configuration for it; and a tick
 * that stops a loop at a deadline. Include after cmocka.h. static inline: unused helpers cost nothing. */
#ifndef ACMS_TEST_KAFKA_FIXTURE_H
#define ACMS_TEST_KAFKA_FIXTURE_H

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "kafka.h"

typedef struct fx_kafka {
    rd_kafka_t *host;              /* the client instance the mock cluster lives in */
    rd_kafka_mock_cluster_t *mc;
    const char *brokers;           /* its bootstrap address */
} fx_kafka;

static inline void fx_kafka_start(fx_kafka *f, const char *topic, int partitions)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err); /* the host client has no brokers */
    f->host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    assert_non_null(f->host);
    f->mc = rd_kafka_mock_cluster_new(f->host, 1);
    assert_non_null(f->mc);
    f->brokers = rd_kafka_mock_cluster_bootstraps(f->mc);
    assert_int_equal(rd_kafka_mock_topic_create(f->mc, topic, partitions, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
}

static inline void fx_kafka_stop(fx_kafka *f)
{
    rd_kafka_mock_cluster_destroy(f->mc);
    rd_kafka_destroy(f->host);
}

/* A bus configuration for the mock cluster (everything else at its default). */
static inline void fx_kafka_cfg(acms_cfg *c, const char *brokers, const char *instance)
{
    memset(c, 0, sizeof *c);
    snprintf(c->service, sizeof c->service, "test");
    snprintf(c->instance_id, sizeof c->instance_id, "%s", instance);
    snprintf(c->brokers, sizeof c->brokers, "%s", brokers);
    c->shutdown_timeout_ms = 3000;
}

/* First member of a loop's ud: fx_kafka_tick sets stop once deadline_ms (monotonic) has passed. */
typedef struct fx_stop {
    int64_t deadline_ms;
    volatile sig_atomic_t stop;
} fx_stop;

static inline int fx_kafka_tick(void *ud)
{
    fx_stop *s = ud;
    if (acms_mono_ms() > s->deadline_ms)
        s->stop = 1;
    return ACMS_OK;
}

#endif
