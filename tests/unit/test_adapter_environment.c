/* EnvironmentAdapter: default instance type, instance_map, allowed list substitution, Resources from
 * the catalogue x memory_scale or explicit requests, network and storage adaptation, defaults; every
 * change explained by a record of stage "environment" with safety 1.0; a second pass changes nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "adapt_reason.h"
#include "adapter_fixture.h"

typedef struct fx {
    acms_profiles pr;
    acms_arena *a;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (fx_profiles(&f->pr) != ACMS_OK)
        return -1;
    f->a = acms_arena_new(0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    acms_arena_free(f->a);
    acms_profiles_release(&f->pr);
    free(f);
    return 0;
}

static void default_type_and_instance_map(void **state)
{
    fx *f = *state;
    Acms__V1__Environment *e = fx_env(f->a, "dev");
    e->default_instance_type = "ml.m5.large";
    Acms__V1__InstanceMapping *m = acms_pb_new(f->a, &acms__v1__instance_mapping__descriptor);
    m->from = "ml.p3.2xlarge";
    m->to = "ml.g4dn.xlarge";
    e->instance_map = acms_arena_alloc(f->a, sizeof *e->instance_map);
    e->instance_map[0] = m;
    e->n_instance_map = 1;
    Acms__V1__Pipeline *p = fx_pipeline(f->a, "pl");
    Acms__V1__Step *none = fx_step(f->a, p, "prep", "processing", NULL);
    Acms__V1__Step *gpu = fx_step(f->a, p, "train", "training", "ml.p3.2xlarge");
    adapter_log log;
    adapter_log_init(&log, f->a);
    adapter_environment_adapt(f->a, &f->pr.catalog, e, p, &log);

    assert_string_equal(none->instance_type, "ml.m5.large");
    const Acms__V1__AdaptationRecord *r = fx_rec(&log, "environment", "prep", "instance_type");
    assert_non_null(r);
    assert_string_equal(r->old_value, "");
    assert_string_equal(r->new_value, "ml.m5.large");
    assert_true(r->applied);
    assert_true(r->safety_score == 1.0);

    assert_string_equal(gpu->instance_type, "ml.g4dn.xlarge");
    r = fx_rec(&log, "environment", "train", "instance_type");
    assert_non_null(r);
    assert_string_equal(r->old_value, "ml.p3.2xlarge");
    assert_string_equal(r->new_value, "ml.g4dn.xlarge");
    assert_non_null(strstr(acms_adaptation_reason(f->a, r), "instance_map"));
    assert_int_equal(gpu->resources->gpus, 1);
}

static void disallowed_type_is_substituted_within_family(void **state)
{
    fx *f = *state;
    Acms__V1__Environment *e = fx_env(f->a, "staging");
    char *allowed[] = {"ml.m5.large", "ml.m5.2xlarge", "ml.m5.4xlarge"};
    e->allowed_instance_types = allowed;
    e->n_allowed_instance_types = 3;
    Acms__V1__Pipeline *p = fx_pipeline(f->a, "pl");
    Acms__V1__Step *s = fx_step(f->a, p, "prep", "processing", "ml.m5.xlarge");
    Acms__V1__Step *g = fx_step(f->a, p, "train", "training", "ml.g4dn.xlarge");
    adapter_log log;
    adapter_log_init(&log, f->a);
    adapter_environment_adapt(f->a, &f->pr.catalog, e, p, &log);

    assert_string_equal(s->instance_type, "ml.m5.2xlarge");
    const Acms__V1__AdaptationRecord *r = fx_rec(&log, "environment", "prep", "instance_type");
    assert_non_null(r);
    assert_true(r->applied);
    assert_non_null(strstr(acms_adaptation_reason(f->a, r), "not allowed"));

    /* No allowed type has a GPU: left unchanged, recorded as not applied, for the validator. */
    assert_string_equal(g->instance_type, "ml.g4dn.xlarge");
    r = fx_rec(&log, "environment", "train", "instance_type");
    assert_non_null(r);
    assert_false(r->applied);
}

static void resources_from_catalogue_scale_or_request(void **state)
{
    fx *f = *state;
    Acms__V1__Environment *e = fx_env(f->a, "dev");
    e->memory_scale = 1.0 / 64;
    Acms__V1__Pipeline *p = fx_pipeline(f->a, "pl");
    Acms__V1__Step *cat = fx_step(f->a, p, "prep", "processing", "ml.m5.xlarge");
    Acms__V1__Step *req = fx_step(f->a, p, "train", "training", "ml.m5.xlarge");
    req->memory_mb = 300;
    req->vcpu = 1.5;
    adapter_log log;
    adapter_log_init(&log, f->a);
    adapter_environment_adapt(f->a, &f->pr.catalog, e, p, &log);

    assert_non_null(cat->resources);
    assert_int_equal(cat->resources->memory_mb, 16384 / 64);
    assert_true(cat->resources->vcpu == 4);
    const Acms__V1__AdaptationRecord *r = fx_rec(&log, "environment", "prep", "resources.memory_mb");
    assert_non_null(r);
    assert_string_equal(r->new_value, "256");
    assert_string_equal(acms_adaptation_reason(f->a, r),
                        "ml.m5.xlarge has 16384 MiB in the catalogue, x memory_scale 0.015625 of environment dev");
    r = fx_rec(&log, "environment", "prep", "resources.vcpu");
    assert_non_null(r);
    assert_string_equal(acms_adaptation_reason(f->a, r), "ml.m5.xlarge has 4 vCPU in the catalogue");

    assert_int_equal(req->resources->memory_mb, 300);
    assert_true(req->resources->vcpu == 1.5);
    r = fx_rec(&log, "environment", "train", "resources.memory_mb");
    assert_non_null(r);
    assert_non_null(strstr(acms_adaptation_reason(f->a, r), "explicit"));
}

