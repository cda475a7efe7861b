/* vault.h: a Vault client for the services: KV v2 reads (secret://vault/ references) and the transit
 * engine (encryption at rest). One object per process, shared by every thread. Authentication: a
 * static token (VAULT_TOKEN), AppRole (VAULT_ROLE_ID + VAULT_SECRET_ID or VAULT_SECRET_ID_FILE) or
 * Kubernetes (VAULT_K8S_ROLE + the service account token, VAULT_K8S_TOKEN_FILE); a token from a login
 * is renewed (renew-self) before a third of its lease is left and the client logs in again when
 * renewal is refused or the token was revoked or expired under it (a 403 is retried once after a new
 * login). VAULT_NAMESPACE goes on every request. KV answers are cached for their lease, at most
 * VAULT_CACHE_TTL_S (default 30; 0 = no cache), values wiped on eviction. Requests time out after
 * ACMS_VAULT_TIMEOUT_MS (2000); after a request that timed out or could not connect the client fails
 * fast (ACMS_ERR_RETRY) for ACMS_VAULT_BACKOFF_MS (5000), so a slow Vault costs a consume loop at
 * most one timeout per back-off period. Never logs a token, a secret id or a value. */
#ifndef ACMS_VAULT_H
#define ACMS_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include "acms.h"

typedef struct acms_vault acms_vault;

typedef struct acms_vault_opts {
    const char *addr;    /* VAULT_ADDR, e.g. https://vault:8200 (required) */
    const char *token;   /* VAULT_TOKEN: a static token */
    const char *role_id; /* AppRole */
    const char *secret_id;
    const char *k8s_role;     /* Kubernetes auth */
    const char *k8s_jwt_file; /* default /var/run/secrets/kubernetes.io/serviceaccount/token */
    const char *auth_mount;   /* "approle" / "kubernetes" by default */
    const char *ns;           /* VAULT_NAMESPACE ("" = none) */
    const char *cacert;       /* VAULT_CACERT: CA bundle for https */
    long timeout_ms;          /* per request; 0 = 2000 */
    long backoff_ms;          /* fail fast after a transport failure; 0 = 5000, <0 = never */
    long cache_ttl_s;         /* upper bound of the KV cache; 0 = no cache, <0 = default 30 */
} acms_vault_opts;

/* A client, or NULL with errstr (no address, an AppRole half given, out of memory). Strings are
 * copied. No request is made here: the first login happens on first use. */
acms_vault *acms_vault_new(const acms_vault_opts *o, char *errstr, size_t errstr_size);
/* From VAULT_ADDR and the variables above; *out NULL (ACMS_OK) when VAULT_ADDR is unset. */
int acms_vault_from_env(acms_vault **out, char *errstr, size_t errstr_size);
void acms_vault_free(acms_vault *v);
/* The address (for logs; never the token). */
const char *acms_vault_addr(const acms_vault *v);

/* Reads data.data.<key> of KV v2 path into buf (NUL-terminated). ACMS_OK; ACMS_ERR_NOTFOUND (no
 * secret, no key); ACMS_ERR (permission denied, login refused, not KV v2, undecodable);
 * ACMS_ERR_INVALID (not a scalar); ACMS_ERR_RETRY (unreachable, slow, 429, 5xx, backing off);
 * ACMS_ERR_LIMIT (longer than size-1). errstr says why without the value; buf holds no part of a
 * value after a failure. Thread-safe. */
int acms_vault_read_kv(acms_vault *v, const char *path, const char *key, char *buf, size_t size, char *errstr,
                       size_t errstr_size);

/* Vault's transit engine: op "encrypt" sends plain (len bytes, base64-encoded) to
 * POST /v1/transit/encrypt/<key> and writes data.ciphertext ("vault:v1:...") into out; op "decrypt"
 * sends in (a ciphertext string) to /v1/transit/decrypt/<key> and writes the plain bytes into out
 * (*out_len). context (may be NULL) is sent as the derivation context (base64). ACMS_OK; ACMS_ERR
 * (refused, undecodable, too long: errstr); ACMS_ERR_RETRY (unreachable, 429, 5xx). */
int acms_vault_transit(acms_vault *v, const char *op, const char *key, const char *context, const unsigned char *in,
                       size_t len, char *out, size_t out_size, size_t *out_len, char *errstr, size_t errstr_size);

/* Counters for tests and metrics. */
typedef struct acms_vault_stats {
    uint64_t logins, renewals, requests, cache_hits, fast_failures;
} acms_vault_stats;
void acms_vault_get_stats(acms_vault *v, acms_vault_stats *out);

#endif
