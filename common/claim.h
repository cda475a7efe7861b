/* claim.h: the claim check for events too large for the bus (docs/bus.md, "Sizes"). A payload
 * above ACMS_MAX_MESSAGE_BYTES is stored once in Redis under its SHA-256 (acms:claim:<hex>, with a
 * TTL no shorter than the topics' retention); the event on the bus carries no payload, only the
 * headers acms_claim (the hex hash) and acms_claim_size. The consumer fetches the payload, checks
 * its size and hash, and hands the handler exactly the bytes that were produced. Invariant: a
 * claimed payload is at most ACMS_CLAIM_MAX_BYTES and is never handed on unverified. */
#ifndef ACMS_CLAIM_H
#define ACMS_CLAIM_H

#include <stddef.h>
#include <stdint.h>

#include "kafka.h"
#include "redis.h"

#define ACMS_CLAIM_MAX_BYTES ACMS_MAX_DECODE_BYTES
#define ACMS_CLAIM_TTL_S (30 * 24 * 3600) /* the longest retention in deploy/topics.yaml */

/* Stores payload under its hash (SET NX; an existing copy gets its TTL renewed); hex gets the hash.
 * ACMS_OK, ACMS_ERR_LIMIT (above ACMS_CLAIM_MAX_BYTES: reject the input), ACMS_ERR_RETRY (Redis). */
int acms_claim_put(acms_redis *r, const void *payload, size_t len, char hex[65]);

/* Fetches and verifies the payload of a claim envelope (m->claim set). On ACMS_OK *out (malloc'd,
 * the caller frees) holds m->claim_size bytes whose SHA-256 is m->claim. ACMS_ERR_POISON with
 * *reason when the payload is missing (expired), of another size or hash; ACMS_ERR_RETRY (Redis). */
int acms_claim_get(acms_redis *r, const acms_msg *m, uint8_t **out, const char **reason);

/* Produces payload on topic through k, by reference when it is above ACMS_MAX_MESSAGE_BYTES
 * (acms_claim_put, then an envelope with the claim headers). Returns acms_kafka_produce's codes,
 * or acms_claim_put's. hdrs may be NULL. */
int acms_claim_produce(acms_kafka *k, acms_redis *r, const char *topic, const char *key, const void *payload,
                       size_t len, const acms_kafka_hdrs *hdrs);

#endif
