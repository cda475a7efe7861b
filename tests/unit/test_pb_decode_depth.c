/* Decoding bounds nesting: protobuf-c's unpack recurses once per nested message, so a small payload
 * of nested Values (a ConfigSubmitted document) used to overflow the stack and kill the service that
 * decoded it. acms_pb_decode now refuses nesting deeper than ACMS_PB_MAX_NESTING ("nesting too deep",
 * the payload is dead-lettered), while the deepest document a user may write still round-trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pb.h"

/* A ConfigSubmitted whose document is `levels` nested collections (maps when maps != 0, else lists). */
static Acms__V1__ConfigSubmitted *nested(acms_arena *a, int levels, int maps)
{
    Acms__V1__ConfigSubmitted *cs = acms_pb_new(a, &acms__v1__config_submitted__descriptor);
    cs->meta = acms_meta_new(a, "run-1", "test", NULL, NULL, NULL);
    Acms__V1__Value *leaf = acms_value_new_string(a, "x");
    for (int i = 0; i < levels; i++) {
        Acms__V1__Value *c = maps ? acms_value_new_map(a) : acms_value_new_list(a);
        if (maps)
            acms_value_map_put(a, c, "k", leaf);
        else
            acms_value_list_add(a, c, leaf);
        leaf = c;
    }
    cs->document = leaf;
    return cs;
}

static size_t put_varint(uint8_t *o, uint64_t v)
{
    size_t n = 0;
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        o[n++] = b | (v ? 0x80 : 0);
    } while (v);
    return n;
}

static void deepest_user_document_round_trips(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    for (int maps = 0; maps <= 1; maps++) {
        uint8_t *buf;
        size_t len;
        assert_int_equal(acms_pb_pack(&nested(a, ACMS_MAX_DEPTH, maps)->base, &buf, &len), ACMS_OK);
        const char *reason = "unset";
        Acms__V1__ConfigSubmitted *back = (Acms__V1__ConfigSubmitted *)acms_pb_decode(
            a, &acms__v1__config_submitted__descriptor, buf, len, &reason);
        assert_non_null(back);
        assert_null(reason);
        const Acms__V1__Value *v = back->document;
        int depth = 0;
        while (v && v->kind_case != ACMS__V1__VALUE__KIND_STRING_VALUE) {
            v = maps ? v->map_value->entries[0]->value : v->list_value->values[0];
            depth++;
        }
        assert_int_equal(depth, ACMS_MAX_DEPTH);
        free(buf);
    }
    acms_arena_free(a);
}

static void one_level_too_many_is_refused(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    uint8_t *buf;
    size_t len;
    /* maps: 3 message levels each, so this passes ACMS_PB_MAX_NESTING */
    assert_int_equal(acms_pb_pack(&nested(a, ACMS_PB_MAX_NESTING / 3 + 1, 1)->base, &buf, &len), ACMS_OK);
    const char *reason = NULL;
    assert_null(acms_pb_decode(a, &acms__v1__config_submitted__descriptor, buf, len, &reason));
    assert_string_equal(reason, "nesting too deep");
    free(buf);
    acms_arena_free(a);
}

/* 100,000 nested lists in 800 KB, under the 1 MiB payload cap: this crashed the decoder (SIGSEGV,
 * stack overflow inside protobuf_c_message_unpack) before the nesting check. */
static void hostile_chain_is_refused_without_recursion(void **state)
{
    (void)state;
    const int depth = 100000;
    const ProtobufCFieldDescriptor *lv = protobuf_c_message_descriptor_get_field_by_name(&acms__v1__value__descriptor, "list_value");
    const ProtobufCFieldDescriptor *doc =
        protobuf_c_message_descriptor_get_field_by_name(&acms__v1__config_submitted__descriptor, "document");
    assert_non_null(lv);
    assert_non_null(doc);
    /* built from the inside out, back to front: each level is Value{list_value: ListValue{values: <inner>}} */
    size_t cap = 16u * (size_t)depth + 64, start = cap, inner = 0;
    uint8_t *b = malloc(cap), hdr[24];
    for (int i = 0; i < depth; i++) {
        size_t h = 0;
        h += put_varint(hdr + h, (1u << 3) | 2); /* ListValue.values */
        h += put_varint(hdr + h, inner);
        size_t l2 = h + inner, h2 = put_varint(hdr + h, ((uint64_t)lv->id << 3) | 2);
        h2 += put_varint(hdr + h + h2, l2);
        start -= h + h2;
        memcpy(b + start, hdr + h, h2);
        memcpy(b + start + h2, hdr, h);
        inner = h2 + l2;
    }
    acms_arena *a = acms_arena_new(0);
    Acms__V1__ConfigSubmitted *cs = acms_pb_new(a, &acms__v1__config_submitted__descriptor);
    cs->meta = acms_meta_new(a, "run-1", "test", NULL, NULL, NULL);
    uint8_t *head;
    size_t hl;
    assert_int_equal(acms_pb_pack(&cs->base, &head, &hl), ACMS_OK);
    uint8_t *msg = malloc(hl + 24 + inner);
    memcpy(msg, head, hl);
    size_t ml = hl;
    ml += put_varint(msg + ml, ((uint64_t)doc->id << 3) | 2);
    ml += put_varint(msg + ml, inner);
    memcpy(msg + ml, b + start, inner);
    ml += inner;
    assert_true(ml < ACMS_MAX_MESSAGE_BYTES);
    const char *reason = NULL;
    assert_null(acms_pb_decode(a, &acms__v1__config_submitted__descriptor, msg, ml, &reason));
    assert_string_equal(reason, "nesting too deep");
    /* truncated: malformed, refused the same way protobuf-c would refuse it */
    assert_null(acms_pb_decode(a, &acms__v1__config_submitted__descriptor, msg, hl + 3, &reason));
    assert_string_equal(reason, "undecodable protobuf");
    free(msg);
    free(head);
    free(b);
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(deepest_user_document_round_trips),
        cmocka_unit_test(one_level_too_many_is_refused),
        cmocka_unit_test(hostile_chain_is_refused_without_recursion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
