/* acmsctl.h: the command-line client's shared pieces. Exit codes (docs/acmsctl.md): 0 success,
 * 1 failed/invalid/rejected/unknown or ambiguous run, 2 usage or unusable input, 3 bus or Redis
 * unreachable, 4 --timeout passed before the run ended. With --format json every outcome, errors
 * included, is one JSON document on stdout; an error is {"error": {"code", "message", "exit_code"}}. */
#ifndef ACMSCTL_H
#define ACMSCTL_H

#include <cjson/cJSON.h>

#include "cfg.h"
#include "pb.h"
#include "redis.h"

enum { CTL_OK = 0, CTL_FAIL = 1, CTL_USAGE = 2, CTL_UNREACHABLE = 3, CTL_TIMEOUT = 4 };

typedef struct ctl_opts {
    const char *cmd;
    const char *file; /* FILE or RUN_ID (args[0]) */
    const char *env;
    const char *config_dir; /* --config-dir, else located (locate.h) */
    int json;               /* --format json */
    int wait;
    int quiet;
    int timeout_s;   /* --timeout for --wait/watch (default 900) */
    const char *ref; /* --ref ID[@VERSION] */
    int learned;     /* prepare --learned: read learned recommendations from the stack's Redis */
    int partitions;  /* topics apply --partitions / --replication (0 = the spec's) */
    int replication;
    int dry_run;         /* topics apply --dry-run */
    const char *args[3]; /* positional arguments after the command (args[0] == file) */
    int nargs;
    int attempt;            /* logs --attempt N (0 = the last) */
    int follow;             /* logs -f */
    const char *pipeline;   /* list --pipeline */
    const char *status;     /* list --status */
    const char *since;      /* list --since (a duration or a UTC time) */
    int limit;              /* list --limit (0 = 20) */
    char located_dir[1024]; /* the located configuration directory config_dir may point to */
} ctl_opts;

/* --- plumbing (opts.c, error.c, stack.c, runid.c, issues.c) ----------------------------------- */

/* Parses the command line into *o (o's strings point into argv). Returns -1 to go on with o->cmd, or
 * the exit code to end with (help and version printed, or a usage error reported). */
int ctl_parse_args(int argc, char **argv, ctl_opts *o);

/* Reports an error and returns exit_code: with --format json, {"error": {"code", "message",
 * "exit_code"[, "details"]}} on stdout (details, which may be NULL, is taken over); else
 * "acmsctl: <message>" on stderr. code is one of the documented codes (docs/acmsctl.md). */
