/* config_store_redis.c: the Redis backend of the configuration store (keys in store.h). A put is one
 * server-side script: it looks the content hash up in acms:config:<id>:hashes and returns the
 * version found, or increments acms:config:<id>:latest and writes the new immutable version, the
 * hash index and the id set together, so two concurrent puts never share or skip a number and the
 * same content always maps to one version. Reads verify the content hash (store.c). */
#include "config_store_int.h"

#include "crypt.h"
#include "keys.h"

#include <stdlib.h>
#include <string.h>

#define KEYSZ (ACMS_STORE_MAX_ID + 48)

/* KEYS[1] hashes, KEYS[2] latest, KEYS[3] ids. ARGV: id hash document created_ms format vprefix
 * expect. Returns {version, created (0|1)}; with expect (an encrypted document sealed for version
 * expect) and another version taken meanwhile, {0, latest}: the caller seals again. */
static const char put_lua[] =
    "local v = redis.call('HGET', KEYS[1], ARGV[2])\n"
    "if v then return {tonumber(v), 0} end\n"
    "if ARGV[7] ~= '' and (tonumber(redis.call('GET', KEYS[2]) or '0') + 1) ~= tonumber(ARGV[7]) then\n"
    "  return {0, tonumber(redis.call('GET', KEYS[2]) or '0')}\n"
    "end\n"
    "local n = redis.call('INCR', KEYS[2])\n"
    "redis.call('HSET', ARGV[6] .. n, 'document', ARGV[3], 'hash', ARGV[2], 'created_ms', ARGV[4],\n"
    "           'format', ARGV[5])\n"
    "redis.call('HSET', KEYS[1], ARGV[2], n)\n"
    "redis.call('SADD', KEYS[3], ARGV[1])\n"
    "return {n, 1}\n";

static void free_all(redisReply **rep, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (rep[i])
            freeReplyObject(rep[i]);
}

static int reply_error(const redisReply *rep, const char *what, char *errstr, size_t errstr_size)
{
    if (rep && rep->type == REDIS_REPLY_ERROR) {
        acms_store__err(errstr, errstr_size, "Redis refused %s: %s", what, rep->str);
        return 1;
    }
    return 0;
}

/* A version number from a GET reply: 0 when absent or unusable. */
static uint32_t reply_version(const redisReply *rep)
{
    if (!rep || rep->type != REDIS_REPLY_STRING)
        return 0;
    char *end;
    unsigned long v = strtoul(rep->str, &end, 10);
    return *end || v > UINT32_MAX ? 0 : (uint32_t)v;
}

/* The latest version of id (0 when none). */
static int current_latest(acms_store *s, const char *id, uint32_t *latest, char *errstr, size_t errstr_size)
{
    char klatest[KEYSZ];
    redisReply *rep = acms_redis_cmd(s->redis, "GET %s", acms_store_key_latest(klatest, sizeof klatest, id));
    if (!rep) {
        acms_store__err(errstr, errstr_size, "Redis is unreachable");
        return ACMS_ERR_RETRY;
    }
    *latest = reply_version(rep);
    freeReplyObject(rep);
    return ACMS_OK;
}

