/* stages.h: the stages of adapter_prepare (environment -> secrets -> scaler -> optimizer ->
 * compliance), each a plain function over the typed pipeline with no Kafka in sight. Stages mutate
 * the pipeline in place (new strings come from the arena, shared strings are never written) and
 * explain every change as an AdaptationRecord appended to one adapter_log, in a deterministic order. */
#ifndef ACMS_ADAPTER_STAGES_H
#define ACMS_ADAPTER_STAGES_H

#include "adapter.h"
#include "sizefit.h"
#include "sizing.h"

/* --- the adaptation log (adapter.c) -------------------------------------------------------- */
typedef struct adapter_log {
    acms_arena *arena;
    Acms__V1__AdaptationRecord **v;
    size_t n;
} adapter_log;

void adapter_log_init(adapter_log *log, acms_arena *a);
/* Appends a record (strings copied into the arena; NULL old/new become ""). Returns it. */
Acms__V1__AdaptationRecord *adapter_log_add(adapter_log *log, const char *stage, const char *step, const char *field,
                                            const char *old_value, const char *new_value, double safety_score,
                                            int applied, const char *reason_fmt, ...)
    __attribute__((format(printf, 9, 10)));

/* Appends a record whose reason is template id (common/adapt_reason.h) with nargs string arguments,
 * rendered only when shown. Nothing is copied: stage, step, field, old/new values and the arguments
 * must live as long as the arena (literals, the pipeline's strings, arena strings). Returns it. */
Acms__V1__AdaptationRecord *adapter_log_note(adapter_log *log, const char *stage, const char *step, const char *field,
                                             const char *old_value, const char *new_value, double safety_score,
                                             int applied, unsigned id, size_t nargs, ...);

/* Sets or replaces tag key=value on a step (arena copies). Returns the previous value or NULL. */
const char *adapter_step_set_tag(acms_arena *a, Acms__V1__Step *s, const char *key, const char *value);
/* The step's Resources, created (zeroed) when absent. */
Acms__V1__Resources *adapter_step_resources(acms_arena *a, Acms__V1__Step *s);

/* --- EnvironmentAdapter (environment.c) ---------------------------------------------------- */
/* ResourceMapper (default type, instance_map, allowed list, Resources from the catalogue x
 * memory_scale or explicit requests), NetworkAdapter (vpc_config, isolation), StorageAdapter
 * (output_path rewrites) and executor/attempt/parallelism defaults. Records stage "environment". */
void adapter_environment_adapt(acms_arena *a, const acms_catalog *cat, const Acms__V1__Environment *env,
                               Acms__V1__Pipeline *p, adapter_log *log);
/* The longest path_rewrites prefix matching path, rewritten into the arena; NULL when none matches. */
char *adapter_environment_rewrite_path(acms_arena *a, const Acms__V1__Environment *env, const char *path);

/* --- SecretManager at prepare time (secrets.c; the resolver API is secrets.h) --------------- */
typedef struct adapter_findings {
    acms_arena *arena;
    Acms__V1__SecretFinding **v;
    size_t n;
} adapter_findings;

void adapter_findings_init(adapter_findings *f, acms_arena *a);
/* Checks every secret reference of every step (well-formed, in the environment's secret_scopes,
 * resolvable when ctx->check_secrets; resolved values are wiped at once) and looks for plain-text
 * credentials in env values, command arguments and tags. Findings never contain a secret value. */
void adapter_secrets_check(const adapter_ctx *ctx, const Acms__V1__Environment *env, const Acms__V1__Pipeline *p,
                           adapter_findings *f);
/* Does a variable/flag name suggest a credential (PASSWORD, SECRET, TOKEN, API_KEY, PRIVATE_KEY,
 * CREDENTIAL, case-insensitive)? */
int adapter_secret_name_sensitive(const char *name);
/* If value contains something shaped like a credential, a static description of its kind
 * ("an AWS access key id", ...), else NULL. */
const char *adapter_secret_value_pattern(const char *value);
/* Replaces every value a plaintext_credential finding of f points at in p (env values, command
 * arguments, tag values) with ADAPTER_REDACTED (redact.c). Returns how many were replaced. */
size_t adapter_secrets_redact(const adapter_findings *f, Acms__V1__Pipeline *p);

/* --- ResourceScaler (scaler.c) --------------------------------------------------------------- */
typedef enum { ADAPTER_LEARN_OFF = 0, ADAPTER_LEARN_SHADOW = 1, ADAPTER_LEARN_APPLY = 2 } adapter_learn_mode;

/* A learned recommendation (acms:learn:rec:<pipeline>:<step>); present = 0 when none. */
typedef struct adapter_learned {
    int present;
    uint64_t memory_mb;
    uint32_t runtime_s;
    const char *instance_type; /* "" when none */
    const char *mode;          /* off | shadow | apply ("" = apply) */
    const char *reason;        /* "" when none */
    uint32_t based_on_runs;
    const char *command_hash; /* the step's command when learned ("" = unknown: applies) */
    uint32_t min_runtime_s;   /* the floor after a time kill (0 = none) */
    /* size fits (services/feedback/learn.h): evaluated for each run's own input value */
    const char *sizing_input; /* the input the fits were learned against ("" = none) */
    const char *fit_method;   /* input-fit | history-trend | "" */
    const char *fit_note;     /* why there is no usable fit ("" when there is) */
    int fit_usable;
    int has_fit_memory, has_fit_wall;
    acms_sizefit fit_memory, fit_wall;
} adapter_learned;

