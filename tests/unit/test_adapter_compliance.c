/* ComplianceEnforcer: enforce rules mutate (encrypt_volume, network isolation, tags, output_path
 * prefix, numeric caps), audit and require-type rules do not, environment and step-type filters and
 * the environment's policies list hold, every mutation is a "compliance" record, a second pass is a
 * no-op. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "adapter_fixture.h"

static Acms__V1__PolicyRule *rule(acms_arena *a, Acms__V1__Policy *p, const char *id, const char *field, const char *op,
                                  const char *value, const char *action)
{
    Acms__V1__PolicyRule *r = acms_pb_new(a, &acms__v1__policy_rule__descriptor);
    r->id = (char *)id;
    r->description = "test rule";
    r->field = (char *)field;
    r->op = (char *)op;
    r->value = (char *)value;
    r->action = (char *)action;
    r->severity = "error";
    p->rules = acms_arena_push(a, p->rules, &p->n_rules, sizeof *p->rules);
    p->rules[p->n_rules - 1] = r;
    return r;
}

static Acms__V1__Policy *policy(acms_arena *a, acms_profiles *pr, const char *name)
{
    Acms__V1__Policy *p = acms_pb_new(a, &acms__v1__policy__descriptor);
    p->name = (char *)name;
    pr->policies = acms_arena_push(a, pr->policies, &pr->npolicies, sizeof *pr->policies);
    pr->policies[pr->npolicies - 1] = p;
    return p;
}

static void reprefix(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    assert_string_equal(adapter_compliance_reprefix(a, "s3://acme-ml/churn/prep", "s3://acme-ml-prod/"),
                        "s3://acme-ml-prod/churn/prep");
    assert_string_equal(adapter_compliance_reprefix(a, "s3://acme-ml/churn/prep", "s3://secure/ml"),
                        "s3://secure/ml/churn/prep");
    assert_string_equal(adapter_compliance_reprefix(a, "s3://acme-ml-prod/x", "s3://acme-ml-prod/"),
                        "s3://acme-ml-prod/x");
    assert_string_equal(adapter_compliance_reprefix(a, "/data/out", "s3://secure/"), "s3://secure/data/out");
    assert_string_equal(adapter_compliance_reprefix(a, "s3://bucket", "s3://secure/"), "s3://secure/");
    acms_arena_free(a);
}

static void enforce_rules_mutate_and_explain(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    acms_profiles pr = {0};
    Acms__V1__Policy *pol = policy(a, &pr, "prod-baseline");
    Acms__V1__PolicyRule *enc = rule(a, pol, "POL-ENCRYPT", "encrypt_volume", "set", "true", "enforce");
    char *prod[] = {"prod"};
    enc->environments = prod;
    enc->n_environments = 1;
    rule(a, pol, "POL-ISOLATION", "vpc_config.network_isolation", "set", "true", "enforce");
    rule(a, pol, "POL-COST-TAG", "tags.cost-center", "set", "ml-platform", "enforce");
    Acms__V1__PolicyRule *out = rule(a, pol, "POL-OUTPUT", "output_path", "prefix", "s3://acme-ml-prod/", "enforce");
    char *training[] = {"training"};
    out->step_types = training;
    out->n_step_types = 1;
    rule(a, pol, "POL-NO-SPOT", "interruptible", "forbid", "", "enforce");
    rule(a, pol, "POL-MAX-INST", "instance_count", "max", "4", "enforce");
    rule(a, pol, "POL-AUDIT", "encrypt_volume", "set", "false", "audit");           /* audit: no mutation */
    rule(a, pol, "POL-REQ", "output_path", "present", "", "enforce");               /* require-type: validator */
    Acms__V1__Policy *other = policy(a, &pr, "not-listed");
    rule(a, other, "POL-OTHER", "tags.owner", "set", "nobody", "enforce");

    Acms__V1__Environment *e = fx_env(a, "prod");
    char *listed[] = {"prod-baseline"};
    e->policies = listed;
    e->n_policies = 1;

    Acms__V1__Pipeline *p = fx_pipeline(a, "churn");
    Acms__V1__Step *prep = fx_step(a, p, "prep", "processing", "ml.m5.large");
    prep->output_path = "s3://acme-ml/churn/prep";
    prep->interruptible = 1;
    prep->instance_count = 10;
    Acms__V1__Step *train = fx_step(a, p, "train", "training", "ml.m5.large");
    train->output_path = "s3://acme-ml/churn/model";
    acms_pb_add_label(a, &train->tags, &train->n_tags, "cost-center", "growth");

    adapter_log log;
    adapter_log_init(&log, a);
    size_t n = adapter_compliance_enforce(a, &pr, e, p, &log);

    assert_true(prep->encrypt_volume && train->encrypt_volume);
    assert_true(prep->vpc_config && prep->vpc_config->network_isolation && prep->vpc_config->set);
    assert_string_equal(fx_tag(prep, "cost-center"), "ml-platform");
    assert_string_equal(fx_tag(train, "cost-center"), "ml-platform");
    assert_null(fx_tag(prep, "owner"));
    assert_string_equal(prep->output_path, "s3://acme-ml/churn/prep"); /* rule is for training steps */
    assert_string_equal(train->output_path, "s3://acme-ml-prod/churn/model");
    assert_false(prep->interruptible);
    assert_int_equal(prep->instance_count, 4);
    assert_int_equal(train->instance_count, 1);

    /* prep: encrypt, isolation, tag, interruptible, instance_count; train: encrypt, isolation, tag, output */
    assert_int_equal(n, 9);
    assert_int_equal(log.n, 9);
    for (size_t i = 0; i < log.n; i++) {
        assert_string_equal(log.v[i]->stage, "compliance");
        assert_true(log.v[i]->applied);
        assert_non_null(strstr(log.v[i]->reason, "prod-baseline"));
    }
    const Acms__V1__AdaptationRecord *r = fx_rec(&log, "compliance", "train", "tags.cost-center");
    assert_string_equal(r->old_value, "growth");
    assert_non_null(strstr(r->reason, "POL-COST-TAG"));

    assert_int_equal(adapter_compliance_enforce(a, &pr, e, p, &log), 0);

    /* In another environment the prod-only rule does not apply. */
    Acms__V1__Environment *dev = fx_env(a, "dev");
    dev->policies = listed;
    dev->n_policies = 1;
    Acms__V1__Pipeline *p2 = fx_pipeline(a, "churn");
    Acms__V1__Step *s2 = fx_step(a, p2, "prep", "processing", "ml.m5.large");
    adapter_log log2;
    adapter_log_init(&log2, a);
    adapter_compliance_enforce(a, &pr, dev, p2, &log2);
    assert_false(s2->encrypt_volume);
    assert_null(fx_rec(&log2, "compliance", "prep", "encrypt_volume"));
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reprefix),
        cmocka_unit_test(enforce_rules_mutate_and_explain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
