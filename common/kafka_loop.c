/* kafka_loop.c: the at-least-once consume loop, pending offsets and rebalances.
 * Invariant: an offset is stored (and so auto-committed) only after its message was handled
 * (OK or dead-lettered) AND a producer flush acknowledged everything produced before; a message
 * whose handler asks for a retry is fetched again (seek) before anything after it is stored. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "kafka_int.h"
#include "log.h"

#define LAG_TOPICS_MAX 32
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000

static const char H_IN[] = "Events consumed, per topic.";
static const char H_FAILED[] = "Events that failed: deliveries re-queued, handler retries, per topic.";
static const char H_SECONDS[] = "Time spent handling one event, per topic.";
static const char H_LAG[] = "Consumer lag (high watermark - position) over assigned partitions, per topic.";

static int64_t mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ACMS_SHUTDOWN_TIMEOUT_MS, or what is left of the shutdown deadline once it started. */
static int flush_timeout(const acms_kafka *k)
{
    return acms_kafka__budget_ms(k);
}

/* One flush attempt while running: short, so a stop request is seen within about a second. */
#define FLUSH_SLICE_MS 1000

/* --- pending offsets ---------------------------------------------------------------------- */

void acms_kafka__pending_add(acms_kafka *k, const char *topic, int32_t partition, int64_t offset)
{
    rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(k->pending, topic, partition);

    if (!p)
        p = rd_kafka_topic_partition_list_add(k->pending, topic, partition);
    if (offset + 1 > p->offset)
        p->offset = offset + 1; /* the next offset to consume: stored as given */
}

void acms_kafka__pending_clear(acms_kafka *k)
{
    if (k->pending->cnt == 0)
        return;
    rd_kafka_topic_partition_list_destroy(k->pending);
    k->pending = rd_kafka_topic_partition_list_new(16);
}

int acms_kafka__pending_store(acms_kafka *k)
{
    rd_kafka_resp_err_t err;
    int i, n = k->pending->cnt;

    if (n == 0)
        return 0;
    err = rd_kafka_offsets_store(k->consumer, k->pending);
    if (err) {
        /* Partitions revoked meanwhile: their messages will be delivered again elsewhere. */
        acms_log_warn(NULL, NULL, "kafka: storing offsets: %s", rd_kafka_err2str(err));
    } else {
        for (i = 0; i < n; i++)
            if (k->pending->elems[i].err)
                acms_log_debug(NULL, NULL, "kafka: offset %s[%d]: %s", k->pending->elems[i].topic,
                               (int)k->pending->elems[i].partition, rd_kafka_err2str(k->pending->elems[i].err));
    }
    acms_kafka__pending_clear(k);
    return err ? 0 : n;
}

/* --- rebalances --------------------------------------------------------------------------- */

/* How many partitions this member holds now (the log line tests and operators read). */
static int assigned_count(rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *parts, int cooperative)
{
    rd_kafka_topic_partition_list_t *a = NULL;
    int n = parts->cnt;

    if (cooperative && !rd_kafka_assignment(rk, &a) && a) {
        n = a->cnt;
        rd_kafka_topic_partition_list_destroy(a);
    }
    return n;
}

/* Drops the pending offsets of the partitions in parts (lost: another member owns them now). */
static void pending_forget(acms_kafka *k, const rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++)
        rd_kafka_topic_partition_list_del(k->pending, parts->elems[i].topic, parts->elems[i].partition);
}

/* Revocation: what was processed is flushed and stored (and committed) before the partitions go;
 * a lost assignment stores nothing of them (the new owner redelivers). The loop is told, so it drops
 * the events it collected but did not process (kafka_loop's group in hand). */
static void revoke_parts(acms_kafka *k, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts, int cooperative)
{
    rd_kafka_resp_err_t e;
    int lost = rd_kafka_assignment_lost(rk);

    acms_log_info(NULL, NULL, "kafka: %s %d partition(s)", lost ? "lost" : "revoking", parts->cnt);
    atomic_fetch_add(&k->revocations, 1);
    if (lost) {
        pending_forget(k, parts);
    } else if (acms_kafka_flush(k, acms_kafka__budget_ms(k)) == ACMS_OK) {
        acms_kafka__pending_store(k);
    } else if (k->pending->cnt) {
        acms_log_warn(NULL, NULL,
                      "kafka: output not acknowledged before revoke; %d partition(s) will be "
                      "redelivered from their last commit",
                      k->pending->cnt);
        acms_kafka__pending_clear(k);
    }
    if (!lost) {
        e = rd_kafka_commit(rk, NULL, 0);
        if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
            acms_log_warn(NULL, NULL, "kafka: commit on revoke: %s", rd_kafka_err2str(e));
    }
    if (cooperative) {
        rd_kafka_error_t *err = rd_kafka_incremental_unassign(rk, parts);
        if (err) {
            acms_log_error(NULL, NULL, "kafka: incremental unassign: %s", rd_kafka_error_string(err));
            rd_kafka_error_destroy(err);
        } else {
            acms_log_info(NULL, NULL, "kafka: assigned %d partition(s) after the revocation",
                          assigned_count(rk, parts, 1));
        }
    } else {
        rd_kafka_assign(rk, NULL);
    }
}

