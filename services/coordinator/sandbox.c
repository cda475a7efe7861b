/* sandbox.c: the host's sandbox (what this coordinator can give a step, probed once at start and
 * said in its log and on every attempt) and one attempt's sandbox (cgroup, work directory, what the
 * child does before exec). Invariants: an attempt that asked for network isolation where the
 * environment requires it never runs unisolated; whatever an attempt did not get is named in its
 * note; every mount an attempt made is undone by coord_attempt_sandbox_close, and its cgroup goes
 * back to the pool empty (sandbox_pool.c) or is removed, then or by coord_sandbox_sweep when
 * processes were still dying. */
#include "sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acms.h"
#include "log.h"

#define APPEND(buf, ...)                                                                                               \
    do {                                                                                                               \
        size_t l_ = strlen(buf);                                                                                       \
        if (l_ < sizeof(buf))                                                                                          \
            snprintf((buf) + l_, sizeof(buf) - l_, __VA_ARGS__);                                                       \
    } while (0)

/* --- host ------------------------------------------------------------------------------------- */

static int parse_mode(const char *v, coord_sandbox_mode *out)
{
    if (!v || !*v || !strcmp(v, "auto"))
        *out = COORD_SANDBOX_AUTO;
    else if (!strcmp(v, "off"))
        *out = COORD_SANDBOX_OFF;
    else if (!strcmp(v, "require"))
        *out = COORD_SANDBOX_REQUIRE;
    else
        return -1;
    return 0;
}

/* Removes attempt cgroups of coordinators that are gone (a<pid>-<seq> with no such process), killing
 * what still runs in them: a crashed coordinator's setsid children do not outlive it here. */
