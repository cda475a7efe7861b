/* config_store_http.c: the HTTP backend of the configuration store: a storage service reached with libcurl
 * (API in store.h). One easy handle per store, re-used for keep-alive. Status mapping: 200/201 = the
 * answer, 404 = not found (the body's "error" names what), 5xx or no connection = unreachable
 * (ACMS_ERR_RETRY: the caller tries again later), anything else = the service misbehaved (ACMS_ERR).
 * Answers are size-capped before parsing; documents are checked against their hash (store.c).
 * With a master key (acms_store_set_crypt) a document leaves as an envelope sealed for its kind, id
 * and version, as with the Redis backend (acms_store__seal). The service assigns versions, so an
 * encrypted put is conditional: it reads the latest version L, seals for L+1 and posts with
 * ?version=L+1, which the service refuses (409) when L+1 is no longer next; then it starts over.
 * The service hashes and de-duplicates ciphertext, which differs on every seal, so a put first opens
 * the latest version and answers it when its content is the same. A document read back is opened as
 * the id and version the service answered, and its hash is that of the plain text. rotate-key
 * replaces each version's envelope with PUT .../versions/{n} and If-Match: its stored hash. */
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

/* One request. body NULL = GET, else POST of body (len bytes, content type ctype), or PUT when
 * if_match is given (sent as If-Match: "<if_match>"). ACMS_OK with b filled (status 200/201),
 * ACMS_ERR_NOTFOUND (404, errstr = the service's reason), ACMS_ERR_RETRY, ACMS_ERR (*status_out says
 * which status, e.g. 409 or 412). */
static int request_if(acms_store *s, acms_arena *a, const char *url, const char *body, size_t len, const char *ctype,
                      const char *if_match, answer *b, long *status_out, char *errstr, size_t errstr_size)
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
    if (if_match)
        h = curl_slist_append(h, acms_arena_printf(a, "If-Match: \"%s\"", if_match));
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
        if (if_match)
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
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

static int request(acms_store *s, acms_arena *a, const char *url, const char *body, size_t len, const char *ctype,
                   answer *b, long *status_out, char *errstr, size_t errstr_size)
{
    return request_if(s, a, url, body, len, ctype, NULL, b, status_out, errstr, errstr_size);
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

/* Encrypted store: the latest version when its plain text has this hash (*out NULL otherwise), and
 * the latest version number (0: none yet). */
static int same_as_latest(acms_store *s, acms_arena *a, const char *id, const char *hash, acms_store_doc **out,
                          uint32_t *latest, char *errstr, size_t errstr_size)
{
    *out = NULL;
    *latest = 0;
    acms_store_doc *d = NULL;
    int rc = h_get(s, a, id, 0, NULL, &d, errstr, errstr_size);
    if (rc == ACMS_ERR_NOTFOUND)
        return ACMS_OK;
    if (rc == ACMS_OK) {
        *latest = d->version;
        if (strcmp(d->hash, hash) == 0)
            *out = d;
    }
    return rc;
}

/* What a put sends: body (the text, or its envelope sealed for version expect; 0 = any version). */
typedef struct put_req {
    const char *id, *format, *text, *hash, *body;
    size_t len, body_len;
    uint32_t expect;
} put_req;

/* POSTs p->body. ACMS_OK with *out (the plain text as stored), ACMS_ERR_STALE (409: version
 * p->expect is no longer next), ACMS_ERR_RETRY, ACMS_ERR. */
static int post_doc(acms_store *s, acms_arena *a, const put_req *p, acms_store_doc **out, int *created, char *errstr,
                    size_t errstr_size)
{
    char body_hash[65];
    if (p->body == p->text)
        memcpy(body_hash, p->hash, sizeof body_hash);
    else
        acms_store_hash(p->body, p->body_len, body_hash);
    const char *url = acms_arena_printf(a, "%s/configs/%s", s->base, esc(s, a, p->id));
    if (p->expect)
        url = acms_arena_printf(a, "%s?version=%u", url, (unsigned)p->expect);
    answer b;
    long status = 0;
    int rc = request(s, a, url, p->body, p->body_len,
                     !strcmp(p->format, "json") ? "application/json" : "application/yaml", &b, &status, errstr,
                     errstr_size);
    if (rc == ACMS_ERR && status == 409 && p->expect)
        return ACMS_ERR_STALE;
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
    } else if (p->expect && (uint32_t)v->valuedouble != p->expect) {
        acms_store__err(errstr, errstr_size,
                        "the storage service stored %s@%.0f, not the version %u the document was "
                        "sealed for: with encryption at rest it must honour POST ?version=N",
                        p->id, v->valuedouble, (unsigned)p->expect);
    } else {
        acms_store_doc *d = acms_arena_alloc(a, sizeof *d);
        d->id = acms_arena_strdup(a, p->id);
        d->version = (uint32_t)v->valuedouble;
        memcpy(d->hash, p->hash, 65);
        d->document = acms_arena_strndup(a, p->text, p->len);
        d->len = p->len;
        d->format = acms_arena_strdup(a, p->format);
        const cJSON *cr = cJSON_GetObjectItemCaseSensitive(j, "created");
        *created = cJSON_IsBool(cr) ? cJSON_IsTrue(cr) : status == 201;
        *out = d;
        rc = ACMS_OK;
    }
    cJSON_Delete(j);
    return rc;
}

