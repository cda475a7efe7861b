/* main.c: acms-monitor (MonitoringSystem) wiring only. Consumes acms.exec.steps; produces
 * acms.monitor.alerts, acms.exec.adaptations and Alertmanager-shaped webhooks. The settings are read
 * in config.c, each step event is handled in on_step.c, what it produces is built in emit.c. */
#include "monitor.h"

static int init(acms_service *svc, void **ctx, char *errstr, size_t errstr_size)
{
    (void)svc;
    monitor_ctx *c = NULL;
    int rc = monitor_ctx_new(&c, errstr, errstr_size);
    *ctx = c;
    return rc;
}

static int handle(void *ctx, acms_service *svc, const acms_msg *m, const char **reason)
{
    return monitor_handle(ctx, svc, m, reason);
}

static void release(void *ctx)
{
    monitor_ctx_free(ctx);
}

int main(int argc, char **argv)
{
    static const acms_topic inputs[] = {ACMS_TOPIC_EXEC_STEPS};
    static const acms_service_ops ops = {
        .name = MONITOR_SOURCE,
        .summary = "MonitoringSystem: monitoring sessions, anomaly detection, adaptation opportunities, alerts",
        .extra_help = "  ACMS_ALERT_WEBHOOKS           comma-separated Alertmanager-style webhook URLs\n"
                      "  ACMS_ALERT_SILENCES           silences: name=StepDurationAnomaly,pipeline=foo;severity=info\n"
                      "  ACMS_ALERT_RECEIVER           receiver name in webhook payloads (default acms)\n"
                      "  ACMS_ALERT_EXTERNAL_URL       externalURL/generatorURL base (default http://localhost)\n"
                      "  ACMS_ALERT_WEBHOOK_BUDGET_MS  time bound of one webhook delivery (default 2000)\n",
        .inputs = inputs,
        .ninputs = sizeof inputs / sizeof inputs[0],
        .needs_profiles = 0,
        .init = init,
        .handle = handle,
        .release = release,
    };
    return acms_service_main(argc, argv, &ops);
}
