/* test_coord_report.c: what the coordinator reports. The ExecutionResult of a degraded run (an
 * optional step failed, a step recovered from a memory kill) carries every attempt, the prepared,
 * runtime and recovery adaptations, a failure analysis and suggestions; events of the same fact
 * get the same derived id; the attempts list survives its JSON form; an oversized result is
 * trimmed below the message limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "coordinator/report.h"
#include "coordinator/run_store.h"

static Acms__V1__Step *step(acms_arena *a, Acms__V1__Pipeline *p, const char *name, const char *dep, int optional)
{
    Acms__V1__Step *s = acms_pb_new(a, &acms__v1__step__descriptor);
    s->name = acms_arena_strdup(a, name);
    s->type = "processing";
    s->optional = optional;
    s->max_runtime_s = 60;
    if (dep)
        acms_pb_add_string(a, &s->depends_on, &s->n_depends_on, dep);
    p->steps = acms_arena_push(a, p->steps, &p->n_steps, sizeof *p->steps);
    p->steps[p->n_steps - 1] = s;
    return s;
}

static coord_run *make_run(size_t extra_steps)
{
    acms_arena *a = acms_arena_new(0);
    Acms__V1__RuntimeConfiguration *rc = acms_pb_new(a, &acms__v1__runtime_configuration__descriptor);
    Acms__V1__Pipeline *p = acms_pb_new(a, &acms__v1__pipeline__descriptor);
    p->name = "churn";
    step(a, p, "prep", NULL, 0);
    step(a, p, "report", "prep", 1);
    step(a, p, "publish", "report", 0);
    for (size_t i = 0; i < extra_steps; i++)
        step(a, p, acms_arena_printf(a, "extra-%zu", i), NULL, 0);
    rc->pipeline = p;
    rc->environment = acms_pb_new(a, &acms__v1__environment__descriptor);
    rc->environment->name = "dev";
    rc->environment->learning_mode = "apply";
    rc->metadata = acms_pb_new(a, &acms__v1__runtime_metadata__descriptor);
    rc->metadata->config_hash = "abc123";
    Acms__V1__AdaptationRecord *prep = acms_pb_new(a, &acms__v1__adaptation_record__descriptor);
    prep->stage = "environment";
    prep->field = "instance_type";
    rc->adaptation_log = acms_arena_alloc(a, sizeof *rc->adaptation_log);
    rc->adaptation_log[0] = prep;
    rc->n_adaptation_log = 1;
    char err[200];
    coord_run *r = coord_run_new(NULL, "run-42", a, rc, "cause-0001", "", err, sizeof err);
    assert_non_null(r);
    return r;
}

static void add_attempt(coord_step *s, Acms__V1__ExitReason reason, uint64_t mem, const char *itype,
                        const char *recovery, const char *tail)
{
    s->attempts = realloc(s->attempts, (s->nattempts + 1) * sizeof *s->attempts);
    coord_attempt *t = &s->attempts[s->nattempts++];
    memset(t, 0, sizeof *t);
    t->attempt = (uint32_t)s->nattempts;
    t->reason = reason;
    t->res.memory_mb = mem;
    t->res.max_runtime_s = 60;
    snprintf(t->res.instance_type, sizeof t->res.instance_type, "%s", itype);
    t->peak_rss_kb = mem * 1024;
    t->wall_ms = 1500;
    snprintf(t->cause, sizeof t->cause, "%s", reason == ACMS__V1__EXIT_REASON__EXIT_REASON_OK ? "exited with code 0" : "failed");
    snprintf(t->recovery, sizeof t->recovery, "%s", recovery);
    snprintf(t->stderr_tail, sizeof t->stderr_tail, "%s", tail);
    s->attempt = t->attempt;
    s->res = t->res;
}

static void test_degraded_run_result(void **state)
{
    (void)state;
    coord_run *r = make_run(0);
    coord_step *prep = &r->steps[0], *report = &r->steps[1], *publish = &r->steps[2];
    add_attempt(prep, ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY, 256, "ml.t3.medium",
                "retry with memory 256 -> 512 MiB (next instance size)", "");
    add_attempt(prep, ACMS__V1__EXIT_REASON__EXIT_REASON_OK, 512, "ml.t3.large", "", "");
    prep->state = COORD_STEP_SUCCEEDED;
    add_attempt(report, ACMS__V1__EXIT_REASON__EXIT_REASON_NONZERO, 256, "ml.t3.medium", "no retry: deterministic",
                "connecting\nupload refused: 403");
    report->state = COORD_STEP_FAILED;
    snprintf(report->suggestion, sizeof report->suggestion, "fix the step's command");
    publish->state = COORD_STEP_SKIPPED;

    Acms__V1__AdaptationRecord rt = ACMS__V1__ADAPTATION_RECORD__INIT, *rtp = &rt;
    rt.stage = "runtime";
    acms_arena *a = acms_arena_new(0);
    Acms__V1__ExecutionResult *res = coord_report_result(a, r, &rtp, 1);
    assert_string_equal(res->status, "succeeded"); /* an optional failure degrades, it does not fail */
    assert_true(res->success);
    assert_string_equal(res->config_hash, "abc123");
    assert_string_equal(res->learning_mode, "apply");
    assert_int_equal(res->n_steps, 3);
    assert_int_equal(res->steps[0]->n_attempts, 2);
    assert_int_equal(res->steps[0]->attempts[0]->reason, ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY);
    assert_int_equal(res->steps[0]->resources->memory_mb, 512);
    assert_string_equal(res->steps[0]->instance_type, "ml.t3.large");
    assert_string_equal(res->steps[2]->status, "skipped");
    assert_int_equal(res->steps[2]->n_attempts, 0);
    /* prepared log + runtime record + recovery records (memory and instance type of prep) */
    assert_int_equal(res->n_adaptations, 4);
    assert_string_equal(res->adaptations[0]->stage, "environment");
    assert_string_equal(res->adaptations[1]->stage, "runtime");
    assert_string_equal(res->adaptations[2]->stage, "recovery");
    assert_string_equal(res->adaptations[2]->field, "resources.memory_mb");
    assert_string_equal(res->adaptations[2]->old_value, "256");
    assert_string_equal(res->adaptations[2]->new_value, "512");
    assert_non_null(strstr(res->adaptations[2]->reason, "next instance size"));
    assert_string_equal(res->adaptations[3]->field, "instance_type");
    assert_non_null(strstr(res->failure_analysis, "Optional step 'report' failed"));
    assert_non_null(strstr(res->failure_analysis, "upload refused: 403"));
    assert_non_null(strstr(res->failure_analysis, "Step 'prep' recovered"));
    assert_non_null(strstr(res->failure_analysis, "Skipped (never started): publish"));
    assert_int_equal(res->n_recovery_suggestions, 1);
    assert_non_null(strstr(res->recovery_suggestions[0], "report: fix"));

    /* a required failure fails the run */
    report->state = COORD_STEP_SUCCEEDED;
    prep->state = COORD_STEP_FAILED;
    assert_string_equal(coord_report_status(r), "failed");
    r->cancel = 1;
    publish->state = COORD_STEP_CANCELLED;
    assert_string_equal(coord_report_status(r), "cancelled");
    acms_arena_free(a);
    coord_run_free(r);
}

