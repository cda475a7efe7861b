/* The group loop of common/batch.c against a real redis-server: messages that do not join are
 * handled alone, in order, before anything else; every member starts at ACMS_ERR_RETRY; the
 * members' status writes (with their lists, any bytes) land in Redis and each member is published
 * in input order with what its write answered (1 written, 0 refused) and under its own trace; a
 * member that left the group or whose write is unusable is not published and stays at
 * ACMS_ERR_RETRY, without holding up the others; a lost connection publishes nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "log.h"
#include "redis_fixture.h"
#include "run_state.h"

#define NMSG 6

/* What each test message is: member (joins), or handled alone; a member's status write. */
typedef struct item {
    int member;
    int leaves;             /* status() says it left the group */
    const char *run, *status;
    const char *blob;       /* the one list item (lens honoured: may hold NUL bytes) */
    size_t blob_len;
} item;

typedef struct group {
    item it[NMSG];
    char order[64];         /* the calls, in order: "a<i>" alone, "p<i>=<applied>" publish */
    acms_msg msgs[NMSG];
} group;

static void note(group *g, const char *fmt, size_t i, int v)
{
    size_t len = strlen(g->order);
    snprintf(g->order + len, sizeof g->order - len, fmt, i, v);
}

static int join(void *ctx, size_t i)
{
    return ((group *)ctx)->it[i].member;
}

static int alone(void *ctx, size_t i, const char **reason)
{
    note(ctx, "a%zu", i, 0);
    *reason = "alone";
    return i == 1 ? ACMS_ERR_POISON : ACMS_OK;
}

static int status(void *ctx, size_t i, acms_batch_write *w)
{
    item *it = &((group *)ctx)->it[i];
    if (!it->member || it->leaves)
        return ACMS_ERR_RETRY;
    static const char *const kv[] = {"note", "from-batch"};
    *w = (acms_batch_write){.run_id = it->run, .status = it->status, .kv = kv, .nkv = 2, .list_suffix = "validation",
                           .items = &it->blob, .lens = &it->blob_len, .nitems = 1};
    return ACMS_OK;
}

static int publish(void *ctx, size_t i, int applied)
{
    note(ctx, "p%zu=%d", i, applied);
    acms_log_info(NULL, NULL, "published %zu", i);
    return applied == 1 ? ACMS_OK : 7; /* a value of the test's own, to see it is the message's outcome */
}

static const acms_batch_ops ops = {.join = join, .alone = alone, .status = status, .publish = publish};

/* 0 alone, 1 alone (poison), 2 member, 3 member whose run is past its status, 4 member that left,
 * 5 member with an unusable status */
static void group_init(group *g)
{
    memset(g, 0, sizeof *g);
    g->it[2] = (item){.member = 1, .run = "b2", .status = "prepared", .blob = "a\0b", .blob_len = 3};
    g->it[3] = (item){.member = 1, .run = "b3", .status = "prepared", .blob = "x", .blob_len = 1};
    g->it[4] = (item){.member = 1, .leaves = 1, .run = "b4", .status = "prepared"};
    g->it[5] = (item){.member = 1, .run = "b5", .status = "paused", .blob = "y", .blob_len = 1};
    for (size_t i = 0; i < NMSG; i++)
        snprintf(g->msgs[i].traceparent, sizeof g->msgs[i].traceparent, "00-%032zx-%016zx-01", i + 1, i + 1);
}

static void split_handles_the_others_first(void **state)
{
    (void)state;
    group g;
    group_init(&g);
    int rcs[NMSG];
    const char *reasons[NMSG] = {0};
    for (size_t i = 0; i < NMSG; i++)
        rcs[i] = 99;
    assert_int_equal(acms_batch_split(&ops, &g, NMSG, rcs, reasons), 4);
    assert_string_equal(g.order, "a0a1");
    assert_int_equal(rcs[0], ACMS_OK);
    assert_int_equal(rcs[1], ACMS_ERR_POISON);
    assert_string_equal(reasons[1], "alone");
    for (size_t i = 2; i < NMSG; i++) {
        assert_int_equal(rcs[i], ACMS_ERR_RETRY);
        assert_null(reasons[i]);
    }
}

