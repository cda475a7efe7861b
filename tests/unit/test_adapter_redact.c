/* Plain-text credentials stop at the adapter: a configuration with a password, a command-line
 * credential and a key-shaped tag written in clear is prepared with those values replaced by
 * ADAPTER_REDACTED (the prepared pipeline, packed, holds none of them), the document sent on with it
 * is a redacted copy (map and list forms, positions kept) while the submitted one is untouched, the
 * findings still say what was found (so the validator rejects it), and a clean configuration's
 * document is passed on as is. Before redaction the values travelled on acms.config.prepared. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "adapter_fixture.h"

static const char *const k_doc =
    "apiVersion: acms/v1\n"
    "kind: Pipeline\n"
    "metadata: {name: leaky}\n"
    "spec:\n"
    "  steps:\n"
    "    - name: connect\n"
    "      type: processing\n"
    "      command: [\"psql\", \"--password=hunter2-cmd-value\", \"-c\", \"select 1\"]\n"
    "      instance_type: ml.t3.medium\n"
    "      output_path: s3://acme-ml/dev/leaky\n"
    "      env: {DB_PASSWORD: \"hunter2-env-value\", ROWS: \"10\", REF: \"secret://env/LEAKY_REF\"}\n"
    "      tags: {cost-center: cc-1, owner-key: AKIAIOSFODNN7EXAMPLE}\n"
    "    - name: listed\n"
    "      type: processing\n"
    "      command: [\"true\"]\n"
    "      instance_type: ml.t3.medium\n"
    "      output_path: s3://acme-ml/dev/listed\n"
    "      env: [{name: API_TOKEN, value: \"hunter2-list-value\"}]\n"
    "      tags: [{key: cost-center, value: cc-1}]\n";

static const char *const k_values[] = {"hunter2-cmd-value", "hunter2-env-value", "AKIAIOSFODNN7EXAMPLE",
                                       "hunter2-list-value"};

static int packed_contains(const ProtobufCMessage *m, const char *needle)
{
    uint8_t *buf;
    size_t len;
    assert_int_equal(acms_pb_pack(m, &buf, &len), ACMS_OK);
    int found = memmem(buf, len, needle, strlen(needle)) != NULL;
    free(buf);
    return found;
}

static void plaintext_values_are_redacted(void **state)
{
    (void)state;
    acms_profiles pr;
    assert_int_equal(fx_profiles(&pr), ACMS_OK);
    acms_arena *a = acms_arena_new(0);
    Acms__V1__Value *doc = fx_doc(a, k_doc);
    assert_non_null(doc);
    adapter_ctx ctx = {.profiles = &pr, .check_secrets = 0};
    acms_issues is;
    acms_issues_init(&is, a, "environment");
    Acms__V1__RuntimeConfiguration *rc = NULL;
    Acms__V1__ConfigSubmitted *in = fx_submitted(a, "dev", doc, 1764086400000LL);
    assert_int_equal(adapter_prepare(&ctx, a, in, &rc, &is), ACMS_OK);

    size_t plain = 0;
    for (size_t i = 0; i < rc->metadata->n_secret_findings; i++)
        plain += strcmp(rc->metadata->secret_findings[i]->kind, "plaintext_credential") == 0;
    assert_int_equal(plain, 4);
    for (size_t v = 0; v < sizeof k_values / sizeof *k_values; v++) {
        assert_false(packed_contains(&rc->base, k_values[v]));
        assert_true(packed_contains(&in->document->base, k_values[v])); /* the submitted one is untouched */
    }
    const Acms__V1__Step *s = fx_find_step(rc->pipeline, "connect");
    assert_string_equal(s->command[1], ADAPTER_REDACTED);
    assert_string_equal(s->command[0], "psql");
    assert_string_equal(fx_tag(s, "owner-key"), ADAPTER_REDACTED);
    assert_string_equal(fx_tag(s, "cost-center"), "cc-1");
    for (size_t k = 0; k < s->n_env; k++)
        if (!strcmp(s->env[k]->name, "DB_PASSWORD"))
            assert_string_equal(s->env[k]->value, ADAPTER_REDACTED);
        else if (!strcmp(s->env[k]->name, "REF"))
            assert_string_equal(s->env[k]->value, "secret://env/LEAKY_REF");
    for (size_t i = 0; i < rc->metadata->n_secret_findings; i++)
        for (size_t v = 0; v < sizeof k_values / sizeof *k_values; v++)
            assert_null(strstr(rc->metadata->secret_findings[i]->detail, k_values[v]));

    Acms__V1__Value *sent = adapter_redacted_document(a, in->document, rc->metadata);
    assert_ptr_not_equal(sent, in->document);
    for (size_t v = 0; v < sizeof k_values / sizeof *k_values; v++)
        assert_false(packed_contains(&sent->base, k_values[v]));
    const Acms__V1__Value *red = acms_value_path(sent, "spec.steps.0.env.DB_PASSWORD");
    assert_string_equal(acms_value_str(red), ADAPTER_REDACTED);
    assert_int_equal(red->line, 11);
    assert_string_equal(acms_value_str(acms_value_path(sent, "spec.steps.0.env.ROWS")), "10");
    assert_string_equal(acms_value_str(acms_value_path(sent, "spec.steps.1.env.0.value")), ADAPTER_REDACTED);
    assert_string_equal(acms_value_str(acms_value_path(sent, "spec.steps.0.command.1")), ADAPTER_REDACTED);
    assert_string_equal(acms_value_str(acms_value_path(sent, "spec.steps.0.command.2")), "-c");

    acms_arena_free(a);
    acms_profiles_release(&pr);
}

static void clean_documents_pass_as_they_are(void **state)
{
    (void)state;
    acms_profiles pr;
    assert_int_equal(fx_profiles(&pr), ACMS_OK);
    acms_arena *a = acms_arena_new(0);
    Acms__V1__Value *doc = fx_doc_file(a, "examples/pipelines/churn-training.yaml");
    assert_non_null(doc);
    adapter_ctx ctx = {.profiles = &pr, .check_secrets = 0};
    acms_issues is;
    acms_issues_init(&is, a, "environment");
    Acms__V1__RuntimeConfiguration *rc = NULL;
    Acms__V1__ConfigSubmitted *in = fx_submitted(a, "dev", doc, 1764086400000LL);
    assert_int_equal(adapter_prepare(&ctx, a, in, &rc, &is), ACMS_OK);
    assert_ptr_equal(adapter_redacted_document(a, in->document, rc->metadata), in->document);
    assert_null(adapter_redacted_document(a, NULL, rc->metadata));
    acms_arena_free(a);
    acms_profiles_release(&pr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plaintext_values_are_redacted),
        cmocka_unit_test(clean_documents_pass_as_they_are),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
