/* Metrics registry: counters, gauges and histograms render in Prometheus text format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http.h"

static void renders_prometheus_text(void **state)
{
    (void)state;
    acms_metrics *m = acms_metrics_new("acms-test");
    acms_metrics_add(m, "acms_events_in_total", "topic=\"a\"", "Events consumed", 2);
    acms_metrics_add(m, "acms_events_in_total", "topic=\"b\"", "Events consumed", 1);
    acms_metrics_add(m, "acms_events_in_total", "topic=\"a\"", "Events consumed", 3);
    acms_metrics_set(m, "acms_consumer_lag", NULL, "Lag", 7);
    acms_metrics_observe(m, "acms_event_processing_seconds", "topic=\"a\"", "Latency", 0.003);
    acms_metrics_observe(m, "acms_event_processing_seconds", "topic=\"a\"", "Latency", 0.2);
    assert_true(acms_metrics_get(m, "acms_events_in_total", "topic=\"a\"") == 5);
    char *s = acms_metrics_render(m);
    assert_non_null(strstr(s, "# TYPE acms_events_in_total counter\n"));
    assert_non_null(strstr(s, "acms_events_in_total{topic=\"a\"} 5\n"));
    assert_non_null(strstr(s, "acms_events_in_total{topic=\"b\"} 1\n"));
    assert_non_null(strstr(s, "acms_consumer_lag 7\n"));
    assert_non_null(strstr(s, "acms_event_processing_seconds_bucket{topic=\"a\",le=\"0.005\"} 1\n"));
    assert_non_null(strstr(s, "acms_event_processing_seconds_bucket{topic=\"a\",le=\"+Inf\"} 2\n"));
    assert_non_null(strstr(s, "acms_event_processing_seconds_count{topic=\"a\"} 2\n"));
    /* one HELP per family */
    assert_null(strstr(strstr(s, "# HELP acms_events_in_total") + 1, "# HELP acms_events_in_total"));
    free(s);
    acms_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(renders_prometheus_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
