/* config_store.h: the configuration store (the seed's storage layer as seen by the execution layer).
 * Pipeline documents are kept as immutable, numbered versions per id (id = metadata.name):
 * put(text) -> id@version, where the same content (byte-identical text, SHA-256) always gives the
 * version it already has; get(id, version | latest, context) -> the exact text with its hash.
 * Two backends behind one method table: "redis" (keys below, versions assigned atomically by one
 * server-side script) and "http" (a storage service, libcurl):
 *   GET  {base}/configs                          {"configs":[{"id","version","hash","created_ms"}]}
 *   GET  {base}/configs/{id}/versions            {"id","versions":[{"version","hash","created_ms"}]}
 *   GET  {base}/configs/{id}/versions/{n}?context={env}   {"id","version","hash","document"}
 *   GET  {base}/configs/{id}/latest?context={env}          (same)
 *   POST {base}/configs/{id}[?version={n}]   body = the document  201/200 {"id","version","hash","created"};
 *        with ?version: 409 when n is not the next version (an encrypted put seals for the version)
 *   PUT  {base}/configs/{id}/versions/{n}   If-Match: "<stored hash>"   body = the document  200
 *        (rotate-key replaces an envelope; 412 when the stored document changed meanwhile)
 *   404 = no such id or version. The client checks that hash == SHA-256(document) on every read.
 * Redis keys:
 *   acms:config:<id>:v:<n>    hash    document hash created_ms format (yaml|json)
 *   acms:config:<id>:latest   string  highest version n
 *   acms:config:<id>:hashes   hash    content hash -> version (the de-duplication index)
 *   acms:configs              set     ids
 * A handle is used by one thread at a time. Everything returned lives in the caller's arena. */
#ifndef ACMS_CONFIG_STORE_H
#define ACMS_CONFIG_STORE_H

#include <stdint.h>

#include "arena.h"
#include "redis.h"
#include "keys.h"

#define ACMS_STORE_MAX_ID 128
#define ACMS_STORE_MAX_REF (ACMS_STORE_MAX_ID + 16)

typedef struct acms_store acms_store;

/* One stored version. */
typedef struct acms_store_doc {
    const char *id;
    uint32_t version;
    char hash[65];        /* hex SHA-256 of document */
    const char *document; /* the text as put (NUL-terminated; len bytes) */
    size_t len;
    int64_t created_ms; /* 0 when the backend does not say */
    const char *format; /* "yaml" | "json" | "" */
} acms_store_doc;

/* One line of a listing: an id with its latest version, or one version of an id. */
typedef struct acms_store_entry {
    const char *id;
    uint32_t version;
    char hash[65];
    int64_t created_ms;
} acms_store_entry;

/* Opens a store from a spec: NULL, "" or "redis" = the Redis backend on redis (borrowed: it must
 * outlive the store; NULL is an error); "http://HOST:PORT[/base]" or "https://..." = the HTTP backend
 * (curl_global_init is the caller's business). NULL with errstr on a bad spec. */
acms_store *acms_store_open(const char *spec, acms_redis *redis, char *errstr, size_t errstr_size);
void acms_store_close(acms_store *s);
/* Encryption at rest: from now on documents are sealed with c (borrowed; crypt.h) before they are
 * stored, and sealed documents are opened on reads (id, version and kind "config" bound). Without
 * it a sealed document fails to read with a clear error. NULL turns sealing off. */
struct acms_crypt;
void acms_store_set_crypt(acms_store *s, const struct acms_crypt *c);
/* Re-wraps every stored document's data key under c's current master key (documents stored in
 * clear are sealed), on either backend (the HTTP one replaces each version with PUT + If-Match).
 * *n gets how many changed. ACMS_OK, ACMS_ERR_INVALID (no master key, or a document that does not
 * open), ACMS_ERR_RETRY, ACMS_ERR (errstr). */
