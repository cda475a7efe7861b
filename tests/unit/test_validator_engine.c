/* test_validator_engine.c: validator_validate end to end (offline) on the examples: the good
 * pipelines are valid in dev and staging, each bad pipeline fails with its expected code, fix and
 * source line, every example validates in every environment without harm, and the result has the
 * documented shape (errors vs warnings, top-10 suggestions, phase, confidence formula). */
#include "validator_fixture.h"

#include <dirent.h>
#include <math.h>

typedef struct fx {
    acms_profiles p;
    validator_ctx ctx;
    acms_arena *a;
    int check_converted;    /* validate_file also checks validator_validate_converted gives the same */
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    vf_profiles(&f->p);
    f->ctx.profiles = &f->p;
    f->ctx.redis = NULL;
    f->a = acms_arena_new(0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    acms_arena_free(f->a);
    acms_profiles_release(&f->p);
    free(f);
    return 0;
}

/* validator_validate_converted with the caller's conversion of doc gives, byte for byte, what
 * validator_validate (converting doc itself) gave: r. */
static void check_converted(fx *f, const Acms__V1__RuntimeConfiguration *rc, const Acms__V1__Value *doc,
                            const Acms__V1__ValidationResult *r)
{
    acms_issues is;
    acms_issues_init(&is, f->a, "syntax");
    Acms__V1__Pipeline *pl = NULL;
    (void)acms_doc_to_pipeline(f->a, doc, &pl, &is);
    acms_doc_converted written = {.pipeline = pl, .issues = is.v, .n_issues = is.n};
    Acms__V1__ValidationResult *r2 = NULL;
    assert_int_equal(validator_validate_converted(&f->ctx, f->a, rc, doc, &written, &r2), ACMS_OK);
    uint8_t *b1 = NULL, *b2 = NULL;
    size_t n1 = 0, n2 = 0;
    assert_int_equal(acms_pb_pack(&r->base, &b1, &n1), ACMS_OK);
    assert_int_equal(acms_pb_pack(&r2->base, &b2, &n2), ACMS_OK);
    assert_int_equal(n1, n2);
    assert_memory_equal(b1, b2, n1);
    free(b1);
    free(b2);
}

static Acms__V1__ValidationResult *validate_file(fx *f, const char *rel, const char *env)
{
    const Acms__V1__Value *doc = vf_doc_file(f->a, rel);
    Acms__V1__RuntimeConfiguration *rc = vf_runtime(f->a, &f->p, acms_profiles_env(&f->p, env), doc);
    Acms__V1__ValidationResult *r = NULL;
    assert_int_equal(validator_validate(&f->ctx, f->a, rc, doc, &r), ACMS_OK);
    assert_non_null(r);
    assert_string_equal(r->phase, "pre-execution");
    assert_true(r->n_suggestions <= VALIDATOR_TOP_SUGGESTIONS);
    for (size_t i = 0; i < r->n_issues; i++)
        assert_string_equal(r->issues[i]->severity, "error");
    for (size_t i = 0; i < r->n_warnings; i++)
        assert_string_not_equal(r->warnings[i]->severity, "error");
    assert_int_equal(r->valid, r->n_issues == 0);
    if (f->check_converted)
        check_converted(f, rc, doc, r);
    return r;
}

static void dump(const Acms__V1__ValidationResult *r)
{
    for (size_t i = 0; i < r->n_issues; i++)
        print_message("  error %s %s: %s\n", r->issues[i]->code, r->issues[i]->path, r->issues[i]->message);
}

static void test_good_pipelines_are_valid(void **state)
{
    fx *f = *state;
    static const char *const files[] = {"examples/pipelines/churn-training.yaml", "examples/pipelines/parallel-etl.json"};
    static const char *const envs[] = {"dev", "staging"};
    for (size_t i = 0; i < 2; i++)
        for (size_t e = 0; e < 2; e++) {
            Acms__V1__ValidationResult *r = validate_file(f, files[i], envs[e]);
            if (!r->valid) {
                print_message("%s in %s:\n", files[i], envs[e]);
                dump(r);
            }
            assert_true(r->valid);
            /* offline, with document, profile and catalogue, acyclic: 1 - 0.10 */
            assert_true(fabs(r->confidence_score - 0.9) < 1e-9);
        }
}

static void test_cycle(void **state)
{
    fx *f = *state;
    Acms__V1__ValidationResult *r = validate_file(f, "examples/pipelines/bad/cycle.yaml", "dev");
    assert_false(r->valid);
    const Acms__V1__ValidationIssue *x = vf_find(r, "DAG_CYCLE", NULL);
    assert_non_null(x);
    assert_string_equal(x->level, "semantic");
    assert_true(x->line > 0);
    /* prepare depends on evaluate, declared after it */
    assert_non_null(vf_sugg(x, "DAG_CYCLE:break", "[]"));
    int top_has_fix = 0;
    for (size_t i = 0; i < r->n_suggestions; i++)
        top_has_fix |= !strcmp(r->suggestions[i]->id, "DAG_CYCLE:break");
    assert_true(top_has_fix);
    assert_true(fabs(r->confidence_score - 0.85) < 1e-9); /* offline, graph unusable */
}

static void test_missing_dependency(void **state)
{
    fx *f = *state;
    Acms__V1__ValidationResult *r = validate_file(f, "examples/pipelines/bad/missing-dependency.yaml", "dev");
    assert_false(r->valid);
    const Acms__V1__ValidationIssue *x = vf_find(r, "DAG_MISSING_DEPENDENCY", NULL);
    assert_non_null(x);
    assert_string_equal(x->suggestions[0]->patch_value, "preprocess");
}

static void test_plaintext_password(void **state)
{
    fx *f = *state;
    Acms__V1__ValidationResult *r = validate_file(f, "examples/pipelines/bad/plaintext-password.yaml", "dev");
    assert_false(r->valid);
    const Acms__V1__ValidationIssue *x = vf_find(r, "PLAINTEXT_CREDENTIAL", "spec.steps[0].env.DB_PASSWORD");
    assert_non_null(x);
    assert_string_equal(x->level, "security");
    const Acms__V1__ValidationSuggestion *s = x->suggestions[0];
    assert_string_equal(s->patch_path, "spec.steps[0].env.DB_PASSWORD");
    assert_int_equal(strncmp(s->patch_value, "secret://", 9), 0);
}

static void test_unknown_field(void **state)
{
    fx *f = *state;
    Acms__V1__ValidationResult *r = validate_file(f, "examples/pipelines/bad/unknown-field.yaml", "dev");
    assert_false(r->valid);
    const Acms__V1__ValidationIssue *x = vf_find(r, "UNKNOWN_FIELD", "spec.steps[1].instnace_type");
    assert_non_null(x);
    assert_int_equal(x->line, 17);
    assert_string_equal(x->suggestions[0]->patch_path, "spec.steps[1].instance_type");
    assert_string_equal(r->suggestions[0]->patch_path, "spec.steps[1].instance_type");
    assert_true(fabs(r->confidence_score - 0.88) < 1e-9); /* offline and one unknown field */
}

static void test_prod_without_enforcement_is_refused(void **state)
{
    fx *f = *state;
    /* the test's minimal adaptation does not enforce policies: prod's encryption rule fails */
    Acms__V1__ValidationResult *r = validate_file(f, "examples/pipelines/churn-training.yaml", "prod");
    assert_false(r->valid);
    const Acms__V1__ValidationIssue *x = vf_find(r, "POL-PROD-ENCRYPT", "spec.steps[0].encrypt_volume");
    assert_non_null(x);
    assert_string_equal(x->suggestions[0]->source, "policy");
}

static void walk(fx *f, const char *rel, size_t *count)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", vf_repo(), rel);
    DIR *d = opendir(path);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        const char *sub = acms_arena_printf(f->a, "%s/%s", rel, e->d_name);
        const char *dot = strrchr(e->d_name, '.');
        if (!dot) {
            walk(f, sub, count);
            continue;
        }
        if (strcmp(dot, ".yaml") && strcmp(dot, ".json"))
            continue;
        for (size_t k = 0; k < f->p.nenvs; k++) {
            Acms__V1__ValidationResult *r = validate_file(f, sub, f->p.envs[k]->name);
            if (strstr(sub, "/bad/"))
                assert_false(r->valid);
            (*count)++;
        }
    }
    closedir(d);
}