void acms_kafka__rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                              void *opaque)
{
    acms_kafka *k = opaque;
    int cooperative = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");

    if (k->committed) { /* the lag's committed offsets are asked again for the new assignment */
        rd_kafka_topic_partition_list_destroy(k->committed);
        k->committed = NULL;
    }

    switch (err) {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
        if (cooperative) {
            rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, parts);
            if (e) {
                acms_log_error(NULL, NULL, "kafka: incremental assign: %s", rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
                return;
            }
        } else {
            rd_kafka_resp_err_t e = rd_kafka_assign(rk, parts);
            if (e) {
                acms_log_error(NULL, NULL, "kafka: assign: %s", rd_kafka_err2str(e));
                return;
            }
        }
        acms_log_info(NULL, NULL, "kafka: assigned %d partition(s)%s", assigned_count(rk, parts, cooperative),
                      cooperative ? " (incremental)" : "");
        atomic_store(&k->assigned, 1);
        break;
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS: revoke_parts(k, rk, parts, cooperative); break;
    default:
        acms_log_warn(NULL, NULL, "kafka: rebalance error: %s", rd_kafka_err2str(err));
        acms_kafka__pending_clear(k);
        atomic_fetch_add(&k->revocations, 1);
        rd_kafka_assign(rk, NULL);
        break;
    }
}

/* --- lag ---------------------------------------------------------------------------------- */

/* The offset a partition of the assignment a is consumed from: its position once a message was
 * consumed since the assignment; before that its committed offset (asked of the group coordinator
 * once per assignment for all such partitions, kept in k->committed: a restarted service that has
 * nothing new to read has no lag), else the low watermark lo, else 0. */
static int64_t lag_from(acms_kafka *k, const rd_kafka_topic_partition_t *p, int64_t lo)
{
    const rd_kafka_topic_partition_t *c = k->committed
                                              ? rd_kafka_topic_partition_list_find(k->committed, p->topic, p->partition)
                                              : NULL;
    if (p->offset >= 0)
        return p->offset;
    if (c && c->offset >= 0)
        return c->offset;
    return lo >= 0 ? lo : 0;
}

/* Asks the committed offsets of the partitions of a with no position that k->committed lacks
 * (blocking, at most 2 s, only after an assignment). Kept even when unknown (asked once). */
static void lag_committed(acms_kafka *k, const rd_kafka_topic_partition_list_t *a)
{
    rd_kafka_topic_partition_list_t *ask = rd_kafka_topic_partition_list_new(a->cnt > 0 ? a->cnt : 1);
    for (int i = 0; i < a->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &a->elems[i];
        int known = k->committed && rd_kafka_topic_partition_list_find(k->committed, p->topic, p->partition);
        if (p->offset < 0 && !known)
            rd_kafka_topic_partition_list_add(ask, p->topic, p->partition);
    }
    if (ask->cnt > 0) {
        rd_kafka_resp_err_t e = rd_kafka_committed(k->consumer, ask, 2000);
        if (!k->committed)
            k->committed = rd_kafka_topic_partition_list_new(ask->cnt);
        for (int i = 0; i < ask->cnt; i++)
            rd_kafka_topic_partition_list_add(k->committed, ask->elems[i].topic, ask->elems[i].partition)->offset =
                e || ask->elems[i].err ? RD_KAFKA_OFFSET_INVALID : ask->elems[i].offset;
    }
    rd_kafka_topic_partition_list_destroy(ask);
}

/* Sums high watermark - position over the assignment (lag_from); per topic into the gauge when
 * set_gauge. */
