/* DAG ordering, cycles (including self-dependencies), missing dependencies, duplicates, critical path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dag.h"

/* Builds a pipeline from "name:dep1,dep2" specs. */
static Acms__V1__Pipeline *pipeline(acms_arena *a, const char *const *specs, size_t n)
{
    Acms__V1__Pipeline *p = acms_pb_new(a, &acms__v1__pipeline__descriptor);
    p->name = "t";
    for (size_t i = 0; i < n; i++) {
        Acms__V1__Step *s = acms_pb_new(a, &acms__v1__step__descriptor);
        const char *colon = strchr(specs[i], ':');
        s->name = acms_arena_strndup(a, specs[i], colon ? (size_t)(colon - specs[i]) : strlen(specs[i]));
        if (colon && colon[1]) {
            const char *d = colon + 1;
            while (*d) {
                size_t len = strcspn(d, ",");
                char *dep = acms_arena_strndup(a, d, len);
                acms_pb_add_string(a, &s->depends_on, &s->n_depends_on, dep);
                d += len + (d[len] == ',');
            }
        }
        p->steps = acms_arena_push(a, p->steps, &p->n_steps, sizeof *p->steps);
        p->steps[p->n_steps - 1] = s;
    }
    return p;
}

static size_t pos(const acms_dag *d, const char *name)
{
    long idx = acms_dag_index(d, name);
    for (size_t k = 0; k < d->n; k++)
        if ((long)d->order[k] == idx)
            return k;
    return (size_t)-1;
}

static void topological_order_respects_dependencies(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    const char *specs[] = {"train:prep,features", "prep:", "features:prep", "eval:train", "report:eval,prep"};
    acms_issues is;
    acms_issues_init(&is, a, "semantic");
    acms_dag *d;
    assert_int_equal(acms_dag_build(a, pipeline(a, specs, 5), &d, &is), ACMS_OK);
    assert_int_equal(is.n, 0);
    assert_true(d->acyclic);
    assert_true(pos(d, "prep") < pos(d, "features"));
    assert_true(pos(d, "features") < pos(d, "train"));
    assert_true(pos(d, "train") < pos(d, "eval"));
    assert_true(pos(d, "eval") < pos(d, "report"));
    assert_int_equal(d->depth[acms_dag_index(d, "report")], 4);
    acms_arena_free(a);
}

static void cycle_is_reported_with_its_steps(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    const char *specs[] = {"a:", "b:a,d", "c:b", "d:c", "e:a"};
    acms_issues is;
    acms_issues_init(&is, a, "semantic");
    acms_dag *d;
    assert_int_equal(acms_dag_build(a, pipeline(a, specs, 5), &d, &is), ACMS_ERR_INVALID);
    assert_false(d->acyclic);
    Acms__V1__ValidationIssue *c = acms_issues_find(&is, "DAG_CYCLE");
    assert_non_null(c);
    assert_non_null(strstr(c->message, "b"));
    assert_non_null(strstr(c->message, "c"));
    assert_non_null(strstr(c->message, "d"));
    assert_null(strstr(c->message, "e ->"));
    assert_true(c->n_suggestions >= 1);
    acms_arena_free(a);
}

static void self_dependency_and_missing_dependency(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    const char *specs[] = {"prep:prep", "train:prepp"};
    acms_issues is;
    acms_issues_init(&is, a, "semantic");
    acms_dag *d;
    assert_int_equal(acms_dag_build(a, pipeline(a, specs, 2), &d, &is), ACMS_ERR_INVALID);
    assert_non_null(acms_issues_find(&is, "DAG_SELF_DEPENDENCY"));
    Acms__V1__ValidationIssue *m = acms_issues_find(&is, "DAG_MISSING_DEPENDENCY");
    assert_non_null(m);
    assert_string_equal(m->path, "spec.steps[1].depends_on[0]");
    assert_string_equal(m->suggestions[0]->patch_value, "prep");
    acms_arena_free(a);
}

static void duplicates_and_empty(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    const char *specs[] = {"x:", "x:"};
    acms_issues is;
    acms_issues_init(&is, a, "semantic");
    acms_dag *d;
    assert_int_equal(acms_dag_build(a, pipeline(a, specs, 2), &d, &is), ACMS_ERR_INVALID);
    assert_non_null(acms_issues_find(&is, "DAG_DUPLICATE_STEP"));
    acms_issues_init(&is, a, "semantic");
    assert_int_equal(acms_dag_build(a, pipeline(a, specs, 0), &d, &is), ACMS_ERR_INVALID);
    assert_non_null(acms_issues_find(&is, "DAG_EMPTY"));
    acms_arena_free(a);
}

static void critical_path_follows_weights(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    const char *specs[] = {"a:", "b:a", "c:a", "d:b,c"};
    acms_dag *d;
    assert_int_equal(acms_dag_build(a, pipeline(a, specs, 4), &d, NULL), ACMS_OK);
    double w[4] = {1, 1, 10, 1}, total;
    size_t path[4];
    size_t n = acms_dag_critical_path(d, w, path, &total);
    assert_int_equal(n, 3);
    assert_string_equal(d->names[path[0]], "a");
    assert_string_equal(d->names[path[1]], "c");
    assert_string_equal(d->names[path[2]], "d");
    assert_true(total > 11.9 && total < 12.1);
    acms_arena_free(a);
}

static void large_chain_is_linear(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    enum { N = 3000 };
    const char **specs = acms_arena_alloc(a, N * sizeof *specs);
    for (int i = 0; i < N; i++)
        specs[i] = i ? acms_arena_printf(a, "s%d:s%d", i, i - 1) : "s0:";
    acms_dag *d;
    assert_int_equal(acms_dag_build(a, pipeline(a, specs, N), &d, NULL), ACMS_OK);
    assert_int_equal(d->depth[N - 1], N - 1);
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(topological_order_respects_dependencies),
        cmocka_unit_test(cycle_is_reported_with_its_steps),
        cmocka_unit_test(self_dependency_and_missing_dependency),
        cmocka_unit_test(duplicates_and_empty),
        cmocka_unit_test(critical_path_follows_weights),
        cmocka_unit_test(large_chain_is_linear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
