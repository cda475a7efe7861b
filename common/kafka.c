/* kafka.c: the bus handle: an idempotent producer whose transiently failed deliveries are kept and
 * re-queued (so a flush reports OK only when every queued message was acknowledged), an optional
 * group consumer, dead letters and health checks. The consume loop itself is in kafka_loop.c, the
 * configuration in kafka_conf.c. Invariant: a message handed to acms_kafka_produce is either
 * acknowledged, queued, held in k->failed for the next flush, or refused for good by the bus
 * (acms_kafka_permanent_error: then dead-lettered, logged and counted, never retried); it is never
 * silently dropped while the handle lives. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "http.h"
#include "kafka_int.h"
#include "log.h"
#include "pb.h"

#define DL_PAYLOAD_MAX (64 * 1024)
#define PRODUCE_FULL_WAITS 50 /* x 100 ms of waiting for queue space */

static const char H_OUT[] = "Events produced and acknowledged by the broker, per topic.";
static const char H_FAILED[] = "Events that failed: deliveries re-queued, handler retries, per topic.";
static const char H_DL[] = "Events dead-lettered, per origin topic.";
static const char H_IN[] = "Events consumed, per topic."; /* the same text as in kafka_loop.c */

void acms_kafka__count(acms_kafka *k, const char *name, const char *help, const char *topic, double v)
{
    char labels[300];

    if (!k->metrics)
        return;
    if (snprintf(labels, sizeof labels, "topic=\"%s\"", topic ? topic : "") >= (int)sizeof labels)
        return;
    acms_metrics_add(k->metrics, name, labels, help, v);
}

/* --- librdkafka callbacks (log/error may run on internal threads; dr on the polling thread) --- */

/* Runs on librdkafka threads. Connection failures ("FAIL") also reach error_cb: logged there.
 * Notices are the library's own chatter (coordinator changes, ...): debug. Auto-commit failures
 * repeat for every timer tick during a rebalance or an outage: one line per 5 s. */
void acms_kafka__log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    acms_kafka *k = rd_kafka_opaque(rk);

    if (level <= 2) {
        acms_log_error(NULL, NULL, "kafka %s: %s", fac, buf);
    } else if (level <= 4 && strcmp(fac, "FAIL") != 0) {
        if (k && !strcmp(fac, "COMMITFAIL")) {
            long long now = acms_mono_ms(), last = atomic_load(&k->last_commitfail_ms);

            if (now - last < 5000 || !atomic_compare_exchange_strong(&k->last_commitfail_ms, &last, now)) {
                acms_log_debug(NULL, NULL, "kafka %s: %s", fac, buf);
                return;
            }
        }
        acms_log_warn(NULL, NULL, "kafka %s: %s", fac, buf);
    } else {
        acms_log_debug(NULL, NULL, "kafka %s: %s", fac, buf);
    }
}