static int64_t lag_collect(acms_kafka *k, int set_gauge)
{
    rd_kafka_topic_partition_list_t *a = NULL;
    struct {
        const char *topic;
        int64_t lag;
    } per[LAG_TOPICS_MAX];
    int nper = 0, i, j, known = 0;
    int64_t total = 0;

    if (!k->consumer || rd_kafka_assignment(k->consumer, &a) || !a)
        return -1;
    /* every subscribed topic has a gauge, 0 while none of its partitions is assigned here */
    for (j = 0; j < k->nsubscribed && nper < LAG_TOPICS_MAX; j++) {
        per[nper].topic = k->subscribed[j];
        per[nper++].lag = 0;
    }
    if (a->cnt > 0) {
        rd_kafka_position(k->consumer, a);
        lag_committed(k, a);
    }
    for (i = 0; i < a->cnt; i++) {
        rd_kafka_topic_partition_t *p = &a->elems[i];
        int64_t lo, hi, lag, pos;

        if (rd_kafka_get_watermark_offsets(k->consumer, p->topic, p->partition, &lo, &hi) || hi < 0)
            continue;
        pos = lag_from(k, p, lo);
        lag = hi > pos ? hi - pos : 0;
        total += lag;
        known++;
        for (j = 0; j < nper && strcmp(per[j].topic, p->topic); j++)
            ;
        if (j == nper && nper < LAG_TOPICS_MAX) {
            per[nper].topic = p->topic;
            per[nper++].lag = 0;
        }
        if (j < nper)
            per[j].lag += lag;
    }
    if (set_gauge && k->metrics) {
        for (j = 0; j < nper; j++) {
            char labels[300];

            if (snprintf(labels, sizeof labels, "topic=\"%s\"", per[j].topic) < (int)sizeof labels)
                acms_metrics_set(k->metrics, "acms_consumer_lag", labels, H_LAG, (double)per[j].lag);
        }
    }
    i = a->cnt;
    rd_kafka_topic_partition_list_destroy(a);
    return i > 0 && !known ? -1 : total; /* assigned but no watermark seen yet: unknown */
}

int64_t acms_kafka_lag(acms_kafka *k)
{
    return k ? lag_collect(k, 0) : -1;
}

/* --- the loop ----------------------------------------------------------------------------- */

typedef struct loop_state {
    acms_kafka *k;
    const acms_kafka_loop *L;
    volatile sig_atomic_t *stop;
    int tick_ms;
    int64_t next_tick_ms;
    int64_t next_lag_ms;
    int backoff_ms;        /* current retry backoff, 0 = none */
    char retry_topic[256]; /* the partition the backoff belongs to */
    int32_t retry_partition;
    /* wake_fd mode: the consumer queue signals new events on io[1]; we poll io[0] and wake_fd */
    rd_kafka_queue_t *cq;
    int io[2];
    int woken;                    /* wake_fd was readable: tick now */
    int64_t consumed_since_nudge; /* bytes taken from the local queue since the last nudge */
    int64_t last_nudge_ms;
    int batch_max;                                 /* messages per batch before a commit */
    int poll_ms;                                   /* the consumer poll's timeout when nothing is in hand */
    int waking;                                    /* wake_fd mode is on */
    int more;                                      /* the last poll returned a message */
    int revocations;                               /* k->revocations last seen */
    int group_max;                                 /* grouped mode (on_batch): messages per group */
    rd_kafka_message_t *grp[ACMS_KAFKA_GROUP_MAX]; /* the group in hand */
    size_t gn;
} loop_state;

/* The fetch nudge (k->nudge: librdkafka without fetch.queue.backoff.ms, i.e. before 2.1). Once the
 * local queue reaches queued.max.messages.kbytes, every partition leaves the fetch list, and the
 * broker thread looks at them again only when something wakes it: at the latest after a fixed
 * second. A consumer with a backlog then empties its queue and idles for the rest of that second,
 * so its rate is bounded by one queue per second. When the queue runs dry right after the loop
 * consumed from it, one ListOffsets request per partition leader (rd_kafka_offsets_for_times, sent
 * by the leaders' broker threads) wakes those threads, and they put the partitions back on the
 * fetch list at once. Only a queue that may have been full is worth a nudge: the queue is empty at
 * each nudge, so before the fetcher can stall again the loop must have taken at least a queueful
 * from it (half of queued.max.messages.kbytes is asked, as librdkafka counts its bytes a little
 * differently). A consumer below that rate never sends one. */
