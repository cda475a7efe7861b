/* The configuration store's HTTP backend against a loopback storage service (store_fixture.h): put
 * numbers versions and de-duplicates same content, get returns the exact bytes of a version or the
 * latest and passes the context, missing ids and versions are ACMS_ERR_NOTFOUND, a wrong hash is
 * refused as corrupt, and an unreachable or failing service is ACMS_ERR_RETRY. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "store_fixture.h"

typedef struct fx {
    fx_srv *srv;
    acms_store *st;
    acms_arena *a;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    char err[256] = "";
    f->srv = fx_srv_start();
    if (!f->srv)
        return -1;
    f->st = acms_store_open(f->srv->base, NULL, err, sizeof err);
    if (!f->st) {
        fprintf(stderr, "acms_store_open: %s\n", err);
        return -1;
    }
    f->a = acms_arena_new(0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    acms_store_close(f->st);
    fx_srv_stop(f->srv);
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

static void versions_are_numbered_and_deduplicated(void **state)
{
    fx *f = *state;
    char t1[1024], t2[1024];
    fx_pipeline_text(t1, sizeof t1, "churn", "v1");
    fx_pipeline_text(t2, sizeof t2, "churn", "v2");
    assert_string_equal(acms_store_kind(f->st), "http");
    acms_store_doc *d1 = put(f, t1, 1);
    assert_string_equal(d1->id, "churn");
    assert_int_equal(d1->version, 1);
    char h1[65];
    acms_store_hash(t1, strlen(t1), h1);
    assert_string_equal(d1->hash, h1);
    assert_int_equal(put(f, t1, 0)->version, 1); /* the same content twice: the same version */
    assert_int_equal(put(f, t2, 1)->version, 2);
    assert_int_equal(put(f, t1, 0)->version, 1); /* old content does not become a new version */

    acms_store_doc *g = NULL;
    char err[256] = "";
    assert_int_equal(acms_store_get(f->st, f->a, "churn", 1, "dev", &g, err, sizeof err), ACMS_OK);
    assert_int_equal(g->version, 1);
    assert_int_equal(g->len, strlen(t1));
    assert_memory_equal(g->document, t1, g->len);
    assert_string_equal(g->hash, h1);
    assert_string_equal(f->srv->last_context, "dev");

    assert_int_equal(acms_store_get(f->st, f->a, "churn", 0, "prod", &g, err, sizeof err), ACMS_OK);
    assert_int_equal(g->version, 2);
    assert_non_null(strstr(g->document, "echo v2"));
    assert_string_equal(f->srv->last_context, "prod");
}

static void missing_ids_and_versions_are_not_found(void **state)
{
    fx *f = *state;
    char t[1024], err[256] = "";
    put(f, fx_pipeline_text(t, sizeof t, "etl", "x"), 1);
    acms_store_doc *g = (acms_store_doc *)1;
    assert_int_equal(acms_store_get(f->st, f->a, "etl", 7, NULL, &g, err, sizeof err), ACMS_ERR_NOTFOUND);
    assert_null(g);
    assert_non_null(strstr(err, "no such version"));
    assert_int_equal(acms_store_get(f->st, f->a, "nope", 0, NULL, &g, err, sizeof err), ACMS_ERR_NOTFOUND);
    assert_int_equal(acms_store_get(f->st, f->a, "../etc", 1, NULL, &g, err, sizeof err), ACMS_ERR_NOTFOUND);
    acms_store_entry *v;
    size_t n;
    assert_int_equal(acms_store_list(f->st, f->a, "nope", &v, &n, err, sizeof err), ACMS_ERR_NOTFOUND);
}