void acms_kafka__error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    acms_kafka *k = opaque;
    char fatal[512];

    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, fatal, sizeof fatal);
        atomic_store(&k->fatal, 1);
        acms_log_error(NULL, NULL, "kafka fatal error %s: %s", rd_kafka_err2name(orig), fatal);
        return;
    }
    /* Broker connection errors are transient: the client reconnects by itself. */
    acms_log_warn(NULL, NULL, "kafka error %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static void failed_free(acms_kafka_failed *f)
{
    if (!f)
        return;
    if (f->hdrs)
        rd_kafka_headers_destroy(f->hdrs);
    free(f->topic);
    free(f->key);
    free(f->payload);
    free(f);
}

int acms_kafka_permanent_error(int err)
{
    switch ((rd_kafka_resp_err_t)err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT: return 1;
    default: return 0;
    }
}

/* A produce the broker or the client refuses for good: never retried. The message goes to the
 * dead-letter topic (as a DeadLetter whose origin is the refused topic, offset -1) unless it was
 * itself a dead letter; an error is logged and acms_delivery_refused_total{topic,error} counted. */
static void refuse(acms_kafka *k, const char *topic, const void *key, size_t key_len, const void *payload, size_t len,
                   rd_kafka_resp_err_t err)
{
    const char *dl = acms_cfg_topic(&k->cfg, ACMS_TOPIC_DEADLETTER);
    char labels[400], reason[300];
    acms_msg m = {
        .topic = topic, .partition = -1, .offset = -1, .key = key, .key_len = key_len, .payload = payload, .len = len};

    acms_log_error(NULL, NULL, "kafka: %s refused a %zu-byte event for good (%s: %s): %s", topic, len,
                   rd_kafka_err2name(err), rd_kafka_err2str(err),
                   !strcmp(topic, dl) ? "dropped (it was a dead letter)" : "dead-lettered, not retried");
    if (k->metrics && snprintf(labels, sizeof labels, "topic=\"%s\",error=\"%s\"", topic, rd_kafka_err2name(err)) <
                          (int)sizeof labels)
        acms_metrics_add(k->metrics, "acms_delivery_refused_total", labels,
                         "Produced events refused for good by the bus (never retried), per topic and error", 1);
    if (!strcmp(topic, dl))
        return;
    snprintf(reason, sizeof reason, "delivery to %s refused: %s (limit %d bytes, event %zu bytes)", topic,
             rd_kafka_err2name(err), ACMS_BUS_MAX_BYTES, len);
    acms_kafka_deadletter(k, &m, reason);
}

/* Delivery report: successes are counted, permanent failures refused (dead-lettered), transient
 * ones copied to k->failed for the next flush. */
void acms_kafka__dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    acms_kafka *k = opaque;
    const char *topic = rd_kafka_topic_name(m->rkt);
    acms_kafka_failed *f;
    rd_kafka_headers_t *hdrs = NULL;

    (void)rk;
    if (!m->err) {
        acms_kafka__count(k, "acms_events_out_total", H_OUT, topic, 1);
        return;
    }
    if (acms_kafka_permanent_error(m->err)) {
        acms_kafka__count(k, "acms_events_failed_total", H_FAILED, topic, 1);
        refuse(k, topic, m->key, m->key_len, m->payload, m->len, m->err);
        return;
    }
    acms_kafka__count(k, "acms_events_failed_total", H_FAILED, topic, 1);
    acms_log_warn(NULL, NULL, "delivery to %s failed (%s): will be re-queued", topic, rd_kafka_err2str(m->err));
    f = calloc(1, sizeof *f);
    if (!f)
        goto oom;
    f->topic = strdup(topic);
    f->key_len = m->key_len;
    f->len = m->len;
    f->key = m->key_len ? malloc(m->key_len) : NULL;
    f->payload = malloc(m->len ? m->len : 1);
    if (!f->topic || (m->key_len && !f->key) || !f->payload)
        goto oom;
    if (m->key_len)
        memcpy(f->key, m->key, m->key_len);
    if (m->len)
        memcpy(f->payload, m->payload, m->len);
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR && hdrs)
        f->hdrs = rd_kafka_headers_copy(hdrs);
    *k->failed_tail = f;
    k->failed_tail = &f->next;
    k->nfailed++;
    return;
oom:
    /* Out of memory is fatal by the project's rules (arena.h): do not lose the message quietly. */
    failed_free(f);
    acms_log_error(NULL, NULL, "out of memory keeping a failed delivery to %s", topic);
    abort();
}

