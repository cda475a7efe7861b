/* config_store_http.c: the HTTP backend of the configuration store: a storage service reached with libcurl
 * (API in store.h). One easy handle per store, re-used for keep-alive. Status mapping: 200/201 = the
 * answer, 404 = not found (the body's "error" names what), 5xx or no connection = unreachable
 * (ACMS_ERR_RETRY: the caller tries again later), anything else = the service misbehaved (ACMS_ERR).
 * Answers are size-capped before parsing; documents are checked against their hash (store.c).
 * With a master key (acms_store_set_crypt) a document leaves as an envelope (crypt.h) sealed for its
 * kind and id; the service assigns versions, so the version is not bound here (the Redis backend
 * binds it). The service then hashes and de-duplicates ciphertext, which differs on every seal: a
 * put first opens the latest version and answers it when its content is the same. A document read
 * back is opened, and its hash is that of the plain text, as with the Redis backend. */
#include "config_store_int.h"

#include "crypt.h"
#include "strbuf.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#define CONNECT_TIMEOUT_MS 3000L
#define TIMEOUT_MS 15000L
/* A 4 MiB document escaped in JSON (\uXXXX for non-ASCII) plus the envelope. */
#define MAX_ANSWER ((size_t)6 * ACMS_MAX_FILE_BYTES + 65536)

typedef struct answer {
    acms_strbuf body; /* from the request's arena, capped at MAX_ANSWER */
    int too_big;
} answer;

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
    answer *b = ud;
    size_t n = size * nmemb;
    int rc = acms_strbuf_add(&b->body, p, n);
    if (rc == ACMS_ERR_LIMIT)
        b->too_big = 1;
    return rc == ACMS_OK ? n : 0; /* 0 aborts the transfer */
}

static CURL *handle(acms_store *s)
{
    if (!s->curl)
        s->curl = curl_easy_init();
    else
        curl_easy_reset(s->curl);
    return s->curl;
}

/* The "error" text of a JSON error body, or a short generic text. */
static const char *error_text(acms_arena *a, const answer *b, long status)
{
    cJSON *j = b->body.len ? cJSON_ParseWithLength(b->body.buf, b->body.len) : NULL;
    const cJSON *e = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, "error") : NULL;
    const char *t = cJSON_IsString(e) && *e->valuestring ? acms_arena_strdup(a, e->valuestring)
                                                          : acms_arena_printf(a, "HTTP %ld", status);
    cJSON_Delete(j);
    return t;
}

/* One request. body NULL = GET, else POST of body (len bytes, content type ctype).
 * ACMS_OK with b filled (status 200/201), ACMS_ERR_NOTFOUND (404, errstr = the service's reason),
 * ACMS_ERR_RETRY, ACMS_ERR. */
static int request(acms_store *s, acms_arena *a, const char *url, const char *body, size_t len, const char *ctype,
                   answer *b, long *status_out, char *errstr, size_t errstr_size)
{
    CURL *c = handle(s);
    if (!c) {
        acms_store__err(errstr, errstr_size, "curl_easy_init failed");
        return ACMS_ERR;
    }
    memset(b, 0, sizeof *b);
    acms_strbuf_init_arena(&b->body, a, MAX_ANSWER);
    char cerr[CURL_ERROR_SIZE] = "";
    struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
    if (body)
        h = curl_slist_append(h, acms_arena_printf(a, "Content-Type: %s", ctype));
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (body) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
    *status_out = status;
    if (b->too_big) {
        acms_store__err(errstr, errstr_size, "the storage service's answer exceeds %zu bytes", MAX_ANSWER);
        return ACMS_ERR;
    }
    if (cc != CURLE_OK) {
        acms_store__err(errstr, errstr_size, "storage service %s unreachable: %s", s->base,
                        cerr[0] ? cerr : curl_easy_strerror(cc));
        return ACMS_ERR_RETRY;
    }
    if (status == 200 || status == 201) {
        acms_strbuf_grow(&b->body, 0); /* an empty answer is "" (arena memory: cannot fail) */
        return ACMS_OK;
    }
    if (status == 404) {
        acms_store__err(errstr, errstr_size, "%s", error_text(a, b, status));
        return ACMS_ERR_NOTFOUND;
    }
    acms_store__err(errstr, errstr_size, "storage service %s: %s", s->base, error_text(a, b, status));
    return status >= 500 || status == 429 || status == 408 ? ACMS_ERR_RETRY : ACMS_ERR;
}

/* %-encoded copy of s in the arena. */
static const char *esc(acms_store *s, acms_arena *a, const char *str)
{
    char *e = curl_easy_escape(s->curl, str, 0);
    const char *r = acms_arena_strdup(a, e ? e : "");
    curl_free(e);
    return r;
}

static int h_get(acms_store *s, acms_arena *a, const char *id, uint32_t version, const char *context,
                 acms_store_doc **out, char *errstr, size_t errstr_size);

/* Encrypted store: the latest version when its plain text has this hash (*out NULL otherwise). */
static int same_as_latest(acms_store *s, acms_arena *a, const char *id, const char *hash, acms_store_doc **out,
                          char *errstr, size_t errstr_size)
{
    *out = NULL;
    acms_store_doc *d = NULL;
    int rc = h_get(s, a, id, 0, NULL, &d, errstr, errstr_size);
    if (rc == ACMS_ERR_NOTFOUND)
        return ACMS_OK;
    if (rc == ACMS_OK && strcmp(d->hash, hash) == 0)
        *out = d;
    return rc;
}

