/* The run readers shared by acmsctl and acms-console (common/runview.c) against a real redis-server:
 * a run's view (hash fields typed, steps in document order with attempts parsed, adaptations), an
 * unknown run, the run list newest first with its filters, and paging by (before_ms, skip) that
 * neither repeats nor skips a run when several were submitted in the same millisecond and a page
 * boundary falls among them; a status written with binary list items (the packed verdict). A dead
 * server is "unreachable", never an unknown run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "adapt_reason.h"
#include "doc.h"
#include "pb.h"
#include "redis_fixture.h"
#include "runview.h"
#include "run_state.h"

static void cmd(acms_redis *r, const char *fmt, const char *a, const char *b)
{
    redisReply *rep = acms_redis_cmd(r, fmt, a, b);
    assert_non_null(rep);
    assert_int_not_equal(rep->type, REDIS_REPLY_ERROR);
    freeReplyObject(rep);
}

/* A run submitted at ms with the given fields (written as the services write them). */
static void run_at(acms_redis *r, const char *id, long long ms, const char *env, const char *pipe, const char *status)
{
    char score[32];
    snprintf(score, sizeof score, "%lld", ms);
    redisReply *rep = acms_redis_cmd(r, "HSET acms:run:%s run_id %s environment %s pipeline %s status %s submitted_ms %s",
                                     id, id, env, pipe, status, score);
    assert_non_null(rep);
    freeReplyObject(rep);
    cmd(r, "ZADD acms:runs %s %s", score, id);
}

/* A prepared log as the adapter writes it: a RuntimeConfiguration holding only adaptation_log. */
static const char *packed_log(size_t *len)
{
    Acms__V1__AdaptationRecord r1 = ACMS__V1__ADAPTATION_RECORD__INIT, r2 = ACMS__V1__ADAPTATION_RECORD__INIT;
    r1.stage = "environment";
    r1.reason = "why";
    r2.stage = "scaling";
    r2.reason = "fits";
    r2.safety_score = 0.5;
    /* a reason carried as a template: shown as the text it renders to */
    Acms__V1__AdaptationRecord r3 = ACMS__V1__ADAPTATION_RECORD__INIT;
    char *args[] = {"dev"};
    r3.stage = "environment";
    r3.reason_template = ACMS_REASON_DEFAULT_EXECUTOR;
    r3.reason_args = args;
    r3.n_reason_args = 1;
    Acms__V1__AdaptationRecord *v[] = {&r1, &r2, &r3};
    Acms__V1__RuntimeConfiguration only = ACMS__V1__RUNTIME_CONFIGURATION__INIT;
    only.adaptation_log = v;
    only.n_adaptation_log = 3;
    *len = protobuf_c_message_get_packed_size(&only.base);
    uint8_t *buf = malloc(*len);
    assert_non_null(buf);
    protobuf_c_message_pack(&only.base, buf);
    return (const char *)buf;
}

