/* Retention of a run's state (common/retention.h) against a real redis-server: a terminal status sets
 * the expiry of every key of the run, whoever wrote it; a late write (finding, alert, monitor session,
 * feedback record, cancel flag) takes the run's expiry instead of none; a run that is gone stays gone
 * (no write brings a key back, no status re-creates it); the sweep drops expired runs from acms:runs
 * into tombstones and compacts finished runs to their summary, which the run view reads back; delete
 * refuses a running run and removes every key of a finished one, compacted or not; learned keys are
 * never touched; the idempotency marks outlive every topic of deploy/topics.yaml. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>
#include <string.h>

#include "redis_hash.h"
#include "redis_fixture.h"
#include "retention.h"
#include "runview.h"
#include "run_state.h"

static long long num(acms_redis *r, const char *fmt, const char *a, const char *b)
{
    redisReply *rep = acms_redis_cmd(r, fmt, a, b);
    assert_non_null(rep);
    long long v = rep->type == REDIS_REPLY_INTEGER ? rep->integer
                  : rep->type == REDIS_REPLY_STRING ? strtoll(rep->str, NULL, 10)
                                                     : -99;
    freeReplyObject(rep);
    return v;
}

static void cmd(acms_redis *r, const char *fmt, const char *a, const char *b)
{
    redisReply *rep = acms_redis_cmd(r, fmt, a, b);
    assert_non_null(rep);
    assert_int_not_equal(rep->type, REDIS_REPLY_ERROR);
    freeReplyObject(rep);
}

/* A run as the services leave it while it runs: two steps (b with two attempts), log tails, the
 * adaptation log, the verdict, the coordinator's runtime, a monitor session and learned keys. */
static void live_run(acms_redis *r, const char *run)
{
    const char *kv[] = {"pipeline", "p", "environment", "dev", "config_hash", "h1"};
    assert_int_equal(acms_state_run_status(r, run, "running", kv, 6), 1);
    cmd(r, "RPUSH acms:run:%s:steps a b", run, NULL);
    cmd(r, "HSET acms:run:%s:step:a status succeeded attempt 1", run, NULL);
    cmd(r, "HSET acms:run:%s:step:b status failed attempt 2", run, NULL);
    cmd(r, "HSET acms:run:%s:log:a:1 stdout x", run, NULL);
    cmd(r, "HSET acms:run:%s:log:b:1 stdout y", run, NULL);
    cmd(r, "HSET acms:run:%s:log:b:2 stdout z", run, NULL);
    cmd(r, "RPUSH acms:run:%s:adaptations packed-log {} {}", run, NULL); /* the adapter's log, 3 records */
    cmd(r, "HSET acms:run:%s adaptations_prepared 3", run, NULL);
    cmd(r, "RPUSH acms:run:%s:validation v", run, NULL);
    cmd(r, "SET acms:run:%s:runtime blob", run, NULL);
    cmd(r, "HSET acms:run:%s:rtonce b:2:MEMORY_NEAR_LIMIT e7", run, NULL); /* the validator's runtime marks */
    cmd(r, "HSET acms:monitor:session:%s status open", run, NULL);
    cmd(r, "SET acms:doc:h1 doc EX 60", NULL, NULL);
    cmd(r, "HSET acms:learn:rec:p:a memory_mb 100", NULL, NULL);
    cmd(r, "HSET acms:feedback:stats:p:a runs 1", NULL, NULL);
}

static const char *const run_parts[] = {"", ":steps", ":step:a", ":step:b", ":log:a:1", ":log:b:1", ":log:b:2",
                                        ":adaptations", ":validation", ":runtime", ":rtonce"};

