/* kafka_conf.c: the librdkafka configuration of a bus handle: what every client sets (brokers,
 * credentials, no topic auto-creation, the bus size limit), the idempotent producer, the group
 * consumer (timing from acms_cfg, cooperative-sticky assignment, manual offset store), and last the
 * pass-through properties (ACMS_KAFKA_PROPERTIES_FILE, then ACMS_KAFKA_PROP_<NAME>), which override
 * anything set before them. A property whose name says it is a secret is never echoed. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_int.h"
#include "log.h"

extern char **environ;

#define PROP_PREFIX "ACMS_KAFKA_PROP_"

static int secret_name(const char *name)
{
    return strstr(name, "password") || strstr(name, "secret") || strstr(name, "key") || strstr(name, "token");
}

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, int secret, char *errstr,
                    size_t errstr_size)
{
    char err[512];

    if (rd_kafka_conf_set(conf, name, value, err, sizeof err) == RD_KAFKA_CONF_OK)
        return 0;
    if (secret || secret_name(name))
        snprintf(errstr, errstr_size, "kafka: cannot set %s (value not shown)", name);
    else
        snprintf(errstr, errstr_size, "kafka: %s=%s: %s", name, value, err);
    return -1;
}

static int conf_int(rd_kafka_conf_t *conf, const char *name, int v, char *errstr, size_t errstr_size)
{
    char buf[24];

    snprintf(buf, sizeof buf, "%d", v);
    return conf_set(conf, name, buf, 0, errstr, errstr_size);
}

/* Applies one pass-through property; where says where it came from (for errors). */
static int prop_set(rd_kafka_conf_t *conf, const char *name, const char *value, const char *where, char *errstr,
                    size_t errstr_size)
{
    char err[512];

    if (conf_set(conf, name, value, 0, err, sizeof err)) {
        snprintf(errstr, errstr_size, "%s: %s", where, err);
        return -1;
    }
    acms_log_debug(NULL, NULL, "kafka: %s: %s=%s", where, name, secret_name(name) ? "***" : value);
    return 0;
}

/* ACMS_KAFKA_PROPERTIES_FILE: name=value lines, '#' comments, blanks ignored. */
static int props_file(rd_kafka_conf_t *conf, const char *path, char *errstr, size_t errstr_size)
{
    FILE *f = fopen(path, "r");
    char line[4096], where[600];
    int n = 0, rc = 0;

    if (!f) {
        snprintf(errstr, errstr_size, "ACMS_KAFKA_PROPERTIES_FILE: cannot read %s", path);
        return -1;
    }
    while (!rc && fgets(line, sizeof line, f)) {
        char *s = line, *eq, *end;
        n++;
        while (isspace((unsigned char)*s))
            s++;
        end = s + strlen(s);
        while (end > s && isspace((unsigned char)end[-1]))
            *--end = '\0';
        if (!*s || *s == '#')
            continue;
        eq = strchr(s, '=');
        if (!eq) {
            snprintf(errstr, errstr_size, "%s:%d: expected name=value", path, n);
            rc = -1;
            break;
        }
        *eq = '\0';
        for (end = eq; end > s && isspace((unsigned char)end[-1]);)
            *--end = '\0';
        for (eq++; isspace((unsigned char)*eq); eq++)
            ;
        snprintf(where, sizeof where, "%s:%d", path, n);
        rc = prop_set(conf, s, eq, where, errstr, errstr_size);
    }
    fclose(f);
    return rc;
}

/* ACMS_KAFKA_PROP_<NAME>=value: NAME lower-cased, '_' read as '.' (ACMS_KAFKA_PROP_CLIENT_RACK -> client.rack). */
static int props_env(rd_kafka_conf_t *conf, char *errstr, size_t errstr_size)
{
    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        char name[256];
        size_t i, n;

        if (strncmp(*e, PROP_PREFIX, sizeof PROP_PREFIX - 1) || !eq)
            continue;
        n = (size_t)(eq - *e) - (sizeof PROP_PREFIX - 1);
        if (n == 0 || n >= sizeof name)
            continue;
        for (i = 0; i < n; i++) {
            char c = (*e)[sizeof PROP_PREFIX - 1 + i];
            name[i] = c == '_' ? '.' : (char)tolower((unsigned char)c);
        }
        name[n] = '\0';
        if (prop_set(conf, name, eq + 1, PROP_PREFIX "...", errstr, errstr_size))
            return -1;
    }
    return 0;
}

/* Applies the pass-through properties (last: they override). */
int acms_kafka__passthrough(const acms_cfg *c, rd_kafka_conf_t *conf, char *errstr, size_t errstr_size)
{
    if (c->kafka_props_file[0] && props_file(conf, c->kafka_props_file, errstr, errstr_size))
        return -1;
    return props_env(conf, errstr, errstr_size);
}

