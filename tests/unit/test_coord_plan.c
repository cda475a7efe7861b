/* test_coord_plan.c: the ExecutionPlanner. Ready sets follow dependencies, the concurrency limit
 * (pipeline, else environment, else 4) caps starts, ready steps come longest remaining path first,
 * retries wait for their backoff, and steps behind a failed dependency are found transitively. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "coordinator/plan.h"

/* The pure parts are tested with plain structs: neither the bus nor the store is in sight. */
#if defined(_RDKAFKA_H_) || defined(__HIREDIS_H)
#error "the coordinator's pure planner and recovery must not include Kafka or Redis headers"
#endif

typedef struct fx {
    acms_arena *a;
    Acms__V1__RuntimeConfiguration *rc;
    acms_dag *dag;
    coord_plan *plan;
    coord_step_state st[16];
    size_t out[16];
} fx;

/* Specs "name:runtime_s:dep1,dep2". */
static void build(fx *f, const char *const *specs, size_t n, uint32_t pipeline_parallel, uint32_t env_parallel)
{
    f->a = acms_arena_new(0);
    Acms__V1__Pipeline *p = acms_pb_new(f->a, &acms__v1__pipeline__descriptor);
    p->name = "t";
    p->max_parallel = pipeline_parallel;
    for (size_t i = 0; i < n; i++) {
        Acms__V1__Step *s = acms_pb_new(f->a, &acms__v1__step__descriptor);
        char *spec = acms_arena_strdup(f->a, specs[i]);
        char *rt = strchr(spec, ':');
        *rt++ = '\0';
        char *deps = strchr(rt, ':');
        *deps++ = '\0';
        s->name = spec;
        s->max_runtime_s = (uint32_t)atoi(rt);
        while (*deps) {
            size_t len = strcspn(deps, ",");
            acms_pb_add_string(f->a, &s->depends_on, &s->n_depends_on, acms_arena_strndup(f->a, deps, len));
            deps += len + (deps[len] == ',');
        }
        p->steps = acms_arena_push(f->a, p->steps, &p->n_steps, sizeof *p->steps);
        p->steps[p->n_steps - 1] = s;
    }
    f->rc = acms_pb_new(f->a, &acms__v1__runtime_configuration__descriptor);
    f->rc->pipeline = p;
    f->rc->environment = acms_pb_new(f->a, &acms__v1__environment__descriptor);
    f->rc->environment->max_parallel = env_parallel;
    assert_int_equal(acms_dag_build(f->a, p, &f->dag, NULL), ACMS_OK);
    assert_int_equal(coord_plan_build(f->a, f->rc, f->dag, &f->plan), ACMS_OK);
    for (size_t i = 0; i < n; i++)
        f->st[i] = COORD_STEP_PENDING;
}

static const char *name(fx *f, size_t i)
{
    return f->dag->names[i];
}

static size_t idx(fx *f, const char *n)
{
    long i = acms_dag_index(f->dag, n);
    assert_true(i >= 0);
    return (size_t)i;
}

static void test_diamond_ready_sets(void **state)
{
    (void)state;
    fx f;
    static const char *const specs[] = {"a:10:", "b:10:a", "c:10:a", "d:10:b,c"};
    build(&f, specs, 4, 0, 0);
    size_t n = coord_plan_ready(f.plan, f.st, NULL, 0, f.out, 16);
    assert_int_equal(n, 1);
    assert_string_equal(name(&f, f.out[0]), "a");

    f.st[idx(&f, "a")] = COORD_STEP_RUNNING;
    assert_int_equal(coord_plan_ready(f.plan, f.st, NULL, 0, f.out, 16), 0);

    f.st[idx(&f, "a")] = COORD_STEP_SUCCEEDED;
    n = coord_plan_ready(f.plan, f.st, NULL, 0, f.out, 16);
    assert_int_equal(n, 2);
    assert_string_equal(name(&f, f.out[0]), "b");
    assert_string_equal(name(&f, f.out[1]), "c");

    f.st[idx(&f, "b")] = COORD_STEP_SUCCEEDED;
    f.st[idx(&f, "c")] = COORD_STEP_RUNNING;
    assert_int_equal(coord_plan_ready(f.plan, f.st, NULL, 0, f.out, 16), 0); /* d waits for c */
    f.st[idx(&f, "c")] = COORD_STEP_SUCCEEDED;
    n = coord_plan_ready(f.plan, f.st, NULL, 0, f.out, 16);
    assert_int_equal(n, 1);
    assert_string_equal(name(&f, f.out[0]), "d");
    acms_arena_free(f.a);
}

static void test_concurrency_limit(void **state)
{
    (void)state;
    fx f;
    static const char *const specs[] = {"s1:10:", "s2:10:", "s3:10:", "s4:10:", "s5:10:", "s6:10:"};
    build(&f, specs, 6, 2, 0);
    assert_int_equal(f.plan->max_parallel, 2);
    assert_int_equal(coord_plan_ready(f.plan, f.st, NULL, 0, f.out, 16), 2);
    f.st[0] = COORD_STEP_RUNNING;
    assert_int_equal(coord_plan_ready(f.plan, f.st, NULL, 0, f.out, 16), 1);
    f.st[1] = COORD_STEP_RUNNING;
    assert_int_equal(coord_plan_ready(f.plan, f.st, NULL, 0, f.out, 16), 0);
    f.st[0] = COORD_STEP_SUCCEEDED;
    assert_int_equal(coord_plan_ready(f.plan, f.st, NULL, 0, f.out, 16), 1);
    /* the caller's capacity also bounds the answer */
    f.st[1] = COORD_STEP_SUCCEEDED;
    assert_int_equal(coord_plan_ready(f.plan, f.st, NULL, 0, f.out, 1), 1);
    acms_arena_free(f.a);
}