acms_kafka *acms_kafka_new(const acms_cfg *cfg, const char *group_id, acms_metrics *metrics, char *errstr,
                           size_t errstr_size)
{
    acms_kafka *k = NULL;
    rd_kafka_conf_t *base = NULL, *conf = NULL;
    char err[512];

    if (!cfg || !cfg->brokers[0]) {
        snprintf(errstr, errstr_size, "kafka: no brokers configured (ACMS_KAFKA_BROKERS)");
        return NULL;
    }
    k = calloc(1, sizeof *k);
    if (!k) {
        snprintf(errstr, errstr_size, "kafka: out of memory");
        return NULL;
    }
    k->cfg = *cfg;
    k->metrics = metrics;
    k->failed_tail = &k->failed;
    atomic_init(&k->assigned, 0);
    atomic_init(&k->fatal, 0);
    atomic_init(&k->last_commitfail_ms, 0);

    base = acms_kafka__base_conf(k, errstr, errstr_size);
    if (!base)
        goto fail;
    conf = rd_kafka_conf_dup(base);
    if (acms_kafka__producer_conf(k, conf, errstr, errstr_size))
        goto fail;
    k->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!k->producer) {
        snprintf(errstr, errstr_size, "kafka: producer: %s", err);
        goto fail;
    }
    conf = NULL; /* owned by the producer now */

    if (group_id && group_id[0]) {
        conf = rd_kafka_conf_dup(base);
        if (acms_kafka__consumer_conf(k, conf, group_id, errstr, errstr_size))
            goto fail;
        k->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
        if (!k->consumer) {
            snprintf(errstr, errstr_size, "kafka: consumer: %s", err);
            goto fail;
        }
        conf = NULL;
        rd_kafka_poll_set_consumer(k->consumer);
        k->pending = rd_kafka_topic_partition_list_new(16);
    }
    rd_kafka_conf_destroy(base);
    if (k->consumer)
        acms_log_info(NULL, NULL, "kafka: producer and consumer (group %s), brokers %s", group_id, cfg->brokers);
    else
        acms_log_info(NULL, NULL, "kafka: producer, brokers %s", cfg->brokers);
    return k;

fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    if (base)
        rd_kafka_conf_destroy(base);
    if (k->consumer)
        rd_kafka_destroy(k->consumer);
    if (k->producer)
        rd_kafka_destroy(k->producer);
    free(k);
    return NULL;
}

/* --- shutdown deadline ---------------------------------------------------------------------- */

static int shutdown_timeout(const acms_kafka *k)
{
    return k->cfg.shutdown_timeout_ms > 0 ? k->cfg.shutdown_timeout_ms : 10000;
}

int acms_kafka__budget_ms(const acms_kafka *k)
{
    int full = shutdown_timeout(k);
    int64_t left;

    if (!k->deadline_ms)
        return full;
    left = k->deadline_ms - acms_clock_mono(k->clock);
    return left <= 0 ? 0 : left < full ? (int)left : full;
}

int64_t acms_kafka_start_deadline(acms_kafka *k)
{
    if (!k)
        return 0;
    if (!k->deadline_ms)
        k->deadline_ms = acms_clock_mono(k->clock) + shutdown_timeout(k);
    return k->deadline_ms;
}

int64_t acms_kafka_deadline(const acms_kafka *k)
{
    return k ? k->deadline_ms : 0;
}

void acms_kafka_set_clock(acms_kafka *k, const acms_clock *clock)
{
    if (k)
        k->clock = clock;
}