rd_kafka_conf_t *acms_kafka__base_conf(acms_kafka *k, char *errstr, size_t errstr_size)
{
    const acms_cfg *c = &k->cfg;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    if (conf_set(conf, "bootstrap.servers", c->brokers, 0, errstr, errstr_size) ||
        (c->instance_id[0] && conf_set(conf, "client.id", c->instance_id, 0, errstr, errstr_size)) ||
        (c->security_protocol[0] &&
         conf_set(conf, "security.protocol", c->security_protocol, 0, errstr, errstr_size)) ||
        (c->sasl_mechanism[0] && conf_set(conf, "sasl.mechanisms", c->sasl_mechanism, 0, errstr, errstr_size)) ||
        (c->sasl_username[0] && conf_set(conf, "sasl.username", c->sasl_username, 0, errstr, errstr_size)) ||
        (c->sasl_password[0] && conf_set(conf, "sasl.password", c->sasl_password, 1, errstr, errstr_size)) ||
        (c->ssl_ca_location[0] && conf_set(conf, "ssl.ca.location", c->ssl_ca_location, 0, errstr, errstr_size)) ||
        /* back quickly after a broker restart (default max 10 s), before group sessions time out */
        conf_int(conf, "reconnect.backoff.max.ms", 1000, errstr, errstr_size) ||
        /* topics come from deploy/topics.yaml only; a missing one is a readiness failure */
        conf_set(conf, "allow.auto.create.topics", "false", 0, errstr, errstr_size)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_opaque(conf, k);
    rd_kafka_conf_set_log_cb(conf, acms_kafka__log_cb);
    rd_kafka_conf_set_error_cb(conf, acms_kafka__error_cb);
    return conf;
}

int acms_kafka__producer_conf(acms_kafka *k, rd_kafka_conf_t *conf, char *errstr, size_t errstr_size)
{
    int linger = k->cfg.linger_ms >= 0 ? k->cfg.linger_ms : 2;

    int in_flight = k->cfg.max_in_flight >= 1 && k->cfg.max_in_flight <= 5 ? k->cfg.max_in_flight : 5;

    if (conf_set(conf, "enable.idempotence", "true", 0, errstr, errstr_size) ||
        conf_int(conf, "linger.ms", linger, errstr, errstr_size) ||
        conf_int(conf, "max.in.flight.requests.per.connection", in_flight, errstr, errstr_size) ||
        /* the one bus size limit (acms.h): no batch larger than a topic's max.message.bytes */
        conf_int(conf, "message.max.bytes", ACMS_BUS_MAX_BYTES, errstr, errstr_size) ||
        conf_int(conf, "batch.size", ACMS_BUS_MAX_BYTES, errstr, errstr_size))
        return -1;
    rd_kafka_conf_set_dr_msg_cb(conf, acms_kafka__dr_cb);
    return acms_kafka__passthrough(&k->cfg, conf, errstr, errstr_size);
}

int acms_kafka__consumer_conf(acms_kafka *k, rd_kafka_conf_t *conf, const char *group_id, char *errstr,
                              size_t errstr_size)
{
    int fetch_wait = k->cfg.fetch_wait_ms > 0 ? k->cfg.fetch_wait_ms : 10;
    int queue_kb = k->cfg.queue_kb >= 1024 ? k->cfg.queue_kb : 4096;

    int session = k->cfg.session_timeout_ms > 0 ? k->cfg.session_timeout_ms : 10000;
    int heartbeat = k->cfg.heartbeat_ms > 0 ? k->cfg.heartbeat_ms : 1000;
    int poll_interval = k->cfg.max_poll_interval_ms > 0 ? k->cfg.max_poll_interval_ms : 300000;

    k->queue_bytes = (int64_t)queue_kb * 1024;

    if (conf_set(conf, "group.id", group_id, 0, errstr, errstr_size) ||
        conf_set(conf, "enable.auto.offset.store", "false", 0, errstr, errstr_size) ||
        conf_set(conf, "enable.auto.commit", "true", 0, errstr, errstr_size) ||
        conf_int(conf, "auto.commit.interval.ms", 200, errstr, errstr_size) ||
        conf_set(conf, "auto.offset.reset", "earliest", 0, errstr, errstr_size) ||
        conf_int(conf, "fetch.wait.max.ms", fetch_wait, errstr, errstr_size) ||
        conf_int(conf, "fetch.error.backoff.ms", 10, errstr, errstr_size) ||
        conf_int(conf, "session.timeout.ms", session, errstr, errstr_size) ||
        conf_int(conf, "heartbeat.interval.ms", heartbeat, errstr, errstr_size) ||
        conf_int(conf, "max.poll.interval.ms", poll_interval, errstr, errstr_size) ||
        /* Bounded prefetch (bench/README.md): with the defaults (64 MiB queued, 50 MiB fetches)
         * a service with a backlog peaked near 80 MiB; these keep it under 32 MiB. With librdkafka
         * < 2.1 a full queue stops fetching for a second: the consume loop's fetch nudge takes that
         * cost away (kafka_loop.c). ACMS_KAFKA_QUEUE_KB overrides the 4096. */
        conf_int(conf, "queued.max.messages.kbytes", queue_kb, errstr, errstr_size) ||
        conf_int(conf, "fetch.max.bytes", 2 * 1024 * 1024, errstr, errstr_size) ||
        /* incremental rebalances: a member joining or leaving moves only the partitions it must
         * (kafka_loop.c's rebalance callback assigns and revokes incrementally) */
        conf_set(conf, "partition.assignment.strategy", "cooperative-sticky", 0, errstr, errstr_size))
        return -1;
    /* librdkafka >= 2.1 re-fetches after fetch.queue.backoff.ms once the prefetch queue has room;
     * before it, after a fixed second, which the consume loop shortens (k->nudge, kafka_loop.c). */
    char tmp[256];
    k->nudge = 0;
    if (rd_kafka_conf_set(conf, "fetch.queue.backoff.ms", "10", tmp, sizeof tmp) != RD_KAFKA_CONF_OK)
        k->nudge = k->cfg.fetch_nudge;
    rd_kafka_conf_set_rebalance_cb(conf, acms_kafka__rebalance_cb);
    return acms_kafka__passthrough(&k->cfg, conf, errstr, errstr_size);
}
