/* config_store.c: the configuration store's front (store.h): opening a backend from a spec, checking what is
 * put (a usable Pipeline document with a valid id, within the size limit) before any backend sees it,
 * references id[@version], keys, content and command hashes, and the decoding the backends share.
 * Invariant: every document handed out has been checked against its content hash. */
#include "config_store_int.h"
#include "crypt.h"
#include "keys.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"
#include "pb.h"

void acms_store__err(char *errstr, size_t size, const char *fmt, ...)
{
    va_list ap;
    if (!errstr || size == 0)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(errstr, size, fmt, ap);
    va_end(ap);
    if (n < 0)
        errstr[0] = '\0';
}

/* --- open / close / dispatch ------------------------------------------------------------------- */

acms_store *acms_store_open(const char *spec, acms_redis *redis, char *errstr, size_t errstr_size)
{
    acms_store *s = calloc(1, sizeof *s);
    if (!s) {
        acms_store__err(errstr, errstr_size, "out of memory");
        return NULL;
    }
    if (!spec || !*spec || !strcmp(spec, "redis")) {
        if (!redis) {
            acms_store__err(errstr, errstr_size, "the redis configuration store needs a Redis connection");
            free(s);
            return NULL;
        }
        s->ops = &acms_store__redis_ops;
        s->redis = redis;
        return s;
    }
    if (!strncmp(spec, "http://", 7) || !strncmp(spec, "https://", 8)) {
        const char *host = strstr(spec, "://") + 3;
        if (!*host || *host == '/') {
            acms_store__err(errstr, errstr_size, "configuration store '%s': no host", spec);
            free(s);
            return NULL;
        }
        size_t n = strlen(spec);
        while (n > 0 && spec[n - 1] == '/')
            n--;
        s->base = strndup(spec, n);
        if (!s->base) {
            acms_store__err(errstr, errstr_size, "out of memory");
            free(s);
            return NULL;
        }
        s->ops = &acms_store__http_ops;
        return s;
    }
    acms_store__err(errstr, errstr_size,
                    "configuration store '%s': expected \"redis\" or an http(s):// URL of a storage service", spec);
    free(s);
    return NULL;
}

void acms_store_close(acms_store *s)
{
    if (!s)
        return;
    if (s->ops && s->ops->close)
        s->ops->close(s);
    free(s->base);
    free(s);
}

void acms_store_set_crypt(acms_store *s, const struct acms_crypt *c)
{
    if (s)
        s->crypt = c;
}

int acms_store_rotate_key(acms_store *s, acms_arena *a, size_t *n, char *errstr, size_t errstr_size)
{
    *n = 0;
    if (!s->crypt) {
        acms_store__err(errstr, errstr_size, "no master key is set (ACMS_MASTER_KEY_FILE or ACMS_MASTER_KEY_TRANSIT)");
        return ACMS_ERR_INVALID;
    }
    return s->ops->rotate(s, a, n, errstr, errstr_size);
}

/* --- encryption at rest: one binding for every backend --------------------------------------- */

#define SEALED_KIND "config"

int acms_store__seal(const acms_store *s, acms_arena *a, const char *id, uint32_t version, const char *text, size_t len,
                     char **env, size_t *env_len, char *errstr, size_t errstr_size)
{
    char why[512] = "";
    int rc = acms_crypt_seal(s->crypt, a, SEALED_KIND, id, version, text, len, env, env_len, why, sizeof why);
    if (rc != ACMS_OK)
        acms_store__err(errstr, errstr_size, "configuration %s@%u: %s", id, (unsigned)version, why);
    return rc;
}

int acms_store__open(const acms_store *s, acms_arena *a, const char *id, uint32_t version, const char *env,
                     size_t env_len, char **plain, size_t *plain_len, char *errstr, size_t errstr_size)
{
    char why[512] = "";
    int rc = acms_crypt_open(s->crypt, a, SEALED_KIND, id, version, env, env_len, plain, plain_len, why, sizeof why);
    if (rc != ACMS_OK)
        acms_store__err(errstr, errstr_size, "configuration %s@%u: %s", id, (unsigned)version, why);
    return rc;
}

