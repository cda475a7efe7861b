/* service.c: the common life of a service process: configuration, logging, health/metrics endpoint,
 * Redis, Kafka, the consume loop, and an orderly shutdown on SIGTERM/SIGINT. The only file-level
 * state is the signal flag, since a signal handler cannot be handed a context. */
#include "service.h"

#include "claim.h"
#include "kafka_admin.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop_requested;

struct acms_service {
    const acms_service_ops *ops;
    acms_cfg cfg;
    acms_kafka *kafka;
    acms_redis *redis;
    acms_metrics *metrics;
    acms_http *http;
    acms_profiles profiles;
    int have_profiles;
    void *ctx;
    atomic_int kafka_ready;     /* joined the group: partitions assigned (possibly none) once */
    atomic_int kafka_reachable; /* the last metadata request was answered */
    atomic_int redis_ready;
    atomic_uint missing; /* bit i: topic i (acms_topic) absent from the cluster's metadata */
    int64_t last_ping_ms;
    int64_t next_kafka_check_ms;                   /* monotonic; 0 = check at the first tick */
    char redis_reasons[ACMS_KAFKA_GROUP_MAX][320]; /* dead-letter reasons of permanent Redis errors */
};

#define KAFKA_CHECK_MS 5000        /* readiness: a metadata request this often ... */
#define KAFKA_CHECK_TIMEOUT_MS 250 /* ... answered within this (the loop waits for it) */

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

const acms_cfg *acms_service_cfg(const acms_service *svc)
{
    return &svc->cfg;
}
acms_redis *acms_service_redis(acms_service *svc)
{
    return svc->redis;
}
acms_kafka *acms_service_kafka(acms_service *svc)
{
    return svc->kafka;
}
acms_metrics *acms_service_metrics(acms_service *svc)
{
    return svc->metrics;
}
const acms_profiles *acms_service_profiles(const acms_service *svc)
{
    return svc->have_profiles ? &svc->profiles : NULL;
}
int acms_service_stopping(const acms_service *svc)
{
    (void)svc;
    return stop_requested != 0;
}

static void claim_count(acms_service *svc, const char *name, const char *help, const char *topic)
{
    char labels[300];
    if (svc->metrics && snprintf(labels, sizeof labels, "topic=\"%s\"", topic) < (int)sizeof labels)
        acms_metrics_add(svc->metrics, name, labels, help, 1);
}

/* A claim envelope's payload, fetched and verified, in place of its empty one (*held to free).
 * ACMS_OK (also for an inline event), or acms_claim_get's failure with *reason. */
static int unclaim(acms_service *svc, acms_msg *m, uint8_t **held, const char **reason)
{
    *held = NULL;
    if (!m->claim[0])
        return ACMS_OK;
    int rc = acms_claim_get(svc->redis, m, held, reason);
    if (rc != ACMS_OK)
        return rc;
    m->payload = *held;
    m->len = m->claim_size;
    claim_count(svc, "acms_claims_in_total", "Events received by reference (claim check), verified, per topic",
                m->topic);
    return ACMS_OK;
}

static int publish_packed(acms_service *svc, acms_topic t, const char *key, const ProtobufCMessage *msg, uint8_t *buf,
                          size_t len);

int acms_service_publish(acms_service *svc, acms_topic t, const char *key, const ProtobufCMessage *msg)
{
    uint8_t *buf;
    size_t len;
    if (acms_pb_pack(msg, &buf, &len) != ACMS_OK)
        return ACMS_ERR_RETRY;
    return publish_packed(svc, t, key, msg, buf, len);
}

int acms_service_publish_with_fields(acms_service *svc, acms_topic t, const char *key, const ProtobufCMessage *msg,
                                     const acms_pb_raw_field *raw, size_t n_raw)
{
    uint8_t *buf;
    size_t len;
    if (acms_pb_pack_with_fields(msg, raw, n_raw, &buf, &len) != ACMS_OK)
        return ACMS_ERR_RETRY;
    return publish_packed(svc, t, key, msg, buf, len);
}

