/* Documents -> typed messages: a valid pipeline converts field by field; unknown keys get "did you
 * mean" with the corrected path; wrong types, ranges, missing fields and header mistakes become
 * issues with paths and lines; environments and policies convert with their own checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "doc_fixture.h"

typedef struct fx {
    acms_arena *a;
    acms_issues is;
    char err[512];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    f->a = acms_arena_new(0);
    acms_issues_init(&f->is, f->a, "syntax");
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

#define HEADER "apiVersion: acms/v1\nkind: Pipeline\nmetadata: {name: p}\n"

static int pipeline(fx *f, const char *yaml, Acms__V1__Pipeline **out)
{
    Acms__V1__Value *d = dfx_parse(f->a, yaml, f->err, sizeof f->err);
    if (!d) fail_msg("parse: %s", f->err);
    return acms_doc_to_pipeline(f->a, d, out, &f->is);
}

static const Acms__V1__ValidationIssue *issue_at(const fx *f, const char *code, const char *path)
{
    for (size_t i = 0; i < f->is.n; i++)
        if (!strcmp(f->is.v[i]->code, code) && !strcmp(f->is.v[i]->path, path)) return f->is.v[i];
    return NULL;
}

static void test_valid_pipeline(void **state)
{
    fx *f = *state;
    Acms__V1__Pipeline *p = NULL;
    const char *y = "apiVersion: acms/v1\n"
                    "kind: Pipeline\n"
                    "metadata: {name: churn, labels: {team: growth, tier: 2}}\n"
                    "spec:\n"
                    "  max_parallel: 2\n"
                    "  steps:\n"
                    "    - name: prep\n"
                    "      type: processing\n"
                    "      command: [sh, -c, echo hi]\n"
                    "      instance_type: ml.m5.xlarge\n"
                    "      instance_count: 1\n"
                    "      memory_mb: 256\n"
                    "      vcpu: 0.5\n"
                    "      env: {DB_PASSWORD: \"secret://env/X\", ROWS: 1000, DEBUG: true}\n"
                    "      vpc_config: {subnets: [s-1]}\n"
                    "    - name: train\n"
                    "      depends_on: [prep]\n"
                    "      command: [\"true\"]\n"
                    "      env: [{name: A, value: b}]\n"
                    "      optional: true\n"
                    "      data_size_mb: 5000000000\n";
    assert_int_equal(pipeline(f, y, &p), ACMS_OK);
    assert_int_equal(f->is.n, 0);
    assert_string_equal(p->api_version, "acms/v1");
    assert_string_equal(p->name, "churn");
    assert_int_equal(p->n_labels, 2);
    assert_string_equal(p->labels[1]->key, "tier");
    assert_string_equal(p->labels[1]->value, "2");
    assert_int_equal(p->max_parallel, 2);
    assert_int_equal(p->n_steps, 2);
    Acms__V1__Step *s = p->steps[0];
    assert_int_equal(s->line, 7);
    assert_string_equal(s->type, "processing");
    assert_int_equal(s->n_command, 3);
    assert_string_equal(s->command[2], "echo hi");
    assert_int_equal(s->instance_count, 1);
    assert_int_equal(s->memory_mb, 256);
    assert_true(s->vcpu == 0.5);
    assert_int_equal(s->n_env, 3);
    assert_string_equal(s->env[0]->name, "DB_PASSWORD");
    assert_string_equal(s->env[0]->value, "secret://env/X");
    assert_string_equal(s->env[1]->value, "1000");
    assert_string_equal(s->env[2]->value, "true");
    assert_non_null(s->vpc_config);
    assert_true(s->vpc_config->set);
    assert_false(s->vpc_config->network_isolation);
    assert_null(s->resources);
    Acms__V1__Step *t = p->steps[1];
    assert_int_equal(t->line, 16);
    assert_null(t->vpc_config);
    assert_string_equal(t->depends_on[0], "prep");
    assert_string_equal(t->env[0]->name, "A");
    assert_true(t->optional);
    assert_true(t->data_size_mb == 5000000000ULL);
}

static void test_unknown_field_did_you_mean(void **state)
{
    fx *f = *state;
    Acms__V1__Pipeline *p = NULL;
    const char *y = HEADER "spec:\n  steps:\n    - name: a\n      command: [x]\n    - name: b\n"
                           "      command: [x]\n      instnace_type: ml.m5.large\n      instanceCount: 2\n"
                           "      flux_capacitor: 1\n";
    assert_int_equal(pipeline(f, y, &p), ACMS_ERR_INVALID);
    const Acms__V1__ValidationIssue *i = issue_at(f, "UNKNOWN_FIELD", "spec.steps[1].instnace_type");
    assert_non_null(i);
    assert_string_equal(i->severity, "error");
    assert_string_equal(i->level, "syntax");
    assert_string_equal(i->message, "unknown field 'instnace_type'");
    assert_int_equal(i->line, 10);
    assert_int_equal(i->n_suggestions, 1);
    assert_string_equal(i->suggestions[0]->text, "did you mean 'instance_type'?");
    assert_string_equal(i->suggestions[0]->source, "pattern");
    assert_string_equal(i->suggestions[0]->patch_path, "spec.steps[1].instance_type");
    assert_string_equal(i->suggestions[0]->patch_value, "ml.m5.large");
    assert_true(i->suggestions[0]->confidence > 0.5 && i->suggestions[0]->confidence < 1);
    i = issue_at(f, "UNKNOWN_FIELD", "spec.steps[1].instanceCount");
    assert_non_null(i);
    assert_string_equal(i->suggestions[0]->patch_path, "spec.steps[1].instance_count");
    i = issue_at(f, "UNKNOWN_FIELD", "spec.steps[1].flux_capacitor");
    assert_non_null(i);
    assert_int_equal(i->n_suggestions, 0);
    /* the rest still converted */
    assert_int_equal(p->n_steps, 2);
    assert_string_equal(p->steps[1]->name, "b");
}

