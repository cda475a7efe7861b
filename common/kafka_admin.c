/* kafka_admin.c: topic provisioning and the missing-topic check (kafka_admin.h). Each Admin API
 * request waits on its own queue for its one result event, bounded by the caller's timeout. */
#include "kafka_admin.h"

#include <stdlib.h>
#include <string.h>

#include "kafka_int.h"
#include "log.h"

/* What the cluster has of one topic (from metadata). */
typedef struct have {
    int exists;
    int partitions;
    int replication;
} have;

static int metadata(acms_kafka *k, int timeout_ms, const struct rd_kafka_metadata **md)
{
    rd_kafka_resp_err_t err = rd_kafka_metadata(k->producer, 1, NULL, md, timeout_ms);

    if (err) {
        acms_log_debug(NULL, NULL, "kafka: metadata: %s", rd_kafka_err2str(err));
        return ACMS_ERR_RETRY;
    }
    return ACMS_OK;
}

static have lookup(const struct rd_kafka_metadata *md, const char *name)
{
    have h = {0};

    for (int i = 0; i < md->topic_cnt; i++) {
        const rd_kafka_metadata_topic_t *t = &md->topics[i];
        if (strcmp(t->topic, name) || t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
            continue;
        h.exists = 1;
        h.partitions = t->partition_cnt;
        h.replication = t->partition_cnt > 0 ? t->partitions[0].replica_cnt : 0;
    }
    return h;
}

/* Waits for the result event of one admin request on q; NULL on timeout. */
static rd_kafka_event_t *await(rd_kafka_queue_t *q, int timeout_ms)
{
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 1000);

    if (ev && rd_kafka_event_error(ev)) {
        acms_log_warn(NULL, NULL, "kafka admin: %s", rd_kafka_event_error_string(ev));
    }
    return ev;
}

static rd_kafka_AdminOptions_t *options(acms_kafka *k, rd_kafka_admin_op_t op, int timeout_ms)
{
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(k->producer, op);
    char err[256];

    rd_kafka_AdminOptions_set_request_timeout(o, timeout_ms, err, sizeof err);
    if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_CREATEPARTITIONS)
        rd_kafka_AdminOptions_set_operation_timeout(o, timeout_ms, err, sizeof err);
    return o;
}

/* Creates t. ACMS_OK (also when another applier created it first), ACMS_ERR with the reason. */
static int create(acms_kafka *k, const acms_topic_spec *t, int timeout_ms, FILE *report)
{
    const char *names[4], *values[4];
    char vbuf[4][32], err[256];
    size_t n = acms_topic_configs(t, names, values, vbuf);
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(t->name, t->partitions, t->replication, err, sizeof err);
    rd_kafka_queue_t *q = rd_kafka_queue_new(k->producer);
    rd_kafka_AdminOptions_t *o = options(k, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout_ms);
    rd_kafka_event_t *ev = NULL;
    int rc = ACMS_ERR;

    if (!nt) {
        fprintf(report, "topic %s: FAILED: %s\n", t->name, err);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        rd_kafka_NewTopic_set_config(nt, names[i], values[i]);
    rd_kafka_CreateTopics(k->producer, &nt, 1, o, q);
    ev = await(q, timeout_ms);
    const rd_kafka_CreateTopics_result_t *res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
    size_t cnt = 0;
    const rd_kafka_topic_result_t **tr = res ? rd_kafka_CreateTopics_result_topics(res, &cnt) : NULL;
    rd_kafka_resp_err_t e = !ev   ? RD_KAFKA_RESP_ERR__TIMED_OUT
                            : cnt ? rd_kafka_topic_result_error(tr[0])
                                  : rd_kafka_event_error(ev);
    if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        fprintf(report, "topic %s: created meanwhile by another client\n", t->name);
        rc = ACMS_OK;
    } else if (!e) {
        fprintf(report, "topic %s: created (%d partitions, replication %d, max.message.bytes %lld)\n", t->name,
                t->partitions, t->replication, (long long)t->max_message_bytes);
        rc = ACMS_OK;
    } else {
        const char *why = cnt ? rd_kafka_topic_result_error_string(tr[0]) : NULL;
        fprintf(report, "topic %s: FAILED to create: %s%s%s\n", t->name, rd_kafka_err2name(e), why ? ": " : "",
                why ? why : "");
    }
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    if (nt)
        rd_kafka_NewTopic_destroy(nt);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    return rc;
}

