/* test_pb_wire.c: a packed message's top-level field read as bytes (acms_pb_field_bytes) and a
 * message packed with such bytes as one of its fields (acms_pb_pack_with_fields), as the adapter
 * forwards the submitted document: the bytes found are the sub-message's packing; a ConfigPrepared
 * packed with them is byte-identical to one packed with the decoded document; an absent field, a
 * repeated one (protobuf would merge), a wrong wire type and every truncation are refused. A
 * RuntimeConfiguration packed with its adaptation log spliced in as already-packed bytes
 * (acms_pb_pack_spliced, as the adapter reuses the log it wrote to Redis) is byte-identical to
 * protobuf-c's packing, with fields on both sides of the log and with none after it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "doc_fixture.h"
#include "pb.h"

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

static void forwarded_document_same_bytes(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__Value *doc = (Acms__V1__Value *)parse_one(a, "examples/pipelines/churn-training.yaml");
    Acms__V1__ConfigSubmitted *cs = acms_pb_new(a, &acms__v1__config_submitted__descriptor);
    cs->meta = acms_meta_new(a, "run-1", "test", NULL, NULL, NULL);
    cs->environment = "dev";
    cs->document = doc;
    cs->source_name = "churn-training.yaml"; /* a field after the document */
    uint8_t *sub = NULL, *docb = NULL;
    size_t sublen = 0, doclen = 0;
    assert_int_equal(acms_pb_pack(&cs->base, &sub, &sublen), ACMS_OK);
    assert_int_equal(acms_pb_pack(&doc->base, &docb, &doclen), ACMS_OK);

    const uint8_t *raw = NULL;
    size_t rawlen = 0;
    assert_int_equal(acms_pb_field_bytes(sub, sublen, 3, &raw, &rawlen), ACMS_OK);
    assert_int_equal(rawlen, doclen);
    assert_memory_equal(raw, docb, doclen);
    assert_int_equal(acms_pb_field_bytes(sub, sublen, 5, &raw, &rawlen), ACMS_ERR_NOTFOUND);

    Acms__V1__ConfigPrepared *cp = acms_pb_new(a, &acms__v1__config_prepared__descriptor);
    cp->meta = cs->meta;
    cp->runtime = acms_pb_new(a, &acms__v1__runtime_configuration__descriptor);
    cp->document = doc;
    uint8_t *want = NULL, *got = NULL;
    size_t wantlen = 0, gotlen = 0;
    assert_int_equal(acms_pb_pack(&cp->base, &want, &wantlen), ACMS_OK);
    cp->document = NULL;
    assert_int_equal(acms_pb_field_bytes(sub, sublen, 3, &raw, &rawlen), ACMS_OK);
    acms_pb_raw_field f = {.field = 3, .data = raw, .len = rawlen};
    assert_int_equal(acms_pb_pack_with_fields(&cp->base, &f, 1, &got, &gotlen), ACMS_OK);
    assert_int_equal(gotlen, wantlen);
    assert_memory_equal(got, want, wantlen);

    /* every truncation is refused or finds the field whole (never reads past the end) */
    for (size_t cut = 0; cut < sublen; cut++) {
        int rc = acms_pb_field_bytes(sub, cut, 3, &raw, &rawlen);
        if (rc == ACMS_OK)
            assert_true(raw + rawlen <= sub + cut);
        else
            assert_true(rc == ACMS_ERR_INVALID || rc == ACMS_ERR_NOTFOUND);
    }
    free(sub);
    free(docb);
    free(want);
    free(got);
    acms_arena_free(a);
}

