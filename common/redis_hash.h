/* redis_hash.h: the services' all-or-nothing, seen-guarded hash writes, one Lua script per event.
 * An event's effects (counters, fields, versions of several hashes) and its seen marker are written
 * in the same script, so a redelivered event changes nothing and a crash leaves all or none of it.
 * Every precondition (the seen marker, each expected version) is checked before the first write. */
#ifndef ACMS_REDIS_HASH_H
#define ACMS_REDIS_HASH_H

#include <stddef.h>

#include "arena.h"
#include "redis.h"

/* One hash's part of an event. Lists hold field/value strings, two per pair (an odd last one is
 * ignored); incr values are integers (HINCRBY). */
typedef struct acms_hash_op {
    const char *key;
    const char *expect_version; /* NULL or "": unversioned; else the hash's 'version' must equal it
                                   (a missing one is "0") and becomes expect + 1 */
    int replace;                /* DEL the hash before writing */
    int ttl_s;                  /* > 0: EXPIRE after writing */
    const char *run_id;         /* a key of this run (retention.h): once the run has ended its expiry
                                   applies instead of ttl_s; a run that is gone gets no write */
    const char **setnx;         /* HSETNX: fields written only once */
    size_t nsetnx;
    const char **set; /* HSET */
    size_t nset;
    const char **incr; /* HINCRBY */
    size_t nincr;
} acms_hash_op;

/* Appends a field/value pair to one of an op's lists (copies, arrays grow in the arena). */
void acms_hash_op_add(acms_arena *a, const char ***arr, size_t *n, const char *field, const char *value);

/* Applies ops atomically. seen_key NULL: unguarded; else nothing is written when it exists, and it is
 * set (EX seen_ttl_s) with the effects. Returns 1 applied, 0 already seen (nothing written),
 * ACMS_ERR_STALE a version did not match (nothing written: re-read and retry), ACMS_ERR_RETRY when
 * Redis is unreachable or the script failed. */
int acms_hash_apply(acms_redis *r, const char *seen_key, int seen_ttl_s, const acms_hash_op *ops, size_t nops);

#endif
