/* acms_pb_copy deep-copies any message by walking its descriptor (the adapter puts a copy of the
 * environment profile in every RuntimeConfiguration). The copy must pack to the same bytes as the
 * original and share no memory with it: checked on every example environment, a pipeline with
 * sub-messages and repeated fields, value trees (oneof members), unset strings and unknown fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "doc_fixture.h"
#include "pb.h"

static void same_bytes(const ProtobufCMessage *want, const ProtobufCMessage *got)
{
    uint8_t *w = NULL, *g = NULL;
    size_t wl = 0, gl = 0;
    assert_int_equal(acms_pb_pack(want, &w, &wl), ACMS_OK);
    assert_int_equal(acms_pb_pack(got, &g, &gl), ACMS_OK);
    assert_int_equal(gl, wl);
    assert_memory_equal(g, w, wl);
    free(w);
    free(g);
}

static const Acms__V1__Value *parse_one(acms_arena *a, const char *file)
{
    char path[4096], err[256];
    Acms__V1__Value **docs = NULL;
    size_t n = 0;
    assert_non_null(dfx_path(path, sizeof path, file));
    assert_int_equal(acms_doc_parse_file(a, path, &docs, &n, err, sizeof err), ACMS_OK);
    assert_int_equal(n, 1);
    return docs[0];
}

static void environments(void **state)
{
    (void)state;
    static const char *files[] = {"examples/environments/dev.yaml", "examples/environments/staging.yaml",
                                  "examples/environments/prod.yaml"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        acms_arena *a = acms_arena_new(0), *b = acms_arena_new(0);
        acms_issues is;
        acms_issues_init(&is, a, "syntax");
        Acms__V1__Environment *env = NULL;
        assert_int_equal(acms_doc_to_environment(a, parse_one(a, files[i]), &env, &is), ACMS_OK);
        Acms__V1__Environment *c = acms_pb_copy(b, &env->base);
        assert_non_null(c);
        same_bytes(&env->base, &c->base);
        /* nothing shared: the copy survives the original's arena */
        assert_ptr_not_equal(c->name, env->name);
        acms_arena_free(a);
        assert_non_null(c->name);
        assert_true(c->name[0] != '\0');
        acms_arena_free(b);
    }
}

static void pipeline_and_values(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    acms_issues is;
    acms_issues_init(&is, a, "syntax");
    const Acms__V1__Value *doc = parse_one(a, "examples/pipelines/churn-training.yaml");
    Acms__V1__Pipeline *p = NULL;
    assert_int_equal(acms_doc_to_pipeline(a, doc, &p, &is), ACMS_OK);
    assert_true(p->n_steps > 1);
    Acms__V1__Pipeline *c = acms_pb_copy(a, &p->base);
    same_bytes(&p->base, &c->base);
    assert_ptr_not_equal(c->steps, p->steps);
    assert_ptr_not_equal(c->steps[0], p->steps[0]);
    assert_string_equal(c->steps[0]->name, p->steps[0]->name);
    assert_ptr_not_equal(c->steps[0]->name, p->steps[0]->name);
    /* a value tree: every kind is a oneof member */
    Acms__V1__Value *v = acms_pb_copy(a, &doc->base);
    same_bytes(&doc->base, &v->base);
    acms_arena_free(a);
}

/* acms_pb_copy_structure: the same bytes; messages and arrays are the copy's own (replacing a step,
 * a command argument or a step's name in the copy leaves the original as it was), strings shared. */
static void structure_copy(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    acms_issues is;
    acms_issues_init(&is, a, "syntax");
    const Acms__V1__Value *doc = parse_one(a, "examples/pipelines/churn-training.yaml");
    Acms__V1__Pipeline *p = NULL, *keep = NULL;
    assert_int_equal(acms_doc_to_pipeline(a, doc, &p, &is), ACMS_OK);
    assert_true(p->n_steps > 1 && p->steps[0]->n_command > 0);
    keep = acms_pb_copy(a, &p->base);
    Acms__V1__Pipeline *c = acms_pb_copy_structure(a, &p->base);
    same_bytes(&p->base, &c->base);
    assert_ptr_equal(c->steps[0]->name, p->steps[0]->name);
    assert_ptr_not_equal(c->steps[0], p->steps[0]);
    assert_ptr_not_equal(c->steps[0]->command, p->steps[0]->command);
    c->steps[0]->name = "renamed";
    c->steps[0]->command[0] = "changed";
    c->steps[1] = c->steps[0];
    same_bytes(&keep->base, &p->base);
    acms_arena_free(a);
}

static void unset_and_unknown(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__Step *s = acms_pb_new(a, &acms__v1__step__descriptor);
    s->name = NULL; /* unset: comes back as "" (what unpack gives) */
    s->type = "";
    s->n_command = 0;
    s->command = NULL;
    Acms__V1__Step *c = acms_pb_copy(a, &s->base);
    assert_non_null(c->name);
    assert_string_equal(c->name, "");
    assert_null(c->command);
    same_bytes(&s->base, &c->base);
    /* {string_value: "a"} plus field 9 (varint 5), which this schema does not know */
    static const uint8_t wire[] = {0x22, 0x01, 'a', 0x48, 0x05};
    ProtobufCAllocator al = acms_arena_pb(a);
    Acms__V1__Value *v = acms__v1__value__unpack(&al, sizeof wire, wire);
    assert_non_null(v);
    assert_int_equal(v->base.n_unknown_fields, 1);
    Acms__V1__Value *vc = acms_pb_copy(a, &v->base);
    assert_int_equal(vc->base.n_unknown_fields, 1);
    assert_ptr_not_equal(vc->base.unknown_fields, v->base.unknown_fields);
    same_bytes(&v->base, &vc->base);
    assert_null(acms_pb_copy(a, NULL));
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(environments),
        cmocka_unit_test(pipeline_and_values),
        cmocka_unit_test(structure_copy),
        cmocka_unit_test(unset_and_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
