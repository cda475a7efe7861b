/* main.c: acmsctl argument parsing and dispatch. Each command lives in its own file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acmsctl.h"

static void usage(FILE *out)
{
    fprintf(out,
            "acmsctl %s: submit, validate and follow pipeline runs of the ACMS execution layer\n\n"
            "Usage:\n"
            "  acmsctl validate FILE --env NAME [--format json] [--config-dir DIR]\n"
            "      adapt and validate offline; exit 0 valid, 1 invalid, 2 unusable input\n"
            "  acmsctl prepare FILE --env NAME [--format json] [--config-dir DIR]\n"
            "      offline dry run: the adapted runtime configuration and its adaptation log\n"
            "  acmsctl submit FILE --env NAME [--wait] [--timeout S] [--format json]\n"
            "      publish the config, print the run id; --wait follows the run to its end\n"
            "  acmsctl submit --ref ID[@VERSION] --env NAME [--wait] ...\n"
            "      run a stored configuration (ID alone = its latest version) instead of a file\n"
            "  acmsctl status RUN_ID [--format json]    live state of a run\n"
            "  acmsctl watch RUN_ID [--timeout S]       follow a run with progress\n"
            "  acmsctl cancel RUN_ID [--wait]           stop a run\n"
            "  acmsctl logs RUN_ID STEP [--attempt N] [-f]  what a step attempt wrote (stdout, stderr)\n"
            "  acmsctl config put FILE                  store a pipeline as a new immutable version; prints\n"
            "                                           ID@VERSION (the same content gives the same version)\n"
            "  acmsctl config get ID[@VERSION] [--env NAME]  print a stored version exactly as it was put\n"
            "  acmsctl config list [ID]                 stored ids with their latest version, or one id's versions\n"
            "  acmsctl config diff ID@A ID@B            unified line diff of two stored versions\n"
            "  acmsctl config rotate-key                re-wrap every stored data key under ACMS_MASTER_KEY_FILE\n"
            "                                           (the old key in ACMS_MASTER_KEY_FILE_PREVIOUS)\n\n"
            "Exit codes: 0 success, 1 run failed / config invalid / unknown run, 2 usage or unusable\n"
            "input, 3 bus or Redis unreachable.\n"
            "The bus and Redis come from ACMS_KAFKA_BROKERS and ACMS_REDIS_URL, else from run/stack.env\n"
            "(written by `make up`; ACMS_STACK_ENV names another file). Profiles and policies come from\n"
            "--config-dir, else ACMS_CONFIG_DIR, else examples/. Stored configurations live in\n"
            "ACMS_CONFIG_STORE: redis (default, keys acms:config:*) or a storage service's http:// URL.\n",
            ACMS_VERSION);
}

int main(int argc, char **argv)
{
    ctl_opts o = {.timeout_s = 900};
    if (argc < 2) {
        usage(stderr);
        return CTL_USAGE;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        int takes = !strcmp(a, "--env") || !strcmp(a, "--format") || !strcmp(a, "--config-dir") ||
                    !strcmp(a, "--timeout") || !strcmp(a, "--ref") || !strcmp(a, "--attempt");
        if (takes) {
            if (i + 1 >= argc) {
                fprintf(stderr, "acmsctl: %s needs a value\n", a);
                return CTL_USAGE;
            }
            val = argv[++i];
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return CTL_OK;
        } else if (!strcmp(a, "--version")) {
            printf("acmsctl %s (schema acms.v1, version %d)\n", ACMS_VERSION, ACMS_SCHEMA_VERSION);
            return CTL_OK;
        } else if (!strcmp(a, "--env")) {
            o.env = val;
        } else if (!strcmp(a, "--format")) {
            if (strcmp(val, "json") && strcmp(val, "text")) {
                fprintf(stderr, "acmsctl: --format takes json or text, not '%s'\n", val);
                return CTL_USAGE;
            }
            o.json = !strcmp(val, "json");
        } else if (!strcmp(a, "--config-dir")) {
            o.config_dir = val;
        } else if (!strcmp(a, "--timeout")) {
            o.timeout_s = atoi(val);
            if (o.timeout_s <= 0) {
                fprintf(stderr, "acmsctl: --timeout takes a positive number of seconds\n");
                return CTL_USAGE;
            }
        } else if (!strcmp(a, "--ref")) {
            o.ref = val;
        } else if (!strcmp(a, "--attempt")) {
            o.attempt = atoi(val);
            if (o.attempt <= 0) {
                fprintf(stderr, "acmsctl: --attempt takes a positive number\n");
                return CTL_USAGE;
            }
        } else if (!strcmp(a, "-f") || !strcmp(a, "--follow")) {
            o.follow = 1;
        } else if (!strcmp(a, "--wait")) {
            o.wait = 1;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            o.quiet = 1;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "acmsctl: unknown option '%s' (see acmsctl --help)\n", a);
            return CTL_USAGE;
        } else if (!o.cmd) {
            o.cmd = a;
        } else if (o.nargs < (!strcmp(o.cmd, "config") ? 3 : !strcmp(o.cmd, "logs") ? 2 : 1)) {
            o.args[o.nargs++] = a;
            o.file = o.args[0];
        } else {
            fprintf(stderr, "acmsctl: unexpected argument '%s'\n", a);
            return CTL_USAGE;
        }
    }
    if (!o.config_dir)
        o.config_dir = getenv("ACMS_CONFIG_DIR") && *getenv("ACMS_CONFIG_DIR") ? getenv("ACMS_CONFIG_DIR")
                                                                               : "examples";
    static const struct {
        const char *name;
        int (*fn)(const ctl_opts *);
        int needs_arg;
        int needs_env;
    } cmds[] = {
        {"submit", ctl_submit, 1, 1},   {"status", ctl_status, 1, 0},     {"watch", ctl_watch, 1, 0},
        {"cancel", ctl_cancel, 1, 0},   {"prepare", ctl_prepare, 1, 1}, {"validate", ctl_validate, 1, 1},
        {"config", ctl_config, 0, 0},   {"logs", ctl_logs, 1, 0},
    };
    if (!o.cmd) {
        usage(stderr);
        return CTL_USAGE;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        if (strcmp(o.cmd, cmds[i].name))
            continue;
        if (cmds[i].needs_arg && !o.file && !(o.ref && !strcmp(o.cmd, "submit"))) {
            fprintf(stderr, "acmsctl %s: missing %s (see acmsctl --help)\n", o.cmd,
                    cmds[i].needs_env ? "FILE" : "RUN_ID");
            return CTL_USAGE;
        }
        if (cmds[i].needs_env && !o.env) {
            fprintf(stderr, "acmsctl %s: --env NAME is required (e.g. --env dev)\n", o.cmd);
            return CTL_USAGE;
        }
        return cmds[i].fn(&o);
    }
    fprintf(stderr, "acmsctl: unknown command '%s' (see acmsctl --help)\n", o.cmd);
    return CTL_USAGE;
}