static int h_put(acms_store *s, acms_arena *a, const char *id, const char *format, const char *text, size_t len,
                 const char *hash, acms_store_doc **out, int *created, char *errstr, size_t errstr_size)
{
    if (!handle(s)) {
        acms_store__err(errstr, errstr_size, "curl_easy_init failed");
        return ACMS_ERR;
    }
    const char *body = text, *plain = text;
    size_t body_len = len, plain_len = len;
    char body_hash[65];
    memcpy(body_hash, hash, 65);
    if (s->crypt) {
        int rc = same_as_latest(s, a, id, hash, out, errstr, errstr_size);
        if (rc != ACMS_OK || *out)
            return rc;
        char *env;
        if ((rc = acms_crypt_seal(s->crypt, a, "config", id, 0, text, len, &env, &body_len, errstr, errstr_size)))
            return rc;
        body = env;
        acms_store_hash(body, body_len, body_hash);
    }
    const char *url = acms_arena_printf(a, "%s/configs/%s", s->base, esc(s, a, id));
    answer b;
    long status;
    int rc = request(s, a, url, body, body_len, !strcmp(format, "json") ? "application/json" : "application/yaml",
                     &b, &status, errstr, errstr_size);
    if (rc == ACMS_ERR_NOTFOUND)
        rc = ACMS_ERR; /* a put has nothing to miss */
    if (rc != ACMS_OK)
        return rc;
    cJSON *j = cJSON_ParseWithLength(b.body.buf, b.body.len);
    const cJSON *v = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, "version") : NULL;
    const cJSON *hh = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, "hash") : NULL;
    rc = ACMS_ERR;
    if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > UINT32_MAX) {
        acms_store__err(errstr, errstr_size, "the storage service's answer to the put lacks a version");
    } else if (cJSON_IsString(hh) && strcmp(hh->valuestring, body_hash) != 0) {
        acms_store__err(errstr, errstr_size, "the storage service stored hash %.16s... for content %.16s...",
                        hh->valuestring, body_hash);
    } else {
        acms_store_doc *d = acms_arena_alloc(a, sizeof *d);
        d->id = acms_arena_strdup(a, id);
        d->version = (uint32_t)v->valuedouble;
        memcpy(d->hash, hash, 65);
        d->document = acms_arena_strndup(a, plain, plain_len);
        d->len = plain_len;
        d->format = acms_arena_strdup(a, format);
        const cJSON *cr = cJSON_GetObjectItemCaseSensitive(j, "created");
        *created = cJSON_IsBool(cr) ? cJSON_IsTrue(cr) : status == 201;
        *out = d;
        rc = ACMS_OK;
    }
    cJSON_Delete(j);
    return rc;
}

/* A document the service holds as an envelope, opened in place (its hash becomes the plain text's). */
static int open_doc(acms_store *s, acms_arena *a, acms_store_doc *d, char *errstr, size_t errstr_size)
{
    if (!acms_crypt_is_envelope(d->document, d->len))
        return ACMS_OK;
    char *plain;
    size_t plain_len;
    char why[256] = "";
    int rc = acms_crypt_open(s->crypt, a, "config", d->id, 0, d->document, d->len, &plain, &plain_len, why,
                             sizeof why);
    if (rc != ACMS_OK) {
        acms_store__err(errstr, errstr_size, "%s version %u: %s", d->id, (unsigned)d->version, why);
        return rc;
    }
    d->document = plain;
    d->len = plain_len;
    acms_store_hash(plain, plain_len, d->hash);
    return ACMS_OK;
}

static int h_get(acms_store *s, acms_arena *a, const char *id, uint32_t version, const char *context,
                 acms_store_doc **out, char *errstr, size_t errstr_size)
{
    if (!handle(s)) {
        acms_store__err(errstr, errstr_size, "curl_easy_init failed");
        return ACMS_ERR;
    }
    const char *eid = esc(s, a, id);
    const char *url = version ? acms_arena_printf(a, "%s/configs/%s/versions/%u", s->base, eid, (unsigned)version)
                              : acms_arena_printf(a, "%s/configs/%s/latest", s->base, eid);
    if (context && *context)
        url = acms_arena_printf(a, "%s?context=%s", url, esc(s, a, context));
    answer b;
    long status;
    int rc = request(s, a, url, NULL, 0, NULL, &b, &status, errstr, errstr_size);
    if (rc != ACMS_OK)
        return rc;
    if ((rc = acms_store__doc_from_json(a, b.body.buf, b.body.len, id, version, out, errstr, errstr_size)) != ACMS_OK)
        return rc;
    return open_doc(s, a, *out, errstr, errstr_size);
}

static int h_list(acms_store *s, acms_arena *a, const char *id, acms_store_entry **out, size_t *n, char *errstr,
                  size_t errstr_size)
{
    if (!handle(s)) {
        acms_store__err(errstr, errstr_size, "curl_easy_init failed");
        return ACMS_ERR;
    }
    const char *url = id ? acms_arena_printf(a, "%s/configs/%s/versions", s->base, esc(s, a, id))
                         : acms_arena_printf(a, "%s/configs", s->base);
    answer b;
    long status;
    int rc = request(s, a, url, NULL, 0, NULL, &b, &status, errstr, errstr_size);
    if (rc != ACMS_OK)
        return rc;
    return acms_store__entries_from_json(a, b.body.buf, b.body.len, id, out, n, errstr, errstr_size);
}

static void h_close(acms_store *s)
{
    if (s->curl)
        curl_easy_cleanup(s->curl);
    s->curl = NULL;
}

const acms_store_ops acms_store__http_ops = {
    .kind = "http",
    .put = h_put,
    .get = h_get,
    .list = h_list,
    .close = h_close,
};
