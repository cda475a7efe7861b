/* ResourceScaler: offline plans, learned right-sizing in apply mode (memory within quota, smallest
 * same-family type that fits), shadow mode records without changing, the environment's learning_mode
 * caps the recommendation's, data-size hints, instance counts capped by quota, load notes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

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

static int per_test(void **state)
{
    fx *f = *state;
    acms_arena_free(f->a);
    f->a = acms_arena_new(0);
    return 0;
}

/* Environment "prod" with quotas; pipeline of one ml.m5.2xlarge step adapted by the environment stage. */
static Acms__V1__Pipeline *prepared(fx *f, Acms__V1__Environment *e, adapter_log *log)
{
    Acms__V1__Pipeline *p = fx_pipeline(f->a, "churn");
    fx_step(f->a, p, "train", "training", "ml.m5.2xlarge");
    adapter_log_init(log, f->a);
    adapter_environment_adapt(f->a, &f->pr.catalog, e, p, log);
    return p;
}

static adapter_observed observed(fx *f, size_t n)
{
    adapter_observed o = {.online = 1, .active_runs = 2, .instances_in_use = 3, .nlearned = n};
    o.learned = acms_arena_alloc(f->a, n * sizeof *o.learned);
    for (size_t i = 0; i < n; i++) {
        o.learned[i].instance_type = "";
        o.learned[i].mode = "";
        o.learned[i].reason = "";
    }
    return o;
}

static void offline_plan(void **state)
{
    fx *f = *state;
    Acms__V1__Environment *e = fx_env(f->a, "prod");
    fx_quotas(f->a, e)->max_total_instances = 20;
    adapter_log log;
    Acms__V1__Pipeline *p = prepared(f, e, &log);
    Acms__V1__Step *req = fx_step(f->a, p, "eval", "evaluation", "ml.m5.large");
    req->memory_mb = 512;
    req->instance_count = 2;
    adapter_environment_adapt(f->a, &f->pr.catalog, e, p, &log);
    adapter_observed obs;
    assert_int_equal(adapter_scaler_observe(NULL, f->a, e, p, NULL, &obs), ACMS_OK);
    assert_false(obs.online);
    Acms__V1__CapacityPlan *plan = NULL;
    adapter_scaler_scale(f->a, &f->pr.catalog, e, p, &obs, &log, &plan);
    assert_non_null(plan);
    assert_int_equal(plan->active_runs, 0);
    assert_int_equal(plan->instances_in_use, 0);
    assert_int_equal(plan->instances_requested, 3);
    assert_int_equal(plan->quota_total_instances, 20);
    assert_true(strncmp(plan->note, "offline", 7) == 0);
    assert_int_equal(plan->n_steps, 2);
    assert_string_equal(plan->steps[0]->basis, "catalogue");
    assert_int_equal(plan->steps[0]->memory_mb, 32768);
    assert_string_equal(plan->steps[1]->basis, "requested");
    assert_int_equal(plan->steps[1]->memory_mb, 512);
    assert_null(fx_rec(&log, "scaling", NULL, NULL));
}

static void learned_apply_right_sizes_within_family(void **state)
{
    fx *f = *state;
    Acms__V1__Environment *e = fx_env(f->a, "prod");
    adapter_log log;
    Acms__V1__Pipeline *p = prepared(f, e, &log);
    adapter_observed obs = observed(f, 1);
    obs.learned[0] = (adapter_learned){.present = 1, .memory_mb = 6000, .runtime_s = 900, .instance_type = "",
                                       .mode = "apply", .reason = "p95 peak 4.8 GiB + 25%", .based_on_runs = 8};
    Acms__V1__CapacityPlan *plan;
    adapter_scaler_scale(f->a, &f->pr.catalog, e, p, &obs, &log, &plan);
    const Acms__V1__Step *s = p->steps[0];
    assert_int_equal(s->resources->memory_mb, 6000);
    assert_string_equal(s->instance_type, "ml.m5.large"); /* 8 GiB holds 6000 MiB */
    assert_true(s->resources->vcpu == 2);
    const Acms__V1__AdaptationRecord *r = fx_rec(&log, "scaling", "train", "resources.memory_mb");
    assert_non_null(r);
    assert_true(r->applied);
    assert_string_equal(r->old_value, "32768");
    assert_string_equal(r->new_value, "6000");
    assert_true(r->safety_score > 0.8 && r->safety_score < 1.0);
    r = fx_rec(&log, "scaling", "train", "instance_type");
    assert_non_null(r);
    assert_string_equal(r->old_value, "ml.m5.2xlarge");
    assert_string_equal(r->new_value, "ml.m5.large");
    assert_string_equal(plan->steps[0]->basis, "learned");
    assert_int_equal(plan->active_runs, 2);
    assert_int_equal(plan->instances_in_use, 3);
}

