/* Parsing YAML and JSON into value trees: scalar resolution, positions, several documents, JSON
 * with tabs and escapes libyaml refuses, and the hostile-input limits (depth, scalar size, node
 * count, file size, NUL bytes, invalid UTF-8, duplicate keys, aliases). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "doc_fixture.h"

typedef struct fx {
    acms_arena *a;
    char err[512];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    f->a = acms_arena_new(0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    acms_arena_free(f->a);
    free(f);
    return 0;
}

static int parse(fx *f, const char *text, size_t len, Acms__V1__Value ***docs, size_t *n)
{
    f->err[0] = '\0';
    return acms_doc_parse(f->a, text, len, docs, n, f->err, sizeof f->err);
}

static void test_scalars_resolve(void **state)
{
    fx *f = *state;
    const char *y = "n1: ~\nn2: null\nn3:\nb1: true\nb2: False\nyes_is_text: yes\n"
                    "i: 42\nneg: -7\nflt: 2.5e3\nq: \"42\"\nsq: 'true'\nver: v1.10\nword: hello world\n"
                    "tagged: !!str 12\nhex: 0x1F\n";
    Acms__V1__Value *d = dfx_parse(f->a, y, f->err, sizeof f->err);
    assert_non_null(d);
    assert_true(acms_value_is(acms_value_get(d, "n1"), ACMS__V1__VALUE__KIND_NULL_VALUE));
    assert_true(acms_value_is(acms_value_get(d, "n2"), ACMS__V1__VALUE__KIND_NULL_VALUE));
    assert_true(acms_value_is(acms_value_get(d, "n3"), ACMS__V1__VALUE__KIND_NULL_VALUE));
    assert_true(acms_value_get(d, "b1")->bool_value);
    assert_true(acms_value_is(acms_value_get(d, "b2"), ACMS__V1__VALUE__KIND_BOOL_VALUE));
    assert_false(acms_value_get(d, "b2")->bool_value);
    assert_string_equal(acms_value_str(acms_value_get(d, "yes_is_text")), "yes");
    assert_true(acms_value_get(d, "i")->number_value == 42);
    assert_true(acms_value_get(d, "neg")->number_value == -7);
    assert_true(acms_value_get(d, "flt")->number_value == 2500);
    assert_string_equal(acms_value_str(acms_value_get(d, "q")), "42");
    assert_string_equal(acms_value_str(acms_value_get(d, "sq")), "true");
    assert_string_equal(acms_value_str(acms_value_get(d, "ver")), "v1.10");
    assert_string_equal(acms_value_str(acms_value_get(d, "word")), "hello world");
    assert_string_equal(acms_value_str(acms_value_get(d, "tagged")), "12");
    assert_string_equal(acms_value_str(acms_value_get(d, "hex")), "0x1F");
}

static void test_positions(void **state)
{
    fx *f = *state;
    const char *y = "# comment\n"
                    "spec:\n"
                    "  steps:\n"
                    "    - name: a\n"
                    "      command: [sh, \"-c\"]\n";
    Acms__V1__Value *d = dfx_parse(f->a, y, f->err, sizeof f->err);
    assert_non_null(d);
    const Acms__V1__Value *spec = acms_value_get(d, "spec");
    const Acms__V1__Value *steps = acms_value_get(spec, "steps");
    /* block collections under a key sit at their key */
    assert_int_equal(spec->line, 2);
    assert_int_equal(spec->column, 1);
    assert_int_equal(steps->line, 3);
    assert_int_equal(steps->column, 3);
    const Acms__V1__Value *step = steps->list_value->values[0];
    assert_int_equal(step->line, 4);
    assert_int_equal(step->column, 7);
    const Acms__V1__Value *name = acms_value_get(step, "name");
    assert_int_equal(name->line, 4);
    assert_int_equal(name->column, 13);
    const Acms__V1__Value *cmd = acms_value_get(step, "command");
    assert_int_equal(cmd->line, 5);
    assert_int_equal(cmd->column, 16); /* flow: at its '[' */
    assert_int_equal(cmd->list_value->values[1]->column, 21);
}

static void test_several_documents(void **state)
{
    fx *f = *state;
    Acms__V1__Value **docs;
    size_t n;
    const char *y = "kind: A\n---\nkind: B\n---\n";
    assert_int_equal(parse(f, y, strlen(y), &docs, &n), ACMS_OK);
    assert_int_equal(n, 3);
    assert_string_equal(acms_doc_kind(docs[0]), "A");
    assert_string_equal(acms_doc_kind(docs[1]), "B");
    assert_true(acms_value_is(docs[2], ACMS__V1__VALUE__KIND_NULL_VALUE));
    assert_int_equal(parse(f, "", 0, &docs, &n), ACMS_OK);
    assert_int_equal(n, 0);
}

