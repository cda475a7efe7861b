/* topics.h: the topic spec (deploy/topics.yaml), parsed and checked. One entry per topic with its
 * partitions, replication, retention, cleanup policy, max.message.bytes and min.insync.replicas
 * (the defaults filled in). Invariants of a parsed spec: every value in range, no name twice,
 * max_message_bytes == ACMS_BUS_MAX_BYTES, min_insync_replicas <= replication. Applying it to a
 * cluster is acmsctl's (tools/acmsctl/topics.c); this module has no Kafka in sight. */
#ifndef ACMS_TOPICS_H
#define ACMS_TOPICS_H

#include <stddef.h>
#include <stdint.h>

#include "cfg.h"

#define ACMS_TOPICS_MAX 64

typedef struct acms_topic_spec {
    char name[128];
    int partitions;
    int replication;
    int min_insync_replicas;
    int64_t retention_ms;    /* -1 = forever */
    char cleanup_policy[32]; /* delete | compact | compact,delete */
    int64_t max_message_bytes;
    unsigned line; /* where the entry is in the file */
} acms_topic_spec;

typedef struct acms_topics {
    acms_topic_spec t[ACMS_TOPICS_MAX];
    size_t n;
} acms_topics;

/* Parses a spec file (YAML or JSON, kind: Topics). Returns ACMS_OK, or ACMS_ERR_INVALID with
 * errstr "PATH: line L: reason" (ACMS_ERR_NOTFOUND when the file cannot be read). */
int acms_topics_load(acms_topics *out, const char *path, char *errstr, size_t errstr_size);

/* Same from text (path only names it in errors). */
int acms_topics_parse(acms_topics *out, const char *text, size_t len, const char *path, char *errstr,
                      size_t errstr_size);

/* Overrides for a smaller cluster (0 = keep): every topic gets `partitions` and `replication`;
 * min_insync_replicas is lowered to the replication when above it. */
void acms_topics_override(acms_topics *ts, int partitions, int replication);

/* Renames the spec's default topic names to those configured (ACMS_TOPIC_<NAME>). */
void acms_topics_rename(acms_topics *ts, const acms_cfg *cfg);

/* The spec entry named name, or NULL. */
const acms_topic_spec *acms_topics_find(const acms_topics *ts, const char *name);

/* The broker-side configuration of t as name/value pairs (the same order every call): n pairs
 * written into names/values (values formatted into vbuf, at least 4 x 32 bytes). Returns n. */
size_t acms_topic_configs(const acms_topic_spec *t, const char *names[4], const char *values[4], char vbuf[4][32]);

#endif
