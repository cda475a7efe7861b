/* test_coord_trust.c: the coordinator does not trust the bus. A ConfigValidated forged by any
 * client that can write to the topic carries its own copy of the environment (wide secret scopes,
 * an attacker's worker_url, no quotas): the coordinator runs under its own profile instead, refuses
 * a run whose secret reference is outside that profile's scopes (nothing starts, nothing resolves),
 * and refuses an environment it does not know. A step without max_runtime_s gets the environment's
 * max_runtime_s quota as its limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "coordinator/coord.h"
#include "doc_fixture.h"

typedef struct fixture {
    acms_profiles prof;
    coord_ctx ctx;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char dir[PATH_MAX], err[512] = "";
    assert_non_null(dfx_path(dir, sizeof dir, "examples"));
    if (acms_profiles_load(&f->prof, dir, err, sizeof err) != ACMS_OK)
        fail_msg("%s", err);
    f->ctx.profiles = &f->prof;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    acms_profiles_release(&f->prof);
    free(f);
    return 0;
}

/* A forged runtime configuration for environment env whose one step reads ref. */
static Acms__V1__RuntimeConfiguration *forged(acms_arena *a, const char *env, const char *ref)
{
    Acms__V1__RuntimeConfiguration *rc = acms_pb_new(a, &acms__v1__runtime_configuration__descriptor);
    Acms__V1__Pipeline *p = acms_pb_new(a, &acms__v1__pipeline__descriptor);
    p->name = "churn";
    Acms__V1__Step *s = acms_pb_new(a, &acms__v1__step__descriptor);
    s->name = "steal";
    s->type = "processing";
    acms_pb_add_string(a, &s->command, &s->n_command, "true");
    Acms__V1__EnvVar *v = acms_pb_new(a, &acms__v1__env_var__descriptor);
    v->name = "LOOT";
    v->value = acms_arena_strdup(a, ref);
    s->env = acms_arena_alloc(a, sizeof *s->env);
    s->env[0] = v;
    s->n_env = 1;
    p->steps = acms_arena_alloc(a, sizeof *p->steps);
    p->steps[0] = s;
    p->n_steps = 1;
    rc->pipeline = p;
    Acms__V1__Environment *e = acms_pb_new(a, &acms__v1__environment__descriptor);
    e->name = acms_arena_strdup(a, env);
    e->executor = "http";
    e->worker_url = "http://127.0.0.1:9/steal";
    acms_pb_add_string(a, &e->secret_scopes, &e->n_secret_scopes, ref);
    rc->environment = e;
    return rc;
}

static void out_of_scope_reference_runs_nothing(void **state)
{
    fixture *f = *state;
    const char *refs[] = {"secret://env/VAULT_TOKEN", "secret://env/PROD_DB_PASSWORD", "secret://file/etc/shadow",
                          "secret://vault/kv/data/prod/db#password", "secret://file/proc/self/environ"};
    setenv("PROD_DB_PASSWORD", "must-not-resolve", 1);
    for (size_t i = 0; i < sizeof refs / sizeof *refs; i++) {
        acms_arena *a = acms_arena_new(0);
        char err[512] = "";
        coord_run *r = coord_run_new(&f->ctx, "run-forged", a, forged(a, "dev", refs[i]), "cause-1", "", err, sizeof err);
        if (r)
            fail_msg("a forged run reading %s was accepted", refs[i]);
        assert_non_null(strstr(err, "refused"));
        assert_null(strstr(err, "must-not-resolve"));
    }
    unsetenv("PROD_DB_PASSWORD");
}

static void own_profile_replaces_the_events(void **state)
{
    fixture *f = *state;
    acms_arena *a = acms_arena_new(0);
    char err[512] = "";
    coord_run *r = coord_run_new(&f->ctx, "run-ok", a, forged(a, "dev", "secret://env/DEV_TOKEN"), "cause-2", "", err,
                                 sizeof err);
    if (!r)
        fail_msg("%s", err);
    const Acms__V1__Environment *own = acms_profiles_env(&f->prof, "dev");
    assert_ptr_equal(r->env, own);
    assert_string_equal(r->env->executor, "local");  /* not the event's "http" */
    assert_true(!r->env->worker_url || !*r->env->worker_url || strcmp(r->env->worker_url, "http://127.0.0.1:9/steal"));
    assert_true(r->env->quotas && r->env->quotas->max_runtime_s == 3600);
    /* the step gives no max_runtime_s: the environment's quota is its wall-clock limit */
    assert_int_equal(r->steps[0].res.max_runtime_s, 3600);
    coord_run_free(r);
}

static void unknown_environment_refused(void **state)
{
    fixture *f = *state;
    acms_arena *a = acms_arena_new(0);
    char err[512] = "";
    coord_run *r = coord_run_new(&f->ctx, "run-x", a, forged(a, "attacker", "secret://env/DEV_TOKEN"), "cause-3", "",
                                 err, sizeof err);
    assert_null(r);
    assert_non_null(strstr(err, "not in the coordinator's configuration"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(out_of_scope_reference_runs_nothing),
        cmocka_unit_test(own_profile_replaces_the_events),
        cmocka_unit_test(unknown_environment_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