static void repeated_or_wrong_type_refused(void **state)
{
    (void)state;
    /* field 3 twice (length-delimited): protobuf merges them, so no single bytes are the value */
    const uint8_t twice[] = {0x1a, 0x02, 0x08, 0x01, 0x1a, 0x02, 0x08, 0x02};
    const uint8_t *raw = NULL;
    size_t rawlen = 0;
    assert_int_equal(acms_pb_field_bytes(twice, sizeof twice, 3, &raw, &rawlen), ACMS_ERR_INVALID);
    assert_int_equal(acms_pb_field_bytes(twice, 4, 3, &raw, &rawlen), ACMS_OK);
    assert_int_equal(rawlen, 2);
    /* field 3 as a varint */
    const uint8_t varint[] = {0x18, 0x05};
    assert_int_equal(acms_pb_field_bytes(varint, sizeof varint, 3, &raw, &rawlen), ACMS_ERR_INVALID);
    /* a length beyond the end, a group wire type, an endless varint */
    const uint8_t toolong[] = {0x1a, 0x09, 0x08};
    assert_int_equal(acms_pb_field_bytes(toolong, sizeof toolong, 3, &raw, &rawlen), ACMS_ERR_INVALID);
    const uint8_t group[] = {0x0b, 0x0c};
    assert_int_equal(acms_pb_field_bytes(group, sizeof group, 3, &raw, &rawlen), ACMS_ERR_INVALID);
    const uint8_t endless[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(acms_pb_field_bytes(endless, sizeof endless, 3, &raw, &rawlen), ACMS_ERR_INVALID);
    assert_int_equal(acms_pb_field_bytes(NULL, 0, 3, &raw, &rawlen), ACMS_ERR_NOTFOUND);
}


static Acms__V1__RuntimeConfiguration *runtime_with_log(acms_arena *a, size_t nlog)
{
    Acms__V1__RuntimeConfiguration *rc = acms_pb_new(a, &acms__v1__runtime_configuration__descriptor);
    rc->pipeline = acms_pb_new(a, &acms__v1__pipeline__descriptor);
    rc->pipeline->name = "churn";
    rc->metadata = acms_pb_new(a, &acms__v1__runtime_metadata__descriptor);
    rc->metadata->environment = "prod";
    rc->metadata->config_hash = "abc123";
    rc->adaptation_log = acms_arena_alloc(a, (nlog ? nlog : 1) * sizeof *rc->adaptation_log);
    for (size_t i = 0; i < nlog; i++) {
        Acms__V1__AdaptationRecord *r = acms_pb_new(a, &acms__v1__adaptation_record__descriptor);
        r->stage = "scaling";
        r->field = acms_arena_printf(a, "steps[%zu].resources.memory_mb", i);
        r->new_value = "2048";
        r->reason = "learned from 12 runs";
        r->safety_score = 0.5 + (double)i;
        r->applied = 1;
        rc->adaptation_log[i] = r;
    }
    rc->n_adaptation_log = nlog;
    return rc;
}

/* Packs rc whole and with its log spliced: the same bytes. */
static void assert_spliced_same(Acms__V1__RuntimeConfiguration *rc)
{
    uint8_t *want = NULL, *got = NULL, *log = NULL;
    size_t wantlen = 0, gotlen = 0, loglen = 0;
    assert_int_equal(acms_pb_pack(&rc->base, &want, &wantlen), ACMS_OK);
    Acms__V1__RuntimeConfiguration only = ACMS__V1__RUNTIME_CONFIGURATION__INIT;
    only.adaptation_log = rc->adaptation_log;
    only.n_adaptation_log = rc->n_adaptation_log;
    assert_int_equal(acms_pb_pack(&only.base, &log, &loglen), ACMS_OK);
    Acms__V1__RuntimeConfiguration rest = *rc;
    rest.adaptation_log = NULL;
    rest.n_adaptation_log = 0;
    assert_int_equal(acms_pb_pack_spliced(&rest.base, 3, log, loglen, &got, &gotlen), ACMS_OK);
    assert_int_equal(gotlen, wantlen);
    assert_memory_equal(got, want, wantlen);
    /* msg's own value of the field is ignored: the bytes given take its place */
    free(got);
    assert_int_equal(acms_pb_pack_spliced(&rc->base, 3, log, loglen, &got, &gotlen), ACMS_OK);
    assert_int_equal(gotlen, wantlen);
    assert_memory_equal(got, want, wantlen);
    assert_non_null(rc->pipeline); /* the message itself is unchanged */
    free(want);
    free(got);
    free(log);
}

static void spliced_log_same_bytes(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    Acms__V1__RuntimeConfiguration *rc = runtime_with_log(a, 5);
    assert_spliced_same(rc); /* no field after the log */
    rc->environment = acms_pb_new(a, &acms__v1__environment__descriptor);
    rc->environment->name = "prod";
    rc->environment->region = "eu-west-1";
    assert_spliced_same(rc); /* the environment (field 4) after it */
    assert_spliced_same(runtime_with_log(a, 0));
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(forwarded_document_same_bytes),
        cmocka_unit_test(repeated_or_wrong_type_refused),
        cmocka_unit_test(spliced_log_same_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
