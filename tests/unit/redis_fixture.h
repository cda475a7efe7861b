/* redis_fixture.h: a real redis-server for a unit test, on a free loopback port chosen by the
 * kernel, without persistence; stopped with SIGKILL (a test can stop it mid-way to see
 * ACMS_ERR_RETRY). static inline so unused helpers cost nothing. */
#ifndef ACMS_TEST_REDIS_FIXTURE_H
#define ACMS_TEST_REDIS_FIXTURE_H

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "redis.h"

typedef struct fx_redis {
    pid_t pid;
    acms_redis *r;   /* connected to it */
    int port;
} fx_redis;

static inline int fx_redis_free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof sa) || getsockname(s, (struct sockaddr *)&sa, &len)) {
        if (s >= 0)
            close(s);
        return -1;
    }
    close(s);
    return ntohs(sa.sin_port);
}

/* Starts redis-server and connects; 0, or -1 (said on stderr) when it did not answer within 5 s. */
static inline int fx_redis_start(fx_redis *x)
{
    int port = fx_redis_free_port();
    char portbuf[16], url[64], err[256] = "";
    x->port = port;
    snprintf(portbuf, sizeof portbuf, "%d", port);
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
    x->pid = fork();
    if (x->pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        execlp("redis-server", "redis-server", "--port", portbuf, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", (char *)NULL);
        _exit(127);
    }
    x->r = acms_redis_new(url, NULL, err, sizeof err);
    for (int i = 0; i < 100 && acms_redis_ping(x->r) != ACMS_OK; i++)
        usleep(50 * 1000);
    if (acms_redis_ping(x->r) != ACMS_OK) {
        fprintf(stderr, "redis-server did not start on port %d\n", port);
        return -1;
    }
    return 0;
}

static inline void fx_redis_kill(fx_redis *x)
{
    if (x->pid > 0) {
        kill(x->pid, SIGKILL);
        waitpid(x->pid, NULL, 0);
        x->pid = 0;
    }
}

/* Disconnects and stops the server. */
static inline void fx_redis_stop(fx_redis *x)
{
    acms_redis_free(x->r);
    x->r = NULL;
    fx_redis_kill(x);
}

/* A server and an arena, as cmocka setup and teardown (state: fx_redis_arena *). */
typedef struct fx_redis_arena {
    fx_redis srv;
    acms_arena *a;
} fx_redis_arena;

static inline int fx_redis_arena_setup(void **state)
{
    fx_redis_arena *f = calloc(1, sizeof *f);
    f->a = acms_arena_new(0);
    *state = f;
    return fx_redis_start(&f->srv);
}

static inline int fx_redis_arena_teardown(void **state)
{
    fx_redis_arena *f = *state;
    fx_redis_stop(&f->srv);
    acms_arena_free(f->a);
    free(f);
    return 0;
}

/* One field of a hash (in f's arena), or NULL. */
static inline const char *fx_redis_hget(fx_redis_arena *f, const char *key, const char *field)
{
    const char **kv;
    size_t nkv;
    if (acms_redis_hgetall(f->srv.r, f->a, key, &kv, &nkv) != ACMS_OK)
        return NULL;
    for (size_t i = 0; i + 1 < nkv; i += 2)
        if (!strcmp(kv[i], field))
            return kv[i + 1];
    return NULL;
}

/* cmocka setup and teardown around fx_redis_start / fx_redis_stop: *state is the fx_redis. */
static inline int fx_redis_setup(void **state)
{
    fx_redis *x = calloc(1, sizeof *x);
    *state = x;
    return x ? fx_redis_start(x) : -1;
}

static inline int fx_redis_teardown(void **state)
{
    fx_redis_stop(*state);
    free(*state);
    return 0;
}

#endif
