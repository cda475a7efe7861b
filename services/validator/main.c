/* main.c: acms-validator wiring. Consumes acms.config.prepared (validate -> ValidationResultEvent,
 * then ConfigValidated and run status "validated", or status "rejected": on_prepared.c) and
 * acms.exec.steps (runtime validation -> a runtime ValidationResultEvent when a step shows issues:
 * on_step.c); batch.c validates the prepared configurations waiting in the queue together. The
 * context is a validator_ctx (validator.h): the profiles and the service's Redis. */
#include <stdlib.h>

#include "validator/handlers.h"

static int init(acms_service *svc, void **out, char *errstr, size_t errstr_size)
{
    validator_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(errstr, errstr_size, "out of memory");
        return ACMS_ERR_NOMEM;
    }
    c->profiles = acms_service_profiles(svc);
    c->redis = acms_service_redis(svc);
    *out = c;
    return ACMS_OK;
}

static void release(void *ctx)
{
    free(ctx);
}

static int handle(void *ctx, acms_service *svc, const acms_msg *m, const char **reason)
{
    return validator_handle(ctx, svc, m, reason);
}

static int handle_batch(void *ctx, acms_service *svc, const acms_msg *msgs, size_t n, int *rcs, const char **reasons)
{
    return validator_handle_batch(ctx, svc, msgs, n, rcs, reasons);
}

int main(int argc, char **argv)
{
    static const acms_topic inputs[] = {ACMS_TOPIC_CONFIG_PREPARED, ACMS_TOPIC_EXEC_STEPS};
    static const acms_service_ops ops = {
        .name = VALIDATOR_SERVICE,
        .summary = "validates prepared configurations (syntax, semantics, environment, security, performance) "
                   "with ranked fix suggestions, and judges running steps",
        .extra_help = NULL,
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
