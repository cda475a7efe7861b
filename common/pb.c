/* pb.c: protobuf glue: event ids, envelopes, size-capped decoding into arenas and the value tree.
 * Decoding never trusts the payload: the size is capped before protobuf-c sees it, and every event
 * must carry an EventMeta with a run id and a schema version this build understands. */
#include "pb.h"
#include "keys.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

void acms_id_random(char out[ACMS_ID_LEN])
{
    uuid_t u;
    uuid_generate_random(u);
    uuid_unparse_lower(u, out);
}

static void sha256(const void *data, size_t len, unsigned char md[32])
{
    unsigned int mdlen = 32;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
}

static void hex32(const unsigned char md[32], char out[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 15];
    }
    out[64] = '\0';
}

void acms_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    sha256(data, len, md);
    hex32(md, out);
}

void acms_id_derive(char out[ACMS_ID_LEN], const char *parent, const char *salt)
{
    unsigned char md[32];
    size_t lp = strlen(parent), ls = salt ? strlen(salt) : 0;
    char small[256];
    /* one-shot digest of parent "/" salt (an EVP_MD_CTX costs more than hashing a short id) */
    char *buf = lp + ls + 1 <= sizeof small ? small : malloc(lp + ls + 1);
    if (buf) {
        memcpy(buf, parent, lp);
        buf[lp] = '/';
        if (ls)
            memcpy(buf + lp + 1, salt, ls);
        sha256(buf, lp + ls + 1, md);
        if (buf != small)
            free(buf);
    } else {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        unsigned int mdlen = 32;
        EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
        EVP_DigestUpdate(ctx, parent, lp);
        EVP_DigestUpdate(ctx, "/", 1);
        if (salt)
            EVP_DigestUpdate(ctx, salt, ls);
        EVP_DigestFinal_ex(ctx, md, &mdlen);
        EVP_MD_CTX_free(ctx);
    }
    md[6] = (md[6] & 0x0f) | 0x50; /* version 5-style: name based */
    md[8] = (md[8] & 0x3f) | 0x80;
    uuid_unparse_lower(md, out);
}

Acms__V1__EventMeta *acms_meta_new(acms_arena *a, const char *run_id, const char *source, const char *causation_id,
                                   const char *salt, const char *traceparent)
{
    Acms__V1__EventMeta *m = acms_pb_new(a, &acms__v1__event_meta__descriptor);
    char id[ACMS_ID_LEN];
    if (causation_id && *causation_id) /* the run id is part of the name: two runs given one id stay apart */
        acms_id_derive(id, causation_id, acms_arena_printf(a, "%s\x1f%s", run_id ? run_id : "", salt ? salt : ""));
    else
        acms_id_random(id);
    m->event_id = acms_arena_strdup(a, id);
    m->run_id = acms_arena_strdup(a, run_id ? run_id : "");
    m->schema_version = ACMS_SCHEMA_VERSION;
    m->timestamp_ms = acms_now_ms();
    m->source = acms_arena_strdup(a, source ? source : "");
    m->causation_id = acms_arena_strdup(a, causation_id ? causation_id : "");
    m->traceparent = acms_arena_strdup(a, traceparent ? traceparent : "");
    return m;
}

void *acms_pb_new(acms_arena *a, const ProtobufCMessageDescriptor *desc)
{
    void *m = acms_arena_alloc_raw(a, desc->sizeof_message); /* init writes every field */
    desc->message_init(m);
    return m;
}

size_t acms_pb_elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: return sizeof(uint64_t);
    case PROTOBUF_C_TYPE_DOUBLE: return sizeof(double);
    case PROTOBUF_C_TYPE_FLOAT: return sizeof(float);
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(void *);
    default: return sizeof(uint32_t); /* int32, sint32, sfixed32, uint32, fixed32, enum */
    }
}

static void *pb_bytes_copy(acms_arena *a, const void *src, size_t n)
{
    void *d = acms_arena_alloc(a, n ? n : 1);
    if (n)
        memcpy(d, src, n);
    return d;
}

static void *pb_copy(acms_arena *a, const ProtobufCMessage *m, int share);

/* Replaces the element of field f at p (already a shallow copy) by a deep one (share: strings and
 * bytes stay shared, sub-messages are copied). */