static void learned_memory_capped_by_quota(void **state)
{
    fx *f = *state;
    Acms__V1__Environment *e = fx_env(f->a, "prod");
    fx_quotas(f->a, e)->max_memory_mb = 40000;
    adapter_log log;
    Acms__V1__Pipeline *p = prepared(f, e, &log);
    adapter_observed obs = observed(f, 1);
    obs.learned[0] = (adapter_learned){.present = 1, .memory_mb = 100000, .instance_type = "", .mode = "apply",
                                       .reason = "", .based_on_runs = 5};
    Acms__V1__CapacityPlan *plan;
    adapter_scaler_scale(f->a, &f->pr.catalog, e, p, &obs, &log, &plan);
    assert_int_equal(p->steps[0]->resources->memory_mb, 40000);
    assert_string_equal(p->steps[0]->instance_type, "ml.m5.4xlarge");
    assert_non_null(strstr(fx_rec(&log, "scaling", "train", "resources.memory_mb")->reason, "quota"));
}

static void shadow_mode_records_only(void **state)
{
    fx *f = *state;
    Acms__V1__Environment *e = fx_env(f->a, "prod");
    e->learning_mode = "shadow"; /* the environment caps an "apply" recommendation */
    adapter_log log;
    Acms__V1__Pipeline *p = prepared(f, e, &log);
    adapter_observed obs = observed(f, 1);
    obs.learned[0] = (adapter_learned){.present = 1, .memory_mb = 6000, .instance_type = "", .mode = "apply",
                                       .reason = "", .based_on_runs = 3};
    Acms__V1__CapacityPlan *plan;
    adapter_scaler_scale(f->a, &f->pr.catalog, e, p, &obs, &log, &plan);
    assert_int_equal(p->steps[0]->resources->memory_mb, 32768);
    assert_string_equal(p->steps[0]->instance_type, "ml.m5.2xlarge");
    const Acms__V1__AdaptationRecord *r = fx_rec(&log, "scaling", "train", "resources.memory_mb");
    assert_non_null(r);
    assert_false(r->applied);
    assert_string_equal(r->new_value, "6000");
    assert_non_null(strstr(r->reason, "shadow"));
    assert_string_equal(plan->steps[0]->basis, "catalogue");

    /* learning_mode off: nothing at all. */
    e->learning_mode = "off";
    adapter_log log2;
    p = prepared(f, e, &log2);
    size_t before = log2.n;
    adapter_scaler_scale(f->a, &f->pr.catalog, e, p, &obs, &log2, &plan);
    assert_int_equal(log2.n, before);
}

static void data_size_hint_and_instance_cap(void **state)
{
    fx *f = *state;
    Acms__V1__Environment *e = fx_env(f->a, "dev");
    e->memory_scale = 1.0 / 64;
    Acms__V1__Quotas *q = fx_quotas(f->a, e);
    q->max_instances = 2;
    q->max_total_instances = 4;
    adapter_log log;
    Acms__V1__Pipeline *p = prepared(f, e, &log); /* 32768 / 64 = 512 MiB */
    p->steps[0]->data_size_mb = 2048;
    p->steps[0]->instance_count = 5;
    adapter_observed obs = observed(f, 1);
    Acms__V1__CapacityPlan *plan;
    adapter_scaler_scale(f->a, &f->pr.catalog, e, p, &obs, &log, &plan);

    const Acms__V1__AdaptationRecord *r = fx_rec(&log, "scaling", "train", "resources.memory_mb");
    assert_non_null(r);
    assert_false(r->applied);
    assert_string_equal(r->new_value, "3072");
    assert_int_equal(p->steps[0]->resources->memory_mb, 512);

    assert_int_equal(p->steps[0]->instance_count, 2);
    r = fx_rec(&log, "scaling", "train", "instance_count");
    assert_non_null(r);
    assert_string_equal(r->old_value, "5");
    assert_string_equal(r->new_value, "2");
    assert_string_equal(plan->steps[0]->basis, "quota-capped");
    /* 3 in use + 2 requested > 4: the note says steps will wait. */
    assert_non_null(strstr(plan->note, "wait"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(offline_plan, per_test),
        cmocka_unit_test_setup(learned_apply_right_sizes_within_family, per_test),
        cmocka_unit_test_setup(learned_memory_capped_by_quota, per_test),
        cmocka_unit_test_setup(shadow_mode_records_only, per_test),
        cmocka_unit_test_setup(data_size_hint_and_instance_cap, per_test),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