static void assert_all_expire(acms_redis *r, const char *run, long long max_ms)
{
    char key[256];
    for (size_t i = 0; i < sizeof run_parts / sizeof *run_parts; i++) {
        snprintf(key, sizeof key, "acms:run:%s%s", run, run_parts[i]);
        long long t = num(r, "PTTL %s", key, NULL);
        if (t <= 0 || t > max_ms)
            fail_msg("%s: PTTL %lld, want 1..%lld", key, t, max_ms);
    }
    long long t = num(r, "PTTL acms:monitor:session:%s", run, NULL);
    assert_true(t > 0 && t <= max_ms);
    assert_int_equal(num(r, "PTTL %s", "acms:learn:rec:p:a", NULL), -1);    /* learned: stays */
    assert_int_equal(num(r, "PTTL %s", "acms:feedback:stats:p:a", NULL), -1);
}

static void terminal_status_expires_every_key(void **state)
{
    acms_redis *r = ((fx_redis *)*state)->r;
    acms_redis_set_run_retention(r, 600000);
    live_run(r, "r1");
    assert_int_equal(num(r, "PTTL %s", "acms:run:r1:step:a", NULL), -1); /* a live run keeps its keys */
    const char *kv[] = {"finished_ms", "1"};
    assert_int_equal(acms_state_run_status(r, "r1", "failed", kv, 2), 1);
    assert_all_expire(r, "r1", 600000);
    long long at = num(r, "HGET acms:run:%s expires_ms", "r1", NULL);
    assert_true(at > acms_now_ms());
    assert_int_equal(num(r, "ZSCORE acms:runs:expiry %s", "r1", NULL), at);
    assert_true(num(r, "PEXPIRETIME %s", "acms:doc:h1", NULL) >= at); /* the document outlives the run */
    /* a second terminal write (redelivered) keeps the first expiry */
    assert_int_equal(acms_state_run_status(r, "r1", "failed", kv, 2), 1);
    assert_int_equal(num(r, "HGET acms:run:%s expires_ms", "r1", NULL), at);
}

