/* catalog.h: the instance-type catalogue (vCPU, memory, GPUs, price) loaded from a YAML data file
 * (examples/catalog.yaml). Lookups are read-only and safe from any thread once loaded; a loaded
 * catalogue finds a type by name through a hash of the names, a catalogue built by hand (types and n
 * only) by a scan. */
#ifndef ACMS_CATALOG_H
#define ACMS_CATALOG_H

#include "pb.h"
#include "strmap.h"

typedef struct acms_instance_type {
    const char *name;   /* ml.m5.xlarge */
    const char *family; /* ml.m5 */
    double vcpu;
    double memory_gib;
    uint32_t gpus;
    const char *gpu_model; /* "" when none */
    double price_per_hour; /* USD, on-demand */
} acms_instance_type;

typedef struct acms_catalog {
    acms_instance_type *types; /* sorted by family, then memory, then vcpu */
    size_t n;
    acms_strmap by_name; /* name -> index in types (acms_catalog_load); empty: lookups scan types */
} acms_catalog;

/* Loads the catalogue into the arena. ACMS_OK, or ACMS_ERR_INVALID/ACMS_ERR_NOTFOUND with errstr. */
int acms_catalog_load(acms_arena *a, const char *path, acms_catalog *out, char *errstr, size_t errstr_size);
const acms_instance_type *acms_catalog_find(const acms_catalog *c, const char *name);
/* Memory of a type in MiB. */
uint64_t acms_instance_memory_mb(const acms_instance_type *t);
/* The next larger type of the same family (by memory), or NULL. */
const acms_instance_type *acms_catalog_next_larger(const acms_catalog *c, const acms_instance_type *t);
/* The cheapest type with at least vcpu/memory_mb/gpus; restricted to family when not NULL and to
 * the allowed names when nallowed > 0. NULL when none fits. */
const acms_instance_type *acms_catalog_smallest_fit(const acms_catalog *c, const char *family, double vcpu,
                                                    uint64_t memory_mb, uint32_t gpus, char *const *allowed,
                                                    size_t nallowed);

#endif
