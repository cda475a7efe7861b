/* The JSON fast path (doc_fastjson.c) must build the tree libyaml builds from the same text: same
 * kinds, values, key order and 1-based line/column on every node. Each JSON text is parsed twice:
 * as is (fast path) and behind a "---" line, which sends it through libyaml one line lower. Covers
 * multi-byte characters (columns count characters), escapes, CR/LF/CRLF line ends, numbers,
 * literals, empty collections, tabs between tokens and a long generated pipeline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "doc_fixture.h"

static void same_tree(const Acms__V1__Value *fast, const Acms__V1__Value *slow)
{
    assert_non_null(fast);
    assert_non_null(slow);
    assert_int_equal(fast->kind_case, slow->kind_case);
    assert_int_equal(fast->line + 1, slow->line); /* the libyaml copy is one line lower */
    assert_int_equal(fast->column, slow->column);
    switch (fast->kind_case) {
    case ACMS__V1__VALUE__KIND_STRING_VALUE:
        assert_string_equal(fast->string_value, slow->string_value);
        break;
    case ACMS__V1__VALUE__KIND_NUMBER_VALUE:
        assert_memory_equal(&fast->number_value, &slow->number_value, sizeof(double));
        break;
    case ACMS__V1__VALUE__KIND_BOOL_VALUE:
        assert_int_equal(fast->bool_value, slow->bool_value);
        break;
    case ACMS__V1__VALUE__KIND_LIST_VALUE:
        assert_int_equal(fast->list_value->n_values, slow->list_value->n_values);
        for (size_t i = 0; i < fast->list_value->n_values; i++)
            same_tree(fast->list_value->values[i], slow->list_value->values[i]);
        break;
    case ACMS__V1__VALUE__KIND_MAP_VALUE:
        assert_int_equal(fast->map_value->n_entries, slow->map_value->n_entries);
        for (size_t i = 0; i < fast->map_value->n_entries; i++) {
            assert_string_equal(fast->map_value->entries[i]->key, slow->map_value->entries[i]->key);
            same_tree(fast->map_value->entries[i]->value, slow->map_value->entries[i]->value);
        }
        break;
    default:
        break;
    }
}

static void compare(const char *json)
{
    acms_arena *a = acms_arena_new(0);
    size_t len = strlen(json);
    char *yaml = malloc(len + 5);
    char err[256];
    Acms__V1__Value **fast = NULL, **slow = NULL;
    size_t nf = 0, ns = 0;
    assert_non_null(yaml);
    memcpy(yaml, "---\n", 4);
    memcpy(yaml + 4, json, len + 1);
    assert_int_equal(acms_doc_parse(a, json, len, &fast, &nf, err, sizeof err), ACMS_OK);
    assert_int_equal(acms_doc_parse(a, yaml, len + 4, &slow, &ns, err, sizeof err), ACMS_OK);
    assert_int_equal(nf, 1);
    assert_int_equal(ns, 1);
    same_tree(fast[0], slow[0]);
    free(yaml);
    acms_arena_free(a);
}

static void small_documents(void **state)
{
    (void)state;
    compare("{}");
    compare("[]");
    compare("  {\"a\": 1}\n");
    compare("{\"a\":[],\"b\":{},\"c\":[{}, []]}");
    compare("{\"n\": [0, -0, 1, -12, 3.25, 1e3, -2.5E-3, 1E+2, 12345678901234567890]}");
    /* integers of up to 15 digits are read without strtod: the same bits as strtod's, -0 included */
    compare("[0, -0, 7, -7, 100000, 999999999999999, -999999999999999, 123456789012345, 1000000000000000,"
            " -1000000000000000, 9007199254740993, 0.0, -0.0, 10, 1e1]");
    compare("{\"t\": true, \"f\": false, \"z\": null, \"s\": \"\"}");
    compare("{\"esc\": \"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\", \"u\": \"\\u00e9\\u20ac\\u0041\"}");
    compare("{\"caf\xC3\xA9\": \"\xE2\x82\xAC 5\", \"after\": \"\xF0\x9F\x98\x80x\", \"k\": 1}");
    compare("{\r\n  \"crlf\": [1,\r\n 2],\r  \"cr\": \"x\",\n  \"lf\": \"y\"\r\n}\r\n");
    compare("{\"tabs\":\t[1,\t2]\t, \"k\" :\t\"v\"}");
    compare("[\"true\", \"1\", \"null\", \"~\", \"yes\", \"0x10\", \" spaced \", \"a: b\", \"# not a comment\"]");
    compare("{\"deep\": [[[[{\"x\": [[{\"y\": \"z\"}]]}]]]]}");
    /* long printable runs (counted a word at a time) mixed with multi-byte characters and tabs */
    compare("{\"abcdefghijklmnop\": \"0123456789abcdef\xC3\xA9ghijklmnopqrstuvwxyz\",\t\"qrstuvwxyzABCDEF\":\n"
            "  [\"\xE2\x82\xAC\xE2\x82\xAC" "0123456789\", 12345678901234, \"tab\\tinside a long string\"], \"z\": 1}");
}