static void late_writes_take_the_runs_expiry(void **state)
{
    acms_redis *r = ((fx_redis *)*state)->r;
    acms_redis_set_run_retention(r, 600000);
    live_run(r, "r2");
    assert_int_equal(acms_state_run_status(r, "r2", "succeeded", NULL, 0), 1);
    long long at = num(r, "HGET acms:run:%s expires_ms", "r2", NULL);
    /* keys created after the end: a runtime finding, an alert, the cancel flag, the feedback record */
    assert_int_equal(acms_state_run_record(r, "r2", ACMS_STATE_FINDINGS, "e1", "{}"), ACMS_OK);
    assert_int_equal(acms_state_run_record(r, "r2", ACMS_STATE_ALERTS, "e2", "{}"), ACMS_OK);
    assert_int_equal(acms_state_cancel_flag(r, "r2", "late"), ACMS_OK);
    acms_arena *a = acms_arena_new(0);
    acms_hash_op op = {.key = "acms:feedback:run:r2", .ttl_s = 3600 * 24 * 30, .run_id = "r2"};
    acms_hash_op_add(a, &op.set, &op.nset, "success", "1");
    assert_int_equal(acms_hash_apply(r, "acms:seen:t:1", 100, &op, 1), 1);
    const char *keys[] = {"acms:run:r2:findings", "acms:run:r2:alerts", "acms:run:r2:cancel", "acms:feedback:run:r2"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(num(r, "PEXPIRETIME %s", keys[i], NULL), at);
    /* a live run's monitor session keeps the op's own ttl until the run ends */
    live_run(r, "r3");
    acms_hash_op s3 = {.key = "acms:monitor:session:r3", .ttl_s = 1000, .run_id = "r3"};
    acms_hash_op_add(a, &s3.set, &s3.nset, "status", "open");
    assert_int_equal(acms_hash_apply(r, NULL, 0, &s3, 1), 1);
    long long t = num(r, "TTL %s", "acms:monitor:session:r3", NULL);
    assert_true(t > 990 && t <= 1000);
    acms_arena_free(a);
}

static void gone_runs_stay_gone(void **state)
{
    acms_redis *r = ((fx_redis *)*state)->r;
    acms_redis_set_run_retention(r, 1);
    live_run(r, "r4");
    assert_int_equal(acms_state_run_status(r, "r4", "succeeded", NULL, 0), 1);
    for (int i = 0; i < 200 && num(r, "EXISTS %s", "acms:run:r4", NULL); i++)
        usleep(10000);
    assert_int_equal(num(r, "EXISTS %s", "acms:run:r4", NULL), 0);
    acms_sweep sw = {.now_ms = acms_now_ms() + 1000, .compact_after_ms = -1, .tombstone_ms = 3600000};
    assert_int_equal(acms_retention_sweep(r, &sw), ACMS_OK);
    assert_int_equal(sw.expired, 1);
    assert_int_equal(num(r, "ZSCORE acms:runs %s", "r4", NULL), -99); /* left the index */
    assert_true(num(r, "ZSCORE acms:runs:gone %s", "r4", NULL) > 0);
    int64_t when = 0;
    int deleted = -1;
    assert_int_equal(acms_retention_gone(r, "r4", &when, &deleted), 1);
    assert_int_equal(deleted, 0);
    /* late and replayed writes for it: nothing comes back */
    acms_redis_set_run_retention(r, 600000);
    assert_int_equal(acms_state_run_record(r, "r4", ACMS_STATE_ALERTS, "e3", "{}"), ACMS_OK);
    assert_int_equal(acms_state_cancel_flag(r, "r4", "late"), ACMS_OK);
    assert_int_equal(acms_state_run_status(r, "r4", "prepared", NULL, 0), 0);
    assert_int_equal(acms_state_run_status(r, "r4", "succeeded", NULL, 0), 0);
    acms_hash_op op = {.key = "acms:monitor:session:r4", .ttl_s = 100, .run_id = "r4"};
    acms_arena *a = acms_arena_new(0);
    acms_hash_op_add(a, &op.set, &op.nset, "status", "closed");
    assert_int_equal(acms_hash_apply(r, NULL, 0, &op, 1), 1);
    acms_arena_free(a);
    redisReply *rep = acms_redis_cmd(r, "KEYS *r4*");
    assert_int_equal(rep->elements, 0);
    freeReplyObject(rep);
    /* the tombstone itself goes after tombstone_ms */
    acms_sweep later = {.now_ms = acms_now_ms() + 7200000, .compact_after_ms = -1, .tombstone_ms = 3600000};
    assert_int_equal(acms_retention_sweep(r, &later), ACMS_OK);
    assert_int_equal(acms_retention_gone(r, "r4", &when, &deleted), 0);
}

static void sweep_compacts_to_the_summary(void **state)
{
    acms_redis *r = ((fx_redis *)*state)->r;
    acms_redis_set_run_retention(r, 600000);
    live_run(r, "r5");
    const char *kv[] = {"summary", "{\"version\":1,\"steps\":[{\"name\":\"a\",\"status\":\"succeeded\",\"attempt\":1},"
                                   "{\"name\":\"b\",\"status\":\"failed\",\"attempt\":2,\"attempts\":[]}]}"};
    assert_int_equal(acms_state_run_status(r, "r5", "failed", kv, 2), 1);
    acms_sweep sw = {.now_ms = acms_now_ms() + 10, .compact_after_ms = 0, .tombstone_ms = 3600000};
    assert_int_equal(acms_retention_sweep(r, &sw), ACMS_OK);
    assert_int_equal(sw.compacted, 1);
    const char *gone[] = {":runtime", ":adaptations", ":rtonce", ":steps", ":step:a", ":step:b"};
    char key[128];
    for (size_t i = 0; i < 6; i++) {
        snprintf(key, sizeof key, "acms:run:r5%s", gone[i]);
        assert_int_equal(num(r, "EXISTS %s", key, NULL), 0);
    }
    assert_int_equal(num(r, "EXISTS %s", "acms:monitor:session:r5", NULL), 0);
    assert_int_equal(num(r, "EXISTS %s", "acms:run:r5:log:b:2", NULL), 1); /* logs stay until the expiry */
    assert_int_equal(num(r, "HGET acms:run:%s adaptations_count", "r5", NULL), 5);
    int unreachable = 0;
    cJSON *v = acms_runview_read(r, "r5", &unreachable);
    assert_non_null(v);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(v, "compacted")));
    assert_null(cJSON_GetObjectItem(v, "summary"));
    cJSON *steps = cJSON_GetObjectItem(v, "steps");
    assert_int_equal(cJSON_GetArraySize(steps), 2);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(steps, 1), "status")->valuestring, "failed");
    cJSON_Delete(v);
    /* deleting the compacted run finds its log keys through the summary */
    char status[32];
    assert_int_equal(acms_retention_delete(r, "r5", status, sizeof status), 1);
    redisReply *rep = acms_redis_cmd(r, "KEYS *r5*");
    assert_int_equal(rep->elements, 0);
    freeReplyObject(rep);
    assert_int_equal(num(r, "EXISTS %s", "acms:learn:rec:p:a", NULL), 1);
}

