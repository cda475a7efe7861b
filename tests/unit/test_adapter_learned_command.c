/* Learning across versions of a pipeline: a recommendation learned for a step name right-sizes the
 * step of a new version when its command is the same (or the recommendation predates command hashes),
 * and is ignored, with a refused record saying why, when the step's command changed; the optimizer's
 * runtime limit from history follows the same rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "adapter_fixture.h"
#include "config_store.h"

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

/* One ml.m5.large step running cmd, adapted for a bare environment, with a recommendation of
 * 3000 MiB and 120 s learned under learned_cmd (NULL = no hash recorded). */
typedef struct scene {
    Acms__V1__Pipeline *p;
    adapter_observed obs;
    adapter_log log;
} scene;

static void build(fx *f, scene *sc, Acms__V1__Environment *e, const char *cmd, const char *learned_cmd)
{
    sc->p = fx_pipeline(f->a, "churn");
    Acms__V1__Step *s = fx_step(f->a, sc->p, "train", "training", "ml.m5.large");
    acms_pb_add_string(f->a, &s->command, &s->n_command, "sh");
    acms_pb_add_string(f->a, &s->command, &s->n_command, "-c");
    acms_pb_add_string(f->a, &s->command, &s->n_command, cmd);
    s->max_runtime_s = 3600;
    adapter_log_init(&sc->log, f->a);
    adapter_environment_adapt(f->a, &f->pr.catalog, e, sc->p, &sc->log);
    char h[65] = "";
    if (learned_cmd) {
        char *argv[] = {"sh", "-c", (char *)learned_cmd};
        acms_store_command_hash(argv, 3, h);
    }
    sc->obs = (adapter_observed){.online = 1, .nlearned = 1};
    sc->obs.learned = acms_arena_alloc(f->a, sizeof *sc->obs.learned);
    sc->obs.learned[0] = (adapter_learned){.present = 1, .memory_mb = 3000, .runtime_s = 120, .instance_type = "",
                                           .mode = "apply", .reason = "p95", .based_on_runs = 5,
                                           .command_hash = acms_arena_strdup(f->a, h)};
}

static void run_stages(fx *f, scene *sc, Acms__V1__Environment *e)
{
    Acms__V1__CapacityPlan *plan = NULL;
    adapter_scaler_scale(f->a, &f->pr.catalog, e, sc->p, &sc->obs, &sc->log, &plan);
    adapter_optimizer_optimize(f->a, e, sc->p, &sc->obs, &sc->log);
}

static void same_command_keeps_what_was_learned(void **state)
{
    fx *f = *state;
    Acms__V1__Environment *e = fx_env(f->a, "prod");
    scene sc;
    build(f, &sc, e, "python train.py", "python train.py");
    assert_true(adapter_learned_applies(&sc.obs.learned[0], sc.p->steps[0]));
    run_stages(f, &sc, e);
    assert_int_equal(sc.p->steps[0]->resources->memory_mb, 3000);
    assert_int_equal(sc.p->steps[0]->max_runtime_s, 120);
    assert_null(fx_rec(&sc.log, "scaling", "train", "recommendation"));
}

static void unknown_hash_applies(void **state)
{
    fx *f = *state;
    Acms__V1__Environment *e = fx_env(f->a, "prod");
    scene sc;
    build(f, &sc, e, "python train.py --v2", NULL);
    run_stages(f, &sc, e);
    assert_int_equal(sc.p->steps[0]->resources->memory_mb, 3000);
}

static void changed_command_ignores_the_recommendation(void **state)
{
    fx *f = *state;
    Acms__V1__Environment *e = fx_env(f->a, "prod");
    scene sc;
    build(f, &sc, e, "python train_v2.py", "python train.py");
    assert_false(adapter_learned_applies(&sc.obs.learned[0], sc.p->steps[0]));
    uint64_t before = sc.p->steps[0]->resources->memory_mb;
    run_stages(f, &sc, e);
    assert_int_equal(sc.p->steps[0]->resources->memory_mb, before);
    assert_int_not_equal(before, 3000);
    assert_int_equal(sc.p->steps[0]->max_runtime_s, 3600);
    const Acms__V1__AdaptationRecord *r = fx_rec(&sc.log, "scaling", "train", "recommendation");
    assert_non_null(r);
    assert_false(r->applied);
    assert_non_null(strstr(r->reason, "command changed"));
    assert_null(fx_rec(&sc.log, "optimization", "train", "max_runtime_s"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_command_keeps_what_was_learned),
        cmocka_unit_test(unknown_hash_applies),
        cmocka_unit_test(changed_command_ignores_the_recommendation),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
