/* main.c: acms-coordinator wiring only. Consumes acms.config.validated, acms.exec.adapted and
 * acms.control; produces acms.exec.steps and acms.exec.results. The logic lives in coord.c and the
 * files it names; the tick (every 20 ms, and at once when a step's process ends) drives the runs this
 * replica owns. */
#include "coord.h"

static int init(acms_service *svc, void **ctx, char *errstr, size_t errstr_size)
{
    coord_ctx *c = NULL;
    int rc = coord_init(svc, &c, errstr, errstr_size);
    *ctx = c;
    return rc;
}

static int handle(void *ctx, acms_service *svc, const acms_msg *m, const char **reason)
{
    return coord_handle(ctx, svc, m, reason);
}

static int tick(void *ctx, acms_service *svc)
{
    return coord_tick(ctx, svc);
}

static int wake_fd(void *ctx)
{
    return coord_wake_fd(ctx);
}

static void release(void *ctx)
{
    coord_release(ctx);
}

int main(int argc, char **argv)
{
    static const acms_topic inputs[] = {ACMS_TOPIC_CONFIG_VALIDATED, ACMS_TOPIC_EXEC_ADAPTED, ACMS_TOPIC_CONTROL};
    static const acms_service_ops ops = {
        .name = COORD_SERVICE,
        .summary = "executes validated pipeline runs: plans, runs steps under resource limits, recovers failures",
        .extra_help =
            "  ACMS_COORD_LEASE_TTL_MS  run lease time-to-live (default 5000)\n"
            "  ACMS_COORD_MAX_RUNS      runs one replica owns at most (default 0 = unlimited)\n"
            "  ACMS_SANDBOX             local steps' sandbox: auto | off | require (default auto)\n"
            "  ACMS_STEP_USER           user[:group] local steps run as (default acms-step; empty = ours)\n"
            "  ACMS_CGROUP              auto | v2 | v1 | off (default auto: v2 when it has memory, cpu, pids)\n"
            "  ACMS_CGROUP_PARENT       v2: a delegated cgroup for attempts; v1: a name under ours (acms)\n"
            "  ACMS_STEP_PIDS_MAX       pids.max of an attempt's cgroup (default 4096, 0 = none)\n"
            "  VAULT_ADDR, VAULT_TOKEN  resolve secret://vault/ references at step start\n",
        .inputs = inputs,
        .ninputs = sizeof inputs / sizeof *inputs,
        .needs_profiles = 1,
        .init = init,
        .handle = handle,
        .tick = tick,
        .tick_ms = 20,
        .wake_fd = wake_fd,
        .release = release,
    };
    return acms_service_main(argc, argv, &ops);
}