static void test_derived_event_ids(void **state)
{
    (void)state;
    coord_run *r = make_run(0);
    acms_arena *a = acms_arena_new(0);
    coord_step *s = &r->steps[0];
    s->attempt = 1;
    Acms__V1__StepEvent *e1 = coord_report_step(a, r, s, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_STARTED, "prep/1/started");
    Acms__V1__StepEvent *e2 = coord_report_step(a, r, s, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_STARTED, "prep/1/started");
    Acms__V1__StepEvent *e3 = coord_report_step(a, r, s, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_FINISHED, "prep/1/finished");
    Acms__V1__StepEvent *h1 = coord_report_step(a, r, s, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_HEARTBEAT, NULL);
    Acms__V1__StepEvent *h2 = coord_report_step(a, r, s, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_HEARTBEAT, NULL);
    assert_string_equal(e1->meta->event_id, e2->meta->event_id); /* a resumed owner re-publishes the same id */
    assert_string_not_equal(e1->meta->event_id, e3->meta->event_id);
    assert_string_not_equal(h1->meta->event_id, h2->meta->event_id);
    assert_string_equal(e1->meta->causation_id, "cause-0001");
    assert_string_equal(e1->meta->run_id, "run-42");
    assert_string_equal(e1->pipeline, "churn");
    assert_string_equal(e1->environment, "dev");
    Acms__V1__StepEvent *rs = coord_report_run(a, r, ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_RUN_STARTED, "running", "");
    assert_int_equal(rs->step_count, 3);
    acms_arena_free(a);
    coord_run_free(r);
}

