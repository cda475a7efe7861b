/* The configuration store's pure logic (no I/O): references id[@version], ids, Redis keys, content
 * and command hashes, the learning rule across versions, a document's id, and the decoding both
 * backends rely on (a stored version whose content does not match its hash is refused). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "config_store_int.h"

static void references(void **state)
{
    (void)state;
    char id[ACMS_STORE_MAX_ID + 1], err[256];
    uint32_t v = 99;
    assert_int_equal(acms_store_parse_ref("churn", id, sizeof id, &v, err, sizeof err), ACMS_OK);
    assert_string_equal(id, "churn");
    assert_int_equal(v, 0);
    assert_int_equal(acms_store_parse_ref("churn@latest", id, sizeof id, &v, err, sizeof err), ACMS_OK);
    assert_int_equal(v, 0);
    assert_int_equal(acms_store_parse_ref("churn-training.v2@17", id, sizeof id, &v, err, sizeof err), ACMS_OK);
    assert_string_equal(id, "churn-training.v2");
    assert_int_equal(v, 17);
    static const char *const bad[] = {"",       "@1",       "x@",    "x@0",         "x@-1",  "x@1a",
                                      "x@ 1",   "x@99999999999", "a b@1", "a:b",   "a/b@1", ".hidden", "-x", "x@1@2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        if (acms_store_parse_ref(bad[i], id, sizeof id, &v, err, sizeof err) != ACMS_ERR_INVALID)
            fail_msg("'%s' was accepted", bad[i]);
        assert_true(strlen(err) > 0);
    }
    char longid[200];
    memset(longid, 'a', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    assert_int_equal(acms_store_parse_ref(longid, id, sizeof id, &v, err, sizeof err), ACMS_ERR_INVALID);
    assert_false(acms_store_valid_id(longid));
    char ref[ACMS_STORE_MAX_REF];
    assert_string_equal(acms_store_format_ref(ref, sizeof ref, "churn", 3), "churn@3");
}

static void keys(void **state)
{
    (void)state;
    char k[256];
    assert_string_equal(acms_store_key_version(k, sizeof k, "churn", 2), "acms:config:churn:v:2");
    assert_string_equal(acms_store_key_latest(k, sizeof k, "churn"), "acms:config:churn:latest");
    assert_string_equal(acms_store_key_hashes(k, sizeof k, "churn"), "acms:config:churn:hashes");
    assert_string_equal(ACMS_STORE_KEY_IDS, "acms:configs");
    assert_null(acms_store_key_latest(k, 10, "churn")); /* does not fit */
}

static void hashes(void **state)
{
    (void)state;
    char h[65], g[65];
    acms_store_hash("abc", 3, h);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    char *one[] = {"sh", "-c", "echo a b"}, *split[] = {"sh", "-c", "echo", "a b"}, *joined[] = {"sh -c", "echo a b"};
    acms_store_command_hash(one, 3, h);
    acms_store_command_hash(split, 4, g);
    assert_string_not_equal(h, g);
    acms_store_command_hash(joined, 2, g);
    assert_string_not_equal(h, g); /* argument boundaries count */
    acms_store_command_hash(one, 3, g);
    assert_string_equal(h, g);
    acms_store_command_hash(NULL, 0, g);
    assert_int_equal(strlen(g), 64);
}

static void learning_rule(void **state)
{
    (void)state;
    assert_true(acms_store_command_applies("aa", "aa"));
    assert_false(acms_store_command_applies("aa", "bb"));
    assert_true(acms_store_command_applies("", "bb"));   /* learned before hashes were kept */
    assert_true(acms_store_command_applies(NULL, "bb"));
    assert_true(acms_store_command_applies("aa", ""));   /* a producer without hashes */
}

static void document_ids(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    const char *id, *fmt;
    char err[512];
    const char *yaml = "# comment\napiVersion: acms/v1\nkind: Pipeline\nmetadata: {name: churn}\nspec: {steps: []}\n";
    assert_int_equal(acms_store_doc_id(a, yaml, strlen(yaml), &id, &fmt, err, sizeof err), ACMS_OK);
    assert_string_equal(id, "churn");
    assert_string_equal(fmt, "yaml");
    const char *json = "  {\"apiVersion\":\"acms/v1\",\"kind\":\"Pipeline\",\"metadata\":{\"name\":\"etl\"},\"spec\":{}}";
    assert_int_equal(acms_store_doc_id(a, json, strlen(json), &id, &fmt, err, sizeof err), ACMS_OK);
    assert_string_equal(id, "etl");
    assert_string_equal(fmt, "json");
    const char *multi = "kind: Environment\nmetadata: {name: dev}\n---\nkind: Pipeline\nmetadata: {name: two}\n";
    assert_int_equal(acms_store_doc_id(a, multi, strlen(multi), &id, &fmt, err, sizeof err), ACMS_OK);
    assert_string_equal(id, "two");

    const char *env = "kind: Environment\nmetadata: {name: dev}\n";
    assert_int_equal(acms_store_doc_id(a, env, strlen(env), &id, &fmt, err, sizeof err), ACMS_ERR_INVALID);
    assert_non_null(strstr(err, "Pipeline"));
    const char *badname = "kind: Pipeline\nmetadata:\n  name: \"a/b\"\n";
    assert_int_equal(acms_store_doc_id(a, badname, strlen(badname), &id, &fmt, err, sizeof err), ACMS_ERR_INVALID);
    assert_non_null(strstr(err, "line 3"));
    const char *broken = "kind: Pipeline\nmetadata: {name: x\n";
    assert_int_equal(acms_store_doc_id(a, broken, strlen(broken), &id, &fmt, err, sizeof err), ACMS_ERR_INVALID);
    assert_non_null(strstr(err, "line"));
    acms_arena_free(a);
}