/* Produces buf (msg packed; freed here) with msg's CloudEvents headers. */
static int publish_packed(acms_service *svc, acms_topic t, const char *key, const ProtobufCMessage *msg, uint8_t *buf,
                          size_t len)
{
    const Acms__V1__EventMeta *meta = acms_pb_meta(msg);
    char source[256];
    snprintf(source, sizeof source, "/acms/%s/%s", svc->cfg.service, svc->cfg.instance_id);
    acms_kafka_hdrs h = {
        .ce_id = meta ? meta->event_id : NULL,
        .ce_type = msg->descriptor->name,
        .ce_source = source,
        .traceparent = meta && meta->traceparent && *meta->traceparent ? meta->traceparent : NULL,
        .time_ms = meta ? meta->timestamp_ms : acms_now_ms(),
    };
    /* above the bus limit the payload travels by reference (claim.h) */
    int rc = acms_claim_produce(svc->kafka, svc->redis, acms_cfg_topic(&svc->cfg, t), key, buf, len, &h);
    if (rc == ACMS_OK && len > ACMS_MAX_MESSAGE_BYTES)
        claim_count(svc, "acms_claims_out_total", "Events sent by reference (claim check), per topic",
                    acms_cfg_topic(&svc->cfg, t));
    free(buf);
    return rc == ACMS_ERR_LIMIT ? ACMS_ERR_LIMIT : rc;
}

/* The topics a service needs: its inputs and the dead-letter topic (by acms_topic). */
static size_t needed_topics(const acms_service *svc, acms_topic *out)
{
    size_t n = 0;
    for (size_t i = 0; i < svc->ops->ninputs && n < ACMS_TOPIC__COUNT - 1; i++)
        out[n++] = svc->ops->inputs[i];
    out[n++] = ACMS_TOPIC_DEADLETTER;
    return n;
}

static int ready_cb(void *ud, char *why, size_t size)
{
    acms_service *svc = ud;
    unsigned missing = atomic_load(&svc->missing);
    size_t used = 0;

    if (!atomic_load(&svc->kafka_reachable))
        return snprintf(why, size, "kafka unreachable (%s)", svc->cfg.brokers), 0;
    if (missing) {
        used = (size_t)snprintf(why, size, "topic(s) missing on the cluster (acmsctl topics apply):");
        for (int t = 0; t < ACMS_TOPIC__COUNT && used < size; t++)
            if (missing & (1u << t))
                used += (size_t)snprintf(why + used, size - used, " %s", acms_cfg_topic(&svc->cfg, (acms_topic)t));
        return 0;
    }
    if (!atomic_load(&svc->redis_ready))
        return snprintf(why, size, "redis unreachable"), 0;
    if (!atomic_load(&svc->kafka_ready))
        return snprintf(why, size, "waiting for the consumer group's partition assignment"), 0;
    return 1;
}

static int healthy_cb(void *ud, char *why, size_t size)
{
    acms_service *svc = ud;
    int64_t ms = 0;

    if (!acms_kafka_stalled(svc->kafka, &ms))
        return 1;
    snprintf(why, size, "consume loop without progress for %lld ms (bound ACMS_STALL_TIMEOUT_MS=%d)", (long long)ms,
             svc->cfg.stall_timeout_ms);
    return 0;
}

/* Which needed topics the cluster lacks (a readiness condition), logged when it changes. */
static void check_topics(acms_service *svc)
{
    acms_topic need[ACMS_TOPIC__COUNT] = {0};
    const char *names[ACMS_TOPIC__COUNT] = {0};
    char missing[1024], list[1026];
    size_t n = needed_topics(svc, need);
    unsigned mask = 0;

    for (size_t i = 0; i < n; i++)
        names[i] = acms_cfg_topic(&svc->cfg, need[i]);
    if (acms_kafka_topics_missing(svc->kafka, names, n, KAFKA_CHECK_TIMEOUT_MS, missing, sizeof missing) != ACMS_OK)
        return;
    snprintf(list, sizeof list, ",%s,", missing); /* exact names: ",a,b," holds ",a," */
    for (size_t i = 0; i < n; i++) {
        char item[260];
        if (snprintf(item, sizeof item, ",%s,", names[i]) < (int)sizeof item && strstr(list, item))
            mask |= 1u << need[i];
    }
    if (mask != atomic_load(&svc->missing)) {
        if (mask)
            acms_log_error(NULL, NULL,
                           "not ready: topic(s) missing on the cluster: %s (create them: acmsctl "
                           "topics apply)",
                           missing);
        else
            acms_log_info(NULL, NULL, "every needed topic exists");
    }
    atomic_store(&svc->missing, mask);
}

