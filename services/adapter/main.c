/* main.c: acms-adapter wiring. Consumes acms.config.submitted (prepare -> ConfigPrepared, or a
 * rejection: on_submit.c) and acms.exec.adaptations (runtime decision -> AdaptedEvent:
 * on_opportunity.c); batch.c handles the submissions waiting in the queue together. init reads the
 * settings and builds the service's context (handlers.h); release tears it down in reverse. */
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/handlers.h"
#include "vault.h"

static int init(acms_service *svc, void **out, char *errstr, size_t errstr_size)
{
    adapter_service *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(errstr, errstr_size, "out of memory");
        return ACMS_ERR_NOMEM;
    }
    const char *th = getenv("ACMS_SAFETY_THRESHOLD");
    if (th && *th) {
        char *end;
        errno = 0;
        s->threshold = strtod(th, &end);
        if (errno || *end || !(s->threshold > 0 && s->threshold <= 1)) {
            snprintf(errstr, errstr_size, "ACMS_SAFETY_THRESHOLD: '%s' is not a number in (0, 1]", th);
            free(s);
            return ACMS_ERR_INVALID;
        }
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(errstr, errstr_size, "curl_global_init failed");
        free(s);
        return ACMS_ERR;
    }
    if (acms_secret_ctx_from_env(&s->ctx.secret, errstr, errstr_size) != ACMS_OK) {
        curl_global_cleanup();
        free(s);
        return ACMS_ERR_INVALID;
    }
    const char *spec = getenv("ACMS_CONFIG_STORE");
    s->store = acms_store_open(spec, acms_service_redis(svc), errstr, errstr_size);
    if (!s->store || acms_crypt_from_env(&s->crypt, s->ctx.secret.vault, errstr, errstr_size) != ACMS_OK) {
        acms_store_close(s->store);
        acms_secret_ctx_release(&s->ctx.secret);
        curl_global_cleanup();
        free(s);
        return ACMS_ERR_INVALID;
    }
    acms_store_set_crypt(s->store, s->crypt);
    s->ctx.profiles = acms_service_profiles(svc);
    s->ctx.redis = acms_service_redis(svc);
    s->ctx.check_secrets = 1;
    acms_metrics *mx = acms_service_metrics(svc); /* the service's own series exist from the start */
    acms_metrics_add(mx, "acms_adapter_prepared_total", NULL, "Configurations prepared for execution", 0);
    acms_metrics_add(mx, "acms_adapter_rejected_total", NULL, "Configurations rejected before validation", 0);
    for (int st = 0; st < 2; st++)
        acms_metrics_add(mx, "acms_adapter_adaptations_applied_total", st ? "stage=\"runtime\"" : "stage=\"prepare\"",
                         "Adaptation records applied, at preparation and at runtime", 0);
    acms_log_info(NULL, NULL, "adapter ready: vault %s, safety threshold %s, configuration store %s%s%s",
                  s->ctx.secret.vault ? acms_vault_addr(s->ctx.secret.vault) : "none",
                  th && *th ? th : "per environment", acms_store_kind(s->store),
                  spec && *spec && strcmp(spec, "redis") ? " " : "",
                  spec && *spec && strcmp(spec, "redis") ? spec : "");
    *out = s;
    return ACMS_OK;
}

static void release(void *ctx)
{
    adapter_service *s = ctx;
    if (!s)
        return;
    acms_store_close(s->store);
    acms_crypt_free(s->crypt);
    acms_secret_ctx_release(&s->ctx.secret);
    curl_global_cleanup();
    free(s);
}

static int handle(void *ctx, acms_service *svc, const acms_msg *m, const char **reason)
{
    return adapter_handle(ctx, svc, m, reason);
}

static int handle_batch(void *ctx, acms_service *svc, const acms_msg *msgs, size_t n, int *rcs, const char **reasons)
{
    return adapter_handle_batch(ctx, svc, msgs, n, rcs, reasons);
}

int main(int argc, char **argv)
{
    static const acms_topic inputs[] = {ACMS_TOPIC_CONFIG_SUBMITTED, ACMS_TOPIC_EXEC_ADAPTATIONS};
    static const acms_service_ops ops = {
        .name = ADAPTER_SERVICE,
        .summary = "adapts submitted pipeline configurations to their environment and decides runtime adaptations",
        .extra_help = "  VAULT_ADDR              Vault for secret://vault references (e.g. http://127.0.0.1:8200)\n"
                      "  VAULT_TOKEN             Vault token (never logged)\n"
                      "  ACMS_SAFETY_THRESHOLD   minimum safety score of runtime adaptations, (0,1]; default: the\n"
                      "                          environment's safety_threshold, else 0.8\n"
                      "  ACMS_CONFIG_STORE       where submissions by reference (config_ref id[@version]) are read:\n"
                      "                          redis (default: the service's Redis, keys acms:config:*) or the\n"
                      "                          URL of a storage service, e.g. http://127.0.0.1:8081\n",
        .inputs = inputs,
        .ninputs = sizeof inputs / sizeof *inputs,
        .needs_profiles = 1,
        .init = init,
        .handle = handle,
        .handle_batch = handle_batch,
        .release = release,
    };
    return acms_service_main(argc, argv, &ops);
}
