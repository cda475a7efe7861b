/* Encryption at rest of stored configurations (common/crypt.c, common/config_store_redis.c,
 * common/config_store_http.c) against a real redis-server and a storage service on loopback
 * (store_fixture.h): with a master key no Redis key (nor the service) holds a document's plaintext;
 * reads give the exact text back; the same content keeps its version; an envelope opens only as its
 * own kind, id and version (on both backends: one copied to another version or id fails clearly); a
 * missing or wrong key fails with a clear error; rotation re-wraps every data key under the new
 * master key (the old one can then go) and seals documents stored before encryption was on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypt.h"
#include "redis_fixture.h"
#include "store_fixture.h"

typedef struct fx {
    fx_redis srv;
    acms_store *st;
    acms_arena *a;
    char dir[64], k1[128], k2[128];
} fx;

static void write_key(const char *path, unsigned char fill)
{
    unsigned char k[32];
    for (int i = 0; i < 32; i++)
        k[i] = (unsigned char)(fill + i * 7);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(k, 1, 32, f), 32);
    fclose(f);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (fx_redis_start(&f->srv) != 0)
        return -1;
    char err[256] = "";
    f->st = acms_store_open("redis", f->srv.r, err, sizeof err);
    f->a = acms_arena_new(0);
    snprintf(f->dir, sizeof f->dir, "/tmp/acms-keys-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->k1, sizeof f->k1, "%s/k1", f->dir);
    snprintf(f->k2, sizeof f->k2, "%s/k2", f->dir);
    write_key(f->k1, 1);
    write_key(f->k2, 99);
    *state = f;
    return f->st ? 0 : -1;
}

static int teardown(void **state)
{
    fx *f = *state;
    acms_store_close(f->st);
    fx_redis_stop(&f->srv);
    acms_arena_free(f->a);
    unlink(f->k1);
    unlink(f->k2);
    rmdir(f->dir);
    free(f);
    return 0;
}

static acms_crypt *ring(const char *primary, const char *previous)
{
    acms_crypt *c = NULL;
    char err[256] = "";
    if (acms_crypt_from_files(&c, primary, previous, err, sizeof err) != ACMS_OK)
        fail_msg("%s", err);
    return c;
}

/* Every key and value in Redis, as one text (a Lua dump, like the leak test's). */
static char *dump(fx *f)
{
    static const char lua[] = "local o = {} for _, k in ipairs(redis.call('KEYS', '*')) do o[#o + 1] = k "
                              "local t = redis.call('TYPE', k).ok if t == 'hash' then for _, x in "
                              "ipairs(redis.call('HGETALL', k)) do o[#o + 1] = x end elseif t == 'string' then "
                              "o[#o + 1] = redis.call('GET', k) end end return table.concat(o, '\\n')";
    redisReply *r = acms_redis_cmd(f->srv.r, "EVAL %s 0", lua);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    char *s = acms_arena_strndup(f->a, r->str, r->len);
    freeReplyObject(r);
    return s;
}

static void envelopes_bind_and_fail_clearly(void **state)
{
    fx *f = *state;
    acms_crypt *c1 = ring(f->k1, NULL), *c2 = ring(f->k2, NULL);
    char *env = NULL, *plain = NULL, err[512];
    size_t n = 0, pn = 0;
    assert_int_equal(acms_crypt_seal(c1, f->a, "config", "churn", 3, "hello secret doc", 16, &env, &n, err, sizeof err),
                     ACMS_OK);
    assert_true(acms_crypt_is_envelope(env, n));
    assert_non_null(strstr(env, acms_crypt_key_id(c1)));
    assert_null(strstr(env, "hello"));
    assert_int_equal(acms_crypt_open(c1, f->a, "config", "churn", 3, env, n, &plain, &pn, err, sizeof err), ACMS_OK);
    assert_string_equal(plain, "hello secret doc");
    /* another version, id or kind: refused */
    assert_int_equal(acms_crypt_open(c1, f->a, "config", "churn", 4, env, n, &plain, &pn, err, sizeof err),
                     ACMS_ERR_INVALID);
    assert_int_equal(acms_crypt_open(c1, f->a, "config", "other", 3, env, n, &plain, &pn, err, sizeof err),
                     ACMS_ERR_INVALID);
    assert_int_equal(acms_crypt_open(c1, f->a, "runtime", "churn", 3, env, n, &plain, &pn, err, sizeof err),
                     ACMS_ERR_INVALID);
    /* no key, the wrong key */
    assert_int_equal(acms_crypt_open(NULL, f->a, "config", "churn", 3, env, n, &plain, &pn, err, sizeof err),
                     ACMS_ERR_INVALID);
    assert_non_null(strstr(err, "no master key is set"));
    assert_int_equal(acms_crypt_open(c2, f->a, "config", "churn", 3, env, n, &plain, &pn, err, sizeof err),
                     ACMS_ERR_INVALID);
    assert_non_null(strstr(err, "not configured"));
    /* a key file of the wrong size */
    char bad[160];
    snprintf(bad, sizeof bad, "%s/bad", f->dir);
    FILE *b = fopen(bad, "w");
    fputs("short", b);
    fclose(b);
    acms_crypt *x = NULL;
    assert_int_equal(acms_crypt_from_files(&x, bad, NULL, err, sizeof err), ACMS_ERR_INVALID);
    assert_non_null(strstr(err, "32 bytes"));
    unlink(bad);
    acms_crypt_free(c1);
    acms_crypt_free(c2);
}