static void pb_copy_elem(acms_arena *a, const ProtobufCFieldDescriptor *f, void *p, int share)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        char **s = p;
        if (*s) {
            if (!share)
                *s = acms_arena_strdup(a, *s);
        } else if (f->label != PROTOBUF_C_LABEL_REPEATED)
            *s = (char *)f->default_value; /* the default string itself, as unpack sets it */
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData *b = p;
        if (!share)
            b->data = b->len ? pb_bytes_copy(a, b->data, b->len) : NULL;
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        ProtobufCMessage **m = p;
        *m = pb_copy(a, *m, share);
        break;
    }
    default: break;
    }
}

void *acms_pb_copy(acms_arena *a, const ProtobufCMessage *m)
{
    return pb_copy(a, m, 0);
}

void *acms_pb_copy_structure(acms_arena *a, const ProtobufCMessage *m)
{
    return pb_copy(a, m, 1);
}

static void *pb_copy(acms_arena *a, const ProtobufCMessage *m, int share)
{
    if (!m)
        return NULL;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    ProtobufCMessage *c = pb_bytes_copy(a, m, d->sizeof_message);
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        char *member = (char *)c + f->offset;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (*(const uint32_t *)((const char *)c + f->quantifier_offset) != f->id)
                continue; /* another member of the oneof owns the storage */
        }
        if (f->label != PROTOBUF_C_LABEL_REPEATED) {
            pb_copy_elem(a, f, member, share);
            continue;
        }
        size_t n = *(const size_t *)((const char *)c + f->quantifier_offset), es = acms_pb_elem_size(f->type);
        void **arr = (void **)member;
        if (n == 0) {
            *arr = NULL;
            continue;
        }
        char *na = pb_bytes_copy(a, *arr, n * es);
        for (size_t k = 0; (!share || f->type == PROTOBUF_C_TYPE_MESSAGE) && k < n; k++)
            pb_copy_elem(a, f, na + k * es, share);
        *arr = na;
    }
    if (c->n_unknown_fields) {
        c->unknown_fields = pb_bytes_copy(a, m->unknown_fields, m->n_unknown_fields * sizeof *m->unknown_fields);
        for (unsigned k = 0; k < c->n_unknown_fields; k++)
            c->unknown_fields[k].data = pb_bytes_copy(a, m->unknown_fields[k].data, m->unknown_fields[k].len);
    } else {
        c->unknown_fields = NULL;
    }
    return c;
}

int acms_pb_pack(const ProtobufCMessage *msg, uint8_t **out, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return ACMS_ERR_NOMEM;
    *len = protobuf_c_message_pack(msg, buf);
    *out = buf;
    return ACMS_OK;
}

/* --- value tree packing ------------------------------------------------------------------
 * The same bytes protobuf-c's pack gives for a Value tree (fields in number order, oneof member
 * when set, proto3 scalars and strings only when not zero/empty, sub-messages when not NULL),
 * written back to front so every length prefix is known when it is written: one pass, no
 * get_packed_size recursion (which protobuf-c repeats at every nesting level). A tree it cannot
 * reproduce exactly (unknown fields, NULL list elements or entries) is left to protobuf-c. */

typedef struct rwriter {
    uint8_t *buf; /* written bytes are buf[pos, cap) */
    size_t cap, pos;
} rwriter;

static int rw_grow(rwriter *w, size_t n) __attribute__((noinline));
static int rw_grow(rwriter *w, size_t n)
{
    size_t used = w->cap - w->pos, nc = w->cap ? w->cap * 2 : 16384;
    while (nc - used < n)
        nc *= 2;
    uint8_t *nb = malloc(nc);
    if (!nb)
        return 0;
    if (used)
        memcpy(nb + nc - used, w->buf + w->pos, used);
    free(w->buf);
    w->buf = nb;
    w->pos = nc - used;
    w->cap = nc;
    return 1;
}

static inline int rw_room(rwriter *w, size_t n)
{
    return w->pos >= n || rw_grow(w, n);
}

static inline int rw_varint(rwriter *w, uint64_t v)
{
    if (!rw_room(w, 10))
        return 0;
    if (v < 0x80) {
        w->buf[--w->pos] = (uint8_t)v;
        return 1;
    }
    size_t n = 1;
    for (uint64_t t = v >> 7; t; t >>= 7)
        n++;
    w->pos -= n;
    uint8_t *o = w->buf + w->pos;
    for (size_t i = 0; i + 1 < n; i++, v >>= 7)
        o[i] = (uint8_t)(v | 0x80);
    o[n - 1] = (uint8_t)v;
    return 1;
}