static void test_read_view(void **state)
{
    acms_redis *r = ((fx_redis *)*state)->r;
    const char *kv[] = {"pipeline", "p1", "environment", "dev", "steps_total", "2"};
    assert_int_equal(acms_state_run_status(r, "r1", "running", kv, 6), 1);
    cmd(r, "RPUSH acms:run:%s:steps %s", "r1", "b");
    cmd(r, "RPUSH acms:run:%s:steps %s", "r1", "a");
    const char *skv[] = {"status", "failed", "attempt", "2", "attempts", "[{\"attempt\":1,\"reason\":\"MEMORY\"}]"};
    assert_int_equal(acms_state_step_set(r, "r1", "b", skv, 6), ACMS_OK);
    /* the prepared log is one item (the adapter's packed log), runtime records follow one an item */
    const char *items[1];
    size_t lens[1];
    items[0] = packed_log(&lens[0]);
    assert_int_equal(acms_state_run_status_blobs(r, "r1", "running", kv, 6, "adaptations", items, lens, 1), 1);
    free((void *)items[0]);
    cmd(r, "RPUSH acms:run:%s:adaptations %s", "r1", "{\"stage\":\"runtime\",\"reason\":\"later\"}");
    int unreachable = 1;
    cJSON *v = acms_runview_read(r, "r1", &unreachable);
    assert_non_null(v);
    assert_int_equal(unreachable, 0);
    assert_string_equal(cJSON_GetObjectItem(v, "status")->valuestring, "running");
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(v, "steps_total")));
    cJSON *steps = cJSON_GetObjectItem(v, "steps");
    assert_int_equal(cJSON_GetArraySize(steps), 2);
    cJSON *b = cJSON_GetArrayItem(steps, 0);
    assert_string_equal(cJSON_GetObjectItem(b, "name")->valuestring, "b"); /* document order, not sorted */
    assert_int_equal((int)cJSON_GetObjectItem(b, "attempt")->valuedouble, 2);
    cJSON *att = cJSON_GetArrayItem(cJSON_GetObjectItem(b, "attempts"), 0);
    assert_string_equal(cJSON_GetObjectItem(att, "reason")->valuestring, "MEMORY");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(v, "adaptations"), 0), "reason")
                            ->valuestring,
                        "why");
    cJSON *ads = cJSON_GetObjectItem(v, "adaptations");
    assert_int_equal(cJSON_GetArraySize(ads), 4);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(ads, 1), "stage")->valuestring, "scaling");
    assert_true(cJSON_GetObjectItem(cJSON_GetArrayItem(ads, 1), "safety_score")->valuedouble == 0.5);
    /* byte for byte the JSON of the same record with the reason written out */
    Acms__V1__AdaptationRecord text = ACMS__V1__ADAPTATION_RECORD__INIT;
    text.stage = "environment";
    text.reason = "no executor given: default of environment dev";
    cJSON *want = acms_json_from_message(&text.base);
    char *w = cJSON_PrintUnformatted(want), *got = cJSON_PrintUnformatted(cJSON_GetArrayItem(ads, 2));
    assert_string_equal(got, w);
    free(w);
    free(got);
    cJSON_Delete(want);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(ads, 3), "reason")->valuestring, "later");
    cJSON_Delete(v);
    assert_null(acms_runview_read(r, "nope", &unreachable));
    assert_int_equal(unreachable, 0);
}

static const char *run_id_at(const cJSON *list, int i)
{
    return cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(list, "runs"), i), "run_id")->valuestring;
}

static void test_list_filters(void **state)
{
    acms_redis *r = ((fx_redis *)*state)->r;
    run_at(r, "a", 1000, "dev", "p1", "succeeded");
    run_at(r, "b", 2000, "prod", "p1", "failed");
    run_at(r, "c", 3000, "dev", "p2", "failed");
    cmd(r, "ZADD acms:runs %s %s", "4000", "gone"); /* its hash expired: not listed */
    cJSON *out = NULL;
    acms_runview_filter all = {0};
    assert_int_equal(acms_runview_list(r, &all, &out), ACMS_OK);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(out, "runs")), 3);
    assert_string_equal(run_id_at(out, 0), "c"); /* newest first */
    assert_string_equal(run_id_at(out, 2), "a");
    assert_null(cJSON_GetObjectItem(out, "next"));
    cJSON_Delete(out);
    acms_runview_filter f = {.environment = "dev", .status = "failed"};
    assert_int_equal(acms_runview_list(r, &f, &out), ACMS_OK);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(out, "runs")), 1);
    assert_string_equal(run_id_at(out, 0), "c");
    cJSON_Delete(out);
    acms_runview_filter g = {.pipeline = "p1"};
    assert_int_equal(acms_runview_list(r, &g, &out), ACMS_OK);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(out, "runs")), 2);
    cJSON_Delete(out);
    acms_runview_filter none = {.pipeline = "p"}; /* exact match, not a prefix */
    assert_int_equal(acms_runview_list(r, &none, &out), ACMS_OK);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(out, "runs")), 0);
    cJSON_Delete(out);
}