int ctl_fail(const ctl_opts *o, int exit_code, const char *code, cJSON *details, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The configuration for the commands that talk to the stack: acms_cfg_load, with the stack file found
 * by locate.h. CTL_OK or the exit code (reported). */
int ctl_load_cfg(const ctl_opts *o, acms_cfg *cfg);
/* "the stack file X" or "no stack file (looked for A, B, C)": where cfg's addresses came from, for
 * messages about an unreachable stack. Returns buf. */
const char *ctl_stack_origin(const acms_cfg *cfg, char *buf, size_t size);
/* Connects to Redis; reports why and returns NULL when unreachable (exit CTL_UNREACHABLE). */
acms_redis *ctl_redis(const ctl_opts *o, const acms_cfg *cfg);

/* Resolves a run id given in full or as a unique prefix of at least 4 characters (as git does with
 * hashes) into out (ACMS_ID_LEN bytes or more). CTL_OK, or the exit code after reporting: 1 unknown
 * ("unknown_run") or ambiguous ("ambiguous_run", with the candidates), 3 unreachable. */
int ctl_resolve_run(const ctl_opts *o, acms_redis *r, const char *given, char *out, size_t size);

/* Prints validation issues as `acmsctl validate` does: FILE:LINE:COL: severity CODE [level] path:
 * message, then up to three ranked fixes. issues is a JSON array of ValidationIssue (proto JSON). */
void ctl_print_issues(const char *file, const cJSON *issues);
/* The summary counts of a result's errors, warnings and info issues (by severity). */
void ctl_count_issues(const cJSON *result, size_t *errors, size_t *warnings, size_t *infos);

/* --- commands ---------------------------------------------------------------------------------- */

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
/* acmsctl topics apply [SPEC] (topics.c). */
int ctl_topics(const ctl_opts *o);
/* The document of an inline submission, kept for retry (submitted.c): ctl_doc_keep stores the event
 * under its document's hash (sealed when ACMS_MASTER_KEY_FILE or _TRANSIT is set); CTL_OK or the
 * exit code (reported). ctl_doc_load reads it back into the arena: CTL_OK, CTL_FAIL (not kept: not
 * reported, the caller says what to do), or the exit code (reported). */
int ctl_doc_keep(const ctl_opts *o, acms_redis *r, const Acms__V1__ConfigSubmitted *ev);
int ctl_doc_load(const ctl_opts *o, acms_redis *r, acms_arena *a, const char *hash,
                 const Acms__V1__ConfigSubmitted **out);
/* Publishes one event and waits for the broker's acknowledgement (run.c). CTL_OK or the exit code. */
int ctl_publish(const ctl_opts *o, const acms_cfg *cfg, acms_topic t, const char *key, const ProtobufCMessage *msg);
/* Follows the run to its end and prints it; exit 0 when it ended with want (NULL: succeeded). */
int ctl_finish_with_view(const ctl_opts *o, acms_redis *r, const char *run_id, const char *want);
/* A new W3C traceparent with random ids into out. */
void ctl_new_traceparent(char out[64]);

/* acmsctl list [--env E] [--pipeline P] [--status S] [--since T] [--limit N] (list.c). */
int ctl_list(const ctl_opts *o);
/* acmsctl retry RUN [--wait] (retry.c). */
int ctl_retry(const ctl_opts *o);
/* acmsctl delete RUN (retry.c). */
int ctl_delete(const ctl_opts *o);

/* Reads the run (hash, steps, adaptations, stored validation result) into a JSON document; NULL when
 * the run is unknown. *unreachable is set when Redis could not be read. */
cJSON *ctl_run_view(acms_redis *r, const char *run_id, int *unreachable);
/* The end of a run, learned from its end channel (endwait.c, run_state.h) instead of by polling. */
typedef struct ctl_endwait ctl_endwait;
/* Subscribes to the run's end channel on a connection of its own. NULL when Redis refuses: poll. */
ctl_endwait *ctl_endwait_new(const acms_redis *r, const char *run_id);
/* Waits up to ms for the run's end notification: 1 it came, 0 ms passed (w NULL: slept ms), -1 the
 * subscription broke (free w and poll without it). */
int ctl_endwait_wait(ctl_endwait *w, int ms);
void ctl_endwait_free(ctl_endwait *w);
/* How often the status is read while subscribed, in case a notification is lost (ACMS_CTL_END_POLL_MS). */
int ctl_endwait_fallback_ms(void);
/* Follows a run until it ends or timeout_s passes, printing progress on stderr unless quiet.
 * Returns the final view (caller frees) or NULL with *rc CTL_UNREACHABLE or CTL_TIMEOUT and *why. */
cJSON *ctl_follow(acms_redis *r, const char *run_id, int timeout_s, int quiet, int *rc, const char **why);
/* Prints a run view (human) on stdout, with the issues of a rejected run as validate prints them. */
void ctl_print_run(const cJSON *view);
/* Exit code for a final run view: 0 succeeded, 1 any other end (failed, rejected, cancelled). */
int ctl_run_exit(const cJSON *view);
/* Per step of a prepared configuration: the enforcement level of each field for its executor
 * (enforcement.c), as a table on stdout or as a JSON array (caller frees). */
void ctl_print_enforcement(const Acms__V1__RuntimeConfiguration *rc);
cJSON *ctl_enforcement_json(const Acms__V1__RuntimeConfiguration *rc);
/* Prints one JSON document on stdout. */
void ctl_print_json(const cJSON *doc);

/* The guard of submit and config put: a plain-text credential in the document is refused before
 * anything is published or stored. The adapter's own SecretManager check runs on the typed pipeline
 * (references are the services' business: only plaintext_credential findings count here). Reports
 * each place (step and field, never the value; error code plaintext_credential) and returns CTL_FAIL,
 * or CTL_OK when there is none. A document that does not convert is left to the next check.
 * verb: "submit" or "store" (run.c). */
int ctl_plaintext_credentials(const ctl_opts *o, acms_arena *a, const char *file, const Acms__V1__Value *doc,
                              const char *verb);

#endif
