/* vault.c: the Vault client's requests and authentication (vault.h). Invariant: tokens, secret ids,
 * service account tokens and every answer body are wiped before their memory is released; errstr
 * never holds one of them. The lock is never held during a request. */
#include "vault_int.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VAULT_MAX_RESPONSE (64 * 1024)
#define K8S_JWT_DEFAULT "/var/run/secrets/kubernetes.io/serviceaccount/token"

void acms_vault__wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void json_wipe(cJSON *j)
{
    for (; j; j = j->next) {
        if (cJSON_IsString(j) && j->valuestring)
            explicit_bzero(j->valuestring, strlen(j->valuestring));
        json_wipe(j->child);
    }
}

void acms_vault__json_free(cJSON *j)
{
    json_wipe(j);
    cJSON_Delete(j);
}

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

acms_vault *acms_vault_new(const acms_vault_opts *o, char *errstr, size_t errstr_size)
{
    if (!o || !o->addr || !*o->addr) {
        snprintf(errstr, errstr_size, "vault: no address (VAULT_ADDR)");
        return NULL;
    }
    if (!o->role_id != !o->secret_id) {
        snprintf(errstr, errstr_size, "vault: AppRole needs both VAULT_ROLE_ID and VAULT_SECRET_ID(_FILE)");
        return NULL;
    }
    acms_vault *v = calloc(1, sizeof *v);
    if (!v) {
        snprintf(errstr, errstr_size, "vault: out of memory");
        return NULL;
    }
    pthread_mutex_init(&v->mu, NULL);
    v->addr = strdup(o->addr);
    v->ns = dup_or_null(o->ns);
    v->cacert = dup_or_null(o->cacert);
    v->token = strdup(o->token ? o->token : "");
    v->role_id = dup_or_null(o->role_id);
    v->secret_id = dup_or_null(o->secret_id);
    v->k8s_role = dup_or_null(o->k8s_role);
    v->k8s_jwt_file = strdup(o->k8s_jwt_file && *o->k8s_jwt_file ? o->k8s_jwt_file : K8S_JWT_DEFAULT);
    v->auth = v->role_id ? VAULT_AUTH_APPROLE : v->k8s_role ? VAULT_AUTH_K8S : VAULT_AUTH_TOKEN;
    v->mount = strdup(o->auth_mount && *o->auth_mount ? o->auth_mount
                      : v->auth == VAULT_AUTH_K8S     ? "kubernetes"
                                                      : "approle");
    v->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 2000;
    v->backoff_ms = o->backoff_ms ? o->backoff_ms : 5000;
    v->cache_ttl_s = o->cache_ttl_s < 0 ? 30 : o->cache_ttl_s;
    if (!v->addr || !v->token || !v->k8s_jwt_file || !v->mount) {
        snprintf(errstr, errstr_size, "vault: out of memory");
        acms_vault_free(v);
        return NULL;
    }
    size_t n = strlen(v->addr);
    while (n > 0 && v->addr[n - 1] == '/')
        v->addr[--n] = '\0';
    return v;
}

static long env_long(const char *name, long dflt)
{
    const char *s = getenv(name);
    char *end;
    long x = s && *s ? strtol(s, &end, 10) : dflt;
    return s && *s && *end ? dflt : x;
}

/* The content of a file named by a variable, trimmed (malloc'd), or NULL. */
static char *read_small(const char *path)
{
    FILE *f = path && *path ? fopen(path, "r") : NULL;
    if (!f)
        return NULL;
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    buf[n] = '\0';
    char *s = strdup(buf);
    explicit_bzero(buf, sizeof buf);
    return s;
}

