/* handlers.h: the acms-validator service's message handling. handle.c sends one message to the
 * handler of its topic (on_prepared.c: acms.config.prepared, on_step.c: acms.exec.steps); batch.c
 * validates the ConfigPrepared events waiting in the queue together, with the same outcome per
 * message. Status writes are monotonic and published ids derive from the input event, so a
 * redelivery is harmless. Every handler returns ACMS_OK, ACMS_ERR_RETRY (redeliver) or
 * ACMS_ERR_POISON with *reason set (dead-letter). */
#ifndef ACMS_VALIDATOR_HANDLERS_H
#define ACMS_VALIDATOR_HANDLERS_H

#include "service.h"
#include "validator/validator.h"

#define VALIDATOR_SERVICE "acms-validator"

/* One message of either input topic (acms_service_ops.handle); another topic's is a poison. */
int validator_handle(const validator_ctx *c, acms_service *svc, const acms_msg *msg, const char **reason);
/* The messages waiting, together (acms_service_ops.handle_batch): rcs[i], reasons[i] as
 * validator_handle would give them. Returns ACMS_OK. */
int validator_handle_batch(const validator_ctx *c, acms_service *svc, const acms_msg *msgs, size_t n, int *rcs,
                           const char **reasons);

/* --- on_prepared.c: ConfigPrepared -> ValidationResultEvent, then ConfigValidated ------------- */
int validator_on_prepared(const validator_ctx *c, acms_service *svc, acms_arena *a, const acms_msg *msg,
                          const char **reason);
/* The ConfigPrepared in msg, or NULL (a poison, *reason set). */
Acms__V1__ConfigPrepared *validator_prepared_decode(acms_arena *a, const acms_msg *msg, const char **reason);
/* The verdict as the run keeps it (acms:run:<run>:validation): packed, in the arena (*len bytes;
 * "" when it cannot be packed). */
const char *validator_result_packed(acms_arena *a, const Acms__V1__ValidationResult *res, size_t *len);
/* The run's status for a verdict ("validated" or "rejected"), and its fields in kv (room for 4). */
const char *validator_verdict_status(acms_arena *a, const Acms__V1__ValidationResult *res, const char **kv,
                                     size_t *nkv);
/* After the status write (applied or refused): the result events. msg: the ConfigPrepared as
 * received; packed: res as packed for the run's record; secs: the validation's duration.
 * ACMS_OK or ACMS_ERR_RETRY. */
int validator_prepared_publish(acms_service *svc, acms_arena *a, const acms_msg *msg,
                               const Acms__V1__ConfigPrepared *in, Acms__V1__ValidationResult *res, const char *packed,
                               size_t packed_len, double secs);
/* A ValidationResultEvent about m's run, its id derived from m's with salt (arena). */
Acms__V1__ValidationResultEvent *validator_result_event(acms_arena *a, const Acms__V1__EventMeta *m, const char *salt,
                                                        const char *pipeline, const char *env,
                                                        Acms__V1__ValidationResult *res);

/* --- on_step.c: StepEvent -> a runtime ValidationResultEvent when the step shows issues -------- */
int validator_on_step(const validator_ctx *c, acms_service *svc, acms_arena *a, const acms_msg *msg,
                      const char **reason);

#endif
