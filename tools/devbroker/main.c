/* main.c (acms-devbroker): the embedded development Kafka: librdkafka's in-memory mock cluster on
 * loopback with the ACMS topics pre-created, its bootstrap string published on stdout and in an
 * env file, and a unix-socket control interface for fault injection in tests.
 * Signals are taken through a signalfd (blocked in every thread), so no handler and no global.
 * The mock thread may sleep up to 1 s before serving a request from this process (a wake-up lost
 * in librdkafka 2.0.2); a "kicker" thread connects to a broker port while a request is pending. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "acms.h"
#include "log.h"

#define MAX_CLIENTS 16
#define MAX_EXTRA_TOPICS 64
#define LINE_MAX_BYTES 1024
#define MAX_PARTITIONS 1000

typedef struct client {
    int fd; /* -1 = free slot */
    size_t len;
    char buf[LINE_MAX_BYTES];
} client;

/* Wakes the mock cluster thread (see the file comment) while `busy` is set. */
typedef struct kicker {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int busy;
    int quit;
    int started;
    int ports[32];
    int nports;
} kicker;

typedef struct devbroker {
    int brokers;
    int partitions;
    const char *env_file;
    const char *control;
    const char *extra[MAX_EXTRA_TOPICS];
    size_t nextra;
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mc;
    int sig_fd;
    int listen_fd;
    client clients[MAX_CLIENTS];
    kicker kick;
} devbroker;

static void usage(FILE *out)
{
    fprintf(out, "Usage: acms-devbroker [OPTIONS]\n"
                 "\n"
                 "Development Kafka for one machine: librdkafka's mock cluster, listening on 127.0.0.1.\n"
                 "Creates the 12 ACMS topics (acms.config.submitted ... acms.deadletter), prints\n"
                 "ACMS_KAFKA_BROKERS=<bootstrap list> on stdout and runs until SIGTERM or SIGINT.\n"
                 "\n"
                 "Options:\n"
                 "  --brokers N          number of brokers, ids 1..N (default 1)\n"
                 "  --partitions P       partitions of every ACMS topic (default 6)\n"
                 "  --topic NAME[:P]     create an extra topic (repeatable; P defaults to --partitions)\n"
                 "  --env-file PATH      also write ACMS_KAFKA_BROKERS=... to PATH (atomically; removed at exit)\n"
                 "  --control PATH       listen on a unix socket for fault-injection commands (see below)\n"
                 "  --help, --version\n"
                 "\n"
                 "Limits (those of the mock cluster in librdkafka 2.0.2; for development and tests only):\n"
                 "  - everything is in memory and lost at exit; no SSL, no SASL, no admin API\n"
                 "  - the ports are random (chosen by librdkafka): read the bootstrap list from stdout\n"
                 "    or the env file\n"
                 "  - each partition keeps at most 5 MiB or 100,000 message sets; older data is dropped\n"
                 "    SILENTLY: give topics enough partitions and keep consumers caught up\n"
                 "  - consumer groups use the classic protocol; the first join waits about 3 s\n"
                 "  - an idempotent producer's retries are not de-duplicated; transactions are not\n"
                 "    verifiable (aborted data is visible to read_committed consumers)\n"
                 "  - sequence numbers are not checked: after injected produce errors (request-errors\n"
                 "    produce ...) a producer with several requests in flight can have an earlier batch\n"
                 "    implicitly acknowledged by a later one and LOST; clients that must not lose\n"
                 "    anything then need one request in flight (ACMS_KAFKA_MAX_IN_FLIGHT=1)\n"
                 "  - other topics are auto-created on first use with the default partition count\n"
                 "\n"
                 "Control commands (one per line; each answered \"ok\" or \"error: ...\"):\n"
                 "  ping                                   liveness\n"
                 "  bootstraps                             answers \"ok <bootstrap list>\"\n"
                 "  broker-down ID | broker-up ID          disconnect a broker / accept again (ID -1 = all)\n"
                 "  rtt ID MS                              add MS of round-trip delay on broker ID\n"
                 "  request-errors APIKEY COUNT ERRCODE    fail the next COUNT requests of APIKEY\n"
                 "  clear-request-errors APIKEY            forget pushed request errors\n"
                 "  leader TOPIC PARTITION BROKERID        move a partition leader\n"
                 "  coordinator group|txn KEY BROKERID     move a group or transaction coordinator\n"
                 "  topic-error TOPIC ERRCODE              answer metadata for TOPIC with ERRCODE (0 clears)\n"
                 "  create-topic NAME PARTITIONS           create a topic\n"
                 "  APIKEY: produce fetch listoffsets metadata offsetcommit offsetfetch findcoordinator\n"
                 "          joingroup heartbeat leavegroup syncgroup apiversions initproducerid, or a number\n"
                 "  ERRCODE: a librdkafka error name (NOT_LEADER_FOR_PARTITION, _TRANSPORT to force a\n"
                 "           disconnect, ...) or a number\n"
                 "  e.g.  tools/devbroker-ctl run/broker.sock request-errors produce 3 NOT_LEADER_FOR_PARTITION\n");
}

