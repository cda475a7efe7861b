/* The instance catalogue: examples/catalog.yaml loads sorted by family and size; lookups by name,
 * the next larger type of a family, the cheapest type that fits; a broken catalogue names file:line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "catalog.h"
#include "doc_fixture.h"

typedef struct fx {
    acms_arena *a;
    acms_catalog c;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    char path[PATH_MAX], err[512] = "";
    f->a = acms_arena_new(0);
    if (!dfx_path(path, sizeof path, "examples/catalog.yaml") ||
        acms_catalog_load(f->a, path, &f->c, err, sizeof err) != ACMS_OK) {
        fprintf(stderr, "catalog: %s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    acms_arena_free(f->a);
    free(f);
    return 0;
}

static void test_loaded_and_sorted(void **state)
{
    fx *f = *state;
    assert_true(f->c.n >= 39);
    for (size_t i = 1; i < f->c.n; i++) {
        const acms_instance_type *p = &f->c.types[i - 1], *t = &f->c.types[i];
        int fam = strcmp(p->family, t->family);
        assert_true(fam < 0 || (fam == 0 && p->memory_gib <= t->memory_gib));
    }
    const acms_instance_type *t = acms_catalog_find(&f->c, "ml.m5.xlarge");
    assert_non_null(t);
    assert_string_equal(t->family, "ml.m5");
    assert_true(t->vcpu == 4);
    assert_int_equal(acms_instance_memory_mb(t), 16384);
    assert_int_equal(t->gpus, 0);
    assert_string_equal(t->gpu_model, "");
    assert_true(t->price_per_hour > 0.1 && t->price_per_hour < 1);
    t = acms_catalog_find(&f->c, "ml.g4dn.12xlarge");
    assert_non_null(t);
    assert_int_equal(t->gpus, 4);
    assert_string_equal(t->gpu_model, "NVIDIA T4");
    t = acms_catalog_find(&f->c, "ml.p3.2xlarge");
    assert_non_null(t);
    assert_int_equal(acms_instance_memory_mb(t), 61 * 1024);
    assert_null(acms_catalog_find(&f->c, "ml.m5.huge"));
    assert_null(acms_catalog_find(&f->c, NULL));
}

static void test_next_larger(void **state)
{
    fx *f = *state;
    const acms_instance_type *t = acms_catalog_next_larger(&f->c, acms_catalog_find(&f->c, "ml.m5.xlarge"));
    assert_non_null(t);
    assert_string_equal(t->name, "ml.m5.2xlarge");
    t = acms_catalog_next_larger(&f->c, acms_catalog_find(&f->c, "ml.m5.4xlarge"));
    assert_string_equal(t->name, "ml.m5.12xlarge");
    t = acms_catalog_next_larger(&f->c, acms_catalog_find(&f->c, "ml.g4dn.8xlarge"));
    assert_string_equal(t->name, "ml.g4dn.12xlarge");
    t = acms_catalog_next_larger(&f->c, acms_catalog_find(&f->c, "ml.t3.medium"));
    assert_string_equal(t->name, "ml.t3.large");
    assert_null(acms_catalog_next_larger(&f->c, acms_catalog_find(&f->c, "ml.m5.24xlarge")));
    assert_null(acms_catalog_next_larger(&f->c, NULL));
    /* a copy (not a pointer into the catalogue) works too */
    acms_instance_type copy = *acms_catalog_find(&f->c, "ml.r5.large");
    assert_string_equal(acms_catalog_next_larger(&f->c, &copy)->name, "ml.r5.xlarge");
}

