/* metrics.h: a service's metrics registry: counters, gauges and histograms with fixed label sets,
 * rendered in the Prometheus text format (served at /metrics by http.h). Thread-safe. Label values
 * may come from messages: they are escaped, and the registry is bounded (a series refused is counted
 * in acms_metrics_series_dropped_total). */
#ifndef ACMS_METRICS_H
#define ACMS_METRICS_H

typedef struct acms_metrics acms_metrics;

acms_metrics *acms_metrics_new(const char *service);
void acms_metrics_free(acms_metrics *m);
/* name: metric name (acms_events_in_total); labels: Prometheus label body (topic="x") or NULL;
 * help: # HELP text, used the first time a name is seen. */
void acms_metrics_add(acms_metrics *m, const char *name, const char *labels, const char *help, double v);
void acms_metrics_set(acms_metrics *m, const char *name, const char *labels, const char *help, double v);
/* Histogram observation in seconds (buckets 1 ms .. 10 s). */
void acms_metrics_observe(acms_metrics *m, const char *name, const char *labels, const char *help, double seconds);
/* The same for durations of seconds to hours (buckets 1 s .. 6 h): step attempts. */
void acms_metrics_observe_long(acms_metrics *m, const char *name, const char *labels, const char *help, double seconds);
/* Current value of a counter/gauge (0 when unknown), for tests. */
double acms_metrics_get(acms_metrics *m, const char *name, const char *labels);
/* Prometheus text into a malloc'd string the caller frees; NULL when out of memory. */
char *acms_metrics_render(acms_metrics *m);

#endif