int acms_store__rewrap(const acms_store *s, acms_arena *a, const char *id, uint32_t version, const char *env,
                       size_t env_len, char **out, size_t *out_len, int *changed, char *errstr, size_t errstr_size)
{
    char why[512] = "";
    int rc = acms_crypt_rewrap(s->crypt, a, SEALED_KIND, id, version, env, env_len, out, out_len, changed, why,
                               sizeof why);
    if (rc != ACMS_OK)
        acms_store__err(errstr, errstr_size, "configuration %s@%u: %s", id, (unsigned)version, why);
    return rc;
}

const char *acms_store_kind(const acms_store *s)
{
    return s && s->ops ? s->ops->kind : "";
}

int acms_store_put(acms_store *s, acms_arena *a, const char *text, size_t len, acms_store_doc **out, int *created,
                   char *errstr, size_t errstr_size)
{
    *out = NULL;
    *created = 0;
    if (len > ACMS_MAX_FILE_BYTES) {
        acms_store__err(errstr, errstr_size, "document of %zu bytes exceeds the limit of %d bytes", len,
                        ACMS_MAX_FILE_BYTES);
        return ACMS_ERR_LIMIT;
    }
    const char *id, *format;
    int rc = acms_store_doc_id(a, text, len, &id, &format, errstr, errstr_size);
    if (rc != ACMS_OK)
        return rc;
    char hash[65];
    acms_store_hash(text, len, hash);
    return s->ops->put(s, a, id, format, text, len, hash, out, created, errstr, errstr_size);
}

int acms_store_get(acms_store *s, acms_arena *a, const char *id, uint32_t version, const char *context,
                   acms_store_doc **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    if (!acms_store_valid_id(id)) {
        acms_store__err(errstr, errstr_size, "'%s' is not a configuration id", id ? id : "");
        return ACMS_ERR_NOTFOUND;
    }
    return s->ops->get(s, a, id, version, context ? context : "", out, errstr, errstr_size);
}

int acms_store_list(acms_store *s, acms_arena *a, const char *id, acms_store_entry **out, size_t *n, char *errstr,
                    size_t errstr_size)
{
    *out = NULL;
    *n = 0;
    if (id && !acms_store_valid_id(id)) {
        acms_store__err(errstr, errstr_size, "'%s' is not a configuration id", id);
        return ACMS_ERR_NOTFOUND;
    }
    int rc = s->ops->list(s, a, id, out, n, errstr, errstr_size);
    if (rc == ACMS_OK)
        acms_store__sort(*out, *n);
    return rc;
}

/* --- pure helpers ---------------------------------------------------------------------------------- */

int acms_store_valid_id(const char *id)
{
    if (!id || !*id || *id == '.' || *id == '-')
        return 0;
    size_t n = 0;
    for (const char *p = id; *p; p++, n++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                 c == '-';
        if (!ok || n >= ACMS_STORE_MAX_ID)
            return 0;
    }
    return 1;
}

int acms_store_parse_ref(const char *ref, char *id, size_t id_size, uint32_t *version, char *errstr, size_t errstr_size)
{
    *version = 0;
    if (id_size)
        id[0] = '\0';
    if (!ref || !*ref) {
        acms_store__err(errstr, errstr_size, "empty configuration reference (expected ID or ID@VERSION)");
        return ACMS_ERR_INVALID;
    }
    const char *at = strchr(ref, '@');
    size_t idlen = at ? (size_t)(at - ref) : strlen(ref);
    if (idlen == 0 || idlen >= id_size || idlen > ACMS_STORE_MAX_ID) {
        acms_store__err(errstr, errstr_size, "configuration reference '%s': %s", ref,
                        idlen == 0 ? "no id before '@'" : "id too long");
        return ACMS_ERR_INVALID;
    }
    memcpy(id, ref, idlen);
    id[idlen] = '\0';
    if (!acms_store_valid_id(id)) {
        acms_store__err(errstr, errstr_size,
                        "configuration reference '%s': the id may hold only letters, digits, '.', '_' and '-'", ref);
        id[0] = '\0';
        return ACMS_ERR_INVALID;
    }
    if (!at || !strcmp(at + 1, "latest"))
        return ACMS_OK;
    const char *v = at + 1;
    char *end;
    errno = 0;
    unsigned long n = *v >= '0' && *v <= '9' ? strtoul(v, &end, 10) : 0;
    if (*v < '0' || *v > '9' || errno || *end || n == 0 || n > UINT32_MAX) {
        acms_store__err(errstr, errstr_size,
                        "configuration reference '%s': the version must be a number >= 1 or \"latest\"", ref);
        id[0] = '\0';
        return ACMS_ERR_INVALID;
    }
    *version = (uint32_t)n;
    return ACMS_OK;
}

