/* config.c: the monitor's settings, read once at start: ACMS_ALERT_SILENCES, ACMS_ALERT_WEBHOOKS,
 * ACMS_ALERT_WEBHOOK_BUDGET_MS (100..60000), ACMS_ALERT_RECEIVER and ACMS_ALERT_EXTERNAL_URL. A bad
 * value fails the start with the reason; libcurl is initialised here and cleaned up on free. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>

#include "monitor.h"

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

int monitor_ctx_new(monitor_ctx **out, char *errstr, size_t errstr_size)
{
    monitor_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        snprintf(errstr, errstr_size, "out of memory");
        return ACMS_ERR_NOMEM;
    }
    ctx->arena = acms_arena_new(0);
    int rc = monitor_silences_parse(ctx->arena, getenv("ACMS_ALERT_SILENCES"), &ctx->silences, errstr, errstr_size);
    if (rc == ACMS_OK)
        rc = monitor_webhooks_parse(ctx->arena, getenv("ACMS_ALERT_WEBHOOKS"), &ctx->hooks, errstr, errstr_size);
    if (rc != ACMS_OK)
        goto fail;
    const char *budget = getenv("ACMS_ALERT_WEBHOOK_BUDGET_MS");
    if (budget && *budget) {
        char *end;
        long v = strtol(budget, &end, 10);
        if (*end || v < 100 || v > 60000) {
            snprintf(errstr, errstr_size, "ACMS_ALERT_WEBHOOK_BUDGET_MS: expected 100..60000 ms, got \"%s\"", budget);
            rc = ACMS_ERR_INVALID;
            goto fail;
        }
        ctx->hooks.budget_ms = (int)v;
    }
    ctx->receiver = acms_arena_strdup(ctx->arena, env_or("ACMS_ALERT_RECEIVER", "acms"));
    ctx->external_url = acms_arena_strdup(ctx->arena, env_or("ACMS_ALERT_EXTERNAL_URL", "http://localhost"));
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(errstr, errstr_size, "curl_global_init failed");
        rc = ACMS_ERR;
        goto fail;
    }
    acms_log_info(NULL, NULL, "monitor: %zu silences, %zu webhooks", ctx->silences.n, ctx->hooks.n);
    *out = ctx;
    return ACMS_OK;
fail:
    acms_arena_free(ctx->arena);
    free(ctx);
    return rc;
}

void monitor_ctx_free(monitor_ctx *ctx)
{
    if (!ctx)
        return;
    curl_global_cleanup();
    acms_arena_free(ctx->arena);
    free(ctx);
}