static void test_json_with_positions_and_tabs(void **state)
{
    fx *f = *state;
    const char *j = "\t{\n\t\"kind\":\t\"Pipeline\",\n\t\"spec\": {\"steps\": [\n\t\t{\"name\": \"a\", \"n\": 3}\n\t]}\n}\n";
    Acms__V1__Value *d = dfx_parse(f->a, j, f->err, sizeof f->err);
    assert_non_null(d);
    assert_string_equal(acms_doc_kind(d), "Pipeline");
    const Acms__V1__Value *step = acms_value_path(d, "spec.steps.0");
    assert_non_null(step);
    assert_int_equal(step->line, 4);
    assert_true(acms_value_get(step, "n")->number_value == 3);
    assert_int_equal(acms_value_get(d, "kind")->line, 2);
}

static void test_json_fallback_without_positions(void **state)
{
    fx *f = *state;
    /* surrogate-pair escapes are valid JSON that libyaml refuses: read through cJSON */
    const char *j = "{\"emoji\": \"\\ud83d\\ude00\", \"slash\": \"a\\/b\", \"n\": [1, 2]}";
    Acms__V1__Value *d = dfx_parse(f->a, j, f->err, sizeof f->err);
    assert_non_null(d);
    assert_string_equal(f->err, "");
    assert_string_equal(acms_value_str(acms_value_get(d, "emoji")), "\xF0\x9F\x98\x80");
    assert_string_equal(acms_value_str(acms_value_get(d, "slash")), "a/b");
    assert_int_equal(acms_value_get(d, "n")->list_value->n_values, 2);
    assert_int_equal(d->line, 0);
    /* a duplicate key is refused on that path too */
    assert_null(dfx_parse(f->a, "{\"x\": \"\\ud83d\\ude00\", \"x\": 1}", f->err, sizeof f->err));
    assert_non_null(strstr(f->err, "duplicate key 'x'"));
}

static void test_syntax_error_names_place(void **state)
{
    fx *f = *state;
    assert_null(dfx_parse(f->a, "a: 1\nb: [1, 2\n", f->err, sizeof f->err));
    assert_non_null(strstr(f->err, "line 3"));
    assert_null(dfx_parse(f->a, "a:\n\tb: 1\n", f->err, sizeof f->err));
    assert_non_null(strstr(f->err, "line 2, column 1: tab character"));
}

static void test_deep_nesting(void **state)
{
    fx *f = *state;
    char buf[400];
    Acms__V1__Value **docs;
    size_t n;
    for (int depth = 64; depth <= 65; depth++) {
        memset(buf, '[', (size_t)depth);
        memset(buf + depth, ']', (size_t)depth);
        buf[2 * depth] = '\0';
        int rc = parse(f, buf, strlen(buf), &docs, &n);
        if (depth == 64) {
            assert_int_equal(rc, ACMS_OK);
        } else {
            assert_int_equal(rc, ACMS_ERR_LIMIT);
            assert_non_null(strstr(f->err, "line 1, column 65: nesting deeper than 64"));
        }
    }
    /* far deeper than cJSON's own limit: still a clean refusal */
    size_t deep = 100000;
    char *big = malloc(2 * deep + 1);
    memset(big, '[', deep);
    memset(big + deep, ']', deep);
    big[2 * deep] = '\0';
    assert_int_equal(parse(f, big, 2 * deep, &docs, &n), ACMS_ERR_LIMIT);
    free(big);
}

static void test_huge_string(void **state)
{
    fx *f = *state;
    Acms__V1__Value **docs;
    size_t n, len = ACMS_MAX_STRING + 10;
    char *y = malloc(len + 16);
    memcpy(y, "k: ", 3);
    memset(y + 3, 'x', len);
    y[3 + len] = '\0';
    assert_int_equal(parse(f, y, strlen(y), &docs, &n), ACMS_ERR_LIMIT);
    assert_non_null(strstr(f->err, "line 1, column 4: scalar of"));
    y[3 + ACMS_MAX_STRING] = '\0';
    assert_int_equal(parse(f, y, strlen(y), &docs, &n), ACMS_OK);
    free(y);
}

static void test_too_many_nodes_and_big_input(void **state)
{
    fx *f = *state;
    Acms__V1__Value **docs;
    size_t n, count = 450000;
    char *y = malloc(count * 2 + 2);
    y[0] = '[';
    for (size_t i = 0; i < count; i++) {
        y[1 + 2 * i] = '0';
        y[2 + 2 * i] = i + 1 < count ? ',' : ']';
    }
    y[count * 2 + 1] = '\0';
    assert_int_equal(parse(f, y, strlen(y), &docs, &n), ACMS_ERR_LIMIT);
    assert_non_null(strstr(f->err, "nodes"));
    free(y);
    size_t big = ACMS_MAX_FILE_BYTES + 1;
    char *z = malloc(big);
    memset(z, ' ', big);
    assert_int_equal(parse(f, z, big, &docs, &n), ACMS_ERR_LIMIT);
    free(z);
}