static void test_smallest_fit(void **state)
{
    fx *f = *state;
    const acms_instance_type *t = acms_catalog_smallest_fit(&f->c, NULL, 2, 8192, 0, NULL, 0);
    assert_non_null(t);
    assert_string_equal(t->name, "ml.t3.large"); /* cheapest with 2 vCPU and 8 GiB */
    t = acms_catalog_smallest_fit(&f->c, "ml.m5", 4, 20000, 0, NULL, 0);
    assert_string_equal(t->name, "ml.m5.2xlarge");
    t = acms_catalog_smallest_fit(&f->c, NULL, 1, 1024, 4, NULL, 0);
    assert_string_equal(t->name, "ml.g4dn.12xlarge"); /* cheapest with 4 GPUs */
    t = acms_catalog_smallest_fit(&f->c, NULL, 1, 100 * 1024, 0, NULL, 0);
    assert_string_equal(t->name, "ml.r5.4xlarge");
    char *allowed[] = {"ml.m5.large", "ml.m5.xlarge", "ml.c5.xlarge"};
    t = acms_catalog_smallest_fit(&f->c, NULL, 2, 4096, 0, allowed, 3);
    assert_string_equal(t->name, "ml.m5.large");
    t = acms_catalog_smallest_fit(&f->c, NULL, 4, 8192, 0, allowed, 3);
    assert_string_equal(t->name, "ml.c5.xlarge");
    assert_null(acms_catalog_smallest_fit(&f->c, NULL, 2, 64 * 1024, 0, allowed, 3));
    assert_null(acms_catalog_smallest_fit(&f->c, NULL, 500, 0, 0, NULL, 0));
    assert_null(acms_catalog_smallest_fit(&f->c, "ml.t3", 1, 0, 1, NULL, 0));
}

static void test_broken_catalogue(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    acms_catalog c;
    char dir[64], path[PATH_MAX], err[512];
    assert_non_null(dfx_tmpdir(dir, sizeof dir));
    assert_int_equal(dfx_write(dir, "catalog.yaml",
                               "apiVersion: acms/v1\nkind: InstanceCatalog\nspec:\n  instance_types:\n"
                               "    - {name: ml.m5.large, vcpu: 2, memory_gib: 8, price_per_hour: 0.115}\n"
                               "    - {name: ml.m5.xlarge, vcpu: four, memory_gib: 16, price_per_hour: 0.23}\n"),
                     0);
    assert_non_null(dfx_join(path, sizeof path, dir, "catalog.yaml"));
    assert_int_equal(acms_catalog_load(a, path, &c, err, sizeof err), ACMS_ERR_INVALID);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "%s:6: ml.m5.xlarge: vcpu must be a number above 0", path);
    assert_string_equal(err, want);
    assert_int_equal(dfx_write(dir, "catalog.yaml",
                               "apiVersion: acms/v1\nkind: InstanceCatalog\nspec:\n  instance_types:\n"
                               "    - {name: ml.g9.large, vcpu: 2, memory_gib: 8, gpus: 1, price_per_hour: 1}\n"),
                     0);
    assert_int_equal(acms_catalog_load(a, path, &c, err, sizeof err), ACMS_ERR_INVALID);
    assert_non_null(strstr(err, "gpu_model is required"));
    assert_int_equal(dfx_write(dir, "catalog.yaml",
                               "apiVersion: acms/v1\nkind: InstanceCatalog\nspec:\n  instance_types:\n"
                               "    - {name: ml.m5.large, vcpu: 2, memory_gib: 8, price_per_hour: 0.115}\n"
                               "    - {name: ml.m5.large, vcpu: 2, memory_gib: 8, price_per_hour: 0.115}\n"),
                     0);
    assert_int_equal(acms_catalog_load(a, path, &c, err, sizeof err), ACMS_ERR_INVALID);
    assert_non_null(strstr(err, "listed twice"));
    assert_non_null(dfx_join(path, sizeof path, dir, "missing.yaml"));
    assert_int_equal(acms_catalog_load(a, path, &c, err, sizeof err), ACMS_ERR_NOTFOUND);
    dfx_rmdir(dir);
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loaded_and_sorted),
        cmocka_unit_test(test_next_larger),
        cmocka_unit_test(test_smallest_fit),
        cmocka_unit_test(test_broken_catalogue),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