static int r_put(acms_store *s, acms_arena *a, const char *id, const char *format, const char *text, size_t len,
                 const char *hash, acms_store_doc **out, int *created, char *errstr, size_t errstr_size)
{
    char khashes[KEYSZ], klatest[KEYSZ], vprefix[KEYSZ];
    if (!acms_store_key_hashes(khashes, sizeof khashes, id) || !acms_store_key_latest(klatest, sizeof klatest, id) ||
        !acms_key_config(vprefix, sizeof vprefix, id, "v:")) {
        acms_store__err(errstr, errstr_size, "configuration id too long");
        return ACMS_ERR_INVALID;
    }
    const char *created_ms = acms_arena_printf(a, "%lld", (long long)acms_now_ms());
    const char *stored = text, *expect = "";
    size_t stored_len = len;
    uint32_t latest = 0;
    redisReply *rep = NULL;
    int rc = ACMS_ERR;
    for (int tries = 0; tries < 8; tries++) {
        if (s->crypt) { /* sealed for the version it should get: id, version and kind are bound */
            char *env = NULL;
            if (tries == 0 && (rc = current_latest(s, id, &latest, errstr, errstr_size)) != ACMS_OK)
                return rc;
            if ((rc = acms_store__seal(s, a, id, latest + 1, text, len, &env, &stored_len, errstr, errstr_size)) !=
                ACMS_OK)
                return rc;
            stored = env;
            expect = acms_arena_printf(a, "%u", (unsigned)(latest + 1));
        }
        const char *argv[] = {"EVAL", put_lua,    "3",    khashes, klatest, ACMS_STORE_KEY_IDS, id, hash,
                              stored, created_ms, format, vprefix, expect};
        size_t argl[13];
        for (int i = 0; i < 13; i++)
            argl[i] = argv[i] == stored ? stored_len : strlen(argv[i]);
        rep = acms_redis_cmdargv(s->redis, 13, argv, argl);
        if (!rep) {
            acms_store__err(errstr, errstr_size, "Redis is unreachable");
            return ACMS_ERR_RETRY;
        }
        rc = ACMS_ERR;
        if (reply_error(rep, "the put", errstr, errstr_size))
            goto out;
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 && rep->element[0]->type == REDIS_REPLY_INTEGER &&
            rep->element[0]->integer == 0 && s->crypt) {
            latest = (uint32_t)acms_redis_int(rep->element[1], 0); /* another put took that version */
            freeReplyObject(rep);
            rep = NULL;
            continue;
        }
        break;
    }
    if (!rep) {
        acms_store__err(errstr, errstr_size, "concurrent puts kept taking the version");
        return ACMS_ERR_RETRY;
    }
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 || rep->element[0]->type != REDIS_REPLY_INTEGER ||
        rep->element[0]->integer < 1 || rep->element[0]->integer > UINT32_MAX) {
        acms_store__err(errstr, errstr_size, "unexpected answer from the put script");
        goto out;
    }
    acms_store_doc *d = acms_arena_alloc(a, sizeof *d);
    d->id = acms_arena_strdup(a, id);
    d->version = (uint32_t)rep->element[0]->integer;
    memcpy(d->hash, hash, 65);
    d->document = acms_arena_strndup(a, text, len);
    d->len = len;
    d->created_ms = 0;
    d->format = acms_arena_strdup(a, format);
    *created = acms_redis_int(rep->element[1], 0) == 1;
    if (*created)
        d->created_ms = acms_now_ms();
    *out = d;
    rc = ACMS_OK;
out:
    freeReplyObject(rep);
    return rc;
}

static int r_get(acms_store *s, acms_arena *a, const char *id, uint32_t version, const char *context,
                 acms_store_doc **out, char *errstr, size_t errstr_size)
{
    (void)context; /* one document per version, whatever the environment */
    char klatest[KEYSZ], kv[KEYSZ];
    if (!acms_store_key_latest(klatest, sizeof klatest, id))
        return ACMS_ERR_NOTFOUND;
    redisReply *rep[2] = {0};
    uint32_t latest;
    if (version == 0) {
        rep[0] = acms_redis_cmd(s->redis, "GET %s", klatest);
        if (!rep[0]) {
            acms_store__err(errstr, errstr_size, "Redis is unreachable");
            return ACMS_ERR_RETRY;
        }
        latest = reply_version(rep[0]);
        freeReplyObject(rep[0]);
        rep[0] = NULL;
        if (!latest) {
            acms_store__err(errstr, errstr_size, "no configuration '%s' is stored", id);
            return ACMS_ERR_NOTFOUND;
        }
        version = latest;
    }
    acms_store_key_version(kv, sizeof kv, id, version);
    acms_redis_append(s->redis, "GET %s", klatest);
    acms_redis_append(s->redis, "HGETALL %s", kv);
    if (acms_redis_exec(s->redis, rep, 2) != ACMS_OK) {
        acms_store__err(errstr, errstr_size, "Redis is unreachable");
        return ACMS_ERR_RETRY;
    }
    int rc = ACMS_ERR;
    if (reply_error(rep[0], "GET", errstr, errstr_size) || reply_error(rep[1], "HGETALL", errstr, errstr_size))
        goto out;
    latest = reply_version(rep[0]);
    size_t n = rep[1]->type == REDIS_REPLY_ARRAY ? rep[1]->elements : 0;
    if (!latest || n == 0) {
        if (!latest)
            acms_store__err(errstr, errstr_size, "no configuration '%s' is stored", id);
        else
            acms_store__err(errstr, errstr_size, "configuration '%s' has no version %u (latest is %s@%u)", id,
                            (unsigned)version, id, (unsigned)latest);
        rc = ACMS_ERR_NOTFOUND;
        goto out;
    }
    const char **f = acms_arena_alloc(a, n * sizeof *f);
    size_t *fl = acms_arena_alloc(a, n * sizeof *fl);
    for (size_t i = 0; i < n; i++) {
        const redisReply *e = rep[1]->element[i];
        f[i] = e->type == REDIS_REPLY_STRING ? e->str : "";
        fl[i] = e->type == REDIS_REPLY_STRING ? e->len : 0;
    }
    for (size_t i = 0; i + 1 < n; i += 2) { /* an encrypted document opens only as this id and version */
        if (strcmp(f[i], "document") || !acms_crypt_is_envelope(f[i + 1], fl[i + 1]))
            continue;
        char *plain = NULL;
        rc = acms_store__open(s, a, id, version, f[i + 1], fl[i + 1], &plain, &fl[i + 1], errstr, errstr_size);
        if (rc != ACMS_OK) {
            rc = rc == ACMS_ERR_RETRY ? rc : ACMS_ERR;
            goto out;
        }
        f[i + 1] = plain;
    }
    rc = acms_store__doc_from_fields(a, id, version, f, fl, n, out, errstr, errstr_size);
out:
    free_all(rep, 2);
    return rc;
}

