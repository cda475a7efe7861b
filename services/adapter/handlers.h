/* handlers.h: the acms-adapter service's message handling. handle.c sends one message to the
 * handler of its topic (on_submit.c: acms.config.submitted, on_opportunity.c:
 * acms.exec.adaptations); batch.c handles a queue of inline submissions together, with the same
 * outcome per message. Effects are written to Redis before publishing and are idempotent, and
 * published ids are derived from the input, so a redelivery is harmless. Every handler returns
 * ACMS_OK, ACMS_ERR_RETRY (redeliver) or ACMS_ERR_POISON with *reason set (dead-letter). */
#ifndef ACMS_ADAPTER_HANDLERS_H
#define ACMS_ADAPTER_HANDLERS_H

#include "adapter/adapter.h"
#include "crypt.h"
#include "service.h"

#define ADAPTER_SERVICE "acms-adapter"

/* The service's context: built by main.c's init, read-only while messages are handled. */
typedef struct adapter_service {
    adapter_ctx ctx;
    double threshold;  /* ACMS_SAFETY_THRESHOLD, 0 = the environment's or the default */
    acms_store *store; /* ACMS_CONFIG_STORE: "redis" (default, the service's Redis) or http://... */
    acms_crypt *crypt; /* ACMS_MASTER_KEY_FILE / _TRANSIT: stored documents encrypted at rest; NULL = off */
} adapter_service;

/* One message of either input topic (acms_service_ops.handle); a message from another topic is a
 * poison. */
int adapter_handle(adapter_service *s, acms_service *svc, const acms_msg *msg, const char **reason);
/* The messages waiting, together (acms_service_ops.handle_batch): rcs[i], reasons[i] as
 * adapter_handle would give them. Returns ACMS_OK. */
int adapter_handle_batch(adapter_service *s, acms_service *svc, const acms_msg *msgs, size_t n, int *rcs,
                         const char **reasons);

/* --- on_submit.c: ConfigSubmitted -> ConfigPrepared, or a rejection -------------------------- */
int adapter_on_submitted(adapter_service *s, acms_service *svc, acms_arena *a, const acms_msg *msg,
                         const char **reason);
/* The run hash's fields written with "prepared" into kv; returns how many are used. */
size_t adapter_prepared_fields(acms_arena *a, const Acms__V1__RuntimeConfiguration *rc, const char *kv[12]);
/* The prepared adaptation log as the one value of acms:run:<run>:adaptations (arena, *len bytes). */
const char *adapter_log_packed(acms_arena *a, const Acms__V1__RuntimeConfiguration *rc, size_t *len);
/* After the status-and-log write answered st (1 applied, 0 refused, < 0 failed): publishes the
 * ConfigPrepared when applied. msg: the ConfigSubmitted as received when in is its decoding (its
 * document is forwarded as is), else NULL. log: rc's adaptation log as written to Redis
 * (adapter_log_packed), spliced into the ConfigPrepared unpacked again. ACMS_OK or ACMS_ERR_RETRY. */
int adapter_prepared_publish(acms_service *svc, acms_arena *a, const Acms__V1__ConfigSubmitted *in, const acms_msg *msg,
                             Acms__V1__RuntimeConfiguration *rc, const char *log, size_t log_len, int st);
/* Writes the rejection (status, reason, verdict) and publishes it. ref: what a submission by
 * reference resolved to (NULL inline). ACMS_OK or ACMS_ERR_RETRY. */
int adapter_on_rejected(adapter_service *s, acms_service *svc, acms_arena *a, const Acms__V1__ConfigSubmitted *in,
                        const acms_issues *issues, const adapter_resolved *ref);

/* --- on_opportunity.c: AdaptationOpportunity -> a runtime decision (AdaptedEvent when applied) - */
int adapter_on_opportunity(adapter_service *s, acms_service *svc, acms_arena *a, const acms_msg *msg,
                           const char **reason);

#endif