void acms_kafka_free(acms_kafka *k)
{
    rd_kafka_resp_err_t err;
    acms_kafka_failed *f, *next;

    if (!k)
        return;
    acms_kafka_start_deadline(k); /* every wait below shares what is left of it */
    if (k->consumer) {
        if (k->pending && k->pending->cnt) {
            if (acms_kafka_flush(k, acms_kafka__budget_ms(k)) == ACMS_OK)
                acms_kafka__pending_store(k);
            else
                acms_log_warn(NULL, NULL, "kafka: output not acknowledged, last offsets left uncommitted");
        }
        err = rd_kafka_commit(k->consumer, NULL, 0);
        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
            acms_log_warn(NULL, NULL, "kafka: final commit: %s", rd_kafka_err2str(err));
        /* Leaving the group revokes: the rebalance callback flushes and commits once more. */
        err = rd_kafka_consumer_close(k->consumer);
        if (err)
            acms_log_warn(NULL, NULL, "kafka: consumer close: %s", rd_kafka_err2str(err));
        rd_kafka_destroy(k->consumer);
        k->consumer = NULL;
    }
    if (k->producer) {
        if (acms_kafka_flush(k, acms_kafka__budget_ms(k)) != ACMS_OK || k->nfailed)
            acms_log_error(NULL, NULL, "kafka: %d message(s) not acknowledged at shutdown",
                           rd_kafka_outq_len(k->producer) + (int)k->nfailed);
        rd_kafka_destroy(k->producer);
    }
    for (f = k->failed; f; f = next) {
        next = f->next;
        failed_free(f);
    }
    if (k->pending)
        rd_kafka_topic_partition_list_destroy(k->pending);
    if (k->committed)
        rd_kafka_topic_partition_list_destroy(k->committed);
    free(k);
}

int64_t acms_kafka_fetch_nudges(const acms_kafka *k)
{
    return k ? atomic_load(&((acms_kafka *)k)->nudges) : 0;
}

int acms_kafka_subscribe(acms_kafka *k, const char *const *topics, size_t ntopics)
{
    rd_kafka_topic_partition_list_t *list;
    rd_kafka_resp_err_t err;
    size_t i;

    if (!k->consumer || ntopics == 0)
        return ACMS_ERR;
    list = rd_kafka_topic_partition_list_new((int)ntopics);
    for (i = 0; i < ntopics; i++)
        rd_kafka_topic_partition_list_add(list, topics[i], RD_KAFKA_PARTITION_UA);
    err = rd_kafka_subscribe(k->consumer, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err) {
        acms_log_error(NULL, NULL, "kafka: subscribe: %s", rd_kafka_err2str(err));
        return ACMS_ERR;
    }
    for (i = 0; i < ntopics; i++) {
        /* the input counters exist from the start (0), so rate() and alerts see their first event */
        acms_kafka__count(k, "acms_events_in_total", H_IN, topics[i], 0);
        acms_kafka__count(k, "acms_events_failed_total", H_FAILED, topics[i], 0);
        acms_kafka__count(k, "acms_deadletters_total", H_DL, topics[i], 0);
        char labels[300];
        if (k->metrics && snprintf(labels, sizeof labels, "topic=\"%s\"", topics[i]) < (int)sizeof labels)
            acms_metrics_set(k->metrics, "acms_consumer_lag", labels,
                             "Consumer lag (high watermark - position) over assigned partitions, per topic.", 0);
        if (k->nsubscribed < (int)(sizeof k->subscribed / sizeof *k->subscribed))
            snprintf(k->subscribed[k->nsubscribed++], sizeof *k->subscribed, "%s", topics[i]);
        acms_log_info(NULL, NULL, "kafka: subscribed to %s", topics[i]);
    }
    return ACMS_OK;
}

int64_t acms_kafka_queued(acms_kafka *k)
{
    rd_kafka_queue_t *q;
    int64_t n;

    if (!k || !k->consumer || !(q = rd_kafka_queue_get_consumer(k->consumer)))
        return 0;
    n = (int64_t)rd_kafka_queue_length(q);
    rd_kafka_queue_destroy(q);
    return n;
}

int acms_kafka_assigned(const acms_kafka *k)
{
    return k && atomic_load(&((acms_kafka *)k)->assigned);
}

/* --- producing ---------------------------------------------------------------------------- */

static void rfc3339(int64_t ms, char *buf, size_t size)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    char base[32];

    if (!gmtime_r(&s, &tm) || !strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm)) {
        snprintf(buf, size, "1970-01-01T00:00:00.000Z");
        return;
    }
    snprintf(buf, size, "%s.%03dZ", base, (int)(ms % 1000));
}

