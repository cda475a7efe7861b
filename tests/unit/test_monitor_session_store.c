/* The monitor's Redis writes (services/monitor/session.c) against a real redis-server: a step
 * event's session update is applied under its seen-mark, so a redelivery counts nothing twice; a
 * late RUN_STARTED never resets an open session; a stale baseline version refuses the whole event
 * (the session update and the seen-mark included); and the alert rate limit lets one owner through
 * per key (again on its own redelivery, never for another event). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/session.h"
#include "redis_fixture.h"

typedef fx_redis_arena fx;
#define hget fx_redis_hget

static Acms__V1__StepEvent *event(fx *f, Acms__V1__StepEventKind kind, const char *id, int64_t ts)
{
    Acms__V1__StepEvent *ev = acms_pb_new(f->a, &acms__v1__step_event__descriptor);
    ev->meta = acms_pb_new(f->a, &acms__v1__event_meta__descriptor);
    ev->meta->run_id = "run-1";
    ev->meta->event_id = (char *)id;
    ev->meta->timestamp_ms = ts;
    ev->kind = kind;
    ev->pipeline = "pipe";
    ev->environment = "dev";
    ev->step = "train";
    ev->attempt = 1;
    ev->step_count = 3;
    return ev;
}

/* Applies one event's session op under its seen key (as the monitor does). */
static int apply(fx *f, const Acms__V1__StepEvent *ev)
{
    monitor_hash_op op;
    monitor_session_op(f->a, ev, NULL, &op);
    const char *seen = monitor_session_needs_guard(ev) ? monitor_key_seen(f->a, ev->meta->event_id) : NULL;
    return monitor_store_apply(f->srv.r, seen, &op, 1);
}

static void redelivery_counts_once(void **state)
{
    fx *f = *state;
    const char *session = monitor_key_session(f->a, "run-1");
    Acms__V1__StepEvent *fin = event(f, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_FINISHED, "e-fin", 2000);
    fin->status = "succeeded";
    assert_int_equal(apply(f, fin), 1);
    assert_string_equal(hget(f, session, "steps"), "1");
    assert_string_equal(hget(f, session, "attempts"), "1");
    assert_string_equal(hget(f, session, "train.status"), "succeeded");
    assert_int_equal(apply(f, fin), 0); /* redelivered: nothing written */
    assert_int_equal(apply(f, fin), 0);
    assert_string_equal(hget(f, session, "steps"), "1");
    assert_string_equal(hget(f, session, "attempts"), "1");
    assert_int_equal(acms_redis_exists(f->srv.r, monitor_key_seen(f->a, "e-fin")), 1);
    /* another event of the same step counts */
    Acms__V1__StepEvent *skip = event(f, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_SKIPPED, "e-skip", 2100);
    skip->step = "eval";
    assert_int_equal(apply(f, skip), 1);
    assert_string_equal(hget(f, session, "steps"), "2");
}

static void late_run_started_keeps_the_session(void **state)
{
    fx *f = *state;
    const char *session = monitor_key_session(f->a, "run-1");
    assert_int_equal(apply(f, event(f, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_STARTED, "e-start", 1000)), 1);
    Acms__V1__StepEvent *fin = event(f, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_FINISHED, "e-fin", 2000);
    fin->status = "succeeded";
    assert_int_equal(apply(f, fin), 1);
    /* RUN_STARTED delivered last: it adds steps_total, resets nothing */
    assert_int_equal(apply(f, event(f, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_RUN_STARTED, "e-run", 500)), 1);
    assert_string_equal(hget(f, session, "started_ms"), "1000");
    assert_string_equal(hget(f, session, "status"), "open");
    assert_string_equal(hget(f, session, "steps"), "1");
    assert_string_equal(hget(f, session, "steps_total"), "3");
    Acms__V1__StepEvent *end = event(f, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_RUN_FINISHED, "e-end", 3000);
    end->status = "succeeded";
    assert_int_equal(apply(f, end), 1);
    assert_string_equal(hget(f, session, "status"), "closed");
    /* a RUN_STARTED redelivered after the close does not reopen it */
    assert_int_equal(apply(f, event(f, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_RUN_STARTED, "e-run2", 500)), 1);
    assert_string_equal(hget(f, session, "status"), "closed");
}

