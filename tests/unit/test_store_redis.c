/* The configuration store's Redis backend against a real redis-server the test starts on a free
 * loopback port (and stops): versions are numbered and de-duplicated by content, get returns the
 * exact bytes of a version or the latest, missing ids and versions are ACMS_ERR_NOTFOUND, a stored
 * document whose hash no longer matches is refused as corrupt, and a dead server is ACMS_ERR_RETRY.
 * Beside it, on the same server, the hash reads and the seen-guarded hash writes (common/redis.c,
 * common/redis_hash.c) every service shares. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "redis_hash.h"
#include "redis_fixture.h"
#include "store_fixture.h"

typedef struct fx {
    fx_redis srv;
    acms_redis *r; /* srv.r */
    acms_store *st;
    acms_arena *a;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (fx_redis_start(&f->srv) != 0)
        return -1;
    f->r = f->srv.r;
    char err[256] = "";
    f->st = acms_store_open("redis", f->r, err, sizeof err);
    f->a = acms_arena_new(0);
    *state = f;
    return f->st ? 0 : -1;
}

static int teardown(void **state)
{
    fx *f = *state;
    acms_store_close(f->st);
    fx_redis_stop(&f->srv);
    acms_arena_free(f->a);
    free(f);
    return 0;
}

static acms_store_doc *put(fx *f, const char *text, int want_created)
{
    acms_store_doc *d = NULL;
    int created = -1;
    char err[512] = "";
    int rc = acms_store_put(f->st, f->a, text, strlen(text), &d, &created, err, sizeof err);
    if (rc != ACMS_OK)
        fprintf(stderr, "put: %s\n", err);
    assert_int_equal(rc, ACMS_OK);
    assert_int_equal(created, want_created);
    return d;
}

static void versions_gets_lists_and_refusals(void **state)
{
    fx *f = *state;
    char t1[1024], t2[1024], err[512] = "";
    fx_pipeline_text(t1, sizeof t1, "churn", "v1");
    fx_pipeline_text(t2, sizeof t2, "churn", "v2");
    assert_string_equal(acms_store_kind(f->st), "redis");
    acms_store_doc *d1 = put(f, t1, 1);
    assert_string_equal(d1->id, "churn");
    assert_int_equal(d1->version, 1);
    char h1[65];
    acms_store_hash(t1, strlen(t1), h1);
    assert_string_equal(d1->hash, h1);
    assert_int_equal(put(f, t1, 0)->version, 1); /* same content: same version */
    assert_int_equal(put(f, t2, 1)->version, 2);
    assert_int_equal(put(f, t1, 0)->version, 1); /* old content does not become version 3 */

    acms_store_doc *g = NULL;
    assert_int_equal(acms_store_get(f->st, f->a, "churn", 1, "dev", &g, err, sizeof err), ACMS_OK);
    assert_int_equal(g->version, 1);
    assert_string_equal(g->document, t1);
    assert_int_equal(acms_store_get(f->st, f->a, "churn", 0, NULL, &g, err, sizeof err), ACMS_OK);
    assert_int_equal(g->version, 2);
    assert_string_equal(g->document, t2);
    assert_int_equal(acms_store_get(f->st, f->a, "churn", 9, NULL, &g, err, sizeof err), ACMS_ERR_NOTFOUND);
    assert_int_equal(acms_store_get(f->st, f->a, "nope", 0, NULL, &g, err, sizeof err), ACMS_ERR_NOTFOUND);

    acms_store_entry *e = NULL;
    size_t n = 0;
    assert_int_equal(acms_store_list(f->st, f->a, "churn", &e, &n, err, sizeof err), ACMS_OK);
    assert_int_equal(n, 2);
    assert_int_equal(e[0].version, 1);
    assert_int_equal(e[1].version, 2);
    assert_int_equal(acms_store_list(f->st, f->a, NULL, &e, &n, err, sizeof err), ACMS_OK);
    assert_int_equal(n, 1);

    /* a stored document changed behind the store's back is refused, never returned */
    char key[256];
    acms_store_key_version(key, sizeof key, "churn", 1);
    redisReply *rep = acms_redis_cmd(f->r, "HSET %s document %s", key, "tampered");
    assert_non_null(rep);
    freeReplyObject(rep);
    assert_int_equal(acms_store_get(f->st, f->a, "churn", 1, NULL, &g, err, sizeof err), ACMS_ERR);

    /* the server gone: transient */
    fx_redis_kill(&f->srv);
    assert_int_equal(acms_store_get(f->st, f->a, "churn", 2, NULL, &g, err, sizeof err), ACMS_ERR_RETRY);
}