const char *acms_store_format_ref(char *buf, size_t size, const char *id, uint32_t version)
{
    int n = snprintf(buf, size, "%s@%u", id ? id : "", (unsigned)version);
    if ((n < 0 || (size_t)n >= size) && size)
        buf[0] = '\0';
    return buf;
}

void acms_store_hash(const char *text, size_t len, char out[65])
{
    acms_sha256_hex(text ? text : "", text ? len : 0, out);
}

void acms_store_command_hash(char *const *argv, size_t argc, char out[65])
{
    size_t total = 0;
    for (size_t i = 0; i < argc; i++)
        total += 21 + (argv[i] ? strlen(argv[i]) : 0);
    char *buf = malloc(total + 1);
    if (!buf) {
        out[0] = '\0';
        return;
    }
    size_t off = 0;
    for (size_t i = 0; i < argc; i++) {
        const char *s = argv[i] ? argv[i] : "";
        size_t l = strlen(s);
        int n = snprintf(buf + off, total + 1 - off, "%zu:", l);
        if (n < 0)
            break;
        off += (size_t)n;
        memcpy(buf + off, s, l);
        off += l;
    }
    acms_sha256_hex(buf, off, out);
    free(buf);
}

/* buf holding "acms:config:<id>:<suffix>", or NULL when it does not fit */
int acms_store_command_applies(const char *learned_hash, const char *current_hash)
{
    if (!learned_hash || !*learned_hash || !current_hash || !*current_hash)
        return 1;
    return strcmp(learned_hash, current_hash) == 0;
}

static const char *key(char *buf, size_t size, const char *id, const char *suffix)
{
    return acms_key_config(buf, size, id ? id : "", suffix);
}

const char *acms_store_key_version(char *buf, size_t size, const char *id, uint32_t version)
{
    char suffix[16];
    snprintf(suffix, sizeof suffix, "v:%u", (unsigned)version);
    return key(buf, size, id, suffix);
}

const char *acms_store_key_latest(char *buf, size_t size, const char *id)
{
    return key(buf, size, id, "latest");
}

const char *acms_store_key_hashes(char *buf, size_t size, const char *id)
{
    return key(buf, size, id, "hashes");
}