static void generated_pipeline(void **state)
{
    (void)state;
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    n += (size_t)snprintf(buf + n, cap - n,
                          "{\"apiVersion\":\"acms/v1\",\"kind\":\"Pipeline\",\"metadata\":{\"name\":\"gen\"},\n"
                          "\"spec\":{\"steps\":[");
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(buf + n, cap - n,
                              "%s\n  {\"name\":\"step-%d\",\"type\":\"processing\",\"command\":[\"sh\", \"-c\", "
                              "\"echo %d \\u00e9\"],\"instance_count\":%d,\"max_runtime_s\":%d.0,"
                              "\"env\":{\"ROWS\": \"%d\"},\"depends_on\":[%s%d%s],\"optional\":%s}",
                              i ? "," : "", i, i, 1 + i % 3, 600 + i, i * 7, i ? "\"step-" : "", i ? i - 1 : 0,
                              i ? "\"" : "", i % 2 ? "true" : "false");
    n += (size_t)snprintf(buf + n, cap - n, "]}}\n");
    assert_true(n < cap);
    compare(buf);
    free(buf);
}

static void example_json_file(void **state)
{
    (void)state;
    char path[4096];
    assert_non_null(dfx_path(path, sizeof path, "examples/pipelines/parallel-etl.json"));
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *text = calloc(1, 1 << 20);
    assert_non_null(text);
    size_t n = fread(text, 1, (1 << 20) - 1, f);
    fclose(f);
    assert_true(n > 0);
    compare(text);
    free(text);
}

/* Errors the tree builder raises come out of the fast path with the libyaml path's positions. */
static void errors_name_the_same_place(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "{\"a\": 1,\n \"a\": 2}",
        "{\"x\": [1, 2],\n  \"s\": \"nul \\u0000 inside\"}",
        "{\"n\": 1e999}",
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        acms_arena *a = acms_arena_new(0);
        size_t len = strlen(cases[i]);
        char *yaml = malloc(len + 5), fast_err[256], slow_err[256];
        Acms__V1__Value **docs = NULL;
        size_t n = 0;
        unsigned fl, fc, sl, sc;
        assert_non_null(yaml);
        memcpy(yaml, "---\n", 4);
        memcpy(yaml + 4, cases[i], len + 1);
        int rf = acms_doc_parse(a, cases[i], len, &docs, &n, fast_err, sizeof fast_err);
        int rs = acms_doc_parse(a, yaml, len + 4, &docs, &n, slow_err, sizeof slow_err);
        assert_int_not_equal(rf, ACMS_OK);
        assert_int_equal(rf, rs);
        assert_int_equal(sscanf(fast_err, "line %u, column %u", &fl, &fc), 2);
        assert_int_equal(sscanf(slow_err, "line %u, column %u", &sl, &sc), 2);
        assert_int_equal(fl + 1, sl);
        assert_int_equal(fc, sc);
        assert_string_equal(strchr(fast_err, ':'), strchr(slow_err, ':'));
        free(yaml);
        acms_arena_free(a);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(small_documents),
        cmocka_unit_test(generated_pipeline),
        cmocka_unit_test(example_json_file),
        cmocka_unit_test(errors_name_the_same_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
