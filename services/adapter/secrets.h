/* secrets.h: secret references and their resolution, shared by the adapter (prepare-time checks)
 * and the coordinator's executors (resolution at the last moment, into the step's environment).
 *   secret://env/NAME              a variable of the resolving process's environment
 *   secret://file/PATH             a file's content (PATH is absolute: secret://file/run/secrets/db)
 *   secret://vault/<kv path>#<key> Vault KV v2: GET $VAULT_ADDR/v1/<kv path>, data.data.<key>
 *   secret://k8s/<secret>#<key>    a key of an existing Kubernetes Secret in the steps' namespace:
 *                                  never resolved here, the kubernetes executor references it
 * A resolved value is written only into the caller's buffer: never logged, never in errstr. */
#ifndef ACMS_ADAPTER_SECRETS_H
#define ACMS_ADAPTER_SECRETS_H

#include "adapter.h"

#define ADAPTER_SECRET_PREFIX "secret://"

typedef enum {
    ADAPTER_SECRET_ENV = 1,
    ADAPTER_SECRET_FILE = 2,
    ADAPTER_SECRET_VAULT = 3,
    ADAPTER_SECRET_K8S = 4,
} adapter_secret_kind;

typedef struct adapter_secret_ref {
    adapter_secret_kind kind;
    char path[1024];     /* env: variable name; file: absolute path; vault: kv path (kv/data/app/db);
                          * k8s: the Secret's name */
    char key[256];       /* vault: the key inside data.data; k8s: the Secret's key; "" otherwise */
} adapter_secret_ref;

/* Is s a secret reference (starts with "secret://")? Says nothing about its form. */
int adapter_secret_is_ref(const char *s);

/* Parses ref into *out. Returns ACMS_OK; ACMS_ERR_NOTFOUND when ref is not a secret reference at
 * all; ACMS_ERR_INVALID when it is one but malformed (unknown backend, empty or bad name, ".."
 * path components, vault reference without #key, too long). */
int adapter_secret_parse(const char *ref, adapter_secret_ref *out);

/* Resolves ref into buf (NUL-terminated; a file's single trailing newline is dropped).
 * Returns ACMS_OK; ACMS_ERR_INVALID (malformed ref or backend not configured, e.g. no VAULT_ADDR);
 * ACMS_ERR_NOTFOUND (no such variable, file, secret or key); ACMS_ERR (permission denied);
 * ACMS_ERR_RETRY (backend unreachable or failing: timeouts of 2 s); ACMS_ERR_LIMIT (value longer
 * than size-1: buf is wiped). errstr names the reference and the reason, never the value.
 * On any failure buf holds no part of a value. Safe from any thread (one curl handle per call). */
int adapter_secret_resolve(const adapter_ctx *ctx, const char *ref, char *buf, size_t size, char *errstr,
                           size_t errstr_size);

#endif
