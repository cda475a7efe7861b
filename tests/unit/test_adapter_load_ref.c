/* load_for_execution (services/adapter/load_ref.c) over the configuration store's HTTP backend and a
 * loopback storage service: a reference id@N prepares exactly version N and id the latest, the
 * runtime metadata names the exact id@version and the stored content hash, the environment is the
 * context asked for, a pinned reference keeps a redelivered "latest" on its version, the output is
 * deterministic, and every unresolvable reference is an explained rejection (not found with a
 * suggestion, malformed, ambiguous, corrupt) while an unreachable store is a retry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "adapter_fixture.h"
#include "store_fixture.h"

#define TS 1764086400000LL

typedef struct fx {
    acms_profiles pr;
    adapter_ctx ctx;
    fx_srv *srv;
    acms_store *st;
    char v1[1024], v2[1024];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    char err[256] = "";
    if (fx_profiles(&f->pr) != ACMS_OK || !(f->srv = fx_srv_start()))
        return -1;
    f->ctx.profiles = &f->pr;
    f->st = acms_store_open(f->srv->base, NULL, err, sizeof err);
    if (!f->st)
        return -1;
    acms_arena *a = acms_arena_new(0);
    acms_store_doc *d;
    int created;
    fx_pipeline_text(f->v1, sizeof f->v1, "mark", "v1");
    fx_pipeline_text(f->v2, sizeof f->v2, "mark", "v2");
    int rc = acms_store_put(f->st, a, f->v1, strlen(f->v1), &d, &created, err, sizeof err);
    if (rc == ACMS_OK)
        rc = acms_store_put(f->st, a, f->v2, strlen(f->v2), &d, &created, err, sizeof err);
    acms_arena_free(a);
    if (rc != ACMS_OK) {
        fprintf(stderr, "put: %s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    acms_store_close(f->st);
    fx_srv_stop(f->srv);
    acms_profiles_release(&f->pr);
    free(f);
    return 0;
}

typedef struct outcome {
    int rc;
    Acms__V1__ConfigSubmitted *resolved;
    Acms__V1__RuntimeConfiguration *out;
    adapter_resolved r;
    acms_issues issues;
} outcome;

static void load(fx *f, acms_arena *a, acms_store *st, const char *env, const char *ref, const char *pinned,
                 outcome *o)
{
    Acms__V1__ConfigSubmitted *in = fx_submitted(a, env, NULL, TS);
    in->config_ref = (char *)ref;
    in->source_name = "";
    acms_issues_init(&o->issues, a, "environment");
    o->rc = adapter_load_for_execution(&f->ctx, st, a, in, pinned, &o->resolved, &o->out, &o->r, &o->issues);
}

static const char *command_of(const Acms__V1__RuntimeConfiguration *rc)
{
    const Acms__V1__Step *s = rc->pipeline->steps[0];
    return s->n_command ? s->command[s->n_command - 1] : "";
}

static void exact_version_and_latest(void **state)
{
    fx *f = *state;
    acms_arena *a = acms_arena_new(0);
    outcome o;
    char h1[65], h2[65];
    acms_store_hash(f->v1, strlen(f->v1), h1);
    acms_store_hash(f->v2, strlen(f->v2), h2);

    load(f, a, f->st, "dev", "mark@1", NULL, &o);
    assert_int_equal(o.rc, ACMS_OK);
    assert_string_equal(o.out->metadata->config_ref, "mark@1");
    assert_string_equal(o.out->metadata->config_hash, h1);
    assert_string_equal(o.out->metadata->environment, "dev");
    assert_string_equal(o.out->metadata->source_name, "mark@1");
    assert_string_equal(command_of(o.out), "echo v1 > marker");
    assert_non_null(o.resolved->document);
    assert_string_equal(o.resolved->config_ref, "mark@1");
    assert_string_equal(f->srv->last_context, "dev");

    load(f, a, f->st, "prod", "mark", NULL, &o);
    assert_int_equal(o.rc, ACMS_OK);
    assert_string_equal(o.out->metadata->config_ref, "mark@2");
    assert_string_equal(o.out->metadata->config_hash, h2);
    assert_string_equal(command_of(o.out), "echo v2 > marker");
    assert_string_equal(o.r.ref, "mark@2");
    assert_string_equal(o.r.requested, "mark");
    assert_string_equal(f->srv->last_context, "prod");

    load(f, a, f->st, "dev", "mark@latest", NULL, &o);
    assert_string_equal(o.out->metadata->config_ref, "mark@2");
    acms_arena_free(a);
}

static void pinned_latest_keeps_its_version(void **state)
{
    fx *f = *state;
    acms_arena *a = acms_arena_new(0);
    outcome o;
    load(f, a, f->st, "dev", "mark", "mark@1", &o);
    assert_int_equal(o.rc, ACMS_OK);
    assert_string_equal(o.out->metadata->config_ref, "mark@1");
    load(f, a, f->st, "dev", "mark", "other@1", &o); /* another id: no pin */
    assert_string_equal(o.out->metadata->config_ref, "mark@2");
    load(f, a, f->st, "dev", "mark@2", "mark@1", &o); /* an explicit version wins */
    assert_string_equal(o.out->metadata->config_ref, "mark@2");
    acms_arena_free(a);
}

