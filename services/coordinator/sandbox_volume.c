/* sandbox_volume.c: volume_size_gb as a size-limited tmpfs work directory. Its pages are memory:
 * they count in the attempt's cgroup memory limit (charged to the writer), and everything in it is
 * discarded when the attempt ends (outputs belong in output_path). Needs root (mount); without it
 * the work directory is an ordinary directory and the size is not enforced (the attempt's sandbox
 * label says so). */
#include "sandbox.h"

#include <errno.h>
#include <stdio.h>
#include <sys/mount.h>

int coord_volume_mount(const char *dir, uint64_t size_gb, uid_t uid, gid_t gid)
{
    char opts[128];
    int n = snprintf(opts, sizeof opts, "size=%llug,mode=0700,uid=%u,gid=%u", (unsigned long long)size_gb,
                     (unsigned)uid, (unsigned)gid);
    if (n < 0 || (size_t)n >= sizeof opts) {
        errno = EINVAL;
        return -1;
    }
    return mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts);
}

int coord_volume_unmount(const char *dir)
{
    return umount2(dir, MNT_DETACH);
}
