/* vault.c: the Vault client (KV v2 reads over libcurl). Invariant: the token and every answer body
 * are wiped before their memory is released; errstr never holds a value or the token. */
#include "vault.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#define VAULT_MAX_RESPONSE (64 * 1024)
#define VAULT_DEFAULT_TIMEOUT_MS 2000L

struct acms_vault {
    char *addr;               /* without trailing '/' */
    char *token;
    long timeout_ms;
    char *cacert;             /* CA bundle for https (NULL = the system's) */
    pthread_mutex_t mu;       /* guards token */
};

static void wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

acms_vault *acms_vault_new(const acms_vault_opts *o, char *errstr, size_t errstr_size)
{
    if (!o || !o->addr || !*o->addr) {
        snprintf(errstr, errstr_size, "vault: no address (VAULT_ADDR)");
        return NULL;
    }
    acms_vault *v = calloc(1, sizeof *v);
    if (v)
        pthread_mutex_init(&v->mu, NULL);
    if (!v || !(v->addr = strdup(o->addr)) || !(v->token = strdup(o->token ? o->token : ""))) {
        snprintf(errstr, errstr_size, "vault: out of memory");
        acms_vault_free(v);
        return NULL;
    }
    size_t n = strlen(v->addr);
    while (n > 0 && v->addr[n - 1] == '/')
        v->addr[--n] = '\0';
    v->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : VAULT_DEFAULT_TIMEOUT_MS;
    return v;
}

void acms_vault_free(acms_vault *v)
{
    if (!v)
        return;
    pthread_mutex_destroy(&v->mu);
    free(v->addr);
    free(v->cacert);
    wipe_free(v->token);
    free(v);
}

/* A copy of the current token (under the lock): callers wipe it after use. */
static void vault_token_copy(acms_vault *v, char *out, size_t size)
{
    pthread_mutex_lock(&v->mu);
    snprintf(out, size, "%s", v->token);
    pthread_mutex_unlock(&v->mu);
}

/* TLS settings of every request (the CA bundle of ACMS_VAULT_CACERT when given). */
static void vault_tls(const acms_vault *v, CURL *c)
{
    if (v->cacert)
        curl_easy_setopt(c, CURLOPT_CAINFO, v->cacert);
}

const char *acms_vault_addr(const acms_vault *v)
{
    return v ? v->addr : "";
}

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

/* Wipes every string of a cJSON tree (the secret values of an answer) before it is freed. */
static void json_wipe(cJSON *j)
{
    for (; j; j = j->next) {
        if (cJSON_IsString(j) && j->valuestring)
            explicit_bzero(j->valuestring, strlen(j->valuestring));
        json_wipe(j->child);
    }
}

static int put_value(const char *s, size_t len, char *buf, size_t size)
{
    if (len >= size)
        return ACMS_ERR_LIMIT;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return ACMS_OK;
}

static int extract(const body_t *b, const char *path, const char *key, char *buf, size_t size, char *err, size_t errn)
{
    int rc;
    cJSON *root = cJSON_ParseWithLength(b->data, b->len);
    if (!root) {
        snprintf(err, errn, "vault answered with undecodable JSON");
        return ACMS_ERR;
    }
    const cJSON *kv = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "data"), "data");
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(kv, key);
    char tmp[64];
    if (!cJSON_IsObject(kv)) {
        rc = ACMS_ERR;
        snprintf(err, errn, "vault answer has no data.data (is %s a KV v2 path?)", path);
    } else if (cJSON_IsString(item) && item->valuestring) {
        rc = put_value(item->valuestring, strlen(item->valuestring), buf, size);
    } else if (cJSON_IsNumber(item) || cJSON_IsBool(item)) {
        int n = cJSON_IsBool(item) ? snprintf(tmp, sizeof tmp, "%s", cJSON_IsTrue(item) ? "true" : "false")
                                   : snprintf(tmp, sizeof tmp, "%.17g", item->valuedouble);
        rc = n > 0 ? put_value(tmp, (size_t)n, buf, size) : ACMS_ERR;
        explicit_bzero(tmp, sizeof tmp);
    } else if (item) {
        rc = ACMS_ERR_INVALID;
        snprintf(err, errn, "key %s is not a scalar", key);
    } else {
        rc = ACMS_ERR_NOTFOUND;
        snprintf(err, errn, "key %s absent from the secret", key);
    }
    if (rc == ACMS_ERR_LIMIT)
        snprintf(err, errn, "value longer than %zu bytes", size - 1);
    json_wipe(root);
    cJSON_Delete(root);
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