static void store_holds_no_plaintext_and_rotates(void **state)
{
    fx *f = *state;
    char t0[1024], t1[1024], t2[1024], err[512] = "";
    fx_pipeline_text(t0, sizeof t0, "before", "marker-zero-0");
    fx_pipeline_text(t1, sizeof t1, "churn", "marker-one-1");
    fx_pipeline_text(t2, sizeof t2, "churn", "marker-two-2");
    acms_store_doc *d = NULL;
    int created = 0;
    assert_int_equal(acms_store_put(f->st, f->a, t0, strlen(t0), &d, &created, err, sizeof err), ACMS_OK);
    acms_crypt *c1 = ring(f->k1, NULL);
    acms_store_set_crypt(f->st, c1);
    assert_int_equal(acms_store_put(f->st, f->a, t1, strlen(t1), &d, &created, err, sizeof err), ACMS_OK);
    assert_int_equal(d->version, 1);
    assert_int_equal(acms_store_put(f->st, f->a, t2, strlen(t2), &d, &created, err, sizeof err), ACMS_OK);
    assert_int_equal(d->version, 2);
    assert_int_equal(acms_store_put(f->st, f->a, t1, strlen(t1), &d, &created, err, sizeof err), ACMS_OK);
    assert_int_equal(d->version, 1); /* the same content keeps its version */
    assert_false(created);
    char *all = dump(f);
    assert_null(strstr(all, "marker-one-1")); /* the documents' text (their marker) is nowhere in Redis */
    assert_null(strstr(all, "marker-two-2"));
    assert_non_null(strstr(all, "marker-zero-0")); /* stored before the key was set: in clear until rotation */
    assert_int_equal(acms_store_get(f->st, f->a, "churn", 2, NULL, &d, err, sizeof err), ACMS_OK);
    assert_string_equal(d->document, t2);

    /* without the key: a clear error, nothing returned */
    acms_store_set_crypt(f->st, NULL);
    assert_int_equal(acms_store_get(f->st, f->a, "churn", 1, NULL, &d, err, sizeof err), ACMS_ERR);
    assert_non_null(strstr(err, "no master key is set"));

    /* rotation to k2 (k1 given as the previous key), then k1 can go */
    acms_crypt *c21 = ring(f->k2, f->k1), *c2 = ring(f->k2, NULL);
    acms_store_set_crypt(f->st, c21);
    size_t n = 0;
    assert_int_equal(acms_store_rotate_key(f->st, f->a, &n, err, sizeof err), ACMS_OK);
    assert_int_equal(n, 3); /* two re-wrapped, one sealed */
    assert_int_equal(acms_store_rotate_key(f->st, f->a, &n, err, sizeof err), ACMS_OK);
    assert_int_equal(n, 0); /* already under k2 */
    acms_store_set_crypt(f->st, c2);
    assert_int_equal(acms_store_get(f->st, f->a, "churn", 1, NULL, &d, err, sizeof err), ACMS_OK);
    assert_string_equal(d->document, t1);
    assert_int_equal(acms_store_get(f->st, f->a, "before", 1, NULL, &d, err, sizeof err), ACMS_OK);
    assert_string_equal(d->document, t0);
    all = dump(f);
    assert_null(strstr(all, "marker-zero-0"));
    assert_null(strstr(all, acms_crypt_key_id(c1)));
    /* the old key alone no longer opens them: a clear error naming the key */
    acms_store_set_crypt(f->st, c1);
    assert_int_equal(acms_store_get(f->st, f->a, "churn", 2, NULL, &d, err, sizeof err), ACMS_ERR);
    assert_non_null(strstr(err, "not configured"));
    acms_store_set_crypt(f->st, NULL);
    acms_crypt_free(c1);
    acms_crypt_free(c21);
    acms_crypt_free(c2);
}

/* --- the HTTP backend --------------------------------------------------------------------------- */

static void put_ok(acms_store *st, acms_arena *a, const char *text, uint32_t version, int created)
{
    acms_store_doc *d = NULL;
    int c = -1;
    char err[512] = "";
    if (acms_store_put(st, a, text, strlen(text), &d, &c, err, sizeof err) != ACMS_OK)
        fail_msg("put: %s", err);
    assert_int_equal(d->version, version);
    assert_int_equal(c, created);
}

