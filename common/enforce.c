/* enforce.c: the enforcement matrix as one table, a column per executor (local, http, kubernetes).
 * Add an executor by adding its column to `columns`; docs/execution.md shows the same table
 * (test_enforce_matrix checks it does). */
#include "enforce.h"

#include <string.h>

#define E ACMS_ENF_ENFORCED
#define B ACMS_ENF_BEST_EFFORT
#define N ACMS_ENF_NOT

static const acms_enf_column columns[] = {
    {"local",
     {
         [ACMS_ENF_INSTANCE_TYPE] = {B, "mapped to the type's memory and vCPU, which are enforced; the host's own "
                                        "hardware runs the step"},
         [ACMS_ENF_MEMORY] = {E, "cgroup memory limit for every process of the attempt; the kernel's OOM kill is "
                                 "read from the cgroup and reported as MEMORY (without cgroups: group RSS polled "
                                 "every 50 ms plus RLIMIT_AS, best effort)"},
         [ACMS_ENF_VCPU] = {E, "cgroup CPU quota of vcpu cores per 100 ms period (without cgroups: not enforced)"},
         [ACMS_ENF_GPUS] = {N, "no GPU isolation: the step sees the host's devices"},
         [ACMS_ENF_NETWORK_ISOLATION] = {E, "own network namespace with only a loopback interface (needs root: "
                                            "without it the attempt fails where the environment requires "
                                            "isolation, and runs unisolated, said so, elsewhere)"},
         [ACMS_ENF_VOLUME_SIZE] = {E, "the work directory is a tmpfs of volume_size_gb (RAM, counted in the "
                                      "memory limit; discarded when the attempt ends; without root: not enforced)"},
         [ACMS_ENF_ENCRYPT_VOLUME] = {N, "the work directory is not encrypted"},
         [ACMS_ENF_INTERRUPTIBLE] = {N, "runs on the host's own capacity: never on spot or preemptible capacity"},
         [ACMS_ENF_MAX_RUNTIME] = {E, "SIGTERM at the limit, SIGKILL after the grace period, to every process of "
                                      "the attempt (its cgroup, else its process group)"},
     }},
    {"http",
     {
         [ACMS_ENF_INSTANCE_TYPE] = {B, "sent to the worker (limits.instance_type), which chooses the machine"},
         [ACMS_ENF_MEMORY] = {B, "sent to the worker (limits.memory_mb), which enforces it; a kill it reports as "
                                 "memory is recorded as MEMORY"},
         [ACMS_ENF_VCPU] = {B, "sent to the worker (limits.vcpu)"},
         [ACMS_ENF_GPUS] = {B, "sent to the worker (limits.gpus)"},
         [ACMS_ENF_NETWORK_ISOLATION] = {B, "sent to the worker (limits.network_isolation)"},
         [ACMS_ENF_VOLUME_SIZE] = {B, "sent to the worker (limits.volume_size_gb)"},
         [ACMS_ENF_ENCRYPT_VOLUME] = {B, "sent to the worker (limits.encrypt_volume)"},
         [ACMS_ENF_INTERRUPTIBLE] = {B, "sent to the worker (limits.interruptible)"},
         [ACMS_ENF_MAX_RUNTIME] = {E, "the coordinator ends the attempt at the limit (DELETE to the worker) and "
                                      "records TIME"},
     }},
    {"kubernetes",
     {
         [ACMS_ENF_INSTANCE_TYPE] = {E, "nodeSelector on the instance type label: scheduled only on such nodes"},
         [ACMS_ENF_MEMORY] = {E, "container memory limit; the kernel's OOM kill is reported by the kubelet "
                                 "(OOMKilled) and recorded as MEMORY"},
         [ACMS_ENF_VCPU] = {E, "container CPU limit (CFS quota), the request reserving it"},
         [ACMS_ENF_GPUS] = {E, "extended resource nvidia.com/gpu: scheduled only where the GPUs are free"},
         [ACMS_ENF_NETWORK_ISOLATION] = {B, "a NetworkPolicy denying all traffic: enforced where the cluster's CNI "
                                            "enforces NetworkPolicy, not otherwise"},
         [ACMS_ENF_VOLUME_SIZE] = {B, "emptyDir sizeLimit and an ephemeral-storage request: the kubelet evicts the "
                                      "Pod above it, after the fact"},
         [ACMS_ENF_ENCRYPT_VOLUME] = {N, "the work volume is an emptyDir on the node's disk, encrypted only if the "
                                         "cluster's node disks are"},
         [ACMS_ENF_INTERRUPTIBLE] = {E, "spot tolerations and a required node affinity for spot capacity"},
         [ACMS_ENF_MAX_RUNTIME] = {E, "activeDeadlineSeconds, and the coordinator deletes the Pod 60 s past it"},
     }},
};