int acms_vault_read_kv(acms_vault *v, const char *path, const char *key, char *buf, size_t size, char *err,
                       size_t errn)
{
    int rc = ACMS_OK;
    char url[2048], hdr[1024];
    if (err && errn)
        err[0] = '\0';
    int n = snprintf(url, sizeof url, "%s/v1/%s", v->addr, path);
    if (n < 0 || (size_t)n >= sizeof url) {
        snprintf(err, errn, "vault URL too long");
        return ACMS_ERR_INVALID;
    }
    pthread_mutex_lock(&v->mu);
    n = snprintf(hdr, sizeof hdr, "X-Vault-Token: %s", v->token);
    pthread_mutex_unlock(&v->mu);
    if (n < 0 || (size_t)n >= sizeof hdr) {
        explicit_bzero(hdr, sizeof hdr);
        snprintf(err, errn, "vault token too long");
        return ACMS_ERR_INVALID;
    }
    body_t b = {.data = malloc(VAULT_MAX_RESPONSE)};
    CURL *c = curl_easy_init();
    struct curl_slist *hl = curl_slist_append(NULL, hdr);
    if (!b.data || !c || !hl) {
        rc = ACMS_ERR_NOMEM;
        snprintf(err, errn, "out of memory");
        goto out;
    }
    b.data[0] = '\0';
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, v->timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, v->timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (b.overflow) {
        rc = ACMS_ERR;
        snprintf(err, errn, "vault answer larger than %d bytes", VAULT_MAX_RESPONSE);
    } else if (cc != CURLE_OK) {
        rc = ACMS_ERR_RETRY;
        snprintf(err, errn, "vault unreachable: %s", cerr[0] ? cerr : curl_easy_strerror(cc));
    } else if (status == 200) {
        rc = extract(&b, path, key, buf, size, err, errn);
    } else {
        rc = status_rc(status, path, err, errn);
    }
out:
    if (rc != ACMS_OK && buf && size)
        explicit_bzero(buf, size);
    explicit_bzero(hdr, sizeof hdr);
    if (hl) {
        explicit_bzero(hl->data, strlen(hl->data));
        curl_slist_free_all(hl);
    }
    if (c)
        curl_easy_cleanup(c);
    if (b.data) {
        explicit_bzero(b.data, VAULT_MAX_RESPONSE);
        free(b.data);
    }
    return rc;
}

/* --- requests with a JSON body (transit, auth) ---------------------------------------------------- */

/* POST (body != NULL) or GET path; the parsed answer in *json (caller frees with json_free) when
 * the status is 2xx. ACMS_OK, ACMS_ERR (refused: errstr has the status), ACMS_ERR_RETRY. token
 * NULL: no X-Vault-Token header (logins). */
static int vault_call(acms_vault *v, const char *path, const char *body, const char *token, cJSON **json, char *err,
                      size_t errn)
{
    char url[2048], hdr[1024] = "";
    int rc = ACMS_OK;
    *json = NULL;
    if (snprintf(url, sizeof url, "%s/v1/%s", v->addr, path) >= (int)sizeof url) {
        snprintf(err, errn, "vault URL too long");
        return ACMS_ERR;
    }
    if (token && snprintf(hdr, sizeof hdr, "X-Vault-Token: %s", token) >= (int)sizeof hdr) {
        explicit_bzero(hdr, sizeof hdr);
        snprintf(err, errn, "vault token too long");
        return ACMS_ERR;
    }
    body_t b = {.data = malloc(VAULT_MAX_RESPONSE)};
    CURL *c = curl_easy_init();
    struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: application/json");
    if (hl && token)
        hl = curl_slist_append(hl, hdr);
    if (!b.data || !c || !hl) {
        rc = ACMS_ERR_NOMEM;
        snprintf(err, errn, "out of memory");
        goto out;
    }
    b.data[0] = '\0';
    char cerr[CURL_ERROR_SIZE] = "";
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
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    vault_tls(v, c);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK) {
        rc = ACMS_ERR_RETRY;
        snprintf(err, errn, "vault unreachable: %s", cerr[0] ? cerr : curl_easy_strerror(cc));
    } else if (status == 429 || status >= 500) {
        rc = ACMS_ERR_RETRY;
        snprintf(err, errn, "vault unavailable (HTTP %ld)", status);
    } else if (status < 200 || status >= 300) {
        rc = ACMS_ERR;
        snprintf(err, errn, "vault refused %s (HTTP %ld)", path, status);
    } else if (!(*json = cJSON_ParseWithLength(b.data, b.len))) {
        rc = ACMS_ERR;
        snprintf(err, errn, "vault answered %s with undecodable JSON", path);
    }