/* Pipelined HMGET hash created_ms of versions[i] of ids[i] into out[i]. */
static int fill_versions(acms_store *s, acms_arena *a, acms_store_entry *out, size_t n, char *errstr,
                         size_t errstr_size)
{
    if (n == 0)
        return ACMS_OK;
    char kv[KEYSZ];
    for (size_t i = 0; i < n; i++)
        acms_redis_append(s->redis, "HMGET %s hash created_ms",
                          acms_store_key_version(kv, sizeof kv, out[i].id, out[i].version));
    redisReply **rep = acms_arena_alloc(a, n * sizeof *rep);
    if (acms_redis_exec(s->redis, rep, n) != ACMS_OK) {
        acms_store__err(errstr, errstr_size, "Redis is unreachable");
        return ACMS_ERR_RETRY;
    }
    for (size_t i = 0; i < n; i++) {
        const redisReply *r = rep[i];
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
            if (r->element[0]->type == REDIS_REPLY_STRING)
                snprintf(out[i].hash, sizeof out[i].hash, "%s", r->element[0]->str);
            if (r->element[1]->type == REDIS_REPLY_STRING)
                out[i].created_ms = strtoll(r->element[1]->str, NULL, 10);
        }
    }
    free_all(rep, n);
    return ACMS_OK;
}

