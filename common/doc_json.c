/* doc_json.c: value trees and protobuf messages -> cJSON, generic over protobuf-c descriptors.
 * Messages render with their proto field names, enums as names, bytes as base64, free-form Value
 * fields as plain JSON; zero scalars, empty strings/lists and unset sub-messages are omitted.
 * The caller owns every cJSON tree returned (cJSON_Delete). */
#include <stdlib.h>
#include <string.h>

#include "doc.h"

cJSON *acms_json_from_value(const Acms__V1__Value *v)
{
    cJSON *j;
    if (!v)
        return cJSON_CreateNull();
    switch (v->kind_case) {
    case ACMS__V1__VALUE__KIND_BOOL_VALUE: return cJSON_CreateBool(v->bool_value);
    case ACMS__V1__VALUE__KIND_NUMBER_VALUE: return cJSON_CreateNumber(v->number_value);
    case ACMS__V1__VALUE__KIND_STRING_VALUE: return cJSON_CreateString(v->string_value ? v->string_value : "");
    case ACMS__V1__VALUE__KIND_LIST_VALUE:
        j = cJSON_CreateArray();
        for (size_t i = 0; j && v->list_value && i < v->list_value->n_values; i++) {
            cJSON *item = acms_json_from_value(v->list_value->values[i]);
            if (!item || !cJSON_AddItemToArray(j, item)) {
                cJSON_Delete(item);
                cJSON_Delete(j);
                return NULL;
            }
        }
        return j;
    case ACMS__V1__VALUE__KIND_MAP_VALUE:
        j = cJSON_CreateObject();
        for (size_t i = 0; j && v->map_value && i < v->map_value->n_entries; i++) {
            const Acms__V1__MapEntry *e = v->map_value->entries[i];
            cJSON *item = acms_json_from_value(e->value);
            if (!item || !cJSON_AddItemToObject(j, e->key ? e->key : "", item)) {
                cJSON_Delete(item);
                cJSON_Delete(j);
                return NULL;
            }
        }
        return j;
    default: return cJSON_CreateNull();
    }
}

static char *base64(const uint8_t *data, size_t len)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t n = (uint32_t)data[i] << 16;
        if (i + 1 < len)
            n |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < len)
            n |= data[i + 2];
        *o++ = tab[(n >> 18) & 63];
        *o++ = tab[(n >> 12) & 63];
        *o++ = i + 1 < len ? tab[(n >> 6) & 63] : '=';
        *o++ = i + 2 < len ? tab[n & 63] : '=';
    }
    *o = '\0';
    return out;
}

/* One element of field f stored at p; *zero is set when it is the type's default (omitted). */
static cJSON *render_one(const ProtobufCFieldDescriptor *f, const void *p, int *zero)
{
    *zero = 0;
    switch (f->type) {
    case PROTOBUF_C_TYPE_BOOL:
        *zero = !*(const protobuf_c_boolean *)p;
        return cJSON_CreateBool(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: *zero = *(const int32_t *)p == 0; return cJSON_CreateNumber(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: *zero = *(const uint32_t *)p == 0; return cJSON_CreateNumber(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        *zero = *(const int64_t *)p == 0;
        return cJSON_CreateNumber((double)*(const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        *zero = *(const uint64_t *)p == 0;
        return cJSON_CreateNumber((double)*(const uint64_t *)p);
    case PROTOBUF_C_TYPE_FLOAT: *zero = *(const float *)p == 0; return cJSON_CreateNumber(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE: *zero = *(const double *)p == 0; return cJSON_CreateNumber(*(const double *)p);
    case PROTOBUF_C_TYPE_ENUM: {
        int v = *(const int *)p;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
        *zero = v == 0;
        return ev ? cJSON_CreateString(ev->name) : cJSON_CreateNumber(v);
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        *zero = !s || !s[0];
        return cJSON_CreateString(s ? s : "");
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        char *enc = base64(b->data, b->len);
        cJSON *j = enc ? cJSON_CreateString(enc) : NULL;
        *zero = b->len == 0;
        free(enc);
        return j;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
        *zero = m == NULL;
        if (!m)
            return cJSON_CreateNull();
        if (m->descriptor == &acms__v1__value__descriptor)
            return acms_json_from_value((const Acms__V1__Value *)m);
        return acms_json_from_message(m);
    }
    }
    return cJSON_CreateNull();
}

static int field_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    const char *base = (const char *)m;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *)(base + f->quantifier_offset) == f->id;
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_MESSAGE &&
        f->type != PROTOBUF_C_TYPE_STRING)
        return *(const protobuf_c_boolean *)(base + f->quantifier_offset) != 0;
    return 1;
}

cJSON *acms_json_from_message(const ProtobufCMessage *m)
{
    if (!m)
        return cJSON_CreateNull();
    if (m->descriptor == &acms__v1__value__descriptor)
        return acms_json_from_value((const Acms__V1__Value *)m);
    const ProtobufCMessageDescriptor *d = m->descriptor;
    cJSON *obj = cJSON_CreateObject();
    if (!obj)
        return NULL;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)m;
        cJSON *item = NULL;
        int zero = 0;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            const char *arr = *(char *const *)(base + f->offset);
            if (n == 0 || !arr)
                continue;
            item = cJSON_CreateArray();
            for (size_t k = 0; item && k < n; k++) {
                cJSON *e = render_one(f, arr + k * acms_pb_elem_size(f->type), &zero);
                if (!e || !cJSON_AddItemToArray(item, e)) {
                    cJSON_Delete(e);
                    goto fail;
                }
            }
        } else {
            if (!field_present(m, f))
                continue;
            item = render_one(f, base + f->offset, &zero);
            if (zero && !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)) {
                cJSON_Delete(item);
                continue;
            }
        }
        if (!item || !cJSON_AddItemToObject(obj, f->name, item))
            goto fail;
        continue;
    fail:
        cJSON_Delete(item);
        cJSON_Delete(obj);
        return NULL;
    }
    return obj;
}

char *acms_json_message_string(const ProtobufCMessage *m, int pretty)
{
    cJSON *j = acms_json_from_message(m);
    char *s;
    if (!j)
        return NULL;
    s = pretty ? cJSON_Print(j) : cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}