static void fetch_nudge(loop_state *s)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    int64_t now = acms_mono_ms();

    if (!s->k->nudge || s->consumed_since_nudge < s->k->queue_bytes / 2 || now - s->last_nudge_ms < 5)
        return;
    s->consumed_since_nudge = 0;
    s->last_nudge_ms = now;
    if (rd_kafka_assignment(s->k->consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || !parts)
        return;
    if (parts->cnt > 0) {
        for (int i = 0; i < parts->cnt; i++)
            parts->elems[i].offset = RD_KAFKA_OFFSET_END;
        rd_kafka_offsets_for_times(s->k->consumer, parts, 100); /* the reply itself is not needed */
        atomic_fetch_add(&s->k->nudges, 1);
        acms_kafka__count(s->k, "acms_kafka_fetch_nudges_total",
                          "Wake-ups of the fetcher after the local queue ran dry (librdkafka < 2.1)", NULL, 1);
    }
    rd_kafka_topic_partition_list_destroy(parts);
}

static void maybe_tick(loop_state *s)
{
    int64_t now = acms_mono_ms();

    if (s->L->on_tick && (now >= s->next_tick_ms || s->woken)) {
        int rc = s->L->on_tick(s->L->ud);

        if (rc != ACMS_OK)
            acms_log_warn(NULL, NULL, "tick: %s", acms_strerror(rc));
        if (now >= s->next_tick_ms)
            s->next_tick_ms = now + s->tick_ms; /* a woken tick does not move the timer */
        s->woken = 0;
    }
    if (now >= s->next_lag_ms) {
        lag_collect(s->k, 1);
        s->next_lag_ms = now + 1000;
    }
}

/* Sleeps ms while serving delivery reports and ticks; returns early on stop. */
static void nap(loop_state *s, int ms)
{
    int64_t until = acms_mono_ms() + ms;

    while (!*s->stop) {
        int64_t left = until - acms_mono_ms();

        if (left <= 0)
            break;
        rd_kafka_poll(s->k->producer, left < 10 ? (int)left : 10);
        maybe_tick(s);
    }
}

/* Flushes the producer and stores the pending offsets. While the broker does not acknowledge,
 * retries with backoff; on stop gives up without storing (the messages will be redelivered). */
static int commit_batch(loop_state *s)
{
    acms_kafka *k = s->k;
    int backoff = BACKOFF_MIN_MS;
    int timeout = flush_timeout(k) < FLUSH_SLICE_MS ? flush_timeout(k) : FLUSH_SLICE_MS;

    /* Nothing processed: output (from ticks) is delivered in the background, except at stop. */
    if (k->pending->cnt == 0 && (!*s->stop || (rd_kafka_outq_len(k->producer) == 0 && !k->failed)))
        return ACMS_OK;
    for (;;) {
        if (*s->stop)
            acms_kafka_start_deadline(k); /* the stop was seen: from here on the deadline bounds the waits */
        if (acms_kafka_flush(k, *s->stop ? flush_timeout(k) : timeout) == ACMS_OK)
            break;
        if (*s->stop || atomic_load(&k->fatal)) {
            acms_log_warn(NULL, NULL, "kafka: output not acknowledged; %d partition(s) left uncommitted",
                          k->pending->cnt);
            acms_kafka__pending_clear(k);
            return ACMS_ERR_RETRY;
        }
        nap(s, backoff);
        backoff = backoff * 2 < BACKOFF_MAX_MS ? backoff * 2 : BACKOFF_MAX_MS;
    }
    acms_kafka__pending_store(k);
    return ACMS_OK;
}

/* wake_fd mode: the consumer queue writes a byte to a pipe whenever it turns non-empty. */
static int wake_setup(loop_state *s)
{
    s->io[0] = s->io[1] = -1;
    if (s->L->wake_fd <= 0)
        return 0;
    if (pipe2(s->io, O_NONBLOCK | O_CLOEXEC) < 0) {
        acms_log_warn(NULL, NULL, "kafka: wake pipe: %s: ticks on the timer only", strerror(errno));
        s->io[0] = s->io[1] = -1;
        return 0;
    }
    s->cq = rd_kafka_queue_get_consumer(s->k->consumer);
    if (!s->cq) {
        close(s->io[0]);
        close(s->io[1]);
        s->io[0] = s->io[1] = -1;
        return 0;
    }
    rd_kafka_queue_io_event_enable(s->cq, s->io[1], "1", 1);
    return 1;
}

static void wake_teardown(loop_state *s)
{
    if (s->cq) {
        rd_kafka_queue_io_event_enable(s->cq, -1, NULL, 0);
        rd_kafka_queue_destroy(s->cq);
        s->cq = NULL;
    }
    for (int i = 0; i < 2; i++)
        if (s->io[i] >= 0) {
            close(s->io[i]);
            s->io[i] = -1;
        }
}