/* Raises t's partition count to the spec's. */
static int add_partitions(acms_kafka *k, const acms_topic_spec *t, int from, int timeout_ms, FILE *report)
{
    char err[256];
    rd_kafka_NewPartitions_t *np = rd_kafka_NewPartitions_new(t->name, (size_t)t->partitions, err, sizeof err);
    rd_kafka_queue_t *q = rd_kafka_queue_new(k->producer);
    rd_kafka_AdminOptions_t *o = options(k, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS, timeout_ms);
    rd_kafka_event_t *ev;
    size_t cnt = 0;
    int rc = ACMS_ERR;

    rd_kafka_CreatePartitions(k->producer, &np, 1, o, q);
    ev = await(q, timeout_ms);
    const rd_kafka_CreatePartitions_result_t *res = ev ? rd_kafka_event_CreatePartitions_result(ev) : NULL;
    const rd_kafka_topic_result_t **tr = res ? rd_kafka_CreatePartitions_result_topics(res, &cnt) : NULL;
    rd_kafka_resp_err_t e = !ev   ? RD_KAFKA_RESP_ERR__TIMED_OUT
                            : cnt ? rd_kafka_topic_result_error(tr[0])
                                  : rd_kafka_event_error(ev);
    if (!e) {
        fprintf(report, "topic %s: partitions %d -> %d\n", t->name, from, t->partitions);
        rc = ACMS_OK;
    } else {
        fprintf(report, "topic %s: FAILED to add partitions (%d -> %d): %s\n", t->name, from, t->partitions,
                rd_kafka_err2name(e));
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_NewPartitions_destroy(np);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    return rc;
}

/* The differing keys of t as "k=v k=v" into diff; the result resource for AlterConfigs (our keys
 * plus the topic's other dynamic settings, which AlterConfigs would otherwise reset) into *alter.
 * Returns the number of differing keys, or -1 when the topic's configuration cannot be read. */
static int config_diff(acms_kafka *k, const acms_topic_spec *t, int timeout_ms, char *diff, size_t dsize,
                       rd_kafka_ConfigResource_t **alter)
{
    const char *names[4], *values[4];
    char vbuf[4][32];
    size_t n = acms_topic_configs(t, names, values, vbuf), cnt = 0, nent = 0, used = 0;
    rd_kafka_ConfigResource_t *cr = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, t->name);
    rd_kafka_queue_t *q = rd_kafka_queue_new(k->producer);
    rd_kafka_AdminOptions_t *o = options(k, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout_ms);
    rd_kafka_event_t *ev;
    int ndiff = -1;

    rd_kafka_DescribeConfigs(k->producer, &cr, 1, o, q);
    ev = await(q, timeout_ms);
    const rd_kafka_DescribeConfigs_result_t *res = ev ? rd_kafka_event_DescribeConfigs_result(ev) : NULL;
    const rd_kafka_ConfigResource_t **rs = res ? rd_kafka_DescribeConfigs_result_resources(res, &cnt) : NULL;
    if (!cnt || rd_kafka_ConfigResource_error(rs[0]))
        goto out;
    const rd_kafka_ConfigEntry_t **ents = rd_kafka_ConfigResource_configs(rs[0], &nent);
    *alter = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, t->name);
    ndiff = 0;
    diff[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *cur = NULL;
        for (size_t j = 0; j < nent; j++)
            if (!strcmp(rd_kafka_ConfigEntry_name(ents[j]), names[i]))
                cur = rd_kafka_ConfigEntry_value(ents[j]);
        rd_kafka_ConfigResource_set_config(*alter, names[i], values[i]);
        if (cur && !strcmp(cur, values[i]))
            continue;
        ndiff++;
        int w = snprintf(diff + used, dsize - used, "%s%s=%s (was %s)", used ? ", " : "", names[i], values[i],
                         cur ? cur : "unset");
        if (w > 0 && (size_t)w < dsize - used)
            used += (size_t)w;
    }
    for (size_t j = 0; j < nent; j++) { /* keep the topic's other dynamic settings */
        const char *name = rd_kafka_ConfigEntry_name(ents[j]);
        size_t i;
        for (i = 0; i < n && strcmp(name, names[i]); i++)
            ;
        if (i == n && rd_kafka_ConfigEntry_source(ents[j]) == RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG &&
            rd_kafka_ConfigEntry_value(ents[j]))
            rd_kafka_ConfigResource_set_config(*alter, name, rd_kafka_ConfigEntry_value(ents[j]));
    }
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_ConfigResource_destroy(cr);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    return ndiff;
}

