/* resources.h: the resources of one attempt (memory, runtime, CPU time, vCPU, instance type) and
 * the names of its exit reasons, shared by the planner, recovery, the executors and the run's
 * records (defined in recovery.c). A zero limit means no limit; reason names round-trip through
 * coord_reason_parse. Pure: no I/O. */
#ifndef ACMS_COORD_RESOURCES_H
#define ACMS_COORD_RESOURCES_H

#include <stdint.h>

#include "pb.h"

/* Resources of one attempt. */
typedef struct coord_res {
    uint64_t memory_mb;     /* 0 = no limit */
    uint32_t max_runtime_s; /* 0 = no limit */
    uint64_t cpu_time_s;    /* 0 = no limit */
    double vcpu;
    char instance_type[64];
} coord_res;

/* The resources a step asks for (Resources filled by the adapter, else its explicit requests). */
void coord_res_from_step(const Acms__V1__Step *s, coord_res *out);
/* "UNSPECIFIED" "OK" "NONZERO" "SIGNAL" "MEMORY" "TIME" "CPU_TIME" ... and back (-1 unknown). */
const char *coord_reason_name(Acms__V1__ExitReason r);
int coord_reason_parse(const char *s);

#endif