/* A handler asked for a retry, but Redis refused its effects with an error no retry can fix
 * (WRONGTYPE, a failing script): the event is dead-lettered with that error instead of blocking its
 * partition forever. slot: which reason buffer (one per message of a group). */
static int classify(acms_service *svc, const acms_msg *m, int rc, const char **reason, size_t slot)
{
    const char *perm = acms_redis_permanent_error(svc->redis);
    if (rc != ACMS_ERR_RETRY || !perm)
        return rc;
    char *buf = svc->redis_reasons[slot % ACMS_KAFKA_GROUP_MAX];
    snprintf(buf, sizeof svc->redis_reasons[0], "redis refused the event's effects and retrying cannot help: %s", perm);
    acms_log_error(NULL, NULL, "%s@%d:%lld: %s", m->topic, (int)m->partition, (long long)m->offset, buf);
    *reason = buf;
    return ACMS_ERR_POISON;
}

static int loop_msg(void *ud, const acms_msg *in, const char **reason)
{
    acms_service *svc = ud;
    acms_msg m = *in;
    uint8_t *held;
    int rc = unclaim(svc, &m, &held, reason);
    if (rc != ACMS_OK)
        return rc;
    acms_log_set_trace(m.traceparent);
    acms_redis_clear_permanent(svc->redis);
    rc = svc->ops->handle(svc->ctx, svc, &m, reason);
    rc = classify(svc, &m, rc, reason, 0);
    acms_log_set_trace(NULL);
    free(held);
    return rc;
}

/* A group: claim envelopes resolved first (one that cannot be settles alone, its rc, and the group
 * is cut there so that nothing after a retry counts as processed). When its Redis round trips met a
 * permanent error, the messages it asked to retry are handled one at a time (effects are
 * idempotent), so the one Redis refuses is found and dead-lettered. */
static int loop_batch(void *ud, const acms_msg *msgs, size_t n, int *rcs, const char **reasons)
{
    acms_service *svc = ud;
    acms_msg ms[ACMS_KAFKA_GROUP_MAX];
    uint8_t *held[ACMS_KAFKA_GROUP_MAX] = {0};
    size_t ok = 0;
    int rc = ACMS_OK;

    for (; ok < n && ok < ACMS_KAFKA_GROUP_MAX; ok++) {
        ms[ok] = msgs[ok];
        rc = unclaim(svc, &ms[ok], &held[ok], &reasons[ok]);
        if (rc != ACMS_OK) {
            rcs[ok] = rc;
            break;
        }
    }
    if (ok > 0) {
        acms_redis_clear_permanent(svc->redis);
        rc = svc->ops->handle_batch(svc->ctx, svc, ms, ok, rcs, reasons);
    }
    int perm = ok > 0 && acms_redis_permanent_error(svc->redis) && svc->ops->handle;
    for (size_t i = 0; perm && i < ok; i++) {
        if (rcs[i] != ACMS_ERR_RETRY)
            continue;
        acms_redis_clear_permanent(svc->redis);
        rcs[i] = svc->ops->handle(svc->ctx, svc, &ms[i], &reasons[i]);
        rcs[i] = classify(svc, &ms[i], rcs[i], &reasons[i], i);
    }
    for (size_t i = 0; i < n && i < ACMS_KAFKA_GROUP_MAX; i++)
        free(held[i]);
    return rc;
}