/* 7 runs, 4 of them in one millisecond, read 2 at a time: every run exactly once, in order. */
static void test_list_pages_with_ties(void **state)
{
    acms_redis *r = ((fx_redis *)*state)->r;
    const char *ids[] = {"t1", "t2", "t3", "t4", "u", "v", "w"};
    long long ms[] = {5000, 5000, 5000, 5000, 4000, 6000, 3000};
    for (int i = 0; i < 7; i++)
        run_at(r, ids[i], ms[i], "dev", "p", "succeeded");
    char seen[8][8];
    int n = 0;
    acms_runview_filter f = {.limit = 2};
    for (int page = 0; page < 10; page++) {
        cJSON *out = NULL;
        assert_int_equal(acms_runview_list(r, &f, &out), ACMS_OK);
        cJSON *s;
        cJSON_ArrayForEach(s, cJSON_GetObjectItem(out, "runs"))
        {
            assert_true(n < 7);
            snprintf(seen[n++], sizeof seen[0], "%s", cJSON_GetObjectItem(s, "run_id")->valuestring);
        }
        cJSON *next = cJSON_GetObjectItem(out, "next");
        if (next) {
            f.before_ms = (int64_t)cJSON_GetObjectItem(next, "before_ms")->valuedouble;
            f.skip = (size_t)cJSON_GetObjectItem(next, "skip")->valuedouble;
        }
        cJSON_Delete(out);
        if (!next)
            break;
    }
    assert_int_equal(n, 7);
    assert_string_equal(seen[0], "v");
    for (int i = 1; i <= 4; i++) /* the four ties, each once (Redis orders them by member, reversed) */
        assert_string_equal(seen[i], ids[4 - i]);
    assert_string_equal(seen[5], "u");
    assert_string_equal(seen[6], "w");
}

/* A run keeps binary items (the packed verdict) with its status: written byte for byte with a status
 * that moves forward, left alone once the run has moved past it. */
static void test_status_blobs(void **state)
{
    acms_redis *r = ((fx_redis *)*state)->r;
    const char bytes[] = {'a', 0, 'b', (char)0xff};
    const char *items[] = {bytes};
    size_t lens[] = {sizeof bytes};
    const char *kv[] = {"reason", "bad"};
    assert_int_equal(acms_state_run_status_blobs(r, "b1", "rejected", kv, 2, ACMS_STATE_VALIDATION, items, lens, 1), 1);
    redisReply *rep = acms_redis_cmd(r, "LRANGE acms:run:b1:validation 0 -1");
    assert_int_equal(rep->elements, 1);
    assert_int_equal(rep->element[0]->len, sizeof bytes);
    assert_memory_equal(rep->element[0]->str, bytes, sizeof bytes);
    freeReplyObject(rep);
    const char other[] = "later";
    const char *later[] = {other};
    size_t llen[] = {5};
    assert_int_equal(acms_state_run_status_blobs(r, "b1", "validated", NULL, 0, ACMS_STATE_VALIDATION, later, llen, 1),
                     0); /* rejected is final */
    rep = acms_redis_cmd(r, "LRANGE acms:run:b1:validation 0 -1");
    assert_int_equal(rep->elements, 1);
    assert_memory_equal(rep->element[0]->str, bytes, sizeof bytes);
    freeReplyObject(rep);
    /* queued, as the validator's group path sends it */
    assert_int_equal(acms_state_run_status_blobs_append(r, "b2", "validated", NULL, 0, ACMS_STATE_VALIDATION, items,
                                                        lens, 1),
                     ACMS_OK);
    redisReply *st = NULL;
    assert_int_equal(acms_redis_exec(r, &st, 1), ACMS_OK);
    assert_int_equal(acms_state_run_status_reply(st), 1);
    freeReplyObject(st);
    rep = acms_redis_cmd(r, "LRANGE acms:run:b2:validation 0 -1");
    assert_int_equal(rep->element[0]->len, sizeof bytes);
    freeReplyObject(rep);
}

static void test_unreachable(void **state)
{
    fx_redis *x = *state;
    run_at(x->r, "a", 1000, "dev", "p", "running");
    fx_redis_kill(x);
    int unreachable = 0;
    assert_null(acms_runview_read(x->r, "a", &unreachable));
    assert_int_equal(unreachable, 1);
    cJSON *out = NULL;
    acms_runview_filter f = {0};
    assert_int_equal(acms_runview_list(x->r, &f, &out), ACMS_ERR_RETRY);
    assert_null(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_read_view, fx_redis_setup, fx_redis_teardown),
        cmocka_unit_test_setup_teardown(test_list_filters, fx_redis_setup, fx_redis_teardown),
        cmocka_unit_test_setup_teardown(test_list_pages_with_ties, fx_redis_setup, fx_redis_teardown),
        cmocka_unit_test_setup_teardown(test_status_blobs, fx_redis_setup, fx_redis_teardown),
        cmocka_unit_test_setup_teardown(test_unreachable, fx_redis_setup, fx_redis_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
