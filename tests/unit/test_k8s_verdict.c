/* test_k8s_verdict.c: what a Pod's status means for its attempt. Succeeded -> OK; Failed with
 * DeadlineExceeded -> TIME; a container OOMKilled -> MEMORY with its exit code; Evicted, a
 * DisruptionTarget condition, phase Unknown or a deletion by someone else -> INTERRUPTED; an image
 * or configuration waiting reason becomes a permanent configuration failure with a suggestion only
 * once it has lasted the grace (kubelet retries a Secret created a moment late); other failures ->
 * NONZERO with the exit code; a running or pending Pod is not done. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "coordinator/k8s_watch.h"

static k8s_verdict judge(const char *pod_json, int64_t now, k8s_obs *o)
{
    cJSON *p = cJSON_Parse(pod_json);
    assert_non_null(p);
    k8s_obs_parse(p, o, 1000);
    cJSON_Delete(p);
    k8s_verdict v;
    k8s_verdict_of(o, now, 10000, "registry.example.com/x:1", &v);
    return v;
}

#define POD(phase, extra) \
    "{\"metadata\":{\"name\":\"p\",\"uid\":\"u\"},\"spec\":{\"containers\":[{\"name\":\"step\",\"resources\":" \
    "{\"limits\":{\"memory\":\"2Gi\"}}}]},\"status\":{\"phase\":\"" phase "\"" extra "}}"
#define TERM(reason, code) \
    ",\"containerStatuses\":[{\"name\":\"step\",\"state\":{\"terminated\":{\"reason\":\"" reason "\",\"exitCode\":" #code "}}}]"

static void test_outcomes(void **state)
{
    (void)state;
    k8s_obs o;
    memset(&o, 0, sizeof o);
    k8s_verdict v = judge(POD("Succeeded", TERM("Completed", 0)), 2000, &o);
    assert_true(v.done);
    assert_int_equal(v.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_OK);
    assert_int_equal(o.mem_limit_mib, 2048);
    memset(&o, 0, sizeof o);
    v = judge(POD("Failed", TERM("OOMKilled", 137)), 2000, &o);
    assert_int_equal(v.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_MEMORY);
    assert_int_equal(v.exit_code, 137);
    memset(&o, 0, sizeof o);
    v = judge(POD("Failed", ",\"reason\":\"DeadlineExceeded\"" TERM("Error", 137)), 2000, &o);
    assert_int_equal(v.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_TIME);
    memset(&o, 0, sizeof o);
    v = judge(POD("Failed", ",\"reason\":\"Evicted\",\"message\":\"low on memory\""), 2000, &o);
    assert_int_equal(v.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_INTERRUPTED);
    memset(&o, 0, sizeof o);
    v = judge(POD("Failed", ",\"conditions\":[{\"type\":\"DisruptionTarget\",\"status\":\"True\",\"reason\":"
                            "\"PreemptionByScheduler\"}]" TERM("Error", 143)),
              2000, &o);
    assert_int_equal(v.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_INTERRUPTED);
    assert_non_null(strstr(v.message, "PreemptionByScheduler"));
    memset(&o, 0, sizeof o);
    v = judge(POD("Unknown", ""), 2000, &o);
    assert_int_equal(v.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_INTERRUPTED);
    memset(&o, 0, sizeof o);
    v = judge(POD("Failed", TERM("Error", 3)), 2000, &o);
    assert_int_equal(v.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_NONZERO);
    assert_int_equal(v.exit_code, 3);
    memset(&o, 0, sizeof o);
    v = judge(POD("Running", ""), 2000, &o);
    assert_false(v.done);
    o.gone = 1;
    k8s_verdict_of(&o, 2000, 10000, "x", &v);
    assert_int_equal(v.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_INTERRUPTED);
}

static void test_config_grace(void **state)
{
    (void)state;
    k8s_obs o;
    memset(&o, 0, sizeof o);
    const char *pod = POD("Pending", ",\"containerStatuses\":[{\"name\":\"step\",\"state\":{\"waiting\":{\"reason\":"
                                     "\"CreateContainerConfigError\",\"message\":\"secret not found\"}}}]");
    k8s_verdict v = judge(pod, 5000, &o); /* first seen at 1000: 4 s < 10 s grace */
    assert_false(v.done);
    k8s_verdict_of(&o, 11000, 10000, "img", &v);
    assert_true(v.done);
    assert_true(v.permanent);
    assert_int_equal(v.reason, ACMS__V1__EXIT_REASON__EXIT_REASON_SPAWN_FAILED);
    assert_non_null(strstr(v.suggestion, "Secret"));
    /* the same reason seen again later keeps its first time; a new reason restarts the clock */
    cJSON *p = cJSON_Parse(POD("Pending", ",\"containerStatuses\":[{\"name\":\"step\",\"state\":{\"waiting\":"
                                          "{\"reason\":\"ErrImagePull\"}}}]"));
    k8s_obs_parse(p, &o, 12000);
    cJSON_Delete(p);
    k8s_verdict_of(&o, 13000, 10000, "img:1", &v);
    assert_false(v.done);
    k8s_verdict_of(&o, 22000, 10000, "img:1", &v);
    assert_true(v.permanent);
    assert_non_null(strstr(v.suggestion, "img:1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_outcomes), cmocka_unit_test(test_config_grace)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