static void get_is(acms_store *st, acms_arena *a, const char *id, uint32_t version, const char *text)
{
    acms_store_doc *d = NULL;
    char err[512] = "";
    if (acms_store_get(st, a, id, version, NULL, &d, err, sizeof err) != ACMS_OK)
        fail_msg("get %s@%u: %s", id, (unsigned)version, err);
    assert_string_equal(d->document, text);
}

/* get id@version fails (ACMS_ERR) with an error holding want. */
static void get_fails(acms_store *st, acms_arena *a, const char *id, uint32_t version, const char *want)
{
    acms_store_doc *d = NULL;
    char err[512] = "";
    assert_int_equal(acms_store_get(st, a, id, version, NULL, &d, err, sizeof err), ACMS_ERR);
    if (!strstr(err, want))
        fail_msg("get %s@%u: expected '%s' in: %s", id, (unsigned)version, want, err);
    assert_null(d);
}

static void http_store_binds_version_and_rotates(void **state)
{
    fx *f = *state;
    fx_srv *srv = fx_srv_start();
    assert_non_null(srv);
    char t0[1024], t1[1024], t2[1024], err[512] = "";
    fx_pipeline_text(t0, sizeof t0, "before", "marker-zero-0");
    fx_pipeline_text(t1, sizeof t1, "churn", "marker-one-1");
    fx_pipeline_text(t2, sizeof t2, "churn", "marker-two-2");
    acms_store *st = acms_store_open(srv->base, NULL, err, sizeof err);
    assert_non_null(st);
    put_ok(st, f->a, t0, 1, 1); /* stored in clear, before encryption was on */
    acms_crypt *c1 = ring(f->k1, NULL), *c21 = ring(f->k2, f->k1), *c2 = ring(f->k2, NULL);
    acms_store_set_crypt(st, c1);
    put_ok(st, f->a, t1, 1, 1);
    put_ok(st, f->a, t2, 2, 1);
    put_ok(st, f->a, t2, 2, 0); /* the same content keeps its version, although each seal differs */
    for (size_t i = 1; i < srv->n; i++) {
        assert_true(acms_crypt_is_envelope(srv->v[i].doc, srv->v[i].len));
        assert_null(strstr(srv->v[i].doc, "marker-"));
    }
    get_is(st, f->a, "churn", 1, t1);
    get_is(st, f->a, "churn", 0, t2);
    srv->race = 2; /* versions 3 and 4 go to another writer: the put seals again for 5 */
    char t3[1024];
    fx_pipeline_text(t3, sizeof t3, "churn", "marker-three-3");
    put_ok(st, f->a, t3, 5, 1);
    get_is(st, f->a, "churn", 5, t3);

    /* rotation: every data key re-wrapped in place (PUT with If-Match), the clear one sealed */
    size_t n = 0;
    acms_store_set_crypt(st, c21);
    assert_int_equal(acms_store_rotate_key(st, f->a, &n, err, sizeof err), ACMS_OK);
    assert_int_equal(n, 6); /* before@1, churn@1..5 (3 and 4 were stored in clear by the other writer) */
    assert_int_equal(acms_store_rotate_key(st, f->a, &n, err, sizeof err), ACMS_OK);
    assert_int_equal(n, 0);
    assert_null(strstr(srv->v[0].doc, "marker-zero-0"));
    acms_store_set_crypt(st, c2);
    get_is(st, f->a, "before", 1, t0);
    get_is(st, f->a, "churn", 1, t1);
    get_is(st, f->a, "churn", 2, t2);
    get_is(st, f->a, "churn", 5, t3);
    acms_store_set_crypt(st, c1);
    get_fails(st, f->a, "churn", 1, "not configured");

    /* an envelope copied to another version, or to another id, does not open */
    acms_store_set_crypt(st, c2);
    fx_srv_version *v1 = &srv->v[1], *v2 = &srv->v[2];
    assert_int_equal(v2->version, 2);
    free(v2->doc);
    v2->doc = strdup(v1->doc);
    v2->len = v1->len;
    memcpy(v2->hash, v1->hash, sizeof v2->hash);
    get_fails(st, f->a, "churn", 2, "cannot decrypt config churn@2: sealed for another id, version or kind");
    fx_srv_version *o = &srv->v[srv->n++];
    snprintf(o->id, sizeof o->id, "other");
    o->version = 1;
    o->doc = strdup(v1->doc);
    o->len = v1->len;
    memcpy(o->hash, v1->hash, sizeof o->hash);
    get_fails(st, f->a, "other", 1, "cannot decrypt config other@1: sealed for another id, version or kind");
    get_is(st, f->a, "churn", 1, t1); /* still opens where it belongs */
    acms_store_close(st);
    fx_srv_stop(srv);
    acms_crypt_free(c1);
    acms_crypt_free(c21);
    acms_crypt_free(c2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(envelopes_bind_and_fail_clearly, setup, teardown),
        cmocka_unit_test_setup_teardown(store_holds_no_plaintext_and_rotates, setup, teardown),
        cmocka_unit_test_setup_teardown(http_store_binds_version_and_rotates, setup, teardown),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
