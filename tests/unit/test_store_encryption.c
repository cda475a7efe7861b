/* Encryption at rest of stored configurations (common/crypt.c, common/config_store_redis.c) against a real
 * redis-server: with a master key no Redis key holds a document's plaintext; reads give the exact
 * text back; the same content keeps its version; an envelope opens only as its own kind, id and
 * version; a missing or wrong key fails with a clear error; rotation re-wraps every data key under the
 * new master key (the old one can then go) and seals documents stored before encryption was on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(envelopes_bind_and_fail_clearly, setup, teardown),
        cmocka_unit_test_setup_teardown(store_holds_no_plaintext_and_rotates, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
