/* test_coord_adapted_poison.c: an AdaptedEvent that decodes but cannot be real (no step, or a memory
 * size no machine has) is recognised, so the coordinator dead-letters it instead of acknowledging it
 * as "nothing to apply" (tests/faults/test_faults_poison.sh, "impossible content"); the adapter's
 * real events (a step with a memory and/or runtime change, or a vCPU-only change) pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "coordinator/coord.h"

static void test_adapted_events(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__AdaptedEvent *e = acms_pb_new(a, &acms__v1__adapted_event__descriptor);
    e->meta = acms_meta_new(a, "run-1", "test", NULL, NULL, NULL);
    e->memory_mb = 512;
    assert_string_equal(coord_adapted_problem(e), "AdaptedEvent without a step");
    e->step = "";
    assert_string_equal(coord_adapted_problem(e), "AdaptedEvent without a step");
    e->step = "train";
    assert_null(coord_adapted_problem(e));
    e->memory_mb = 0;
    e->vcpu = 1; /* a vCPU-only adaptation: nothing for the coordinator, but real */
    assert_null(coord_adapted_problem(e));
    e->memory_mb = 1ULL << 62;
    assert_string_equal(coord_adapted_problem(e), "AdaptedEvent with an impossible memory size");
    assert_non_null(coord_adapted_problem(NULL));
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adapted_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
