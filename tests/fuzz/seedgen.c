/* seedgen.c: writes the seed corpus of fuzz_messages: one realistic packed message per input type the
 * services consume, each prefixed with the type byte fuzz_messages dispatches on (its k_types order).
 * The configuration messages come from examples/pipelines/churn-training.yaml prepared for dev and
 * validated by the real adapter and validator code. Usage: seedgen OUTDIR (run from the repo root;
 * `make fuzz-seeds` builds and runs it). Deterministic: same inputs, same files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/adapter.h"
#include "doc.h"
#include "log.h"
#include "profile.h"
#include "validator/validator.h"

enum { T_SUBMITTED, T_OPPORTUNITY, T_PREPARED, T_STEP, T_VALIDATED, T_ADAPTED, T_CONTROL, T_RESULT,
       T_VALIDATION, T_ALERT, T_DEADLETTER, T_RUNTIME };

static int write_seed(const char *dir, const char *name, int type, const ProtobufCMessage *m)
{
    char path[1024];
    uint8_t *buf;
    size_t len;
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path || acms_pb_pack(m, &buf, &len) != ACMS_OK)
        return -1;
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(buf);
        return -1;
    }
    unsigned char t = (unsigned char)type;
    int ok = fwrite(&t, 1, 1, f) == 1 && fwrite(buf, 1, len, f) == len;
    free(buf);
    return fclose(f) == 0 && ok ? 0 : -1;
}

static Acms__V1__EventMeta *meta(acms_arena *a, const char *salt)
{
    Acms__V1__EventMeta *m = acms_meta_new(a, "7f1c2d3e-0000-4000-8000-000000000001", "seedgen",
                                           "7f1c2d3e-0000-4000-8000-000000000002", salt,
                                           "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    m->timestamp_ms = 1764000000000;
    return m;
}

static Acms__V1__StepMetrics *metrics(acms_arena *a, Acms__V1__ExitReason why, uint64_t peak_kb, uint64_t wall_ms)
{
    Acms__V1__StepMetrics *m = acms_pb_new(a, &acms__v1__step_metrics__descriptor);
    m->peak_rss_kb = peak_kb;
    m->rss_kb = peak_kb - peak_kb / 8;
    m->user_cpu_ms = wall_ms / 2;
    m->sys_cpu_ms = wall_ms / 10;
    m->wall_ms = wall_ms;
    m->exit_reason = why;
    m->exit_code = why == ACMS__V1__EXIT_REASON__EXIT_REASON_NONZERO ? 3 : 0;
    m->term_signal = why == ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY ? 9 : 0;
    m->mem_limit_mb = 512;
    m->runtime_limit_s = 60;
    m->vcpu = 2;
    m->stderr_tail = why == ACMS__V1__EXIT_REASON__EXIT_REASON_OK ? "" : "Traceback: MemoryError";
    return m;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "tests/fuzz/corpus/fuzz_messages";
    char err[1024];
    acms_profiles prof;
    acms_log_init("seedgen", "error");
    if (acms_profiles_load(&prof, "examples", err, sizeof err) != ACMS_OK) {
        fprintf(stderr, "seedgen: %s\n", err);
        return 1;
    }
    acms_arena *a = acms_arena_new(0);
    Acms__V1__Value **docs;
    size_t ndocs;
    if (acms_doc_parse_file(a, "examples/pipelines/churn-training.yaml", &docs, &ndocs, err, sizeof err) != ACMS_OK ||
        ndocs < 1) {
        fprintf(stderr, "seedgen: %s\n", err);
        return 1;
    }
    int rc = 0;
    Acms__V1__ConfigSubmitted *sub = acms_pb_new(a, &acms__v1__config_submitted__descriptor);
    sub->meta = meta(a, "submitted");
    sub->environment = "dev";
    sub->document = docs[0];
    sub->source_name = "churn-training.yaml";
    sub->submitted_by = "ci";
    rc |= write_seed(dir, "submitted-churn-dev", T_SUBMITTED, &sub->base);

    /* nested deeper than acms_pb_decode accepts (ACMS_PB_MAX_NESTING): refused as "nesting too deep";
     * 100,000 levels of this shape crashed every decoder before the cap (tests/unit/test_pb_decode_depth.c) */
    Acms__V1__ConfigSubmitted *deep = acms_pb_new(a, &acms__v1__config_submitted__descriptor);
    deep->meta = meta(a, "deep");
    deep->environment = "dev";
    deep->document = acms_value_new_string(a, "x");
    for (int i = 0; i < ACMS_PB_MAX_NESTING; i++) {
        Acms__V1__Value *l = acms_value_new_list(a);
        acms_value_list_add(a, l, deep->document);
        deep->document = l;
    }
    rc |= write_seed(dir, "submitted-too-deep", T_SUBMITTED, &deep->base);

    adapter_ctx actx = {.profiles = &prof, .check_secrets = 0};
    acms_issues is;
    acms_issues_init(&is, a, "environment");
    Acms__V1__RuntimeConfiguration *rcfg = NULL;
    if (adapter_prepare(&actx, a, sub, &rcfg, &is) != ACMS_OK) {
        fprintf(stderr, "seedgen: churn-training does not prepare for dev\n");
        return 1;
    }
    Acms__V1__ConfigPrepared *prep = acms_pb_new(a, &acms__v1__config_prepared__descriptor);
    prep->meta = meta(a, "prepared");
    prep->runtime = rcfg;
    prep->document = docs[0];
    rc |= write_seed(dir, "prepared-churn-dev", T_PREPARED, &prep->base);
    rc |= write_seed(dir, "runtime-churn-dev", T_RUNTIME, &rcfg->base);

    validator_ctx vctx = {.profiles = &prof};
    Acms__V1__ValidationResult *res = NULL;
    if (validator_validate(&vctx, a, rcfg, docs[0], &res) != ACMS_OK) {
        fprintf(stderr, "seedgen: validation failed to run\n");
        return 1;
    }
    Acms__V1__ConfigValidated *val = acms_pb_new(a, &acms__v1__config_validated__descriptor);
    val->meta = meta(a, "validated");
    val->runtime = rcfg;
    val->result = res;
    rc |= write_seed(dir, "validated-churn-dev", T_VALIDATED, &val->base);
    Acms__V1__ValidationResultEvent *vre = acms_pb_new(a, &acms__v1__validation_result_event__descriptor);
    vre->meta = meta(a, "validation");
    vre->pipeline = rcfg->pipeline->name;
    vre->environment = "dev";
    vre->result = res;
    rc |= write_seed(dir, "validation-churn-dev", T_VALIDATION, &vre->base);

    /* a rejected configuration: the same pipeline for an unknown environment */
    acms_issues rej;
    acms_issues_init(&rej, a, "environment");
    sub->environment = "no-such-env";
    Acms__V1__RuntimeConfiguration *none = NULL;
    if (adapter_prepare(&actx, a, sub, &none, &rej) == ACMS_ERR_INVALID) {
        vre->result = adapter_rejection_result(a, &rej);
        vre->meta = meta(a, "rejected");
        rc |= write_seed(dir, "validation-rejected", T_VALIDATION, &vre->base);
    }

    /* step events: heartbeat near the memory limit, success, memory kill, run boundaries */
    static const struct {
        const char *name;
        Acms__V1__StepEventKind kind;
        Acms__V1__ExitReason why;
        uint64_t peak_kb, wall_ms;
    } evs[] = {
        {"step-heartbeat-hot", ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_HEARTBEAT, 0, 500 * 1024, 55000},
        {"step-finished-ok", ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_FINISHED, ACMS__V1__EXIT_REASON__EXIT_REASON_OK,
         100 * 1024, 20000},
        {"step-finished-oom", ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_FINISHED,
         ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY, 530 * 1024, 9000},
        {"step-run-started", ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_RUN_STARTED, 0, 0, 0},
        {"step-run-finished", ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_RUN_FINISHED, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++) {
        Acms__V1__StepEvent *ev = acms_pb_new(a, &acms__v1__step_event__descriptor);
        ev->meta = meta(a, evs[i].name);
        ev->pipeline = rcfg->pipeline->name;
        ev->environment = "dev";
        ev->step = evs[i].kind >= ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_RUN_STARTED ? "" : "train";
        ev->attempt = 1;
        ev->kind = evs[i].kind;
        ev->status = evs[i].kind == ACMS__V1__STEP_EVENT_KIND__STEP_EVENT_KIND_HEARTBEAT ? "running" : "succeeded";
        ev->step_type = "training";
        ev->max_runtime_s = 60;
        ev->memory_mb = 512;
        ev->vcpu = 2;
        ev->step_count = (uint32_t)rcfg->pipeline->n_steps;
        if (evs[i].wall_ms)
            ev->metrics = metrics(a, evs[i].why, evs[i].peak_kb, evs[i].wall_ms);
        rc |= write_seed(dir, evs[i].name, T_STEP, &ev->base);
    }

    /* an execution result: one step succeeded after a memory kill, one failed */
    Acms__V1__ExecutionResult *er = acms_pb_new(a, &acms__v1__execution_result__descriptor);
    er->meta = meta(a, "result");
    er->pipeline = rcfg->pipeline->name;
    er->environment = "dev";
    er->status = "failed";
    er->learning_mode = "apply";
    er->n_steps = 2;
    er->steps = acms_arena_alloc(a, 2 * sizeof *er->steps);
    for (size_t i = 0; i < 2; i++) {
        Acms__V1__StepResult *s = acms_pb_new(a, &acms__v1__step_result__descriptor);
        s->name = i ? "evaluate" : "train";
        s->status = i ? "failed" : "succeeded";
        s->instance_type = "ml.m5.large";
        s->step_type = i ? "evaluation" : "training";
        s->max_runtime_s = 60;
        s->command_hash = "3f2a";
        s->n_attempts = 2;
        s->attempts = acms_arena_alloc(a, 2 * sizeof *s->attempts);
        for (size_t k = 0; k < 2; k++) {
            Acms__V1__AttemptRecord *r = acms_pb_new(a, &acms__v1__attempt_record__descriptor);
            r->attempt = (uint32_t)k + 1;
            r->reason = k == 0 ? ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY
                        : i    ? ACMS__V1__EXIT_REASON__EXIT_REASON_NONZERO
                               : ACMS__V1__EXIT_REASON__EXIT_REASON_OK;
            r->metrics = metrics(a, r->reason, k ? 300 * 1024 : 530 * 1024, 12000);
            r->cause = k == 0 ? "killed for memory" : "";
            r->recovery = k == 0 ? "memory 512 -> 790 MiB" : "";
            r->resources = acms_pb_new(a, &acms__v1__resources__descriptor);
            r->resources->memory_mb = k ? 790 : 512;
            r->resources->vcpu = 2;
            r->runtime_limit_s = 60;
            s->attempts[k] = r;
        }
        s->metrics = s->attempts[1]->metrics;
        s->resources = s->attempts[1]->resources;
        er->steps[i] = s;
    }
    rc |= write_seed(dir, "result-mixed", T_RESULT, &er->base);

    Acms__V1__AdaptationOpportunity *op = acms_pb_new(a, &acms__v1__adaptation_opportunity__descriptor);
    op->meta = meta(a, "opportunity");
    op->pipeline = rcfg->pipeline->name;
    op->environment = "dev";
    op->step = "train";
    op->attempt = 1;
    op->kind = "memory_up";
    op->field = "memory_mb";
    op->current_value = "512";
    op->proposed_value = "790";
    op->reason = "peak 500 MiB is 97% of the limit";
    op->safety_score = 0.95;
    op->step_running = 1;
    rc |= write_seed(dir, "opportunity-memory-up", T_OPPORTUNITY, &op->base);

    Acms__V1__AdaptedEvent *ad = acms_pb_new(a, &acms__v1__adapted_event__descriptor);
    ad->meta = meta(a, "adapted");
    ad->step = "train";
    ad->memory_mb = 790;
    ad->opportunity_id = "7f1c2d3e-0000-4000-8000-000000000003";
    rc |= write_seed(dir, "adapted-memory", T_ADAPTED, &ad->base);

    Acms__V1__ControlEvent *ce = acms_pb_new(a, &acms__v1__control_event__descriptor);
    ce->meta = meta(a, "control");
    ce->action = ACMS__V1__CONTROL_ACTION__CONTROL_ACTION_CANCEL;
    ce->reason = "operator request";
    rc |= write_seed(dir, "control-cancel", T_CONTROL, &ce->base);

    Acms__V1__Alert *al = acms_pb_new(a, &acms__v1__alert__descriptor);
    al->meta = meta(a, "alert");
    al->pipeline = rcfg->pipeline->name;
    al->environment = "dev";
    al->step = "train";
    al->severity = "critical";
    al->name = "StepKilledForMemory";
    al->summary = "Step train was killed for memory";
    al->observed = 530;
    al->expected = 512;
    acms_pb_add_label(a, &al->labels, &al->n_labels, "team", "growth");
    rc |= write_seed(dir, "alert-oom", T_ALERT, &al->base);

    Acms__V1__DeadLetter *dl = acms_pb_new(a, &acms__v1__dead_letter__descriptor);
    dl->meta = meta(a, "deadletter");
    dl->origin_topic = "acms.config.submitted";
    dl->reason = "undecodable protobuf";
    dl->service = "acms-adapter";
    dl->payload.data = (uint8_t *)"\x0a\x02garbage";
    dl->payload.len = 10;
    dl->payload_size = 10;
    rc |= write_seed(dir, "deadletter", T_DEADLETTER, &dl->base);

    acms_arena_free(a);
    acms_profiles_release(&prof);
    if (rc) {
        fprintf(stderr, "seedgen: cannot write seeds into %s\n", dir);
        return 1;
    }
    return 0;
}
