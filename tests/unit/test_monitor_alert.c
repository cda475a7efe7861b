/* The AlertManager's pure part: dedup keys are stable per (name, run, step, attempt); silences match
 * only when every matcher equals; the webhook payload has Alertmanager's version-4 shape with a
 * stable fingerprint; the Alert event carries the labels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/alert.h"

static monitor_alert *sample(acms_arena *a, const char *name, const char *pipeline, const char *step, uint32_t attempt)
{
    monitor_alert *al = monitor_alert_new(a, name, "warning", pipeline, "dev", step, "run-1", attempt,
                                          "Step train of churn took 21000 ms", "wall_ms 21000 ms exceeds 3150 ms");
    al->starts_at_ms = 1764089668123LL;  /* 2025-11-25T16:54:28.123Z */
    return al;
}

static void test_dedup_and_group_keys(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    monitor_alert *x = sample(a, "StepDurationAnomaly", "churn", "train", 1);
    monitor_alert *y = sample(a, "StepDurationAnomaly", "churn", "train", 1);
    monitor_alert *z = sample(a, "StepDurationAnomaly", "churn", "train", 2);
    assert_string_equal(x->dedup_key, "StepDurationAnomaly/run-1/train/1");
    assert_string_equal(x->dedup_key, y->dedup_key);
    assert_string_not_equal(x->dedup_key, z->dedup_key);
    assert_string_equal(x->group_key, "run-1");
    assert_string_equal(monitor_alert_dedup_key(a, "StepKilledForMemory", "r", "s", 3), "StepKilledForMemory/r/s/3");
    acms_arena_free(a);
}

static void test_silences_match_all_matchers(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    monitor_silences s;
    char err[256] = "";
    assert_int_equal(monitor_silences_parse(a, " name=StepDurationAnomaly, pipeline=foo ;severity=info;;", &s, err,
                                            sizeof err),
                     ACMS_OK);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.v[0].n, 2);
    assert_string_equal(s.v[0].m[1].key, "pipeline");
    assert_string_equal(s.v[0].m[1].value, "foo");

    monitor_alert *foo = sample(a, "StepDurationAnomaly", "foo", "train", 1);
    monitor_alert *bar = sample(a, "StepDurationAnomaly", "bar", "train", 1);
    monitor_alert *mem = sample(a, "StepMemoryAnomaly", "foo", "train", 1);
    const monitor_silence *hit = monitor_alert_silenced(a, &s, foo);
    assert_non_null(hit);
    assert_string_equal(hit->text, "name=StepDurationAnomaly, pipeline=foo");
    assert_null(monitor_alert_silenced(a, &s, bar));  /* pipeline differs */
    assert_null(monitor_alert_silenced(a, &s, mem));  /* name differs */
    mem->severity = "info";
    assert_non_null(monitor_alert_silenced(a, &s, mem));  /* second silence */

    monitor_silences s2;
    assert_int_equal(monitor_silences_parse(a, "alertname=StepMemoryAnomaly,step=train,attempt=1", &s2, err, sizeof err),
                     ACMS_OK);
    mem->severity = "warning";
    assert_non_null(monitor_alert_silenced(a, &s2, mem));
    assert_null(monitor_alert_silenced(a, &s2, foo));
    assert_int_equal(monitor_silences_parse(a, "unknown_label=x", &s2, err, sizeof err), ACMS_OK);
    assert_null(monitor_alert_silenced(a, &s2, foo));  /* an unknown label never equals */

    assert_int_equal(monitor_silences_parse(a, "name=X,pipeline", &s2, err, sizeof err), ACMS_ERR_INVALID);
    assert_non_null(strstr(err, "pipeline"));
    assert_int_equal(monitor_silences_parse(a, "=x", &s2, err, sizeof err), ACMS_ERR_INVALID);
    assert_int_equal(monitor_silences_parse(a, NULL, &s2, err, sizeof err), ACMS_OK);
    assert_int_equal(s2.n, 0);
    assert_null(monitor_alert_silenced(a, &s2, foo));
    acms_arena_free(a);
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

