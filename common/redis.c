/* redis.c: one synchronous hiredis connection that reconnects with backoff (at most one attempt
 * per window: 50 ms doubling to 2 s, reset on success), re-authenticates and re-selects its db on
 * every connect, and offers pipelining and a run-once helper.
 * Invariant: a command never takes another's reply. A single command run while a pipeline is
 * pending first reads the pipeline's replies (kept, in order, in stash); an exec of n collects the
 * last n commands appended, after reading those pending before them into the stash, so a pipeline
 * may run inside another (the outer exec then collects what is left).
 * Invariant: a script sent as EVALSHA was loaded on the connection it is sent on (gen), or its
 * NOSCRIPT reply is replaced by that of the same command re-sent after loading it again.
 * Invariant: the password lives only in the handle; it never reaches errstr, a log line or a metric. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "http.h"
#include "log.h"
#include "redis.h"
#include "retention.h"

#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000
#define TIMEOUT_MS 1000

/* A script known to the handle: its text (static, compared by address) and SHA-1, loaded on the
 * connection numbered gen (0: not yet). */
typedef struct redis_script {
    const char *text;
    char sha[41];
    unsigned gen;
} redis_script;

/* A pending command sent as EVALSHA, formatted and kept until its exec for a NOSCRIPT re-send. */
typedef struct redis_pend {
    char *cmd; /* NULL: not a script command */
    size_t len;
    redis_script *script;
} redis_pend;

struct acms_redis {
    char host[256];
    int port;
    int db;
    char user[128];
    char pw[256];
    redisContext *c;     /* NULL while disconnected */
    int backoff_ms;      /* 0 after a success */
    int64_t next_try_ms; /* monotonic: no connect attempt before this */
    int down;            /* a loss was logged; log the recovery */
    size_t queued;       /* pipelined commands appended since the last exec */
    redisReply **stash;  /* the first nstash of their replies, read early (heap, cap_stash) */
    size_t nstash, cap_stash;
    int pipe_broken;     /* an append failed: the next exec reports ACMS_ERR_RETRY */
    char permanent[256]; /* first permanent error reply since the last clear, "" none */
    acms_metrics *metrics;
    int64_t retention_ms; /* of the runs written through this handle (retention.h) */
    char retention_arg[24];
    int seen_ttl_s; /* of the idempotency marks written through this handle */
    unsigned gen;   /* connections made so far: scripts are loaded once on each */
    redis_script scripts[ACMS_REDIS_SCRIPTS];
    size_t nscripts;
    redis_pend *pend; /* one per pending command, by position (heap, cap_pend; unused entries NULL) */
    size_t cap_pend;
};

static void count_errors(acms_redis *r, double n)
{
    if (r->metrics)
        acms_metrics_add(r->metrics, "acms_redis_errors_total", NULL,
                         "Redis connection failures, lost connections and error replies.", n);
}

static void count_error(acms_redis *r)
{
    count_errors(r, 1);
}