static int loop_tick(void *ud)
{
    acms_service *svc = ud;
    atomic_store(&svc->kafka_ready, acms_kafka_assigned(svc->kafka) ? 1 : 0);
    int64_t now = acms_mono_ms();
    if (now >= svc->next_kafka_check_ms && !stop_requested) {
        int ok = acms_kafka_reachable(svc->kafka, KAFKA_CHECK_TIMEOUT_MS) == ACMS_OK;
        if (ok != atomic_load(&svc->kafka_reachable))
            acms_log_info(NULL, NULL, "kafka %s", ok ? "reachable" : "unreachable: not ready");
        atomic_store(&svc->kafka_reachable, ok);
        if (ok)
            check_topics(svc);
        /* while unreachable, look again sooner: readiness comes back within about 2 s */
        svc->next_kafka_check_ms = acms_mono_ms() + (ok && !atomic_load(&svc->missing) ? KAFKA_CHECK_MS : 2000);
    }
    if (now - svc->last_ping_ms >= 1000) {
        svc->last_ping_ms = now;
        atomic_store(&svc->redis_ready, acms_redis_ping(svc->redis) == ACMS_OK);
    }
    if (svc->ops->tick)
        return svc->ops->tick(svc->ctx, svc);
    return ACMS_OK;
}

static int wants(int argc, char **argv, const char *flag)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], flag))
            return 1;
    return 0;
}

/* --help, --version and stray arguments: the exit code, or -1 to go on. */
static int service_args(int argc, char **argv, const acms_service_ops *ops)
{
    if (wants(argc, argv, "--help") || wants(argc, argv, "-h")) {
        acms_cfg_print_help(ops->name, ops->summary, ops->extra_help);
        return 0;
    }
    if (wants(argc, argv, "--version")) {
        printf("%s %s (schema acms.v1, version %d)\n", ops->name, ACMS_VERSION, ACMS_SCHEMA_VERSION);
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "%s: unknown argument '%s' (configuration is by environment; see --help)\n", ops->name,
                argv[1]);
        return 2;
    }
    return -1;
}

/* SIGTERM and SIGINT set the stop flag; SIGPIPE is ignored. */
static void signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Loads the configuration directory when the service needs it. ACMS_OK or ACMS_ERR (logged). */
static int service_profiles(acms_service *svc, char *err, size_t errsz)
{
    if (!svc->ops->needs_profiles)
        return ACMS_OK;
    if (!svc->cfg.config_dir[0]) {
        acms_log_error(NULL, NULL, "no configuration directory: set ACMS_CONFIG_DIR (looked for %s)",
                       svc->cfg.config_dir_tried);
        return ACMS_ERR;
    }
    if (acms_profiles_load(&svc->profiles, svc->cfg.config_dir, err, errsz) != ACMS_OK) {
        acms_log_error(NULL, NULL, "cannot load the configuration directory %s: %s", svc->cfg.config_dir, err);
        return ACMS_ERR;
    }
    svc->have_profiles = 1;
    return ACMS_OK;
}

/* Profiles, Redis, Kafka, the HTTP endpoint, the service's own init and the subscription, in that
 * order. ACMS_OK, or ACMS_ERR with the reason logged (what was set up is torn down by the caller). */
