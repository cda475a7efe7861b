/* topics.c: `acmsctl topics apply [SPEC]`: the topic spec (deploy/topics.yaml) onto the cluster of
 * ACMS_KAFKA_BROKERS through the Admin API (kafka_admin.h). Idempotent: a second run reports every
 * topic unchanged. Exit 0 applied, 1 a topic could not be made to match, 2 usage or a bad spec,
 * 3 the cluster did not answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acmsctl.h"
#include "kafka.h"
#include "kafka_admin.h"
#include "log.h"
#include "topics.h"

#define APPLY_TIMEOUT_MS 15000

/* The spec file: the argument, ACMS_TOPICS_SPEC, the image's copy, the repository's. */
static const char *spec_path(const ctl_opts *o, char *buf, size_t size)
{
    const char *env = getenv("ACMS_TOPICS_SPEC"), *repo = getenv("ACMS_REPO");

    if (o->nargs >= 2)
        return o->args[1];
    if (env && *env)
        return env;
    if (access("/usr/share/acms/topics.yaml", R_OK) == 0)
        return "/usr/share/acms/topics.yaml";
    if (repo && *repo && snprintf(buf, size, "%s/deploy/topics.yaml", repo) < (int)size && access(buf, R_OK) == 0)
        return buf;
    return "deploy/topics.yaml";
}

int ctl_topics(const ctl_opts *o)
{
    acms_cfg cfg;
    acms_topics ts;
    acms_kafka *k;
    char err[512], pbuf[1024];
    const char *path;
    int rc;

    if (o->nargs < 1 || strcmp(o->args[0], "apply")) {
        fprintf(stderr, "acmsctl topics: expected 'apply [SPEC]' (see acmsctl --help)\n");
        return CTL_USAGE;
    }
    path = spec_path(o, pbuf, sizeof pbuf);
    if (acms_topics_load(&ts, path, err, sizeof err) != ACMS_OK) {
        fprintf(stderr, "acmsctl topics: %s\n", err);
        return CTL_USAGE;
    }
    acms_log_init("acmsctl", getenv("ACMS_LOG_LEVEL") ? getenv("ACMS_LOG_LEVEL") : "error");
    if (acms_cfg_load(&cfg, "acmsctl", err, sizeof err) != ACMS_OK) {
        fprintf(stderr, "acmsctl: configuration error: %s\n", err);
        return CTL_USAGE;
    }
    acms_topics_override(&ts, o->partitions, o->replication);
    acms_topics_rename(&ts, &cfg);
    k = acms_kafka_new(&cfg, NULL, NULL, err, sizeof err);
    if (!k) {
        fprintf(stderr, "acmsctl topics: %s\n", err);
        return CTL_UNREACHABLE;
    }
    printf("topics: %s onto %s%s\n", path, cfg.brokers, o->dry_run ? " (dry run)" : "");
    rc = acms_kafka_topics_apply(k, &ts, o->dry_run, APPLY_TIMEOUT_MS, stdout);
    fflush(stdout);
    acms_kafka_free(k);
    if (rc == ACMS_ERR_RETRY) {
        fprintf(stderr, "acmsctl topics: the cluster at %s did not answer\n", cfg.brokers);
        return CTL_UNREACHABLE;
    }
    return rc == ACMS_OK ? CTL_OK : CTL_FAIL;
}