static void delete_refuses_a_running_run(void **state)
{
    acms_redis *r = ((fx_redis *)*state)->r;
    live_run(r, "r6");
    char status[32] = "";
    assert_int_equal(acms_retention_delete(r, "r6", status, sizeof status), 0);
    assert_string_equal(status, "running");
    assert_int_equal(num(r, "EXISTS %s", "acms:run:r6:step:b", NULL), 1);
    assert_int_equal(acms_retention_delete(r, "nope", status, sizeof status), ACMS_ERR_NOTFOUND);
    assert_int_equal(acms_state_run_status(r, "r6", "cancelled", NULL, 0), 1);
    assert_int_equal(acms_retention_delete(r, "r6", status, sizeof status), 1);
    redisReply *rep = acms_redis_cmd(r, "KEYS *r6*");
    assert_int_equal(rep->elements, 0);
    freeReplyObject(rep);
    int64_t when = 0;
    int deleted = 0;
    assert_int_equal(acms_retention_gone(r, "r6", &when, &deleted), 1);
    assert_int_equal(deleted, 1);
    assert_int_equal(acms_retention_link(r, "r6", "retried_by", "x"), 0); /* never re-created */
}

static void marks_outlive_every_topic(void **state)
{
    (void)state;
    acms_topics ts;
    char err[512] = "", path[1024];
    const char *repo = getenv("ACMS_REPO");
    snprintf(path, sizeof path, "%s/deploy/topics.yaml", repo ? repo : ".");
    assert_int_equal(acms_topics_load(&ts, path, err, sizeof err), ACMS_OK);
    assert_int_equal(acms_retention_check_topics(&ts, ACMS_SEEN_TTL_DEFAULT_S, err, sizeof err), ACMS_OK);
    int64_t longest = 0;
    for (size_t i = 0; i < ts.n; i++)
        longest = ts.t[i].retention_ms > longest ? ts.t[i].retention_ms : longest;
    assert_true(longest / 1000 <= ACMS_HISTORY_MAX_S);
    /* a day of margin is the rule: one second less is refused, naming the topic */
    assert_int_equal(acms_retention_check_topics(&ts, longest / 1000 + ACMS_SEEN_MARGIN_S - 1, err, sizeof err),
                     ACMS_ERR_INVALID);
    assert_non_null(strstr(err, "ACMS_SEEN_TTL_S"));
    ts.t[0].retention_ms = -1;
    assert_int_equal(acms_retention_check_topics(&ts, ACMS_SEEN_TTL_DEFAULT_S, err, sizeof err), ACMS_ERR_INVALID);
    assert_non_null(strstr(err, ts.t[0].name));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(terminal_status_expires_every_key, fx_redis_setup, fx_redis_teardown),
        cmocka_unit_test_setup_teardown(late_writes_take_the_runs_expiry, fx_redis_setup, fx_redis_teardown),
        cmocka_unit_test_setup_teardown(gone_runs_stay_gone, fx_redis_setup, fx_redis_teardown),
        cmocka_unit_test_setup_teardown(sweep_compacts_to_the_summary, fx_redis_setup, fx_redis_teardown),
        cmocka_unit_test_setup_teardown(delete_refuses_a_running_run, fx_redis_setup, fx_redis_teardown),
        cmocka_unit_test(marks_outlive_every_topic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