static void test_binary_and_invalid_utf8(void **state)
{
    fx *f = *state;
    Acms__V1__Value **docs;
    size_t n;
    const char bin[] = "a: 1\nb: x\0y\n";
    assert_int_equal(parse(f, bin, sizeof bin - 1, &docs, &n), ACMS_ERR_INVALID);
    assert_string_equal(f->err, "line 2, column 5: binary input (NUL byte)");
    const char *bad = "a: 1\nname: caf\xC3\n";
    assert_int_equal(parse(f, bad, strlen(bad), &docs, &n), ACMS_ERR_INVALID);
    assert_string_equal(f->err, "line 2, column 10: invalid UTF-8");
    const char *overlong = "a: \xC0\xAF\n";
    assert_int_equal(parse(f, overlong, strlen(overlong), &docs, &n), ACMS_ERR_INVALID);
    const char *ctrl = "a: \x01\n";
    assert_int_equal(parse(f, ctrl, strlen(ctrl), &docs, &n), ACMS_ERR_INVALID);
    assert_non_null(strstr(f->err, "line 1, column 4"));
    const char *esc = "a: \"x\\0y\"\n"; /* an escaped NUL inside a string */
    assert_int_equal(parse(f, esc, strlen(esc), &docs, &n), ACMS_ERR_INVALID);
    const char *ok = "name: caf\xC3\xA9 \xE2\x82\xAC\n";
    assert_int_equal(parse(f, ok, strlen(ok), &docs, &n), ACMS_OK);    /* inside a run of eight ASCII bytes (the scan checks a word at a time) */
    const char word_nul[] = "name: abcdefgh\0ijklmnop\n";
    assert_int_equal(parse(f, word_nul, sizeof word_nul - 1, &docs, &n), ACMS_ERR_INVALID);
    assert_string_equal(f->err, "line 1, column 15: binary input (NUL byte)");
    const char *word_bad = "name: abcdefg\xFFhijklmnop\n";
    assert_int_equal(parse(f, word_bad, strlen(word_bad), &docs, &n), ACMS_ERR_INVALID);
    assert_string_equal(f->err, "line 1, column 14: invalid UTF-8");
}

static void test_duplicate_keys(void **state)
{
    fx *f = *state;
    Acms__V1__Value **docs;
    size_t n;
    const char *y = "a: 1\nb: 2\na: 3\n";
    assert_int_equal(parse(f, y, strlen(y), &docs, &n), ACMS_ERR_INVALID);
    assert_string_equal(f->err, "line 3, column 1: duplicate key 'a'");
    /* a large map (hashed key index) */
    char big[8192];
    size_t used = 0;
    for (int i = 0; i < 200; i++) used += (size_t)snprintf(big + used, sizeof big - used, "k%d: %d\n", i, i);
    assert_int_equal(parse(f, big, used, &docs, &n), ACMS_OK);
    assert_int_equal(docs[0]->map_value->n_entries, 200);
    snprintf(big + used, sizeof big - used, "k137: again\n");
    assert_int_equal(parse(f, big, strlen(big), &docs, &n), ACMS_ERR_INVALID);
    assert_non_null(strstr(f->err, "line 201, column 1: duplicate key 'k137'"));    /* JSON (the fast path): small and hashed maps, and a key of a number's digits */
    const char *j = "{\"a\": 1,\n \"b\": {\"1\": 2, \"1\": 3}}";
    assert_int_equal(parse(f, j, strlen(j), &docs, &n), ACMS_ERR_INVALID);
    assert_string_equal(f->err, "line 2, column 16: duplicate key '1'");
    used = 0;
    used += (size_t)snprintf(big + used, sizeof big - used, "{");
    for (int i = 0; i < 200; i++) used += (size_t)snprintf(big + used, sizeof big - used, "\"k%d\": %d, ", i, i);
    snprintf(big + used, sizeof big - used, "\"k199\": 0}");
    assert_int_equal(parse(f, big, strlen(big), &docs, &n), ACMS_ERR_INVALID);
    assert_non_null(strstr(f->err, "duplicate key 'k199'"));
}

