/* exec_spawn.h: starting a local step's process. The child shares the coordinator's memory until it
 * execs (clone with CLONE_VM | CLONE_VFORK: no page tables copied, the calling thread suspended
 * meanwhile), enters its sandbox, and reports the stage that failed, with errno, on report_fd.
 * On cgroup v2, where the kernel and this architecture allow it, clone3's CLONE_INTO_CGROUP starts
 * the child inside its attempt's cgroup (no migration, which costs the kernel an RCU grace period);
 * elsewhere the child writes itself into cgroup.procs before exec. */
#ifndef ACMS_COORD_EXEC_SPAWN_H
#define ACMS_COORD_EXEC_SPAWN_H

#include <stdint.h>
#include <sys/types.h>

#include "sandbox.h"

enum { STAGE_SETSID = 1, STAGE_DUP, STAGE_RLIMIT, STAGE_CHDIR, STAGE_EXEC };

typedef struct child_args {
    const char *exe;
    char *const *argv;
    char *const *envp;
    const char *cwd;
    int in_fd, out_fd, err_fd, report_fd;
    pid_t parent;
    uint64_t as_bytes, cpu_s;
    coord_child_sandbox sandbox;
} child_args;

/* Starts the child for a. cgroup_fd >= 0: a v2 cgroup directory to start it in (CLONE_INTO_CGROUP);
 * *into is then set to 1 when that worked (the child skips writing cgroup.procs), else 0 and the
 * child joins by writing. Returns the child's pid, or -1 with errno set. */
pid_t coord_spawn_child(child_args *a, int cgroup_fd, int *into);

#endif