/* wake_fd mode, nothing in hand: sleeps until the consumer queue has an event, wake_fd is
 * readable (then the next maybe_tick ticks at once), the next tick is due or poll_ms passed. */
static void wake_wait(loop_state *s, int poll_ms)
{
    struct pollfd pf[2] = {{.fd = s->io[0], .events = POLLIN}, {.fd = s->L->wake_fd, .events = POLLIN}};
    int64_t left = s->next_tick_ms - acms_mono_ms();
    int timeout = left < 0 ? 0 : left < poll_ms ? (int)left : poll_ms;
    int n = poll(pf, 2, timeout);

    if (n <= 0)
        return;
    if (pf[0].revents) {
        char buf[64];

        while (read(s->io[0], buf, sizeof buf) > 0)
            ;
    }
    if (pf[1].revents & (POLLIN | POLLERR | POLLHUP))
        s->woken = 1;
}

static void read_header(rd_kafka_headers_t *hdrs, const char *name, char *out, size_t size)
{
    const void *val = NULL;
    size_t n = 0;

    out[0] = '\0';
    if (!hdrs || rd_kafka_header_get_last(hdrs, name, &val, &n) || !val)
        return;
    if (n >= size)
        n = size - 1;
    memcpy(out, val, n);
    out[n] = '\0';
    out[strcspn(out, "\r\n")] = '\0';
}

