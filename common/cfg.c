/* cfg.c: configuration from environment variables, with the local stack file as a fallback for
 * the broker and Redis addresses. Every value is bounded; a value too long or not a number is an
 * error naming the variable. */
#include "cfg.h"
#include "retention.h"

#include "locate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int set_str(char *dst, size_t size, const char *var, const char *def, char *errstr, size_t errsz)
{
    const char *v = getenv(var);
    if (!v || !*v)
        v = def;
    if (!v) {
        dst[0] = '\0';
        return ACMS_OK;
    }
    int n = snprintf(dst, size, "%s", v);
    if (n < 0 || (size_t)n >= size) {
        snprintf(errstr, errsz, "%s is too long (at most %zu characters)", var, size - 1);
        return ACMS_ERR_INVALID;
    }
    return ACMS_OK;
}

static int set_int(int *dst, const char *var, int def, int min, int max, char *errstr, size_t errsz)
{
    const char *v = getenv(var);
    if (!v || !*v) {
        *dst = def;
        return ACMS_OK;
    }
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || n < min || n > max) {
        snprintf(errstr, errsz, "%s must be an integer from %d to %d (got \"%s\")", var, min, max, v);
        return ACMS_ERR_INVALID;
    }
    *dst = (int)n;
    return ACMS_OK;
}

int acms_cfg_read_env_file(const char *path, void (*fn)(void *ud, const char *key, const char *value), void *ud)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return ACMS_ERR_NOTFOUND;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || !line[0])
            continue;
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        const char *key = line;
        if (!strncmp(key, "export ", 7))
            key += 7;
        fn(ud, key, eq + 1);
    }
    fclose(f);
    return ACMS_OK;
}

static void stack_value(void *ud, const char *key, const char *value)
{
    acms_cfg *cfg = ud;
    if (!strcmp(key, "ACMS_KAFKA_BROKERS") && !cfg->brokers[0])
        snprintf(cfg->brokers, sizeof cfg->brokers, "%s", value);
    else if (!strcmp(key, "ACMS_REDIS_URL") && !cfg->redis_url[0])
        snprintf(cfg->redis_url, sizeof cfg->redis_url, "%s", value);
}

/* The stack file for unset addresses and the configuration directory when ACMS_CONFIG_DIR is unset
 * (locate.h), each remembered with what was looked at. */
static void locate_defaults(acms_cfg *cfg)
{
    acms_located l;
    if (!cfg->brokers[0] || !cfg->redis_url[0]) {
        acms_locate_stack_file(&l);
        snprintf(cfg->stack_tried, sizeof cfg->stack_tried, "%s", l.tried);
        if (l.path[0] && acms_cfg_read_env_file(l.path, stack_value, cfg) == ACMS_OK)
            snprintf(cfg->stack_file, sizeof cfg->stack_file, "%s", l.path);
    }
    if (!cfg->config_dir[0]) {
        acms_locate_config_dir(&l);
        snprintf(cfg->config_dir, sizeof cfg->config_dir, "%s", l.path);
        snprintf(cfg->config_dir_tried, sizeof cfg->config_dir_tried, "%s", l.tried);
    }
}

static const char *const topic_vars[ACMS_TOPIC__COUNT] = {
    "ACMS_TOPIC_CONFIG_SUBMITTED",   "ACMS_TOPIC_CONFIG_PREPARED", "ACMS_TOPIC_CONFIG_VALIDATED",
    "ACMS_TOPIC_VALIDATION_RESULTS", "ACMS_TOPIC_EXEC_STEPS",      "ACMS_TOPIC_EXEC_RESULTS",
    "ACMS_TOPIC_EXEC_ADAPTATIONS",   "ACMS_TOPIC_EXEC_ADAPTED",    "ACMS_TOPIC_MONITOR_ALERTS",
    "ACMS_TOPIC_FEEDBACK_INSIGHTS",  "ACMS_TOPIC_CONTROL",         "ACMS_TOPIC_DEADLETTER",
};