/* --- parsing helpers ---------------------------------------------------------------------- */

static int nodelay_listeners(void);

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v;

    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_api_key(const char *s, int16_t *out)
{
    static const struct {
        const char *name;
        int16_t key;
    } keys[] = {
        {"produce", 0},          {"fetch", 1},        {"listoffsets", 2},      {"metadata", 3},
        {"offsetcommit", 8},     {"offsetfetch", 9},  {"findcoordinator", 10}, {"joingroup", 11},
        {"heartbeat", 12},       {"leavegroup", 13},  {"syncgroup", 14},       {"describegroups", 15},
        {"listgroups", 16},      {"apiversions", 18}, {"initproducerid", 22},  {"addpartitionstotxn", 24},
        {"addoffsetstotxn", 25}, {"endtxn", 26},      {"txnoffsetcommit", 28},
    };
    size_t i;
    long v;

    for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (!strcasecmp(s, keys[i].name)) {
            *out = keys[i].key;
            return 0;
        }
    }
    if (parse_long(s, 0, 100, &v))
        return -1;
    *out = (int16_t)v;
    return 0;
}

static int parse_err(const char *s, rd_kafka_resp_err_t *out)
{
    const struct rd_kafka_err_desc *descs;
    size_t n, i;
    long v;

    if (!strncasecmp(s, "RD_KAFKA_RESP_ERR_", 18))
        s += 18;
    rd_kafka_get_err_descs(&descs, &n);
    for (i = 0; i < n; i++) {
        if (descs[i].name && !strcasecmp(descs[i].name, s)) {
            *out = descs[i].code;
            return 0;
        }
    }
    if (parse_long(s, -200, 1000, &v))
        return -1;
    *out = (rd_kafka_resp_err_t)v;
    return 0;
}

/* --- kicker ------------------------------------------------------------------------------- */

static void poke(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    (void)!connect(fd, (struct sockaddr *)&sa, sizeof sa);
    close(fd);
}

static void *kick_main(void *arg)
{
    kicker *k = arg;
    struct timespec ten_ms = {0, 10 * 1000 * 1000};

    pthread_mutex_lock(&k->lock);
    while (!k->quit) {
        if (!k->busy) {
            pthread_cond_wait(&k->cond, &k->lock);
            continue;
        }
        pthread_mutex_unlock(&k->lock);
        nanosleep(&ten_ms, NULL);
        for (int i = 0; i < k->nports; i++)
            poke(k->ports[i]);
        pthread_mutex_lock(&k->lock);
    }
    pthread_mutex_unlock(&k->lock);
    return NULL;
}

/* Reads the ports of "127.0.0.1:p1,127.0.0.1:p2" and starts the thread. Best effort. */
static void kick_start(kicker *k, const char *bootstraps)
{
    const char *p = bootstraps;

    while (p && *p && k->nports < 32) {
        const char *colon = strchr(p, ':');
        if (!colon)
            break;
        k->ports[k->nports++] = atoi(colon + 1);
        p = strchr(colon, ',');
        if (p)
            p++;
    }
    pthread_mutex_init(&k->lock, NULL);
    pthread_cond_init(&k->cond, NULL);
    k->started = pthread_create(&k->thread, NULL, kick_main, k) == 0;
}

