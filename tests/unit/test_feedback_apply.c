/* The feedback service's Redis writes (services/feedback/apply.c) against a real redis-server: an
 * event's effects (the step's versioned stats, its recommendation, the run's record, alert counts)
 * and its seen-mark are written by one script, so a redelivered event writes nothing, and an event
 * computed from a stale stats version writes nothing at all, not even its unversioned hashes or its
 * seen-mark, until it is re-read and applied with the current version. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "feedback/apply.h"
#include "redis_fixture.h"

typedef fx_redis_arena fx;
#define hget fx_redis_hget

/* One ExecutionResult's writes, in on_result.c's order: per step its versioned stats and its
 * recommendation (replaced), then the run's record; an alert count beside them. The second step's
 * stats carry expect_eval, so a stale one sits after writes that would otherwise go through. */
static size_t result_ops(fx *f, const char *run, const char *expect_eval, const char *samples,
                         feedback_hash_op ops[6])
{
    acms_arena *a = f->a;
    static const char *const steps[] = {"train", "eval"};
    size_t n = 0;
    memset(ops, 0, 6 * sizeof *ops);
    for (size_t i = 0; i < 2; i++) {
        const char *stats = feedback_key_stats(a, "pipe", steps[i]);
        const char **kv;
        size_t nkv;
        const char *cur = "0"; /* train's version as read now: only eval's may be stale */
        assert_int_equal(acms_redis_hgetall(f->srv.r, a, stats, &kv, &nkv), ACMS_OK);
        for (size_t k = 0; k + 1 < nkv; k += 2)
            if (!strcmp(kv[k], "version"))
                cur = kv[k + 1];
        ops[n] = (feedback_hash_op){.key = stats, .expect_version = i == 1 ? expect_eval : cur,
                                    .ttl_s = FEEDBACK_STATS_TTL_S};
        acms_hash_op_add(a, &ops[n].set, &ops[n].nset, "samples", samples);
        n++;
        ops[n] = (feedback_hash_op){.key = feedback_key_rec(a, "pipe", steps[i]), .replace = 1,
                                    .ttl_s = FEEDBACK_STATS_TTL_S};
        acms_hash_op_add(a, &ops[n].set, &ops[n].nset, "memory_mb", samples);
        n++;
    }
    ops[n] = (feedback_hash_op){.key = feedback_key_alerts(a, "pipe")};
    acms_hash_op_add(a, &ops[n].incr, &ops[n].nincr, "StepKilledForMemory", "1");
    n++;
    ops[n] = (feedback_hash_op){.key = feedback_key_run(a, run), .ttl_s = FEEDBACK_RUN_TTL_S};
    acms_hash_op_add(a, &ops[n].set, &ops[n].nset, "event_id", run);
    return n + 1;
}

static void redelivery_writes_nothing(void **state)
{
    fx *f = *state;
    feedback_hash_op ops[6];
    size_t n = result_ops(f, "run-1", "0", "1", ops);
    const char *seen = feedback_key_seen(f->a, "ev-1");
    assert_int_equal(feedback_apply(f->srv.r, seen, ops, n), 1);
    assert_string_equal(hget(f, feedback_key_stats(f->a, "pipe", "train"), "version"), "1");
    assert_string_equal(hget(f, feedback_key_alerts(f->a, "pipe"), "StepKilledForMemory"), "1");
    assert_int_equal(acms_redis_exists(f->srv.r, seen), 1);
    /* the same event again, even rebuilt from the new version: nothing written */
    n = result_ops(f, "run-1", "1", "2", ops);
    assert_int_equal(feedback_apply(f->srv.r, seen, ops, n), 0);
    assert_string_equal(hget(f, feedback_key_stats(f->a, "pipe", "train"), "samples"), "1");
    assert_string_equal(hget(f, feedback_key_stats(f->a, "pipe", "train"), "version"), "1");
    assert_string_equal(hget(f, feedback_key_alerts(f->a, "pipe"), "StepKilledForMemory"), "1");
}