static inline int rw_byte(rwriter *w, uint8_t b)
{
    if (!rw_room(w, 1))
        return 0;
    w->buf[--w->pos] = b;
    return 1;
}

static inline int rw_bytes(rwriter *w, const void *p, size_t n)
{
    if (!rw_room(w, n))
        return 0;
    w->pos -= n;
    memcpy(w->buf + w->pos, p, n);
    return 1;
}

/* A length-delimited field whose body is the bytes written since mark (cap - pos then). */
static inline int rw_close(rwriter *w, size_t mark, uint8_t tag)
{
    return rw_varint(w, (w->cap - w->pos) - mark) && rw_byte(w, tag);
}

static inline int rw_string(rwriter *w, const char *s, uint8_t tag)
{
    size_t mark = w->cap - w->pos;
    return rw_bytes(w, s, strlen(s)) && rw_close(w, mark, tag);
}

/* 1 written, 0 out of memory, -1 not reproducible here */
static int rw_value(rwriter *w, const Acms__V1__Value *v)
{
    size_t mark;
    int rc;
    if (v->base.n_unknown_fields)
        return -1;
    if (v->column && (!rw_varint(w, v->column) || !rw_byte(w, 0x78)))
        return 0;
    if (v->line && (!rw_varint(w, v->line) || !rw_byte(w, 0x70)))
        return 0;
    switch (v->kind_case) {
    case ACMS__V1__VALUE__KIND_NULL_VALUE: return rw_varint(w, v->null_value ? 1 : 0) && rw_byte(w, 0x08);
    case ACMS__V1__VALUE__KIND_BOOL_VALUE: return rw_varint(w, v->bool_value ? 1 : 0) && rw_byte(w, 0x10);
    case ACMS__V1__VALUE__KIND_NUMBER_VALUE: {
        uint64_t bits;
        uint8_t le[9];
        memcpy(&bits, &v->number_value, 8);
        le[0] = 0x19;
        for (int i = 0; i < 8; i++)
            le[1 + i] = (uint8_t)(bits >> (8 * i));
        return rw_bytes(w, le, 9);
    }
    case ACMS__V1__VALUE__KIND_STRING_VALUE: return !v->string_value || rw_string(w, v->string_value, 0x22);
    case ACMS__V1__VALUE__KIND_LIST_VALUE: {
        const Acms__V1__ListValue *l = v->list_value;
        if (!l)
            return 1;
        if (l->base.n_unknown_fields)
            return -1;
        mark = w->cap - w->pos;
        for (size_t i = l->n_values; i-- > 0;) {
            size_t m = w->cap - w->pos;
            if (!l->values[i])
                return -1;
            if ((rc = rw_value(w, l->values[i])) != 1 || !rw_close(w, m, 0x0a))
                return rc == 1 ? 0 : rc;
        }
        return rw_close(w, mark, 0x2a);
    }
    case ACMS__V1__VALUE__KIND_MAP_VALUE: {
        const Acms__V1__MapValue *mv = v->map_value;
        if (!mv)
            return 1;
        if (mv->base.n_unknown_fields)
            return -1;
        mark = w->cap - w->pos;
        for (size_t i = mv->n_entries; i-- > 0;) {
            const Acms__V1__MapEntry *e = mv->entries[i];
            size_t m = w->cap - w->pos;
            if (!e || e->base.n_unknown_fields)
                return -1;
            if (e->value) {
                size_t mv2 = w->cap - w->pos;
                if ((rc = rw_value(w, e->value)) != 1 || !rw_close(w, mv2, 0x12))
                    return rc == 1 ? 0 : rc;
            }
            if (e->key && *e->key && !rw_string(w, e->key, 0x0a))
                return 0;
            if (!rw_close(w, m, 0x0a))
                return 0;
        }
        return rw_close(w, mark, 0x32);
    }
    default: return 1;
    }
}

/* Packs v back to front: on 1 the bytes are (*buf)[*off, *off + *len), *buf malloc'd. */
static int value_pack(const Acms__V1__Value *v, uint8_t **buf, size_t *off, size_t *len)
{
    rwriter w = {0};
    int rc = rw_grow(&w, 1) ? rw_value(&w, v) : 0;
    if (rc != 1) {
        free(w.buf);
        return rc;
    }
    *buf = w.buf;
    *off = w.pos;
    *len = w.cap - w.pos;
    return 1;
}