int acms_cfg_load(acms_cfg *cfg, const char *service, char *errstr, size_t errsz)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->service, sizeof cfg->service, "%s", service);
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    char defid[128];
    snprintf(defid, sizeof defid, "%s-%ld", host, (long)getpid());
    int rc;
    if ((rc = set_str(cfg->instance_id, sizeof cfg->instance_id, "ACMS_INSTANCE_ID", defid, errstr, errsz)) ||
        (rc = set_str(cfg->brokers, sizeof cfg->brokers, "ACMS_KAFKA_BROKERS", NULL, errstr, errsz)) ||
        (rc = set_str(cfg->redis_url, sizeof cfg->redis_url, "ACMS_REDIS_URL", NULL, errstr, errsz)) ||
        (rc = set_str(cfg->group_id, sizeof cfg->group_id, "ACMS_GROUP_ID", service, errstr, errsz)) ||
        (rc = set_str(cfg->config_dir, sizeof cfg->config_dir, "ACMS_CONFIG_DIR", NULL, errstr, errsz)) ||
        (rc = set_str(cfg->work_dir, sizeof cfg->work_dir, "ACMS_WORK_DIR", "run/work", errstr, errsz)) ||
        (rc = set_str(cfg->log_level, sizeof cfg->log_level, "ACMS_LOG_LEVEL", "info", errstr, errsz)) ||
        (rc = set_str(cfg->http_addr, sizeof cfg->http_addr, "ACMS_HTTP_ADDR", "127.0.0.1", errstr, errsz)) ||
        (rc = set_int(&cfg->http_port, "ACMS_HTTP_PORT", 0, 0, 65535, errstr, errsz)) ||
        (rc = set_int(&cfg->fetch_wait_ms, "ACMS_KAFKA_FETCH_WAIT_MS", 10, 0, 60000, errstr, errsz)) ||
        (rc = set_int(&cfg->linger_ms, "ACMS_KAFKA_LINGER_MS", 2, 0, 60000, errstr, errsz)) ||
        (rc = set_int(&cfg->queue_kb, "ACMS_KAFKA_QUEUE_KB", 4096, 1024, 2097151, errstr, errsz)) ||
        (rc = set_int(&cfg->fetch_nudge, "ACMS_KAFKA_FETCH_NUDGE", 1, 0, 1, errstr, errsz)) ||
        (rc = set_int(&cfg->group_max, "ACMS_GROUP_MAX", 8, 1, 64, errstr, errsz)) ||
        (rc = set_int(&cfg->max_in_flight, "ACMS_KAFKA_MAX_IN_FLIGHT", 5, 1, 5, errstr, errsz)) ||
        (rc = set_int(&cfg->shutdown_timeout_ms, "ACMS_SHUTDOWN_TIMEOUT_MS", 10000, 0, 600000, errstr, errsz)) ||
        (rc = set_int(&cfg->session_timeout_ms, "ACMS_KAFKA_SESSION_TIMEOUT_MS", 10000, 1000, 3600000, errstr,
                      errsz)) ||
        (rc = set_int(&cfg->heartbeat_ms, "ACMS_KAFKA_HEARTBEAT_MS", 1000, 100, 3600000, errstr, errsz)) ||
        (rc = set_int(&cfg->max_poll_interval_ms, "ACMS_KAFKA_MAX_POLL_INTERVAL_MS", 300000, 1000, 86400000, errstr,
                      errsz)) ||
        (rc = set_int(&cfg->stall_timeout_ms, "ACMS_STALL_TIMEOUT_MS", 300000, 0, 86400000, errstr, errsz)) ||
        (rc = set_int(&cfg->run_retention_s, "ACMS_RUN_RETENTION_S", ACMS_RUN_RETENTION_DEFAULT_S, 1, 1 << 30, errstr,
                      errsz)) ||
        (rc = set_int(&cfg->run_compact_s, "ACMS_RUN_COMPACT_S", ACMS_RUN_COMPACT_DEFAULT_S, 0, 1 << 30, errstr,
                      errsz)) ||
        (rc = set_int(&cfg->seen_ttl_s, "ACMS_SEEN_TTL_S", ACMS_SEEN_TTL_DEFAULT_S, 60, 1 << 30, errstr, errsz)) ||
        (rc = set_str(cfg->kafka_props_file, sizeof cfg->kafka_props_file, "ACMS_KAFKA_PROPERTIES_FILE", NULL, errstr,
                      errsz)) ||
        (rc = set_str(cfg->security_protocol, sizeof cfg->security_protocol, "ACMS_KAFKA_SECURITY_PROTOCOL", NULL,
                      errstr, errsz)) ||
        (rc = set_str(cfg->sasl_mechanism, sizeof cfg->sasl_mechanism, "ACMS_KAFKA_SASL_MECHANISM", NULL, errstr,
                      errsz)) ||
        (rc = set_str(cfg->sasl_username, sizeof cfg->sasl_username, "ACMS_KAFKA_SASL_USERNAME", NULL, errstr,
                      errsz)) ||
        (rc = set_str(cfg->sasl_password, sizeof cfg->sasl_password, "ACMS_KAFKA_SASL_PASSWORD", NULL, errstr,
                      errsz)) ||
        (rc = set_str(cfg->ssl_ca_location, sizeof cfg->ssl_ca_location, "ACMS_KAFKA_SSL_CA_LOCATION", NULL, errstr,
                      errsz)))
        return rc;
    for (int t = 0; t < ACMS_TOPIC__COUNT; t++) {
        rc = set_str(cfg->topics[t], sizeof cfg->topics[t], topic_vars[t], acms_topic_default_name((acms_topic)t),
                     errstr, errsz);
        if (rc)
            return rc;
    }
    locate_defaults(cfg);
    if (!cfg->brokers[0])
        snprintf(cfg->brokers, sizeof cfg->brokers, "127.0.0.1:9092");
    if (!cfg->redis_url[0])
        snprintf(cfg->redis_url, sizeof cfg->redis_url, "redis://127.0.0.1:6379");
    return ACMS_OK;
}

const char *acms_cfg_topic(const acms_cfg *cfg, acms_topic t)
{
    if ((int)t < 0 || t >= ACMS_TOPIC__COUNT)
        return "";
    return cfg->topics[t];
}