#undef E
#undef B
#undef N

static const char *const field_names[ACMS_ENF__COUNT] = {
    "instance_type", "memory",         "vcpu",          "gpus",       "network_isolation",
    "volume_size",   "encrypt_volume", "interruptible", "max_runtime"};

const char *acms_enf_field_name(acms_enf_field f)
{
    return (unsigned)f < ACMS_ENF__COUNT ? field_names[f] : "?";
}

const char *acms_enf_level_name(acms_enf_level l)
{
    switch (l) {
    case ACMS_ENF_ENFORCED: return "enforced";
    case ACMS_ENF_BEST_EFFORT: return "best effort";
    default: return "not enforced";
    }
}

size_t acms_enf_columns(const acms_enf_column **out)
{
    *out = columns;
    return sizeof columns / sizeof *columns;
}

const acms_enf_column *acms_enf_executor(const char *name)
{
    if (!name || !*name)
        name = "local";
    for (size_t i = 0; i < sizeof columns / sizeof *columns; i++)
        if (!strcmp(columns[i].executor, name))
            return &columns[i];
    return NULL;
}

const char *acms_enf_step_executor(const Acms__V1__Step *s, const Acms__V1__Environment *env)
{
    if (s && s->executor && *s->executor)
        return s->executor;
    if (env && env->executor && *env->executor)
        return env->executor;
    return "local";
}

int acms_enf_field_of(const char *f)
{
    static const struct {
        const char *name;
        acms_enf_field field;
    } map[] = {
        {"instance_type", ACMS_ENF_INSTANCE_TYPE},
        {"memory_mb", ACMS_ENF_MEMORY},
        {"resources.memory_mb", ACMS_ENF_MEMORY},
        {"vcpu", ACMS_ENF_VCPU},
        {"resources.vcpu", ACMS_ENF_VCPU},
        {"resources.gpus", ACMS_ENF_GPUS},
        {"vpc_config.network_isolation", ACMS_ENF_NETWORK_ISOLATION},
        {"volume_size_gb", ACMS_ENF_VOLUME_SIZE},
        {"encrypt_volume", ACMS_ENF_ENCRYPT_VOLUME},
        {"interruptible", ACMS_ENF_INTERRUPTIBLE},
        {"max_runtime_s", ACMS_ENF_MAX_RUNTIME},
    };
    for (size_t i = 0; f && i < sizeof map / sizeof *map; i++)
        if (!strcmp(map[i].name, f))
            return (int)map[i].field;
    return -1;
}

int acms_enf_step_asks(const Acms__V1__Step *s, acms_enf_field f)
{
    const Acms__V1__Resources *r = s->resources;
    switch (f) {
    case ACMS_ENF_INSTANCE_TYPE: return s->instance_type && *s->instance_type;
    case ACMS_ENF_MEMORY: return s->memory_mb > 0 || (r && r->memory_mb > 0);
    case ACMS_ENF_VCPU: return s->vcpu > 0 || (r && r->vcpu > 0);
    case ACMS_ENF_GPUS: return r && r->gpus > 0;
    case ACMS_ENF_NETWORK_ISOLATION: return s->vpc_config && s->vpc_config->network_isolation;
    case ACMS_ENF_VOLUME_SIZE: return s->volume_size_gb > 0;
    case ACMS_ENF_ENCRYPT_VOLUME: return s->encrypt_volume;
    case ACMS_ENF_INTERRUPTIBLE: return s->interruptible;
    case ACMS_ENF_MAX_RUNTIME: return s->max_runtime_s > 0;
    default: return 0;
    }
}
