/* locate.c: the search order of locate.h. Candidates are tried in order; each is recorded in
 * out->tried whether it exists or not. */
#include "locate.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef ACMS_SOURCE_DIR
#define ACMS_SOURCE_DIR ""
#endif

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_config_dir(const char *p)
{
    char env[1100];
    struct stat st;
    int n = snprintf(env, sizeof env, "%s/environments", p);
    return n > 0 && (size_t)n < sizeof env && stat(env, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Records the candidate dir + suffix in out->tried; returns 1 and sets out->path when it exists. */
static int candidate(acms_locate_what what, const char *dir, const char *suffix, acms_located *out)
{
    char p[sizeof out->path];
    int n = snprintf(p, sizeof p, "%s%s", dir, suffix);
    if (n < 0 || (size_t)n >= sizeof p)
        return 0;
    size_t used = strlen(out->tried);
    snprintf(out->tried + used, sizeof out->tried - used, "%s%s", used ? ", " : "", p);
    if (!(what == ACMS_LOCATE_STACK_FILE ? is_file(p) : is_config_dir(p)))
        return 0;
    memcpy(out->path, p, (size_t)n + 1);
    return 1;
}

/* dirname(dirname(exe)) into buf: the install prefix of <prefix>/bin/<exe>. 0 when there is none. */
static int prefix_of(const char *exe, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s", exe);
    if (n < 0 || (size_t)n >= size)
        return 0;
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(buf, '/');
        if (!slash)
            return 0;
        *slash = '\0';
    }
    if (!buf[0])
        snprintf(buf, size, "/");
    return 1;
}

/* Step 2: the repository when exe lives inside source_dir, else exe's install prefix. */
static int try_installation(acms_locate_what what, const acms_locate_env *e, acms_located *out)
{
    if (!e->exe || !*e->exe)
        return 0;
    size_t sl = e->source_dir ? strlen(e->source_dir) : 0;
    if (sl && !strncmp(e->exe, e->source_dir, sl) && e->exe[sl] == '/')
        return candidate(what, e->source_dir, what == ACMS_LOCATE_STACK_FILE ? "/run/stack.env" : "/examples", out);
    char prefix[PATH_MAX];
    if (!prefix_of(e->exe, prefix, sizeof prefix))
        return 0;
    if (!strcmp(prefix, "/"))
        prefix[0] = '\0';
    return candidate(what, prefix, what == ACMS_LOCATE_STACK_FILE ? "/etc/acms/stack.env" : "/share/acms/examples",
                     out);
}

int acms_locate_with(acms_locate_what what, const acms_locate_env *e, acms_located *out)
{
    memset(out, 0, sizeof *out);
    if (e->var && *e->var) {
        out->from_var = 1;
        return candidate(what, e->var, "", out) ? ACMS_OK : ACMS_ERR_NOTFOUND;
    }
    if (try_installation(what, e, out))
        return ACMS_OK;
    char user[PATH_MAX];
    int n = -1;
    if (e->xdg_config && *e->xdg_config)
        n = snprintf(user, sizeof user, "%s/acms", e->xdg_config);
    else if (e->home && *e->home)
        n = snprintf(user, sizeof user, "%s/.config/acms", e->home);
    if (n > 0 && (size_t)n < sizeof user &&
        candidate(what, user, what == ACMS_LOCATE_STACK_FILE ? "/stack.env" : "", out))
        return ACMS_OK;
    return ACMS_ERR_NOTFOUND;
}

static int locate(acms_locate_what what, const char *var, acms_located *out)
{
    char exe[PATH_MAX] = "", src[PATH_MAX] = "";
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    /* the repository's path as the binary saw it at build time, resolved like exe (symlinks) */
    if (*ACMS_SOURCE_DIR && !realpath(ACMS_SOURCE_DIR, src))
        src[0] = '\0';
    acms_locate_env e = {.var = getenv(var),
                         .source_dir = src,
                         .exe = exe,
                         .xdg_config = getenv("XDG_CONFIG_HOME"),
                         .home = getenv("HOME")};
    return acms_locate_with(what, &e, out);
}

int acms_locate_stack_file(acms_located *out)
{
    return locate(ACMS_LOCATE_STACK_FILE, "ACMS_STACK_ENV", out);
}

int acms_locate_config_dir(acms_located *out)
{
    return locate(ACMS_LOCATE_CONFIG_DIR, "ACMS_CONFIG_DIR", out);
}
