/* redis.h: a synchronous hiredis connection that reconnects with backoff, with pipelining and a
 * run-once helper for idempotent effects. Every key lives under the "acms:" prefix (docs/redis-keys.md).
 * A handle is used by one thread. Replies are hiredis redisReply (freeReplyObject). */
#ifndef ACMS_REDIS_H
#define ACMS_REDIS_H

#include <hiredis/hiredis.h>

#include "arena.h"

#include "acms.h"

typedef struct acms_redis acms_redis;
typedef struct acms_metrics acms_metrics;

/* Parses url (redis://[:password@]host:port[/db]) and connects (AUTH and SELECT as given).
 * A server that is down is not an error here: commands retry the connection. NULL only for a bad url. */
acms_redis *acms_redis_new(const char *url, acms_metrics *metrics, char *errstr, size_t errstr_size);
void acms_redis_free(acms_redis *r);
/* A second, plain hiredis connection to r's server with r's credentials and database (AUTH, SELECT),
 * reads bounded by timeout_ms: for a subscription, which takes no other command. NULL when Redis is
 * unreachable or refuses. The caller owns it (redisFree); it does not reconnect. */
redisContext *acms_redis_connect_other(const acms_redis *r, int timeout_ms);

/* One command. Returns the reply (caller frees) or NULL when Redis is unreachable after one
 * reconnect attempt (callers return ACMS_ERR_RETRY). An error reply is returned as such. */
redisReply *acms_redis_cmd(acms_redis *r, const char *fmt, ...);
redisReply *acms_redis_cmdargv(acms_redis *r, int argc, const char **argv, const size_t *argvlen);

/* Pipelining: append n commands, then collect n replies at once. acms_redis_exec returns ACMS_OK
 * with replies[i] set (caller frees each), or ACMS_ERR_RETRY (connection lost: all replies NULL and
 * the batch must be re-sent as a whole). An exec of n collects the last n commands appended: a
 * pipeline may be appended and executed while an earlier one is pending (sent, not yet collected);
 * the earlier one's replies are kept for its own exec, and a lost connection fails both. */
void acms_redis_append(acms_redis *r, const char *fmt, ...);
void acms_redis_appendargv(acms_redis *r, int argc, const char **argv, const size_t *argvlen);
int acms_redis_exec(acms_redis *r, redisReply **replies, size_t n);
/* Pipelined commands whose replies only need to be non-errors. */
int acms_redis_exec_discard(acms_redis *r, size_t n);

/* Lua scripts by their SHA-1 (EVALSHA): argv is an EVAL command ("EVAL", the script's text, numkeys,
 * keys, args); the text must outlive the handle (a static string). Each script is loaded (SCRIPT
 * LOAD) once per connection, before its first use there, so a reconnect (a restarted Redis) loads it
 * again; a NOSCRIPT reply (a script cache flushed under a live connection) loads it again and re-sends
 * the command, so callers only see the script's own reply. Beyond ACMS_REDIS_SCRIPTS distinct
 * scripts a handle sends the rest as EVAL. The pipelined form is collected by acms_redis_exec. */
#define ACMS_REDIS_SCRIPTS 16
redisReply *acms_redis_evalargv(acms_redis *r, int argc, const char **argv, const size_t *argvlen);
void acms_redis_append_evalargv(acms_redis *r, int argc, const char **argv, const size_t *argvlen);

/* The retention of the runs this handle writes (retention.h), in ms: the writers' scripts read it.
 * Default ACMS_RUN_RETENTION_DEFAULT_S; the services and acmsctl set ACMS_RUN_RETENTION_S. */
void acms_redis_set_run_retention(acms_redis *r, int64_t ms);
int64_t acms_redis_run_retention_ms(const acms_redis *r);
/* The same value as a decimal string (for script arguments), valid while r lives. */
const char *acms_redis_run_retention_arg(const acms_redis *r);
/* How long the idempotency marks written through this handle live (s): ACMS_SEEN_TTL_S, default
 * ACMS_SEEN_TTL_DEFAULT_S (retention.h: longer than any topic's history). */
void acms_redis_set_seen_ttl(acms_redis *r, int seconds);
int acms_redis_seen_ttl_s(const acms_redis *r);

/* Sets key to "1" with ttl_s if absent. Returns 1 if this call set it (first time), 0 if it
 * existed, ACMS_ERR_RETRY if unreachable. */
int acms_redis_once(acms_redis *r, const char *key, int ttl_s);

/* Reply helpers. */
long long acms_redis_int(const redisReply *rep, long long fallback);
/* HGETALL key into *kv (field, value, field, value...; *nkv strings, arena-owned; a missing key gives
 * none). ACMS_OK, or ACMS_ERR_RETRY when Redis is unreachable or refuses. */
int acms_redis_hgetall(acms_redis *r, acms_arena *a, const char *key, const char ***kv, size_t *nkv);
/* EXISTS key: 1 or 0, ACMS_ERR_RETRY when unreachable. */
int acms_redis_exists(acms_redis *r, const char *key);
/* Errors that no retry can fix (WRONGTYPE, a script that fails, a value of the wrong form): every
 * error reply read through this handle is classified, and the first permanent one since the last
 * acms_redis_clear_permanent is kept. NULL when there was none. The service loop uses it to
 * dead-letter an event whose effects Redis refuses, instead of retrying it forever. */
const char *acms_redis_permanent_error(const acms_redis *r);
void acms_redis_clear_permanent(acms_redis *r);
/* Is the text of an error reply one that retrying cannot fix? */
int acms_redis_error_is_permanent(const char *err);

/* PING within the connection's timeout: ACMS_OK or ACMS_ERR_RETRY. */
int acms_redis_ping(acms_redis *r);

/* Parses redis://[[user]:password@]host[:port][/db] (user and password may be %-encoded; a user
 * name alone, "redis://user:pw@host", is accepted and sent as AUTH user pw; "redis://pw@host" is a
 * password). host may be an [IPv6] literal; port defaults to 6379, db to 0. pw gets "" when absent.
 * Returns ACMS_OK or ACMS_ERR_INVALID (an output buffer too small is invalid too). Pure: no I/O. */
int acms_redis_parse_url(const char *url, char *host, size_t hsz, int *port, char *pw, size_t pwsz, int *db);

#endif
