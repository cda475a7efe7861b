/* vault_kv.c: KV v2 reads (secret://vault/<path>#<key>) and their lease-aware cache. Invariant: a
 * cached answer lives no longer than its lease and VAULT_CACHE_TTL_S, and its text is wiped when it
 * is replaced, expires or the client is freed; a value leaves only into the caller's buffer. */
#include "vault_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int put_value(const char *s, size_t len, char *buf, size_t size)
{
    if (len >= size)
        return ACMS_ERR_LIMIT;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return ACMS_OK;
}

/* data.data.<key> of a KV answer (kv is data.data) into buf. */
static int extract(const cJSON *kv, const char *path, const char *key, char *buf, size_t size, char *err, size_t errn)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(kv, key);
    char tmp[64];
    int rc;
    if (!cJSON_IsObject(kv)) {
        snprintf(err, errn, "vault answer has no data.data (is %s a KV v2 path?)", path);
        return ACMS_ERR;
    }
    if (cJSON_IsString(item) && item->valuestring) {
        rc = put_value(item->valuestring, strlen(item->valuestring), buf, size);
    } else if (cJSON_IsNumber(item) || cJSON_IsBool(item)) {
        int n = cJSON_IsBool(item) ? snprintf(tmp, sizeof tmp, "%s", cJSON_IsTrue(item) ? "true" : "false")
                                   : snprintf(tmp, sizeof tmp, "%.17g", item->valuedouble);
        rc = n > 0 ? put_value(tmp, (size_t)n, buf, size) : ACMS_ERR;
        explicit_bzero(tmp, sizeof tmp);
    } else if (item) {
        snprintf(err, errn, "key %s is not a scalar", key);
        return ACMS_ERR_INVALID;
    } else {
        snprintf(err, errn, "key %s absent from the secret", key);
        return ACMS_ERR_NOTFOUND;
    }
    if (rc == ACMS_ERR_LIMIT)
        snprintf(err, errn, "value longer than %zu bytes", size - 1);
    return rc;
}

static int status_rc(long status, const char *path, char *err, size_t errn)
{
    if (status == 404) {
        snprintf(err, errn, "no secret at %s (HTTP 404)", path);
        return ACMS_ERR_NOTFOUND;
    }
    if (status == 401 || status == 403) {
        snprintf(err, errn, "permission denied (HTTP %ld)", status);
        return ACMS_ERR;
    }
    if (status == 429 || status >= 500) {
        snprintf(err, errn, "vault unavailable (HTTP %ld)", status);
        return ACMS_ERR_RETRY;
    }
    snprintf(err, errn, "vault answered HTTP %ld", status);
    return ACMS_ERR;
}

/* The cached data.data of path (parsed; the caller frees it), or NULL. Drops expired entries. */
static cJSON *cache_get(acms_vault *v, const char *path)
{
    cJSON *hit = NULL;
    int64_t now = acms_mono_ms();
    pthread_mutex_lock(&v->mu);
    for (vault_cache_entry **p = &v->cache; *p;) {
        vault_cache_entry *e = *p;
        if (e->expires_ms <= now) {
            *p = e->next;
            free(e->path);
            acms_vault__wipe_free(e->data);
            free(e);
            continue;
        }
        if (!hit && !strcmp(e->path, path)) {
            hit = cJSON_Parse(e->data);
            v->stats.cache_hits++;
        }
        p = &e->next;
    }
    pthread_mutex_unlock(&v->mu);
    return hit;
}

/* Keeps data.data of path for min(lease, VAULT_CACHE_TTL_S); a KV v2 answer has no lease (0). */
static void cache_put(acms_vault *v, const char *path, const cJSON *kv, double lease_s)
{
    double ttl = (double)v->cache_ttl_s;
    if (lease_s > 0 && lease_s < ttl)
        ttl = lease_s;
    if (ttl <= 0)
        return;
    vault_cache_entry *e = calloc(1, sizeof *e);
    if (!e || !(e->path = strdup(path)) || !(e->data = cJSON_PrintUnformatted(kv))) {
        if (e) {
            free(e->path);
            free(e);
        }
        return;
    }
    e->expires_ms = acms_mono_ms() + (int64_t)(ttl * 1000);
    pthread_mutex_lock(&v->mu);
    e->next = v->cache;
    v->cache = e;
    pthread_mutex_unlock(&v->mu);
}

int acms_vault_read_kv(acms_vault *v, const char *path, const char *key, char *buf, size_t size, char *err, size_t errn)
{
    if (err && errn)
        err[0] = '\0';
    cJSON *kv = cache_get(v, path);
    if (kv) {
        int rc = extract(kv, path, key, buf, size, err, errn);
        acms_vault__json_free(kv);
        return rc;
    }
    long status = 0;
    cJSON *j = NULL;
    int rc = acms_vault__request(v, path, NULL, 1, &status, &j, err, errn);
    if (rc == ACMS_OK && status != 200)
        rc = status_rc(status, path, err, errn);
    else if (rc == ACMS_OK && !j) {
        snprintf(err, errn, "vault answered with undecodable JSON");
        rc = ACMS_ERR;
    } else if (rc == ACMS_OK) {
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "data"), "data");
        const cJSON *lease = cJSON_GetObjectItemCaseSensitive(j, "lease_duration");
        rc = extract(data, path, key, buf, size, err, errn);
        if (cJSON_IsObject(data))
            cache_put(v, path, data, cJSON_IsNumber(lease) ? lease->valuedouble : 0);
    }
    if (j)
        acms_vault__json_free(j);
    if (rc != ACMS_OK && buf && size)
        explicit_bzero(buf, size);
    return rc;
}
