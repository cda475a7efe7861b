/* The end notification of common/run_state.c against a real redis-server: a write that sets a
 * terminal status publishes it on the run's end channel (acms_state_end_channel), every form of the
 * write (status, status and list, queued); a write of a non-terminal status and a refused write
 * publish nothing. Absence is checked without waiting: Redis delivers a channel's messages in order,
 * so the next message a subscriber gets after such a write is the one of the terminal write that
 * follows it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "redis_fixture.h"
#include "run_state.h"

/* A second connection subscribed to the run's end channel. */
static redisContext *subscribe(const acms_redis *r, const char *run)
{
    char ch[256];
    assert_non_null(acms_state_end_channel(ch, sizeof ch, run));
    redisContext *c = acms_redis_connect_other(r, 5000);
    assert_non_null(c);
    redisReply *rep = redisCommand(c, "SUBSCRIBE %s", ch);
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
    freeReplyObject(rep);
    return c;
}

/* The next message on c (its read is bounded by the connection's 5 s timeout): its payload. */
static void expect_message(redisContext *c, const char *run, const char *status)
{
    char ch[256];
    void *v = NULL;
    assert_int_equal(redisGetReply(c, &v), REDIS_OK);
    redisReply *rep = v;
    assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
    assert_int_equal(rep->elements, 3);
    assert_string_equal(rep->element[0]->str, "message");
    assert_string_equal(rep->element[1]->str, acms_state_end_channel(ch, sizeof ch, run));
    assert_string_equal(rep->element[2]->str, status);
    freeReplyObject(rep);
}

static void terminal_write_publishes(void **state)
{
    acms_redis *r = ((fx_redis *)*state)->r;
    redisContext *c = subscribe(r, "e1");
    const char *kv[] = {"note", "x"};
    assert_int_equal(acms_state_run_status(r, "e1", "submitted", kv, 2), 1);
    assert_int_equal(acms_state_run_status(r, "e1", "running", kv, 2), 1);
    assert_int_equal(acms_state_run_status(r, "e1", "failed", kv, 2), 1);
    expect_message(c, "e1", "failed"); /* the first: the non-terminal writes published nothing */
    assert_int_equal(acms_state_run_status(r, "e1", "succeeded", kv, 2), 0); /* refused */
    assert_int_equal(acms_state_run_status(r, "e1", "failed", kv, 2), 1);    /* equal: rewritten */
    expect_message(c, "e1", "failed");                                       /* not "succeeded" */
    redisFree(c);
}

static void list_and_queued_forms_publish(void **state)
{
    acms_redis *r = ((fx_redis *)*state)->r;
    redisContext *c = subscribe(r, "e2");
    const char *items[] = {"a", "b"};
    assert_int_equal(acms_state_run_status_list(r, "e2", "rejected", NULL, 0, "validation", items, 2), 1);
    expect_message(c, "e2", "rejected");
    redisFree(c);
    c = subscribe(r, "e3");
    assert_int_equal(acms_state_run_status_append(r, "e3", "running", NULL, 0), ACMS_OK);
    assert_int_equal(acms_state_run_status_append(r, "e3", "cancelled", NULL, 0), ACMS_OK);
    redisReply *rep[2] = {0};
    assert_int_equal(acms_redis_exec(r, rep, 2), ACMS_OK);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(acms_state_run_status_reply(rep[i]), 1);
        freeReplyObject(rep[i]);
    }
    expect_message(c, "e3", "cancelled");
    redisFree(c);
}

static void channel_name(void **state)
{
    (void)state;
    char ch[64];
    assert_string_equal(acms_state_end_channel(ch, sizeof ch, "r-1"), "acms:run:r-1:ended");
    assert_null(acms_state_end_channel(ch, 10, "r-1")); /* does not fit */
    assert_null(acms_state_end_channel(ch, sizeof ch, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(terminal_write_publishes, fx_redis_setup, fx_redis_teardown),
        cmocka_unit_test_setup_teardown(list_and_queued_forms_publish, fx_redis_setup, fx_redis_teardown),
        cmocka_unit_test(channel_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
