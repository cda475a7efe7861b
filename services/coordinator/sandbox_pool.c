/* sandbox_pool.c: the coordinator's pool of attempt cgroups. Making and removing a cgroup per
 * attempt (a mkdir and an rmdir in each v1 hierarchy, the files opened, every limit written) was
 * most of what the cgroup cost a short step; a slot is made once and serves one attempt after
 * another. Invariants: a slot is held by one attempt at a time and belongs to the coordinator that
 * made it (a<pid>-<seq>, mkdir: never a directory found there); it goes back to the pool only when
 * no process was found in it after its attempt's kills, with the page cache its step left charged
 * to it reclaimed; a slot with a process left is retired (removed now, or by the sweep once its
 * processes are gone), never reused; each attempt in a slot gets its own limits, a reset peak and
 * counters that start at zero (coord_cg_begin); the free slots go at shutdown, and those of a
 * coordinator that died are removed by the next one's start (sandbox.c, sweep_stale). Where the
 * peak cannot be reset (cgroup v2 before 6.12) there is no pool: one cgroup per attempt. */
#include "sandbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acms.h"

/* Removes a cgroup now, or hands it to the sweep when its processes are still dying. */
static void retire(coord_sandbox *sb, coord_cg *cg)
{
    if (coord_cg_remove(cg) == ACMS_ERR_RETRY)
        coord_sandbox_defer(sb, cg);
    cg->open = 0;
}

/* Readies slot cg for an attempt with limits lim. ACMS_OK or ACMS_ERR (errstr). */
static int ready(coord_cg *cg, const coord_cg_limits *lim, char *errstr, size_t errstr_size)
{
    if (coord_cg_configure(cg, lim, errstr, errstr_size) != ACMS_OK)
        return ACMS_ERR;
    return coord_cg_begin(cg, errstr, errstr_size);
}

/* A new cgroup, a slot when the pool works here (found out on the first one). */
static int fresh(coord_sandbox *sb, const coord_cg_limits *lim, coord_cg *cg, char *errstr, size_t errstr_size)
{
    char name[64];
    snprintf(name, sizeof name, "a%ld-%llu", (long)getpid(), (unsigned long long)++sb->seq);
    if (sb->pool == 0)
        return coord_cg_create(&sb->cg, name, lim, cg, errstr, errstr_size);
    if (coord_cg_make(&sb->cg, name, cg, errstr, errstr_size) != ACMS_OK)
        return ACMS_ERR;
    if (coord_cg_configure(cg, lim, errstr, errstr_size) != ACMS_OK) {
        retire(sb, cg);
        return ACMS_ERR;
    }
    if (coord_cg_begin(cg, errstr, errstr_size) == ACMS_OK) {
        sb->pool = 1;
        cg->pooled = 1;
        return ACMS_OK;
    }
    if (sb->cg.version == COORD_CG_V2 && sb->pool < 0) {
        sb->pool = 0; /* memory.peak cannot be reset: a cgroup per attempt, its peak its own */
        return ACMS_OK;
    }
    retire(sb, cg);
    return ACMS_ERR;
}

int coord_pool_take(coord_sandbox *sb, const coord_cg_limits *lim, coord_cg *cg, char *errstr, size_t errstr_size)
{
    while (sb->nfree > 0) {
        *cg = sb->free[--sb->nfree];
        if (ready(cg, lim, errstr, errstr_size) == ACMS_OK)
            return ACMS_OK;
        retire(sb, cg); /* a slot whose files refuse the next attempt's settings is not trusted */
    }
    return fresh(sb, lim, cg, errstr, errstr_size);
}

void coord_pool_put(coord_sandbox *sb, coord_cg *cg, int nprocs)
{
    if (!cg->open)
        return;
    if (!cg->pooled || nprocs != 0) {
        retire(sb, cg);
        return;
    }
    if (sb->nfree == sb->capfree) {
        size_t cap = sb->capfree ? sb->capfree * 2 : 4;
        coord_cg *v = cap <= COORD_POOL_MAX ? realloc(sb->free, cap * sizeof *v) : NULL;
        if (!v) {
            retire(sb, cg);
            return;
        }
        sb->free = v;
        sb->capfree = cap;
    }
    coord_cg_recycle(cg);
    sb->free[sb->nfree++] = *cg;
    cg->open = 0;
}

void coord_pool_release(coord_sandbox *sb)
{
    while (sb->nfree > 0)
        retire(sb, &sb->free[--sb->nfree]);
    free(sb->free);
    sb->free = NULL;
    sb->capfree = 0;
}
