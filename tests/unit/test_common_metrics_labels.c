/* /metrics stays well-formed and bounded whatever the label values: some come from messages (the
 * feedback service counts alerts by their name, recommendations by the result's learning mode), so
 * a value with quotes, backslashes or newlines is escaped as the Prometheus text format wants (it
 * used to add lines to the exposition or break the whole scrape), an oversized or malformed label
 * body is refused, and the registry stops growing at its series limit; refusals are counted in
 * acms_metrics_series_dropped_total. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http.h"

/* Every line of the exposition: a comment, or name{k="v",...} value with escaped values. */
static void assert_well_formed(const char *text, size_t *samples)
{
    *samples = 0;
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        assert_non_null(end);
        if (*line != '#') {
            const char *p = line;
            while (p < end && (*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
                p++;
            assert_true(p > line);
            if (*p == '{') {
                for (p++; *p != '}';) {
                    while (*p != '=') {
                        assert_true(*p == '_' || (*p >= 'a' && *p <= 'z'));
                        p++;
                    }
                    assert_int_equal(p[1], '"');
                    for (p += 2; *p != '"'; p++) {
                        assert_true(p < end);
                        if (*p == '\\') {
                            p++;
                            assert_true(*p == '\\' || *p == '"' || *p == 'n');
                        }
                    }
                    p++;
                    if (*p == ',')
                        p++;
                }
                p++;
            }
            assert_int_equal(*p, ' ');
            char *num_end = NULL;
            strtod(p + 1, &num_end);
            assert_ptr_equal(num_end, end);
            (*samples)++;
        }
        line = end + 1;
    }
}

static void hostile_values_are_escaped(void **state)
{
    (void)state;
    acms_metrics *m = acms_metrics_new("test");
    acms_metrics_add(m, "acms_feedback_alerts_total", "alertname=\"Evil\"} 1\nfake_metric{a=\"b\"", "Alerts", 1);
    acms_metrics_add(m, "acms_feedback_alerts_total", "alertname=\"back\\slash \"quoted\" line\nbreak\"", "Alerts", 1);
    acms_metrics_add(m, "acms_feedback_alerts_total", "alertname=\"StepKilledForMemory\"", "Alerts", 2);
    acms_metrics_add(m, "acms_feedback_alerts_total", "alertname=\"StepKilledForMemory\"", "Alerts", 1);
    acms_metrics_observe(m, "acms_handle_seconds", "topic=\"x\ny\"", "Handling", 0.01);
    char *text = acms_metrics_render(m);
    size_t samples;
    assert_well_formed(text, &samples);
    assert_null(strstr(text, "\nfake_metric"));
    assert_non_null(strstr(text, "acms_feedback_alerts_total{alertname=\"StepKilledForMemory\"} 3\n"));
    assert_non_null(strstr(text, "alertname=\"back\\\\slash \\\"quoted\\\" line\\nbreak\""));
    assert_int_equal(acms_metrics_get(m, "acms_feedback_alerts_total", "alertname=\"StepKilledForMemory\""), 3);
    free(text);
    acms_metrics_free(m);
}

static void malformed_long_and_too_many_are_refused(void **state)
{
    (void)state;
    acms_metrics *m = acms_metrics_new("test");
    char big[1024];
    memset(big, 'x', sizeof big);
    memcpy(big, "alertname=\"", 11);
    big[sizeof big - 2] = '"';
    big[sizeof big - 1] = '\0';
    acms_metrics_add(m, "acms_feedback_alerts_total", big, "Alerts", 1);       /* too long */
    acms_metrics_add(m, "acms_feedback_alerts_total", "no quotes", "Alerts", 1); /* malformed */
    for (int i = 0; i < 10000; i++) {
        char l[64];
        snprintf(l, sizeof l, "alertname=\"A%d\"", i);
        acms_metrics_add(m, "acms_feedback_alerts_total", l, "Alerts", 1);
    }
    char *text = acms_metrics_render(m);
    size_t samples;
    assert_well_formed(text, &samples);
    assert_true(samples <= 2049);   /* the series limit, plus the dropped counter */
    assert_true(samples >= 1000);
    const char *d = strstr(text, "\nacms_metrics_series_dropped_total ");
    assert_non_null(d);
    assert_true(strtoull(d + 35, NULL, 10) >= 10000 - 2048 + 2);
    free(text);
    acms_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hostile_values_are_escaped),
        cmocka_unit_test(malformed_long_and_too_many_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