int acms_value_pack(const Acms__V1__Value *v, uint8_t **out, size_t *len)
{
    uint8_t *buf;
    size_t off;
    switch (value_pack(v, &buf, &off, len)) {
    case 1:
        memmove(buf, buf + off, *len);
        *out = buf;
        return ACMS_OK;
    case 0: return ACMS_ERR_NOMEM;
    default: return acms_pb_pack(&v->base, out, len);
    }
}

int acms_value_sha256_hex(const Acms__V1__Value *v, char out[65])
{
    uint8_t *buf;
    size_t off, len;
    out[0] = '\0';
    switch (value_pack(v, &buf, &off, &len)) {
    case 1:
        acms_sha256_hex(buf + off, len, out);
        free(buf);
        return ACMS_OK;
    case 0: return ACMS_ERR_NOMEM;
    default:
        if (acms_pb_pack(&v->base, &buf, &len) != ACMS_OK)
            return ACMS_ERR_NOMEM;
        acms_sha256_hex(buf, len, out);
        free(buf);
        return ACMS_OK;
    }
}

const Acms__V1__EventMeta *acms_pb_meta(const ProtobufCMessage *msg)
{
    if (!msg)
        return NULL;
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(msg->descriptor, 1);
    if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE || f->descriptor != &acms__v1__event_meta__descriptor)
        return NULL;
    return *(const Acms__V1__EventMeta *const *)((const char *)msg + f->offset);
}

static int wire_varint(const uint8_t *p, size_t end, size_t *off, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 70 && *off < end; shift += 7) {
        uint8_t b = p[(*off)++];
        if (shift < 64)
            r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return 1;
        }
    }
    return 0;
}

/* The field numbered id of d: protobuf-c lists a message's fields by number, so where fields 1..id
 * have no gap it is fields[id - 1] (checked), else protobuf-c's search of its ranges. */
static const ProtobufCFieldDescriptor *field_of(const ProtobufCMessageDescriptor *d, uint64_t id)
{
    if (id >= 1 && id <= d->n_fields && d->fields[id - 1].id == id)
        return &d->fields[id - 1];
    return protobuf_c_message_descriptor_get_field(d, (unsigned)id);
}

/* Walks the wire format of payload as desc without recursion (protobuf-c's unpack recurses once per
 * nested message with no limit: a 40 KB chain of Values exhausts an 8 MiB stack). Returns 1 when
 * sub-messages nest deeper than ACMS_PB_MAX_NESTING, -1 when the wire format is malformed (protobuf-c
 * would refuse it too), else 0. Unknown fields and non-message fields are skipped. */
static int wire_too_deep(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t len)
{
    struct {
        const ProtobufCMessageDescriptor *d;
        size_t end;
    } st[ACMS_PB_MAX_NESTING + 1];
    size_t top = 0, off = 0;
    st[0].d = desc;
    st[0].end = len;
    for (;;) {
        while (off == st[top].end) {
            if (top == 0)
                return 0;
            top--;
        }
        size_t end = st[top].end;
        uint64_t key, v;
        if (!wire_varint(p, end, &off, &key) || (key >> 3) == 0 || (key >> 3) > UINT32_MAX)
            return -1;
        switch (key & 7) {
        case 0:
            if (!wire_varint(p, end, &off, &v))
                return -1;
            break;
        case 1:
            if (end - off < 8)
                return -1;
            off += 8;
            break;
        case 5:
            if (end - off < 4)
                return -1;
            off += 4;
            break;
        case 2: {
            if (!wire_varint(p, end, &off, &v) || v > end - off)
                return -1;
            const ProtobufCFieldDescriptor *f = field_of(st[top].d, key >> 3);
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                if (top >= ACMS_PB_MAX_NESTING)
                    return 1;
                top++;
                st[top].d = f->descriptor;
                st[top].end = off + (size_t)v;
            } else {
                off += (size_t)v;
            }
            break;
        }
        default: /* groups: not in our schema, not supported by protobuf-c */ return -1;
        }
    }
}

