/* validator.h: the ValidationEngine and IntelligentSuggester as plain functions. The service and
 * `acmsctl validate` call validator_validate(). Levels: syntax.c semantic.c environment.c security.c
 * (+ performance predictions from history), suggest.c ranks fixes, runtime.c judges step metrics.
 * Every level appends to one acms_issues list (its level name stamped on each issue); nothing but
 * history.c and the service's handlers (handlers.h) touches Redis, so each level is testable with
 * plain structs.
 * Everything returned lives in the caller's arena. */
#ifndef ACMS_VALIDATOR_H
#define ACMS_VALIDATOR_H

#include "dag.h"
#include "doc.h"
#include "issue.h"
#include "profile.h"
#include "redis.h"
#include "strmap.h"

typedef struct validator_ctx {
    const acms_profiles *profiles;
    acms_redis *redis; /* NULL offline: no history-based predictions or fix statistics */
} validator_ctx;

/* Validates a prepared runtime configuration. document is the submitted document (for syntax and
 * line numbers; may be NULL). *out is allocated in the arena. ACMS_OK (whatever the verdict) or
 * ACMS_ERR_RETRY when Redis was needed and unreachable.
 * Result: valid = no error-severity issue; issues = errors; warnings = warnings and info;
 * suggestions = the ranked top VALIDATOR_TOP_SUGGESTIONS over all issues; phase "pre-execution";
 * confidence_score as documented in validator.c. */
int validator_validate(const validator_ctx *ctx, acms_arena *a, const Acms__V1__RuntimeConfiguration *rc,
                       const Acms__V1__Value *document, Acms__V1__ValidationResult **out);

/* validator_validate on a document already converted in this process (adapter_prepare_kept):
 * written (may be NULL) stands for the syntax level's own conversion of document; same result. */
int validator_validate_converted(const validator_ctx *ctx, acms_arena *a, const Acms__V1__RuntimeConfiguration *rc,
                                 const Acms__V1__Value *document, const acms_doc_converted *written,
                                 Acms__V1__ValidationResult **out);

/* validate_during_execution: judges one StepEvent's metrics against the step's declared limits.
 * *out is always set (phase "runtime"); a healthy step gives a result with no issues or warnings
 * (the service then publishes nothing). ACMS_OK, or ACMS_ERR_INVALID when ev is NULL. */
int validator_runtime_check(const Acms__V1__StepEvent *ev, acms_arena *a, Acms__V1__ValidationResult **out);
/* Why a decoded StepEvent cannot be real (the coordinator never sends it): no pipeline, an unknown
 * kind, a step kind without a step name. NULL when plausible. The service dead-letters the event. */
const char *validator_step_event_problem(const Acms__V1__StepEvent *ev);

/* --- limits and thresholds (services/validator/README.md) --------------------------------------------- */
#define VALIDATOR_TOP_SUGGESTIONS 10
#define VALIDATOR_MAX_NAME 63
#define VALIDATOR_MAX_COMMAND_ARGS 1024
#define VALIDATOR_MAX_ARG_BYTES 131072 /* Linux MAX_ARG_STRLEN */
#define VALIDATOR_MAX_COMMAND_BYTES 1048576
#define VALIDATOR_MAX_INSTANCE_COUNT 1000
#define VALIDATOR_MAX_VOLUME_GB 16384
#define VALIDATOR_MAX_RUNTIME_S 432000 /* 5 days */
#define VALIDATOR_MAX_ATTEMPTS 10
#define VALIDATOR_MIN_HISTORY_RUNS 3 /* statistics below this many runs are not judged */

/* --- history, as plain values (history.c fills them from Redis) -------------------------------- */

/* What the feedback service learned about one pipeline step:
 *   acms:learn:rec:<pipeline>:<step>       memory_mb, runtime_s
 *   acms:feedback:stats:<pipeline>:<step>  p50_wall_ms, p90_wall_ms, p90_peak_mb, runs */
typedef struct validator_step_history {
    int has_rec;
    uint64_t rec_memory_mb;
    uint32_t rec_runtime_s;
    int has_stats;
    uint64_t runs;
    double p50_wall_ms;
    double p90_wall_ms;
    double p90_peak_mb;
} validator_step_history;

/* How often a fix (suggestion id) was offered and how often the issue was then resolved
 * (acms:learn:fix:<issue_code> fields "<id>:offered" / "<id>:resolved"). */
typedef struct validator_fix_stat {
    const char *id;
    uint64_t offered;
    uint64_t resolved;
} validator_fix_stat;

typedef struct validator_fix_history {
    validator_fix_stat *v; /* sorted by id (validator_fix_history_sort) */
    size_t n;
} validator_fix_history;