static void kick_set(kicker *k, int busy)
{
    if (!k->started)
        return;
    pthread_mutex_lock(&k->lock);
    k->busy = busy;
    pthread_cond_signal(&k->cond);
    pthread_mutex_unlock(&k->lock);
}

static void kick_stop(kicker *k)
{
    if (!k->started)
        return;
    pthread_mutex_lock(&k->lock);
    k->quit = 1;
    pthread_cond_signal(&k->cond);
    pthread_mutex_unlock(&k->lock);
    pthread_join(k->thread, NULL);
    k->started = 0;
}

/* --- control commands --------------------------------------------------------------------- */

static void answer_err(char *reply, size_t size, rd_kafka_resp_err_t err)
{
    if (err)
        snprintf(reply, size, "error: %s (%s)\n", rd_kafka_err2name(err), rd_kafka_err2str(err));
    else
        snprintf(reply, size, "ok\n");
}

/* One command: argv[0] is its name, argc was checked against the table. Writes reply. */
typedef void command_fn(devbroker *d, char **argv, char *reply, size_t size);

static void cmd_ping(devbroker *d, char **argv, char *reply, size_t size)
{
    (void)d;
    (void)argv;
    snprintf(reply, size, "ok\n");
}

static void cmd_bootstraps(devbroker *d, char **argv, char *reply, size_t size)
{
    (void)argv;
    snprintf(reply, size, "ok %s\n", rd_kafka_mock_cluster_bootstraps(d->mc));
}

static void cmd_broker_updown(devbroker *d, char **argv, char *reply, size_t size)
{
    long a;
    if (parse_long(argv[1], -1, d->brokers, &a) || a == 0) {
        snprintf(reply, size, "error: broker id must be 1..%d or -1\n", d->brokers);
        return;
    }
    rd_kafka_resp_err_t err = argv[0][7] == 'd' ? rd_kafka_mock_broker_set_down(d->mc, (int32_t)a)
                                                : rd_kafka_mock_broker_set_up(d->mc, (int32_t)a);
    nodelay_listeners(); /* in case a listener was made anew */
    answer_err(reply, size, err);
}

static void cmd_rtt(devbroker *d, char **argv, char *reply, size_t size)
{
    long a, b;
    if (parse_long(argv[1], -1, d->brokers, &a) || a == 0 || parse_long(argv[2], 0, 600000, &b)) {
        snprintf(reply, size, "error: usage: rtt ID(1..%d|-1) MS\n", d->brokers);
        return;
    }
    answer_err(reply, size, rd_kafka_mock_broker_set_rtt(d->mc, (int32_t)a, (int)b));
}

static void cmd_request_errors(devbroker *d, char **argv, char *reply, size_t size)
{
    int16_t key;
    long a;
    rd_kafka_resp_err_t err;
    if (parse_api_key(argv[1], &key) || parse_long(argv[2], 1, 100000, &a) || parse_err(argv[3], &err)) {
        snprintf(reply, size, "error: bad API key, count (1..100000) or error code\n");
        return;
    }
    rd_kafka_resp_err_t *errs = malloc((size_t)a * sizeof *errs);
    if (!errs) {
        snprintf(reply, size, "error: out of memory\n");
        return;
    }
    for (long i = 0; i < a; i++)
        errs[i] = err;
    rd_kafka_mock_push_request_errors_array(d->mc, key, (size_t)a, errs);
    free(errs);
    snprintf(reply, size, "ok\n");
}

static void cmd_clear_request_errors(devbroker *d, char **argv, char *reply, size_t size)
{
    int16_t key;
    if (parse_api_key(argv[1], &key)) {
        snprintf(reply, size, "error: bad API key\n");
        return;
    }
    rd_kafka_mock_clear_request_errors(d->mc, key);
    snprintf(reply, size, "ok\n");
}