static int service_setup(acms_service *svc, char *err, size_t errsz)
{
    const acms_service_ops *ops = svc->ops;
    if (service_profiles(svc, err, errsz) != ACMS_OK)
        return ACMS_ERR;
    svc->redis = acms_redis_new(svc->cfg.redis_url, svc->metrics, err, errsz);
    if (!svc->redis) {
        acms_log_error(NULL, NULL, "ACMS_REDIS_URL: %s", err);
        return ACMS_ERR;
    }
    acms_redis_set_run_retention(svc->redis, (int64_t)svc->cfg.run_retention_s * 1000);
    acms_redis_set_seen_ttl(svc->redis, svc->cfg.seen_ttl_s);
    svc->kafka = acms_kafka_new(&svc->cfg, ops->ninputs ? svc->cfg.group_id : NULL, svc->metrics, err, errsz);
    if (!svc->kafka) {
        acms_log_error(NULL, NULL, "kafka: %s", err);
        return ACMS_ERR;
    }
    acms_http_probes probes = {.ready = ready_cb, .healthy = healthy_cb, .ud = svc};
    svc->http = acms_http_start(svc->cfg.http_addr, svc->cfg.http_port, svc->metrics, &probes, err, errsz);
    if (!svc->http && svc->cfg.http_port > 0) {
        acms_log_error(NULL, NULL, "%s", err);
        return ACMS_ERR;
    }
    if (ops->init && ops->init(svc, &svc->ctx, err, errsz) != ACMS_OK) {
        acms_log_error(NULL, NULL, "initialisation failed: %s", err);
        return ACMS_ERR;
    }
    const char *topics[ACMS_TOPIC__COUNT];
    for (size_t i = 0; i < ops->ninputs && i < ACMS_TOPIC__COUNT; i++)
        topics[i] = acms_cfg_topic(&svc->cfg, ops->inputs[i]);
    if (ops->ninputs && acms_kafka_subscribe(svc->kafka, topics, ops->ninputs) != ACMS_OK) {
        acms_log_error(NULL, NULL, "cannot subscribe to the input topics");
        return ACMS_ERR;
    }
    return ACMS_OK;
}

/* Runs the consume loop until a stop is requested. The process exit code. */
static int service_run(acms_service *svc)
{
    const acms_service_ops *ops = svc->ops;
    acms_kafka_loop loop = {
        .on_msg = loop_msg,
        .on_tick = loop_tick,
        .ud = svc,
        .tick_ms = ops->tick_ms > 0 ? ops->tick_ms : 50,
        .batch_max = 500,
        .stop = &stop_requested,
        .wake_fd = ops->wake_fd ? ops->wake_fd(svc->ctx) : 0,
        .on_batch = ops->handle_batch ? loop_batch : NULL,
        .group_max = svc->cfg.group_max, /* ACMS_GROUP_MAX: round trips shared vs a group's memory */
    };
    if (loop.wake_fd < 0)
        loop.wake_fd = 0;
    acms_log_info(NULL, NULL, "running; waiting for partition assignment");
    int rc = acms_kafka_run(svc->kafka, &loop);
    acms_log_info(NULL, NULL, "shutting down (%s)", rc == ACMS_OK ? "requested" : "client error");
    return rc == ACMS_OK ? 0 : 1;
}

/* Releases what service_setup made, in reverse order, and the service itself. */
static void service_teardown(acms_service *svc)
{
    if (svc->ops->release && svc->ctx)
        svc->ops->release(svc->ctx);
    acms_http_stop(svc->http);
    acms_kafka_free(svc->kafka);
    acms_redis_free(svc->redis);
    if (svc->have_profiles)
        acms_profiles_release(&svc->profiles);
    acms_metrics_free(svc->metrics);
    acms_log_info(NULL, NULL, "stopped");
    free(svc);
}

int acms_service_main(int argc, char **argv, const acms_service_ops *ops)
{
    int exit_code = service_args(argc, argv, ops);
    if (exit_code >= 0)
        return exit_code;
    acms_service *svc = calloc(1, sizeof *svc);
    char err[512] = "";
    if (!svc)
        return 1;
    svc->ops = ops;
    if (acms_cfg_load(&svc->cfg, ops->name, err, sizeof err) != ACMS_OK) {
        fprintf(stderr, "%s: configuration error: %s\n", ops->name, err);
        free(svc);
        return 2;
    }
    acms_log_init(ops->name, svc->cfg.log_level);
    signals_install();
    svc->metrics = acms_metrics_new(ops->name);
    char redacted[512];
    acms_log_info(NULL, NULL, "starting %s %s: brokers %s, redis %s, group %s, instance %s", ops->name, ACMS_VERSION,
                  svc->cfg.brokers, acms_cfg_redacted_url(svc->cfg.redis_url, redacted, sizeof redacted),
                  svc->cfg.group_id, svc->cfg.instance_id);
    exit_code = service_setup(svc, err, sizeof err) == ACMS_OK ? service_run(svc) : 1;
    service_teardown(svc);
    return exit_code;
}
