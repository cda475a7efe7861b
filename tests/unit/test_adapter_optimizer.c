/* RuntimeOptimizer: interruptible capacity for processing/transform steps where the environment allows
 * it; runtime limits from history (set when absent, tightened past a 10% gap, loosened, capped by
 * quota, recorded only in shadow mode); no history, no limit change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "adapt_reason.h"
#include "adapter_fixture.h"

static adapter_observed history(acms_arena *a, size_t n, const uint32_t *runtime_s, const char *mode)
{
    adapter_observed o = {.online = 1, .nlearned = n};
    o.learned = acms_arena_alloc(a, n * sizeof *o.learned);
    for (size_t i = 0; i < n; i++)
        o.learned[i] = (adapter_learned){.present = runtime_s[i] > 0, .runtime_s = runtime_s[i], .instance_type = "",
                                         .mode = mode, .reason = "p99 wall x 1.5", .based_on_runs = 6};
    return o;
}

static void interruptible_where_allowed(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__Environment *e = fx_env(a, "dev");
    Acms__V1__Pipeline *p = fx_pipeline(a, "pl");
    Acms__V1__Step *prep = fx_step(a, p, "prep", "processing", "ml.m5.large");
    Acms__V1__Step *tr = fx_step(a, p, "tr", "transform", "ml.m5.large");
    Acms__V1__Step *train = fx_step(a, p, "train", "training", "ml.m5.large");
    adapter_log log;
    adapter_log_init(&log, a);
    adapter_optimizer_optimize(a, e, p, NULL, &log);
    assert_int_equal(log.n, 0); /* not allowed: nothing */

    e->allow_interruptible = 1;
    adapter_optimizer_optimize(a, e, p, NULL, &log);
    assert_true(prep->interruptible);
    assert_true(tr->interruptible);
    assert_false(train->interruptible);
    const Acms__V1__AdaptationRecord *r = fx_rec(&log, "optimization", "prep", "interruptible");
    assert_non_null(r);
    assert_string_equal(r->old_value, "false");
    assert_string_equal(r->new_value, "true");
    assert_true(r->applied);
    assert_string_equal(acms_adaptation_reason(a, r),
                        "environment dev allows interruptible capacity and a processing step can be re-run from its "
                        "inputs if interrupted (cheaper capacity)");
    assert_int_equal(log.n, 2);
    adapter_optimizer_optimize(a, e, p, NULL, &log);
    assert_int_equal(log.n, 2); /* already set: no second record */
    acms_arena_free(a);
}

static void runtime_limits_from_history(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__Environment *e = fx_env(a, "prod");
    fx_quotas(a, e)->max_runtime_s = 7200;
    Acms__V1__Pipeline *p = fx_pipeline(a, "pl");
    Acms__V1__Step *unset = fx_step(a, p, "a", "training", "ml.m5.large");
    Acms__V1__Step *tight = fx_step(a, p, "b", "training", "ml.m5.large");
    tight->max_runtime_s = 3600;
    Acms__V1__Step *loose = fx_step(a, p, "c", "training", "ml.m5.large");
    loose->max_runtime_s = 600;
    Acms__V1__Step *close = fx_step(a, p, "d", "training", "ml.m5.large");
    close->max_runtime_s = 1000;
    Acms__V1__Step *capped = fx_step(a, p, "e", "training", "ml.m5.large");
    capped->max_runtime_s = 3600;
    Acms__V1__Step *nohist = fx_step(a, p, "f", "training", "ml.m5.large");
    nohist->max_runtime_s = 50;
    const uint32_t rt[] = {900, 1200, 1500, 950, 99999, 0};
    adapter_observed obs = history(a, 6, rt, "apply");
    adapter_log log;
    adapter_log_init(&log, a);
    adapter_optimizer_optimize(a, e, p, &obs, &log);

    assert_int_equal(unset->max_runtime_s, 900);
    assert_int_equal(tight->max_runtime_s, 1200);
    assert_int_equal(loose->max_runtime_s, 1500);
    assert_int_equal(close->max_runtime_s, 1000); /* within 10%: no churn */
    assert_int_equal(capped->max_runtime_s, 7200);
    assert_int_equal(nohist->max_runtime_s, 50);
    assert_non_null(strstr(fx_rec(&log, "optimization", "b", "max_runtime_s")->reason, "tightened"));
    assert_non_null(strstr(fx_rec(&log, "optimization", "c", "max_runtime_s")->reason, "loosened"));
    assert_non_null(strstr(fx_rec(&log, "optimization", "e", "max_runtime_s")->reason, "quota"));
    assert_null(fx_rec(&log, "optimization", "d", NULL));
    assert_null(fx_rec(&log, "optimization", "f", NULL));
    assert_int_equal(log.n, 4);

    /* Shadow: the same records, none applied, nothing changed. */
    Acms__V1__Pipeline *p2 = fx_pipeline(a, "pl");
    Acms__V1__Step *s2 = fx_step(a, p2, "a", "training", "ml.m5.large");
    s2->max_runtime_s = 3600;
    const uint32_t rt2[] = {1200};
    adapter_observed shadow = history(a, 1, rt2, "shadow");
    adapter_log log2;
    adapter_log_init(&log2, a);
    adapter_optimizer_optimize(a, e, p2, &shadow, &log2);
    assert_int_equal(s2->max_runtime_s, 3600);
    assert_int_equal(log2.n, 1);
    assert_false(log2.v[0]->applied);
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(interruptible_where_allowed),
        cmocka_unit_test(runtime_limits_from_history),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
