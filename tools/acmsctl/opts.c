/* opts.c: acmsctl's command line. Options may come anywhere, as `--name value` or `--name=value`;
 * `--` ends them (a FILE named "-x" then works). --format json is honoured for every error, even one
 * about an option before it: the whole line is scanned for it first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acmsctl.h"
#include "locate.h"

static void usage(FILE *out)
{
    fprintf(out,
            "acmsctl %s: submit, validate and follow pipeline runs of the ACMS execution layer\n\n"
            "Usage:\n"
            "  acmsctl validate FILE --env NAME [--format json] [--config-dir DIR]\n"
            "      adapt and validate offline; exit 0 valid, 1 invalid, 2 unusable input\n"
            "  acmsctl prepare FILE --env NAME [--format json] [--config-dir DIR] [--learned]\n"
            "      offline dry run: the adapted runtime configuration and its adaptation log;\n"
            "      --learned also applies what the learning loop learned (read from Redis, now)\n"
            "  acmsctl submit FILE --env NAME [--wait] [--timeout S] [--format json]\n"
            "      publish the config, print the run id; --wait follows the run to its end\n"
            "  acmsctl submit --ref ID[@VERSION] --env NAME [--wait] ...\n"
            "      run a stored configuration (ID alone = its latest version) instead of a file\n"
            "  acmsctl status RUN [--format json]       live state of a run\n"
            "  acmsctl watch RUN [--timeout S]          follow a run with progress\n"
            "  acmsctl cancel RUN [--wait]              stop a run\n"
            "  acmsctl logs RUN STEP [--attempt N] [-f] what a step attempt wrote (stdout, stderr); -f follows\n"
            "                                           the step through its attempts until it ends\n"
            "  acmsctl list [--env E] [--pipeline P] [--status S] [--since T] [--limit N] [--format json]\n"
            "      recent runs, newest first; T is a duration (90s, 30m, 2h, 7d) or a UTC time\n"
            "      (2026-11-26 or 2026-11-26T14:00:00Z); --limit 1..500 (default 20)\n"
            "  acmsctl retry RUN [--wait] [--timeout S] a new run of the same configuration and environment\n"
            "                                           that re-runs the failed and skipped steps only\n"
            "  acmsctl delete RUN                       remove a finished run's state from Redis now\n"
            "      RUN is a run id or a unique prefix of one (at least 4 characters)\n"
            "  acmsctl config put FILE                  store a pipeline as a new immutable version; prints\n"
            "                                           ID@VERSION (the same content gives the same version)\n"
            "  acmsctl config get ID[@VERSION] [--env NAME]  print a stored version exactly as it was put\n"
            "  acmsctl config list [ID]                 stored ids with their latest version, or one id's versions\n"
            "  acmsctl config diff ID@A ID@B            unified line diff of two stored versions\n"
            "  acmsctl config rotate-key                re-wrap every stored data key (Redis or HTTP store, and\n"
            "                                           the runs' runtime configurations) under the current\n"
            "                                           master key (the old one in ACMS_MASTER_KEY_FILE_PREVIOUS)\n"
            "  acmsctl topics apply [SPEC] [--partitions N] [--replication N] [--dry-run]\n"
            "      create or update the bus topics from the topic spec (default: ACMS_TOPICS_SPEC, else\n"
            "      /usr/share/acms/topics.yaml, else deploy/topics.yaml); idempotent (docs/bus.md)\n\n"
            "Options take `--name value` or `--name=value`; -q/--quiet drops progress and hints.\n"
            "Exit codes: 0 success, 1 run failed, rejected or cancelled / config invalid / unknown or\n"
            "ambiguous run, 2 usage or unusable input, 3 bus or Redis unreachable, 4 --timeout passed.\n"
            "With --format json every outcome is one JSON document on stdout, errors as\n"
            "{\"error\": {\"code\": ..., \"message\": ..., \"exit_code\": N}}.\n"
            "The bus and Redis come from ACMS_KAFKA_BROKERS and ACMS_REDIS_URL, else from the stack file:\n"
            "ACMS_STACK_ENV, else run/stack.env of the repository acmsctl was built in (written by `make up`)\n"
            "or <prefix>/etc/acms/stack.env when installed, else ~/.config/acms/stack.env. Profiles and\n"
            "policies come from --config-dir, else ACMS_CONFIG_DIR, else the repository's examples/ (or\n"
            "<prefix>/share/acms/examples), else ~/.config/acms. Stored configurations live in\n"
            "ACMS_CONFIG_STORE: redis (default, keys acms:config:*) or a storage service's http:// URL.\n"
            "Reference: docs/acmsctl.md.\n",
            ACMS_VERSION);
}

static const char *const value_opts[] = {"--env",      "--format",  "--config-dir", "--timeout",
                                         "--ref",      "--attempt", "--partitions", "--replication",
                                         "--pipeline", "--status",  "--since",      "--limit"};
static const char *const flag_opts[] = {"--wait",    "--quiet", "-q",       "--help",    "-h",
                                        "--version", "-f",      "--follow", "--dry-run", "--learned"};

static int in(const char *const *v, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(v[i]) == len && !strncmp(v[i], name, len))
            return 1;
    return 0;
}

/* --format json anywhere on the line (before `--`), so even a usage error is reported as JSON. */
static int wants_json(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "--format=json") ||
            (!strcmp(argv[i], "--format") && i + 1 < argc && !strcmp(argv[i + 1], "json")))
            return 1;
    }
    return 0;
}

