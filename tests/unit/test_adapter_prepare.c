/* prepare_for_execution over examples/: churn-training.yaml prepared for dev and for prod differs where
 * the profiles say (instance mapping, memory_scale, output buckets, network, compliance), the metadata
 * is complete, the same input gives byte-identical packed output (with no_config_hash, the same but
 * an empty config_hash), and unusable input (unknown
 * environment, a document with syntax errors) is refused with issues. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "adapt_reason.h"
#include "adapter_fixture.h"

#define TS 1764086400000LL

typedef struct fx {
    acms_profiles pr;
    adapter_ctx ctx;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (fx_profiles(&f->pr) != ACMS_OK)
        return -1;
    f->ctx.profiles = &f->pr;
    f->ctx.check_secrets = 1;
    setenv("CHURN_DB_PASSWORD", "not-a-real-password", 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    acms_profiles_release(&f->pr);
    free(f);
    return 0;
}

static Acms__V1__RuntimeConfiguration *prepare(fx *f, acms_arena *a, const char *env, const char *file)
{
    Acms__V1__Value *doc = fx_doc_file(a, file);
    assert_non_null(doc);
    acms_issues is;
    acms_issues_init(&is, a, "environment");
    Acms__V1__RuntimeConfiguration *rc = NULL;
    int r = adapter_prepare(&f->ctx, a, fx_submitted(a, env, doc, TS), &rc, &is);
    for (size_t i = 0; r != ACMS_OK && i < is.n; i++)
        fprintf(stderr, "issue %s %s: %s\n", is.v[i]->code, is.v[i]->path, is.v[i]->message);
    assert_int_equal(r, ACMS_OK);
    assert_non_null(rc);
    return rc;
}

static void dev_and_prod_differ_where_profiles_say(void **state)
{
    fx *f = *state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__RuntimeConfiguration *dev = prepare(f, a, "dev", "examples/pipelines/churn-training.yaml");
    Acms__V1__RuntimeConfiguration *prod = prepare(f, a, "prod", "examples/pipelines/churn-training.yaml");
    const Acms__V1__Step *dt = fx_find_step(dev->pipeline, "train"), *pt = fx_find_step(prod->pipeline, "train");
    const Acms__V1__Step *dx = fx_find_step(dev->pipeline, "extract"), *px = fx_find_step(prod->pipeline, "extract");
    assert_non_null(dt);
    assert_non_null(pt);

    /* dev maps the GPU type to a laptop-sized one and scales memory; prod keeps it. */
    assert_string_equal(dt->instance_type, "ml.m5.large");
    assert_int_equal(dt->resources->memory_mb, 8192 / 16);
    assert_int_equal(dt->resources->gpus, 0);
    assert_non_null(fx_rc_rec(dev, "environment", "train", "instance_type"));
    assert_string_equal(pt->instance_type, "ml.g4dn.xlarge");
    assert_int_equal(pt->resources->gpus, 1);
    assert_int_equal(px->resources->memory_mb, 16384 / 16);
    assert_int_equal(dx->resources->memory_mb, 16384 / 16);

    /* Storage: each environment's bucket. */
    assert_string_equal(dx->output_path, "s3://acme-ml-dev/churn/raw");
    assert_string_equal(px->output_path, "s3://acme-ml-prod/churn/raw");

    /* Network and compliance: prod isolates and encrypts, dev does not. */
    assert_true(px->vpc_config && px->vpc_config->network_isolation);
    assert_int_equal(px->vpc_config->n_subnets, 3);
    assert_true(px->encrypt_volume);
    assert_non_null(fx_rc_rec(prod, "compliance", "extract", "encrypt_volume"));
    assert_false(dx->vpc_config && dx->vpc_config->network_isolation);
    assert_false(dx->encrypt_volume);
    assert_null(fx_rc_rec(dev, "compliance", NULL, NULL));

    /* dev allows interruptible capacity for processing steps; prod does not. */
    assert_true(dx->interruptible);
    assert_false(dt->interruptible);
    assert_false(px->interruptible);

    /* Metadata. */
    const Acms__V1__RuntimeMetadata *md = prod->metadata;
    char hash[65];
    adapter_config_hash(fx_doc_file(a, "examples/pipelines/churn-training.yaml"), hash);
    assert_string_equal(md->environment, "prod");
    assert_string_equal(md->region, "us-east-1");
    assert_string_equal(md->adapter_version, ACMS_VERSION);
    assert_string_equal(md->config_hash, hash);
    assert_string_equal(dev->metadata->config_hash, hash);
    assert_int_equal(strlen(hash), 64);
    assert_true(md->prepared_at_ms == TS);
    assert_string_equal(md->source_name, "test.yaml");
    assert_non_null(md->capacity);
    assert_true(strncmp(md->capacity->note, "offline", 7) == 0);
    assert_int_equal(md->capacity->n_steps, 5);
    assert_int_equal(md->n_secret_findings, 0);
    assert_string_equal(prod->environment->name, "prod");
    assert_int_equal(prod->environment->n_secret_scopes, 2); /* examples/environments/prod.yaml */
    assert_string_equal(dev->environment->name, "dev");

    /* Every record is explained. */
    for (size_t i = 0; i < prod->n_adaptation_log; i++)
        assert_true(strlen(prod->adaptation_log[i]->reason) > 0);
    acms_arena_free(a);
}

