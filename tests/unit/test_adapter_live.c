/* adapt_during_execution: an opportunity is applied only above the safety threshold, within quotas,
 * and never by shrinking the memory of a running step; every decision fills one record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "adapter_fixture.h"

static Acms__V1__AdaptationOpportunity *opp(acms_arena *a, const char *kind, const char *field, const char *cur,
                                            const char *proposed, double safety, int running)
{
    Acms__V1__AdaptationOpportunity *o = acms_pb_new(a, &acms__v1__adaptation_opportunity__descriptor);
    o->step = "train";
    o->environment = "prod";
    o->kind = (char *)kind;
    o->field = (char *)field;
    o->current_value = (char *)cur;
    o->proposed_value = (char *)proposed;
    o->safety_score = safety;
    o->step_running = running;
    o->reason = "peak RSS at 93% of the limit";
    return o;
}

static Acms__V1__Environment *env(acms_arena *a)
{
    Acms__V1__Environment *e = fx_env(a, "prod");
    e->safety_threshold = 0.8;
    fx_quotas(a, e)->max_memory_mb = 4096;
    e->quotas->max_runtime_s = 3600;
    return e;
}

static void applies_safe_memory_increase(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__AdaptationRecord rec;
    uint64_t mem = 1;
    uint32_t rt = 1;
    assert_int_equal(adapter_live_decide(NULL, env(a), opp(a, "memory_up", "memory_mb", "1024", "1536", 0.9, 1), 0,
                                         &rec, &mem, &rt),
                     1);
    assert_int_equal(mem, 1536);
    assert_int_equal(rt, 0);
    assert_true(rec.applied);
    assert_string_equal(rec.stage, "runtime");
    assert_string_equal(rec.step, "train");
    assert_string_equal(rec.field, "memory_mb");
    assert_string_equal(rec.old_value, "1024");
    assert_string_equal(rec.new_value, "1536");
    assert_string_equal(rec.reason, "peak RSS at 93% of the limit");
    assert_true(rec.safety_score == 0.9);

    assert_int_equal(adapter_live_decide(NULL, env(a), opp(a, "runtime_up", "max_runtime_s", "600", "900", 0.85, 1), 0,
                                         &rec, &mem, &rt),
                     1);
    assert_int_equal(rt, 900);
    assert_int_equal(mem, 0);
    acms_arena_free(a);
}

static void refusals(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__AdaptationRecord rec;
    uint64_t mem;
    uint32_t rt;
    Acms__V1__Environment *e = env(a);
    struct {
        Acms__V1__AdaptationOpportunity *o;
        const char *why;
    } cases[] = {
        {opp(a, "memory_up", "memory_mb", "1024", "1536", 0.79, 0), "safety"},
        {opp(a, "memory_up", "memory_mb", "1024", "8192", 0.95, 0), "max_memory_mb"},
        {opp(a, "runtime_up", "max_runtime_s", "600", "7200", 0.95, 0), "max_runtime_s"},
        {opp(a, "memory_down", "memory_mb", "2048", "1024", 0.95, 1), "running"},
        {opp(a, "cpu_down", "vcpu", "4", "2", 0.95, 0), "vCPU"},
        {opp(a, "memory_up", "memory_mb", "1024", "lots", 0.95, 0), "not a positive number"},
        {opp(a, "memory_up", "memory_mb", "1024", "-5", 0.95, 0), "not a positive number"},
        {opp(a, "x", "command", "", "1", 0.95, 0), "field"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        mem = 7;
        rt = 7;
        if (adapter_live_decide(NULL, e, cases[i].o, 0, &rec, &mem, &rt) != 0)
            fail_msg("case %zu applied", i);
        assert_false(rec.applied);
        assert_int_equal(mem, 0);
        assert_int_equal(rt, 0);
        if (!strstr(rec.reason, cases[i].why))
            fail_msg("case %zu: reason '%s' lacks '%s'", i, rec.reason, cases[i].why);
    }
    /* Unknown environment. */
    assert_int_equal(adapter_live_decide(NULL, NULL, cases[0].o, 0, &rec, &mem, &rt), 0);
    assert_non_null(strstr(rec.reason, "environment"));
    acms_arena_free(a);
}

static void shrinking_a_pending_step_is_allowed(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__AdaptationRecord rec;
    uint64_t mem;
    uint32_t rt;
    assert_int_equal(adapter_live_decide(NULL, env(a), opp(a, "memory_down", "memory_mb", "2048", "1024", 0.9, 0), 0,
                                         &rec, &mem, &rt),
                     1);
    assert_int_equal(mem, 1024);
    acms_arena_free(a);
}

static void threshold_precedence(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__AdaptationRecord rec;
    uint64_t mem;
    uint32_t rt;
    Acms__V1__Environment *e = env(a);
    Acms__V1__AdaptationOpportunity *o = opp(a, "memory_up", "memory_mb", "1024", "1536", 0.85, 0);
    /* The service setting (ACMS_SAFETY_THRESHOLD) wins over the profile's 0.8. */
    assert_int_equal(adapter_live_decide(NULL, e, o, 0.9, &rec, &mem, &rt), 0);
    assert_int_equal(adapter_live_decide(NULL, e, o, 0, &rec, &mem, &rt), 1);
    e->safety_threshold = 0.86;
    assert_int_equal(adapter_live_decide(NULL, e, o, 0, &rec, &mem, &rt), 0);
    e->safety_threshold = 0;
    assert_int_equal(adapter_live_decide(NULL, e, o, 0, &rec, &mem, &rt), 1); /* default 0.8 */
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(applies_safe_memory_increase),
        cmocka_unit_test(refusals),
        cmocka_unit_test(shrinking_a_pending_step_is_allowed),
        cmocka_unit_test(threshold_precedence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