static void test_parallel_precedence(void **state)
{
    (void)state;
    fx f;
    static const char *const specs[] = {"a:1:"};
    build(&f, specs, 1, 3, 7);
    assert_int_equal(coord_plan_max_parallel(f.rc), 3);
    f.rc->pipeline->max_parallel = 0;
    assert_int_equal(coord_plan_max_parallel(f.rc), 7);
    f.rc->environment->max_parallel = 0;
    assert_int_equal(coord_plan_max_parallel(f.rc), COORD_DEFAULT_PARALLEL);
    f.rc->environment = NULL;
    assert_int_equal(coord_plan_max_parallel(f.rc), COORD_DEFAULT_PARALLEL);
    acms_arena_free(f.a);
}

static void test_critical_path_first(void **state)
{
    (void)state;
    fx f;
    /* roots in document order: short (5 s alone), quick (10 s, then a 100 s training), mid (50 s) */
    static const char *const specs[] = {"short:5:", "quick:10:", "mid:50:", "train:100:quick", "eval:0:train"};
    build(&f, specs, 5, 2, 0);
    /* ranks: quick = 10 + 100 + 60 (eval's unset runtime weighs 60) = 170, mid = 50, short = 5 */
    size_t n = coord_plan_ready(f.plan, f.st, NULL, 0, f.out, 16);
    assert_int_equal(n, 2);
    assert_string_equal(name(&f, f.out[0]), "quick");
    assert_string_equal(name(&f, f.out[1]), "mid");
    /* the critical path is quick -> train -> eval, 170 s */
    assert_int_equal(f.plan->ncritical, 3);
    assert_string_equal(name(&f, f.plan->critical[0]), "quick");
    assert_string_equal(name(&f, f.plan->critical[2]), "eval");
    assert_true(f.plan->critical_s > 169.9 && f.plan->critical_s < 170.1);
    acms_arena_free(f.a);
}

static void test_ties_keep_document_order(void **state)
{
    (void)state;
    fx f;
    static const char *const specs[] = {"z:30:", "y:30:", "x:30:", "w:40:"};
    build(&f, specs, 4, 10, 0);
    size_t n = coord_plan_ready(f.plan, f.st, NULL, 0, f.out, 16);
    assert_int_equal(n, 4);
    assert_string_equal(name(&f, f.out[0]), "w");
    assert_string_equal(name(&f, f.out[1]), "z");
    assert_string_equal(name(&f, f.out[2]), "y");
    assert_string_equal(name(&f, f.out[3]), "x");
    acms_arena_free(f.a);
}

static void test_retry_waits_for_backoff(void **state)
{
    (void)state;
    fx f;
    static const char *const specs[] = {"a:10:", "b:10:a"};
    build(&f, specs, 2, 0, 0);
    int64_t not_before[2] = {1000, 0};
    f.st[0] = COORD_STEP_RETRY;
    assert_int_equal(coord_plan_ready(f.plan, f.st, not_before, 999, f.out, 16), 0);
    assert_int_equal(coord_plan_ready(f.plan, f.st, not_before, 1000, f.out, 16), 1);
    assert_string_equal(name(&f, f.out[0]), "a");
    acms_arena_free(f.a);
}

static void test_blocked_transitively(void **state)
{
    (void)state;
    fx f;
    static const char *const specs[] = {"a:10:", "b:10:a", "c:10:b", "d:10:", "e:10:d,c"};
    build(&f, specs, 5, 0, 0);
    f.st[idx(&f, "a")] = COORD_STEP_FAILED;
    f.st[idx(&f, "d")] = COORD_STEP_RUNNING;
    size_t n = coord_plan_blocked(f.plan, f.st, f.out);
    assert_int_equal(n, 3);
    int seen_b = 0, seen_c = 0, seen_e = 0;
    for (size_t k = 0; k < n; k++) {
        seen_b |= f.out[k] == idx(&f, "b");
        seen_c |= f.out[k] == idx(&f, "c");
        seen_e |= f.out[k] == idx(&f, "e");
    }
    assert_true(seen_b && seen_c && seen_e);
    /* skipped and cancelled dependencies block as well; a succeeded one does not */
    f.st[idx(&f, "a")] = COORD_STEP_SUCCEEDED;
    f.st[idx(&f, "b")] = COORD_STEP_SKIPPED;
    f.st[idx(&f, "c")] = COORD_STEP_PENDING;
    n = coord_plan_blocked(f.plan, f.st, f.out);
    assert_int_equal(n, 2); /* c and e */
    acms_arena_free(f.a);
}

static void test_state_names_round_trip(void **state)
{
    (void)state;
    for (int s = COORD_STEP_PENDING; s <= COORD_STEP_CANCELLED; s++)
        assert_int_equal(coord_state_parse(coord_state_name((coord_step_state)s)), s);
    assert_int_equal(coord_state_parse("bogus"), -1);
    assert_string_equal(coord_state_name(COORD_STEP_RETRY), "retrying");
    assert_true(coord_state_terminal(COORD_STEP_SKIPPED));
    assert_false(coord_state_terminal(COORD_STEP_RETRY));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_diamond_ready_sets),
        cmocka_unit_test(test_concurrency_limit),
        cmocka_unit_test(test_parallel_precedence),
        cmocka_unit_test(test_critical_path_first),
        cmocka_unit_test(test_ties_keep_document_order),
        cmocka_unit_test(test_retry_waits_for_backoff),
        cmocka_unit_test(test_blocked_transitively),
        cmocka_unit_test(test_state_names_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
