/* acms.h: the return codes every layer uses, the schema version on the wire and the default topics.
 * Codes are small negative ints; ACMS_OK is 0. Functions document which codes they return. */
#ifndef ACMS_H
#define ACMS_H

#include <stddef.h>
#include <stdint.h>

#ifndef ACMS_VERSION
#define ACMS_VERSION "0.0.0"
#endif

#define ACMS_SCHEMA_VERSION 1

enum {
    ACMS_OK = 0,
    ACMS_ERR = -1,        /* generic failure, errstr says why */
    ACMS_ERR_RETRY = -2,  /* transient (Redis/broker unreachable): do not commit, try again later */
    ACMS_ERR_POISON = -3, /* the input can never be processed: dead-letter it and go on */
    ACMS_ERR_NOTFOUND = -4,
    ACMS_ERR_INVALID = -5, /* bad input given by a user (file, flag) */
    ACMS_ERR_NOMEM = -6,
    ACMS_ERR_LIMIT = -7, /* an input limit was exceeded */
    ACMS_ERR_STALE = -8, /* a version read before a write changed meanwhile: re-read and try again */
};

/* Input limits (documented in docs/limits.md; the bus sizes in docs/bus.md, "Sizes").
 * ACMS_BUS_MAX_BYTES is the one size limit of the bus: the producer's message.max.bytes and
 * batch.size, and every topic's max.message.bytes in deploy/topics.yaml (acmsctl refuses a spec
 * that differs). An event's payload may use all of it but the reserve for key, headers and the
 * record framing: ACMS_MAX_MESSAGE_BYTES, which the consumers' guard enforces and above which a
 * producer sends the payload by reference (claim.h) or rejects the input. */
#define ACMS_BUS_MAX_BYTES (1024 * 1024)
#define ACMS_BUS_RESERVE_BYTES (16 * 1024)
#define ACMS_MAX_MESSAGE_BYTES (ACMS_BUS_MAX_BYTES - ACMS_BUS_RESERVE_BYTES)
/* The largest payload decoded: one that came by reference (claim.h, ACMS_CLAIM_MAX_BYTES). */
#define ACMS_MAX_DECODE_BYTES (64 * 1024 * 1024)
#define ACMS_MAX_FILE_BYTES (4 * 1024 * 1024) /* config files above are refused */
#define ACMS_MAX_DEPTH 64                     /* nesting depth of a document */
#define ACMS_MAX_STEPS 5000                   /* steps per pipeline */
#define ACMS_MAX_STRING 65536                 /* one scalar */

typedef enum {
    ACMS_TOPIC_CONFIG_SUBMITTED,
    ACMS_TOPIC_CONFIG_PREPARED,
    ACMS_TOPIC_CONFIG_VALIDATED,
    ACMS_TOPIC_VALIDATION_RESULTS,
    ACMS_TOPIC_EXEC_STEPS,
    ACMS_TOPIC_EXEC_RESULTS,
    ACMS_TOPIC_EXEC_ADAPTATIONS,
    ACMS_TOPIC_EXEC_ADAPTED,
    ACMS_TOPIC_MONITOR_ALERTS,
    ACMS_TOPIC_FEEDBACK_INSIGHTS,
    ACMS_TOPIC_CONTROL,
    ACMS_TOPIC_DEADLETTER,
    ACMS_TOPIC__COUNT
} acms_topic;

/* Default name of a topic ("acms.config.submitted", ...). */
const char *acms_topic_default_name(acms_topic t);

/* Returns a static string for an ACMS_* code. */
const char *acms_strerror(int code);

/* Milliseconds since the Unix epoch (wall clock) and a monotonic clock. */
int64_t acms_now_ms(void);
int64_t acms_mono_ms(void);

#endif