static void test_every_example_in_every_environment(void **state)
{
    fx *f = *state;
    size_t count = 0;
    walk(f, "examples/pipelines", &count);
    assert_true(count >= 6 * f->p.nenvs);
}

/* A document converted once (acmsctl validate, the bench: adapter_prepare_kept) is judged exactly as
 * one the syntax level converts itself: every example, good and bad (unknown fields, type errors,
 * cycles), in every environment. */
static void test_converted_once_gives_the_same_result(void **state)
{
    fx *f = *state;
    size_t count = 0;
    f->check_converted = 1;
    walk(f, "examples/pipelines", &count);
    assert_true(count >= 6 * f->p.nenvs);
}

static void test_unknown_environment_and_document_only(void **state)
{
    fx *f = *state;
    const Acms__V1__Value *doc = vf_doc_file(f->a, "examples/pipelines/churn-training.yaml");
    Acms__V1__RuntimeConfiguration *rc = vf_runtime(f->a, &f->p, NULL, doc);
    rc->metadata->environment = "nowhere";
    Acms__V1__ValidationResult *r = NULL;
    assert_int_equal(validator_validate(&f->ctx, f->a, rc, doc, &r), ACMS_OK);
    assert_non_null(vf_find(r, "UNKNOWN_ENVIRONMENT", NULL));
    assert_false(r->valid);

    /* no runtime configuration at all: the document's pipeline is judged */
    assert_int_equal(validator_validate(&f->ctx, f->a, NULL, doc, &r), ACMS_OK);
    assert_true(r->valid);
    assert_true(fabs(r->confidence_score - 0.75) < 1e-9); /* offline, no environment */
    assert_int_equal(validator_validate(NULL, f->a, NULL, NULL, &r), ACMS_OK);
    assert_non_null(vf_find(r, "NO_PIPELINE", NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good_pipelines_are_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_dependency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plaintext_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prod_without_enforcement_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_example_in_every_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_environment_and_document_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_converted_once_gives_the_same_result, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