static void msg_fill(acms_msg *m, rd_kafka_message_t *rm)
{
    rd_kafka_headers_t *hdrs = NULL;

    memset(m, 0, sizeof *m);
    m->topic = rd_kafka_topic_name(rm->rkt);
    m->partition = rm->partition;
    m->offset = rm->offset;
    m->key = rm->key;
    m->key_len = rm->key_len;
    m->payload = rm->payload;
    m->len = rm->len;
    m->timestamp_ms = rd_kafka_message_timestamp(rm, NULL);
    if (rd_kafka_message_headers(rm, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        read_header(hdrs, "traceparent", m->traceparent, sizeof m->traceparent);
        read_header(hdrs, "ce_type", m->ce_type, sizeof m->ce_type);
        char size[24];
        read_header(hdrs, "acms_claim", m->claim, sizeof m->claim);
        read_header(hdrs, "acms_claim_size", size, sizeof size);
        m->claim_size = m->claim[0] ? strtoull(size, NULL, 10) : 0;
    }
}

static void observe_seconds(acms_kafka *k, const char *topic, double secs)
{
    char labels[300];

    if (k->metrics && snprintf(labels, sizeof labels, "topic=\"%s\"", topic) < (int)sizeof labels)
        acms_metrics_observe(k->metrics, "acms_event_processing_seconds", labels, H_SECONDS, secs);
}

/* What the handler's rc means for m: ACMS_OK when it counts as processed (its offset is pending,
 * or it was dead-lettered), ACMS_ERR_RETRY when it must be fetched again. */
static int settle(loop_state *s, const acms_msg *m, int rc, const char *reason)
{
    acms_kafka *k = s->k;

    switch (rc) {
    case ACMS_OK: break;
    case ACMS_ERR_POISON:
    case ACMS_ERR_INVALID:
    case ACMS_ERR_LIMIT:
        if (!reason)
            reason = acms_strerror(rc);
        if (acms_kafka_deadletter(k, m, reason) != ACMS_OK) {
            acms_kafka__count(k, "acms_events_failed_total", H_FAILED, m->topic, 1);
            return ACMS_ERR_RETRY; /* cannot park it: try the whole message again */
        }
        break;
    default: /* ACMS_ERR_RETRY, and any other failure: transient until proven otherwise */
        acms_kafka__count(k, "acms_events_failed_total", H_FAILED, m->topic, 1);
        if (rc != ACMS_ERR_RETRY)
            acms_log_warn(NULL, NULL, "handler returned %s for %s[%d]@%lld: retrying", acms_strerror(rc), m->topic,
                          (int)m->partition, (long long)m->offset);
        return ACMS_ERR_RETRY;
    }
    acms_kafka__pending_add(k, m->topic, m->partition, m->offset);
    if (s->backoff_ms && m->partition == s->retry_partition && !strcmp(m->topic, s->retry_topic))
        s->backoff_ms = 0; /* the partition that was failing moves again */
    return ACMS_OK;
}

/* Handles one message. ACMS_OK when it counts as processed (its offset is pending), or
 * ACMS_ERR_RETRY when it must be fetched again. */
static int process_one(loop_state *s, rd_kafka_message_t *rm)
{
    acms_kafka *k = s->k;
    acms_msg m;
    const char *reason = NULL;
    int64_t t0;
    int rc;

    msg_fill(&m, rm);
    acms_kafka__count(k, "acms_events_in_total", H_IN, m.topic, 1);

    if (m.len > ACMS_MAX_MESSAGE_BYTES) {
        rc = ACMS_ERR_POISON;
        reason = "payload too large";
    } else {
        acms_log_set_trace(m.traceparent);
        t0 = mono_us();
        rc = s->L->on_msg(s->L->ud, &m, &reason);
        observe_seconds(k, m.topic, (double)(mono_us() - t0) / 1e6);
        acms_log_set_trace("");
    }
    return settle(s, &m, rc, reason);
}

/* After a retryable failure at rm: commit what came before, rewind its partition, back off. */
static void retry_from(loop_state *s, rd_kafka_message_t *rm)
{
    acms_kafka *k = s->k;
    const char *topic = rd_kafka_topic_name(rm->rkt);
    rd_kafka_topic_partition_list_t *one;
    rd_kafka_error_t *e;

    commit_batch(s); /* stores only offsets before rm: rm itself was not added */
    one = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(one, topic, rm->partition)->offset = rm->offset;
    e = rd_kafka_seek_partitions(k->consumer, one, 5000);
    if (e) {
        acms_log_warn(NULL, NULL, "kafka: seek %s[%d] to %lld: %s", topic, (int)rm->partition, (long long)rm->offset,
                      rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    } else if (one->elems[0].err) {
        acms_log_warn(NULL, NULL, "kafka: seek %s[%d] to %lld: %s", topic, (int)rm->partition, (long long)rm->offset,
                      rd_kafka_err2str(one->elems[0].err));
    }
    rd_kafka_topic_partition_list_destroy(one);

    s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (s->backoff_ms > BACKOFF_MAX_MS)
        s->backoff_ms = BACKOFF_MAX_MS;
    snprintf(s->retry_topic, sizeof s->retry_topic, "%s", topic);
    s->retry_partition = rm->partition;
    acms_log_info(NULL, NULL, "retrying %s[%d]@%lld in %d ms", topic, (int)rm->partition, (long long)rm->offset,
                  s->backoff_ms);
    nap(s, s->backoff_ms);
}

/* After retry_from(g[first]): rewinds every other partition of g[first + 1 .. n - 1] to its first
 * message there, so nothing after the failed message is skipped. */
static void rewind_tail(loop_state *s, rd_kafka_message_t **g, size_t first, size_t n)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)(n - first));
    rd_kafka_error_t *e;

    for (size_t j = first + 1; j < n; j++) {
        const char *topic = rd_kafka_topic_name(g[j]->rkt);
        if ((g[j]->partition == g[first]->partition && g[j]->rkt == g[first]->rkt) ||
            rd_kafka_topic_partition_list_find(l, topic, g[j]->partition))
            continue;
        rd_kafka_topic_partition_list_add(l, topic, g[j]->partition)->offset = g[j]->offset;
    }
    if (l->cnt > 0) {
        e = rd_kafka_seek_partitions(s->k->consumer, l, 5000);
        if (e) {
            acms_log_warn(NULL, NULL, "kafka: rewinding %d partition(s) after a retry: %s", l->cnt,
                          rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* Handles a group of messages through on_batch. ACMS_OK, or ACMS_ERR_RETRY after rewinding. */
static int process_group(loop_state *s, rd_kafka_message_t **g, size_t n)
{
    acms_kafka *k = s->k;
    acms_msg ms[ACMS_KAFKA_GROUP_MAX], pass[ACMS_KAFKA_GROUP_MAX];
    int rcs[ACMS_KAFKA_GROUP_MAX], prcs[ACMS_KAFKA_GROUP_MAX];
    const char *reasons[ACMS_KAFKA_GROUP_MAX], *preasons[ACMS_KAFKA_GROUP_MAX];
    size_t map[ACMS_KAFKA_GROUP_MAX], np = 0;

    for (size_t i = 0; i < n; i++) {
        msg_fill(&ms[i], g[i]);
        acms_kafka__count(k, "acms_events_in_total", H_IN, ms[i].topic, 1);
        reasons[i] = NULL;
        if (ms[i].len > ACMS_MAX_MESSAGE_BYTES) {
            rcs[i] = ACMS_ERR_POISON;
            reasons[i] = "payload too large";
            continue;
        }
        rcs[i] = ACMS_ERR_RETRY;
        pass[np] = ms[i];
        prcs[np] = ACMS_ERR_RETRY;
        preasons[np] = NULL;
        map[np++] = i;
    }
    if (np > 0) {
        int64_t t0 = mono_us();
        s->L->on_batch(s->L->ud, pass, np, prcs, preasons);
        double each = (double)(mono_us() - t0) / 1e6 / (double)np;
        for (size_t j = 0; j < np; j++) {
            rcs[map[j]] = prcs[j];
            reasons[map[j]] = preasons[j];
            observe_seconds(k, pass[j].topic, each);
        }
    }
    for (size_t i = 0; i < n; i++)
        if (settle(s, &ms[i], rcs[i], reasons[i]) == ACMS_ERR_RETRY) {
            retry_from(s, g[i]);
            rewind_tail(s, g, i, n);
            return ACMS_ERR_RETRY;
        }
    return ACMS_OK;
}

static void consumer_error(acms_kafka *k, const rd_kafka_message_t *rm)
{
    int64_t now = acms_mono_ms();

    if (rm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
        return;
    if (rm->err == RD_KAFKA_RESP_ERR__FATAL) {
        atomic_store(&k->fatal, 1);
        acms_log_error(NULL, NULL, "kafka consumer fatal error: %s", rd_kafka_message_errstr(rm));
        return;
    }
    if (now - k->last_poll_err_ms < 5000)
        return;
    k->last_poll_err_ms = now;
    acms_log_warn(NULL, NULL, "kafka consumer: %s%s%s", rm->rkt ? rd_kafka_topic_name(rm->rkt) : "",
                  rm->rkt ? ": " : "", rd_kafka_message_errstr(rm));
}

/* After a revocation: the collected (unprocessed) events of partitions no longer assigned are
 * dropped, their offsets never stored; the new owner consumes them from the last commit. */
static void drop_revoked(loop_state *s, rd_kafka_message_t **g, size_t *n)
{
    rd_kafka_topic_partition_list_t *a = NULL;
    size_t kept = 0, dropped = 0;

    if (rd_kafka_assignment(s->k->consumer, &a) || !a)
        return;
    for (size_t i = 0; i < *n; i++) {
        if (rd_kafka_topic_partition_list_find(a, rd_kafka_topic_name(g[i]->rkt), g[i]->partition)) {
            g[kept++] = g[i];
        } else {
            rd_kafka_message_destroy(g[i]);
            dropped++;
        }
    }
    rd_kafka_topic_partition_list_destroy(a);
    *n = kept;
    if (dropped) {
        acms_log_info(NULL, NULL,
                      "kafka: dropped %zu collected event(s) of revoked partitions (not processed, "
                      "offsets not stored)",
                      dropped);
        acms_kafka__count(s->k, "acms_kafka_revoked_dropped_total",
                          "Collected events dropped unprocessed because their partition was revoked", NULL,
                          (double)dropped);
    }
}

/* Progress for the health check: the loop committed what it did, or had nothing to do. */
static void progressed(acms_kafka *k)
{
    atomic_store(&k->progress_ms, acms_mono_ms());
}

int acms_kafka_stalled(const acms_kafka *k, int64_t *stalled_ms)
{
    acms_kafka *kk = (acms_kafka *)k;
    int64_t last, idle;

    if (!k || !k->consumer || k->cfg.stall_timeout_ms <= 0 || !(last = atomic_load(&kk->progress_ms)))
        return 0;
    idle = acms_mono_ms() - last;
    if (stalled_ms)
        *stalled_ms = idle;
    return idle > k->cfg.stall_timeout_ms;
}

static void loop_init(loop_state *s, acms_kafka *k, const acms_kafka_loop *L, volatile sig_atomic_t *never)
{
    memset(s, 0, sizeof *s);
    s->k = k;
    s->L = L;
    s->stop = L->stop ? L->stop : never;
    s->tick_ms = L->tick_ms > 0 ? L->tick_ms : 50;
    s->next_tick_ms = acms_mono_ms() + s->tick_ms;
    s->next_lag_ms = acms_mono_ms() + 1000;
    s->batch_max = L->batch_max > 0 ? L->batch_max : 500;
    s->poll_ms = s->tick_ms < 50 ? s->tick_ms : 50;
    s->waking = wake_setup(s);
    s->group_max = L->group_max > 0 && L->group_max <= ACMS_KAFKA_GROUP_MAX ? L->group_max : 32;
    s->revocations = atomic_load(&k->revocations);
}

/* Processes the group in hand and releases its messages. Returns process_group's code. */
static int group_flush(loop_state *s)
{
    int r = process_group(s, s->grp, s->gn);
    for (size_t i = 0; i < s->gn; i++)
        rd_kafka_message_destroy(s->grp[i]);
    s->gn = 0;
    return r;
}

enum { TAKE_NEXT, TAKE_END };

/* Hands one message to the service, alone or as part of a group; takes rm. TAKE_END with
 * *retried set when the service asked for a retry. */
static int take_message(loop_state *s, rd_kafka_message_t *rm, int *retried)
{
    if (s->L->on_batch) {
        s->grp[s->gn++] = rm;
        if ((int)s->gn < s->group_max)
            return TAKE_NEXT;
        if (group_flush(s) == ACMS_ERR_RETRY) {
            *retried = 1;
            return TAKE_END;
        }
        return TAKE_NEXT;
    }
    if (process_one(s, rm) == ACMS_ERR_RETRY) {
        retry_from(s, rm);
        rd_kafka_message_destroy(rm);
        *retried = 1;
        return TAKE_END;
    }
    rd_kafka_message_destroy(rm);
    return TAKE_NEXT;
}

/* One batch: polls until batch_max messages, an empty queue, a consumer error, a retry or a stop;
 * *n counts the messages taken. ACMS_OK, or ACMS_ERR on a fatal client error (the messages in
 * hand are dropped unprocessed: redelivered after a restart). */
static int poll_batch(loop_state *s, int *n, int *retried)
{
    acms_kafka *k = s->k;
    while (*n < s->batch_max && !*s->stop) {
        if (s->waking && *n == 0 && !s->more)
            wake_wait(s, s->poll_ms);
        rd_kafka_message_t *rm = rd_kafka_consumer_poll(k->consumer, *n == 0 && !s->waking ? s->poll_ms : 0);
        s->more = rm != NULL;
        if (atomic_load(&k->revocations) != s->revocations) { /* the poll ran a revocation */
            s->revocations = atomic_load(&k->revocations);
            drop_revoked(s, s->grp, &s->gn);
        }
        rd_kafka_poll(k->producer, 0);
        maybe_tick(s);
        if (atomic_load(&k->fatal)) {
            if (rm)
                rd_kafka_message_destroy(rm);
            for (size_t i = 0; i < s->gn; i++)
                rd_kafka_message_destroy(s->grp[i]);
            s->gn = 0;
            return ACMS_ERR;
        }
        if (!rm) {
            fetch_nudge(s);
            break;
        }
        s->consumed_since_nudge += (int64_t)rm->len + (int64_t)rm->key_len;
        if (rm->err) {
            consumer_error(k, rm);
            rd_kafka_message_destroy(rm);
            break;
        }
        (*n)++;
        if (take_message(s, rm, retried) == TAKE_END)
            break;
    }
    return ACMS_OK;
}

/* Orderly stop: flush what was produced, store what was processed, commit synchronously, all
 * within the shutdown deadline that starts now. After a fatal error only the reason is logged. */
static void loop_stop(loop_state *s, int rc)
{
    acms_kafka *k = s->k;
    wake_teardown(s);
    if (rc != ACMS_OK) {
        acms_log_error(NULL, NULL, "kafka: fatal client error, leaving the consume loop");
        return;
    }
    acms_kafka_start_deadline(k);
    commit_batch(s);
    rd_kafka_resp_err_t err = rd_kafka_commit(k->consumer, NULL, 0);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        acms_log_warn(NULL, NULL, "kafka: commit at stop: %s", rd_kafka_err2str(err));
}

int acms_kafka_run(acms_kafka *k, const acms_kafka_loop *L)
{
    volatile sig_atomic_t never = 0;
    loop_state s;
    int rc = ACMS_OK;

    if (!k || !k->consumer || !L || (!L->on_msg && !L->on_batch))
        return ACMS_ERR;
    loop_init(&s, k, L, &never);
    progressed(k);
    while (!*s.stop) {
        int n = 0, retried = 0;
        if (poll_batch(&s, &n, &retried) != ACMS_OK) {
            rc = ACMS_ERR;
            break;
        }
        /* the queue ran dry, a batch_max was reached or a stop came: the group in hand */
        if (s.gn > 0 && group_flush(&s) == ACMS_ERR_RETRY)
            retried = 1;
        if (!retried && commit_batch(&s) == ACMS_OK && (n > 0 || (!s.more && k->pending->cnt == 0)))
            progressed(k); /* committed what it did, or idle */
    }
    loop_stop(&s, rc);
    return rc;
}