static void test_type_errors_with_paths(void **state)
{
    fx *f = *state;
    Acms__V1__Pipeline *p = NULL;
    const char *y = HEADER "spec:\n  steps:\n"
                           "    - name: a\n      command: [x]\n      instance_count: two\n"
                           "      volume_size_gb: -5\n      max_runtime_s: 1.5\n      max_attempts: 5000000000\n"
                           "      memory_mb: \"512\"\n      optional: \"yes\"\n"
                           "    - name: b\n      command: echo hi\n      depends_on: a\n      vpc_config: [x]\n"
                           "      tags: [k]\n";
    assert_int_equal(pipeline(f, y, &p), ACMS_ERR_INVALID);
    const Acms__V1__ValidationIssue *i = issue_at(f, "TYPE_MISMATCH", "spec.steps[0].instance_count");
    assert_non_null(i);
    assert_string_equal(i->message, "expected a number, got a string");
    assert_int_equal(i->line, 8);
    i = issue_at(f, "VALUE_OUT_OF_RANGE", "spec.steps[0].volume_size_gb");
    assert_non_null(i);
    assert_string_equal(i->message, "must not be negative, got -5");
    i = issue_at(f, "TYPE_MISMATCH", "spec.steps[0].max_runtime_s");
    assert_non_null(i);
    assert_string_equal(i->message, "expected a whole number, got 1.5");
    assert_non_null(issue_at(f, "VALUE_OUT_OF_RANGE", "spec.steps[0].max_attempts"));
    i = issue_at(f, "TYPE_MISMATCH", "spec.steps[0].memory_mb");
    assert_non_null(i);
    assert_int_equal(i->n_suggestions, 1);
    assert_string_equal(i->suggestions[0]->patch_value, "512");
    i = issue_at(f, "TYPE_MISMATCH", "spec.steps[0].optional");
    assert_non_null(i);
    assert_string_equal(i->suggestions[0]->patch_value, "true");
    i = issue_at(f, "TYPE_MISMATCH", "spec.steps[1].command");
    assert_non_null(i);
    assert_string_equal(i->message, "expected a list, got a string");
    assert_string_equal(i->suggestions[0]->patch_value, "[\"echo hi\"]");
    assert_int_equal(p->steps[1]->n_command, 1); /* kept as a one-element list meanwhile */
    assert_non_null(issue_at(f, "TYPE_MISMATCH", "spec.steps[1].depends_on"));
    i = issue_at(f, "TYPE_MISMATCH", "spec.steps[1].vpc_config");
    assert_non_null(i);
    assert_string_equal(i->message, "expected a map, got a list");
    assert_non_null(issue_at(f, "TYPE_MISMATCH", "spec.steps[1].tags[0]"));
    assert_null(issue_at(f, "MISSING_FIELD", "spec.steps[1].command"));
}