/* One option: name[=inline] with its value taken from argv[*i + 1] when needed. -1 to go on, else
 * the exit code. */
static int option(ctl_opts *o, int argc, char **argv, int *i)
{
    const char *a = argv[*i], *eq = strchr(a, '=');
    size_t len = eq && a[1] == '-' ? (size_t)(eq - a) : strlen(a);
    const char *val = eq && a[1] == '-' ? eq + 1 : NULL;
    if (in(flag_opts, sizeof flag_opts / sizeof *flag_opts, a, len)) {
        if (val)
            return ctl_fail(o, CTL_USAGE, "usage", NULL, "%.*s takes no value", (int)len, a);
    } else if (in(value_opts, sizeof value_opts / sizeof *value_opts, a, len)) {
        if (!val) {
            if (*i + 1 >= argc)
                return ctl_fail(o, CTL_USAGE, "usage", NULL, "%s needs a value", a);
            val = argv[++*i];
        }
    } else {
        return ctl_fail(o, CTL_USAGE, "usage", NULL, "unknown option '%.*s' (see acmsctl --help)", (int)len, a);
    }
#define IS(n) (len == strlen(n) && !strncmp(a, n, len))
    if (IS("--help") || IS("-h")) {
        usage(stdout);
        return CTL_OK;
    } else if (IS("--version")) {
        printf("acmsctl %s (schema acms.v1, version %d)\n", ACMS_VERSION, ACMS_SCHEMA_VERSION);
        return CTL_OK;
    } else if (IS("--env")) {
        o->env = val;
    } else if (IS("--format")) {
        if (strcmp(val, "json") && strcmp(val, "text"))
            return ctl_fail(o, CTL_USAGE, "usage", NULL, "--format takes json or text, not '%s'", val);
        o->json = !strcmp(val, "json");
    } else if (IS("--config-dir")) {
        o->config_dir = val;
    } else if (IS("--timeout")) {
        char *end;
        long t = strtol(val, &end, 10);
        if (*end || t <= 0 || t > 1000000)
            return ctl_fail(o, CTL_USAGE, "usage", NULL, "--timeout takes a positive number of seconds, not '%s'", val);
        o->timeout_s = (int)t;
    } else if (IS("--ref")) {
        o->ref = val;
    } else if (IS("--attempt")) {
        char *end;
        long n = strtol(val, &end, 10);
        if (*end || n <= 0 || n > 1000000)
            return ctl_fail(o, CTL_USAGE, "usage", NULL, "--attempt takes a positive number, not '%s'", val);
        o->attempt = (int)n;
    } else if (IS("--partitions") || IS("--replication")) {
        char *end;
        long n = strtol(val, &end, 10);
        if (*end || n <= 0 || n > 100000)
            return ctl_fail(o, CTL_USAGE, "usage", NULL, "%.*s takes a positive number, not '%s'", (int)len, a, val);
        *(IS("--partitions") ? &o->partitions : &o->replication) = (int)n;
    } else if (IS("--pipeline")) {
        o->pipeline = val;
    } else if (IS("--status")) {
        o->status = val;
    } else if (IS("--since")) {
        o->since = val;
    } else if (IS("--limit")) {
        char *end;
        long n = strtol(val, &end, 10);
        if (*end || n <= 0 || n > 500)
            return ctl_fail(o, CTL_USAGE, "usage", NULL, "--limit takes a number from 1 to 500, not '%s'", val);
        o->limit = (int)n;
    } else if (IS("--dry-run")) {
        o->dry_run = 1;
    } else if (IS("--learned")) {
        o->learned = 1;
    } else if (IS("-f") || IS("--follow")) {
        o->follow = 1;
    } else if (IS("--wait")) {
        o->wait = 1;
    } else {
        o->quiet = 1; /* --quiet, -q */
    }
#undef IS
    return -1;
}