static void listings(void **state)
{
    fx *f = *state;
    char t[1024], err[256] = "";
    put(f, fx_pipeline_text(t, sizeof t, "zeta", "1"), 1);
    put(f, fx_pipeline_text(t, sizeof t, "alpha", "1"), 1);
    put(f, fx_pipeline_text(t, sizeof t, "alpha", "2"), 1);
    acms_store_entry *v;
    size_t n;
    assert_int_equal(acms_store_list(f->st, f->a, NULL, &v, &n, err, sizeof err), ACMS_OK);
    assert_true(n >= 2);
    assert_string_equal(v[0].id, "alpha"); /* sorted by id */
    assert_int_equal(v[0].version, 2);
    assert_int_equal(strlen(v[0].hash), 64);
    assert_int_equal(acms_store_list(f->st, f->a, "alpha", &v, &n, err, sizeof err), ACMS_OK);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].version, 1);
    assert_int_equal(v[1].version, 2);
}

static void corrupt_answers_are_refused(void **state)
{
    fx *f = *state;
    char t[1024], err[256] = "";
    put(f, fx_pipeline_text(t, sizeof t, "bad", "1"), 1);
    f->srv->corrupt = 1;
    acms_store_doc *g = NULL;
    assert_int_equal(acms_store_get(f->st, f->a, "bad", 1, NULL, &g, err, sizeof err), ACMS_ERR);
    assert_null(g);
    assert_non_null(strstr(err, "corrupt"));
    f->srv->corrupt = 0;
}

static void unusable_documents_are_not_put(void **state)
{
    fx *f = *state;
    char err[256] = "";
    acms_store_doc *d = NULL;
    int created = 0, before = f->srv->requests;
    const char *nameless = "apiVersion: acms/v1\nkind: Pipeline\nspec: {steps: []}\n";
    assert_int_equal(acms_store_put(f->st, f->a, nameless, strlen(nameless), &d, &created, err, sizeof err),
                     ACMS_ERR_INVALID);
    assert_non_null(strstr(err, "metadata.name"));
    const char *bad = "kind: Pipeline\nmetadata: {name: [\n";
    assert_int_equal(acms_store_put(f->st, f->a, bad, strlen(bad), &d, &created, err, sizeof err), ACMS_ERR_INVALID);
    assert_int_equal(f->srv->requests, before); /* refused before the service was asked */
}

static void unreachable_or_failing_service_is_retry(void **state)
{
    fx *f = *state;
    char err[256] = "", base[64];
    acms_store_doc *g = NULL;
    f->srv->fail_status = 503;
    assert_int_equal(acms_store_get(f->st, f->a, "churn", 1, NULL, &g, err, sizeof err), ACMS_ERR_RETRY);
    f->srv->fail_status = 400;
    assert_int_equal(acms_store_get(f->st, f->a, "churn", 1, NULL, &g, err, sizeof err), ACMS_ERR);
    f->srv->fail_status = 0;

    snprintf(base, sizeof base, "http://127.0.0.1:%d/", fx_dead_port());
    acms_store *dead = acms_store_open(base, NULL, err, sizeof err);
    assert_non_null(dead);
    assert_int_equal(acms_store_get(dead, f->a, "churn", 1, NULL, &g, err, sizeof err), ACMS_ERR_RETRY);
    assert_non_null(strstr(err, "unreachable"));
    acms_store_close(dead);
}

static void specs(void **state)
{
    (void)state;
    char err[256] = "";
    assert_null(acms_store_open("redis", NULL, err, sizeof err)); /* needs a connection */
    assert_null(acms_store_open("ftp://x", NULL, err, sizeof err));
    assert_non_null(strstr(err, "http"));
    assert_null(acms_store_open("http://", NULL, err, sizeof err));
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(versions_are_numbered_and_deduplicated),
        cmocka_unit_test(missing_ids_and_versions_are_not_found),
        cmocka_unit_test(listings),
        cmocka_unit_test(corrupt_answers_are_refused),
        cmocka_unit_test(unusable_documents_are_not_put),
        cmocka_unit_test(unreachable_or_failing_service_is_retry),
        cmocka_unit_test(specs),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