int acms_cfg_topic_id(const acms_cfg *cfg, const char *name)
{
    for (int t = 0; t < ACMS_TOPIC__COUNT; t++)
        if (!strcmp(cfg->topics[t], name))
            return t;
    return -1;
}

const char *acms_cfg_redacted_url(const char *url, char *buf, size_t size)
{
    const char *scheme = strstr(url, "://");
    const char *at = strrchr(url, '@');
    if (!scheme || !at || at < scheme) {
        snprintf(buf, size, "%s", url);
        return buf;
    }
    snprintf(buf, size, "%.*s***%s", (int)(scheme + 3 - url), url, at);
    return buf;
}

void acms_cfg_print_help(const char *service, const char *summary, const char *extra)
{
    printf("%s %s: %s\n\n", service, ACMS_VERSION, summary);
    printf("Usage: %s [--help] [--version]\n\n", service);
    printf("Configuration is read from the environment only:\n"
           "  ACMS_KAFKA_BROKERS          bootstrap servers (default: the stack file, then 127.0.0.1:9092)\n"
           "  ACMS_REDIS_URL              redis://[:password@]host:port[/db] (default: the stack file, then\n"
           "                              redis://127.0.0.1:6379)\n"
           "  ACMS_STACK_ENV              stack file to read the two above from (default: run/stack.env of\n"
           "                              the repository the binary was built in, or <prefix>/etc/acms/stack.env\n"
           "                              of its install prefix, then ~/.config/acms/stack.env)\n"
           "  ACMS_GROUP_ID               consumer group (default: the service name)\n"
           "  ACMS_INSTANCE_ID            this replica's id (default <hostname>-<pid>)\n"
           "  ACMS_CONFIG_DIR             catalogue, environment profiles, policies (default: examples/ of\n"
           "                              the repository, or <prefix>/share/acms/examples, then ~/.config/acms)\n"
           "  ACMS_WORK_DIR               step working directories and logs (default run/work)\n"
           "  ACMS_LOG_LEVEL              debug | info | warn | error (default info)\n"
           "  ACMS_HTTP_ADDR, ACMS_HTTP_PORT  /healthz /readyz /metrics endpoint (port 0 = off; default\n"
           "                              127.0.0.1:0)\n"
           "  ACMS_KAFKA_FETCH_WAIT_MS    fetch.wait.max.ms (default 10)\n"
           "  ACMS_KAFKA_LINGER_MS        linger.ms (default 2)\n"
           "  ACMS_KAFKA_QUEUE_KB         queued.max.messages.kbytes, the consumer's prefetch (default 4096)\n"
           "  ACMS_GROUP_MAX              events already waiting that the adapter and validator handle as\n"
           "                              one group, sharing Redis round trips, 1..64 (default 8)\n"
           "  ACMS_KAFKA_FETCH_NUDGE      1: librdkafka < 2.1 fetches again as soon as the prefetch queue\n"
           "                              runs dry, not a second later (default 1; 0 = off)\n"
           "  ACMS_KAFKA_MAX_IN_FLIGHT    produce requests in flight per broker, 1..5 (default 5; 1 when\n"
           "                              the devbroker injects produce errors: see its --help)\n"
           "  ACMS_SHUTDOWN_TIMEOUT_MS    budget of a graceful shutdown after SIGTERM: exit within it + ~1 s\n"
           "                              (default 10000)\n"
           "  ACMS_KAFKA_SESSION_TIMEOUT_MS, ACMS_KAFKA_HEARTBEAT_MS, ACMS_KAFKA_MAX_POLL_INTERVAL_MS\n"
           "                              consumer group timing (default 10000, 1000, 300000)\n"
           "  ACMS_STALL_TIMEOUT_MS       work in hand and no progress for longer: /healthz 503 (default\n"
           "                              300000; 0 = never)\n"
           "  ACMS_RUN_RETENTION_S        a finished run's Redis keys expire this long after it ends (default\n"
           "                              1209600 = 14 days; docs/operations.md)\n"
           "  ACMS_RUN_COMPACT_S          a finished run is compacted to its summary this long after it ends\n"
           "                              (default 3600; the coordinator's sweep)\n"
           "  ACMS_SEEN_TTL_S             idempotency marks live this long: at least a day more than the\n"
           "                              longest topic retention (default 2678400 = 31 days)\n"
           "  ACMS_KAFKA_PROPERTIES_FILE  librdkafka properties, one name=value a line (# comments)\n"
           "  ACMS_KAFKA_PROP_<NAME>      one librdkafka property, '_' for '.': ACMS_KAFKA_PROP_CLIENT_RACK=r1\n"
           "  ACMS_KAFKA_SECURITY_PROTOCOL, ACMS_KAFKA_SASL_MECHANISM, ACMS_KAFKA_SASL_USERNAME,\n"
           "  ACMS_KAFKA_SASL_PASSWORD, ACMS_KAFKA_SSL_CA_LOCATION   passed to librdkafka as given\n"
           "  ACMS_TOPIC_<NAME>           topic names, e.g. ACMS_TOPIC_CONFIG_SUBMITTED=acms.config.submitted\n");
    if (extra)
        printf("%s", extra);
}
