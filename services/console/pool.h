/* pool.h: a fixed set of Redis connections shared by the console's server threads. A thread takes
 * one for the length of a request and gives it back; a hiredis handle is never used by two threads
 * at once. With as many connections as server threads, taking one never waits for long. */
#ifndef CONSOLE_POOL_H
#define CONSOLE_POOL_H

#include "http.h"
#include "redis.h"

typedef struct console_pool console_pool;

/* n connections to url (connected lazily: a Redis that is down is not an error here). NULL with
 * errstr on a bad url or n == 0. */
console_pool *console_pool_new(const char *url, size_t n, acms_metrics *m, char *errstr, size_t errstr_size);
void console_pool_free(console_pool *p);
/* A connection for this thread alone (waits while all are taken). Give it back with console_pool_put. */
acms_redis *console_pool_get(console_pool *p);
void console_pool_put(console_pool *p, acms_redis *r);

#endif