static void cmd_leader(devbroker *d, char **argv, char *reply, size_t size)
{
    long a, b;
    if (parse_long(argv[2], 0, MAX_PARTITIONS, &a) || parse_long(argv[3], -1, d->brokers, &b)) {
        snprintf(reply, size, "error: usage: leader TOPIC PARTITION BROKERID\n");
        return;
    }
    answer_err(reply, size, rd_kafka_mock_partition_set_leader(d->mc, argv[1], (int32_t)a, (int32_t)b));
}

static void cmd_coordinator(devbroker *d, char **argv, char *reply, size_t size)
{
    long b;
    const char *type = !strcmp(argv[1], "group") ? "group" : (!strcmp(argv[1], "txn") ? "transaction" : NULL);
    if (!type || parse_long(argv[3], -1, 1000000, &b)) {
        snprintf(reply, size, "error: usage: coordinator group|txn KEY BROKERID\n");
        return;
    }
    answer_err(reply, size, rd_kafka_mock_coordinator_set(d->mc, type, argv[2], (int32_t)b));
}

static void cmd_topic_error(devbroker *d, char **argv, char *reply, size_t size)
{
    rd_kafka_resp_err_t err;
    if (parse_err(argv[2], &err)) {
        snprintf(reply, size, "error: bad error code\n");
        return;
    }
    rd_kafka_mock_topic_set_error(d->mc, argv[1], err);
    snprintf(reply, size, "ok\n");
}

static void cmd_create_topic(devbroker *d, char **argv, char *reply, size_t size)
{
    long a;
    if (parse_long(argv[2], 1, MAX_PARTITIONS, &a)) {
        snprintf(reply, size, "error: partitions must be 1..%d\n", MAX_PARTITIONS);
        return;
    }
    answer_err(reply, size, rd_kafka_mock_topic_create(d->mc, argv[1], (int)a, d->brokers < 3 ? d->brokers : 3));
}

static void cmd_help(devbroker *d, char **argv, char *reply, size_t size)
{
    (void)d;
    (void)argv;
    snprintf(reply, size,
             "ok ping bootstraps broker-down broker-up rtt request-errors clear-request-errors "
             "leader coordinator topic-error create-topic (see acms-devbroker --help)\n");
}

/* The commands: name, argument count (-1: any) and usage, handler. */
static const struct {
    const char *name;
    int nargs;
    const char *usage;
    command_fn *fn;
} k_commands[] = {
    {"ping", -1, NULL, cmd_ping},
    {"bootstraps", -1, NULL, cmd_bootstraps},
    {"broker-down", 1, "ID", cmd_broker_updown},
    {"broker-up", 1, "ID", cmd_broker_updown},
    {"rtt", 2, "ID MS", cmd_rtt},
    {"request-errors", 3, "APIKEY COUNT ERRCODE", cmd_request_errors},
    {"clear-request-errors", 1, "APIKEY", cmd_clear_request_errors},
    {"leader", 3, "TOPIC PARTITION BROKERID", cmd_leader},
    {"coordinator", 3, "group|txn KEY BROKERID", cmd_coordinator},
    {"topic-error", 2, "TOPIC ERRCODE", cmd_topic_error},
    {"create-topic", 2, "NAME PARTITIONS", cmd_create_topic},
    {"help", -1, NULL, cmd_help},
};

/* Executes one command line into reply ("ok\n" / "ok ...\n" / "error: ...\n"). */
static void command(devbroker *d, char *line, char *reply, size_t size)
{
    char *argv[8], *save = NULL, *tok;
    int argc = 0;

    for (tok = strtok_r(line, " \t\r", &save); tok && argc < 8; tok = strtok_r(NULL, " \t\r", &save))
        argv[argc++] = tok;
    if (argc == 0) {
        snprintf(reply, size, "error: empty command\n");
        return;
    }
    for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; i++) {
        if (strcmp(argv[0], k_commands[i].name) != 0)
            continue;
        if (k_commands[i].nargs >= 0 && argc != k_commands[i].nargs + 1) {
            snprintf(reply, size, "error: usage: %s %s\n", argv[0], k_commands[i].usage);
            return;
        }
        k_commands[i].fn(d, argv, reply, size);
        return;
    }
    snprintf(reply, size, "error: unknown command \"%.64s\" (try help)\n", argv[0]);
}

