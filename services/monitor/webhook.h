/* webhook.h: delivery of Alertmanager-shaped JSON to the receivers in ACMS_ALERT_WEBHOOKS
 * (comma-separated URLs) with libcurl. Each receiver gets at most 3 tries with backoffs of
 * 200 ms and 400 ms (an 800 ms backoff would follow a fourth); the whole call is bounded by
 * budget_ms (default 2000) over all receivers, so a dead receiver never holds the consumer long.
 * A 2xx answer is success. Called from the service thread only (curl_global_init done by main). */
#ifndef MONITOR_WEBHOOK_H
#define MONITOR_WEBHOOK_H

#include "acms.h"
#include "arena.h"
#include "clock.h"

#define MONITOR_WEBHOOK_TRIES 3

typedef struct monitor_webhooks {
    char **urls;
    size_t n;
    int budget_ms;                         /* total time bound per post (all receivers) */
    int backoff_ms[MONITOR_WEBHOOK_TRIES]; /* 200, 400, 800 */
    const acms_clock *clock;               /* the budget's clock and the backoffs' sleep; NULL = the system's */
} monitor_webhooks;

typedef struct monitor_webhook_result {
    unsigned delivered; /* receivers that answered 2xx */
    unsigned failed;    /* receivers that did not, after their tries */
    unsigned errors;    /* failed tries (for acms_webhook_errors_total) */
} monitor_webhook_result;

/* Parses the comma-separated list (blanks trimmed, empty items skipped) into the arena. Only http://
 * and https:// URLs are accepted: ACMS_OK or ACMS_ERR_INVALID with errstr. */
int monitor_webhooks_parse(acms_arena *a, const char *spec, monitor_webhooks *out, char *errstr, size_t errstr_size);
/* POSTs json (application/json) to every receiver. Never fails the caller: outcomes are counted in *res. */
void monitor_webhooks_post(const monitor_webhooks *w, const char *json, monitor_webhook_result *res);

#endif