/* Runs f with stderr going to a file; returns what was written (static buffer). */
static const char *stderr_of(void (*f)(void *), void *arg)
{
    static char out[8192];
    char path[] = "/tmp/test_common_batch.XXXXXX";
    int fd = mkstemp(path), saved = dup(2);
    assert_true(fd >= 0 && saved >= 0);
    fflush(stderr);
    dup2(fd, 2);
    f(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(fd, out, sizeof out - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    return out;
}

typedef struct run_args {
    acms_redis *r;
    group *g;
    int *rcs;
    int ret;
} run_args;

static void run_write_publish(void *arg)
{
    run_args *x = arg;
    x->ret = acms_batch_write_publish(x->r, &ops, x->g, x->g->msgs, NMSG, x->rcs);
    acms_log_info(NULL, NULL, "after");
}

static void writes_then_publishes_in_order(void **state)
{
    fx_redis_arena *f = *state;
    acms_redis *r = f->srv.r;
    assert_int_equal(acms_state_run_status(r, "b3", "validated", NULL, 0), 1); /* past "prepared" */
    group g;
    group_init(&g);
    int rcs[NMSG];
    const char *reasons[NMSG] = {0};
    acms_batch_split(&ops, &g, NMSG, rcs, reasons);
    run_args x = {.r = r, .g = &g, .rcs = rcs};
    acms_log_init("test", "info");
    const char *err = stderr_of(run_write_publish, &x);
    assert_int_equal(x.ret, 2);
    assert_string_equal(g.order, "a0a1p2=1p3=0");
    assert_int_equal(rcs[2], ACMS_OK);
    assert_int_equal(rcs[3], 7);
    assert_int_equal(rcs[4], ACMS_ERR_RETRY); /* left the group */
    assert_int_equal(rcs[5], ACMS_ERR_RETRY); /* unusable write */
    /* each publish under its message's trace, and none after */
    const char *p2 = strstr(err, "published 2"), *p3 = strstr(err, "published 3"), *after = strstr(err, "after");
    assert_non_null(p2);
    assert_non_null(p3);
    assert_non_null(after);
    assert_non_null(strstr(err, "\"traceparent\":\"00-00000000000000000000000000000003-0000000000000003-01\""));
    assert_non_null(strstr(err, "\"traceparent\":\"00-00000000000000000000000000000004-0000000000000004-01\""));
    const char *line_end = strchr(after, '\n');
    const char *line_start = after;
    while (line_start > err && line_start[-1] != '\n')
        line_start--;
    assert_null(memmem(line_start, (size_t)(line_end - line_start), "traceparent", 11));
    /* what the writes left in Redis */
    assert_string_equal(fx_redis_hget(f, "acms:run:b2", "status"), "prepared");
    assert_string_equal(fx_redis_hget(f, "acms:run:b2", "note"), "from-batch");
    redisReply *rep = acms_redis_cmd(r, "LINDEX acms:run:b2:validation 0");
    assert_true(rep && rep->type == REDIS_REPLY_STRING && rep->len == 3 && !memcmp(rep->str, "a\0b", 3));
    freeReplyObject(rep);
    assert_string_equal(fx_redis_hget(f, "acms:run:b3", "status"), "validated");
    assert_null(fx_redis_hget(f, "acms:run:b3", "note"));
    assert_null(fx_redis_hget(f, "acms:run:b4", "status"));
    assert_null(fx_redis_hget(f, "acms:run:b5", "status"));
}

static void lost_connection_publishes_nothing(void **state)
{
    fx_redis_arena *f = *state;
    group g;
    group_init(&g);
    int rcs[NMSG];
    const char *reasons[NMSG] = {0};
    acms_batch_split(&ops, &g, NMSG, rcs, reasons);
    fx_redis_kill(&f->srv);
    assert_int_equal(acms_batch_write_publish(f->srv.r, &ops, &g, g.msgs, NMSG, rcs), ACMS_ERR_RETRY);
    assert_string_equal(g.order, "a0a1");
    for (size_t i = 2; i < NMSG; i++)
        assert_int_equal(rcs[i], ACMS_ERR_RETRY);
}

static void empty_group(void **state)
{
    fx_redis_arena *f = *state;
    group g;
    group_init(&g);
    int rcs[NMSG];
    for (size_t i = 0; i < NMSG; i++)
        g.it[i].leaves = 1;
    assert_int_equal(acms_batch_write_publish(f->srv.r, &ops, &g, g.msgs, NMSG, rcs), 0);
    assert_string_equal(g.order, "");
    assert_int_equal(acms_redis_ping(f->srv.r), ACMS_OK); /* nothing left pending on the connection */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(split_handles_the_others_first),
        cmocka_unit_test_setup_teardown(writes_then_publishes_in_order, fx_redis_arena_setup,
                                        fx_redis_arena_teardown),
        cmocka_unit_test_setup_teardown(lost_connection_publishes_nothing, fx_redis_arena_setup,
                                        fx_redis_arena_teardown),
        cmocka_unit_test_setup_teardown(empty_group, fx_redis_arena_setup, fx_redis_arena_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