/* --- control socket ----------------------------------------------------------------------- */

static int control_listen(const char *path)
{
    struct sockaddr_un sa;
    struct stat st;
    int fd;

    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path) >= (int)sizeof sa.sun_path) {
        acms_log_error(NULL, NULL, "control socket path too long (max %zu): %s", sizeof sa.sun_path - 1, path);
        return -1;
    }
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            acms_log_error(NULL, NULL, "%s exists and is not a socket", path);
            return -1;
        }
        unlink(path); /* a stale socket of an earlier run */
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, 16)) {
        acms_log_error(NULL, NULL, "control socket %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void client_close(client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->len = 0;
}

static void client_reply(client *c, const char *reply)
{
    size_t off = 0, n = strlen(reply);

    while (off < n) {
        ssize_t w = send(c->fd, reply + off, n - off, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd p = {.fd = c->fd, .events = POLLOUT};
            if (poll(&p, 1, 1000) > 0)
                continue;
        }
        if (w <= 0) {
            client_close(c);
            return;
        }
        off += (size_t)w;
    }
}

/* Reads what is available and answers every complete line. */
static void client_read(devbroker *d, client *c)
{
    char reply[LINE_MAX_BYTES + 128];
    ssize_t r = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    char *nl;

    if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (r <= 0) {
        client_close(c);
        return;
    }
    c->len += (size_t)r;
    while (c->fd >= 0 && (nl = memchr(c->buf, '\n', c->len))) {
        size_t used = (size_t)(nl - c->buf) + 1;

        *nl = '\0';
        acms_log_info(NULL, NULL, "control: %s", c->buf);
        kick_set(&d->kick, 1);
        command(d, c->buf, reply, sizeof reply);
        kick_set(&d->kick, 0);
        if (strncmp(reply, "ok", 2))
            acms_log_warn(NULL, NULL, "control: %.*s", (int)strcspn(reply, "\n"), reply);
        client_reply(c, reply);
        if (c->fd < 0)
            return;
        memmove(c->buf, c->buf + used, c->len - used);
        c->len -= used;
    }
    if (c->len == sizeof c->buf) {
        client_reply(c, "error: line too long\n");
        client_close(c);
    }
}

static void control_accept(devbroker *d)
{
    static const char busy[] = "error: too many control clients\n";
    int fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    int i;

    if (fd < 0)
        return;
    for (i = 0; i < MAX_CLIENTS; i++) {
        if (d->clients[i].fd < 0) {
            d->clients[i].fd = fd;
            d->clients[i].len = 0;
            return;
        }
    }
    (void)!write(fd, busy, sizeof busy - 1);
    close(fd);
}

/* --- start-up ----------------------------------------------------------------------------- */

static int write_env_file(const char *path, const char *bootstraps)
{
    char tmp[4096], line[1024];
    int fd, n, rc = -1;

    n = snprintf(line, sizeof line, "ACMS_KAFKA_BROKERS=%s\n", bootstraps);
    if (n < 0 || n >= (int)sizeof line ||
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return -1;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        goto out;
    if (write(fd, line, (size_t)n) != n || fsync(fd)) {
        close(fd);
        unlink(tmp);
        goto out;
    }
    close(fd);
    if (rename(tmp, path)) {
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    if (rc)
        acms_log_error(NULL, NULL, "env file %s: %s", path, strerror(errno));
    return rc;
}

static void rk_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 3)
        acms_log_error(NULL, NULL, "rdkafka %s: %s", fac, buf);
    else if (level == 4 && strcmp(fac, "CONFWARN")) /* "no bootstrap.servers": this handle is only a host */
        acms_log_warn(NULL, NULL, "rdkafka %s: %s", fac, buf);
    else
        acms_log_debug(NULL, NULL, "rdkafka %s: %s", fac, buf);
}

static int create_topic(devbroker *d, const char *spec)
{
    char name[256];
    const char *colon = strrchr(spec, ':');
    long p = d->partitions;
    rd_kafka_resp_err_t err;
    size_t n = colon ? (size_t)(colon - spec) : strlen(spec);

    if (n == 0 || n >= sizeof name || (colon && parse_long(colon + 1, 1, MAX_PARTITIONS, &p))) {
        acms_log_error(NULL, NULL, "bad topic \"%s\": expected NAME[:PARTITIONS]", spec);
        return -1;
    }
    memcpy(name, spec, n);
    name[n] = '\0';
    err = rd_kafka_mock_topic_create(d->mc, name, (int)p, d->brokers < 3 ? d->brokers : 3);
    if (err) {
        acms_log_error(NULL, NULL, "topic %s: %s", name, rd_kafka_err2str(err));
        return -1;
    }
    acms_log_debug(NULL, NULL, "topic %s: %ld partition(s)", name, p);
    return 0;
}

static int parse_args(devbroker *d, int argc, char **argv, int *exit_code)
{
    static const struct option opts[] = {
        {"brokers", required_argument, NULL, 'b'}, {"partitions", required_argument, NULL, 'p'},
        {"topic", required_argument, NULL, 't'},   {"env-file", required_argument, NULL, 'e'},
        {"control", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},       {NULL, 0, NULL, 0},
    };
    int o;
    long v;

    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'b':
            if (parse_long(optarg, 1, 32, &v))
                goto bad;
            d->brokers = (int)v;
            break;
        case 'p':
            if (parse_long(optarg, 1, MAX_PARTITIONS, &v))
                goto bad;
            d->partitions = (int)v;
            break;
        case 't':
            if (d->nextra == MAX_EXTRA_TOPICS)
                goto bad;
            d->extra[d->nextra++] = optarg;
            break;
        case 'e': d->env_file = optarg; break;
        case 'c': d->control = optarg; break;
        case 'h':
            usage(stdout);
            *exit_code = 0;
            return -1;
        case 'V':
            printf("acms-devbroker %s (librdkafka %s)\n", ACMS_VERSION, rd_kafka_version_str());
            *exit_code = 0;
            return -1;
        default: goto bad;
        }
    }
    if (optind == argc)
        return 0;
