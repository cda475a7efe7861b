/* acms_value_pack writes a value tree in one pass; its bytes must equal protobuf-c's pack of the
 * same tree exactly, because RuntimeMetadata.config_hash (acms_value_sha256_hex) is the SHA-256 of
 * those bytes and other builds compare it. Checked on the example pipelines, on the corner cases
 * of proto3 packing (empty strings and keys, zero positions, unset kinds, NULL sub-messages, large
 * varints, negative zero) and on a tree with unknown fields (left to protobuf-c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "doc_fixture.h"
#include "pb.h"

static void same_as_protobuf_c(const Acms__V1__Value *v)
{
    uint8_t *want = NULL, *got = NULL;
    size_t want_len = 0, got_len = 0;
    char want_hex[65], got_hex[65];
    assert_int_equal(acms_pb_pack(&v->base, &want, &want_len), ACMS_OK);
    assert_int_equal(acms_value_pack(v, &got, &got_len), ACMS_OK);
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
    acms_sha256_hex(want, want_len, want_hex);
    assert_int_equal(acms_value_sha256_hex(v, got_hex), ACMS_OK);
    assert_string_equal(got_hex, want_hex);
    free(want);
    free(got);
}

static void example_documents(void **state)
{
    (void)state;
    static const char *files[] = {"examples/pipelines/churn-training.yaml", "examples/pipelines/parallel-etl.json",
                                  "examples/catalog.yaml", "examples/environments/prod.yaml"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        acms_arena *a = acms_arena_new(0);
        char path[4096], err[256];
        Acms__V1__Value **docs = NULL;
        size_t n = 0;
        assert_non_null(dfx_path(path, sizeof path, files[i]));
        assert_int_equal(acms_doc_parse_file(a, path, &docs, &n, err, sizeof err), ACMS_OK);
        assert_true(n > 0);
        for (size_t k = 0; k < n; k++)
            same_as_protobuf_c(docs[k]);
        acms_arena_free(a);
    }
}

static void corner_cases(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__Value *root = acms_value_new_map(a);
    root->line = 1;
    root->column = 300000; /* a three-byte varint */
    acms_value_map_put(a, root, "", acms_value_new_string(a, ""));          /* empty key, empty string */
    acms_value_map_put(a, root, "neg0", acms_value_new_number(a, -0.0));
    acms_value_map_put(a, root, "big", acms_value_new_number(a, 1e300));
    acms_value_map_put(a, root, "t", acms_value_new_bool(a, 1));
    acms_value_map_put(a, root, "f", acms_value_new_bool(a, 0));           /* a oneof bool false is packed */
    acms_value_map_put(a, root, "nul", acms_value_new_null(a));
    Acms__V1__Value *unset = acms_pb_new(a, &acms__v1__value__descriptor); /* no kind at all */
    unset->line = 7;
    acms_value_map_put(a, root, "unset", unset);
    acms_value_map_put(a, root, "novalue", NULL);                          /* entry without a value */
    Acms__V1__Value *nullstr = acms_value_new_string(a, "x");
    nullstr->string_value = NULL;
    acms_value_map_put(a, root, "nullstr", nullstr);
    Acms__V1__Value *nolist = acms_value_new_list(a);
    nolist->list_value = NULL;
    acms_value_map_put(a, root, "nolist", nolist);
    acms_value_map_put(a, root, "emptylist", acms_value_new_list(a));
    acms_value_map_put(a, root, "emptymap", acms_value_new_map(a));
    Acms__V1__Value *list = acms_value_new_list(a);
    char longs[300];
    memset(longs, 'z', sizeof longs - 1);
    longs[sizeof longs - 1] = '\0';
    acms_value_list_add(a, list, acms_value_new_string(a, longs)); /* two-byte length prefix */
    for (int i = 0; i < 200; i++) {
        Acms__V1__Value *m = acms_value_new_map(a);
        m->line = (uint32_t)i;
        acms_value_map_put(a, m, "k", acms_value_new_number(a, i * 0.5));
        acms_value_list_add(a, list, m);
    }
    acms_value_map_put(a, root, "list", list);
    same_as_protobuf_c(root);
    same_as_protobuf_c(unset);
    acms_arena_free(a);
}

static void unknown_fields_fall_back(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    /* {string_value: "a"} plus field 9 (varint 5), which this schema does not know */
    static const uint8_t wire[] = {0x22, 0x01, 'a', 0x48, 0x05};
    ProtobufCAllocator al = acms_arena_pb(a);
    Acms__V1__Value *v = acms__v1__value__unpack(&al, sizeof wire, wire);
    assert_non_null(v);
    assert_int_equal(v->base.n_unknown_fields, 1);
    same_as_protobuf_c(v);
    Acms__V1__Value *outer = acms_value_new_list(a);
    acms_value_list_add(a, outer, v);
    same_as_protobuf_c(outer);
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(example_documents),
        cmocka_unit_test(corner_cases),
        cmocka_unit_test(unknown_fields_fall_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