static void unresolvable_secret_is_a_finding(void **state)
{
    fx *f = *state;
    acms_arena *a = acms_arena_new(0);
    unsetenv("CHURN_DB_PASSWORD");
    Acms__V1__RuntimeConfiguration *rc = prepare(f, a, "dev", "examples/pipelines/churn-training.yaml");
    setenv("CHURN_DB_PASSWORD", "not-a-real-password", 1);
    assert_int_equal(rc->metadata->n_secret_findings, 1);
    assert_string_equal(rc->metadata->secret_findings[0]->kind, "unresolvable_reference");
    assert_string_equal(rc->metadata->secret_findings[0]->step, "extract");
    assert_string_equal(rc->metadata->secret_findings[0]->field, "env.DB_PASSWORD");

    rc = prepare(f, a, "dev", "examples/pipelines/bad/plaintext-password.yaml");
    assert_int_equal(rc->metadata->n_secret_findings, 1);
    assert_string_equal(rc->metadata->secret_findings[0]->kind, "plaintext_credential");
    assert_null(strstr(rc->metadata->secret_findings[0]->detail, "hunter2"));
    acms_arena_free(a);
}

static void same_input_same_bytes(void **state)
{
    fx *f = *state;
    uint8_t *b[2] = {0};
    size_t len[2] = {0};
    for (int i = 0; i < 2; i++) {
        acms_arena *a = acms_arena_new(0);
        Acms__V1__RuntimeConfiguration *rc = prepare(f, a, "prod", "examples/pipelines/churn-training.yaml");
        assert_int_equal(acms_pb_pack(&rc->base, &b[i], &len[i]), ACMS_OK);
        acms_arena_free(a);
    }
    assert_int_equal(len[0], len[1]);
    assert_memory_equal(b[0], b[1], len[0]);
    free(b[0]);
    free(b[1]);
}

/* no_config_hash (acmsctl validate) changes nothing but the empty config_hash. */
static void no_config_hash_changes_only_the_hash(void **state)
{
    fx *f = *state;
    uint8_t *b[2] = {0};
    size_t len[2] = {0};
    for (int i = 0; i < 2; i++) {
        acms_arena *a = acms_arena_new(0);
        f->ctx.no_config_hash = i;
        Acms__V1__RuntimeConfiguration *rc = prepare(f, a, "prod", "examples/pipelines/churn-training.yaml");
        assert_int_equal(strlen(rc->metadata->config_hash), i ? 0 : 64);
        rc->metadata->config_hash = (char *)"";
        assert_int_equal(acms_pb_pack(&rc->base, &b[i], &len[i]), ACMS_OK);
        acms_arena_free(a);
    }
    f->ctx.no_config_hash = 0;
    assert_int_equal(len[0], len[1]);
    assert_memory_equal(b[0], b[1], len[0]);
    free(b[0]);
    free(b[1]);
}

/* keep_reason_templates (acmsctl validate) leaves reasons as templates; rendered, the configuration is
 * byte-identical to the services' (which render before adapter_prepare returns and send no template). */
static void reason_templates_render_as_the_services_write(void **state)
{
    fx *f = *state;
    uint8_t *b[2] = {0};
    size_t len[2] = {0};
    for (int i = 0; i < 2; i++) {
        acms_arena *a = acms_arena_new(0);
        f->ctx.keep_reason_templates = i;
        Acms__V1__RuntimeConfiguration *rc = prepare(f, a, "dev", "examples/pipelines/churn-training.yaml");
        size_t templated = 0;
        for (size_t k = 0; k < rc->n_adaptation_log; k++)
            templated += rc->adaptation_log[k]->reason_template != 0;
        if (i)
            assert_true(templated > 0);
        else
            assert_int_equal(templated, 0);
        assert_int_equal(acms_adaptation_render(a, rc->adaptation_log, rc->n_adaptation_log), ACMS_OK);
        for (size_t k = 0; k < rc->n_adaptation_log; k++)
            assert_true(strlen(rc->adaptation_log[k]->reason) > 0);
        assert_int_equal(acms_pb_pack(&rc->base, &b[i], &len[i]), ACMS_OK);
        acms_arena_free(a);
    }
    f->ctx.keep_reason_templates = 0;
    assert_int_equal(len[0], len[1]);
    assert_memory_equal(b[0], b[1], len[0]);
    free(b[0]);
    free(b[1]);
}

