/* enforce.h: the enforcement matrix. For every field the adapter or a policy sets on a step, each
 * executor states whether it enforces it (the promise holds or the attempt fails), does its best
 * (passes it on or approximates it, without a guarantee), or does not enforce it at all. The table
 * is one array of columns in enforce.c: an executor is added by adding its column. Levels describe
 * an executor on a capable host (the local executor as root with cgroups); what a running
 * coordinator actually has is reported by it (README "Sandbox", acmsctl status).
 * Used by acmsctl prepare (shown per step), the validator (a policy requiring what the executor
 * cannot enforce is ENFORCEMENT_GAP) and docs/execution.md. */
#ifndef ACMS_ENFORCE_H
#define ACMS_ENFORCE_H

#include <stddef.h>

#include "pb.h"

typedef enum acms_enf_level {
    ACMS_ENF_NOT = 0,     /* not enforced */
    ACMS_ENF_BEST_EFFORT, /* passed on or approximated, without a guarantee */
    ACMS_ENF_ENFORCED,    /* the promise holds, or the attempt fails saying why */
} acms_enf_level;

typedef enum acms_enf_field {
    ACMS_ENF_INSTANCE_TYPE = 0,
    ACMS_ENF_MEMORY,
    ACMS_ENF_VCPU,
    ACMS_ENF_GPUS,
    ACMS_ENF_NETWORK_ISOLATION,
    ACMS_ENF_VOLUME_SIZE,
    ACMS_ENF_ENCRYPT_VOLUME,
    ACMS_ENF_INTERRUPTIBLE,
    ACMS_ENF_MAX_RUNTIME,
    ACMS_ENF__COUNT
} acms_enf_field;

typedef struct acms_enf_cell {
    acms_enf_level level;
    const char *how; /* one sentence: the mechanism, and what happens where it is missing */
} acms_enf_cell;

typedef struct acms_enf_column {
    const char *executor; /* "local", "http", ... */
    acms_enf_cell cell[ACMS_ENF__COUNT];
} acms_enf_column;

/* "instance_type" "memory" "vcpu" "gpus" "network_isolation" "volume_size" "encrypt_volume"
 * "interruptible" "max_runtime". */
const char *acms_enf_field_name(acms_enf_field f);
/* "not enforced" "best effort" "enforced". */
const char *acms_enf_level_name(acms_enf_level l);
/* The column of an executor ("" or NULL = local), NULL when unknown. Static storage. */
const acms_enf_column *acms_enf_executor(const char *name);
/* Every column, in table order; returns the count. */
size_t acms_enf_columns(const acms_enf_column **out);
/* The executor a step runs on: its own, else the environment's (env may be NULL), else "local". */
const char *acms_enf_step_executor(const Acms__V1__Step *s, const Acms__V1__Environment *env);
/* The matrix field a policy rule's step field maps to (encrypt_volume, vpc_config.network_isolation,
 * memory_mb, resources.memory_mb, vcpu, resources.vcpu, resources.gpus, volume_size_gb,
 * interruptible, max_runtime_s, instance_type); -1 when executors do not enforce that field. */
int acms_enf_field_of(const char *step_field);
/* Does the adapted step ask for the field (a type, a limit, a GPU, isolation, a volume, ...)? */
int acms_enf_step_asks(const Acms__V1__Step *s, acms_enf_field f);

#endif
