/* secret.h: secret references, the one parser and resolver of the `secret://` syntax, used by the
 * adapter (prepare-time checks), the validator (syntax) and every executor (resolution at the last
 * moment). Invariants: a reference is resolved only when it is inside the caller's scopes, and never
 * when it names the services' own credentials (ACMS_*, VAULT_*, Kafka and Redis variables, the deny
 * list); a file is read only through a path with no symbolic link and only when it is a regular file;
 * a resolved value is written only into the caller's buffer: never logged, never in errstr.
 *   secret://env/NAME              a variable of the resolving process's environment
 *   secret://file/PATH             a file's content (PATH is absolute: secret://file/var/lib/x/db)
 *   secret://vault/<kv path>#<key> Vault KV v2: GET $VAULT_ADDR/v1/<kv path>, data.data.<key>
 *   secret://k8s/<secret>#<key>    a key of an existing Kubernetes Secret in the steps' namespace:
 *                                  never resolved by a service, handed to the Pod as a secretKeyRef
 *                                  by the kubernetes executor
 * Scopes (an environment's secret_scopes) are references too:
 *   secret://env/NAME     exactly that variable      secret://env/PREFIX_*  variables starting so
 *   secret://file/DIR/    files under DIR            secret://file/PATH     exactly that file
 *   secret://vault/P/     KV paths under P           secret://vault/P#key   exactly that key
 *   secret://k8s/NAME     every key of that Secret   secret://k8s/NAME#key  exactly that key
 *   secret://k8s/PREFIX*  Secrets whose name starts so
 * "*" and a bare backend (secret://env/) are not scopes: nothing matches them. */
#ifndef ACMS_SECRET_H
#define ACMS_SECRET_H

#include <stddef.h>

#include "acms.h"

#define ACMS_SECRET_PREFIX "secret://"
#define ACMS_SECRET_MAX_VALUE 65536

typedef enum {
    ACMS_SECRET_ENV = 1,
    ACMS_SECRET_FILE = 2,
    ACMS_SECRET_VAULT = 3,
    ACMS_SECRET_K8S = 4,
} acms_secret_kind;

typedef struct acms_secret_ref {
    acms_secret_kind kind;
    char path[1024]; /* env: variable name; file: absolute path; vault: kv path (kv/data/app/db);
                          * k8s: the Secret's name */
    char key[256];   /* vault: the key inside data.data; k8s: the Secret's key; "" otherwise */
} acms_secret_ref;

typedef struct acms_vault acms_vault;

/* What resolution needs besides the reference. Strings are borrowed. */
typedef struct acms_secret_ctx {
    acms_vault *vault;    /* NULL: vault references do not resolve */
    const char *env_deny; /* ACMS_SECRET_ENV_DENY: comma-separated NAME or PREFIX* never resolved
                                 * through secret://env/, beside the built-in list */
} acms_secret_ctx;

/* Fills ctx from the process environment: a vault client when VAULT_ADDR is set (vault.h),
 * the deny list from ACMS_SECRET_ENV_DENY. ACMS_OK or ACMS_ERR_INVALID with errstr. Release with
 * acms_secret_ctx_release (curl_global_init is the caller's business). */
int acms_secret_ctx_from_env(acms_secret_ctx *ctx, char *errstr, size_t errstr_size);
void acms_secret_ctx_release(acms_secret_ctx *ctx);

/* Is s a secret reference (starts with "secret://")? Says nothing about its form. */
int acms_secret_is_ref(const char *s);

/* Parses ref into *out. Returns ACMS_OK; ACMS_ERR_NOTFOUND when ref is not a secret reference at
 * all; ACMS_ERR_INVALID when it is one but malformed (unknown backend, empty or bad name, ".", ".."
 * or empty path components, vault reference without #key, control characters, too long). *why
 * (may be NULL) gets a static sentence saying what is wrong. */
int acms_secret_parse(const char *ref, acms_secret_ref *out, const char **why);

/* Does the environment variable name belong to the services (ACMS_*, VAULT_*, KAFKA_*, REDIS*,
 * SASL_*, or the deny list)? Such a variable never resolves through secret://env/. */
int acms_secret_env_denied(const char *deny, const char *name);

/* NULL when scope is a usable scope (see above), else why not (static). */
const char *acms_secret_scope_problem(const char *scope);

/* Is the parsed reference inside one of the scopes? File and vault directory scopes match on whole
 * path components (secret://file/a/ does not cover /ab). Malformed scopes match nothing. */
int acms_secret_in_scope(const acms_secret_ref *r, char *const *scopes, size_t nscopes);

/* Resolves ref into buf (NUL-terminated; a file's single trailing newline is dropped) after
 * checking it: well formed, inside scopes (nscopes 0 = nothing is), not a denied variable.
 * Returns ACMS_OK; ACMS_ERR_INVALID (malformed, out of scope, denied, not a regular file, a
 * symbolic link on the path, backend not configured); ACMS_ERR_NOTFOUND (no such variable, file,
 * secret or key); ACMS_ERR (permission denied); ACMS_ERR_RETRY (backend unreachable or failing);
 * ACMS_ERR_LIMIT (value longer than size-1). A secret://k8s/ reference never resolves here
 * (ACMS_ERR_INVALID): only the kubernetes executor refers to it, from the Pod. errstr names the reference and the reason, never the
 * value. On any failure buf holds no part of a value. Thread-safe when the vault client is. */
int acms_secret_resolve(const acms_secret_ctx *ctx, const char *ref, char *const *scopes, size_t nscopes, char *buf,
                        size_t size, char *errstr, size_t errstr_size);

/* Opens an absolute path for reading with no symbolic link in any component (each directory opened
 * with O_NOFOLLOW from "/", the file too) and checks it is a regular file. Returns the descriptor
 * (O_CLOEXEC) or -1 with errno set: ELOOP for a link, EINVAL for a path that is not absolute or a
 * file that is not regular. Also used for input files that must not be swapped under us. */
int acms_secret_open_nofollow(const char *path);

#endif