static int alter(acms_kafka *k, rd_kafka_ConfigResource_t *cr, int timeout_ms)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(k->producer);
    rd_kafka_AdminOptions_t *o = options(k, RD_KAFKA_ADMIN_OP_ALTERCONFIGS, timeout_ms);
    rd_kafka_event_t *ev;
    size_t cnt = 0;
    rd_kafka_resp_err_t e;

    rd_kafka_AlterConfigs(k->producer, &cr, 1, o, q);
    ev = await(q, timeout_ms);
    const rd_kafka_AlterConfigs_result_t *res = ev ? rd_kafka_event_AlterConfigs_result(ev) : NULL;
    const rd_kafka_ConfigResource_t **rs = res ? rd_kafka_AlterConfigs_result_resources(res, &cnt) : NULL;
    e = !ev ? RD_KAFKA_RESP_ERR__TIMED_OUT : cnt ? rd_kafka_ConfigResource_error(rs[0]) : rd_kafka_event_error(ev);
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    return (int)e;
}

/* An existing topic: partitions, replication and configuration against the spec. */
static int reconcile(acms_kafka *k, const acms_topic_spec *t, have h, int dry_run, int timeout_ms, FILE *report)
{
    rd_kafka_ConfigResource_t *cr = NULL;
    char diff[512];
    int rc = ACMS_OK, nd, e;

    if (h.replication != t->replication)
        fprintf(report, "topic %s: replication is %d, the spec says %d: not changed (reassign partitions by hand)\n",
                t->name, h.replication, t->replication);
    if (h.partitions > t->partitions)
        fprintf(report, "topic %s: %d partitions, the spec says %d: partitions are never removed\n", t->name,
                h.partitions, t->partitions);
    else if (h.partitions < t->partitions)
        rc = dry_run
                 ? (fprintf(report, "topic %s: would add partitions %d -> %d\n", t->name, h.partitions, t->partitions),
                    ACMS_OK)
                 : add_partitions(k, t, h.partitions, timeout_ms, report);
    nd = config_diff(k, t, timeout_ms, diff, sizeof diff, &cr);
    if (nd < 0) {
        fprintf(report, "topic %s: FAILED to read its configuration\n", t->name);
        rc = ACMS_ERR;
    } else if (nd == 0) {
        if (h.partitions >= t->partitions)
            fprintf(report, "topic %s: unchanged\n", t->name);
    } else if (dry_run) {
        fprintf(report, "topic %s: would set %s\n", t->name, diff);
    } else if ((e = alter(k, cr, timeout_ms)) != 0) {
        fprintf(report, "topic %s: FAILED to set %s: %s\n", t->name, diff, rd_kafka_err2name((rd_kafka_resp_err_t)e));
        rc = ACMS_ERR;
    } else {
        fprintf(report, "topic %s: set %s\n", t->name, diff);
    }
    if (cr)
        rd_kafka_ConfigResource_destroy(cr);
    return rc;
}