int acms_store_doc_id(acms_arena *a, const char *text, size_t len, const char **id, const char **format, char *errstr,
                      size_t errstr_size)
{
    *id = NULL;
    *format = "";
    Acms__V1__Value **docs = NULL;
    size_t ndocs = 0;
    char err[512] = "";
    int rc = acms_doc_parse(a, text ? text : "", text ? len : 0, &docs, &ndocs, err, sizeof err);
    if (rc != ACMS_OK) {
        acms_store__err(errstr, errstr_size, "%s", err);
        return rc == ACMS_ERR_LIMIT ? ACMS_ERR_LIMIT : ACMS_ERR_INVALID;
    }
    const Acms__V1__Value *doc = NULL;
    for (size_t i = 0; i < ndocs && !doc; i++)
        if (acms_doc_kind(docs[i]) && !strcmp(acms_doc_kind(docs[i]), "Pipeline"))
            doc = docs[i];
    if (!doc) {
        acms_store__err(errstr, errstr_size, "no document of kind Pipeline (found %zu document(s))", ndocs);
        return ACMS_ERR_INVALID;
    }
    const Acms__V1__Value *name = acms_value_path(doc, "metadata.name");
    const char *s = acms_value_str(name);
    if (!s || !*s) {
        acms_store__err(errstr, errstr_size, "line %u: metadata.name is required: it is the configuration's id",
                        doc->line);
        return ACMS_ERR_INVALID;
    }
    if (!acms_store_valid_id(s)) {
        acms_store__err(errstr, errstr_size,
                        "line %u: metadata.name '%s' cannot be a configuration id (1-128 of letters, digits, '.', "
                        "'_', '-'; not starting with '.' or '-')",
                        name->line, s);
        return ACMS_ERR_INVALID;
    }
    *id = acms_arena_strdup(a, s);
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
        i++;
    *format = i < len && (text[i] == '{' || text[i] == '[') ? "json" : "yaml";
    return ACMS_OK;
}

/* --- decoding shared by the backends ----------------------------------------------------------- */

static int cmp_entry(const void *x, const void *y)
{
    const acms_store_entry *a = x, *b = y;
    int c = strcmp(a->id, b->id);
    if (c)
        return c;
    return a->version < b->version ? -1 : a->version > b->version;
}

void acms_store__sort(acms_store_entry *v, size_t n)
{
    if (v && n > 1)
        qsort(v, n, sizeof *v, cmp_entry);
}

static int64_t parse_i64(const char *s)
{
    if (!s || !*s)
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    return errno || *end ? 0 : (int64_t)v;
}

static int is_hex64(const char *s)
{
    if (!s || strlen(s) != 64)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

/* Fills d's hash from stored and checks it against the document. */
static int check_hash(acms_store_doc *d, const char *stored, char *errstr, size_t errstr_size)
{
    char actual[65];
    acms_store_hash(d->document, d->len, actual);
    if (!is_hex64(stored) || strcmp(stored, actual) != 0) {
        acms_store__err(errstr, errstr_size,
                        "configuration %s@%u is corrupt: stored hash %.16s... does not match its content (%.16s...)",
                        d->id, d->version, stored ? stored : "(none)", actual);
        return ACMS_ERR;
    }
    memcpy(d->hash, actual, sizeof d->hash);
    return ACMS_OK;
}

int acms_store__doc_from_fields(acms_arena *a, const char *id, uint32_t version, const char *const *kv,
                                const size_t *kvlen, size_t nkv, acms_store_doc **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    if (nkv < 2)
        return ACMS_ERR_NOTFOUND;
    acms_store_doc *d = acms_arena_alloc(a, sizeof *d);
    const char *hash = NULL;
    d->id = acms_arena_strdup(a, id);
    d->version = version;
    d->format = "";
    for (size_t i = 0; i + 1 < nkv; i += 2) {
        const char *f = kv[i], *v = kv[i + 1];
        size_t vl = kvlen ? kvlen[i + 1] : strlen(v);
        if (!strcmp(f, "document")) {
            d->document = acms_arena_strndup(a, v, vl);
            d->len = vl;
        } else if (!strcmp(f, "hash")) {
            hash = acms_arena_strndup(a, v, vl);
        } else if (!strcmp(f, "created_ms")) {
            d->created_ms = parse_i64(acms_arena_strndup(a, v, vl));
        } else if (!strcmp(f, "format")) {
            d->format = acms_arena_strndup(a, v, vl);
        }
    }
    if (!d->document) {
        acms_store__err(errstr, errstr_size, "configuration %s@%u is corrupt: no document field", id, version);
        return ACMS_ERR;
    }
    if (memchr(d->document, '\0', d->len)) {
        acms_store__err(errstr, errstr_size, "configuration %s@%u is corrupt: NUL byte in the document", id, version);
        return ACMS_ERR;
    }
    if (check_hash(d, hash, errstr, errstr_size) != ACMS_OK)
        return ACMS_ERR;
    *out = d;
    return ACMS_OK;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A JSON number that is an integer in [lo, hi], else -1. */
static double jint(const cJSON *o, const char *k, double lo, double hi)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi ||
        v->valuedouble != (double)(int64_t)v->valuedouble)
        return -1;
    return v->valuedouble;
}