static int positional(ctl_opts *o, const char *a)
{
    if (!o->cmd) {
        o->cmd = a;
        return -1;
    }
    if (o->nargs < (!strcmp(o->cmd, "config") || !strcmp(o->cmd, "topics") ? 3 : !strcmp(o->cmd, "logs") ? 2 : 1)) {
        o->args[o->nargs++] = a;
        o->file = o->args[0];
        return -1;
    }
    return ctl_fail(o, CTL_USAGE, "usage", NULL, "unexpected argument '%s'", a);
}

/* The configuration directory when --config-dir was not given. */
static int config_dir(ctl_opts *o)
{
    acms_located found;
    if (o->config_dir)
        return -1;
    if (acms_locate_config_dir(&found) == ACMS_OK) {
        snprintf(o->located_dir, sizeof o->located_dir, "%s", found.path);
        o->config_dir = o->located_dir;
        return -1;
    }
    if (found.from_var) { /* the profile loader says what is wrong with it */
        o->config_dir = getenv("ACMS_CONFIG_DIR");
        return -1;
    }
    return ctl_fail(o, CTL_USAGE, "config_dir", NULL,
                    "no configuration directory (catalog.yaml, environments/, policies/) found: looked for %s; "
                    "give --config-dir DIR or set ACMS_CONFIG_DIR",
                    found.tried[0] ? found.tried : "nothing");
}

int ctl_parse_args(int argc, char **argv, ctl_opts *o)
{
    memset(o, 0, sizeof *o);
    o->timeout_s = 900;
    o->json = wants_json(argc, argv);
    if (argc < 2) {
        if (o->json)
            return ctl_fail(o, CTL_USAGE, "usage", NULL, "missing command (see acmsctl --help)");
        usage(stderr);
        return CTL_USAGE;
    }
    int dashdash = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!dashdash && !strcmp(a, "--")) {
            dashdash = 1;
            continue;
        }
        int rc = !dashdash && a[0] == '-' && a[1] ? option(o, argc, argv, &i) : positional(o, a);
        if (rc >= 0)
            return rc;
    }
    if (!o->cmd)
        return ctl_fail(o, CTL_USAGE, "usage", NULL, "missing command (see acmsctl --help)");
    int needs_dir = !strcmp(o->cmd, "validate") || !strcmp(o->cmd, "prepare");
    return needs_dir ? config_dir(o) : -1;
}
