/* vault_int.h: the Vault client's state and its one request function, shared by vault.c (requests,
 * logins, renewal), vault_kv.c (KV reads and their cache) and vault_transit.c. Not part of the API. */
#ifndef ACMS_VAULT_INT_H
#define ACMS_VAULT_INT_H

#include <pthread.h>

#include <cjson/cJSON.h>

#include "vault.h"

typedef enum { VAULT_AUTH_TOKEN, VAULT_AUTH_APPROLE, VAULT_AUTH_K8S } vault_auth;

typedef struct vault_cache_entry {
    char *path;
    char *data;         /* data.data of the answer, JSON text (values: wiped on eviction) */
    int64_t expires_ms; /* monotonic */
    struct vault_cache_entry *next;
} vault_cache_entry;

struct acms_vault {
    char *addr, *ns, *cacert, *mount;
    vault_auth auth;
    char *role_id, *secret_id, *k8s_role, *k8s_jwt_file;
    long timeout_ms, backoff_ms, cache_ttl_s;
    pthread_mutex_t mu; /* guards everything below */
    char *token;
    int64_t token_expires_ms; /* monotonic; 0 = does not expire (static token) */
    int64_t token_ttl_ms;
    int renewable;
    int64_t down_until_ms; /* fail fast until then (a transport failure) */
    vault_cache_entry *cache;
    acms_vault_stats stats;
};

/* One request: GET (body NULL) or POST path (after /v1/) with the namespace header and, when
 * with_token, a valid token (logging in or renewing first; a 403 logs in again and retries once).
 * *status gets the HTTP status; *json the parsed answer (any status; NULL when none or undecodable;
 * free with acms_vault__json_free). ACMS_OK when Vault answered; ACMS_ERR_RETRY (unreachable, slow,
 * backing off); ACMS_ERR (login refused, out of memory: errstr). */
int acms_vault__request(acms_vault *v, const char *path, const char *body, int with_token, long *status, cJSON **json,
                        char *errstr, size_t errstr_size);
void acms_vault__json_free(cJSON *j);
void acms_vault__wipe_free(char *s);

#endif