int acms_vault_from_env(acms_vault **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    const char *addr = getenv("VAULT_ADDR");
    if (!addr || !*addr)
        return ACMS_OK;
    char *sid_file = read_small(getenv("VAULT_SECRET_ID_FILE"));
    acms_vault_opts o = {
        .addr = addr,
        .token = getenv("VAULT_TOKEN"),
        .role_id = getenv("VAULT_ROLE_ID"),
        .secret_id = sid_file ? sid_file : getenv("VAULT_SECRET_ID"),
        .k8s_role = getenv("VAULT_K8S_ROLE"),
        .k8s_jwt_file = getenv("VAULT_K8S_TOKEN_FILE"),
        .auth_mount = getenv("VAULT_AUTH_MOUNT"),
        .ns = getenv("VAULT_NAMESPACE"),
        .cacert = getenv("VAULT_CACERT"),
        .timeout_ms = env_long("ACMS_VAULT_TIMEOUT_MS", 0),
        .backoff_ms = env_long("ACMS_VAULT_BACKOFF_MS", 0),
        .cache_ttl_s = env_long("VAULT_CACHE_TTL_S", -1),
    };
    if (o.role_id && !*o.role_id)
        o.role_id = NULL;
    if (o.secret_id && !*o.secret_id)
        o.secret_id = NULL;
    *out = acms_vault_new(&o, errstr, errstr_size);
    acms_vault__wipe_free(sid_file);
    return *out ? ACMS_OK : ACMS_ERR_INVALID;
}

void acms_vault_free(acms_vault *v)
{
    if (!v)
        return;
    for (vault_cache_entry *e = v->cache, *next; e; e = next) {
        next = e->next;
        free(e->path);
        acms_vault__wipe_free(e->data);
        free(e);
    }
    pthread_mutex_destroy(&v->mu);
    free(v->addr);
    free(v->ns);
    free(v->cacert);
    free(v->mount);
    free(v->k8s_role);
    free(v->k8s_jwt_file);
    acms_vault__wipe_free(v->role_id);
    acms_vault__wipe_free(v->secret_id);
    acms_vault__wipe_free(v->token);
    free(v);
}

const char *acms_vault_addr(const acms_vault *v)
{
    return v ? v->addr : "";
}

void acms_vault_get_stats(acms_vault *v, acms_vault_stats *out)
{
    pthread_mutex_lock(&v->mu);
    *out = v->stats;
    pthread_mutex_unlock(&v->mu);
}

/* --- one HTTP request ----------------------------------------------------------------------------- */

typedef struct body_t {
    char *data;
    size_t len;
    int overflow;
} body_t;