static void test_webhook_json_shape(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    monitor_alert *al[2] = {sample(a, "StepDurationAnomaly", "churn", "train", 1),
                            sample(a, "StepKilledForMemory", "churn", "prep", 2)};
    char *json = monitor_alert_webhook_json(a, al, 2, "ops-team", "http://acms.example");
    assert_non_null(json);
    cJSON *root = cJSON_Parse(json);
    assert_non_null(root);
    assert_string_equal(str(root, "version"), "4");
    assert_string_equal(str(root, "status"), "firing");
    assert_string_equal(str(root, "receiver"), "ops-team");
    assert_string_equal(str(root, "groupKey"), "{}:{run_id=\"run-1\"}");
    assert_string_equal(str(root, "externalURL"), "http://acms.example");
    assert_string_equal(str(cJSON_GetObjectItem(root, "groupLabels"), "run_id"), "run-1");
    const cJSON *common = cJSON_GetObjectItem(root, "commonLabels");
    assert_string_equal(str(common, "pipeline"), "churn");
    assert_string_equal(str(common, "environment"), "dev");
    assert_null(cJSON_GetObjectItem(common, "alertname"));  /* differs between the two */
    assert_null(cJSON_GetObjectItem(common, "step"));
    assert_string_equal(str(cJSON_GetObjectItem(root, "commonAnnotations"), "summary"),
                        "Step train of churn took 21000 ms");

    const cJSON *alerts = cJSON_GetObjectItem(root, "alerts");
    assert_true(cJSON_IsArray(alerts));
    assert_int_equal(cJSON_GetArraySize(alerts), 2);
    const cJSON *first = cJSON_GetArrayItem(alerts, 0);
    assert_string_equal(str(first, "status"), "firing");
    const cJSON *labels = cJSON_GetObjectItem(first, "labels");
    assert_string_equal(str(labels, "alertname"), "StepDurationAnomaly");
    assert_string_equal(str(labels, "severity"), "warning");
    assert_string_equal(str(labels, "pipeline"), "churn");
    assert_string_equal(str(labels, "step"), "train");
    assert_string_equal(str(labels, "run_id"), "run-1");
    assert_string_equal(str(labels, "environment"), "dev");
    const cJSON *ann = cJSON_GetObjectItem(first, "annotations");
    assert_string_equal(str(ann, "description"), "wall_ms 21000 ms exceeds 3150 ms");
    assert_string_equal(str(first, "startsAt"), "2025-11-25T16:54:28.123Z");
    assert_string_equal(str(first, "endsAt"), "0001-01-01T00:00:00Z");
    assert_string_equal(str(first, "generatorURL"), "http://acms.example/runs/run-1");
    const char *fp = str(first, "fingerprint");
    assert_int_equal(strlen(fp), 16);
    for (const char *p = fp; *p; p++)
        assert_true(isxdigit((unsigned char)*p));
    assert_string_not_equal(fp, str(cJSON_GetArrayItem(alerts, 1), "fingerprint"));

    /* The fingerprint depends on labels only. */
    char f1[17], f2[17];
    monitor_alert *again = sample(a, "StepDurationAnomaly", "churn", "train", 1);
    again->summary = "other text";
    monitor_alert_fingerprint(a, al[0], f1);
    monitor_alert_fingerprint(a, again, f2);
    assert_string_equal(f1, f2);
    assert_string_equal(f1, fp);
    cJSON_Delete(root);
    free(json);
    acms_arena_free(a);
}

static void test_alert_event_carries_labels(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    monitor_alert *al = sample(a, "StepKilledForTime", "churn", "train", 2);
    al->observed = 61;
    al->expected = 60;
    Acms__V1__EventMeta *meta = acms_meta_new(a, "run-1", "acms-monitor", "ev-1", "alert/StepKilledForTime", NULL);
    Acms__V1__Alert *m = monitor_alert_to_pb(a, al, meta);
    assert_string_equal(m->name, "StepKilledForTime");
    assert_string_equal(m->dedup_key, "StepKilledForTime/run-1/train/2");
    assert_string_equal(m->group_key, "run-1");
    assert_true(m->observed == 61 && m->expected == 60);
    assert_string_equal(acms_pb_label(m->labels, m->n_labels, "alertname"), "StepKilledForTime");
    assert_string_equal(acms_pb_label(m->labels, m->n_labels, "attempt"), "2");
    assert_string_equal(acms_pb_label(m->labels, m->n_labels, "environment"), "dev");
    /* Derived ids: the same cause and salt give the same event id. */
    Acms__V1__EventMeta *again = acms_meta_new(a, "run-1", "acms-monitor", "ev-1", "alert/StepKilledForTime", NULL);
    assert_string_equal(meta->event_id, again->event_id);
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dedup_and_group_keys),
        cmocka_unit_test(test_silences_match_all_matchers),
        cmocka_unit_test(test_webhook_json_shape),
        cmocka_unit_test(test_alert_event_carries_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