/* adapter_prepare_kept keeps the pipeline as written (what a fresh conversion of the document gives,
 * byte for byte) and the conversion's issues, while the prepared pipeline is adapted for prod. */
static void kept_conversion_is_the_document_as_written(void **state)
{
    fx *f = *state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__Value *doc = fx_doc_file(a, "examples/pipelines/churn-training.yaml");
    assert_non_null(doc);
    acms_issues is, fresh_is;
    acms_issues_init(&is, a, "environment");
    acms_issues_init(&fresh_is, a, "syntax");
    Acms__V1__RuntimeConfiguration *rc = NULL;
    acms_doc_converted w = {0};
    assert_int_equal(adapter_prepare_kept(&f->ctx, a, fx_submitted(a, "prod", doc, TS), &rc, &is, &w), ACMS_OK);
    Acms__V1__Pipeline *fresh = NULL;
    assert_int_equal(acms_doc_to_pipeline(a, doc, &fresh, &fresh_is), ACMS_OK);
    assert_int_equal(w.n_issues, fresh_is.n);
    uint8_t *b[3] = {0};
    size_t len[3] = {0};
    assert_int_equal(acms_pb_pack(&w.pipeline->base, &b[0], &len[0]), ACMS_OK);
    assert_int_equal(acms_pb_pack(&fresh->base, &b[1], &len[1]), ACMS_OK);
    assert_int_equal(acms_pb_pack(&rc->pipeline->base, &b[2], &len[2]), ACMS_OK);
    assert_int_equal(len[0], len[1]);
    assert_memory_equal(b[0], b[1], len[0]);
    assert_true(len[0] != len[2] || memcmp(b[0], b[2], len[0]) != 0); /* prod adapted its own copy */
    for (int i = 0; i < 3; i++)
        free(b[i]);
    acms_arena_free(a);
}

static void unknown_environment_is_refused(void **state)
{
    fx *f = *state;
    acms_arena *a = acms_arena_new(0);
    acms_issues is;
    acms_issues_init(&is, a, "environment");
    Acms__V1__RuntimeConfiguration *rc = (void *)1;
    Acms__V1__Value *doc = fx_doc_file(a, "examples/pipelines/churn-training.yaml");
    assert_int_equal(adapter_prepare(&f->ctx, a, fx_submitted(a, "prdo", doc, TS), &rc, &is), ACMS_ERR_INVALID);
    assert_null(rc);
    Acms__V1__ValidationIssue *iss = acms_issues_find(&is, "UNKNOWN_ENVIRONMENT");
    assert_non_null(iss);
    assert_string_equal(iss->severity, "error");
    assert_non_null(strstr(iss->message, "dev"));
    assert_non_null(strstr(iss->message, "prod"));
    assert_non_null(strstr(iss->message, "staging"));
    assert_true(iss->n_suggestions >= 1);
    assert_string_equal(iss->suggestions[0]->patch_value, "prod");

    Acms__V1__ValidationResult *res = adapter_rejection_result(a, &is);
    assert_false(res->valid);
    assert_string_equal(res->phase, "rejected");
    assert_int_equal(res->n_issues, 1);
    assert_int_equal(res->n_suggestions, 1);
    acms_arena_free(a);
}

static void syntax_errors_are_refused(void **state)
{
    fx *f = *state;
    acms_arena *a = acms_arena_new(0);
    acms_issues is;
    acms_issues_init(&is, a, "environment");
    Acms__V1__RuntimeConfiguration *rc = NULL;
    Acms__V1__Value *doc = fx_doc_file(a, "examples/pipelines/bad/unknown-field.yaml");
    assert_int_equal(adapter_prepare(&f->ctx, a, fx_submitted(a, "dev", doc, TS), &rc, &is), ACMS_ERR_INVALID);
    assert_null(rc);
    Acms__V1__ValidationIssue *iss = acms_issues_find(&is, "UNKNOWN_FIELD");
    assert_non_null(iss);
    assert_string_equal(iss->level, "syntax");
    assert_int_equal(iss->line, 17);

    acms_issues is2;
    acms_issues_init(&is2, a, "environment");
    assert_int_equal(adapter_prepare(&f->ctx, a, fx_submitted(a, "dev", NULL, TS), &rc, &is2), ACMS_ERR_INVALID);
    assert_non_null(acms_issues_find(&is2, "EMPTY_DOCUMENT"));
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dev_and_prod_differ_where_profiles_say),
        cmocka_unit_test(unresolvable_secret_is_a_finding),
        cmocka_unit_test(same_input_same_bytes),
        cmocka_unit_test(no_config_hash_changes_only_the_hash),
        cmocka_unit_test(reason_templates_render_as_the_services_write),
        cmocka_unit_test(kept_conversion_is_the_document_as_written),
        cmocka_unit_test(unknown_environment_is_refused),
        cmocka_unit_test(syntax_errors_are_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
