/* service.c: the common life of a service process: configuration, logging, health/metrics endpoint,
 * Redis, Kafka, the consume loop, and an orderly shutdown on SIGTERM/SIGINT. The only file-level
 * state is the signal flag, since a signal handler cannot be handed a context. */
#include "service.h"

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
    atomic_int kafka_ready;       /* joined the group: partitions assigned (possibly none) once */
    atomic_int kafka_reachable;   /* the last metadata request was answered */
    atomic_int redis_ready;
    int64_t last_ping_ms;
    int64_t next_kafka_check_ms;  /* monotonic; 0 = check at the first tick */
    char redis_reasons[ACMS_KAFKA_GROUP_MAX][320]; /* dead-letter reasons of permanent Redis errors */
};

#define KAFKA_CHECK_MS 5000       /* readiness: a metadata request this often ... */
#define KAFKA_CHECK_TIMEOUT_MS 250 /* ... answered within this (the loop waits for it) */

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

const acms_cfg *acms_service_cfg(const acms_service *svc) { return &svc->cfg; }
acms_redis *acms_service_redis(acms_service *svc) { return svc->redis; }
acms_kafka *acms_service_kafka(acms_service *svc) { return svc->kafka; }
acms_metrics *acms_service_metrics(acms_service *svc) { return svc->metrics; }
const acms_profiles *acms_service_profiles(const acms_service *svc)
{
    return svc->have_profiles ? &svc->profiles : NULL;
}
int acms_service_stopping(const acms_service *svc)
{
    (void)svc;
    return stop_requested != 0;
}

int acms_service_publish(acms_service *svc, acms_topic t, const char *key, const ProtobufCMessage *msg)
{
    uint8_t *buf;
    size_t len;
    if (acms_pb_pack(msg, &buf, &len) != ACMS_OK)
        return ACMS_ERR_RETRY;
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
    int rc = acms_kafka_produce(svc->kafka, acms_cfg_topic(&svc->cfg, t), key, buf, len, &h);
    free(buf);
    return rc;
}

static int ready_cb(void *ud)
{
    acms_service *svc = ud;
    return atomic_load(&svc->kafka_ready) && atomic_load(&svc->kafka_reachable) && atomic_load(&svc->redis_ready);
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
    snprintf(buf, sizeof svc->redis_reasons[0], "redis refused the event's effects and retrying cannot help: %s",
             perm);
    acms_log_error(NULL, NULL, "%s@%d:%lld: %s", m->topic, (int)m->partition, (long long)m->offset, buf);
    *reason = buf;
    return ACMS_ERR_POISON;
}

static int loop_msg(void *ud, const acms_msg *m, const char **reason)
{
    acms_service *svc = ud;
    acms_log_set_trace(m->traceparent);
    acms_redis_clear_permanent(svc->redis);
    int rc = svc->ops->handle(svc->ctx, svc, m, reason);
    rc = classify(svc, m, rc, reason, 0);
    acms_log_set_trace(NULL);
    return rc;
}

/* A group whose Redis round trips met a permanent error: the messages it asked to retry are handled
 * one at a time (effects are idempotent), so the one Redis refuses is found and dead-lettered. */
static int loop_batch(void *ud, const acms_msg *msgs, size_t n, int *rcs, const char **reasons)
{
    acms_service *svc = ud;
    acms_redis_clear_permanent(svc->redis);
    int rc = svc->ops->handle_batch(svc->ctx, svc, msgs, n, rcs, reasons);
    if (!acms_redis_permanent_error(svc->redis) || !svc->ops->handle)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (rcs[i] != ACMS_ERR_RETRY)
            continue;
        acms_redis_clear_permanent(svc->redis);
        rcs[i] = svc->ops->handle(svc->ctx, svc, &msgs[i], &reasons[i]);
        rcs[i] = classify(svc, &msgs[i], rcs[i], &reasons[i], i);
    }
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
        /* while unreachable, look again sooner: readiness comes back within about 2 s */
        svc->next_kafka_check_ms = acms_mono_ms() + (ok ? KAFKA_CHECK_MS : 2000);
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

int acms_service_main(int argc, char **argv, const acms_service_ops *ops)
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
    acms_service *svc = calloc(1, sizeof *svc);
    char err[512] = "";
    int exit_code = 1;
    if (!svc)
        return 1;
    svc->ops = ops;
    if (acms_cfg_load(&svc->cfg, ops->name, err, sizeof err) != ACMS_OK) {
        fprintf(stderr, "%s: configuration error: %s\n", ops->name, err);
        free(svc);
        return 2;
    }
    acms_log_init(ops->name, svc->cfg.log_level);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    svc->metrics = acms_metrics_new(ops->name);
    char redacted[512];
    acms_log_info(NULL, NULL, "starting %s %s: brokers %s, redis %s, group %s, instance %s", ops->name, ACMS_VERSION,
                  svc->cfg.brokers, acms_cfg_redacted_url(svc->cfg.redis_url, redacted, sizeof redacted),
                  svc->cfg.group_id, svc->cfg.instance_id);
    if (ops->needs_profiles) {
        if (acms_profiles_load(&svc->profiles, svc->cfg.config_dir, err, sizeof err) != ACMS_OK) {
            acms_log_error(NULL, NULL, "cannot load the configuration directory %s: %s", svc->cfg.config_dir, err);
            goto out;
        }
        svc->have_profiles = 1;
    }
    svc->redis = acms_redis_new(svc->cfg.redis_url, svc->metrics, err, sizeof err);
    if (!svc->redis) {
        acms_log_error(NULL, NULL, "ACMS_REDIS_URL: %s", err);
        goto out;
    }
    svc->kafka = acms_kafka_new(&svc->cfg, ops->ninputs ? svc->cfg.group_id : NULL, svc->metrics, err, sizeof err);
    if (!svc->kafka) {
        acms_log_error(NULL, NULL, "kafka: %s", err);
        goto out;
    }
    svc->http = acms_http_start(svc->cfg.http_addr, svc->cfg.http_port, svc->metrics, ready_cb, svc, err, sizeof err);
    if (!svc->http && svc->cfg.http_port > 0) {
        acms_log_error(NULL, NULL, "%s", err);
        goto out;
    }
    if (ops->init && ops->init(svc, &svc->ctx, err, sizeof err) != ACMS_OK) {
        acms_log_error(NULL, NULL, "initialisation failed: %s", err);
        goto out;
    }
    const char *topics[ACMS_TOPIC__COUNT];
    for (size_t i = 0; i < ops->ninputs && i < ACMS_TOPIC__COUNT; i++)
        topics[i] = acms_cfg_topic(&svc->cfg, ops->inputs[i]);
    if (ops->ninputs && acms_kafka_subscribe(svc->kafka, topics, ops->ninputs) != ACMS_OK) {
        acms_log_error(NULL, NULL, "cannot subscribe to the input topics");
        goto out;
    }
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
    exit_code = rc == ACMS_OK ? 0 : 1;
out:
    if (ops->release && svc->ctx)
        ops->release(svc->ctx);
    acms_http_stop(svc->http);
    acms_kafka_free(svc->kafka);
    acms_redis_free(svc->redis);
    if (svc->have_profiles)
        acms_profiles_release(&svc->profiles);
    acms_metrics_free(svc->metrics);
    acms_log_info(NULL, NULL, "stopped");
    free(svc);
    return exit_code;
}
