/* exec_poll.h: the local executor's measurements without a cgroup: a process group's RSS, CPU ticks
 * and largest VmHWM read from /proc (the fallback where no cgroup is available: laptops, no root). */
#ifndef ACMS_COORD_EXEC_POLL_H
#define ACMS_COORD_EXEC_POLL_H

#include <stdint.h>
#include <sys/types.h>

typedef struct coord_group_usage {
    uint64_t rss_kb;                   /* last sample: the group's summed RSS */
    uint64_t peak_kb;                  /* largest summed RSS sampled */
    uint64_t hwm_kb;                   /* largest VmHWM of one member seen */
    uint64_t utime_ticks, stime_ticks; /* largest sums seen (own and reaped children) */
    int sampled;                       /* at least one sample found the group */
} coord_group_usage;

/* Samples process group pgid into u: only its leader when leader_only (two small files instead of
 * a walk of /proc), else every live member. */
void coord_group_sample(pid_t pgid, int leader_only, coord_group_usage *u);
/* Clock ticks (USER_HZ) to milliseconds. */
uint64_t coord_ticks_ms(uint64_t ticks);

#endif
