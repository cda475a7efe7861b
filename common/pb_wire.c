/* pb_wire.c: a packed message's top-level fields read and written as bytes, so a service forwards
 * a sub-message it did not change (the submitted document) without packing it again.
 * Invariants: the scanner reads only the wire format (tags, varints, lengths), never past len, and
 * refuses anything malformed or a field that occurs more than once (protobuf would merge those, so
 * the bytes would not be the decoded value); the writer appends the fields after msg's own packing,
 * which decoders accept in any order (for fields numbered above all of msg's own, given in ascending
 * order, it is protobuf-c's own order: the same bytes); a spliced field goes between shallow copies
 * of msg holding the fields numbered below it and above it, which is protobuf-c's order too. */
#include "pb.h"

#include <stdlib.h>
#include <string.h>

static int wire_varint(const uint8_t *p, size_t len, size_t *at, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*at >= len)
            return 0;
        uint8_t b = p[(*at)++];
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return 1;
        }
    }
    return 0;
}

/* Skips the value of a field of wire type wt at *at; 0 when malformed or truncated. */
static int wire_skip(const uint8_t *p, size_t len, size_t *at, unsigned wt)
{
    uint64_t v;
    switch (wt) {
    case 0: return wire_varint(p, len, at, &v);
    case 1: return len - *at >= 8 ? (*at += 8, 1) : 0;
    case 5: return len - *at >= 4 ? (*at += 4, 1) : 0;
    case 2:
        if (!wire_varint(p, len, at, &v) || v > len - *at)
            return 0;
        *at += (size_t)v;
        return 1;
    default: return 0; /* groups (3, 4) are not used by our schema */
    }
}

int acms_pb_field_bytes(const void *packed, size_t len, uint32_t field, const uint8_t **out, size_t *out_len)
{
    const uint8_t *p = packed;
    size_t at = 0, found = 0;
    *out = NULL;
    *out_len = 0;
    while (at < len) {
        uint64_t key;
        if (!wire_varint(p, len, &at, &key))
            return ACMS_ERR_INVALID;
        unsigned wt = (unsigned)(key & 7);
        size_t start = at;
        if (!wire_skip(p, len, &at, wt))
            return ACMS_ERR_INVALID;
        if ((key >> 3) != field)
            continue;
        if (wt != 2 || found++)
            return ACMS_ERR_INVALID;
        uint64_t n = 0;
        (void)wire_varint(p, len, &start, &n); /* read again: wire_skip checked it */
        *out = p + start;
        *out_len = (size_t)n;
    }
    return found ? ACMS_OK : ACMS_ERR_NOTFOUND;
}

static size_t put_varint(uint8_t *d, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        d[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    d[n++] = (uint8_t)v;
    return n;
}

int acms_pb_pack_with_fields(const ProtobufCMessage *msg, const acms_pb_raw_field *raw, size_t n_raw, uint8_t **out,
                             size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(msg), extra = 0;
    for (size_t i = 0; i < n_raw; i++)
        extra += 20 + raw[i].len;
    uint8_t *buf = malloc(n + extra + 1);
    if (!buf)
        return ACMS_ERR_NOMEM;
    size_t at = protobuf_c_message_pack(msg, buf);
    for (size_t i = 0; i < n_raw; i++) {
        at += put_varint(buf + at, ((uint64_t)raw[i].field << 3) | 2);
        at += put_varint(buf + at, raw[i].len);
        if (raw[i].len)
            memcpy(buf + at, raw[i].data, raw[i].len);
        at += raw[i].len;
    }
    *out = buf;
    *len = at;
    return ACMS_OK;
}

/* Clears field f of the shallow copy m: no elements, or its zero value (which proto3 does not pack).
 * 0, or -1 for a required field (always packed). */
static int field_clear(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    char *base = (char *)m;
    if (f->label == PROTOBUF_C_LABEL_REQUIRED)
        return -1;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *which = (uint32_t *)(base + f->quantifier_offset);
        if (*which == f->id)
            *which = 0;
        return 0;
    }
    if (f->label == PROTOBUF_C_LABEL_REPEATED || (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset))
        memset(base + f->quantifier_offset, 0,
               f->label == PROTOBUF_C_LABEL_REPEATED ? sizeof(size_t) : sizeof(protobuf_c_boolean));
    if (f->label != PROTOBUF_C_LABEL_REPEATED)
        memset(base + f->offset, 0, acms_pb_elem_size(f->type));
    return 0;
}

/* A shallow copy of msg (malloc'd) with its fields numbered in [lo, hi] cleared, unknown fields
 * kept only when keep_unknown (protobuf-c packs them last). NULL when out of memory or invalid. */
static ProtobufCMessage *copy_without(const ProtobufCMessage *msg, uint32_t lo, uint32_t hi, int keep_unknown)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    ProtobufCMessage *m = malloc(d->sizeof_message);
    if (!m)
        return NULL;
    memcpy(m, msg, d->sizeof_message);
    if (!keep_unknown) {
        m->n_unknown_fields = 0;
        m->unknown_fields = NULL;
    }
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->id >= lo && f->id <= hi && field_clear(m, f) != 0) {
            free(m);
            return NULL;
        }
    }
    return m;
}

int acms_pb_pack_spliced(const ProtobufCMessage *msg, uint32_t field, const uint8_t *fields, size_t flen, uint8_t **out,
                         size_t *len)
{
    ProtobufCMessage *below = copy_without(msg, field, UINT32_MAX, 0), *above = copy_without(msg, 0, field, 1);
    uint8_t *buf = NULL;
    int rc = below && above ? ACMS_ERR_NOMEM : ACMS_ERR_INVALID;
    if (!below || !above)
        goto out;
    size_t nb = protobuf_c_message_get_packed_size(below), na = protobuf_c_message_get_packed_size(above);
    buf = malloc(nb + flen + na + 1);
    if (!buf)
        goto out;
    size_t at = protobuf_c_message_pack(below, buf);
    if (flen)
        memcpy(buf + at, fields, flen);
    at += flen;
    at += protobuf_c_message_pack(above, buf + at);
    *out = buf;
    *len = at;
    rc = ACMS_OK;
out:
    free(below);
    free(above);
    return rc;
}
