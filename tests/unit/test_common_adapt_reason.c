/* adapt_reason: every template renders byte for byte as the printf format the adapter wrote before
 * reasons were templates (numbers as %g / PRIu64 gave them), missing arguments render as "", a set
 * reason wins over a template, an unknown template says so, and acms_adaptation_render leaves
 * records that read as rendered ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "acms.h"
#include "adapt_reason.h"

static const char *render(acms_arena *a, unsigned id, char **args, size_t n)
{
    Acms__V1__AdaptationRecord r = ACMS__V1__ADAPTATION_RECORD__INIT;
    r.reason_template = id;
    r.reason_args = args;
    r.n_reason_args = n;
    return acms_adaptation_reason(a, &r);
}

static void templates_render_as_the_old_formats(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    char old[512];
    snprintf(old, sizeof old, "%s has %" PRIu64 " MiB in the catalogue, x memory_scale %g of environment %s",
             "ml.m5.large", (uint64_t)8192, 0.0625, "dev");
    char *scaled[] = {"ml.m5.large", acms_arena_printf(a, "%" PRIu64, (uint64_t)8192),
                      acms_arena_printf(a, "%g", 0.0625), "dev"};
    assert_string_equal(render(a, ACMS_REASON_MEMORY_SCALED, scaled, 4), old);
    snprintf(old, sizeof old, "%s has %" PRIu64 " MiB in the catalogue", "ml.c5.large", (uint64_t)4096);
    assert_string_equal(render(a, ACMS_REASON_MEMORY_CATALOGUE, scaled, 0), " has  MiB in the catalogue");
    char *cat[] = {"ml.c5.large", "4096"};
    assert_string_equal(render(a, ACMS_REASON_MEMORY_CATALOGUE, cat, 2), old);
    snprintf(old, sizeof old, "%s has %g vCPU in the catalogue", "ml.t3.medium", 0.5);
    char *cpu[] = {"ml.t3.medium", acms_arena_printf(a, "%g", 0.5)};
    assert_string_equal(render(a, ACMS_REASON_VCPU_CATALOGUE, cpu, 2), old);
    char *env[] = {"prod"};
    assert_string_equal(render(a, ACMS_REASON_PATH_REWRITES, env, 1), "path_rewrites of environment prod");
    assert_string_equal(render(a, ACMS_REASON_DEFAULT_EXECUTOR, env, 1), "no executor given: default of environment prod");
    assert_string_equal(render(a, ACMS_REASON_DEFAULT_ATTEMPTS, env, 1),
                        "no max_attempts given: default of environment prod");
    assert_string_equal(render(a, ACMS_REASON_DEFAULT_PARALLEL, env, 1),
                        "no max_parallel given: default of environment prod");
    assert_string_equal(render(a, ACMS_REASON_DEFAULT_TYPE, env, 1),
                        "no instance_type given: default of environment prod");
    assert_string_equal(render(a, ACMS_REASON_DEFAULT_NETWORK, env, 1), "no vpc_config given: network of environment prod");
    assert_string_equal(render(a, ACMS_REASON_NETWORK_ISOLATION, env, 1), "environment prod requires network isolation");
    char *intr[] = {"dev", "transform"};
    assert_string_equal(render(a, ACMS_REASON_INTERRUPTIBLE, intr, 2),
                        "environment dev allows interruptible capacity and a transform step can be re-run from its "
                        "inputs if interrupted (cheaper capacity)");
    for (unsigned id = 1; id < ACMS_REASON_COUNT; id++)
        assert_non_null(acms_adaptation_template(id));
    acms_arena_free(a);
}

static void set_reason_wins_unknown_template_says_so(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__AdaptationRecord r = ACMS__V1__ADAPTATION_RECORD__INIT;
    assert_string_equal(acms_adaptation_reason(a, &r), "");
    r.reason = "as written";
    r.reason_template = ACMS_REASON_PATH_REWRITES;
    assert_string_equal(acms_adaptation_reason(a, &r), "as written");
    assert_string_equal(render(a, 9999, NULL, 0), "reason template 9999");
    assert_null(acms_adaptation_template(ACMS_REASON_COUNT));
    acms_arena_free(a);
}

static void render_in_place(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__AdaptationRecord r1 = ACMS__V1__ADAPTATION_RECORD__INIT, r2 = ACMS__V1__ADAPTATION_RECORD__INIT;
    char *env[] = {"dev"};
    r1.reason = "";
    r1.reason_template = ACMS_REASON_DEFAULT_EXECUTOR;
    r1.reason_args = env;
    r1.n_reason_args = 1;
    r2.reason = "kept";
    Acms__V1__AdaptationRecord *v[] = {&r1, &r2};
    assert_int_equal(acms_adaptation_render(a, v, 2), ACMS_OK);
    assert_string_equal(r1.reason, "no executor given: default of environment dev");
    assert_int_equal(r1.reason_template, 0);
    assert_int_equal(r1.n_reason_args, 0);
    assert_null(r1.reason_args);
    assert_string_equal(r2.reason, "kept");
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(templates_render_as_the_old_formats),
        cmocka_unit_test(set_reason_wins_unknown_template_says_so),
        cmocka_unit_test(render_in_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