ProtobufCMessage *acms_pb_decode(acms_arena *a, const ProtobufCMessageDescriptor *desc, const void *payload, size_t len,
                                 const char **reason)
{
    static const char *dummy;
    if (!reason)
        reason = &dummy;
    if (len > ACMS_MAX_DECODE_BYTES) {
        *reason = "payload too large";
        return NULL;
    }
    if (len && !payload) {
        *reason = "undecodable protobuf";
        return NULL;
    }
    switch (wire_too_deep(desc, payload, len)) {
    case 1: *reason = "nesting too deep"; return NULL;
    case -1: *reason = "undecodable protobuf"; return NULL;
    default: break;
    }
    ProtobufCAllocator al = acms_arena_pb(a);
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, &al, len, payload);
    if (!m) {
        *reason = "undecodable protobuf";
        return NULL;
    }
    /* the arena owns every part of m: protobuf_c_message_free_unpacked is a no-op here */
    const Acms__V1__EventMeta *meta = acms_pb_meta(m);
    if (protobuf_c_message_descriptor_get_field(desc, 1) &&
        protobuf_c_message_descriptor_get_field(desc, 1)->descriptor == &acms__v1__event_meta__descriptor) {
        if (!meta || !meta->event_id || !*meta->event_id || !meta->run_id || !*meta->run_id) {
            *reason = "missing meta (event_id and run_id are required)";
            return NULL;
        }
        if (meta->schema_version != ACMS_SCHEMA_VERSION) {
            *reason = "unknown schema version";
            return NULL;
        }
        if (acms_id_problem(meta->run_id)) {
            *reason = "invalid run_id (letters, digits, '.', '_' and '-', at most 128 characters)";
            return NULL;
        }
        if (acms_id_problem(meta->event_id)) {
            *reason = "invalid event_id (letters, digits, '.', '_' and '-', at most 128 characters)";
            return NULL;
        }
    }
    *reason = NULL;
    return m;
}

/* --- value tree ---------------------------------------------------------------------------- */

static Acms__V1__Value *value_new(acms_arena *a, Acms__V1__Value__KindCase k)
{
    Acms__V1__Value *v = acms_pb_new(a, &acms__v1__value__descriptor);
    v->kind_case = k;
    return v;
}

Acms__V1__Value *acms_value_new_null(acms_arena *a)
{
    Acms__V1__Value *v = value_new(a, ACMS__V1__VALUE__KIND_NULL_VALUE);
    v->null_value = 1;
    return v;
}

Acms__V1__Value *acms_value_new_bool(acms_arena *a, int b)
{
    Acms__V1__Value *v = value_new(a, ACMS__V1__VALUE__KIND_BOOL_VALUE);
    v->bool_value = b != 0;
    return v;
}

Acms__V1__Value *acms_value_new_number(acms_arena *a, double d)
{
    Acms__V1__Value *v = value_new(a, ACMS__V1__VALUE__KIND_NUMBER_VALUE);
    v->number_value = d;
    return v;
}

Acms__V1__Value *acms_value_new_string(acms_arena *a, const char *s)
{
    Acms__V1__Value *v = value_new(a, ACMS__V1__VALUE__KIND_STRING_VALUE);
    v->string_value = acms_arena_strdup(a, s ? s : "");
    return v;
}

Acms__V1__Value *acms_value_new_map(acms_arena *a)
{
    Acms__V1__Value *v = value_new(a, ACMS__V1__VALUE__KIND_MAP_VALUE);
    v->map_value = acms_pb_new(a, &acms__v1__map_value__descriptor);
    return v;
}

Acms__V1__Value *acms_value_new_list(acms_arena *a)
{
    Acms__V1__Value *v = value_new(a, ACMS__V1__VALUE__KIND_LIST_VALUE);
    v->list_value = acms_pb_new(a, &acms__v1__list_value__descriptor);
    return v;
}

void acms_value_map_put(acms_arena *a, Acms__V1__Value *map, const char *key, Acms__V1__Value *v)
{
    if (!map || map->kind_case != ACMS__V1__VALUE__KIND_MAP_VALUE)
        return;
    Acms__V1__MapValue *m = map->map_value;
    Acms__V1__MapEntry *e = acms_pb_new(a, &acms__v1__map_entry__descriptor);
    e->key = acms_arena_strdup(a, key);
    e->value = v;
    m->entries = acms_arena_push(a, m->entries, &m->n_entries, sizeof *m->entries);
    m->entries[m->n_entries - 1] = e;
}

void acms_value_list_add(acms_arena *a, Acms__V1__Value *list, Acms__V1__Value *v)
{
    if (!list || list->kind_case != ACMS__V1__VALUE__KIND_LIST_VALUE)
        return;
    Acms__V1__ListValue *l = list->list_value;
    l->values = acms_arena_push(a, l->values, &l->n_values, sizeof *l->values);
    l->values[l->n_values - 1] = v;
}

