/* stack.c: how acmsctl reaches the stack: the addresses from the environment or the stack file that
 * locate.h finds (never relative to the current directory), and a Redis connection whose failure
 * says which file the addresses came from or which files were looked for. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acmsctl.h"
#include "log.h"

int ctl_load_cfg(const ctl_opts *o, acms_cfg *cfg)
{
    char err[256];
    if (acms_cfg_load(cfg, "acmsctl", err, sizeof err) != ACMS_OK)
        return ctl_fail(o, CTL_USAGE, "usage", NULL, "configuration error: %s", err);
    acms_log_init("acmsctl", getenv("ACMS_LOG_LEVEL") ? getenv("ACMS_LOG_LEVEL") : "error");
    return CTL_OK;
}

const char *ctl_stack_origin(const acms_cfg *cfg, char *buf, size_t size)
{
    if (cfg->stack_file[0])
        snprintf(buf, size, "from the stack file %s", cfg->stack_file);
    else if (cfg->stack_tried[0])
        snprintf(buf, size, "the default: no stack file found, looked for %s", cfg->stack_tried);
    else
        snprintf(buf, size, "from ACMS_KAFKA_BROKERS and ACMS_REDIS_URL");
    return buf;
}

acms_redis *ctl_redis(const ctl_opts *o, const acms_cfg *cfg)
{
    char err[256] = "", red[512], origin[2400];
    acms_redis *r = acms_redis_new(cfg->redis_url, NULL, err, sizeof err);
    if (!r) {
        ctl_fail(o, CTL_UNREACHABLE, "unreachable", NULL, "Redis URL %s: %s",
                 ctl_stack_origin(cfg, origin, sizeof origin), err);
        return NULL;
    }
    if (acms_redis_ping(r) != ACMS_OK) {
        ctl_fail(o, CTL_UNREACHABLE, "unreachable", NULL,
                 "Redis at %s (%s) is unreachable: is the stack up? (`make up` in the repository, or set "
                 "ACMS_STACK_ENV)",
                 acms_cfg_redacted_url(cfg->redis_url, red, sizeof red), ctl_stack_origin(cfg, origin, sizeof origin));
        acms_redis_free(r);
        return NULL;
    }
    acms_redis_set_run_retention(r, (int64_t)cfg->run_retention_s * 1000);
    acms_redis_set_seen_ttl(r, cfg->seen_ttl_s);
    return r;
}