static size_t body_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    body_t *b = ud;
    size_t n = size * nmemb;
    if (b->len + n >= VAULT_MAX_RESPONSE) {
        b->overflow = 1;
        return 0;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

static struct curl_slist *headers(const acms_vault *v, const char *body, const char *token)
{
    char h[1200];
    struct curl_slist *l = curl_slist_append(NULL, "Accept: application/json");
    if (l && body)
        l = curl_slist_append(l, "Content-Type: application/json");
    if (l && token && snprintf(h, sizeof h, "X-Vault-Token: %s", token) < (int)sizeof h)
        l = curl_slist_append(l, h);
    if (l && v->ns && snprintf(h, sizeof h, "X-Vault-Namespace: %s", v->ns) < (int)sizeof h)
        l = curl_slist_append(l, h);
    explicit_bzero(h, sizeof h);
    return l;
}

/* Fails fast while backing off after a transport failure. */
static int backing_off(acms_vault *v)
{
    pthread_mutex_lock(&v->mu);
    int off = v->down_until_ms && acms_mono_ms() < v->down_until_ms;
    if (off)
        v->stats.fast_failures++;
    pthread_mutex_unlock(&v->mu);
    return off;
}

static int http(acms_vault *v, const char *path, const char *body, const char *token, long *status, cJSON **json,
                char *err, size_t errn)
{
    char url[2048], cerr[CURL_ERROR_SIZE] = "";
    *status = 0;
    *json = NULL;
    if (backing_off(v)) {
        snprintf(err, errn, "vault was unreachable moments ago: backing off");
        return ACMS_ERR_RETRY;
    }
    if (snprintf(url, sizeof url, "%s/v1/%s", v->addr, path) >= (int)sizeof url) {
        snprintf(err, errn, "vault URL too long");
        return ACMS_ERR;
    }
    body_t b = {.data = malloc(VAULT_MAX_RESPONSE)};
    CURL *c = curl_easy_init();
    struct curl_slist *hl = headers(v, body, token);
    int rc = ACMS_OK;
    if (!b.data || !c || !hl) {
        snprintf(err, errn, "out of memory");
        rc = ACMS_ERR;
        goto out;
    }
    b.data[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, v->timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, v->timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (v->cacert)
        curl_easy_setopt(c, CURLOPT_CAINFO, v->cacert);
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    pthread_mutex_lock(&v->mu);
    v->stats.requests++;
    if (cc != CURLE_OK && cc != CURLE_WRITE_ERROR && v->backoff_ms > 0)
        v->down_until_ms = acms_mono_ms() + v->backoff_ms;
    pthread_mutex_unlock(&v->mu);
    if (b.overflow) {
        snprintf(err, errn, "vault answer larger than %d bytes", VAULT_MAX_RESPONSE);
        rc = ACMS_ERR;
    } else if (cc != CURLE_OK) {
        snprintf(err, errn, "vault unreachable: %s", cerr[0] ? cerr : curl_easy_strerror(cc));
        rc = ACMS_ERR_RETRY;
    } else if (b.len) {
        *json = cJSON_ParseWithLength(b.data, b.len);
    }
out:
    for (struct curl_slist *l = hl; l; l = l->next)
        explicit_bzero(l->data, strlen(l->data));
    curl_slist_free_all(hl);
    if (c)
        curl_easy_cleanup(c);
    if (b.data) {
        explicit_bzero(b.data, VAULT_MAX_RESPONSE);
        free(b.data);
    }
    return rc;
}

/* --- authentication ------------------------------------------------------------------------------- */

/* The login request's body (malloc'd; wiped and freed by the caller), or NULL with err. */
static char *login_body(acms_vault *v, char *err, size_t errn)
{
    cJSON *j = cJSON_CreateObject();
    char *jwt = NULL, *out = NULL;
    if (v->auth == VAULT_AUTH_APPROLE) {
        cJSON_AddStringToObject(j, "role_id", v->role_id);
        cJSON_AddStringToObject(j, "secret_id", v->secret_id);
    } else if ((jwt = read_small(v->k8s_jwt_file))) {
        cJSON_AddStringToObject(j, "role", v->k8s_role);
        cJSON_AddStringToObject(j, "jwt", jwt);
    } else {
        snprintf(err, errn, "vault kubernetes login: cannot read the service account token %s", v->k8s_jwt_file);
    }
    if (v->auth == VAULT_AUTH_APPROLE || jwt)
        out = cJSON_PrintUnformatted(j);
    acms_vault__json_free(j);
    acms_vault__wipe_free(jwt);
    return out;
}

/* Takes the token of a login or renewal answer (auth.client_token, lease_duration, renewable). */
static int take_auth(acms_vault *v, const cJSON *j, int login)
{
    const cJSON *auth = cJSON_GetObjectItemCaseSensitive(j, "auth");
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(auth, "client_token");
    const cJSON *ttl = cJSON_GetObjectItemCaseSensitive(auth, "lease_duration");
    if (!cJSON_IsString(tok) || !*tok->valuestring)
        return -1;
    char *copy = strdup(tok->valuestring);
    if (!copy)
        return -1;
    double s = cJSON_IsNumber(ttl) ? ttl->valuedouble : 0;
    pthread_mutex_lock(&v->mu);
    acms_vault__wipe_free(v->token);
    v->token = copy;
    v->token_ttl_ms = (int64_t)(s * 1000);
    v->token_expires_ms = s > 0 ? acms_mono_ms() + v->token_ttl_ms : 0;
    v->renewable = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(auth, "renewable"));
    if (login)
        v->stats.logins++;
    else
        v->stats.renewals++;
    pthread_mutex_unlock(&v->mu);
    return 0;
}

static int login(acms_vault *v, char *err, size_t errn)
{
    char path[300];
    long status = 0;
    cJSON *j = NULL;
    char *body = login_body(v, err, errn);
    if (!body)
        return ACMS_ERR;
    snprintf(path, sizeof path, "auth/%s/login", v->mount);
    int rc = http(v, path, body, NULL, &status, &j, err, errn);
    acms_vault__wipe_free(body);
    if (rc == ACMS_OK && (status != 200 || take_auth(v, j, 1) != 0)) {
        snprintf(err, errn, "vault %s login refused (HTTP %ld)", v->auth == VAULT_AUTH_K8S ? "kubernetes" : "approle",
                 status);
        rc = status == 429 || status >= 500 ? ACMS_ERR_RETRY : ACMS_ERR;
    }
    if (j)
        acms_vault__json_free(j);
    return rc;
}

static char *token_copy(acms_vault *v)
{
    pthread_mutex_lock(&v->mu);
    char *t = strdup(v->token ? v->token : "");
    pthread_mutex_unlock(&v->mu);
    return t;
}

static int renew(acms_vault *v, char *err, size_t errn)
{
    long status = 0;
    cJSON *j = NULL;
    char *tok = token_copy(v);
    int rc = tok ? http(v, "auth/token/renew-self", "{}", tok, &status, &j, err, errn) : ACMS_ERR;
    acms_vault__wipe_free(tok);
    if (rc == ACMS_OK && (status != 200 || take_auth(v, j, 0) != 0))
        rc = ACMS_ERR;
    if (j)
        acms_vault__json_free(j);
    return rc;
}

/* A token good for a while: renewed once a third of its lease is left, a new login when renewal is
 * refused, when it expired, or when force (Vault refused it). Static tokens are taken as they are. */
static int ensure_token(acms_vault *v, int force, char *err, size_t errn)
{
    if (v->auth == VAULT_AUTH_TOKEN)
        return ACMS_OK;
    pthread_mutex_lock(&v->mu);
    int have = v->token && *v->token, renewable = v->renewable;
    int64_t exp = v->token_expires_ms, ttl = v->token_ttl_ms, now = acms_mono_ms();
    pthread_mutex_unlock(&v->mu);
    if (!force && have && (exp == 0 || now < exp - ttl / 3))
        return ACMS_OK;
    if (!force && have && renewable && now < exp && renew(v, err, errn) == ACMS_OK) {
        pthread_mutex_lock(&v->mu);
        int ok = v->token_expires_ms == 0 || acms_mono_ms() < v->token_expires_ms - v->token_ttl_ms / 3;
        pthread_mutex_unlock(&v->mu);
        if (ok)
            return ACMS_OK; /* renewal gave a fresh lease; else the max TTL is near: log in again */
    }
    return login(v, err, errn);
}

int acms_vault__request(acms_vault *v, const char *path, const char *body, int with_token, long *status, cJSON **json,
                        char *err, size_t errn)
{
    int rc = with_token ? ensure_token(v, 0, err, errn) : ACMS_OK;
    for (int attempt = 0; rc == ACMS_OK; attempt++) {
        char *tok = with_token ? token_copy(v) : NULL;
        rc = http(v, path, body, tok, status, json, err, errn);
        acms_vault__wipe_free(tok);
        if (rc != ACMS_OK || *status != 403 || !with_token || v->auth == VAULT_AUTH_TOKEN || attempt > 0)
            break;
        if (*json) /* the token was revoked or expired under us: log in again, once */
            acms_vault__json_free(*json);
        *json = NULL;
        rc = ensure_token(v, 1, err, errn);
    }
    return rc;
}