static void stored_fields(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    const char *doc = "kind: Pipeline\nmetadata: {name: churn}\n";
    char h[65], err[256];
    acms_store_hash(doc, strlen(doc), h);
    const char *kv[] = {"document", doc, "hash", h, "created_ms", "1764086400000", "format", "yaml"};
    acms_store_doc *d = NULL;
    assert_int_equal(acms_store__doc_from_fields(a, "churn", 3, kv, NULL, 8, &d, err, sizeof err), ACMS_OK);
    assert_int_equal(d->version, 3);
    assert_string_equal(d->document, doc);
    assert_string_equal(d->hash, h);
    assert_int_equal(d->created_ms, 1764086400000LL);
    assert_string_equal(d->format, "yaml");

    const char *tampered[] = {"document", "kind: Pipeline\nmetadata: {name: evil}\n", "hash", h};
    assert_int_equal(acms_store__doc_from_fields(a, "churn", 3, tampered, NULL, 4, &d, err, sizeof err), ACMS_ERR);
    assert_null(d);
    assert_non_null(strstr(err, "corrupt"));
    const char *nodoc[] = {"hash", h};
    assert_int_equal(acms_store__doc_from_fields(a, "churn", 3, nodoc, NULL, 2, &d, err, sizeof err), ACMS_ERR);
    assert_int_equal(acms_store__doc_from_fields(a, "churn", 3, NULL, NULL, 0, &d, err, sizeof err),
                     ACMS_ERR_NOTFOUND);
    acms_arena_free(a);
}

static void http_answers(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    char h[65], err[256];
    acms_store_hash("x: 1\n", 5, h);
    const char *ok = acms_arena_printf(a, "{\"id\":\"churn\",\"version\":2,\"hash\":\"%s\",\"document\":\"x: 1\\n\"}", h);
    acms_store_doc *d = NULL;
    assert_int_equal(acms_store__doc_from_json(a, ok, strlen(ok), "churn", 2, &d, err, sizeof err), ACMS_OK);
    assert_string_equal(d->document, "x: 1\n");
    assert_int_equal(acms_store__doc_from_json(a, ok, strlen(ok), "churn", 0, &d, err, sizeof err), ACMS_OK);
    assert_int_equal(d->version, 2);
    assert_int_equal(acms_store__doc_from_json(a, ok, strlen(ok), "churn", 3, &d, err, sizeof err), ACMS_ERR);
    assert_int_equal(acms_store__doc_from_json(a, ok, strlen(ok), "other", 2, &d, err, sizeof err), ACMS_ERR);
    const char *nohash = "{\"id\":\"churn\",\"version\":2,\"document\":\"x: 1\\n\"}";
    assert_int_equal(acms_store__doc_from_json(a, nohash, strlen(nohash), "churn", 2, &d, err, sizeof err), ACMS_ERR);
    const char *frac = "{\"id\":\"churn\",\"version\":1.5,\"document\":\"\"}";
    assert_int_equal(acms_store__doc_from_json(a, frac, strlen(frac), "churn", 0, &d, err, sizeof err), ACMS_ERR);
    assert_int_equal(acms_store__doc_from_json(a, "[1,", 3, "churn", 0, &d, err, sizeof err), ACMS_ERR);

    acms_store_entry *v;
    size_t n;
    const char *list = "{\"configs\":[{\"id\":\"b\",\"version\":1},{\"id\":\"a\",\"version\":4,\"created_ms\":5}]}";
    assert_int_equal(acms_store__entries_from_json(a, list, strlen(list), NULL, &v, &n, err, sizeof err), ACMS_OK);
    assert_int_equal(n, 2);
    acms_store__sort(v, n);
    assert_string_equal(v[0].id, "a");
    assert_int_equal(v[0].version, 4);
    assert_int_equal(v[0].created_ms, 5);
    const char *evil = "{\"configs\":[{\"id\":\"../x\",\"version\":1}]}";
    assert_int_equal(acms_store__entries_from_json(a, evil, strlen(evil), NULL, &v, &n, err, sizeof err), ACMS_ERR);
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(references),   cmocka_unit_test(keys),         cmocka_unit_test(hashes),
        cmocka_unit_test(learning_rule), cmocka_unit_test(document_ids), cmocka_unit_test(stored_fields),
        cmocka_unit_test(http_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
