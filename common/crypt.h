/* crypt.h: encryption at rest (envelope encryption). Each object gets its own random 256-bit data
 * key; the object is encrypted with AES-256-GCM under it, with the object's kind, id and version as
 * associated data (an envelope moved to another key, id or version does not open); the data key is
 * wrapped by the master key (AES-256-GCM, the same binding) from ACMS_MASTER_KEY_FILE (32 bytes,
 * or 64 hex digits) or by Vault's transit engine (ACMS_MASTER_KEY_TRANSIT=<key name>). The envelope
 * is text, stored where the plain object was:
 *   acmsenc1:<key id>:<base64 wrapped data key>:<base64 nonce>:<base64 ciphertext+tag>
 * The key id (file: "f-" + 16 hex digits of the key's SHA-256; transit: "t-<name>") says which
 * master key wrapped it. Older master keys (ACMS_MASTER_KEY_FILE_PREVIOUS, comma-separated files)
 * still open envelopes; acms_crypt_rewrap moves an envelope's data key under the current master key
 * without touching the ciphertext. Plain keys and data keys are wiped after use. libcrypto (OpenSSL,
 * already linked for SHA-256) does the cryptography. Thread-safe after creation. */
#ifndef ACMS_CRYPT_H
#define ACMS_CRYPT_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "vault.h"

#define ACMS_CRYPT_PREFIX "acmsenc1:"

typedef struct acms_crypt acms_crypt;

/* From the environment: NULL in *out (ACMS_OK) when no master key is configured. vault (borrowed,
 * may be NULL) serves ACMS_MASTER_KEY_TRANSIT. ACMS_ERR_INVALID with errstr when a key file is
 * missing, unreadable, not 32 bytes (or 64 hex digits), or transit is asked without VAULT_ADDR. */
int acms_crypt_from_env(acms_crypt **out, acms_vault *vault, char *errstr, size_t errstr_size);
/* A key ring over explicit key files (tests and tools): primary first. Same returns. */
int acms_crypt_from_files(acms_crypt **out, const char *primary, const char *previous, char *errstr,
                          size_t errstr_size);
void acms_crypt_free(acms_crypt *c);
/* The current master key's id. */
const char *acms_crypt_key_id(const acms_crypt *c);

/* Is data an envelope (starts with ACMS_CRYPT_PREFIX)? */
int acms_crypt_is_envelope(const char *data, size_t len);

/* Seals plain into an envelope (NUL-terminated, in the arena). ACMS_OK, ACMS_ERR (libcrypto or
 * Vault failed: errstr), ACMS_ERR_RETRY (Vault unreachable). */
int acms_crypt_seal(const acms_crypt *c, acms_arena *a, const char *kind, const char *id, uint32_t version,
                    const void *plain, size_t len, char **out, size_t *out_len, char *errstr, size_t errstr_size);
/* Opens an envelope sealed for kind/id/version into *plain (NUL-terminated, arena). c may be NULL.
 * ACMS_OK; ACMS_ERR_INVALID with a clear errstr when no master key is set, the envelope's key is not
 * in the ring, or the key is wrong / the data was altered (authentication failed); ACMS_ERR when
 * the envelope is malformed; ACMS_ERR_RETRY (Vault unreachable). */
int acms_crypt_open(const acms_crypt *c, acms_arena *a, const char *kind, const char *id, uint32_t version,
                    const char *env, size_t env_len, char **plain, size_t *plain_len, char *errstr, size_t errstr_size);
/* The same envelope with its data key wrapped by the current master key (*out = env when it already
 * is; a plain object is sealed). Returns as acms_crypt_open; *changed says whether *out differs. */
int acms_crypt_rewrap(const acms_crypt *c, acms_arena *a, const char *kind, const char *id, uint32_t version,
                      const char *env, size_t env_len, char **out, size_t *out_len, int *changed, char *errstr,
                      size_t errstr_size);

#endif
