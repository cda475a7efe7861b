/* vault.h: a Vault client for KV v2 reads (secret://vault/ references). One object per process,
 * shared by every thread that resolves secrets; it holds the address and the token, never logs
 * either, and wipes the token when freed. Requests have short timeouts (ACMS_VAULT_TIMEOUT_MS). */
#ifndef ACMS_VAULT_H
#define ACMS_VAULT_H

#include <stddef.h>

#include "acms.h"

typedef struct acms_vault acms_vault;

typedef struct acms_vault_opts {
    const char *addr;         /* VAULT_ADDR, e.g. http://127.0.0.1:8200 (required) */
    const char *token;        /* VAULT_TOKEN: a static token */
    long timeout_ms;          /* per request; 0 = 2000 */
} acms_vault_opts;

/* A client, or NULL with errstr (no address, out of memory). Strings are copied. */
acms_vault *acms_vault_new(const acms_vault_opts *o, char *errstr, size_t errstr_size);
void acms_vault_free(acms_vault *v);
/* The address (for logs; never the token). */
const char *acms_vault_addr(const acms_vault *v);

/* Reads data.data.<key> of KV v2 path into buf (NUL-terminated). ACMS_OK; ACMS_ERR_NOTFOUND (no
 * secret, no key); ACMS_ERR (permission denied, not KV v2, undecodable); ACMS_ERR_INVALID (not a
 * scalar); ACMS_ERR_RETRY (unreachable, 429, 5xx); ACMS_ERR_LIMIT (longer than size-1). errstr says
 * why without the value; buf holds no part of a value after a failure. Thread-safe. */
int acms_vault_read_kv(acms_vault *v, const char *path, const char *key, char *buf, size_t size, char *errstr,
                       size_t errstr_size);

/* Vault's transit engine: op "encrypt" sends plain (len bytes, base64-encoded) to
 * POST /v1/transit/encrypt/<key> and writes data.ciphertext ("vault:v1:...") into out; op "decrypt"
 * sends in (a ciphertext string) to /v1/transit/decrypt/<key> and writes the plain bytes into out
 * (*out_len). context (may be NULL) is sent as the derivation context (base64). ACMS_OK; ACMS_ERR
 * (refused, undecodable, too long: errstr); ACMS_ERR_RETRY (unreachable, 429, 5xx). */
int acms_vault_transit(acms_vault *v, const char *op, const char *key, const char *context, const unsigned char *in,
                       size_t len, char *out, size_t out_size, size_t *out_len, char *errstr, size_t errstr_size);

#endif
