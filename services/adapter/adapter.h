/* adapter.h: the Runtime Configuration Manager (the seed's prepare_for_execution and
 * adapt_during_execution) as plain functions. The service (handlers.h) and `acmsctl prepare/validate`
 * call these same entry points. Component files: environment.c secrets.c scaler.c optimizer.c
 * compliance.c live.c; each exports adapter_<component>_* functions (stages.h is their internal
 * API; common/secret.h is the reference parser and resolver every service shares). */
#ifndef ACMS_ADAPTER_H
#define ACMS_ADAPTER_H

#include "issue.h"
#include "profile.h"
#include "redis.h"
#include "secret.h"
#include "config_store.h"
#include "doc.h"

/* The scaler's Redis reads done ahead for one submission (a service handling several at once):
 * rep[0] the HVALS of acms:env:<env>:instances, rep[1 + i] the HGETALL of acms:learn:rec:<pipeline>:
 * <steps[i]>. Used only when the prepared pipeline has exactly these names; otherwise read again. */
typedef struct adapter_prefetch {
    const char *env;
    const char *pipeline;
    const char *const *steps;
    size_t n;
    redisReply **rep;
} adapter_prefetch;

typedef struct adapter_ctx {
    const acms_profiles *profiles;    /* catalogue, environments, policies */
    acms_redis *redis;                /* NULL offline: no load, no learned recommendations */
    acms_secret_ctx secret;           /* vault client (NULL = vault refs unresolvable), env deny list */
    int check_secrets;                /* resolve references at prepare time (service: 1) */
    const adapter_prefetch *prefetch; /* NULL, or the scaler's reads done ahead (service batches) */
    int no_config_hash;               /* leave metadata.config_hash empty: for a caller that shows no
                                     * identity (acmsctl validate); the services always hash */
    int keep_reason_templates;        /* leave reasons as templates and arguments (acms_adaptation_reason
                                     * renders them) for a caller that renders what it shows; else
                                     * every reason is rendered before adapter_prepare returns */
} adapter_ctx;

/* prepare_for_execution: document -> typed pipeline -> environment, secrets, scaling, optimisation,
 * compliance. On success *out is a RuntimeConfiguration in the arena (pipeline, metadata, adaptation
 * log, environment) and ACMS_OK is returned. When the configuration cannot be prepared (unknown
 * environment, unusable document) returns ACMS_ERR_INVALID with the reasons in issues.
 * ACMS_ERR_RETRY when Redis was needed and unreachable. Deterministic for the same inputs and state. */
int adapter_prepare(const adapter_ctx *ctx, acms_arena *a, const Acms__V1__ConfigSubmitted *in,
                    Acms__V1__RuntimeConfiguration **out, acms_issues *issues);
/* adapter_prepare that also keeps the document's conversion in *written (when not NULL, on ACMS_OK):
 * a copy of the pipeline as written, taken before any stage adapts it, and the conversion's issues,
 * for validator_validate_converted on the same document in the same arena. */
int adapter_prepare_kept(const adapter_ctx *ctx, acms_arena *a, const Acms__V1__ConfigSubmitted *in,
                         Acms__V1__RuntimeConfiguration **out, acms_issues *issues, acms_doc_converted *written);
/* Everything *out points to lives in the arena a, or in in (which must outlive *out); the
 * environment is a deep copy, so *out does not depend on ctx->profiles afterwards.
 * prepared_at_ms is in->meta->timestamp_ms (now when in has no meta), so the same input and state
 * give byte-identical packed output. issues: syntax issues of the document (warnings too) and, on
 * ACMS_ERR_INVALID, the errors (UNKNOWN_ENVIRONMENT, EMPTY_DOCUMENT, conversion errors). */

/* A plain-text credential (a plaintext_credential secret finding) is never carried past preparation:
 * adapter_prepare replaces it with ADAPTER_REDACTED in the prepared pipeline (the validator rejects
 * such a configuration from the finding), and adapter_redacted_document gives the document to send
 * on with it: doc itself when md has no such finding, else a copy (arena) with those values replaced
 * (positions kept). redact.c. */