static void network_and_storage(void **state)
{
    fx *f = *state;
    Acms__V1__Environment *e = fx_env(f->a, "prod");
    e->vpc = acms_pb_new(f->a, &acms__v1__vpc_config__descriptor);
    char *subnets[] = {"subnet-a", "subnet-b"};
    e->vpc->subnets = subnets;
    e->vpc->n_subnets = 2;
    e->vpc->set = 1;
    e->require_network_isolation = 1;
    Acms__V1__PathRewrite *r1 = acms_pb_new(f->a, &acms__v1__path_rewrite__descriptor);
    Acms__V1__PathRewrite *r2 = acms_pb_new(f->a, &acms__v1__path_rewrite__descriptor);
    r1->from_prefix = "s3://acme-ml/";
    r1->to_prefix = "s3://acme-ml-prod/";
    r2->from_prefix = "s3://acme-ml/churn/";
    r2->to_prefix = "s3://acme-churn-prod/";
    Acms__V1__PathRewrite *rw[] = {r1, r2};
    e->path_rewrites = rw;
    e->n_path_rewrites = 2;

    Acms__V1__Pipeline *p = fx_pipeline(f->a, "pl");
    Acms__V1__Step *a = fx_step(f->a, p, "prep", "processing", "ml.m5.large");
    a->output_path = "s3://acme-ml/churn/prep";
    Acms__V1__Step *b = fx_step(f->a, p, "train", "training", "ml.m5.large");
    b->output_path = "s3://acme-ml/other/train";
    b->vpc_config = acms_pb_new(f->a, &acms__v1__vpc_config__descriptor);
    char *own[] = {"subnet-own"};
    b->vpc_config->subnets = own;
    b->vpc_config->n_subnets = 1;
    b->vpc_config->set = 1;
    Acms__V1__Step *c = fx_step(f->a, p, "eval", "evaluation", "ml.m5.large");
    c->output_path = "file:///tmp/out";

    adapter_log log;
    adapter_log_init(&log, f->a);
    adapter_environment_adapt(f->a, &f->pr.catalog, e, p, &log);

    /* vpc from the profile when absent; the step's own kept; isolation forced on both. */
    assert_int_equal(a->vpc_config->n_subnets, 2);
    assert_string_equal(a->vpc_config->subnets[1], "subnet-b");
    assert_true(a->vpc_config->network_isolation);
    assert_non_null(fx_rec(&log, "environment", "prep", "vpc_config"));
    assert_int_equal(b->vpc_config->n_subnets, 1);
    assert_string_equal(b->vpc_config->subnets[0], "subnet-own");
    assert_true(b->vpc_config->network_isolation);
    assert_null(fx_rec(&log, "environment", "train", "vpc_config"));
    assert_non_null(fx_rec(&log, "environment", "train", "vpc_config.network_isolation"));

    /* Longest matching prefix wins; unmatched paths untouched. */
    assert_string_equal(a->output_path, "s3://acme-churn-prod/prep");
    assert_string_equal(b->output_path, "s3://acme-ml-prod/other/train");
    assert_string_equal(c->output_path, "file:///tmp/out");
    const Acms__V1__AdaptationRecord *r = fx_rec(&log, "environment", "prep", "output_path");
    assert_string_equal(r->old_value, "s3://acme-ml/churn/prep");
    assert_null(fx_rec(&log, "environment", "eval", "output_path"));
}

static void defaults_and_second_pass_is_a_no_op(void **state)
{
    fx *f = *state;
    Acms__V1__Environment *e = fx_env(f->a, "dev");
    e->executor = "local";
    e->default_max_attempts = 3;
    e->max_parallel = 4;
    e->default_instance_type = "ml.m5.large";
    Acms__V1__Pipeline *p = fx_pipeline(f->a, "pl");
    Acms__V1__Step *s = fx_step(f->a, p, "prep", "processing", NULL);
    Acms__V1__Step *h = fx_step(f->a, p, "train", "training", "ml.m5.large");
    h->executor = "http";
    adapter_log log;
    adapter_log_init(&log, f->a);
    adapter_environment_adapt(f->a, &f->pr.catalog, e, p, &log);
    assert_string_equal(s->executor, "local");
    assert_string_equal(h->executor, "http");
    assert_int_equal(s->max_attempts, 3);
    assert_int_equal(p->max_parallel, 4);
    assert_non_null(fx_rec(&log, "environment", "", "max_parallel"));
    for (size_t i = 0; i < log.n; i++) {
        assert_string_equal(log.v[i]->stage, "environment");
        assert_true(log.v[i]->applied);
        assert_true(log.v[i]->safety_score == 1.0);
    }
    size_t before = log.n;
    adapter_environment_adapt(f->a, &f->pr.catalog, e, p, &log);
    assert_int_equal(log.n, before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(default_type_and_instance_map),
        cmocka_unit_test(disallowed_type_is_substituted_within_family),
        cmocka_unit_test(resources_from_catalogue_scale_or_request),
        cmocka_unit_test(network_and_storage),
        cmocka_unit_test(defaults_and_second_pass_is_a_no_op),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
