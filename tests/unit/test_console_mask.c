/* What the console renders never holds a plain-text credential (services/console/mask.c): a stored
 * document's credential values are masked wherever they occur (also in a second document and in a
 * comment), a value the text spells with escapes is masked at its place, secret references and
 * ordinary values stay; a pipeline is redacted as the adapter does; a line of step output holding a
 * credential is masked, other lines are kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "adapter/adapter.h"
#include "console/mask.h"
#include "doc.h"

static const char *const doc_text =
    "apiVersion: acms/v1\n"
    "kind: Pipeline\n"
    "metadata: {name: masked}\n"
    "spec:\n"
    "  steps:\n"
    "    - name: load\n"
    "      type: processing\n"
    "      command: [\"./load.sh\", \"--rows\", \"1000\"]\n"
    "      env:\n"
    "        DB_PASSWORD: hunter2-hunter2\n"
    "        API_TOKEN: \"tok\\u0065n-123456\"\n"
    "        DB_REF: \"secret://env/DB\"\n"
    "        ROWS: \"1000\"\n"
    "      # the old password was hunter2-hunter2\n";

static void test_document(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    size_t masked = 0;
    char *out = console_mask_document(a, doc_text, strlen(doc_text), &masked);
    assert_int_equal(masked, 2);
    assert_null(strstr(out, "hunter2")); /* the value, and its copy in the comment */
    assert_null(strstr(out, "123456"));  /* spelled with an escape: masked at its place */
    assert_non_null(strstr(out, "DB_PASSWORD: " CONSOLE_MASK));
    assert_non_null(strstr(out, "secret://env/DB"));
    assert_non_null(strstr(out, "ROWS: \"1000\""));
    assert_non_null(strstr(out, "\"--rows\", \"1000\""));
    acms_arena_free(a);
}

static void test_document_without_credentials_is_unchanged(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    const char *t = "apiVersion: acms/v1\nkind: Pipeline\nmetadata: {name: clean}\nspec:\n  steps:\n"
                    "    - {name: a, type: processing, command: [\"true\"], env: {DB_PASSWORD: \"secret://env/X\"}}\n";
    size_t masked = 9;
    assert_string_equal(console_mask_document(a, t, strlen(t), &masked), t);
    assert_int_equal(masked, 0);
    /* not a document at all: judged line by line */
    const char *bad = "{{ not yaml\nPASSWORD=abc123\n";
    char *out = console_mask_document(a, bad, strlen(bad), &masked);
    assert_null(strstr(out, "abc123"));
    acms_arena_free(a);
}

static void test_pipeline(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__Value **docs = NULL;
    size_t n = 0;
    char err[256];
    assert_int_equal(acms_doc_parse(a, doc_text, strlen(doc_text), &docs, &n, err, sizeof err), ACMS_OK);
    acms_issues is;
    acms_issues_init(&is, a, "syntax");
    Acms__V1__Pipeline *p = NULL;
    acms_doc_to_pipeline(a, docs[0], &p, &is);
    assert_non_null(p);
    assert_int_equal(console_mask_pipeline(a, p), 2);
    for (size_t k = 0; k < p->steps[0]->n_env; k++) {
        const Acms__V1__EnvVar *e = p->steps[0]->env[k];
        if (!strcmp(e->name, "DB_PASSWORD") || !strcmp(e->name, "API_TOKEN"))
            assert_string_equal(e->value, ADAPTER_REDACTED);
        else
            assert_string_not_equal(e->value, ADAPTER_REDACTED);
    }
    acms_arena_free(a);
}

static void test_lines(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    const char *tail = "loading 1000 rows\nDB_PASSWORD=s3cret-value\nkey AKIAABCDEFGHIJKLMNOP used\n"
                       "token_url: https://auth.example/x\nsecret ref: secret://vault/kv/db#pw\ndone";
    char *out = console_mask_lines(a, tail);
    assert_null(strstr(out, "s3cret-value"));
    assert_null(strstr(out, "AKIAABCDEFGHIJKLMNOP"));
    assert_non_null(strstr(out, "loading 1000 rows\n"));
    assert_non_null(strstr(out, "token_url: https://auth.example/x")); /* where a token is, not a token */
    assert_non_null(strstr(out, "secret://vault/kv/db#pw"));
    assert_non_null(strstr(out, "\ndone"));
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_document),
        cmocka_unit_test(test_document_without_credentials_is_unchanged),
        cmocka_unit_test(test_pipeline),
        cmocka_unit_test(test_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
