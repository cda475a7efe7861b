/* test_coord_admission.c: an environment's quotas as Redis reservations (admission.c), on a real
 * redis-server: max_active_runs admits runs first in, first out and keeps a run's place when it
 * asks again (a takeover); a slot whose lease expired (its replica crashed) comes free with the
 * step reservations it held; max_total_instances and max_memory_mb hold over the steps of all
 * runs, a step larger than a quota runs alone rather than never, and a release frees capacity. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "coordinator/admission.h"
#include "redis_fixture.h"

typedef struct fx {
    fx_redis redis;
    Acms__V1__Quotas q;
    Acms__V1__Environment env;
    coord_run runs[4];
    Acms__V1__Step cfg[4];
    coord_step steps[4];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (fx_redis_start(&f->redis) < 0)
        return -1;
    acms__v1__quotas__init(&f->q);
    acms__v1__environment__init(&f->env);
    f->env.name = "dev";
    f->env.quotas = &f->q;
    for (int i = 0; i < 4; i++) {
        snprintf(f->runs[i].id, sizeof f->runs[i].id, "run-%d", i + 1);
        f->runs[i].environment = "dev";
        f->runs[i].env = &f->env;
        acms__v1__step__init(&f->cfg[i]);
        f->cfg[i].name = "s";
        f->steps[i].cfg = &f->cfg[i];
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    fx_redis_stop(&f->redis);
    free(f);
    return 0;
}

static coord_admission ask(fx *f, int i, int lease_ms)
{
    coord_admission ad;
    assert_int_equal(coord_admission_run(f->redis.r, &f->runs[i], lease_ms, &ad), ACMS_OK);
    return ad;
}

static void test_max_active_runs_fifo(void **state)
{
    fx *f = *state;
    f->q.max_active_runs = 1;
    assert_true(coord_admission_needed(&f->env));
    assert_true(ask(f, 0, 60000).admitted);
    coord_admission b = ask(f, 1, 60000), c = ask(f, 2, 60000);
    assert_false(b.admitted);
    assert_int_equal(b.position, 1);
    assert_false(c.admitted);
    assert_int_equal(c.position, 2);
    assert_int_equal(c.active, 1);
    /* asking again keeps the place (and renews an admitted run's slot) */
    assert_int_equal(ask(f, 2, 60000).position, 2);
    assert_true(ask(f, 0, 60000).admitted);
    /* run 1 ends: run 3 asks first but run 2 is first in line */
    assert_int_equal(coord_admission_release_now(f->redis.r, "dev", "run-1"), ACMS_OK);
    assert_false(ask(f, 2, 60000).admitted);
    assert_true(ask(f, 1, 60000).admitted);
    assert_int_equal(ask(f, 2, 60000).position, 1);
    /* a place survives the queue entry's loss (the run keeps its arrival number) */
    assert_int_equal(coord_admission_release_now(f->redis.r, "dev", "run-2"), ACMS_OK);
    assert_true(ask(f, 2, 60000).admitted);
}

static void test_crashed_replica_slot_comes_free(void **state)
{
    fx *f = *state;
    f->q.max_active_runs = 1;
    f->q.max_total_instances = 4;
    assert_true(ask(f, 0, 50).admitted); /* its replica will not renew it */
    int granted[1];
    uint64_t inst, mb;
    coord_step *s0 = &f->steps[0];
    f->cfg[0].instance_count = 4;
    assert_int_equal(coord_admission_steps(f->redis.r, &f->runs[0], &s0, 1, granted, &inst, &mb), ACMS_OK);
    assert_true(granted[0]);
    assert_int_equal(inst, 4);
    assert_false(ask(f, 1, 60000).admitted);
    usleep(100 * 1000); /* past the 50 ms lease */
    assert_true(ask(f, 1, 60000).admitted);
    assert_int_equal(coord_admission_renew(f->redis.r, &f->runs[0], 60000), 0); /* run 1 learns it lost it */
    coord_step *s1 = &f->steps[1];
    f->cfg[1].instance_count = 4;
    assert_int_equal(coord_admission_steps(f->redis.r, &f->runs[1], &s1, 1, granted, &inst, &mb), ACMS_OK);
    assert_true(granted[0]); /* run 1's instances came free with its slot */
    assert_int_equal(coord_admission_steps(f->redis.r, &f->runs[0], &s0, 1, granted, &inst, &mb), ACMS_ERR_NOTFOUND);
}

static void test_step_capacity_across_runs(void **state)
{
    fx *f = *state;
    f->q.max_total_instances = 3;
    f->q.max_memory_mb = 1000;
    assert_true(ask(f, 0, 60000).admitted);
    assert_true(ask(f, 1, 60000).admitted);
    int g[2];
    uint64_t inst, mb;
    f->cfg[0].instance_count = 2;
    f->steps[0].res.memory_mb = 300;
    coord_step *a = &f->steps[0];
    assert_int_equal(coord_admission_steps(f->redis.r, &f->runs[0], &a, 1, g, &inst, &mb), ACMS_OK);
    assert_true(g[0]);
    f->cfg[1].instance_count = 2; /* 2 + 2 > 3 */
    f->steps[1].res.memory_mb = 100;
    coord_step *b = &f->steps[1];
    assert_int_equal(coord_admission_steps(f->redis.r, &f->runs[1], &b, 1, g, &inst, &mb), ACMS_OK);
    assert_false(g[0]);
    assert_int_equal(inst, 2);
    assert_int_equal(mb, 300);
    f->cfg[1].instance_count = 1; /* fits instances; 300 + 800 > 1000 MiB does not */
    f->steps[1].res.memory_mb = 800;
    assert_int_equal(coord_admission_steps(f->redis.r, &f->runs[1], &b, 1, g, &inst, &mb), ACMS_OK);
    assert_false(g[0]);
    /* run 1 ends: its reservation is gone, run 2's step fits */
    assert_int_equal(coord_admission_release_now(f->redis.r, "dev", "run-1"), ACMS_OK);
    assert_int_equal(coord_admission_steps(f->redis.r, &f->runs[1], &b, 1, g, &inst, &mb), ACMS_OK);
    assert_true(g[0]);
    assert_int_equal(mb, 800);
    /* asking again for a reserved step is not counted twice */
    assert_int_equal(coord_admission_steps(f->redis.r, &f->runs[1], &b, 1, g, &inst, &mb), ACMS_OK);
    assert_true(g[0]);
    assert_int_equal(mb, 800);
    /* a step larger than the whole quota runs once nothing else does */
    assert_int_equal(coord_admission_release_now(f->redis.r, "dev", "run-2"), ACMS_OK);
    assert_true(ask(f, 2, 60000).admitted);
    f->cfg[2].instance_count = 10;
    f->steps[2].res.memory_mb = 5000;
    coord_step *c = &f->steps[2];
    assert_int_equal(coord_admission_steps(f->redis.r, &f->runs[2], &c, 1, g, &inst, &mb), ACMS_OK);
    assert_true(g[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_max_active_runs_fifo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crashed_replica_slot_comes_free, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step_capacity_across_runs, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