bad:
    fprintf(stderr,
            "acms-devbroker: bad arguments (--brokers 1..32, --partitions 1..%d, at most %d --topic)\n"
            "Try 'acms-devbroker --help'.\n",
            MAX_PARTITIONS, MAX_EXTRA_TOPICS);
    *exit_code = 2;
    return -1;
}

/* The mock cluster's brokers listen and answer without TCP_NODELAY: a response written in two parts
 * then waits for the client's delayed ACK, ~40 ms, whenever a client sends while one is in flight
 * (a producer flush of 50 messages took 44 ms instead of 1). Real Kafka brokers set TCP_NODELAY on
 * every connection. The listening sockets of this process get it, and Linux passes it on to the
 * connections they accept. Returns how many listening TCP sockets were set. */
static int nodelay_listeners(void)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (!dir)
        return -1;
    while ((e = readdir(dir)) != NULL) {
        int fd = atoi(e->d_name), acc = 0, one = 1;
        struct sockaddr_storage sa;
        socklen_t al = sizeof acc, sl = sizeof sa;
        struct stat st;

        if (fd <= 2 || fd == dirfd(dir) || fstat(fd, &st) || !S_ISSOCK(st.st_mode) ||
            getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &al) || !acc ||
            getsockname(fd, (struct sockaddr *)&sa, &sl) || (sa.ss_family != AF_INET && sa.ss_family != AF_INET6))
            continue;
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0)
            n++;
    }
    closedir(dir);
    return n;
}

