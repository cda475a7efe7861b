/* kafka_admin.h: topics on the cluster, through librdkafka's Admin API on a handle's producer.
 * acms_kafka_topics_apply makes the cluster match a topic spec (topics.h) idempotently: missing
 * topics are created with their configuration, too few partitions are added, configuration values
 * that differ are altered (other dynamic settings of the topic are kept); nothing is ever deleted
 * or shrunk (a topic with more partitions or another replication is reported, not changed).
 * acms_kafka_topics_missing is the readiness check of a service. Owner thread only. */
#ifndef ACMS_KAFKA_ADMIN_H
#define ACMS_KAFKA_ADMIN_H

#include <stdio.h>

#include "kafka.h"
#include "topics.h"

/* Applies ts; one line per topic on report (created / updated / unchanged / why it failed).
 * dry_run: report what would change, change nothing. Returns ACMS_OK, ACMS_ERR (a topic could not
 * be made to match: replication above the broker count, not authorized, ...; the others are still
 * applied) or ACMS_ERR_RETRY (the cluster did not answer within timeout_ms). */
int acms_kafka_topics_apply(acms_kafka *k, const acms_topics *ts, int dry_run, int timeout_ms, FILE *report);

/* Which of topics[0..n) the cluster's metadata does not list: their names, comma-separated, into
 * missing (empty when all exist). Returns ACMS_OK (the answer is in missing) or ACMS_ERR_RETRY
 * (no metadata within timeout_ms). */
int acms_kafka_topics_missing(acms_kafka *k, const char *const *topics, size_t n, int timeout_ms, char *missing,
                              size_t missing_size);

#endif
