/* pb_wire.c: a packed message's top-level fields read and written as bytes, so a service forwards
 * a sub-message it did not change (the submitted document) without packing it again.
 * Invariants: the scanner reads only the wire format (tags, varints, lengths), never past len, and
 * refuses anything malformed or a field that occurs more than once (protobuf would merge those, so
 * the bytes would not be the decoded value); the writer appends the fields after msg's own packing,
 * which decoders accept in any order (for fields numbered above all of msg's own, given in ascending
 * order, it is protobuf-c's own order: the same bytes). */
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