static rd_kafka_headers_t *build_headers(acms_kafka *k, const acms_kafka_hdrs *h)
{
    rd_kafka_headers_t *hd = rd_kafka_headers_new(8);
    char id[ACMS_ID_LEN], when[40], source[320];
    int64_t ms = h && h->time_ms > 0 ? h->time_ms : acms_now_ms();

    rd_kafka_header_add(hd, "ce_specversion", -1, "1.0", -1);
    if (h && h->ce_id && h->ce_id[0]) {
        rd_kafka_header_add(hd, "ce_id", -1, h->ce_id, -1);
    } else {
        acms_id_random(id);
        rd_kafka_header_add(hd, "ce_id", -1, id, -1);
    }
    if (h && h->ce_type && h->ce_type[0])
        rd_kafka_header_add(hd, "ce_type", -1, h->ce_type, -1);
    if (h && h->ce_source && h->ce_source[0]) {
        rd_kafka_header_add(hd, "ce_source", -1, h->ce_source, -1);
    } else if (snprintf(source, sizeof source, "/acms/%s/%s", k->cfg.service, k->cfg.instance_id) <
               (int)sizeof source) {
        rd_kafka_header_add(hd, "ce_source", -1, source, -1);
    }
    rfc3339(ms, when, sizeof when);
    rd_kafka_header_add(hd, "ce_time", -1, when, -1);
    rd_kafka_header_add(hd, "content-type", -1, "application/protobuf", -1);
    if (h && h->traceparent && h->traceparent[0])
        rd_kafka_header_add(hd, "traceparent", -1, h->traceparent, -1);
    if (h && h->claim && h->claim[0]) {
        char size[24];
        snprintf(size, sizeof size, "%zu", h->claim_size);
        rd_kafka_header_add(hd, "acms_claim", -1, h->claim, -1);
        rd_kafka_header_add(hd, "acms_claim_size", -1, size, -1);
    }
    return hd;
}

/* Queues one message; takes ownership of hdrs (destroyed on failure). */
static int produce_raw(acms_kafka *k, const char *topic, const void *key, size_t key_len, const void *payload,
                       size_t len, rd_kafka_headers_t *hdrs)
{
    rd_kafka_resp_err_t err;
    int waits = 0;
    /* The handle, not RD_KAFKA_V_TOPIC: librdkafka < 2.10.1 asks for a topic's leader only when
     * rd_kafka_topic_new() makes it; producev's own lookup leaves a topic the client has never seen
     * unknown until the next topic scan (every second). A process that connected before its first
     * produce (acmsctl on a busy machine) then waited up to a second for its event to leave. */
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(k->producer, topic, NULL);

    if (!hdrs)
        hdrs = rd_kafka_headers_new(0);
    for (;;) {
        err = rkt ? rd_kafka_producev(k->producer, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                      RD_KAFKA_V_KEY((void *)key, key_len), RD_KAFKA_V_VALUE((void *)payload, len),
                                      RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END)
                  : rd_kafka_last_error();
        if (!err) {
            rd_kafka_topic_destroy(rkt);
            return ACMS_OK;
        }
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || waits++ >= PRODUCE_FULL_WAITS)
            break;
        rd_kafka_poll(k->producer, 100); /* serve delivery reports to make room */
    }
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    rd_kafka_headers_destroy(hdrs);
    if (acms_kafka_permanent_error(err)) { /* e.g. larger than message.max.bytes: refused here */
        acms_kafka__count(k, "acms_events_failed_total", H_FAILED, topic, 1);
        refuse(k, topic, key, key_len, payload, len, err);
        return ACMS_ERR_LIMIT;
    }
    acms_log_error(NULL, NULL, "kafka: produce to %s: %s", topic, rd_kafka_err2str(err));
    return err == RD_KAFKA_RESP_ERR__QUEUE_FULL ? ACMS_ERR_RETRY : ACMS_ERR;
}