/* An encrypted put: sealed for the version it gets (see the top of the file). */
static int put_sealed(acms_store *s, acms_arena *a, put_req *p, acms_store_doc **out, int *created, char *errstr,
                      size_t errstr_size)
{
    for (int tries = 0; tries < 8; tries++) {
        uint32_t latest = 0;
        char *env = NULL;
        int rc = same_as_latest(s, a, p->id, p->hash, out, &latest, errstr, errstr_size);
        if (rc != ACMS_OK || *out)
            return rc;
        p->expect = latest + 1;
        if ((rc = acms_store__seal(s, a, p->id, p->expect, p->text, p->len, &env, &p->body_len, errstr, errstr_size)) !=
            ACMS_OK)
            return rc;
        p->body = env;
        if ((rc = post_doc(s, a, p, out, created, errstr, errstr_size)) != ACMS_ERR_STALE)
            return rc;
    }
    acms_store__err(errstr, errstr_size, "concurrent puts of %s kept taking the version", p->id);
    return ACMS_ERR_RETRY;
}

static int h_put(acms_store *s, acms_arena *a, const char *id, const char *format, const char *text, size_t len,
                 const char *hash, acms_store_doc **out, int *created, char *errstr, size_t errstr_size)
{
    if (!handle(s)) {
        acms_store__err(errstr, errstr_size, "curl_easy_init failed");
        return ACMS_ERR;
    }
    put_req p = {.id = id, .format = format, .text = text, .hash = hash, .body = text, .len = len, .body_len = len};
    if (s->crypt)
        return put_sealed(s, a, &p, out, created, errstr, errstr_size);
    return post_doc(s, a, &p, out, created, errstr, errstr_size);
}

/* A document the service holds as an envelope, opened in place as the id and version the service
 * answered (its hash becomes the plain text's). */
static int open_doc(acms_store *s, acms_arena *a, acms_store_doc *d, char *errstr, size_t errstr_size)
{
    if (!acms_crypt_is_envelope(d->document, d->len))
        return ACMS_OK;
    char *plain;
    size_t plain_len;
    int rc = acms_store__open(s, a, d->id, d->version, d->document, d->len, &plain, &plain_len, errstr, errstr_size);
    if (rc != ACMS_OK)
        return rc == ACMS_ERR_RETRY ? rc : ACMS_ERR; /* as the Redis backend: the stored version does not open */
    d->document = plain;
    d->len = plain_len;
    acms_store_hash(plain, plain_len, d->hash);
    return ACMS_OK;
}

