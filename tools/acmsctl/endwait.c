/* endwait.c: how acmsctl learns that a run ended without polling its status: a subscription to the
 * run's end channel (run_state.h), on which the script that writes a terminal status publishes it.
 * Invariants: the subscription is made before the follower first reads the status, so an end written
 * before it is seen by that read and one written after it is published to it; a notification lost
 * anyway (the subscription's connection dropped, Redis restarted) costs at most one fallback interval
 * (ACMS_CTL_END_POLL_MS, default 1000 ms), after which the status is read as before. Without a
 * subscription (Redis refused it) the caller polls as it always did. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acmsctl.h"
#include "run_state.h"

struct ctl_endwait {
    redisContext *c; /* subscribed to the run's end channel; NULL once it broke */
};

int ctl_endwait_fallback_ms(void)
{
    const char *v = getenv("ACMS_CTL_END_POLL_MS");
    long ms = v && *v ? strtol(v, NULL, 10) : 1000;
    return ms >= 1 && ms <= 3600 * 1000 ? (int)ms : 1000;
}

ctl_endwait *ctl_endwait_new(const acms_redis *r, const char *run_id)
{
    char ch[ACMS_KEY_MAX];
    if (!acms_state_end_channel(ch, sizeof ch, run_id))
        return NULL;
    redisContext *c = acms_redis_connect_other(r, 2000);
    if (!c)
        return NULL;
    redisReply *rep = redisCommand(c, "SUBSCRIBE %s", ch);
    int ok = rep && rep->type == REDIS_REPLY_ARRAY; /* ["subscribe", channel, 1] */
    if (rep)
        freeReplyObject(rep);
    ctl_endwait *w = ok ? calloc(1, sizeof *w) : NULL;
    if (!w) {
        redisFree(c);
        return NULL;
    }
    w->c = c;
    return w;
}

void ctl_endwait_free(ctl_endwait *w)
{
    if (!w)
        return;
    if (w->c)
        redisFree(w->c);
    free(w);
}

static int broke(ctl_endwait *w)
{
    redisFree(w->c);
    w->c = NULL;
    return -1;
}

int ctl_endwait_wait(ctl_endwait *w, int ms)
{
    if (!w || !w->c) {
        if (ms > 0)
            usleep((useconds_t)ms * 1000);
        return 0;
    }
    void *rep = NULL;
    if (redisGetReplyFromReader(w->c, &rep) != REDIS_OK) /* a message already read whole */
        return broke(w);
    if (!rep) {
        struct pollfd pf = {.fd = w->c->fd, .events = POLLIN};
        int n = poll(&pf, 1, ms > 0 ? ms : 0);
        if (n == 0 || (n < 0 && errno == EINTR))
            return 0;
        if (n < 0 || redisBufferRead(w->c) != REDIS_OK || redisGetReplyFromReader(w->c, &rep) != REDIS_OK)
            return broke(w);
        if (!rep)
            return 0; /* part of a message: the rest comes with the next wait */
    }
    freeReplyObject(rep); /* the only channel subscribed is the run's end: any message says it ended */
    return 1;
}
