/* locate.h: where a binary finds the files of its installation that the environment does not name:
 * the stack file (the bus and Redis addresses written by `make up`) and the configuration directory
 * (catalog.yaml, environments/, policies/). One search order for every binary, and none of it depends
 * on the current directory:
 *   1. the variable (ACMS_STACK_ENV, ACMS_CONFIG_DIR): when set, it alone is used;
 *   2. the repository the binary was built in, when the binary lives inside it (<repo>/run/stack.env,
 *      <repo>/examples), else its install prefix, the parent of its bin/ (<prefix>/etc/acms/stack.env,
 *      <prefix>/share/acms/examples);
 *   3. the user's configuration, $XDG_CONFIG_HOME/acms (default ~/.config/acms): stack.env, and the
 *      directory itself as configuration directory when it holds environments/.
 * A configuration directory counts only when it has an environments/ folder; a stack file when it is
 * a regular file. Every candidate looked at is listed in `tried`, so an error can name them. */
#ifndef ACMS_LOCATE_H
#define ACMS_LOCATE_H

#include "acms.h"

typedef struct acms_located {
    char path[1024];  /* the first candidate that exists; "" when none does */
    char tried[2048]; /* every candidate, in order, ", "-separated */
    int from_var;     /* 1 when the variable named it */
} acms_located;

/* What the search depends on, so tests can give other values. NULL or "" fields are absent. */
typedef struct acms_locate_env {
    const char *var;        /* value of ACMS_STACK_ENV or ACMS_CONFIG_DIR */
    const char *source_dir; /* the repository the binary was built in (ACMS_SOURCE_DIR) */
    const char *exe;        /* the binary's own resolved path (/proc/self/exe) */
    const char *xdg_config; /* $XDG_CONFIG_HOME */
    const char *home;       /* $HOME */
} acms_locate_env;

typedef enum { ACMS_LOCATE_STACK_FILE, ACMS_LOCATE_CONFIG_DIR } acms_locate_what;

/* The search for what with the given inputs. Returns ACMS_OK (out->path set) or ACMS_ERR_NOTFOUND
 * (out->path empty); out->tried lists the candidates either way. */
int acms_locate_with(acms_locate_what what, const acms_locate_env *env, acms_located *out);

/* The search with this process's environment and executable. Same returns. */
int acms_locate_stack_file(acms_located *out);
int acms_locate_config_dir(acms_located *out);

#endif
