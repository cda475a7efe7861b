/* acmsctl.h: the command-line client's shared pieces. Exit codes follow the contract in README:
 * 0 success, 1 failed/invalid/unknown run, 2 usage or unusable input, 3 bus or Redis unreachable. */
#ifndef ACMSCTL_H
#define ACMSCTL_H

#include <cjson/cJSON.h>

#include "cfg.h"
#include "pb.h"
#include "redis.h"

enum { CTL_OK = 0, CTL_FAIL = 1, CTL_USAGE = 2, CTL_UNREACHABLE = 3 };

typedef struct ctl_opts {
    const char *cmd;
    const char *file;        /* FILE or RUN_ID */
    const char *env;
    const char *config_dir;
    int json;                /* --format json */
    int wait;
    int quiet;
    int timeout_s;           /* --timeout for --wait/watch (default 900) */
    const char *ref;         /* --ref ID[@VERSION] */
    const char *args[3];     /* positional arguments after the command (args[0] == file) */
    int nargs;
    int attempt;             /* logs --attempt N (0 = the last) */
    int follow;              /* logs -f */
} ctl_opts;

int ctl_submit(const ctl_opts *o);
int ctl_status(const ctl_opts *o);
int ctl_watch(const ctl_opts *o);
int ctl_cancel(const ctl_opts *o);
int ctl_prepare(const ctl_opts *o);
int ctl_validate(const ctl_opts *o);
/* acmsctl logs RUN_ID STEP [--attempt N] [-f] (logs.c). */
int ctl_logs(const ctl_opts *o);
/* acmsctl config put FILE | get ID[@VERSION] | list [ID] | diff ID@A ID@B (config.c). */
int ctl_config(const ctl_opts *o);

/* Connects to Redis with the stack/environment configuration; prints the reason and returns
 * NULL when unreachable. */
acms_redis *ctl_redis(const acms_cfg *cfg);
/* Reads the run (hash, steps, adaptations) into a JSON document; NULL when the run is unknown.
 * *unreachable is set when Redis could not be read. */
cJSON *ctl_run_view(acms_redis *r, const char *run_id, int *unreachable);
/* Follows a run until it ends or timeout_s passes, printing progress on stderr unless quiet.
 * Returns the final view (caller frees) or NULL (unreachable or timeout; *why says which). */
cJSON *ctl_follow(acms_redis *r, const char *run_id, int timeout_s, int quiet, const char **why);
/* Prints a run view (human) on stdout. */
void ctl_print_run(const cJSON *view);
/* Exit code for a final run view. */
int ctl_run_exit(const cJSON *view);
/* Per step of a prepared configuration: the enforcement level of each field for its executor
 * (enforcement.c), as a table on stdout or as a JSON array (caller frees). */
void ctl_print_enforcement(const Acms__V1__RuntimeConfiguration *rc);
cJSON *ctl_enforcement_json(const Acms__V1__RuntimeConfiguration *rc);
/* Prints one JSON document on stdout. */
void ctl_print_json(const cJSON *doc);

/* The guard of submit and config put: a plain-text credential in the document is refused before
 * anything is published or stored. The adapter's own SecretManager check runs on the typed pipeline
 * (references are the services' business: only plaintext_credential findings count here). Prints
 * each place (step and field, never the value) and returns how many there are. A document that does
 * not convert is left to the next check. verb: "submit" or "store" (run.c). */
size_t ctl_plaintext_credentials(acms_arena *a, const char *file, const Acms__V1__Value *doc, const char *verb);

#endif
