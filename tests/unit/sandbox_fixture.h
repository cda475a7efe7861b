/* sandbox_fixture.h: a coord_sandbox on the real kernel for a unit test, with a scratch root
 * /tmp/acms-test-<name>-<pid> (mode 0711, so the step user can pass through it), removed with what
 * it holds at teardown. ready says whether root, cgroups and the step user are all here; a test
 * that needs them calls need() and is skipped, saying why, where they are absent. */
#ifndef ACMS_TEST_SANDBOX_FIXTURE_H
#define ACMS_TEST_SANDBOX_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coordinator/exec.h"

typedef struct fixture {
    char root[256];
    coord_sandbox sb;
    int ready; /* root, cgroups, user */
    char why[512];
} fixture;

static inline int sandbox_fixture_setup(void **state, const char *name)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->root, sizeof f->root, "/tmp/acms-test-%s-%ld", name, (long)getpid());
    mkdir(f->root, 0711);
    chmod(f->root, 0711);
    char err[256] = "";
    if (coord_sandbox_init(&f->sb, err, sizeof err) != ACMS_OK)
        fail_msg("sandbox init: %s", err);
    f->ready = f->sb.root && f->sb.cg.version && f->sb.user;
    snprintf(f->why, sizeof f->why, "%s", f->sb.label);
    *state = f;
    return 0;
}

static inline int teardown(void **state)
{
    fixture *f = *state;
    coord_sandbox_release(&f->sb);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->root);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup of %s failed\n", f->root);
    free(f);
    return 0;
}

static inline int need(fixture *f)
{
    if (f->ready)
        return 1;
    printf("SKIP: the sandbox needs root, cgroups and the step user here: %s\n", f->why);
    return 0;
}

/* slurp: a file's text into buf (empty when it cannot be read), NUL-terminated. */
static inline void slurp(const char *path, char *buf, size_t size)
{
    FILE *fp = fopen(path, "r");
    size_t n = fp ? fread(buf, 1, size - 1, fp) : 0;
    buf[n] = '\0';
    if (fp)
        fclose(fp);
}

#endif
