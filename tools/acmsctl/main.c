/* main.c: acmsctl's dispatch. The command line is parsed in opts.c; each command lives in its own
 * file; every error goes through ctl_fail (error.c), so --format json always prints one document. */
#include <string.h>

#include "acmsctl.h"

int main(int argc, char **argv)
{
    ctl_opts o;
    int rc = ctl_parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    static const struct {
        const char *name;
        int (*fn)(const ctl_opts *);
        int needs_arg;
        int needs_env;
    } cmds[] = {
        {"submit", ctl_submit, 1, 1}, {"status", ctl_status, 1, 0},   {"watch", ctl_watch, 1, 0},
        {"cancel", ctl_cancel, 1, 0}, {"prepare", ctl_prepare, 1, 1}, {"validate", ctl_validate, 1, 1},
        {"config", ctl_config, 0, 0}, {"logs", ctl_logs, 1, 0},       {"topics", ctl_topics, 0, 0},
        {"list", ctl_list, 0, 0},     {"retry", ctl_retry, 1, 0},     {"delete", ctl_delete, 1, 0},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        if (strcmp(o.cmd, cmds[i].name))
            continue;
        if (cmds[i].needs_arg && !o.file && !(o.ref && !strcmp(o.cmd, "submit")))
            return ctl_fail(&o, CTL_USAGE, "usage", NULL, "%s: missing %s (see acmsctl --help)", o.cmd,
                            cmds[i].needs_env ? "FILE" : "RUN_ID");
        if (cmds[i].needs_env && !o.env)
            return ctl_fail(&o, CTL_USAGE, "usage", NULL, "%s: --env NAME is required (e.g. --env dev)", o.cmd);
        return cmds[i].fn(&o);
    }
    return ctl_fail(&o, CTL_USAGE, "usage", NULL, "unknown command '%s' (see acmsctl --help)", o.cmd);
}