static int start(devbroker *d)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[512];
    const char *boot;
    size_t i;
    int rc = 0;

    rd_kafka_conf_set_log_cb(conf, rk_log);
    d->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!d->rk) {
        rd_kafka_conf_destroy(conf);
        acms_log_error(NULL, NULL, "rd_kafka_new: %s", err);
        return -1;
    }
    d->mc = rd_kafka_mock_cluster_new(d->rk, d->brokers);
    if (!d->mc) {
        acms_log_error(NULL, NULL, "cannot create the mock cluster");
        return -1;
    }
    boot = rd_kafka_mock_cluster_bootstraps(d->mc);
    if (nodelay_listeners() < d->brokers)
        acms_log_warn(NULL, NULL, "TCP_NODELAY not set on every broker listener: responses may wait ~40 ms");
    kick_start(&d->kick, boot);
    kick_set(&d->kick, 1);
    for (i = 0; i < ACMS_TOPIC__COUNT && rc == 0; i++)
        rc = create_topic(d, acms_topic_default_name((acms_topic)i));
    for (i = 0; i < d->nextra && rc == 0; i++)
        rc = create_topic(d, d->extra[i]);
    kick_set(&d->kick, 0);
    if (rc)
        return -1;
    if (d->control && (d->listen_fd = control_listen(d->control)) < 0)
        return -1;
    if (d->env_file && write_env_file(d->env_file, boot))
        return -1;
    printf("ACMS_KAFKA_BROKERS=%s\n", boot);
    fflush(stdout);
    acms_log_info(NULL, NULL, "mock cluster up: %d broker(s) at %s, %d ACMS topics x %d partitions%s%s", d->brokers,
                  boot, (int)ACMS_TOPIC__COUNT, d->partitions, d->control ? ", control " : "",
                  d->control ? d->control : "");
    return 0;
}

static void serve(devbroker *d)
{
    struct pollfd pfd[2 + MAX_CLIENTS];
    int map[2 + MAX_CLIENTS];

    for (;;) {
        int n = 0, i, r;

        pfd[n].fd = d->sig_fd;
        pfd[n].events = POLLIN;
        map[n++] = -1;
        if (d->listen_fd >= 0) {
            pfd[n].fd = d->listen_fd;
            pfd[n].events = POLLIN;
            map[n++] = -2;
        }
        for (i = 0; i < MAX_CLIENTS; i++) {
            if (d->clients[i].fd >= 0) {
                pfd[n].fd = d->clients[i].fd;
                pfd[n].events = POLLIN;
                map[n++] = i;
            }
        }
        r = poll(pfd, (nfds_t)n, -1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            acms_log_error(NULL, NULL, "poll: %s", strerror(errno));
            return;
        }
        if (pfd[0].revents) {
            struct signalfd_siginfo si;

            if (read(d->sig_fd, &si, sizeof si) == (ssize_t)sizeof si)
                acms_log_info(NULL, NULL, "signal %d: stopping", (int)si.ssi_signo);
            return;
        }
        for (i = 1; i < n; i++) {
            if (!pfd[i].revents)
                continue;
            if (map[i] == -2)
                control_accept(d);
            else
                client_read(d, &d->clients[map[i]]);
        }
    }
}

int main(int argc, char **argv)
{
    devbroker d;
    sigset_t sigs;
    int i, code = 1;

    memset(&d, 0, sizeof d);
    d.brokers = 1;
    d.partitions = 6;
    d.sig_fd = d.listen_fd = -1;
    for (i = 0; i < MAX_CLIENTS; i++)
        d.clients[i].fd = -1;
    if (parse_args(&d, argc, argv, &code))
        return code;
    acms_log_init("acms-devbroker", getenv("ACMS_LOG_LEVEL"));

    /* Blocked before librdkafka starts its threads, so they inherit the mask. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &sigs, NULL) || (d.sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC)) < 0) {
        acms_log_error(NULL, NULL, "signals: %s", strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);

    if (start(&d) == 0) {
        serve(&d);
        code = 0;
    }

    for (i = 0; i < MAX_CLIENTS; i++)
        client_close(&d.clients[i]);
    if (d.listen_fd >= 0) {
        close(d.listen_fd);
        unlink(d.control);
    }
    if (d.env_file && code == 0)
        unlink(d.env_file);
    kick_set(&d.kick, 1); /* destroying the cluster is a request to its thread too */
    if (d.mc)
        rd_kafka_mock_cluster_destroy(d.mc);
    kick_stop(&d.kick);
    if (d.rk)
        rd_kafka_destroy(d.rk);
    close(d.sig_fd);
    acms_log_info(NULL, NULL, "stopped");
    return code;
}