int acms_kafka_produce(acms_kafka *k, const char *topic, const char *key, const void *payload, size_t len,
                       const acms_kafka_hdrs *hdrs)
{
    if (!k || !topic)
        return ACMS_ERR;
    return produce_raw(k, topic, key, key ? strlen(key) : 0, payload, len, build_headers(k, hdrs));
}

/* Produces every failed delivery again. Those that cannot even be queued stay in the list. */
static void requeue_failed(acms_kafka *k)
{
    acms_kafka_failed *f = k->failed, *keep = NULL, **keep_tail = &keep;
    size_t nkeep = 0;

    k->failed = NULL;
    k->failed_tail = &k->failed;
    k->nfailed = 0;
    while (f) {
        acms_kafka_failed *next = f->next;
        rd_kafka_headers_t *h = f->hdrs ? rd_kafka_headers_copy(f->hdrs) : NULL;

        if (produce_raw(k, f->topic, f->key, f->key_len, f->payload, f->len, h) == ACMS_OK) {
            failed_free(f);
        } else {
            f->next = NULL;
            *keep_tail = f;
            keep_tail = &f->next;
            nkeep++;
        }
        f = next;
    }
    /* Failures reported while re-queueing (k->failed) go after the ones kept here. */
    if (keep) {
        *keep_tail = k->failed;
        if (!k->failed)
            k->failed_tail = keep_tail;
        k->failed = keep;
        k->nfailed += nkeep;
    }
}

int acms_kafka_flush(acms_kafka *k, int timeout_ms)
{
    rd_kafka_resp_err_t err;
    int rc = ACMS_OK;

    if (!k || !k->producer)
        return ACMS_ERR;
    err = rd_kafka_flush(k->producer, timeout_ms > 0 ? timeout_ms : 0);
    if (err == RD_KAFKA_RESP_ERR__TIMED_OUT) {
        acms_log_warn(NULL, NULL, "kafka: flush timed out after %d ms, %d message(s) in flight", timeout_ms,
                      rd_kafka_outq_len(k->producer));
        rc = ACMS_ERR_RETRY;
    }
    if (k->failed) {
        acms_log_warn(NULL, NULL, "kafka: re-queueing %zu failed deliveries", k->nfailed);
        requeue_failed(k);
        rc = ACMS_ERR_RETRY;
    }
    return rc;
}