/* What the scaler and optimizer know about the world: environment load and one recommendation
 * per step (learned[i] belongs to p->steps[i]). online = 0 when Redis was not consulted. */
typedef struct adapter_observed {
    int online;
    int64_t now_ms; /* when the run is prepared (the submission's timestamp): the time a
                                    drift model is evaluated at (0 = no extrapolation) */
    uint32_t active_runs;
    uint32_t instances_in_use;
    adapter_learned *learned;
    size_t nlearned;
} adapter_observed;

/* Reads load (HVALS acms:env:<env>:instances) and recommendations (HGETALL acms:learn:rec:...)
 * in one pipelined batch. r NULL gives an offline observation. ACMS_OK or ACMS_ERR_RETRY. */
int adapter_scaler_observe(acms_redis *r, acms_arena *a, const Acms__V1__Environment *env, const Acms__V1__Pipeline *p,
                           const adapter_prefetch *pf, adapter_observed *out);
/* Queues the reads of adapter_scaler_observe for an environment, pipeline and step names (a service
 * reading for several configurations in one round trip); returns how many commands (n + 1). Their
 * replies, in an adapter_prefetch, are used instead of a read when the names match. */
size_t adapter_scaler_append(acms_redis *r, acms_arena *a, const char *env, const char *pipeline,
                             const char *const *steps, size_t n);
/* 1 when a recommendation learned for this step name applies to the step as configured now: a new
 * version of the pipeline keeps what earlier versions taught unless the step's command changed
 * (acms_store_command_applies over l->command_hash and the step's command hash). */
int adapter_learned_applies(const adapter_learned *l, const Acms__V1__Step *s);
/* Effective learning mode of a recommendation in env: the more conservative of the environment's
 * learning_mode ("" = no restriction) and the recommendation's mode ("" = apply). */
adapter_learn_mode adapter_learn_mode_of(const Acms__V1__Environment *env, const adapter_learned *l);
/* Right-sizes steps from recommendations, caps instance counts, records data-size hints, and
 * builds the capacity plan (*plan, arena). Records stage "scaling" (a recommendation ignored because
 * the step's command changed is recorded as not applied). obs may be NULL (offline).
 * Input-aware sizing: every step that declares sizing gets this run's input value in
 * sizing.input_value/input_source (whatever the learning mode, so the learning engine sees it; an
 * unresolvable declaration is a record of field sizing.input, not applied); with a usable input fit
 * its memory is the fit's upper bound at that value plus the margin (learned_size.c), its runtime
 * from the wall fit: obs->learned[i].runtime_s is updated for the optimizer. Each learned memory
 * record carries its LearnedBasis. */
void adapter_scaler_scale(acms_arena *a, const acms_catalog *cat, const Acms__V1__Environment *env,
                          Acms__V1__Pipeline *p, adapter_observed *obs, adapter_log *log,
                          Acms__V1__CapacityPlan **plan);

/* --- learned sizes (learned_size.c) ------------------------------------------------------------ */
/* What a step's learned memory is and what it was based on. */
typedef struct adapter_size {
    uint64_t memory_mb;            /* 0 = nothing learned for memory */
    uint32_t runtime_s;            /* from the wall fit at this input (0 = keep the history's) */
    const char *why;               /* the basis as text, for the record (arena) */
    const char *runtime_why;       /* the wall fit's basis ("" when runtime_s is 0) */
    Acms__V1__LearnedBasis *basis; /* arena; NULL when memory_mb is 0 */
} adapter_size;

/* Chooses the learned memory of step s from l: the input fit at this run's input (st/in from
 * acms_sizing_resolve) when it is usable, else the history's memory_mb raised to a drift model's bound
 * when one exists, else the history's; the basis says which and, for a declared input, why it fell
 * back. now_ms is when the run is prepared (drift models). Pure. */
void adapter_learned_size(acms_arena *a, const adapter_learned *l, acms_sizing_status st, const acms_sizing_input *in,
                          int64_t now_ms, adapter_size *out);
/* The memory a fit's prediction is sized at: ceil(upper x (1 + ACMS_SIZEFIT_MARGIN)), whole MiB. */
uint64_t adapter_fit_memory_mb(double upper_mb);

/* --- RuntimeOptimizer (optimizer.c) ---------------------------------------------------------- */
/* Interruptible capacity where the environment allows it (processing/transform steps) and runtime
 * limits from history. Records stage "optimization". obs may be NULL (no history: no limit change). */
void adapter_optimizer_optimize(acms_arena *a, const Acms__V1__Environment *env, Acms__V1__Pipeline *p,
                                const adapter_observed *obs, adapter_log *log);

/* --- ComplianceEnforcer (compliance.c) ------------------------------------------------------- */
/* Applies the mutations of enforce rules of the policies that apply to env. Require-type ops
 * (equals, present, forbid on non-booleans, audit rules) are left to the validator. Records
 * stage "compliance". Returns the number of mutations. */
size_t adapter_compliance_enforce(acms_arena *a, const acms_profiles *pr, const Acms__V1__Environment *env,
                                  Acms__V1__Pipeline *p, adapter_log *log);
/* Rewrites path so that it starts with prefix: the scheme and bucket/host part ("s3://bucket") is
 * replaced by prefix, the rest kept. Returns path itself when it already starts with prefix. */
char *adapter_compliance_reprefix(acms_arena *a, const char *path, const char *prefix);

#endif