static void test_missing_and_forbidden_fields(void **state)
{
    fx *f = *state;
    Acms__V1__Pipeline *p = NULL;
    const char *y = HEADER "spec:\n  name: p2\n  steps:\n"
                           "    - type: processing\n      command: []\n"
                           "    - name: b\n      command: [x]\n      resources: {memory_mb: 1}\n      line: 3\n"
                           "    - name: c\n      command: [x]\n      vpc_config: {set: false}\n"
                           "    - name: d\n";
    assert_int_equal(pipeline(f, y, &p), ACMS_ERR_INVALID);
    const Acms__V1__ValidationIssue *i = issue_at(f, "MISSING_FIELD", "spec.steps[0].name");
    assert_non_null(i);
    assert_int_equal(i->line, 7);
    assert_non_null(issue_at(f, "MISSING_FIELD", "spec.steps[0].command"));
    i = issue_at(f, "MISSING_FIELD", "spec.steps[3].command");
    assert_non_null(i);
    assert_string_equal(i->message, "step 'd' needs a command (a non-empty list)");
    assert_non_null(issue_at(f, "FIELD_NOT_ALLOWED", "spec.steps[1].resources"));
    assert_non_null(issue_at(f, "FIELD_NOT_ALLOWED", "spec.steps[1].line"));
    assert_non_null(issue_at(f, "FIELD_NOT_ALLOWED", "spec.steps[2].vpc_config.set"));
    i = issue_at(f, "FIELD_NOT_ALLOWED", "spec.name");
    assert_non_null(i);
    assert_string_equal(i->suggestions[0]->patch_path, "metadata.name");
    assert_null(p->steps[1]->resources);
    assert_int_equal(p->steps[1]->line, 9);
}

static void test_steps_keep_their_index(void **state)
{
    fx *f = *state;
    Acms__V1__Pipeline *p = NULL;
    const char *y = HEADER "spec:\n  steps:\n    - {name: a, command: [x]}\n    - just-a-string\n    -\n"
                           "    - {name: d, command: [x], depends_on: [a, [b], c]}\n";
    assert_int_equal(pipeline(f, y, &p), ACMS_ERR_INVALID);
    assert_non_null(issue_at(f, "TYPE_MISMATCH", "spec.steps[1]"));
    assert_non_null(issue_at(f, "TYPE_MISMATCH", "spec.steps[2]"));
    assert_int_equal(p->n_steps, 4);
    assert_string_equal(p->steps[1]->name, "");
    assert_int_equal(p->steps[1]->line, 7);
    assert_string_equal(p->steps[3]->name, "d");
    /* scalars that fail are dropped */
    assert_non_null(issue_at(f, "TYPE_MISMATCH", "spec.steps[3].depends_on[1]"));
    assert_int_equal(p->steps[3]->n_depends_on, 2);
    assert_string_equal(p->steps[3]->depends_on[1], "c");
}

static void test_header_mistakes(void **state)
{
    fx *f = *state;
    Acms__V1__Pipeline *p = NULL;
    const char *y = "apiVersion: acms/v2\nkind: Pipelin\nmetadata: {labels: {a: b}, nmae: x}\nspecs: {}\n";
    assert_int_equal(pipeline(f, y, &p), ACMS_ERR_INVALID);
    assert_non_null(p);
    const Acms__V1__ValidationIssue *i = issue_at(f, "BAD_API_VERSION", "apiVersion");
    assert_non_null(i);
    assert_string_equal(i->message, "unsupported apiVersion 'acms/v2' (expected acms/v1)");
    i = issue_at(f, "BAD_KIND", "kind");
    assert_non_null(i);
    assert_int_equal(i->line, 2);
    assert_non_null(issue_at(f, "MISSING_FIELD", "metadata.name"));
    i = issue_at(f, "UNKNOWN_FIELD", "metadata.nmae");
    assert_non_null(i);
    assert_string_equal(i->suggestions[0]->patch_path, "metadata.name");
    i = issue_at(f, "UNKNOWN_FIELD", "specs");
    assert_non_null(i);
    assert_string_equal(i->suggestions[0]->text, "did you mean 'spec'?");
    assert_non_null(issue_at(f, "MISSING_FIELD", "spec"));

    acms_issues_init(&f->is, f->a, "syntax");
    assert_int_equal(pipeline(f, "- just\n- a list\n", &p), ACMS_ERR_INVALID);
    assert_non_null(issue_at(f, "TYPE_MISMATCH", ""));
    acms_issues_init(&f->is, f->a, "syntax");
    assert_int_equal(pipeline(f, HEADER "spec: {steps: []}\n", &p), ACMS_ERR_INVALID);
    assert_non_null(issue_at(f, "MISSING_FIELD", "spec.steps"));
}