int acms_store__doc_from_json(acms_arena *a, const char *json, size_t len, const char *want_id, uint32_t want_version,
                              acms_store_doc **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    cJSON *j = cJSON_ParseWithLength(json, len);
    int rc = ACMS_ERR;
    if (!cJSON_IsObject(j)) {
        acms_store__err(errstr, errstr_size, "the storage service answered something that is not a JSON object");
        goto out;
    }
    const char *id = jstr(j, "id"), *doc = jstr(j, "document"), *hash = jstr(j, "hash");
    double v = jint(j, "version", 1, UINT32_MAX);
    if (!id || !doc || v < 0) {
        acms_store__err(errstr, errstr_size, "the storage service's answer lacks %s",
                        !id    ? "\"id\""
                        : !doc ? "\"document\""
                               : "a \"version\" >= 1");
        goto out;
    }
    if (strcmp(id, want_id) != 0 || (want_version && (uint32_t)v != want_version)) {
        acms_store__err(errstr, errstr_size, "the storage service answered %s@%.0f for %s@%u", id, v, want_id,
                        want_version);
        goto out;
    }
    size_t dl = strlen(doc);
    if (dl > ACMS_MAX_FILE_BYTES) {
        acms_store__err(errstr, errstr_size, "configuration %s@%.0f is larger than %d bytes", id, v,
                        ACMS_MAX_FILE_BYTES);
        rc = ACMS_ERR_LIMIT;
        goto out;
    }
    acms_store_doc *d = acms_arena_alloc(a, sizeof *d);
    d->id = acms_arena_strdup(a, id);
    d->version = (uint32_t)v;
    d->document = acms_arena_strndup(a, doc, dl);
    d->len = dl;
    double c = jint(j, "created_ms", 0, 9e15);
    d->created_ms = c > 0 ? (int64_t)c : 0;
    d->format = acms_arena_strdup(a, jstr(j, "format") ? jstr(j, "format") : "");
    if (check_hash(d, hash, errstr, errstr_size) != ACMS_OK)
        goto out;
    *out = d;
    rc = ACMS_OK;
out:
    cJSON_Delete(j);
    return rc;
}

int acms_store__entries_from_json(acms_arena *a, const char *json, size_t len, const char *id, acms_store_entry **out,
                                  size_t *n, char *errstr, size_t errstr_size)
{
    *out = NULL;
    *n = 0;
    cJSON *j = cJSON_ParseWithLength(json, len);
    int rc = ACMS_ERR;
    const cJSON *arr = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, id ? "versions" : "configs") : NULL;
    if (!cJSON_IsArray(arr)) {
        acms_store__err(errstr, errstr_size, "the storage service's listing lacks \"%s\"", id ? "versions" : "configs");
        goto out;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, arr)
    {
        const char *eid = id ? id : jstr(e, "id");
        const char *hash = jstr(e, "hash");
        double v = jint(e, "version", 1, UINT32_MAX);
        if (!eid || !acms_store_valid_id(eid) || v < 0) {
            acms_store__err(errstr, errstr_size, "the storage service's listing has an entry without id or version");
            goto out;
        }
        *out = acms_arena_push(a, *out, n, sizeof **out);
        acms_store_entry *x = &(*out)[*n - 1];
        x->id = acms_arena_strdup(a, eid);
        x->version = (uint32_t)v;
        snprintf(x->hash, sizeof x->hash, "%s", hash && is_hex64(hash) ? hash : "");
        double c = jint(e, "created_ms", 0, 9e15);
        x->created_ms = c > 0 ? (int64_t)c : 0;
    }
    rc = ACMS_OK;
out:
    cJSON_Delete(j);
    return rc;
}