static int r_list(acms_store *s, acms_arena *a, const char *id, acms_store_entry **out, size_t *n, char *errstr,
                  size_t errstr_size)
{
    char klatest[KEYSZ];
    if (id) {
        redisReply *rep = acms_redis_cmd(s->redis, "GET %s", acms_store_key_latest(klatest, sizeof klatest, id));
        if (!rep) {
            acms_store__err(errstr, errstr_size, "Redis is unreachable");
            return ACMS_ERR_RETRY;
        }
        uint32_t latest = reply_version(rep);
        freeReplyObject(rep);
        if (!latest) {
            acms_store__err(errstr, errstr_size, "no configuration '%s' is stored", id);
            return ACMS_ERR_NOTFOUND;
        }
        *out = acms_arena_alloc(a, latest * sizeof **out);
        for (uint32_t v = 1; v <= latest; v++) {
            (*out)[v - 1].id = acms_arena_strdup(a, id);
            (*out)[v - 1].version = v;
        }
        *n = latest;
        return fill_versions(s, a, *out, *n, errstr, errstr_size);
    }
    redisReply *ids = acms_redis_cmd(s->redis, "SMEMBERS %s", ACMS_STORE_KEY_IDS);
    if (!ids) {
        acms_store__err(errstr, errstr_size, "Redis is unreachable");
        return ACMS_ERR_RETRY;
    }
    int rc = ACMS_ERR;
    if (reply_error(ids, "SMEMBERS", errstr, errstr_size) || ids->type != REDIS_REPLY_ARRAY)
        goto out;
    size_t k = ids->elements;
    rc = ACMS_OK;
    if (k == 0)
        goto out;
    for (size_t i = 0; i < k; i++)
        acms_redis_append(
            s->redis, "GET %s",
            acms_store_key_latest(klatest, sizeof klatest, ids->element[i]->str ? ids->element[i]->str : ""));
    redisReply **lat = acms_arena_alloc(a, k * sizeof *lat);
    if (acms_redis_exec(s->redis, lat, k) != ACMS_OK) {
        acms_store__err(errstr, errstr_size, "Redis is unreachable");
        rc = ACMS_ERR_RETRY;
        goto out;
    }
    *out = acms_arena_alloc(a, k * sizeof **out);
    for (size_t i = 0; i < k; i++) {
        uint32_t v = reply_version(lat[i]);
        if (!v || !ids->element[i]->str)
            continue;
        (*out)[*n].id = acms_arena_strdup(a, ids->element[i]->str);
        (*out)[*n].version = v;
        (*n)++;
    }
    free_all(lat, k);
    rc = fill_versions(s, a, *out, *n, errstr, errstr_size);
out:
    freeReplyObject(ids);
    return rc;
}


/* Replaces the document field of KEYS[1] with ARGV[2] only while it still holds ARGV[1]. */
static const char swap_lua[] = "if redis.call('HGET', KEYS[1], 'document') == ARGV[1] then\n"
                               "  redis.call('HSET', KEYS[1], 'document', ARGV[2]) return 1 end\n"
                               "return 0\n";

/* Re-wraps the document of id@v (rotate_key). 1 changed, 0 not, or an ACMS_ERR_* code. */
static int rotate_one(acms_store *s, acms_arena *a, const char *id, uint32_t v, char *errstr, size_t errstr_size)
{
    char kv[KEYSZ];
    acms_store_key_version(kv, sizeof kv, id, v);
    redisReply *rep = acms_redis_cmd(s->redis, "HGET %s document", kv);
    if (!rep) {
        acms_store__err(errstr, errstr_size, "Redis is unreachable");
        return ACMS_ERR_RETRY;
    }
    int rc = 0, changed = 0;
    char *out = NULL;
    size_t out_len = 0;
    if (rep->type == REDIS_REPLY_STRING) /* errstr says which and why on failure */
        rc = acms_store__rewrap(s, a, id, v, rep->str, rep->len, &out, &out_len, &changed, errstr, errstr_size);
    if (rc == ACMS_OK && changed) {
        const char *argv[] = {"EVAL", swap_lua, "1", kv, rep->str, out};
        size_t argl[] = {4, strlen(swap_lua), 1, strlen(kv), rep->len, out_len};
        redisReply *sw = acms_redis_cmdargv(s->redis, 6, argv, argl);
        rc = !sw ? ACMS_ERR_RETRY : acms_redis_int(sw, 0) == 1 ? 1 : 0;
        if (sw)
            freeReplyObject(sw);
    }
    freeReplyObject(rep);
    return rc;
}

static int r_rotate(acms_store *s, acms_arena *a, size_t *n, char *errstr, size_t errstr_size)
{
    acms_store_entry *ids = NULL;
    size_t nids = 0;
    *n = 0;
    int rc = r_list(s, a, NULL, &ids, &nids, errstr, errstr_size);
    for (size_t i = 0; rc == ACMS_OK && i < nids; i++)
        for (uint32_t v = 1; rc == ACMS_OK && v <= ids[i].version; v++) {
            int k = rotate_one(s, a, ids[i].id, v, errstr, errstr_size);
            if (k < 0)
                rc = k;
            else
                *n += (size_t)k;
        }
    return rc;
}

const acms_store_ops acms_store__redis_ops = {
    .kind = "redis",
    .put = r_put,
    .get = r_get,
    .list = r_list,
    .rotate = r_rotate,
    .close = NULL,
};