static void test_environment_and_policy(void **state)
{
    fx *f = *state;
    char path[PATH_MAX];
    Acms__V1__Value **docs;
    size_t n;
    Acms__V1__Environment *e = NULL;
    assert_non_null(dfx_path(path, sizeof path, "examples/environments/dev.yaml"));
    assert_int_equal(acms_doc_parse_file(f->a, path, &docs, &n, f->err, sizeof f->err), ACMS_OK);
    assert_int_equal(acms_doc_to_environment(f->a, docs[0], &e, &f->is), ACMS_OK);
    assert_string_equal(e->name, "dev");
    assert_true(e->memory_scale == 0.0625);
    assert_true(e->n_instance_map > 10);
    assert_string_equal(e->path_rewrites[0]->from_prefix, "s3://acme-ml/");
    assert_int_equal(e->quotas->max_instances, 2);

    Acms__V1__Value *d = dfx_parse(f->a,
                                   "apiVersion: acms/v1\nkind: Environment\nmetadata: {name: x}\n"
                                   "spec: {executor: lokal, learning_mode: sometimes, memory_scale: 0,\n"
                                   "       instance_map: [{from: a, to: b}], vpc: {subnets: [s]}}\n",
                                   f->err, sizeof f->err);
    assert_non_null(d);
    assert_int_equal(acms_doc_to_environment(f->a, d, &e, &f->is), ACMS_ERR_INVALID);
    const Acms__V1__ValidationIssue *i = issue_at(f, "INVALID_VALUE", "spec.executor");
    assert_non_null(i);
    assert_string_equal(i->suggestions[0]->patch_value, "local");
    assert_non_null(issue_at(f, "INVALID_VALUE", "spec.learning_mode"));
    assert_non_null(issue_at(f, "VALUE_OUT_OF_RANGE", "spec.memory_scale"));
    assert_string_equal(e->instance_map[0]->to, "b");
    assert_true(e->vpc->set);

    Acms__V1__Policy *pol = NULL;
    acms_issues_init(&f->is, f->a, "syntax");
    d = dfx_parse(f->a,
                  "apiVersion: acms/v1\nkind: Policy\nmetadata: {name: p}\n"
                  "spec:\n  rules:\n    - {id: R1, field: max_runtime_s, op: max, value: 86400}\n"
                  "    - {id: R2, field: encrypt_volume, op: sett, value: true, action: enforce}\n"
                  "    - {field: x}\n",
                  f->err, sizeof f->err);
    assert_non_null(d);
    assert_int_equal(acms_doc_to_policy(f->a, d, &pol, &f->is), ACMS_ERR_INVALID);
    assert_int_equal(pol->n_rules, 3);
    assert_string_equal(pol->rules[0]->value, "86400");
    assert_string_equal(pol->rules[1]->value, "true");
    i = issue_at(f, "INVALID_VALUE", "spec.rules[1].op");
    assert_non_null(i);
    assert_string_equal(i->suggestions[0]->text, "did you mean 'set'?");
    assert_non_null(issue_at(f, "MISSING_FIELD", "spec.rules[2].id"));
    assert_non_null(issue_at(f, "MISSING_FIELD", "spec.rules[2].op"));
}

static void test_bad_example_unknown_field(void **state)
{
    fx *f = *state;
    char path[PATH_MAX];
    Acms__V1__Value **docs;
    size_t n;
    Acms__V1__Pipeline *p = NULL;
    assert_non_null(dfx_path(path, sizeof path, "examples/pipelines/bad/unknown-field.yaml"));
    assert_int_equal(acms_doc_parse_file(f->a, path, &docs, &n, f->err, sizeof f->err), ACMS_OK);
    assert_int_equal(acms_doc_to_pipeline(f->a, docs[0], &p, &f->is), ACMS_ERR_INVALID);
    assert_int_equal(f->is.n, 1);
    assert_string_equal(f->is.v[0]->path, "spec.steps[1].instnace_type");
    assert_int_equal(f->is.v[0]->line, 17);
    /* the good examples convert without a single issue */
    const char *good[] = {"examples/pipelines/churn-training.yaml", "examples/pipelines/parallel-etl.json"};
    for (size_t k = 0; k < 2; k++) {
        acms_issues_init(&f->is, f->a, "syntax");
        assert_non_null(dfx_path(path, sizeof path, good[k]));
        assert_int_equal(acms_doc_parse_file(f->a, path, &docs, &n, f->err, sizeof f->err), ACMS_OK);
        assert_int_equal(acms_doc_to_pipeline(f->a, docs[0], &p, &f->is), ACMS_OK);
        assert_int_equal(f->is.n, 0);
        assert_true(p->n_steps >= 5);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_valid_pipeline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_field_did_you_mean, setup, teardown),
        cmocka_unit_test_setup_teardown(test_type_errors_with_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_and_forbidden_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_steps_keep_their_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_mistakes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_environment_and_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_example_unknown_field, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