#define ADAPTER_REDACTED "[redacted: plain-text credential]"
Acms__V1__Value *adapter_redacted_document(acms_arena *a, const Acms__V1__Value *doc,
                                           const Acms__V1__RuntimeMetadata *md);

/* Hex SHA-256 of the packed document (RuntimeMetadata.config_hash). "" for NULL. */
void adapter_config_hash(const Acms__V1__Value *document, char out[65]);

/* The ValidationResult of a rejected configuration (phase "rejected", valid false): errors in
 * issues, warnings and infos in warnings, the ten most confident suggestions. Arena-owned.
 * confidence_score: the error is certain, so 1.0, less what may hide a setting the user meant,
 * as in the validator (services/validator/README.md): min(0.10, 0.02 x UNKNOWN_FIELD issues). */
Acms__V1__ValidationResult *adapter_rejection_result(acms_arena *a, const acms_issues *issues);

/* --- load_for_execution (load_ref.c) ----------------------------------------------------------- */
/* What a reference resolved to (strings "" until known). */
typedef struct adapter_resolved {
    const char *requested;          /* in->config_ref as submitted */
    char id[ACMS_STORE_MAX_ID + 1]; /* "" when the reference is malformed */
    char ref[ACMS_STORE_MAX_REF];   /* exact id@version */
    char hash[65];                  /* the stored content hash */
} adapter_resolved;

/* Submit by reference: resolves in->config_ref (id, id@latest, id@N) through store for
 * in->environment, parses the stored text and prepares it (adapter_prepare). pinned: the exact
 * reference this run resolved before (the run hash's config_ref), so a redelivered "latest" keeps its
 * version; NULL or "" when none. On ACMS_OK *resolved is a copy of in carrying the document (for
 * ConfigPrepared), *out has metadata config_ref = the exact id@version and config_hash = the stored
 * content hash. ACMS_ERR_INVALID with the reason in issues (CONFIG_REF_INVALID, CONFIG_REF_NOT_FOUND
 * with a suggestion, CONFIG_REF_AMBIGUOUS when a document came too, CONFIG_REF_UNREADABLE when the
 * stored content fails its hash, CONFIG_REF_UNUSABLE, or adapter_prepare's issues); ACMS_ERR_RETRY when
 * the store or Redis is unreachable. r is filled as far as resolution got. */
int adapter_load_for_execution(const adapter_ctx *ctx, acms_store *store, acms_arena *a,
                               const Acms__V1__ConfigSubmitted *in, const char *pinned,
                               Acms__V1__ConfigSubmitted **resolved, Acms__V1__RuntimeConfiguration **out,
                               adapter_resolved *r, acms_issues *issues);

/* --- adapt_during_execution (live.c) --------------------------------------------------------- */
#define ADAPTER_DEFAULT_SAFETY_THRESHOLD 0.8

/* Decides one AdaptationOpportunity from the monitor. Returns 1 to apply (the coordinator applies it
 * to pending steps and to the next attempt of a running one), 0 to refuse. rec_out is initialised
 * and filled (stage "runtime", step, field, old/new value, safety score, applied, reason); its
 * strings point into opp or to static text, so it is valid while opp is. On apply, *memory_mb or
 * *runtime_s carry the new value (0 = unchanged). Refused: safety score below the threshold
 * (threshold when > 0, the service's ACMS_SAFETY_THRESHOLD; else the environment's safety_threshold;
 * else ADAPTER_DEFAULT_SAFETY_THRESHOLD), proposed value above the
 * environment's quotas (max_memory_mb, max_runtime_s), shrinking the memory of a running step
 * (in-place rules of the Vertical Pod Autoscaler), unknown environment, field or malformed value.
 * ctx may be NULL. */
int adapter_live_decide(const adapter_ctx *ctx, const Acms__V1__Environment *env,
                        const Acms__V1__AdaptationOpportunity *opp, double threshold,
                        Acms__V1__AdaptationRecord *rec_out, uint64_t *memory_mb, uint32_t *runtime_s);

#endif
