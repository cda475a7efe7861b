/* claim.c: the claim check (claim.h): Redis holds oversized payloads by hash, the bus the reference. */
#include "claim.h"
#include "keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pb.h"

static void claim_key(const char *hex, char *key, size_t size)
{
    acms_key_claim(key, size, hex);
}

int acms_claim_put(acms_redis *r, const void *payload, size_t len, char hex[65])
{
    char key[100], ttl[24];
    redisReply *rep;
    int rc = ACMS_OK;

    if (len > ACMS_CLAIM_MAX_BYTES)
        return ACMS_ERR_LIMIT;
    acms_sha256_hex(payload, len, hex);
    claim_key(hex, key, sizeof key);
    snprintf(ttl, sizeof ttl, "%d", ACMS_CLAIM_TTL_S);
    const char *argv[] = {"SET", key, payload, "EX", ttl, "NX"};
    const size_t argl[] = {3, strlen(key), len, 2, strlen(ttl), 2};
    rep = acms_redis_cmdargv(r, 6, argv, argl);
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        rc = ACMS_ERR_RETRY;
    } else if (rep->type == REDIS_REPLY_NIL) { /* stored before: the same bytes (same hash) */
        freeReplyObject(rep);
        rep = acms_redis_cmd(r, "EXPIRE %s %d", key, ACMS_CLAIM_TTL_S);
        rc = rep && rep->type != REDIS_REPLY_ERROR ? ACMS_OK : ACMS_ERR_RETRY;
    }
    if (rep)
        freeReplyObject(rep);
    return rc;
}

int acms_claim_get(acms_redis *r, const acms_msg *m, uint8_t **out, const char **reason)
{
    char key[100], hex[65];
    redisReply *rep;
    int rc = ACMS_ERR_POISON;

    *out = NULL;
    if (strlen(m->claim) != 64 || m->claim_size > ACMS_CLAIM_MAX_BYTES) {
        *reason = "malformed claim check (acms_claim header)";
        return ACMS_ERR_POISON;
    }
    claim_key(m->claim, key, sizeof key);
    rep = acms_redis_cmd(r, "GET %s", key);
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        rc = ACMS_ERR_RETRY;
    } else if (rep->type != REDIS_REPLY_STRING) {
        *reason = "claim-checked payload missing from Redis (expired or never stored)";
    } else if ((size_t)rep->len != m->claim_size) {
        *reason = "claim-checked payload has another size than its event says";
    } else if (acms_sha256_hex(rep->str, rep->len, hex), strcmp(hex, m->claim)) {
        *reason = "claim-checked payload does not match its hash";
    } else if ((*out = malloc(rep->len ? rep->len : 1)) == NULL) {
        rc = ACMS_ERR_NOMEM;
    } else {
        memcpy(*out, rep->str, rep->len);
        rc = ACMS_OK;
    }
    if (rep)
        freeReplyObject(rep);
    return rc;
}

int acms_claim_produce(acms_kafka *k, acms_redis *r, const char *topic, const char *key, const void *payload,
                       size_t len, const acms_kafka_hdrs *hdrs)
{
    acms_kafka_hdrs h = {0};
    char hex[65];
    int rc;

    if (len <= ACMS_MAX_MESSAGE_BYTES)
        return acms_kafka_produce(k, topic, key, payload, len, hdrs);
    rc = acms_claim_put(r, payload, len, hex);
    if (rc != ACMS_OK) {
        if (rc == ACMS_ERR_LIMIT)
            acms_log_error(key, NULL, "event for %s is %zu bytes, above the claim-check limit %d: not sent", topic, len,
                           ACMS_CLAIM_MAX_BYTES);
        return rc;
    }
    if (hdrs)
        h = *hdrs;
    h.claim = hex;
    h.claim_size = len;
    acms_log_debug(key, NULL, "event for %s (%zu bytes) sent by reference acms:claim:%s", topic, len, hex);
    return acms_kafka_produce(k, topic, key, "", 0, &h);
}