static void test_json_numbers(void **state)
{
    fx *f = *state;
    Acms__V1__Value **docs;
    size_t n;
    const char *j = "{\"a\": [1, -2.5e2, 0.125, true, false, null]}";
    assert_int_equal(parse(f, j, strlen(j), &docs, &n), ACMS_OK);
    const Acms__V1__ListValue *l = docs[0]->map_value->entries[0]->value->list_value;
    assert_int_equal(l->n_values, 6);
    assert_true(l->values[0]->number_value == 1.0);
    assert_true(l->values[1]->number_value == -250.0);
    assert_true(l->values[2]->number_value == 0.125);
    assert_int_equal(l->values[3]->kind_case, ACMS__V1__VALUE__KIND_BOOL_VALUE);
    assert_true(l->values[3]->bool_value);
    assert_false(l->values[4]->bool_value);
    assert_int_equal(l->values[5]->kind_case, ACMS__V1__VALUE__KIND_NULL_VALUE);
    const char *big = "{\"a\": [1, 1e999]}";
    assert_int_equal(parse(f, big, strlen(big), &docs, &n), ACMS_ERR_INVALID);
    assert_string_equal(f->err, "line 1, column 11: number out of range: 1e999");
}

static void test_aliases_refused(void **state)
{
    fx *f = *state;
    Acms__V1__Value **docs;
    size_t n;
    const char *lol = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n";
    assert_int_equal(parse(f, lol, strlen(lol), &docs, &n), ACMS_ERR_INVALID);
    assert_string_equal(f->err, "line 2, column 8: aliases are not supported");
    const char *anchor_only = "a: &a [x]\n";
    assert_int_equal(parse(f, anchor_only, strlen(anchor_only), &docs, &n), ACMS_OK);
    const char *complex_key = "? [a, b]\n: 1\n";
    assert_int_equal(parse(f, complex_key, strlen(complex_key), &docs, &n), ACMS_ERR_INVALID);
}

static void test_many_collections_stay_linear(void **state)
{
    fx *f = *state;
    Acms__V1__Value **docs;
    size_t n, used = 0, cap = 2 * 1024 * 1024;
    char *y = malloc(cap);
    used += (size_t)snprintf(y, cap, "items:\n");
    /* each item opens more than the arena's remembered arrays, which would make a naive push
     * copy the outer list every time */
    for (int i = 0; i < 8000; i++)
        used += (size_t)snprintf(y + used, cap - used, "  - {a: [1], b: [1], c: [1], d: [1], e: [1], f: [1], g: [1], h: [1], i: [1]}\n");
    assert_int_equal(parse(f, y, used, &docs, &n), ACMS_OK);
    assert_int_equal(acms_value_get(docs[0], "items")->list_value->n_values, 8000);
    assert_true(acms_arena_used(f->a) < 64u * 1024 * 1024);
    free(y);
}

static void test_parse_file(void **state)
{
    fx *f = *state;
    Acms__V1__Value **docs;
    size_t n;
    char path[PATH_MAX], dir[64];
    assert_non_null(dfx_path(path, sizeof path, "examples/pipelines/churn-training.yaml"));
    assert_int_equal(acms_doc_parse_file(f->a, path, &docs, &n, f->err, sizeof f->err), ACMS_OK);
    assert_int_equal(n, 1);
    assert_string_equal(acms_doc_kind(docs[0]), "Pipeline");
    assert_non_null(dfx_path(path, sizeof path, "examples/pipelines/parallel-etl.json"));
    assert_int_equal(acms_doc_parse_file(f->a, path, &docs, &n, f->err, sizeof f->err), ACMS_OK);
    assert_int_equal(acms_value_path(docs[0], "spec.steps")->list_value->n_values, 6);
    assert_int_equal(acms_doc_parse_file(f->a, "/nonexistent/x.yaml", &docs, &n, f->err, sizeof f->err),
                     ACMS_ERR_NOTFOUND);
    assert_non_null(strstr(f->err, "/nonexistent/x.yaml: "));
    assert_non_null(dfx_tmpdir(dir, sizeof dir));
    assert_int_equal(dfx_write(dir, "bad.yaml", "a: 1\na: 2\n"), 0);
    assert_non_null(dfx_join(path, sizeof path, dir, "bad.yaml"));
    assert_int_equal(acms_doc_parse_file(f->a, path, &docs, &n, f->err, sizeof f->err), ACMS_ERR_INVALID);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "%s: line 2, column 1: duplicate key 'a'", path);
    assert_string_equal(f->err, want);
    assert_non_null(dfx_join(path, sizeof path, dir, "big.yaml"));
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, ACMS_MAX_FILE_BYTES + 1, SEEK_SET), 0);
    fputc('\n', fp);
    fclose(fp);
    assert_int_equal(acms_doc_parse_file(f->a, path, &docs, &n, f->err, sizeof f->err), ACMS_ERR_LIMIT);
    dfx_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scalars_resolve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_positions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_several_documents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_with_positions_and_tabs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_fallback_without_positions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syntax_error_names_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deep_nesting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_huge_string, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_many_nodes_and_big_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binary_and_invalid_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aliases_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_collections_stay_linear, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