static void version_mismatch_applies_nothing(void **state)
{
    fx *f = *state;
    feedback_hash_op ops[6];
    size_t n = result_ops(f, "run-1", "0", "1", ops);
    assert_int_equal(feedback_apply(f->srv.r, feedback_key_seen(f->a, "ev-1"), ops, n), 1);
    /* a second run's result computed from version 0 (another replica wrote meanwhile) */
    n = result_ops(f, "run-2", "0", "9", ops);
    const char *seen2 = feedback_key_seen(f->a, "ev-2");
    assert_int_equal(feedback_apply(f->srv.r, seen2, ops, n), ACMS_ERR_STALE);
    assert_string_equal(hget(f, feedback_key_stats(f->a, "pipe", "train"), "samples"), "1");
    assert_string_equal(hget(f, feedback_key_stats(f->a, "pipe", "train"), "version"), "1");
    assert_string_equal(hget(f, feedback_key_rec(f->a, "pipe", "train"), "memory_mb"), "1");
    assert_string_equal(hget(f, feedback_key_stats(f->a, "pipe", "eval"), "samples"), "1");
    assert_int_equal(acms_redis_exists(f->srv.r, feedback_key_run(f->a, "run-2")), 0);
    assert_string_equal(hget(f, feedback_key_alerts(f->a, "pipe"), "StepKilledForMemory"), "1");
    assert_int_equal(acms_redis_exists(f->srv.r, seen2), 0);
    /* a version ahead of the hash is refused too */
    n = result_ops(f, "run-2", "5", "9", ops);
    assert_int_equal(feedback_apply(f->srv.r, seen2, ops, n), ACMS_ERR_STALE);
    assert_int_equal(acms_redis_exists(f->srv.r, feedback_key_run(f->a, "run-2")), 0);
    /* re-read: the current version applies all of it */
    n = result_ops(f, "run-2", "1", "2", ops);
    assert_int_equal(feedback_apply(f->srv.r, seen2, ops, n), 1);
    assert_string_equal(hget(f, feedback_key_stats(f->a, "pipe", "train"), "samples"), "2");
    assert_string_equal(hget(f, feedback_key_stats(f->a, "pipe", "train"), "version"), "2");
    assert_string_equal(hget(f, feedback_key_stats(f->a, "pipe", "eval"), "version"), "2");
    assert_string_equal(hget(f, feedback_key_rec(f->a, "pipe", "train"), "memory_mb"), "2");
    assert_string_equal(hget(f, feedback_key_run(f->a, "run-2"), "event_id"), "run-2");
    assert_string_equal(hget(f, feedback_key_alerts(f->a, "pipe"), "StepKilledForMemory"), "2");
}

static void lastissues_versioned_and_replaced(void **state)
{
    fx *f = *state;
    const char *lkey = feedback_key_lastissues(f->a, "pipe", "dev");
    feedback_hash_op op = {.key = lkey, .expect_version = "0", .replace = 1};
    acms_hash_op_add(f->a, &op.set, &op.nset, "DAG_CYCLE", "dag.split");
    assert_int_equal(feedback_apply(f->srv.r, feedback_key_seen(f->a, "v-1"), &op, 1), 1);
    /* the next validation replaces the issues and keeps counting versions */
    feedback_hash_op op2 = {.key = lkey, .expect_version = "1", .replace = 1};
    acms_hash_op_add(f->a, &op2.set, &op2.nset, "POL-OWNER-TAG", "POL-OWNER-TAG:policy-fix");
    assert_int_equal(feedback_apply(f->srv.r, feedback_key_seen(f->a, "v-2"), &op2, 1), 1);
    assert_null(hget(f, lkey, "DAG_CYCLE"));
    assert_string_equal(hget(f, lkey, "version"), "2");
    /* a concurrent one that read version 1 is refused and leaves the issues as they are */
    feedback_hash_op op3 = {.key = lkey, .expect_version = "1", .replace = 1};
    assert_int_equal(feedback_apply(f->srv.r, feedback_key_seen(f->a, "v-3"), &op3, 1), ACMS_ERR_STALE);
    assert_string_equal(hget(f, lkey, "POL-OWNER-TAG"), "POL-OWNER-TAG:policy-fix");
    fx_redis_kill(&f->srv);
    assert_int_equal(feedback_apply(f->srv.r, feedback_key_seen(f->a, "v-3"), &op3, 1), ACMS_ERR_RETRY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(redelivery_writes_nothing, fx_redis_arena_setup, fx_redis_arena_teardown),
        cmocka_unit_test_setup_teardown(version_mismatch_applies_nothing, fx_redis_arena_setup, fx_redis_arena_teardown),
        cmocka_unit_test_setup_teardown(lastissues_versioned_and_replaced, fx_redis_arena_setup, fx_redis_arena_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