/* Applies one Redis hash field to h (field names as written by the feedback service; unknown
 * fields and unparsable numbers are ignored). rec != 0: a learn:rec hash, else a feedback:stats hash. */
void validator_history_apply(validator_step_history *h, int rec, const char *field, const char *value);
/* Adds "<id>:offered"/"<id>:resolved" = value to fh (arena-backed; call sort before lookups). */
void validator_fix_history_apply(validator_fix_history *fh, acms_arena *a, const char *field, const char *value);
void validator_fix_history_sort(validator_fix_history *fh);
/* The statistics of a suggestion id, or NULL. fh may be NULL. */
const validator_fix_stat *validator_fix_history_find(const validator_fix_history *fh, const char *id);

/* Loads the history of every step of p (two pipelined HGETALLs per step) into *out (n_steps
 * entries, arena). ACMS_OK or ACMS_ERR_RETRY (Redis unreachable). */
int validator_history_load_steps(acms_redis *r, acms_arena *a, const Acms__V1__Pipeline *p,
                                 validator_step_history **out);
/* Loads the fix statistics of every distinct issue code in is (one pipelined HGETALL per code).
 * ACMS_OK or ACMS_ERR_RETRY. */
int validator_history_load_fixes(acms_redis *r, acms_arena *a, const acms_issues *is, validator_fix_history *out);

/* --- the levels (each appends to is; set is->level first or use validator_validate) ------------- */

/* Working state of one validation, filled by validator_validate (tests fill it by hand). */
typedef struct validator_input {
    const Acms__V1__Pipeline *pipeline;             /* the adapted pipeline the later levels judge */
    const Acms__V1__Value *document;                /* submitted document, or NULL */
    const acms_doc_converted *written;              /* document's conversion done by the caller (same arena),
                                              * or NULL: the syntax level converts document itself */
    const Acms__V1__ListValue *doc_steps;           /* its spec.steps list, or NULL (source positions) */
    const Acms__V1__Environment *env;               /* NULL: environment level cannot run */
    const char *env_name;                           /* "" when unknown */
    const acms_profiles *profiles;                  /* NULL: no catalogue, no policies */
    const Acms__V1__RuntimeMetadata *meta;          /* adapter metadata (secret findings), or NULL */
    Acms__V1__AdaptationRecord *const *adaptations; /* the adapter's log (quota clamps), may be NULL */
    size_t nadaptations;
    acms_dag *dag;                         /* built by validator_semantic */
    uint32_t *cycle_of;                    /* cycle_of[i]: 0, or the 1-based id of the dependency cycle
                                              * (strongly connected component) step i is in (semantic) */
    const validator_step_history *history; /* history[i] for step i, NULL offline */
    const validator_fix_history *fixes;    /* NULL offline */
    int unknown_fields;                    /* UNKNOWN_FIELD issues seen by the syntax level */
} validator_input;

/* validator_validate in two phases, so a service can share Redis round trips between several
 * configurations: the levels (history: the steps' history already read, or NULL to read it from
 * ctx->redis when online), then the ranked suggestions and the result (fixes: the fix statistics
 * already read for at least vp->is's codes, or NULL to read them). Each ACMS_OK or ACMS_ERR_RETRY. */
typedef struct validator_pass {
    validator_input in;
    acms_issues is;
    int online;
} validator_pass;
int validator_validate_levels(const validator_ctx *ctx, acms_arena *a, const Acms__V1__RuntimeConfiguration *rc,
                              const Acms__V1__Value *document, validator_step_history *history, validator_pass *vp);
int validator_validate_finish(const validator_ctx *ctx, acms_arena *a, validator_pass *vp, validator_fix_history *fixes,
                              Acms__V1__ValidationResult **out);

/* The Redis key of one history read: kind REC (acms:learn:rec:<a>:<b>), STATS
 * (acms:feedback:stats:<a>:<b>) or FIX (acms:learn:fix:<a>, b ignored), written into buf (cap bytes)
 * or, when it does not fit, into a malloc'd buffer returned in *heap (free it). Returns its length. */
enum { VALIDATOR_HISTORY_REC, VALIDATOR_HISTORY_STATS, VALIDATOR_HISTORY_FIX };
size_t validator_history_key(char *buf, size_t cap, char **heap, int kind, const char *a, const char *b);

/* Pipelined step-history reads of a group of configurations, each key read once: init, then queue
 * the reads of each member's pipeline p (only the steps whose keys no earlier member queued; the
 * returned array, in a, gives each step's read pair), exec the 2 * hr->n queued commands, and
 * collect each member's per-step history (arena) from those replies, as validator_history_load_steps
 * would read it. */
