/* Scripts sent by their SHA-1 (common/redis.c, acms_redis_evalargv and acms_redis_append_evalargv)
 * against a real redis-server: the run status writes go as EVALSHA, never EVAL; a script cache
 * flushed under a live connection (SCRIPT FLUSH from another client) still lets a single write and
 * every write of a pipeline apply (the NOSCRIPT reply is answered by loading the script again and
 * re-sending); and a restarted Redis (empty cache, a new connection) takes the writes too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "redis_fixture.h"
#include "run_state.h"

/* A second client: what an operator or another service does beside the handle under test. */
static void other_client(fx_redis *x, const char *cmd)
{
    redisContext *c = redisConnect("127.0.0.1", x->port);
    assert_true(c && !c->err);
    redisReply *rep = redisCommand(c, cmd);
    assert_non_null(rep);
    assert_int_not_equal(rep->type, REDIS_REPLY_ERROR);
    freeReplyObject(rep);
    redisFree(c);
}

/* The number of calls of a command in INFO commandstats (0 when never called). */
static long long calls(acms_redis *r, const char *cmd)
{
    char needle[64];
    snprintf(needle, sizeof needle, "cmdstat_%s:calls=", cmd);
    redisReply *rep = acms_redis_cmd(r, "INFO commandstats");
    assert_true(rep && rep->type == REDIS_REPLY_STRING);
    const char *p = strstr(rep->str, needle);
    long long n = p ? atoll(p + strlen(needle)) : 0;
    freeReplyObject(rep);
    return n;
}

static const char *note(acms_redis *r, const char *run, char *buf, size_t size)
{
    char key[300];
    redisReply *rep = acms_redis_cmd(r, "HGET %s note", acms_key_run(key, sizeof key, run));
    snprintf(buf, size, "%s", rep && rep->type == REDIS_REPLY_STRING ? rep->str : "(none)");
    if (rep)
        freeReplyObject(rep);
    return buf;
}

static int put(acms_redis *r, const char *run, const char *status, const char *value)
{
    const char *kv[] = {"note", value};
    return acms_state_run_status(r, run, status, kv, 2);
}

static void test_single_write_after_flush(void **state)
{
    fx_redis *x = *state;
    char buf[64];
    assert_int_equal(put(x->r, "run-s1", "submitted", "a"), 1);
    other_client(x, "SCRIPT FLUSH");
    assert_int_equal(put(x->r, "run-s1", "prepared", "b"), 1);
    assert_string_equal(note(x->r, "run-s1", buf, sizeof buf), "b");
    assert_int_equal(put(x->r, "run-s1", "validated", "c"), 1);
    assert_string_equal(note(x->r, "run-s1", buf, sizeof buf), "c");
    assert_int_equal(calls(x->r, "eval"), 0);
    assert_true(calls(x->r, "evalsha") >= 3);
}

/* Three pipelined writes after a flush: each reply is the script's, each write applied. */
static void test_pipeline_after_flush(void **state)
{
    fx_redis *x = *state;
    const char *runs[] = {"run-p1", "run-p2", "run-p3"};
    redisReply *rep[3];
    char buf[64];
    assert_int_equal(put(x->r, "run-p0", "submitted", "loaded"), 1);
    other_client(x, "SCRIPT FLUSH");
    for (int i = 0; i < 3; i++) {
        const char *kv[] = {"note", runs[i]};
        assert_int_equal(acms_state_run_status_append(x->r, runs[i], "prepared", kv, 2), ACMS_OK);
    }
    assert_int_equal(acms_redis_exec(x->r, rep, 3), ACMS_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(acms_state_run_status_reply(rep[i]), 1);
        freeReplyObject(rep[i]);
        assert_string_equal(note(x->r, runs[i], buf, sizeof buf), runs[i]);
    }
    assert_int_equal(calls(x->r, "eval"), 0);
}

/* Starts redis-server again on the same port (an empty script cache) and waits for it. */
static void restart(fx_redis *x)
{
    char port[16];
    fx_redis_kill(x);
    snprintf(port, sizeof port, "%d", x->port);
    x->pid = fork();
    if (x->pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly",
               "no", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200 && acms_redis_ping(x->r) != ACMS_OK; i++)
        usleep(50 * 1000);
    assert_int_equal(acms_redis_ping(x->r), ACMS_OK);
}

static void test_restarted_redis(void **state)
{
    fx_redis *x = *state;
    char buf[64];
    redisReply *rep[2];
    assert_int_equal(put(x->r, "run-r1", "submitted", "before"), 1);
    restart(x);
    assert_int_equal(put(x->r, "run-r1", "prepared", "single"), 1);
    assert_string_equal(note(x->r, "run-r1", buf, sizeof buf), "single");
    restart(x);
    const char *kv[] = {"note", "piped"};
    assert_int_equal(acms_state_run_status_append(x->r, "run-r2", "prepared", kv, 2), ACMS_OK);
    assert_int_equal(acms_state_run_status_append(x->r, "run-r3", "prepared", kv, 2), ACMS_OK);
    assert_int_equal(acms_redis_exec(x->r, rep, 2), ACMS_OK);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(acms_state_run_status_reply(rep[i]), 1);
        freeReplyObject(rep[i]);
    }
    assert_string_equal(note(x->r, "run-r3", buf, sizeof buf), "piped");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_single_write_after_flush, fx_redis_setup, fx_redis_teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_after_flush, fx_redis_setup, fx_redis_teardown),
        cmocka_unit_test_setup_teardown(test_restarted_redis, fx_redis_setup, fx_redis_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