/* Non-zero when metadata lists every topic of ts with a leader for each of its partitions. */
static int all_led(const struct rd_kafka_metadata *md, const acms_topics *ts)
{
    for (size_t i = 0; i < ts->n; i++) {
        int found = 0;
        for (int j = 0; j < md->topic_cnt && !found; j++) {
            const rd_kafka_metadata_topic_t *t = &md->topics[j];
            if (strcmp(t->topic, ts->t[i].name) || t->err)
                continue;
            found = t->partition_cnt >= ts->t[i].partitions;
            for (int p = 0; p < t->partition_cnt && found; p++)
                found = t->partitions[p].leader >= 0 && !t->partitions[p].err;
        }
        if (!found)
            return 0;
    }
    return 1;
}

/* After changes: until the cluster's metadata shows them (created topics with their leaders), so
 * that a service started next finds its topics. ACMS_OK or ACMS_ERR_RETRY after timeout_ms. */
static int await_topics(acms_kafka *k, const acms_topics *ts, int timeout_ms)
{
    int64_t until = acms_mono_ms() + timeout_ms;

    for (;;) {
        const struct rd_kafka_metadata *md = NULL;
        int ok = metadata(k, 2000, &md) == ACMS_OK && all_led(md, ts);
        if (md)
            rd_kafka_metadata_destroy(md);
        if (ok)
            return ACMS_OK;
        if (acms_mono_ms() >= until)
            return ACMS_ERR_RETRY;
        rd_kafka_poll(k->producer, 100);
    }
}

int acms_kafka_topics_apply(acms_kafka *k, const acms_topics *ts, int dry_run, int timeout_ms, FILE *report)
{
    const struct rd_kafka_metadata *md = NULL;
    int rc = ACMS_OK;

    if (!k || !ts)
        return ACMS_ERR;
    if (metadata(k, timeout_ms, &md) != ACMS_OK)
        return ACMS_ERR_RETRY;
    for (size_t i = 0; i < ts->n; i++) {
        const acms_topic_spec *t = &ts->t[i];
        have h = lookup(md, t->name);
        int r;

        if (h.exists)
            r = reconcile(k, t, h, dry_run, timeout_ms, report);
        else if (t->replication > md->broker_cnt)
            r = (fprintf(report,
                         "topic %s: FAILED: replication %d but the cluster has %d broker(s) "
                         "(--replication N for a smaller cluster)\n",
                         t->name, t->replication, md->broker_cnt),
                 ACMS_ERR);
        else if (dry_run)
            r = (fprintf(report, "topic %s: would create (%d partitions, replication %d)\n", t->name, t->partitions,
                         t->replication),
                 ACMS_OK);
        else
            r = create(k, t, timeout_ms, report);
        if (r != ACMS_OK)
            rc = ACMS_ERR;
    }
    rd_kafka_metadata_destroy(md);
    if (rc == ACMS_OK && !dry_run && await_topics(k, ts, timeout_ms) != ACMS_OK) {
        fprintf(report, "topics: applied, but the cluster's metadata did not show them all within %d ms\n", timeout_ms);
        rc = ACMS_ERR;
    }
    return rc;
}

int acms_kafka_topics_missing(acms_kafka *k, const char *const *topics, size_t n, int timeout_ms, char *missing,
                              size_t missing_size)
{
    const struct rd_kafka_metadata *md = NULL;
    size_t used = 0;

    missing[0] = '\0';
    if (!k || metadata(k, timeout_ms, &md) != ACMS_OK)
        return ACMS_ERR_RETRY;
    for (size_t i = 0; i < n; i++) {
        if (lookup(md, topics[i]).exists)
            continue;
        int w = snprintf(missing + used, missing_size - used, "%s%s", used ? "," : "", topics[i]);
        if (w < 0 || (size_t)w >= missing_size - used)
            break;
        used += (size_t)w;
    }
    rd_kafka_metadata_destroy(md);
    return ACMS_OK;
}