static void sweep_stale(coord_sandbox *sb)
{
    const char *base = sb->cg.base[0][0] ? sb->cg.base[0] : NULL;
    DIR *d = base ? opendir(base) : NULL;
    if (!d)
        return;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        long pid;
        if (e->d_name[0] != 'a' || (pid = strtol(e->d_name + 1, NULL, 10)) <= 0)
            continue;
        if (pid != (long)getpid() && (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
            continue;
        coord_cg cg;
        memset(&cg, 0, sizeof cg);
        cg.host = &sb->cg;
        cg.open = 1;
        cg.dir_fd = cg.peak_fd = -1;
        for (int c = 0; c < COORD_CG_NCTRL; c++) {
            cg.procs_fd[c] = -1;
            if (sb->cg.base[c][0])
                snprintf(cg.dir[c], sizeof cg.dir[c], "%.300s/%.100s", sb->cg.base[c], e->d_name);
        }
        coord_cg_signal(&cg, SIGKILL);
        if (coord_cg_remove(&cg) == ACMS_ERR_RETRY)
            coord_sandbox_defer(sb, &cg);
        n++;
    }
    closedir(d);
    if (n)
        acms_log_warn(NULL, NULL, "sandbox: removed %d attempt cgroup(s) left by stopped coordinators", n);
}

static void host_label(coord_sandbox *sb, const char *why_net, const char *why_user)
{
    sb->label[0] = '\0';
    if (sb->mode == COORD_SANDBOX_OFF) {
        snprintf(sb->label, sizeof sb->label,
                 "off (ACMS_SANDBOX=off): memory polled from /proc with RLIMIT_AS, as the coordinator's user");
        return;
    }
    if (sb->cg.version)
        APPEND(sb->label, "%s", sb->cg.why);
    else
        APPEND(sb->label, "no cgroups (%s): memory polled from /proc every 50 ms with RLIMIT_AS, no CPU quota",
               sb->root ? sb->cg.why : "not root");
    if (sb->netns)
        APPEND(sb->label, "; network namespaces");
    else
        APPEND(sb->label, "; no network isolation (%s)", sb->root ? why_net : "not root");
    if (sb->user)
        APPEND(sb->label, "; steps as user %s (uid %u)", sb->user_name, (unsigned)sb->uid);
    else
        APPEND(sb->label, "; steps as the coordinator's user (%s)", sb->root ? why_user : "not root");
    APPEND(sb->label, sb->volumes ? "; tmpfs volumes" : "; volume size not enforced");
}

int coord_sandbox_init(coord_sandbox *sb, char *errstr, size_t errstr_size)
{
    memset(sb, 0, sizeof *sb);
    if (parse_mode(getenv("ACMS_SANDBOX"), &sb->mode) < 0) {
        snprintf(errstr, errstr_size, "ACMS_SANDBOX: '%s' is not auto, off or require", getenv("ACMS_SANDBOX"));
        return ACMS_ERR;
    }
    const char *pids = getenv("ACMS_STEP_PIDS_MAX");
    char *end = NULL;
    long pm = pids && *pids ? strtol(pids, &end, 10) : 4096;
    if ((end && *end) || pm < 0 || pm > 4194304) {
        snprintf(errstr, errstr_size, "ACMS_STEP_PIDS_MAX: '%s' is not a number of processes", pids);
        return ACMS_ERR;
    }
    sb->pids_max = (uint32_t)pm;
    sb->root = geteuid() == 0;
    char why_net[128] = "", why_user[160] = "";
    if (sb->mode != COORD_SANDBOX_OFF && sb->root) {
        coord_cg_probe pr = {.want = getenv("ACMS_CGROUP"), .parent = getenv("ACMS_CGROUP_PARENT")};
        coord_cg_detect(&sb->cg, &pr);
        sb->netns = coord_net_probe(why_net, sizeof why_net);
        const char *u = getenv("ACMS_STEP_USER");
        if (!u)
            u = "acms-step";
        if (!*u)
            snprintf(why_user, sizeof why_user, "ACMS_STEP_USER is empty");
        else if (coord_user_lookup(u, &sb->uid, &sb->gid, why_user, sizeof why_user) == 0)
            sb->user = 1;
        snprintf(sb->user_name, sizeof sb->user_name, "%s", u);
        sb->volumes = 1;
        sb->pool = -1; /* found out on the first slot */
        sweep_stale(sb);
    }
    host_label(sb, why_net, why_user);
    if (sb->mode == COORD_SANDBOX_REQUIRE && !(sb->cg.version && sb->netns && sb->user && sb->volumes)) {
        snprintf(errstr, errstr_size, "ACMS_SANDBOX=require but the sandbox is incomplete: %s", sb->label);
        return ACMS_ERR;
    }
    return ACMS_OK;
}

void coord_sandbox_defer(coord_sandbox *sb, const coord_cg *cg)
{
    for (int c = 0; c < COORD_CG_NCTRL; c++) {
        if (!cg->dir[c][0])
            continue;
        if (sb->nbusy == sb->capbusy) {
            size_t cap = sb->capbusy ? sb->capbusy * 2 : 8;
            char **v = realloc(sb->busy, cap * sizeof *v);
            if (!v)
                return;
            sb->busy = v;
            sb->capbusy = cap;
        }
        char *copy = strdup(cg->dir[c]);
        if (copy)
            sb->busy[sb->nbusy++] = copy;
    }
}

void coord_sandbox_sweep(coord_sandbox *sb)
{
    for (size_t i = 0; i < sb->nbusy;) {
        if (rmdir(sb->busy[i]) == 0 || errno == ENOENT) {
            free(sb->busy[i]);
            sb->busy[i] = sb->busy[--sb->nbusy];
        } else {
            i++;
        }
    }
}

void coord_sandbox_release(coord_sandbox *sb)
{
    coord_pool_release(sb);
    coord_sandbox_sweep(sb);
    for (size_t i = 0; i < sb->nbusy; i++)
        free(sb->busy[i]);
    free(sb->busy);
    sb->busy = NULL;
    sb->nbusy = sb->capbusy = 0;
}

/* --- one attempt ------------------------------------------------------------------------------ */

static void attempt_label(coord_attempt_sandbox *as, const coord_attempt_spec *spec)
{
    const coord_sandbox *h = as->host;
    if (as->cg.open) {
        APPEND(as->label, "cgroup v%d", (int)h->cg.version);
        if (spec->memory_mb)
            APPEND(as->label, " memory %llu MiB", (unsigned long long)spec->memory_mb);
        if (spec->vcpu > 0)
            APPEND(as->label, " cpu %g", spec->vcpu);
        if (h->pids_max)
            APPEND(as->label, " pids %u", h->pids_max);
    } else {
        APPEND(as->label, "no cgroup: memory polled from /proc, RLIMIT_AS");
    }
    if (as->child.netns)
        APPEND(as->label, "; netns (loopback only)");
    APPEND(as->label, "; user %s", as->child.drop ? h->user_name : "of the coordinator");
    if (as->volume[0])
        APPEND(as->label, "; tmpfs %llu GiB", (unsigned long long)as->volume_gb);
}

/* The step's working directory: the attempt directory, or its "work" subdirectory as a volume. */
static int make_workdir(coord_attempt_sandbox *as, const coord_attempt_spec *spec, char *workdir, size_t size,
                        char *errstr, size_t errstr_size)
{
    int n = spec->volume_size_gb ? snprintf(workdir, size, "%s/work", spec->attempt_dir)
                                 : snprintf(workdir, size, "%s", spec->attempt_dir);
    if (n < 0 || (size_t)n >= size) {
        snprintf(errstr, errstr_size, "work directory path too long");
        return -1;
    }
    if (spec->volume_size_gb && mkdir(workdir, 0700) < 0 && errno != EEXIST) {
        snprintf(errstr, errstr_size, "mkdir %s: %s", workdir, strerror(errno));
        return -1;
    }
    if (!as->host || !as->host->user)
        return 0;
    if (chown(workdir, as->host->uid, as->host->gid) < 0) {
        snprintf(errstr, errstr_size, "chown %s to the step user: %s", workdir, strerror(errno));
        return -1;
    }
    return 0;
}

/* The attempt's cgroup: a slot of the pool. ACMS_OK or ACMS_ERR (errstr). */
static int open_cgroup(coord_attempt_sandbox *as, const coord_attempt_spec *spec, char *errstr, size_t errstr_size)
{
    coord_sandbox *h = as->host;
    coord_cg_limits lim = {.memory_mb = spec->memory_mb, .vcpu = spec->vcpu, .pids_max = h->pids_max};
    if (coord_pool_take(h, &lim, &as->cg, errstr, errstr_size) != ACMS_OK)
        return ACMS_ERR;
    for (int c = 0; c < COORD_CG_NCTRL; c++)
        as->child.cg_fds[c] = as->cg.procs_fd[c];
    as->into_fd = h->no_clone_into ? -1 : as->cg.dir_fd;
    return ACMS_OK;
}

int coord_attempt_sandbox_open(coord_attempt_sandbox *as, coord_sandbox *host, const coord_attempt_spec *spec,
                               char *workdir, size_t workdir_size, char *errstr, size_t errstr_size, int *permanent)
{
    memset(as, 0, sizeof *as);
    as->cg.dir_fd = as->cg.peak_fd = as->into_fd = -1;
    for (int c = 0; c < COORD_CG_NCTRL; c++)
        as->child.cg_fds[c] = as->cg.procs_fd[c] = -1;
    *permanent = 0;
    as->host = host && host->mode != COORD_SANDBOX_OFF ? host : NULL;
    if (make_workdir(as, spec, workdir, workdir_size, errstr, errstr_size) < 0)
        return ACMS_ERR;
    coord_sandbox *h = as->host;
    if (spec->network_isolated && !(h && h->netns)) {
        if (spec->require_isolation) {
            *permanent = 1;
            snprintf(errstr, errstr_size,
                     "the environment requires network isolation and this coordinator cannot "
                     "create network namespaces (%s)",
                     h ? h->label : "no sandbox");
            return ACMS_ERR;
        }
        APPEND(as->note, "not network-isolated (no network namespaces here)");
    }
    if (!h) {
        snprintf(as->label, sizeof as->label, "none: memory polled from /proc, RLIMIT_AS");
        return ACMS_OK;
    }
    if (h->cg.version && open_cgroup(as, spec, errstr, errstr_size) != ACMS_OK)
        return ACMS_ERR;
    as->child.netns = spec->network_isolated && h->netns;
    as->child.drop = h->user;
    as->child.uid = h->uid;
    as->child.gid = h->gid;
    if (spec->volume_size_gb && h->volumes) {
        if (coord_volume_mount(workdir, spec->volume_size_gb, h->user ? h->uid : 0, h->user ? h->gid : 0) == 0) {
            snprintf(as->volume, sizeof as->volume, "%s", workdir);
            as->volume_gb = spec->volume_size_gb;
        } else {
            APPEND(as->note, "%svolume size not enforced (mount tmpfs: %s)", as->note[0] ? "; " : "", strerror(errno));
        }
    } else if (spec->volume_size_gb) {
        APPEND(as->note, "%svolume size not enforced (not root)", as->note[0] ? "; " : "");
    }
    attempt_label(as, spec);
    return ACMS_OK;
}

void coord_attempt_sandbox_started(coord_attempt_sandbox *as)
{
    if (!as->cg.pooled) {
        coord_cg_close_fds(&as->cg);
        as->into_fd = -1;
    }
    for (int c = 0; c < COORD_CG_NCTRL; c++)
        as->child.cg_fds[c] = -1;
}

void coord_attempt_sandbox_close(coord_attempt_sandbox *as)
{
    coord_attempt_sandbox_started(as);
    if (as->cg.open) {
        int n = as->cg.emptied ? 0 : 1; /* emptied: the step's last kill found nothing left */
        for (int i = 0; i < 3 && n > 0; i++)
            n = coord_cg_signal(&as->cg, SIGKILL);
        if (as->host)
            coord_pool_put(as->host, &as->cg, n);
        else if (coord_cg_remove(&as->cg) != ACMS_OK)
            coord_cg_close_fds(&as->cg);
        as->cg.open = 0;
        as->into_fd = -1;
    }
    if (as->volume[0]) {
        if (coord_volume_unmount(as->volume) < 0)
            acms_log_warn(NULL, NULL, "sandbox: unmount %s: %s", as->volume, strerror(errno));
        as->volume[0] = '\0';
    }
}

/* --- child side (between clone and exec: raw system calls, stack only) ------------------------ */

int coord_child_join_cgroup(const coord_child_sandbox *cs)
{
    for (int c = 0; c < COORD_CG_NCTRL; c++)
        if (cs->cg_fds[c] >= 0 && write(cs->cg_fds[c], "0", 1) != 1)
            return COORD_STAGE_CGROUP;
    return 0;
}

int coord_child_confine(const coord_child_sandbox *cs)
{
    if (cs->netns && coord_net_isolate() < 0)
        return COORD_STAGE_NETNS;
    if (cs->drop && coord_user_drop(cs->uid, cs->gid) < 0)
        return COORD_STAGE_USER;
    return 0;
}
