/* sandbox_user.c: the unprivileged identity steps run as (ACMS_STEP_USER: "name", "name:group" or
 * "uid:gid"; `make deps` and deploy/Dockerfile create acms-step). A step under another uid cannot
 * read the services' /proc/<pid>/environ (ptrace access rules) nor files only they may read.
 * Invariants: uid 0 is never a step user; coord_user_drop runs in the child between clone and exec
 * and uses raw system calls, because glibc's setuid family would signal every thread of the
 * coordinator whose memory the child shares. */
#include "sandbox.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* A non-negative decimal id, or -1. */
static long numeric_id(const char *s)
{
    char *end;
    if (!s || !*s)
        return -1;
    long v = strtol(s, &end, 10);
    return *end || v < 0 ? -1 : v;
}

static int lookup_group(const char *g, gid_t *gid, char *why, size_t why_size)
{
    long n = numeric_id(g);
    if (n >= 0) {
        *gid = (gid_t)n;
        return 0;
    }
    char buf[4096];
    struct group gr, *res = NULL;
    if (getgrnam_r(g, &gr, buf, sizeof buf, &res) != 0 || !res) {
        snprintf(why, why_size, "group %s not found", g);
        return -1;
    }
    *gid = gr.gr_gid;
    return 0;
}

int coord_user_lookup(const char *spec, uid_t *uid, gid_t *gid, char *why, size_t why_size)
{
    char name[128];
    if (snprintf(name, sizeof name, "%s", spec ? spec : "") >= (int)sizeof name || !name[0]) {
        snprintf(why, why_size, "no step user configured");
        return -1;
    }
    char *colon = strchr(name, ':');
    if (colon)
        *colon = '\0';
    long n = numeric_id(name);
    char buf[4096];
    struct passwd pw, *res = NULL;
    if (n >= 0) {
        *uid = (uid_t)n;
        *gid = (gid_t)n;
    } else if (getpwnam_r(name, &pw, buf, sizeof buf, &res) == 0 && res) {
        *uid = pw.pw_uid;
        *gid = pw.pw_gid;
    } else {
        snprintf(why, why_size, "user %s not found (make deps creates it; or set ACMS_STEP_USER)", name);
        return -1;
    }
    if (colon && lookup_group(colon + 1, gid, why, why_size) < 0)
        return -1;
    if (*uid == 0 || *gid == 0) {
        snprintf(why, why_size, "step user %s is root: not an unprivileged identity", spec);
        return -1;
    }
    return 0;
}

int coord_user_drop(uid_t uid, gid_t gid)
{
    if (syscall(SYS_setgroups, 0, NULL) < 0)
        return -1;
    if (syscall(SYS_setresgid, gid, gid, gid) < 0 || syscall(SYS_setresuid, uid, uid, uid) < 0)
        return -1;
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? -1 : 0;
}
