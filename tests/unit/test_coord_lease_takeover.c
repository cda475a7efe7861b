/* test_coord_lease_takeover.c: the lease scripts against a real redis-server the test starts on a
 * free loopback port. A scan takes over a run only while it is still in acms:runs:active: a run
 * whose owner finished it (left the set, then released the lease) after the scan read the set is
 * not taken, so it is not finished twice; a lease held by another replica is not taken; our own
 * is renewed; and a dead server is ACMS_ERR_RETRY. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coordinator/lease.h"
#include "redis_fixture.h"

typedef struct fx {
    fx_redis srv;
    acms_redis *r; /* srv.r */
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (fx_redis_start(&f->srv) != 0)
        return -1;
    f->r = f->srv.r;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    fx_redis_stop(&f->srv);
    free(f);
    return 0;
}

/* The lease's holder, "" when none. */
static void holder(fx *f, const char *run, char *out, size_t size)
{
    redisReply *rep = acms_redis_cmd(f->r, "GET acms:lease:%s", run);
    assert_non_null(rep);
    snprintf(out, size, "%s", rep->type == REDIS_REPLY_STRING ? rep->str : "");
    freeReplyObject(rep);
}

static void sadd_active(fx *f, const char *run)
{
    redisReply *rep = acms_redis_cmd(f->r, "SADD acms:runs:active %s", run);
    assert_non_null(rep);
    freeReplyObject(rep);
}

static void test_active_run_taken_over(void **state)
{
    fx *f = *state;
    char who[64];
    sadd_active(f, "run-a");
    assert_int_equal(coord_lease_take_over(f->r, "run-a", "coord-1", 5000), 1);
    holder(f, "run-a", who, sizeof who);
    assert_string_equal(who, "coord-1");
    /* ours already: renewed, still ours */
    assert_int_equal(coord_lease_take_over(f->r, "run-a", "coord-1", 5000), 1);
    holder(f, "run-a", who, sizeof who);
    assert_string_equal(who, "coord-1");
}

static void test_finished_run_not_taken(void **state)
{
    fx *f = *state;
    char who[64];
    /* the owner finishes: it leaves the active set, then gives the lease back */
    sadd_active(f, "run-b");
    assert_int_equal(coord_lease_acquire(f->r, "run-b", "coord-0", 5000), 1);
    redisReply *rep = acms_redis_cmd(f->r, "SREM acms:runs:active run-b");
    assert_non_null(rep);
    freeReplyObject(rep);
    assert_int_equal(coord_lease_release(f->r, "run-b", "coord-0"), 1);
    /* a scan that read the set before the SREM now tries to take it over */
    assert_int_equal(coord_lease_take_over(f->r, "run-b", "coord-1", 5000), 0);
    holder(f, "run-b", who, sizeof who);
    assert_string_equal(who, "");
    /* the plain acquire, used for a run being created, is unchanged */
    assert_int_equal(coord_lease_acquire(f->r, "run-b", "coord-1", 5000), 1);
}

static void test_other_owner_kept(void **state)
{
    fx *f = *state;
    char who[64];
    sadd_active(f, "run-c");
    assert_int_equal(coord_lease_acquire(f->r, "run-c", "coord-0", 5000), 1);
    assert_int_equal(coord_lease_take_over(f->r, "run-c", "coord-1", 5000), 0);
    holder(f, "run-c", who, sizeof who);
    assert_string_equal(who, "coord-0");
    assert_int_equal(coord_lease_renew(f->r, "run-c", "coord-1", 5000), 0);
    assert_int_equal(coord_lease_renew(f->r, "run-c", "coord-0", 5000), 1);
}

static void test_unreachable_is_retry(void **state)
{
    fx *f = *state;
    sadd_active(f, "run-d");
    fx_redis_kill(&f->srv);
    assert_int_equal(coord_lease_take_over(f->r, "run-d", "coord-1", 5000), ACMS_ERR_RETRY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_active_run_taken_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finished_run_not_taken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_owner_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreachable_is_retry, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
