/* config_store_int.h: the configuration store's backend method table and the pure decoding helpers the
 * backends share (config_store.c, config_store_redis.c, config_store_http.c; unit tests may include it). Not part of the
 * API. Backends receive validated input: put gets the id, format and hash already computed. */
#ifndef ACMS_CONFIG_STORE_INT_H
#define ACMS_CONFIG_STORE_INT_H

#include "config_store.h"

typedef struct acms_store_ops {
    const char *kind;
    int (*put)(acms_store *s, acms_arena *a, const char *id, const char *format, const char *text, size_t len,
               const char *hash, acms_store_doc **out, int *created, char *errstr, size_t errstr_size);
    int (*get)(acms_store *s, acms_arena *a, const char *id, uint32_t version, const char *context,
               acms_store_doc **out, char *errstr, size_t errstr_size);
    int (*list)(acms_store *s, acms_arena *a, const char *id, acms_store_entry **out, size_t *n, char *errstr,
                size_t errstr_size);
    /* Re-wraps every stored data key under the current master key (acms_store_rotate_key). */
    int (*rotate)(acms_store *s, acms_arena *a, size_t *n, char *errstr, size_t errstr_size);
    void (*close)(acms_store *s);
} acms_store_ops;

struct acms_store {
    const acms_store_ops *ops;
    acms_redis *redis;              /* redis: borrowed */
    char *base;                     /* http: base URL without a trailing '/' (malloc'd) */
    void *curl;                     /* http: a CURL easy handle, re-used for keep-alive */
    const struct acms_crypt *crypt; /* NULL: documents stored as given; else sealed (crypt.h) */
};

extern const acms_store_ops acms_store__redis_ops;
extern const acms_store_ops acms_store__http_ops;

/* Encryption at rest, the same for every backend: a stored version is sealed as kind "config" with
 * its id and version bound (crypt.h), so an envelope copied to another id or version does not open.
 * seal: text into an envelope for id@version with s->crypt. open: an envelope of id@version into
 * its plain text; errstr names the configuration and why ("sealed for another configuration or
 * version", "no master key is set", "not configured"). rewrap: the envelope (or a document stored
 * in clear) under the current master key, *changed = 0 when it already was. All in the arena;
 * returns as acms_crypt_seal / acms_crypt_open / acms_crypt_rewrap (ACMS_OK, ACMS_ERR_INVALID,
 * ACMS_ERR, ACMS_ERR_RETRY). */
int acms_store__seal(const acms_store *s, acms_arena *a, const char *id, uint32_t version, const char *text, size_t len,
                     char **env, size_t *env_len, char *errstr, size_t errstr_size);
int acms_store__open(const acms_store *s, acms_arena *a, const char *id, uint32_t version, const char *env,
                     size_t env_len, char **plain, size_t *plain_len, char *errstr, size_t errstr_size);
int acms_store__rewrap(const acms_store *s, acms_arena *a, const char *id, uint32_t version, const char *env,
                       size_t env_len, char **out, size_t *out_len, int *changed, char *errstr, size_t errstr_size);

/* Format error text into errstr (truncation is acceptable for a message). */
void acms_store__err(char *errstr, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A stored version from its field/value pairs (HGETALL of acms:config:<id>:v:<n>; values may hold
 * any bytes, hence the lengths). Checks that the document is there and that its SHA-256 equals the
 * stored hash. ACMS_OK, ACMS_ERR_NOTFOUND (no fields), ACMS_ERR (corrupt, errstr says why). */
int acms_store__doc_from_fields(acms_arena *a, const char *id, uint32_t version, const char *const *kv,
                                const size_t *kvlen, size_t nkv, acms_store_doc **out, char *errstr,
                                size_t errstr_size);
/* A stored version from an HTTP answer {"id","version","hash","document"[,"created_ms","format"]}.
 * want_version 0 accepts any version >= 1. Checks id, version and hash == SHA-256(document).
 * ACMS_OK or ACMS_ERR with errstr. */
int acms_store__doc_from_json(acms_arena *a, const char *json, size_t len, const char *want_id, uint32_t want_version,
                              acms_store_doc **out, char *errstr, size_t errstr_size);
/* Entries from {"configs":[...]} (listing ids) or {"versions":[...]} (id given). ACMS_OK or ACMS_ERR. */
int acms_store__entries_from_json(acms_arena *a, const char *json, size_t len, const char *id, acms_store_entry **out,
                                  size_t *n, char *errstr, size_t errstr_size);
/* Sorts entries by id, then version. */
void acms_store__sort(acms_store_entry *v, size_t n);

#endif