int acms_kafka_settle(acms_kafka *k, int timeout_ms)
{
    if (!k || !k->producer)
        return ACMS_ERR;
    if (acms_kafka_flush(k, timeout_ms) == ACMS_OK && !k->failed)
        return ACMS_OK;
    /* What was never sent is taken back (its delivery report lands in k->failed); what is in flight
     * is waited for, its acknowledgement deciding; only then are the stragglers purged too. */
    rd_kafka_purge(k->producer, RD_KAFKA_PURGE_F_QUEUE);
    rd_kafka_flush(k->producer, timeout_ms);
    if (rd_kafka_outq_len(k->producer) > 0) {
        rd_kafka_purge(k->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(k->producer, 1000);
    }
    if (!k->failed && rd_kafka_outq_len(k->producer) == 0)
        return ACMS_OK;
    /* the caller reports the failure: nothing of it may be delivered later (acms_kafka_free
     * would re-queue k->failed) */
    acms_log_warn(NULL, NULL, "kafka: %zu message(s) not acknowledged: dropped, the caller reports it", k->nfailed);
    for (acms_kafka_failed *f = k->failed, *next; f; f = next) {
        next = f->next;
        failed_free(f);
    }
    k->failed = NULL;
    k->failed_tail = &k->failed;
    k->nfailed = 0;
    return ACMS_ERR_RETRY;
}

/* --- dead letters ------------------------------------------------------------------------- */

static int printable(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || n > 255)
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

int acms_kafka_deadletter(acms_kafka *k, const acms_msg *m, const char *reason)
{
    static const char hex[] = "0123456789abcdef";
    acms_arena *a;
    Acms__V1__DeadLetter *dl;
    acms_kafka_hdrs h = {0};
    const char *run_id = "";
    const char *topic;
    const char *dl_topic;
    uint8_t *buf = NULL;
    size_t blen = 0, i;
    int rc;

    if (!k || !m)
        return ACMS_ERR;
    topic = m->topic ? m->topic : "";
    a = acms_arena_new(0);
    if (m->key && printable(m->key, m->key_len)) {
        run_id = acms_arena_strndup(a, m->key, m->key_len);
    }
    dl = acms_pb_new(a, &acms__v1__dead_letter__descriptor);
    dl->meta = acms_meta_new(a, run_id, k->cfg.service, NULL, NULL, m->traceparent[0] ? m->traceparent : NULL);
    dl->origin_topic = acms_arena_strdup(a, topic);
    dl->origin_partition = m->partition;
    dl->origin_offset = m->offset;
    dl->reason = acms_arena_strdup(a, reason && reason[0] ? reason : "unspecified");
    dl->service = acms_arena_strdup(a, k->cfg.service);
    dl->payload.data = (uint8_t *)m->payload;
    dl->payload.len = m->payload ? (m->len < DL_PAYLOAD_MAX ? m->len : DL_PAYLOAD_MAX) : 0;
    dl->payload_size = m->len;
    if (run_id[0]) {
        dl->key = (char *)run_id;
    } else if (m->key && m->key_len) {
        size_t n = m->key_len < 128 ? m->key_len : 128; /* a binary key, shown as hex */
        char *x = acms_arena_alloc(a, 4 + 2 * n + 1);

        memcpy(x, "hex:", 4);
        for (i = 0; i < n; i++) {
            x[4 + 2 * i] = hex[(unsigned char)m->key[i] >> 4];
            x[5 + 2 * i] = hex[(unsigned char)m->key[i] & 15];
        }
        dl->key = x;
    }
    if (acms_pb_pack(&dl->base, &buf, &blen) != ACMS_OK) {
        rc = ACMS_ERR_RETRY;
        goto out;
    }
    h.ce_id = dl->meta->event_id;
    h.ce_type = "acms.v1.DeadLetter";
    h.traceparent = m->traceparent[0] ? m->traceparent : NULL;
    dl_topic = acms_cfg_topic(&k->cfg, ACMS_TOPIC_DEADLETTER);
    if (!dl_topic || !dl_topic[0])
        dl_topic = acms_topic_default_name(ACMS_TOPIC_DEADLETTER);
    rc = acms_kafka_produce(k, dl_topic, run_id[0] ? run_id : NULL, buf, blen, &h);
    if (rc == ACMS_OK) {
        acms_kafka__count(k, "acms_deadletters_total", H_DL, topic, 1);
        acms_log_warn(run_id[0] ? run_id : NULL, dl->meta->event_id, "dead-lettered %s[%d]@%lld (%zu bytes): %s", topic,
                      (int)m->partition, (long long)m->offset, m->len, dl->reason);
    }
out:
    free(buf);
    acms_arena_free(a);
    return rc;
}

/* --- health ------------------------------------------------------------------------------- */

int acms_kafka_reachable(acms_kafka *k, int timeout_ms)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err;
    int ok;

    if (!k || !k->producer)
        return ACMS_ERR;
    err = rd_kafka_metadata(k->producer, 0, NULL, &md, timeout_ms > 0 ? timeout_ms : 1000);
    if (err) {
        acms_log_debug(NULL, NULL, "kafka: metadata: %s", rd_kafka_err2str(err));
        return ACMS_ERR_RETRY;
    }
    ok = md->broker_cnt > 0;
    rd_kafka_metadata_destroy(md);
    return ok ? ACMS_OK : ACMS_ERR_RETRY;
}