static void deterministic(void **state)
{
    fx *f = *state;
    acms_arena *a = acms_arena_new(0);
    outcome x, y;
    load(f, a, f->st, "dev", "mark@2", NULL, &x);
    load(f, a, f->st, "dev", "mark@2", NULL, &y);
    assert_int_equal(x.rc, ACMS_OK);
    uint8_t *bx, *by;
    size_t lx, ly;
    assert_int_equal(acms_pb_pack(&x.out->base, &bx, &lx), ACMS_OK);
    assert_int_equal(acms_pb_pack(&y.out->base, &by, &ly), ACMS_OK);
    assert_int_equal(lx, ly);
    assert_memory_equal(bx, by, lx);
    free(bx);
    free(by);
    acms_arena_free(a);
}

static const Acms__V1__ValidationIssue *only_error(const outcome *o, const char *code)
{
    assert_int_equal(o->rc, ACMS_ERR_INVALID);
    assert_null(o->out);
    const Acms__V1__ValidationIssue *is = acms_issues_find(&o->issues, code);
    if (!is)
        fail_msg("no %s issue (first: %s)", code, o->issues.n ? o->issues.v[0]->code : "none");
    assert_string_equal(is->severity, "error");
    if (!strncmp(code, "CONFIG_REF_", 11))
        assert_string_equal(is->path, "config_ref");
    return is;
}

static void missing_references_are_explained(void **state)
{
    fx *f = *state;
    acms_arena *a = acms_arena_new(0);
    outcome o;
    load(f, a, f->st, "dev", "mark@7", NULL, &o);
    const Acms__V1__ValidationIssue *is = only_error(&o, "CONFIG_REF_NOT_FOUND");
    assert_non_null(strstr(is->message, "'mark@7'"));
    assert_int_equal(is->n_suggestions, 1);
    assert_string_equal(is->suggestions[0]->patch_value, "mark@2");
    assert_string_equal(o.r.id, "mark");
    assert_string_equal(o.r.ref, "");

    load(f, a, f->st, "dev", "mrak@1", NULL, &o);
    is = only_error(&o, "CONFIG_REF_NOT_FOUND");
    assert_int_equal(is->n_suggestions, 1);
    assert_string_equal(is->suggestions[0]->patch_value, "mark");

    load(f, a, f->st, "dev", "zzzzzzzzzz", NULL, &o);
    is = only_error(&o, "CONFIG_REF_NOT_FOUND");
    assert_string_equal(is->suggestions[0]->id, "put-config");

    load(f, a, f->st, "dev", "mark@two", NULL, &o);
    only_error(&o, "CONFIG_REF_INVALID");

    Acms__V1__ConfigSubmitted *in = fx_submitted(a, "dev", fx_doc(a, f->v1), TS);
    in->config_ref = "mark@1";
    acms_issues_init(&o.issues, a, "environment");
    o.rc = adapter_load_for_execution(&f->ctx, f->st, a, in, NULL, &o.resolved, &o.out, &o.r, &o.issues);
    only_error(&o, "CONFIG_REF_AMBIGUOUS");

    load(f, a, NULL, "dev", "mark@1", NULL, &o);
    only_error(&o, "CONFIG_REF_UNAVAILABLE");

    f->srv->corrupt = 1;
    load(f, a, f->st, "dev", "mark@1", NULL, &o);
    f->srv->corrupt = 0;
    is = only_error(&o, "CONFIG_REF_UNREADABLE");
    assert_non_null(strstr(is->message, "corrupt"));

    load(f, a, f->st, "nowhere", "mark@1", NULL, &o); /* resolved, then the environment is unknown */
    only_error(&o, "UNKNOWN_ENVIRONMENT");
    assert_string_equal(o.r.ref, "mark@1");
    assert_int_equal(strlen(o.r.hash), 64);
    acms_arena_free(a);
}

static void unreachable_store_is_a_retry(void **state)
{
    fx *f = *state;
    acms_arena *a = acms_arena_new(0);
    char base[64], err[128];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", fx_dead_port());
    acms_store *dead = acms_store_open(base, NULL, err, sizeof err);
    outcome o;
    load(f, a, dead, "dev", "mark@1", NULL, &o);
    assert_int_equal(o.rc, ACMS_ERR_RETRY);
    assert_int_equal(o.issues.n, 0);
    acms_store_close(dead);
    acms_arena_free(a);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exact_version_and_latest),
        cmocka_unit_test(pinned_latest_keeps_its_version),
        cmocka_unit_test(deterministic),
        cmocka_unit_test(missing_references_are_explained),
        cmocka_unit_test(unreachable_store_is_a_retry),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
