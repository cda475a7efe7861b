/* cfg.h: service configuration, read from environment variables only (docs/configuration.md).
 * When ACMS_KAFKA_BROKERS or ACMS_REDIS_URL is unset, the stack file written by `make up` supplies
 * them, and ACMS_CONFIG_DIR defaults to the installation's configuration directory: both are found
 * by locate.h (the variable, the repository or install prefix, then ~/.config/acms), never relative
 * to the current directory. Nothing here is a secret except the SASL password and the Redis URL's
 * password, which are never logged (acms_cfg_redacted_url). */
#ifndef ACMS_CFG_H
#define ACMS_CFG_H

#include "acms.h"

typedef struct acms_cfg {
    char service[64];                    /* e.g. "acms-adapter" */
    char instance_id[128];               /* ACMS_INSTANCE_ID, default <hostname>-<pid> */
    char brokers[512];                   /* ACMS_KAFKA_BROKERS */
    char redis_url[512];                 /* ACMS_REDIS_URL, redis://[:password@]host:port[/db] */
    char group_id[128];                  /* ACMS_GROUP_ID, default the service name */
    char config_dir[1024];               /* ACMS_CONFIG_DIR, else located (locate.h); "" when none was found */
    char config_dir_tried[2048];         /* the directories looked at when ACMS_CONFIG_DIR is unset */
    char stack_file[1024];               /* the stack file that supplied an address; "" when none did */
    char stack_tried[2048];              /* the stack files looked for ("" when both addresses were set) */
    char work_dir[512];                  /* ACMS_WORK_DIR, default "run/work": step working dirs and logs */
    char log_level[16];                  /* ACMS_LOG_LEVEL, default info */
    char http_addr[64];                  /* ACMS_HTTP_ADDR, default 127.0.0.1 */
    int http_port;                       /* ACMS_HTTP_PORT, default 0 = no health/metrics endpoint */
    int fetch_wait_ms;                   /* ACMS_KAFKA_FETCH_WAIT_MS, default 10 */
    int linger_ms;                       /* ACMS_KAFKA_LINGER_MS, default 2 */
    int queue_kb;                        /* ACMS_KAFKA_QUEUE_KB, default 4096: queued.max.messages.kbytes, the
                                   * consumer's prefetch bound */
    int group_max;                       /* ACMS_GROUP_MAX, 1..64, default 8: events a service handles as one
                                   * group (those already waiting), sharing Redis round trips */
    int fetch_nudge;                     /* ACMS_KAFKA_FETCH_NUDGE, 0|1, default 1: with a librdkafka that has
                                   * no fetch.queue.backoff.ms (< 2.1), wake the fetcher as soon as the
                                   * local queue runs dry instead of after its fixed second */
    int max_in_flight;                   /* ACMS_KAFKA_MAX_IN_FLIGHT, 1..5, default 5: produce requests in flight
                                   * per broker (1 on the devbroker when produce errors are injected) */
    int shutdown_timeout_ms;             /* ACMS_SHUTDOWN_TIMEOUT_MS, default 10000 */
    int session_timeout_ms;              /* ACMS_KAFKA_SESSION_TIMEOUT_MS, default 10000 (a broker refuses less
                                   * than its group.*.min.session.timeout.ms, 6000 by default) */
    int heartbeat_ms;                    /* ACMS_KAFKA_HEARTBEAT_MS, default 1000 */
    int max_poll_interval_ms;            /* ACMS_KAFKA_MAX_POLL_INTERVAL_MS, default 300000 */
    int stall_timeout_ms;                /* ACMS_STALL_TIMEOUT_MS, default 300000: a consume loop with work in
                                   * hand and no progress for longer turns /healthz unhealthy (0 = never) */
    int run_retention_s;                 /* ACMS_RUN_RETENTION_S, default 14 days: a finished run's keys then
                                   * expire (retention.h) */
    int run_compact_s;                   /* ACMS_RUN_COMPACT_S, default 3600: a finished run is then compacted
                                   * to its summary (coordinator) */
    int seen_ttl_s;                      /* ACMS_SEEN_TTL_S, default 31 days: idempotency marks and tombstones;
                                   * at least a day above the longest topic retention */
    char kafka_props_file[512];          /* ACMS_KAFKA_PROPERTIES_FILE: librdkafka name=value lines (docs/bus.md);
                                   * ACMS_KAFKA_PROP_<NAME> variables likewise (applied after the file) */
    char security_protocol[32];          /* ACMS_KAFKA_SECURITY_PROTOCOL (plaintext|ssl|sasl_plaintext|sasl_ssl) */
    char sasl_mechanism[32];             /* ACMS_KAFKA_SASL_MECHANISM */
    char sasl_username[128];             /* ACMS_KAFKA_SASL_USERNAME */
    char sasl_password[256];             /* ACMS_KAFKA_SASL_PASSWORD (never logged) */
    char ssl_ca_location[512];           /* ACMS_KAFKA_SSL_CA_LOCATION */
    char topics[ACMS_TOPIC__COUNT][128]; /* ACMS_TOPIC_<NAME>, e.g. ACMS_TOPIC_CONFIG_SUBMITTED */
} acms_cfg;

/* Fills cfg from the environment (and the stack file). Returns ACMS_OK or ACMS_ERR_INVALID with
 * errstr naming the variable at fault. service is the binary's name. */
int acms_cfg_load(acms_cfg *cfg, const char *service, char *errstr, size_t errstr_size);

/* Name of topic t as configured. */
const char *acms_cfg_topic(const acms_cfg *cfg, acms_topic t);

/* The topic enum for a configured name, or -1. */
int acms_cfg_topic_id(const acms_cfg *cfg, const char *name);

/* The Redis URL with any password replaced by "***" into buf. */
const char *acms_cfg_redacted_url(const char *url, char *buf, size_t size);

/* Reads KEY=VALUE lines of a stack file; calls fn for each. Returns ACMS_OK or ACMS_ERR_NOTFOUND. */
int acms_cfg_read_env_file(const char *path, void (*fn)(void *ud, const char *key, const char *value), void *ud);

/* Prints the environment variables every service reads (for --help). */
void acms_cfg_print_help(const char *service, const char *summary, const char *extra);

#endif
