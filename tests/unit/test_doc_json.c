/* Messages and value trees -> JSON: proto field names, enums as names, repeated fields as arrays,
 * zero values omitted, bytes as base64, free-form Values as plain JSON; and a pipeline survives
 * document -> message -> JSON -> document -> message unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "doc_fixture.h"

static void test_message_rendering(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__StepMetrics *m = acms_pb_new(a, &acms__v1__step_metrics__descriptor);
    m->peak_rss_kb = 2048;
    m->exit_reason = ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY;
    m->term_signal = 9;
    m->vcpu = 0.5;
    cJSON *j = acms_json_from_message(&m->base);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "exit_reason")->valuestring, "EXIT_REASON_MEMORY");
    assert_true(cJSON_GetObjectItem(j, "peak_rss_kb")->valuedouble == 2048);
    assert_true(cJSON_GetObjectItem(j, "vcpu")->valuedouble == 0.5);
    assert_null(cJSON_GetObjectItem(j, "exit_code"));   /* zero: omitted */
    assert_null(cJSON_GetObjectItem(j, "stderr_tail")); /* empty string: omitted */
    cJSON_Delete(j);

    Acms__V1__DeadLetter *dl = acms_pb_new(a, &acms__v1__dead_letter__descriptor);
    dl->payload.data = (uint8_t *)"hello";
    dl->payload.len = 5;
    dl->origin_offset = 42;
    j = acms_json_from_message(&dl->base);
    assert_string_equal(cJSON_GetObjectItem(j, "payload")->valuestring, "aGVsbG8=");
    assert_null(cJSON_GetObjectItem(j, "meta")); /* NULL sub-message: omitted */
    cJSON_Delete(j);

    /* a free-form Value field renders as the JSON it holds */
    Acms__V1__ConfigSubmitted *cs = acms_pb_new(a, &acms__v1__config_submitted__descriptor);
    char err[256];
    cs->document = dfx_parse(a, "kind: Pipeline\nspec: {steps: [{name: a, n: 2, ok: true, x: null}]}\n", err, sizeof err);
    assert_non_null(cs->document);
    cs->environment = "dev";
    char *s = acms_json_message_string(&cs->base, 0);
    assert_string_equal(s, "{\"environment\":\"dev\",\"document\":{\"kind\":\"Pipeline\",\"spec\":{\"steps\":"
                           "[{\"name\":\"a\",\"n\":2,\"ok\":true,\"x\":null}]}}}");
    free(s);
    s = acms_json_message_string(&cs->base, 1);
    assert_non_null(strchr(s, '\n'));
    free(s);
    acms_arena_free(a);
}

static void test_value_round_trip(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    char err[256];
    Acms__V1__Value *v = dfx_parse(a, "a: [1, 2.5, \"x\", true, null]\nb: {c: {d: []}, e: {}}\n", err, sizeof err);
    assert_non_null(v);
    cJSON *j = acms_json_from_value(v);
    Acms__V1__Value *back = acms_value_from_json(a, j);
    assert_non_null(back);
    cJSON *j2 = acms_json_from_value(back);
    assert_true(cJSON_Compare(j, j2, 1));
    assert_null(acms_value_from_json(a, NULL));
    cJSON_Delete(j);
    cJSON_Delete(j2);
    acms_arena_free(a);
}

/* Drops the adapter-owned "line" of each step so the JSON can be read back as a document. */
static void drop_lines(cJSON *pipeline)
{
    cJSON *step;
    cJSON_ArrayForEach(step, cJSON_GetObjectItem(pipeline, "steps")) cJSON_DeleteItemFromObject(step, "line");
}

static void test_pipeline_round_trip(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    acms_issues is;
    char path[PATH_MAX], err[512];
    Acms__V1__Value **docs;
    size_t n;
    Acms__V1__Pipeline *p1 = NULL, *p2 = NULL;
    acms_issues_init(&is, a, "syntax");
    assert_non_null(dfx_path(path, sizeof path, "examples/pipelines/churn-training.yaml"));
    assert_int_equal(acms_doc_parse_file(a, path, &docs, &n, err, sizeof err), ACMS_OK);
    assert_int_equal(acms_doc_to_pipeline(a, docs[0], &p1, &is), ACMS_OK);

    cJSON *j = acms_json_from_message(&p1->base);
    assert_string_equal(cJSON_GetObjectItem(j, "name")->valuestring, "churn-training");
    assert_true(cJSON_IsArray(cJSON_GetObjectItem(j, "steps")));
    drop_lines(j);
    /* re-wrap as a document: apiVersion/kind/metadata + spec {steps, max_parallel} */
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "apiVersion", "acms/v1");
    cJSON_AddStringToObject(doc, "kind", "Pipeline");
    cJSON *meta = cJSON_AddObjectToObject(doc, "metadata");
    cJSON_AddStringToObject(meta, "name", p1->name);
    cJSON_AddItemToObject(meta, "labels", cJSON_DetachItemFromObject(j, "labels"));
    cJSON *spec = cJSON_AddObjectToObject(doc, "spec");
    cJSON_AddItemToObject(spec, "steps", cJSON_DetachItemFromObject(j, "steps"));
    cJSON_AddItemToObject(spec, "max_parallel", cJSON_DetachItemFromObject(j, "max_parallel"));
    char *text = cJSON_Print(doc); /* tab-indented JSON, read back through acms_doc_parse */
    assert_int_equal(acms_doc_parse(a, text, strlen(text), &docs, &n, err, sizeof err), ACMS_OK);
    assert_int_equal(acms_doc_to_pipeline(a, docs[0], &p2, &is), ACMS_OK);
    assert_int_equal(is.n, 0);
    for (size_t i = 0; i < p1->n_steps; i++) p1->steps[i]->line = p2->steps[i]->line = 0;
    char *s1 = acms_json_message_string(&p1->base, 0), *s2 = acms_json_message_string(&p2->base, 0);
    assert_string_equal(s1, s2);
    uint8_t *b1, *b2;
    size_t l1, l2;
    assert_int_equal(acms_pb_pack(&p1->base, &b1, &l1), ACMS_OK);
    assert_int_equal(acms_pb_pack(&p2->base, &b2, &l2), ACMS_OK);
    assert_int_equal(l1, l2);
    assert_memory_equal(b1, b2, l1);
    free(b1);
    free(b2);
    free(s1);
    free(s2);
    free(text);
    cJSON_Delete(doc);
    cJSON_Delete(j);
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_rendering),
        cmocka_unit_test(test_value_round_trip),
        cmocka_unit_test(test_pipeline_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