const Acms__V1__Value *acms_value_get(const Acms__V1__Value *map, const char *key)
{
    if (!map || map->kind_case != ACMS__V1__VALUE__KIND_MAP_VALUE || !map->map_value)
        return NULL;
    for (size_t i = 0; i < map->map_value->n_entries; i++) {
        const char *k = map->map_value->entries[i]->key;
        if (k && k[0] == key[0] && !strcmp(k, key)) /* the first byte settles most mismatches */
            return map->map_value->entries[i]->value;
    }
    return NULL;
}

const Acms__V1__Value *acms_value_path(const Acms__V1__Value *root, const char *path)
{
    const Acms__V1__Value *v = root;
    char part[256];
    while (v && path && *path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof part)
            return NULL;
        memcpy(part, path, n);
        part[n] = '\0';
        path += n + (path[n] == '.');
        if (v->kind_case == ACMS__V1__VALUE__KIND_LIST_VALUE) {
            char *end;
            unsigned long idx = strtoul(part, &end, 10);
            if (*end || !v->list_value || idx >= v->list_value->n_values)
                return NULL;
            v = v->list_value->values[idx];
        } else {
            v = acms_value_get(v, part);
        }
    }
    return v;
}

const char *acms_value_str(const Acms__V1__Value *v)
{
    return v && v->kind_case == ACMS__V1__VALUE__KIND_STRING_VALUE ? v->string_value : NULL;
}

int acms_value_is(const Acms__V1__Value *v, Acms__V1__Value__KindCase kind)
{
    return v && v->kind_case == kind;
}

Acms__V1__Value *acms_value_copy(acms_arena *a, const Acms__V1__Value *v)
{
    if (!v)
        return NULL;
    Acms__V1__Value *c = NULL;
    switch (v->kind_case) {
    case ACMS__V1__VALUE__KIND_BOOL_VALUE: c = acms_value_new_bool(a, v->bool_value); break;
    case ACMS__V1__VALUE__KIND_NUMBER_VALUE: c = acms_value_new_number(a, v->number_value); break;
    case ACMS__V1__VALUE__KIND_STRING_VALUE: c = acms_value_new_string(a, v->string_value); break;
    case ACMS__V1__VALUE__KIND_LIST_VALUE:
        c = acms_value_new_list(a);
        for (size_t i = 0; v->list_value && i < v->list_value->n_values; i++)
            acms_value_list_add(a, c, acms_value_copy(a, v->list_value->values[i]));
        break;
    case ACMS__V1__VALUE__KIND_MAP_VALUE:
        c = acms_value_new_map(a);
        for (size_t i = 0; v->map_value && i < v->map_value->n_entries; i++)
            acms_value_map_put(a, c, v->map_value->entries[i]->key,
                               acms_value_copy(a, v->map_value->entries[i]->value));
        break;
    default: c = acms_value_new_null(a); break;
    }
    c->line = v->line;
    c->column = v->column;
    return c;
}

const char *acms_value_kind_name(const Acms__V1__Value *v)
{
    if (!v)
        return "nothing";
    switch (v->kind_case) {
    case ACMS__V1__VALUE__KIND_NULL_VALUE: return "null";
    case ACMS__V1__VALUE__KIND_BOOL_VALUE: return "boolean";
    case ACMS__V1__VALUE__KIND_NUMBER_VALUE: return "number";
    case ACMS__V1__VALUE__KIND_STRING_VALUE: return "string";
    case ACMS__V1__VALUE__KIND_LIST_VALUE: return "list";
    case ACMS__V1__VALUE__KIND_MAP_VALUE: return "map";
    default: return "null";
    }
}

void acms_pb_add_label(acms_arena *a, Acms__V1__Label ***labels, size_t *n, const char *key, const char *value)
{
    Acms__V1__Label *l = acms_pb_new(a, &acms__v1__label__descriptor);
    l->key = acms_arena_strdup(a, key);
    l->value = acms_arena_strdup(a, value ? value : "");
    *labels = acms_arena_push(a, *labels, n, sizeof **labels);
    (*labels)[*n - 1] = l;
}

const char *acms_pb_label(Acms__V1__Label *const *labels, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (labels[i]->key && !strcmp(labels[i]->key, key))
            return labels[i]->value;
    return NULL;
}

void acms_pb_add_string(acms_arena *a, char ***arr, size_t *n, const char *s)
{
    *arr = acms_arena_push(a, *arr, n, sizeof **arr);
    (*arr)[*n - 1] = acms_arena_strdup(a, s);
}