out:
    explicit_bzero(hdr, sizeof hdr);
    if (hl)
        curl_slist_free_all(hl);
    if (c)
        curl_easy_cleanup(c);
    if (b.data) {
        explicit_bzero(b.data, VAULT_MAX_RESPONSE);
        free(b.data);
    }
    return rc;
}

static void json_free(cJSON *j)
{
    json_wipe(j);
    cJSON_Delete(j);
}

int acms_vault_transit(acms_vault *v, const char *op, const char *key, const char *context, const unsigned char *in,
                       size_t len, char *out, size_t out_size, size_t *out_len, char *err, size_t errn)
{
    int enc = !strcmp(op, "encrypt");
    char *b64 = malloc(4 * ((len + 2) / 3) + 1), *body = NULL, *ctx64 = NULL, path[256], token[1024];
    cJSON *j = NULL;
    int rc = ACMS_ERR;
    if (!b64 || snprintf(path, sizeof path, "transit/%s/%s", enc ? "encrypt" : "decrypt", key) >= (int)sizeof path)
        goto out;
    if (enc)
        EVP_EncodeBlock((unsigned char *)b64, in, (int)len);
    if (context && (ctx64 = malloc(4 * ((strlen(context) + 2) / 3) + 1)))
        EVP_EncodeBlock((unsigned char *)ctx64, (const unsigned char *)context, (int)strlen(context));
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, enc ? "plaintext" : "ciphertext", enc ? b64 : (const char *)in);
    if (ctx64)
        cJSON_AddStringToObject(req, "context", ctx64);
    body = cJSON_PrintUnformatted(req);
    json_free(req);
    vault_token_copy(v, token, sizeof token);
    rc = body ? vault_call(v, path, body, token, &j, err, errn) : ACMS_ERR_NOMEM;
    explicit_bzero(token, sizeof token);
    if (rc != ACMS_OK)
        goto out;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "data"),
                                                      enc ? "ciphertext" : "plaintext");
    rc = ACMS_ERR;
    if (!cJSON_IsString(r)) {
        snprintf(err, errn, "vault transit answer without data.%s", enc ? "ciphertext" : "plaintext");
    } else if (enc) {
        if (strlen(r->valuestring) < out_size) {
            memcpy(out, r->valuestring, strlen(r->valuestring) + 1);
            rc = ACMS_OK;
        }
    } else {
        size_t n = strlen(r->valuestring);
        unsigned char *tmp = malloc(n / 4 * 3 + 3);
        int k = tmp && n % 4 == 0 ? EVP_DecodeBlock(tmp, (const unsigned char *)r->valuestring, (int)n) : -1;
        while (k > 0 && n > 0 && r->valuestring[n - 1] == '=') {
            n--;
            k--;
        }
        if (k >= 0 && (size_t)k <= out_size) {
            memcpy(out, tmp, (size_t)k);
            *out_len = (size_t)k;
            rc = ACMS_OK;
        }
        if (tmp) {
            explicit_bzero(tmp, n / 4 * 3 + 3);
            free(tmp);
        }
    }
    if (rc != ACMS_OK && !err[0])
        snprintf(err, errn, "vault transit answer does not fit");
out:
    if (j)
        json_free(j);
    if (body) {
        explicit_bzero(body, strlen(body));
        free(body);
    }
    if (b64) {
        explicit_bzero(b64, 4 * ((len + 2) / 3) + 1);
        free(b64);
    }
    free(ctx64);
    return rc;
}