typedef struct validator_history_reads {
    acms_strmap seen; /* rec key -> its read pair */
    size_t n;         /* read pairs queued */
} validator_history_reads;
void validator_history_reads_init(validator_history_reads *hr, acms_arena *a, size_t expected);
size_t *validator_history_queue(validator_history_reads *hr, acms_redis *r, acms_arena *a, const Acms__V1__Pipeline *p);
validator_step_history *validator_history_collect(acms_arena *a, const Acms__V1__Pipeline *p, const size_t *idx,
                                                  redisReply **rep);

/* Level 1. With in->document: converts it (acms_doc_to_pipeline; with in->written, takes that
 * conversion's pipeline and issues instead) and checks formats on the document as written; *doc_pipeline (may be NULL) receives the converted pipeline. Without a document the
 * typed in->pipeline is checked. Codes: the conversion's, BAD_NAME, BAD_URI, BAD_SECRET_REF,
 * BAD_ENV_NAME, UNKNOWN_STEP_TYPE, TOO_MANY_STEPS, COMMAND_TOO_LONG. Always ACMS_OK. */
int validator_syntax(validator_input *in, acms_arena *a, acms_issues *is, Acms__V1__Pipeline **doc_pipeline);
/* Level 2: builds in->dag; DAG_* (dag.c), DAG_UNREACHABLE, DUPLICATE_DEPENDENCY, VALUE_OUT_OF_RANGE,
 * MISSING_OUTPUT, VPC_INCOMPLETE, SPOT_NO_RETRY, DUPLICATE_OUTPUT_PATH, DUPLICATE_ENV_VAR,
 * INEFFECTIVE_INSTANCE_COUNT. Always ACMS_OK. */
int validator_semantic(validator_input *in, acms_arena *a, acms_issues *is);
/* Level 2, sizing declarations (sizing.c): SIZING_INPUT_UNKNOWN, SIZING_INPUT_NOT_A_NUMBER,
 * SIZING_INPUT_SECRET, SIZING_INPUT_NO_VALUE, SIZING_INPUT_AMBIGUOUS. Always ACMS_OK. */
int validator_sizing(const validator_input *in, acms_arena *a, acms_issues *is);
/* Level 3 (needs in->env). UNKNOWN_INSTANCE_TYPE, INSTANCE_TYPE_NOT_ALLOWED, QUOTA_INSTANCES,
 * QUOTA_RUNTIME, QUOTA_MEMORY, QUOTA_CLAMPED (an adaptation record with a quota changed a value by
 * more than 2x), ENV_NO_REGION, REGION_MISMATCH, NETWORK_ISOLATION_REQUIRED,
 * INTERRUPTIBLE_NOT_ALLOWED, EXECUTOR_UNAVAILABLE, MISSING_COMMAND, NO_GPU_FOR_TRAINING. */
int validator_environment(const validator_input *in, acms_arena *a, acms_issues *is);
/* Level 4. The adapter's secret findings (PLAINTEXT_CREDENTIAL, SECRET_OUT_OF_SCOPE, SECRET_UNRESOLVABLE,
 * BAD_SECRET_REF) plus a built-in check of sensitive env names behind them, policy rules (code = rule
 * id), OUTPUT_LOCATION_NOT_ALLOWED, POLICY_BAD_FIELD. */
int validator_security(const validator_input *in, acms_arena *a, acms_issues *is);
/* Level 5 (needs in->history): OVERPROVISIONED_MEMORY, UNDERPROVISIONED_MEMORY, RUNTIME_LIMIT_TIGHT,
 * PREDICTED_COST. */
int validator_performance(const validator_input *in, acms_arena *a, acms_issues *is);

/* The IntelligentSuggester: adds pattern (DAG fixes), best-practice and history-blended candidates
 * to every issue of is, de-duplicates and ranks each issue's list, and returns the ranked top
 * `cap` over all issues in *top (arena). in may be NULL (runtime: no pipeline context). */
size_t validator_suggest(const validator_input *in, acms_arena *a, acms_issues *is,
                         Acms__V1__ValidationSuggestion ***top, size_t cap);
/* History blending: base confidence b and a fix offered o times that resolved the issue r times:
 *   h = (r + 1) / (o + 2)           (Laplace-smoothed resolution rate)
 *   w = o / (o + VALIDATOR_HISTORY_PRIOR)   (trust grows with evidence)
 *   confidence = (1 - w) * b + w * h */
#define VALIDATOR_HISTORY_PRIOR 5.0
double validator_blend_confidence(double base, uint64_t offered, uint64_t resolved);
/* Source priority used to break confidence ties (lower ranks first): policy, pattern, history,
 * best_practice, anything else. */
int validator_source_rank(const char *source);

/* Non-zero for NULL or "" (a string field the levels treat as unset). */
static inline int validator_empty(const char *s)
{
    return s == NULL || s[0] == '\0';
}
/* s, or "" for NULL. */
static inline const char *validator_str(const char *s)
{
    return s ? s : "";
}

#endif