int acms_store_rotate_key(acms_store *s, acms_arena *a, size_t *n, char *errstr, size_t errstr_size);

/* "redis" or "http". */
const char *acms_store_kind(const acms_store *s);

/* Stores text (a YAML or JSON file holding a Pipeline document; id = its metadata.name).
 * *out gets the stored version (new, or the existing one with the same content: *created = 0).
 * Returns ACMS_OK, ACMS_ERR_INVALID (not a usable pipeline document, bad name: errstr says where),
 * ACMS_ERR_LIMIT (too large), ACMS_ERR_RETRY (store unreachable), ACMS_ERR (store misbehaved). */
int acms_store_put(acms_store *s, acms_arena *a, const char *text, size_t len, acms_store_doc **out, int *created,
                   char *errstr, size_t errstr_size);
/* Reads id at version (0 = latest) for context (the environment name; "" or NULL = none: the Redis
 * backend has one document per version whatever the context). Returns ACMS_OK, ACMS_ERR_NOTFOUND
 * (no such id or version: errstr says which, with the latest version when the id exists),
 * ACMS_ERR_RETRY (unreachable), ACMS_ERR (corrupt: the hash does not match, bad answer). */
int acms_store_get(acms_store *s, acms_arena *a, const char *id, uint32_t version, const char *context,
                   acms_store_doc **out, char *errstr, size_t errstr_size);
/* id NULL: every id with its latest version (sorted by id). id given: every version of id (ascending);
 * ACMS_ERR_NOTFOUND when id is unknown. ACMS_OK, ACMS_ERR_RETRY, ACMS_ERR as above. */
int acms_store_list(acms_store *s, acms_arena *a, const char *id, acms_store_entry **out, size_t *n, char *errstr,
                    size_t errstr_size);

/* --- pure helpers (no I/O) ------------------------------------------------------------------- */

/* "id", "id@latest" (version 0) or "id@N" (N >= 1). ACMS_OK or ACMS_ERR_INVALID (errstr says why). */
int acms_store_parse_ref(const char *ref, char *id, size_t id_size, uint32_t *version, char *errstr,
                         size_t errstr_size);
/* "id@N" into buf (returns buf). */
const char *acms_store_format_ref(char *buf, size_t size, const char *id, uint32_t version);
/* 1 when id is usable as a configuration id: 1..128 of [A-Za-z0-9._-], not starting with '.' or '-'. */
int acms_store_valid_id(const char *id);
/* The id (metadata.name of the first Pipeline document) and format of text, into the arena.
 * ACMS_OK, ACMS_ERR_INVALID / ACMS_ERR_LIMIT with errstr naming the line or the field. */
int acms_store_doc_id(acms_arena *a, const char *text, size_t len, const char **id, const char **format, char *errstr,
                      size_t errstr_size);
/* Content hash: hex SHA-256 of text. */
void acms_store_hash(const char *text, size_t len, char out[65]);

/* Key builders (return buf; NULL when it does not fit). */
const char *acms_store_key_version(char *buf, size_t size, const char *id, uint32_t version);
const char *acms_store_key_latest(char *buf, size_t size, const char *id);
const char *acms_store_key_hashes(char *buf, size_t size, const char *id);
#define ACMS_STORE_KEY_IDS ACMS_KEY_CONFIGS

/* Identity of a step's command across versions of a pipeline: hex SHA-256 over the arguments, each
 * preceded by its length ("" for no command). Learned recommendations carry it: a recommendation
 * learned from another command does not apply (services/adapter/scaler.c, services/feedback). */
void acms_store_command_hash(char *const *argv, size_t argc, char out[65]);
/* The rule for learning across versions: 1 when history learned under learned_hash still applies to
 * a step whose command hashes to current_hash (equal, or either unknown: ""/NULL, i.e. learned before
 * hashes were recorded or reported by a producer without them), 0 when the command changed. */
int acms_store_command_applies(const char *learned_hash, const char *current_hash);

#endif