/* --- URL ---------------------------------------------------------------------------------- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* %-decodes s[0..n) into out. 0 or -1 (bad escape, too long). */
static int decode(const char *s, size_t n, char *out, size_t size)
{
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        int c = (unsigned char)s[i];

        if (c == '%') {
            int h, l;

            if (i + 2 >= n)
                return -1;
            h = hexval((unsigned char)s[i + 1]);
            l = hexval((unsigned char)s[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            c = h * 16 + l;
            i += 2;
        }
        if (c == 0 || o + 1 >= size)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

static int parse_int(const char *s, size_t n, int lo, int hi, int *out)
{
    long v = 0;
    size_t i;

    if (n == 0 || n > 9)
        return -1;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

/* userinfo in p[0..auth_end): the last '@' ends it (passwords may contain '@' only %-encoded).
 * Sets *host_start past it. 0 or -1 (*why set). */
static int parse_userinfo(const char *p, const char *auth_end, char *user, size_t usz, char *pw, size_t pwsz,
                          const char **host_start, const char **why)
{
    const char *at = NULL, *colon;

    for (const char *c = p; c < auth_end; c++)
        if (*c == '@')
            at = c;
    *host_start = p;
    if (!at)
        return 0;
    colon = memchr(p, ':', (size_t)(at - p));
    if (colon) {
        if (decode(p, (size_t)(colon - p), user, usz) || decode(colon + 1, (size_t)(at - colon - 1), pw, pwsz)) {
            *why = "bad user or password encoding";
            return -1;
        }
    } else if (decode(p, (size_t)(at - p), pw, pwsz)) {
        *why = "bad password encoding";
        return -1;
    }
    *host_start = at + 1;
    return 0;
}

/* host ([v6] or name) and optional ":port" in h[0..auth_end). 0 or -1 (*why set when known). */
static int parse_hostport(const char *h, const char *auth_end, char *host, size_t hsz, int *port, const char **why)
{
    const char *p, *h_end;
    size_t n;

    if (*h == '[') {
        h_end = memchr(h, ']', (size_t)(auth_end - h));
        if (!h_end)
            return -1;
        n = (size_t)(h_end - h - 1);
        if (n == 0 || n >= hsz)
            return -1;
        memcpy(host, h + 1, n);
        host[n] = '\0';
        p = h_end + 1;
        if (p < auth_end && *p != ':')
            return -1;
    } else {
        h_end = memchr(h, ':', (size_t)(auth_end - h));
        if (!h_end)
            h_end = auth_end;
        n = (size_t)(h_end - h);
        if (n == 0 || n >= hsz) {
            *why = "missing host";
            return -1;
        }
        memcpy(host, h, n);
        host[n] = '\0';
        if (strpbrk(host, " \t[]@"))
            return -1;
        p = h_end;
    }
    if (p < auth_end && parse_int(p + 1, (size_t)(auth_end - p - 1), 1, 65535, port)) { /* ":port" */
        *why = "bad port";
        return -1;
    }
    return 0;
}

/* path: "" | "/" | "/<db>". 0 or -1 (*why set when known). */
static int parse_db(const char *p, int *db, const char **why)
{
    if (*p == '/' && p[1] != '\0') {
        if (parse_int(p + 1, strlen(p + 1), 0, 1 << 20, db)) {
            *why = "bad database number";
            return -1;
        }
        return 0;
    }
    return *p == '/' || *p == '\0' ? 0 : -1;
}

static int parse_url(const char *url, char *host, size_t hsz, int *port, char *user, size_t usz, char *pw, size_t pwsz,
                     int *db, const char **why)
{
    const char *p, *auth_end, *h;

    *why = "expected redis://[[user]:password@]host[:port][/db]";
    if (!url || strncmp(url, "redis://", 8) != 0) {
        if (url && strncmp(url, "rediss://", 9) == 0)
            *why = "rediss:// (TLS) is not supported by this client";
        return -1;
    }
    p = url + 8;
    auth_end = p + strcspn(p, "/?#");
    if (*auth_end == '?' || *auth_end == '#')
        return -1;
    user[0] = pw[0] = '\0';
    *port = 6379;
    *db = 0;
    if (parse_userinfo(p, auth_end, user, usz, pw, pwsz, &h, why) || parse_hostport(h, auth_end, host, hsz, port, why))
        return -1;
    return parse_db(auth_end, db, why);
}

int acms_redis_parse_url(const char *url, char *host, size_t hsz, int *port, char *pw, size_t pwsz, int *db)
{
    char user[128];
    const char *why;

    return parse_url(url, host, hsz, port, user, sizeof user, pw, pwsz, db, &why) ? ACMS_ERR_INVALID : ACMS_OK;
}

/* --- connection --------------------------------------------------------------------------- */

/* Frees the replies read early. */
static void stash_clear(acms_redis *r)
{
    for (size_t i = 0; i < r->nstash; i++)
        if (r->stash[i])
            freeReplyObject(r->stash[i]);
    r->nstash = 0;
}

/* Forgets the kept script commands of the pending positions from on. */
static void pend_clear(acms_redis *r, size_t from)
{
    for (size_t i = from; i < r->cap_pend; i++) {
        redisFreeCommand(r->pend[i].cmd);
        r->pend[i].cmd = NULL;
    }
}

static void drop(acms_redis *r)
{
    if (r->c)
        redisFree(r->c);
    r->c = NULL;
    r->queued = 0;
    stash_clear(r);
    pend_clear(r, 0);
}

/* A command failed at the I/O level: forget the connection. */
static void lost(acms_redis *r)
{
    if (!r->down)
        acms_log_warn(NULL, NULL, "redis %s:%d: connection lost: %s", r->host, r->port,
                      r->c && r->c->errstr[0] ? r->c->errstr : "unknown error");
    r->down = 1;
    count_error(r);
    drop(r);
}

/* Runs AUTH/SELECT on a fresh context. 0 or -1 (logged, without the password). */
static int handshake(const acms_redis *r, redisContext *c)
{
    redisReply *rep = NULL;

    if (r->pw[0]) {
        if (r->user[0]) {
            rep = redisCommand(c, "AUTH %s %s", r->user, r->pw);
            if (rep && rep->type == REDIS_REPLY_ERROR && strstr(rep->str, "wrong number of arguments")) {
                freeReplyObject(rep); /* Redis < 6: no ACL users, the password alone */
                rep = redisCommand(c, "AUTH %s", r->pw);
            }
        } else {
            rep = redisCommand(c, "AUTH %s", r->pw);
        }
        if (!rep || rep->type == REDIS_REPLY_ERROR) {
            acms_log_error(NULL, NULL, "redis %s:%d: AUTH failed: %s", r->host, r->port, rep ? rep->str : c->errstr);
            if (rep)
                freeReplyObject(rep);
            return -1;
        }
        freeReplyObject(rep);
    }
    if (r->db) {
        rep = redisCommand(c, "SELECT %d", r->db);
        if (!rep || rep->type == REDIS_REPLY_ERROR) {
            acms_log_error(NULL, NULL, "redis %s:%d: SELECT %d failed: %s", r->host, r->port, r->db,
                           rep ? rep->str : c->errstr);
            if (rep)
                freeReplyObject(rep);
            return -1;
        }
        freeReplyObject(rep);
    }
    return 0;
}

/* Makes sure a connection exists, attempting one connect when the backoff window allows.
 * ACMS_OK or ACMS_ERR_RETRY. */
static int ensure(acms_redis *r)
{
    struct timeval tv = {TIMEOUT_MS / 1000, (TIMEOUT_MS % 1000) * 1000};
    redisContext *c;
    int64_t now;

    if (r->c && !r->c->err)
        return ACMS_OK;
    if (r->c)
        lost(r);
    now = acms_mono_ms();
    if (now < r->next_try_ms)
        return ACMS_ERR_RETRY;

    c = redisConnectWithTimeout(r->host, r->port, tv);
    if (!c || c->err) {
        if (!r->down || r->backoff_ms >= BACKOFF_MAX_MS)
            acms_log_warn(NULL, NULL, "redis %s:%d: cannot connect: %s", r->host, r->port,
                          c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        goto fail;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK || redisEnableKeepAlive(c) != REDIS_OK || handshake(r, c)) {
        redisFree(c);
        goto fail;
    }
    r->c = c;
    r->gen++;
    r->backoff_ms = 0;
    r->next_try_ms = 0;
    if (r->down)
        acms_log_info(NULL, NULL, "redis %s:%d: connected again", r->host, r->port);
    r->down = 0;
    return ACMS_OK;

fail:
    r->down = 1;
    count_error(r);
    r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (r->backoff_ms > BACKOFF_MAX_MS)
        r->backoff_ms = BACKOFF_MAX_MS;
    r->next_try_ms = now + r->backoff_ms;
    return ACMS_ERR_RETRY;
}

redisContext *acms_redis_connect_other(const acms_redis *r, int timeout_ms)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(r->host, r->port, tv);
    if (!c || c->err || redisSetTimeout(c, tv) != REDIS_OK || handshake(r, c)) {
        if (c)
            redisFree(c);
        return NULL;
    }
    return c;
}

acms_redis *acms_redis_new(const char *url, acms_metrics *metrics, char *errstr, size_t errstr_size)
{
    acms_redis *r = calloc(1, sizeof *r);
    const char *why = NULL;

    if (!r) {
        snprintf(errstr, errstr_size, "redis: out of memory");
        return NULL;
    }
    if (parse_url(url, r->host, sizeof r->host, &r->port, r->user, sizeof r->user, r->pw, sizeof r->pw, &r->db, &why)) {
        snprintf(errstr, errstr_size, "redis: bad ACMS_REDIS_URL: %s", why);
        free(r);
        return NULL;
    }
    r->metrics = metrics;
    acms_redis_set_run_retention(r, (int64_t)ACMS_RUN_RETENTION_DEFAULT_S * 1000);
    r->seen_ttl_s = ACMS_SEEN_TTL_DEFAULT_S;
    count_errors(r, 0); /* the series exists (0) before the first error */
    if (ensure(r) == ACMS_OK)
        acms_log_info(NULL, NULL, "redis %s:%d db %d: connected", r->host, r->port, r->db);
    return r;
}

void acms_redis_set_run_retention(acms_redis *r, int64_t ms)
{
    r->retention_ms = ms > 0 ? ms : 1;
    snprintf(r->retention_arg, sizeof r->retention_arg, "%lld", (long long)r->retention_ms);
}

int64_t acms_redis_run_retention_ms(const acms_redis *r)
{
    return r->retention_ms;
}

const char *acms_redis_run_retention_arg(const acms_redis *r)
{
    return r->retention_arg;
}

void acms_redis_set_seen_ttl(acms_redis *r, int seconds)
{
    r->seen_ttl_s = seconds > 0 ? seconds : ACMS_SEEN_TTL_DEFAULT_S;
}

int acms_redis_seen_ttl_s(const acms_redis *r)
{
    return r->seen_ttl_s;
}

void acms_redis_free(acms_redis *r)
{
    if (!r)
        return;
    drop(r);
    free(r->stash);
    free(r->pend);
    memset(r->pw, 0, sizeof r->pw);
    free(r);
}

/* --- commands ----------------------------------------------------------------------------- */

int acms_redis_error_is_permanent(const char *err)
{
    static const char *const prefixes[] = {
        "WRONGTYPE",
        "ERR user_script",
        "ERR Error running script",
        "ERR Error compiling script",
        "ERR value is not",
        "ERR hash value is not",
        "ERR increment or decrement would overflow",
        "ERR bit offset",
        "ERR string exceeds maximum",
        "ERR unknown command",
        "ERR wrong number of arguments",
    };
    for (size_t i = 0; err && i < sizeof prefixes / sizeof *prefixes; i++)
        if (!strncmp(err, prefixes[i], strlen(prefixes[i])))
            return 1;
    /* a script's own redis.call failing on a wrong type says so after its script prefix */
    return err && strstr(err, "WRONGTYPE") != NULL;
}

const char *acms_redis_permanent_error(const acms_redis *r)
{
    return r && r->permanent[0] ? r->permanent : NULL;
}

void acms_redis_clear_permanent(acms_redis *r)
{
    if (r)
        r->permanent[0] = '\0';
}

static int is_noscript(const redisReply *rep)
{
    return rep && rep->type == REDIS_REPLY_ERROR && !strncmp(rep->str, "NOSCRIPT", 8);
}

static redisReply *checked(acms_redis *r, redisReply *rep)
{
    if (rep && rep->type == REDIS_REPLY_ERROR && !is_noscript(rep)) { /* NOSCRIPT: loaded and re-sent */
        count_error(r);
        if (!r->permanent[0] && acms_redis_error_is_permanent(rep->str))
            snprintf(r->permanent, sizeof r->permanent, "%.200s", rep->str);
    }
    return rep;
}

/* Reads pending replies into the stash until it holds upto of them, so that the next reply read
 * is a later command's. A failure breaks the pipeline (its exec reports ACMS_ERR_RETRY) and returns
 * -1; the caller's own command then reconnects as usual. */
static int drain_to(acms_redis *r, size_t upto)
{
    if (r->pipe_broken || !r->c)
        return r->pipe_broken ? -1 : 0;
    if (r->cap_stash < upto) {
        size_t cap = upto < 16 ? 16 : upto * 2;
        redisReply **st = realloc(r->stash, cap * sizeof *st);
        if (!st) {
            drop(r); /* the replies cannot be kept: the pipeline is re-sent */
            r->pipe_broken = 1;
            return -1;
        }
        r->stash = st;
        r->cap_stash = cap;
    }
    while (r->nstash < upto) {
        void *rep = NULL;
        if (redisGetReply(r->c, &rep) != REDIS_OK || !rep) {
            lost(r);
            r->pipe_broken = 1;
            return -1;
        }
        r->stash[r->nstash++] = checked(r, rep);
    }
    return 0;
}

/* Before a single command: every pending reply into the stash. */
static void drain(acms_redis *r)
{
    if (r->queued > r->nstash)
        drain_to(r, r->queued);
}

redisReply *acms_redis_cmd(acms_redis *r, const char *fmt, ...)
{
    va_list ap;
    redisReply *rep;
    int attempt;

    drain(r);
    for (attempt = 0; attempt < 2; attempt++) {
        if (ensure(r) != ACMS_OK)
            return NULL;
        va_start(ap, fmt);
        rep = redisvCommand(r->c, fmt, ap);
        va_end(ap);
        if (rep)
            return checked(r, rep);
        lost(r); /* then one immediate reconnect: the backoff window was reset by the last success */
    }
    return NULL;
}

redisReply *acms_redis_cmdargv(acms_redis *r, int argc, const char **argv, const size_t *argvlen)
{
    redisReply *rep;
    int attempt;

    drain(r);
    for (attempt = 0; attempt < 2; attempt++) {
        if (ensure(r) != ACMS_OK)
            return NULL;
        rep = redisCommandArgv(r->c, argc, argv, argvlen);
        if (rep)
            return checked(r, rep);
        lost(r);
    }
    return NULL;
}

void acms_redis_append(acms_redis *r, const char *fmt, ...)
{
    va_list ap;

    r->queued++;
    if (r->pipe_broken)
        return;
    if ((r->queued == 1 && ensure(r) != ACMS_OK) || !r->c) {
        r->pipe_broken = 1;
        return;
    }
    va_start(ap, fmt);
    if (redisvAppendCommand(r->c, fmt, ap) != REDIS_OK)
        r->pipe_broken = 1;
    va_end(ap);
}

void acms_redis_appendargv(acms_redis *r, int argc, const char **argv, const size_t *argvlen)
{
    r->queued++;
    if (r->pipe_broken)
        return;
    if ((r->queued == 1 && ensure(r) != ACMS_OK) || !r->c) {
        r->pipe_broken = 1;
        return;
    }
    if (redisAppendCommandArgv(r->c, argc, argv, argvlen) != REDIS_OK)
        r->pipe_broken = 1;
}

/* --- scripts ------------------------------------------------------------------------------ */

/* The handle's entry for a script text, added on first sight; NULL when the table is full. */
static redis_script *script_find(acms_redis *r, const char *text)
{
    for (size_t i = 0; i < r->nscripts; i++)
        if (r->scripts[i].text == text)
            return &r->scripts[i];
    if (r->nscripts == ACMS_REDIS_SCRIPTS)
        return NULL;
    redis_script *s = &r->scripts[r->nscripts++];
    s->text = text;
    s->gen = 0;
    return s;
}

/* Loads s on the current connection (connecting first) unless it already is. ACMS_OK, or
 * ACMS_ERR_RETRY when Redis is unreachable or refuses the script. */
static int script_ready(acms_redis *r, redis_script *s)
{
    if (ensure(r) != ACMS_OK)
        return ACMS_ERR_RETRY;
    if (s->gen == r->gen)
        return ACMS_OK;
    redisReply *rep = acms_redis_cmd(r, "SCRIPT LOAD %s", s->text);
    int ok = rep && rep->type == REDIS_REPLY_STRING && rep->len == 40;
    if (ok) {
        memcpy(s->sha, rep->str, 40);
        s->sha[40] = '\0';
        s->gen = r->gen; /* the connection the reply came on */
    } else if (rep && rep->type == REDIS_REPLY_ERROR) {
        acms_log_error(NULL, NULL, "redis: SCRIPT LOAD: %s", rep->str);
    }
    if (rep)
        freeReplyObject(rep);
    return ok ? ACMS_OK : ACMS_ERR_RETRY;
}

/* The EVAL command argv as EVALSHA of s, formatted into *out (free). Its length, or -1. */
static long long format_evalsha(const redis_script *s, int argc, const char **argv, const size_t *len, char **out)
{
    const char *sa[32];
    size_t sl[32];
    const char **a = argc <= 32 ? sa : malloc((size_t)argc * sizeof *a);
    size_t *l = argc <= 32 ? sl : malloc((size_t)argc * sizeof *l);
    long long n = -1;
    if (!a || !l)
        goto out;
    for (int i = 0; i < argc; i++) {
        a[i] = argv[i];
        l[i] = len ? len[i] : strlen(argv[i]);
    }
    a[0] = "EVALSHA";
    l[0] = 7;
    a[1] = s->sha;
    l[1] = 40;
    n = redisFormatCommandArgv(out, argc, a, l);
out:
    if (a != sa)
        free(a);
    if (l != sl)
        free(l);
    return n;
}

/* Sends a formatted command alone and reads its reply; NULL when the connection failed (lost). */
static redisReply *send_formatted(acms_redis *r, const char *cmd, size_t len)
{
    void *rep = NULL;
    if (!r->c || redisAppendFormattedCommand(r->c, cmd, len) != REDIS_OK || redisGetReply(r->c, &rep) != REDIS_OK ||
        !rep) {
        if (r->c)
            lost(r);
        return NULL;
    }
    return rep;
}

redisReply *acms_redis_evalargv(acms_redis *r, int argc, const char **argv, const size_t *argvlen)
{
    redis_script *s = argc >= 3 && !strcmp(argv[0], "EVAL") ? script_find(r, argv[1]) : NULL;
    char *cmd = NULL;
    long long len = -1;
    redisReply *rep = NULL;
    if (!s)
        return acms_redis_cmdargv(r, argc, argv, argvlen);
    drain(r);
    for (int attempt = 0; attempt < 2 && !rep; attempt++) {
        if (script_ready(r, s) != ACMS_OK)
            break;
        if (!cmd && (len = format_evalsha(s, argc, argv, argvlen, &cmd)) < 0)
            break; /* the SHA-1 is the same on every connection: formatted once */
        rep = send_formatted(r, cmd, (size_t)len);
        if (is_noscript(rep)) { /* the cache was flushed: load it again, send again */
            freeReplyObject(rep);
            rep = NULL;
            s->gen = 0;
        }
    }
    redisFreeCommand(cmd);
    return rep ? checked(r, rep) : NULL;
}

/* Keeps cmd for the pending command at position pos (r->queued - 1). -1 when out of memory. */
static int pend_keep(acms_redis *r, size_t pos, redis_script *s, char *cmd, size_t len)
{
    if (pos >= r->cap_pend) {
        size_t cap = pos < 16 ? 32 : pos * 2;
        redis_pend *p = realloc(r->pend, cap * sizeof *p);
        if (!p)
            return -1;
        memset(p + r->cap_pend, 0, (cap - r->cap_pend) * sizeof *p);
        r->pend = p;
        r->cap_pend = cap;
    }
    r->pend[pos] = (redis_pend){.cmd = cmd, .len = len, .script = s};
    return 0;
}

void acms_redis_append_evalargv(acms_redis *r, int argc, const char **argv, const size_t *argvlen)
{
    redis_script *s = argc >= 3 && !strcmp(argv[0], "EVAL") ? script_find(r, argv[1]) : NULL;
    char *cmd = NULL;
    long long len = -1;
    if (!s || r->pipe_broken) {
        acms_redis_appendargv(r, argc, argv, argvlen);
        return;
    }
    int ready = script_ready(r, s) == ACMS_OK; /* may read earlier pending replies into the stash */
    r->queued++;
    if (!ready || !r->c || (len = format_evalsha(s, argc, argv, argvlen, &cmd)) < 0 ||
        pend_keep(r, r->queued - 1, s, cmd, (size_t)len) != 0) {
        redisFreeCommand(cmd);
        r->pipe_broken = 1;
        return;
    }
    if (redisAppendFormattedCommand(r->c, cmd, (size_t)len) != REDIS_OK)
        r->pipe_broken = 1;
}

/* After an exec's n replies were read (earlier commands still pending before them): every NOSCRIPT
 * reply to a script command is replaced by that of the command sent again, the script loaded
 * again first. ACMS_OK, or ACMS_ERR_RETRY with every reply freed. */
static int resend_noscript(acms_redis *r, redisReply **replies, size_t n, size_t earlier)
{
    for (size_t i = 0; i < n; i++) {
        if (!is_noscript(replies[i]) || earlier + i >= r->cap_pend || !r->pend[earlier + i].cmd)
            continue;
        redis_pend *p = &r->pend[earlier + i];
        unsigned gen = r->gen;
        p->script->gen = 0;
        redisReply *rep = NULL;
        if (script_ready(r, p->script) == ACMS_OK && p->cmd) /* a reconnect on the way cleared p */
            rep = send_formatted(r, p->cmd, p->len);
        if (!rep) {
            if (!r->c || r->gen != gen)
                r->pipe_broken = earlier > 0; /* the earlier commands' replies went with the connection */
            for (size_t j = 0; j < n; j++) {
                freeReplyObject(replies[j]);
                replies[j] = NULL;
            }
            return ACMS_ERR_RETRY;
        }
        freeReplyObject(replies[i]);
        replies[i] = checked(r, rep);
    }
    return ACMS_OK;
}

/* Gives up the pipeline: ACMS_ERR_RETRY. Commands still pending before it (earlier > 0) break
 * with it: their exec reports ACMS_ERR_RETRY too. */
static int exec_fail(acms_redis *r, size_t earlier)
{
    if (r->c)
        drop(r); /* unread replies would answer the next commands */
    r->queued = 0;
    stash_clear(r);
    pend_clear(r, 0);
    r->pipe_broken = earlier > 0;
    return ACMS_ERR_RETRY;
}

int acms_redis_exec(acms_redis *r, redisReply **replies, size_t n)
{
    size_t i, earlier = n <= r->queued ? r->queued - n : 0;
    int broken = r->pipe_broken;

    for (i = 0; i < n; i++)
        replies[i] = NULL;
    if (!broken && n > r->queued) {
        acms_log_error(NULL, NULL, "redis: pipeline of %zu commands collected as %zu", r->queued, n);
        broken = 1;
    }
    if (broken || !r->c || drain_to(r, earlier) != 0)
        return exec_fail(r, earlier);
    /* the last n pending are this exec's: those read early first, then the rest from the socket */
    for (i = 0; earlier + i < r->nstash; i++)
        replies[i] = r->stash[earlier + i]; /* the caller owns them now */
    r->nstash = earlier;
    for (; i < n; i++) {
        void *rep = NULL;

        if (redisGetReply(r->c, &rep) != REDIS_OK || !rep) {
            for (size_t j = 0; j < i; j++) {
                freeReplyObject(replies[j]);
                replies[j] = NULL;
            }
            lost(r);
            r->pipe_broken = earlier > 0;
            return ACMS_ERR_RETRY;
        }
        replies[i] = checked(r, rep);
    }
    r->queued = earlier;
    int rc = resend_noscript(r, replies, n, earlier);
    pend_clear(r, earlier);
    return rc;
}

int acms_redis_exec_discard(acms_redis *r, size_t n)
{
    redisReply *stack[32], **replies = n <= 32 ? stack : calloc(n, sizeof *replies);
    size_t i;
    int rc;

    if (!replies) { /* unread replies would answer later commands: start over */
        drop(r);
        r->pipe_broken = 0;
        return ACMS_ERR_RETRY;
    }
    rc = acms_redis_exec(r, replies, n);
    if (rc == ACMS_OK) {
        for (i = 0; i < n; i++) {
            if (replies[i]->type == REDIS_REPLY_ERROR) {
                if (rc == ACMS_OK)
                    acms_log_warn(NULL, NULL, "redis: pipelined command %zu of %zu: %s", i + 1, n, replies[i]->str);
                rc = ACMS_ERR;
            }
            freeReplyObject(replies[i]);
        }
    }
    if (replies != stack)
        free(replies);
    return rc;
}

int acms_redis_once(acms_redis *r, const char *key, int ttl_s)
{
    redisReply *rep = ttl_s > 0 ? acms_redis_cmd(r, "SET %s 1 NX EX %d", key, ttl_s)
                                : acms_redis_cmd(r, "SET %s 1 NX", key);
    int rc;

    if (!rep)
        return ACMS_ERR_RETRY;
    if (rep->type == REDIS_REPLY_STATUS) {
        rc = 1;
    } else if (rep->type == REDIS_REPLY_NIL) {
        rc = 0;
    } else {
        /* e.g. LOADING, READONLY, OOM: nothing was decided, try again later */
        acms_log_warn(NULL, NULL, "redis: SET NX: %s", rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
        rc = ACMS_ERR_RETRY;
    }
    freeReplyObject(rep);
    return rc;
}

int acms_redis_hgetall(acms_redis *r, acms_arena *a, const char *key, const char ***kv, size_t *nkv)
{
    *kv = NULL;
    *nkv = 0;
    redisReply *rep = acms_redis_cmd(r, "HGETALL %s", key);
    if (!rep)
        return ACMS_ERR_RETRY;
    int rc = ACMS_OK;
    if (rep->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i + 1 < rep->elements; i += 2) {
            const redisReply *f = rep->element[i], *v = rep->element[i + 1];
            if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
                continue;
            *kv = acms_arena_push(a, *kv, nkv, sizeof **kv);
            (*kv)[*nkv - 1] = acms_arena_strndup(a, f->str, f->len);
            *kv = acms_arena_push(a, *kv, nkv, sizeof **kv);
            (*kv)[*nkv - 1] = acms_arena_strndup(a, v->str, v->len);
        }
    } else if (rep->type == REDIS_REPLY_ERROR) {
        acms_log_error(NULL, NULL, "HGETALL %s: %s", key, rep->str);
        rc = ACMS_ERR_RETRY;
    }
    freeReplyObject(rep);
    return rc;
}

int acms_redis_exists(acms_redis *r, const char *key)
{
    redisReply *rep = acms_redis_cmd(r, "EXISTS %s", key);
    if (!rep)
        return ACMS_ERR_RETRY;
    int rc = rep->type == REDIS_REPLY_INTEGER ? (rep->integer > 0) : ACMS_ERR_RETRY;
    freeReplyObject(rep);
    return rc;
}

long long acms_redis_int(const redisReply *rep, long long fallback)
{
    char *end;
    long long v;

    if (!rep)
        return fallback;
    if (rep->type == REDIS_REPLY_INTEGER)
        return rep->integer;
    if ((rep->type == REDIS_REPLY_STRING || rep->type == REDIS_REPLY_STATUS) && rep->len > 0) {
        errno = 0;
        v = strtoll(rep->str, &end, 10);
        if (errno == 0 && *end == '\0' && end == rep->str + rep->len)
            return v;
    }
    return fallback;
}

int acms_redis_ping(acms_redis *r)
{
    redisReply *rep = acms_redis_cmd(r, "PING");
    int ok = rep && rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "PONG") == 0;

    if (rep)
        freeReplyObject(rep);
    return ok ? ACMS_OK : ACMS_ERR_RETRY;
}