/* A version as the service holds it (an envelope stays sealed; its hash is the envelope's). */
static int fetch_doc(acms_store *s, acms_arena *a, const char *id, uint32_t version, const char *context,
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
    return acms_store__doc_from_json(a, b.body.buf, b.body.len, id, version, out, errstr, errstr_size);
}

static int h_get(acms_store *s, acms_arena *a, const char *id, uint32_t version, const char *context,
                 acms_store_doc **out, char *errstr, size_t errstr_size)
{
    int rc = fetch_doc(s, a, id, version, context, out, errstr, errstr_size);
    if (rc == ACMS_OK && (rc = open_doc(s, a, *out, errstr, errstr_size)) != ACMS_OK)
        *out = NULL;
    return rc;
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

/* --- rotate-key ---------------------------------------------------------------------------------- */

/* Replaces the document of id@v with env while the service still holds the bytes hashed old_hash:
 * PUT {base}/configs/{id}/versions/{v}, If-Match: "<old_hash>". 1 replaced, 0 changed meanwhile
 * (412), or ACMS_ERR_* (a service without this call answers 404/405: a clear error). */
static int replace_doc(acms_store *s, acms_arena *a, const acms_store_doc *d, const char *env, size_t env_len,
                       char *errstr, size_t errstr_size)
{
    const char *url = acms_arena_printf(a, "%s/configs/%s/versions/%u", s->base, esc(s, a, d->id),
                                        (unsigned)d->version);
    answer b;
    long status = 0;
    int rc = request_if(s, a, url, env, env_len, !strcmp(d->format, "json") ? "application/json" : "application/yaml",
                        d->hash, &b, &status, errstr, errstr_size);
    if (rc == ACMS_OK)
        return 1;
    if (status == 412)
        return 0;
    if (status == 404 || status == 405 || status == 501)
        acms_store__err(errstr, errstr_size,
                        "storage service %s: cannot replace %s@%u (HTTP %ld): rotate-key needs "
                        "PUT /configs/{id}/versions/{n} with If-Match",
                        s->base, d->id, (unsigned)d->version, status);
    return rc == ACMS_ERR_NOTFOUND ? ACMS_ERR : rc;
}

/* Re-wraps the data key of id@v. 1 changed, 0 not, or an ACMS_ERR_* code. */
static int rotate_one(acms_store *s, acms_arena *a, const char *id, uint32_t v, char *errstr, size_t errstr_size)
{
    acms_store_doc *d = NULL;
    char *out = NULL;
    size_t out_len = 0;
    int changed = 0;
    int rc = fetch_doc(s, a, id, v, NULL, &d, errstr, errstr_size);
    if (rc == ACMS_ERR_NOTFOUND)
        return 0; /* the listing named it, the service no longer has it */
    if (rc == ACMS_OK)
        rc = acms_store__rewrap(s, a, id, v, d->document, d->len, &out, &out_len, &changed, errstr, errstr_size);
    if (rc != ACMS_OK || !changed)
        return rc;
    return replace_doc(s, a, d, out, out_len, errstr, errstr_size);
}

static int h_rotate(acms_store *s, acms_arena *a, size_t *n, char *errstr, size_t errstr_size)
{
    acms_store_entry *ids = NULL, *vs = NULL;
    size_t nids = 0, nvs = 0;
    *n = 0;
    int rc = h_list(s, a, NULL, &ids, &nids, errstr, errstr_size);
    for (size_t i = 0; rc == ACMS_OK && i < nids; i++) {
        rc = h_list(s, a, ids[i].id, &vs, &nvs, errstr, errstr_size);
        for (size_t k = 0; rc == ACMS_OK && k < nvs; k++) {
            int r = rotate_one(s, a, ids[i].id, vs[k].version, errstr, errstr_size);
            if (r < 0)
                rc = r;
            else
                *n += (size_t)r;
        }
    }
    return rc;
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
    .rotate = h_rotate,
    .close = h_close,
};