/* the hash reads every service shares (common/redis.c) */
static void hash_reads(void **state)
{
    fx *f = *state;
    const char **kv = NULL;
    size_t n = 99;
    assert_int_equal(acms_redis_exists(f->r, "acms:test:h"), 0);
    assert_int_equal(acms_redis_hgetall(f->r, f->a, "acms:test:h", &kv, &n), ACMS_OK);
    assert_int_equal(n, 0); /* a missing key: no fields */
    redisReply *rep = acms_redis_cmd(f->r, "HSET acms:test:h a 1 b %b", "x\0y", (size_t)3);
    assert_non_null(rep);
    freeReplyObject(rep);
    assert_int_equal(acms_redis_exists(f->r, "acms:test:h"), 1);
    assert_int_equal(acms_redis_hgetall(f->r, f->a, "acms:test:h", &kv, &n), ACMS_OK);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i += 2)
        assert_string_equal(kv[i + 1], strcmp(kv[i], "a") == 0 ? "1" : "x");
    /* a key of another type is Redis refusing: transient for the caller, nothing returned */
    rep = acms_redis_cmd(f->r, "SET acms:test:s v");
    freeReplyObject(rep);
    assert_int_equal(acms_redis_hgetall(f->r, f->a, "acms:test:s", &kv, &n), ACMS_ERR_RETRY);
    assert_int_equal(n, 0);
    fx_redis_kill(&f->srv);
    assert_int_equal(acms_redis_exists(f->r, "acms:test:h"), ACMS_ERR_RETRY);
    assert_int_equal(acms_redis_hgetall(f->r, f->a, "acms:test:h", &kv, &n), ACMS_ERR_RETRY);
}

/* the seen-guarded, versioned, all-or-nothing hash writes (common/redis_hash.c) */
static const char *hget(fx *f, const char *key, const char *field)
{
    redisReply *rep = acms_redis_cmd(f->r, "HGET %s %s", key, field);
    const char *v = rep && rep->type == REDIS_REPLY_STRING ? acms_arena_strndup(f->a, rep->str, rep->len) : NULL;
    if (rep)
        freeReplyObject(rep);
    return v;
}

static void hash_apply(void **state)
{
    fx *f = *state;
    acms_hash_op op[2] = {{.key = "acms:test:a", .expect_version = "0", .ttl_s = 60},
                          {.key = "acms:test:b"}};
    acms_hash_op_add(f->a, &op[0].setnx, &op[0].nsetnx, "first", "one");
    acms_hash_op_add(f->a, &op[0].set, &op[0].nset, "status", "open");
    acms_hash_op_add(f->a, &op[0].incr, &op[0].nincr, "count", "2");
    acms_hash_op_add(f->a, &op[1].incr, &op[1].nincr, "n", "1");
    assert_int_equal(acms_hash_apply(f->r, "acms:test:seen:e1", 60, op, 2), 1);
    assert_string_equal(hget(f, "acms:test:a", "first"), "one");
    assert_string_equal(hget(f, "acms:test:a", "count"), "2");
    assert_string_equal(hget(f, "acms:test:a", "version"), "1");
    assert_string_equal(hget(f, "acms:test:b", "n"), "1");
    /* the same event again: nothing written */
    assert_int_equal(acms_hash_apply(f->r, "acms:test:seen:e1", 60, op, 2), 0);
    assert_string_equal(hget(f, "acms:test:b", "n"), "1");
    /* a stale version: nothing written, not even the other hash or the seen marker */
    assert_int_equal(acms_hash_apply(f->r, "acms:test:seen:e2", 60, op, 2), ACMS_ERR_STALE);
    assert_string_equal(hget(f, "acms:test:b", "n"), "1");
    assert_int_equal(acms_redis_exists(f->r, "acms:test:seen:e2"), 0);
    /* the current version: applied; setnx fields keep their first value */
    op[0].expect_version = "1";
    op[0].setnx[1] = "two";
    assert_int_equal(acms_hash_apply(f->r, "acms:test:seen:e2", 60, op, 2), 1);
    assert_string_equal(hget(f, "acms:test:a", "first"), "one");
    assert_string_equal(hget(f, "acms:test:a", "count"), "4");
    assert_string_equal(hget(f, "acms:test:a", "version"), "2");
    /* unguarded: applied every time; replace starts the hash anew */
    acms_hash_op r = {.key = "acms:test:b", .replace = 1};
    acms_hash_op_add(f->a, &r.set, &r.nset, "only", "this");
    assert_int_equal(acms_hash_apply(f->r, NULL, 0, &r, 1), 1);
    assert_int_equal(acms_hash_apply(f->r, NULL, 0, &r, 1), 1);
    assert_null(hget(f, "acms:test:b", "n"));
    assert_string_equal(hget(f, "acms:test:b", "only"), "this");
    fx_redis_kill(&f->srv);
    assert_int_equal(acms_hash_apply(f->r, "acms:test:seen:e3", 60, op, 2), ACMS_ERR_RETRY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(versions_gets_lists_and_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(hash_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(hash_apply, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