static void test_attempts_json_round_trip(void **state)
{
    (void)state;
    coord_attempt in[2];
    memset(in, 0, sizeof in);
    in[0].attempt = 1;
    in[0].reason = ACMS__V1__EXIT_REASON__EXIT_REASON_TIME;
    in[0].res.memory_mb = 1024;
    in[0].res.max_runtime_s = 30;
    in[0].res.vcpu = 2.5;
    snprintf(in[0].res.instance_type, sizeof in[0].res.instance_type, "ml.m5.large");
    in[0].started_ms = 1795627522961;
    in[0].finished_ms = 1795627552961;
    snprintf(in[0].cause, sizeof in[0].cause, "stopped after \"30 s\"");
    snprintf(in[0].stderr_tail, sizeof in[0].stderr_tail, "line 1\nline 2");
    in[1].attempt = 2;
    in[1].reason = ACMS__V1__EXIT_REASON__EXIT_REASON_OK;
    in[1].exit_code = 0;
    in[1].peak_rss_kb = 123456;
    char *json = coord_attempts_json(in, 2);
    assert_non_null(json);
    coord_attempt *out = NULL;
    size_t n = 0;
    assert_int_equal(coord_attempts_parse(json, &out, &n), ACMS_OK);
    free(json);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].reason, ACMS__V1__EXIT_REASON__EXIT_REASON_TIME);
    assert_int_equal(out[0].res.memory_mb, 1024);
    assert_true(out[0].res.vcpu > 2.49 && out[0].res.vcpu < 2.51);
    assert_string_equal(out[0].res.instance_type, "ml.m5.large");
    assert_true(out[0].started_ms == 1795627522961);
    assert_string_equal(out[0].cause, "stopped after \"30 s\"");
    assert_string_equal(out[0].stderr_tail, "line 1\nline 2");
    assert_int_equal(out[1].peak_rss_kb, 123456);
    free(out);
    assert_int_equal(coord_attempts_parse("not json", &out, &n), ACMS_ERR_INVALID);
    assert_int_equal(coord_attempts_parse("", &out, &n), ACMS_OK);
    assert_int_equal(n, 0);
}

static void test_oversized_result_trimmed(void **state)
{
    (void)state;
    coord_run *r = make_run(400);
    char tail[COORD_TAIL_MAX];
    memset(tail, 'e', sizeof tail - 1);
    tail[sizeof tail - 1] = '\0';
    for (size_t i = 0; i < r->n; i++) {
        for (int k = 0; k < 3; k++)
            add_attempt(&r->steps[i], ACMS__V1__EXIT_REASON__EXIT_REASON_UNREACHABLE, 256, "ml.t3.medium",
                        "retry after backoff", tail);
        r->steps[i].state = COORD_STEP_FAILED;
    }
    acms_arena *a = acms_arena_new(0);
    Acms__V1__ExecutionResult *res = coord_report_result(a, r, NULL, 0);
    size_t before = protobuf_c_message_get_packed_size(&res->base);
    assert_true(before > 2 * 1024 * 1024);
    size_t after = coord_report_fit(a, res, 256 * 1024);
    assert_true(after <= 256 * 1024);
    assert_true(strlen(res->failure_analysis) < 9000); /* the analysis text is bounded too */
    assert_int_equal(res->steps[5]->n_attempts, 3);   /* dropping the stderr tails was enough */
    assert_string_equal(res->steps[5]->attempts[0]->metrics->stderr_tail, "");
    after = coord_report_fit(a, res, 100 * 1024);
    assert_true(after <= 100 * 1024);
    assert_int_equal(res->steps[5]->n_attempts, 1);
    assert_int_equal(res->steps[5]->attempts[0]->attempt, 3); /* the last attempt is kept */
    assert_non_null(strstr(res->failure_analysis, "Trimmed"));
    acms_arena_free(a);
    coord_run_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_degraded_run_result),
        cmocka_unit_test(test_derived_event_ids),
        cmocka_unit_test(test_attempts_json_round_trip),
        cmocka_unit_test(test_oversized_result_trimmed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
