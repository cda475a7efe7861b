/* test_validator_history.c: the keys of the validator's history reads (built by concatenation for
 * hiredis's argv form) are the keys keys.h's formats spell, short (on the stack) and long (on the
 * heap); a group's reads against a real redis-server send each key once (members of one pipeline
 * share them) and give every member what reading its own history gives. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keys.h"
#include "pb.h"
#include "redis_fixture.h"
#include "validator/validator.h"

static void expect_key(int kind, const char *a, const char *b, const char *want, int on_heap)
{
    char buf[64], *heap = NULL;
    size_t len = validator_history_key(buf, sizeof buf, &heap, kind, a, b);
    const char *got = heap ? heap : buf;
    assert_int_equal(on_heap, heap != NULL);
    assert_int_equal(len, strlen(want));
    assert_string_equal(got, want);
    free(heap);
}

static void test_keys_match_formats(void **state)
{
    (void)state;
    char want[512];
    assert_true(snprintf(want, sizeof want, ACMS_KEY_LEARN_REC_FMT, "churn", "train") > 0);
    expect_key(VALIDATOR_HISTORY_REC, "churn", "train", want, 0);
    assert_true(snprintf(want, sizeof want, ACMS_KEY_FEEDBACK_STATS_FMT, "churn", "train") > 0);
    expect_key(VALIDATOR_HISTORY_STATS, "churn", "train", want, 0);
    assert_true(snprintf(want, sizeof want, ACMS_KEY_LEARN_FIX_FMT, "MISSING_DEPENDENCY") > 0);
    expect_key(VALIDATOR_HISTORY_FIX, "MISSING_DEPENDENCY", "ignored", want, 0);
    assert_true(snprintf(want, sizeof want, ACMS_KEY_LEARN_REC_FMT, "", "") > 0);
    expect_key(VALIDATOR_HISTORY_REC, "", "", want, 0);
}

static void test_long_keys_on_the_heap(void **state)
{
    (void)state;
    char pipe[200], want[512];
    memset(pipe, 'p', sizeof pipe - 1);
    pipe[sizeof pipe - 1] = '\0';
    assert_true(snprintf(want, sizeof want, ACMS_KEY_FEEDBACK_STATS_FMT, pipe, "step") > 0);
    expect_key(VALIDATOR_HISTORY_STATS, pipe, "step", want, 1);
    /* exactly filling the buffer with its NUL stays on the stack; one more byte does not */
    char a[64];
    size_t room = 64 - 1 - strlen("acms:learn:fix:");
    memset(a, 'c', room);
    a[room] = '\0';
    assert_true(snprintf(want, sizeof want, ACMS_KEY_LEARN_FIX_FMT, a) > 0);
    expect_key(VALIDATOR_HISTORY_FIX, a, NULL, want, 0);
    a[room] = 'c';
    a[room + 1] = '\0';
    assert_true(snprintf(want, sizeof want, ACMS_KEY_LEARN_FIX_FMT, a) > 0);
    expect_key(VALIDATOR_HISTORY_FIX, a, NULL, want, 1);
}

static Acms__V1__Pipeline *pipeline(acms_arena *a, const char *name, size_t n, const char *const *steps)
{
    Acms__V1__Pipeline *p = acms_pb_new(a, &acms__v1__pipeline__descriptor);
    p->name = (char *)name;
    p->n_steps = n;
    p->steps = acms_arena_alloc(a, n * sizeof *p->steps);
    for (size_t i = 0; i < n; i++) {
        p->steps[i] = acms_pb_new(a, &acms__v1__step__descriptor);
        p->steps[i]->name = (char *)steps[i];
    }
    return p;
}

static void hset(fx_redis_arena *f, const char *key, const char *field, const char *value)
{
    redisReply *rep = acms_redis_cmd(f->srv.r, "HSET %s %s %s", key, field, value);
    assert_true(rep && rep->type != REDIS_REPLY_ERROR);
    freeReplyObject(rep);
}

static void same_history(const validator_step_history *x, const validator_step_history *y, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(x[i].has_rec, y[i].has_rec);
        assert_int_equal(x[i].has_stats, y[i].has_stats);
        assert_int_equal(x[i].rec_memory_mb, y[i].rec_memory_mb);
        assert_int_equal(x[i].rec_runtime_s, y[i].rec_runtime_s);
        assert_true(x[i].p90_peak_mb == y[i].p90_peak_mb && x[i].p50_wall_ms == y[i].p50_wall_ms);
        assert_int_equal(x[i].runs, y[i].runs);
    }
}

static void test_group_reads_each_key_once(void **state)
{
    fx_redis_arena *f = *state;
    hset(f, "acms:learn:rec:churn:train", "memory_mb", "2048");
    hset(f, "acms:learn:rec:churn:train", "runtime_s", "600");
    hset(f, "acms:feedback:stats:churn:train", "p90_peak_mb", "1500");
    hset(f, "acms:feedback:stats:churn:train", "p50_wall_ms", "9000");
    hset(f, "acms:feedback:stats:churn:train", "runs", "12");
    hset(f, "acms:feedback:stats:etl:load", "p90_peak_mb", "300");
    hset(f, "acms:feedback:stats:etl:load", "runs", "4");
    const char *churn[] = {"extract", "train"}, *etl[] = {"load", "train", "load"};
    const Acms__V1__Pipeline *p[3] = {pipeline(f->a, "churn", 2, churn), pipeline(f->a, "etl", 3, etl),
                                      pipeline(f->a, "churn", 2, churn)};
    validator_history_reads hr;
    validator_history_reads_init(&hr, f->a, 4);
    const size_t *idx[3];
    for (int m = 0; m < 3; m++)
        idx[m] = validator_history_queue(&hr, f->srv.r, f->a, p[m]);
    assert_int_equal(hr.n, 4); /* churn:extract, churn:train, etl:load, etl:train */
    assert_int_equal(idx[1][0], idx[1][2]);
    assert_int_equal(idx[2][1], idx[0][1]);
    redisReply **rep = acms_arena_alloc(f->a, 2 * hr.n * sizeof *rep);
    assert_int_equal(acms_redis_exec(f->srv.r, rep, 2 * hr.n), ACMS_OK);
    for (int m = 0; m < 3; m++) {
        validator_step_history *got = validator_history_collect(f->a, p[m], idx[m], rep), *want;
        assert_int_equal(validator_history_load_steps(f->srv.r, f->a, p[m], &want), ACMS_OK);
        same_history(got, want, p[m]->n_steps);
    }
    for (size_t k = 0; k < 2 * hr.n; k++)
        freeReplyObject(rep[k]);
    validator_history_reads_init(&hr, f->a, 1);
    const size_t *one = validator_history_queue(&hr, f->srv.r, f->a, p[0]);
    assert_int_equal(acms_redis_exec(f->srv.r, rep, 2 * hr.n), ACMS_OK);
    validator_step_history *h = validator_history_collect(f->a, p[0], one, rep);
    assert_true(!h[0].has_rec && !h[0].has_stats);
    assert_true(h[1].has_rec && h[1].rec_memory_mb == 2048 && h[1].rec_runtime_s == 600);
    assert_true(h[1].has_stats && h[1].runs == 12 && h[1].p90_peak_mb == 1500);
    for (size_t k = 0; k < 2 * hr.n; k++)
        freeReplyObject(rep[k]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_match_formats),
        cmocka_unit_test(test_long_keys_on_the_heap),
        cmocka_unit_test_setup_teardown(test_group_reads_each_key_once, fx_redis_arena_setup, fx_redis_arena_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
