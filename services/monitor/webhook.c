/* webhook.c: bounded, retried webhook delivery (webhook.h).
 * Invariants: no try starts after the budget's deadline, each try's timeout is capped by what is
 * left of the budget, and a failure is counted, never returned to the consumer as an error. */
#include "webhook.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "acms.h"
#include "clock.h"
#include "log.h"

#define TRY_TIMEOUT_MS 1000
#define CONNECT_TIMEOUT_MS 300

int monitor_webhooks_parse(acms_arena *a, const char *spec, monitor_webhooks *out, char *errstr, size_t errstr_size)
{
    memset(out, 0, sizeof *out);
    out->budget_ms = 2000;
    out->backoff_ms[0] = 200;
    out->backoff_ms[1] = 400;
    out->backoff_ms[2] = 800;
    if (!spec)
        return ACMS_OK;
    const char *p = spec;
    while (*p) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *s = p, *e = end;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e > s) {
            char *url = acms_arena_strndup(a, s, (size_t)(e - s));
            if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
                snprintf(errstr, errstr_size, "ACMS_ALERT_WEBHOOKS: \"%s\" is not an http(s) URL", url);
                return ACMS_ERR_INVALID;
            }
            out->urls = acms_arena_push(a, out->urls, &out->n, sizeof *out->urls);
            out->urls[out->n - 1] = url;
        }
        p = *end ? end + 1 : end;
    }
    return ACMS_OK;
}

/* url without any user:password@ part, for logs. */
static void redacted(const char *url, char *out, size_t size)
{
    const char *scheme = strstr(url, "://");
    const char *host = scheme ? scheme + 3 : url;
    const char *slash = strchr(host, '/');
    const char *at = strchr(host, '@');
    if (at && (!slash || at < slash)) {
        int w = snprintf(out, size, "%.*s***@%s", (int)(host - url), url, at + 1);
        if (w >= 0 && (size_t)w < size)
            return;
    }
    snprintf(out, size, "%.*s", (int)(size - 1), url);
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *ud)
{
    (void)ptr;
    (void)ud;
    return size * nmemb;
}

/* One POST with a timeout; returns 1 on a 2xx answer. */
static int post_once(CURL *c, const char *url, const char *json, int64_t timeout_ms, long *status, char *err,
                     size_t err_size)
{
    err[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(timeout_ms < CONNECT_TIMEOUT_MS ? timeout_ms : CONNECT_TIMEOUT_MS));
    CURLcode rc = curl_easy_perform(c);
    *status = 0;
    if (rc != CURLE_OK) {
        snprintf(err, err_size, "%s", curl_easy_strerror(rc));
        return 0;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    if (*status < 200 || *status > 299) {
        snprintf(err, err_size, "HTTP %ld", *status);
        return 0;
    }
    return 1;
}

void monitor_webhooks_post(const monitor_webhooks *w, const char *json, monitor_webhook_result *res)
{
    memset(res, 0, sizeof *res);
    if (!w || w->n == 0 || !json)
        return;
    int64_t deadline = acms_clock_mono(w->clock) + (w->budget_ms > 0 ? w->budget_ms : 2000);
    CURL *c = curl_easy_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    if (!c || !hdrs) {
        res->failed = (unsigned)w->n;
        res->errors = (unsigned)w->n;
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "acms-monitor/" ACMS_VERSION);
    for (size_t i = 0; i < w->n; i++) {
        int ok = 0;
        for (int t = 0; t < MONITOR_WEBHOOK_TRIES && !ok; t++) {
            int64_t left = deadline - acms_clock_mono(w->clock);
            if (left <= 0)
                break;
            long status;
            char err[CURL_ERROR_SIZE + 32];
            ok = post_once(c, w->urls[i], json, left < TRY_TIMEOUT_MS ? left : TRY_TIMEOUT_MS, &status, err,
                           sizeof err);
            if (ok)
                break;
            res->errors++;
            char shown[256];
            redacted(w->urls[i], shown, sizeof shown);
            acms_log_warn(NULL, NULL, "webhook %s try %d failed: %s", shown, t + 1, err);
            if (t + 1 < MONITOR_WEBHOOK_TRIES) {
                int64_t wait = w->backoff_ms[t];
                left = deadline - acms_clock_mono(w->clock);
                if (wait >= left)
                    break;
                acms_clock_sleep(w->clock, wait);
            }
        }
        if (ok)
            res->delivered++;
        else
            res->failed++;
    }
out:
    curl_slist_free_all(hdrs);
    if (c)
        curl_easy_cleanup(c);
}