static void stale_baseline_applies_nothing(void **state)
{
    fx *f = *state;
    const char *session = monitor_key_session(f->a, "run-1");
    const char *baseline = monitor_key_baseline(f->a, "pipe", "train");
    Acms__V1__StepEvent *fin = event(f, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_FINISHED, "e-a", 2000);
    fin->status = "succeeded";
    monitor_hash_op ops[2];
    monitor_session_op(f->a, fin, NULL, &ops[0]);
    ops[1] = (monitor_hash_op){.key = baseline, .expect_version = "0"};
    acms_hash_op_add(f->a, &ops[1].set, &ops[1].nset, "wall_ms", "first");
    assert_int_equal(monitor_store_apply(f->srv.r, monitor_key_seen(f->a, "e-a"), ops, 2), 1);
    assert_string_equal(hget(f, baseline, "version"), "1");
    /* another replica's event computed from version 0: refused as a whole */
    Acms__V1__StepEvent *fin2 = event(f, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_FINISHED, "e-b", 2500);
    fin2->status = "succeeded";
    fin2->step = "eval";
    monitor_session_op(f->a, fin2, NULL, &ops[0]);
    acms_hash_op_add(f->a, &ops[1].set, &ops[1].nset, "wall_ms", "second");
    assert_int_equal(monitor_store_apply(f->srv.r, monitor_key_seen(f->a, "e-b"), ops, 2), ACMS_ERR_STALE);
    assert_string_equal(hget(f, session, "steps"), "1");
    assert_null(hget(f, session, "eval.status"));
    assert_string_equal(hget(f, baseline, "version"), "1");
    assert_int_equal(acms_redis_exists(f->srv.r, monitor_key_seen(f->a, "e-b")), 0);
    /* re-read, the current version: applied */
    ops[1].expect_version = "1";
    assert_int_equal(monitor_store_apply(f->srv.r, monitor_key_seen(f->a, "e-b"), ops, 2), 1);
    assert_string_equal(hget(f, session, "steps"), "2");
    assert_string_equal(hget(f, baseline, "version"), "2");
}

static void rate_limit_one_owner_per_key(void **state)
{
    fx *f = *state;
    acms_redis *r = f->srv.r;
    const char *session = monitor_key_session(f->a, "run-1");
    const char *key = monitor_key_alerted(f->a, "StepKilledForMemory/run-1/train/1");
    assert_int_equal(monitor_store_rate_limit(r, key, "ev-1", 60, session, "alerts"), 1);
    assert_string_equal(hget(f, session, "alerts"), "1");
    /* the same event redelivered may publish again (2), but counts nothing */
    assert_int_equal(monitor_store_rate_limit(r, key, "ev-1", 60, session, "alerts"), 2);
    assert_string_equal(hget(f, session, "alerts"), "1");
    /* another event with the same dedup key: suppressed */
    assert_int_equal(monitor_store_rate_limit(r, key, "ev-2", 60, session, "alerts"), 0);
    assert_string_equal(hget(f, session, "alerts"), "1");
    /* no counter asked: nothing counted */
    const char *key2 = monitor_key_alerted(f->a, "opportunity/x");
    assert_int_equal(monitor_store_rate_limit(r, key2, "ev-3", 60, NULL, NULL), 1);
    assert_string_equal(hget(f, session, "alerts"), "1");
    fx_redis_kill(&f->srv);
    assert_true(monitor_store_rate_limit(r, key, "ev-1", 60, session, "alerts") < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(redelivery_counts_once, fx_redis_arena_setup, fx_redis_arena_teardown),
        cmocka_unit_test_setup_teardown(late_run_started_keeps_the_session, fx_redis_arena_setup, fx_redis_arena_teardown),
        cmocka_unit_test_setup_teardown(stale_baseline_applies_nothing, fx_redis_arena_setup, fx_redis_arena_teardown),
        cmocka_unit_test_setup_teardown(rate_limit_one_owner_per_key, fx_redis_arena_setup, fx_redis_arena_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
