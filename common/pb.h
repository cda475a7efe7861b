/* pb.h: protobuf glue. Event envelopes (EventMeta), ids, packing and size-capped decoding into an
 * arena, and helpers over the generic value tree (Acms__V1__Value).
 * Decoded messages and everything built with these helpers belong to the arena passed in. */
#ifndef ACMS_PB_H
#define ACMS_PB_H

#include "acms.h"
#include "arena.h"
#include "acms/v1/config.pb-c.h"
#include "acms/v1/events.pb-c.h"
#include "acms/v1/exec.pb-c.h"
#include "acms/v1/feedback.pb-c.h"
#include "acms/v1/meta.pb-c.h"
#include "acms/v1/monitor.pb-c.h"
#include "acms/v1/policy.pb-c.h"
#include "acms/v1/runtime.pb-c.h"
#include "acms/v1/validation.pb-c.h"
#include "acms/v1/value.pb-c.h"

#define ACMS_ID_LEN 37 /* 36 chars + NUL */

/* A random UUIDv4 into out (ACMS_ID_LEN bytes). */
void acms_id_random(char out[ACMS_ID_LEN]);
/* A deterministic id derived from a parent id and a salt (UUID-shaped, from SHA-256), so that a
 * redelivered input produces outputs with the same ids and consumers de-duplicate them. */
void acms_id_derive(char out[ACMS_ID_LEN], const char *parent, const char *salt);
/* Hex SHA-256 of data into out (65 bytes). */
void acms_sha256_hex(const void *data, size_t len, char out[65]);

/* A new EventMeta in the arena: event_id (derived from causation, run_id and salt when causation is
 * given, else random), run_id, schema version, now, source, causation, traceparent (may be NULL). */
Acms__V1__EventMeta *acms_meta_new(acms_arena *a, const char *run_id, const char *source, const char *causation_id,
                                   const char *salt, const char *traceparent);

/* Packs any message into a malloc'd buffer (*out, *len); caller frees. ACMS_OK or ACMS_ERR_NOMEM. */
int acms_pb_pack(const ProtobufCMessage *msg, uint8_t **out, size_t *len);
/* The same bytes as acms_pb_pack(&v->base, ...) for a value tree, in one pass (protobuf-c sizes
 * every nested message again at each level above it). Caller frees *out. ACMS_OK or ACMS_ERR_NOMEM. */
int acms_value_pack(const Acms__V1__Value *v, uint8_t **out, size_t *len);
/* Hex SHA-256 of the packed value tree (acms_value_pack's bytes) into out (65 bytes).
 * ACMS_OK, or ACMS_ERR_NOMEM with out "". */
int acms_value_sha256_hex(const Acms__V1__Value *v, char out[65]);

/* Sub-messages nested deeper than this are refused before protobuf-c (which recurses without a
 * limit) sees them: a document of ACMS_MAX_DEPTH levels is 3 message levels each (Value, MapValue or
 * ListValue, MapEntry), plus room for the envelope. */
#define ACMS_PB_MAX_NESTING (3 * ACMS_MAX_DEPTH + 16)

/* Decodes payload as desc into the arena. Returns the message or NULL with reason set to a static
 * string: "payload too large", "nesting too deep", "undecodable protobuf", "missing meta",
 * "unknown schema version", "invalid run_id", "invalid event_id" (keys.h: ids become key parts). */
ProtobufCMessage *acms_pb_decode(acms_arena *a, const ProtobufCMessageDescriptor *desc, const void *payload, size_t len,
                                 const char **reason);
/* --- wire-level fields (pb_wire.c) ------------------------------------------------------------ */
/* The bytes of top-level field `field` (a sub-message, string or bytes: wire type 2) of a packed
 * message, pointing into packed. ACMS_OK; ACMS_ERR_NOTFOUND when absent; ACMS_ERR_INVALID when the
 * packing is malformed, or the field has another wire type or occurs more than once. */
int acms_pb_field_bytes(const void *packed, size_t len, uint32_t field, const uint8_t **out, size_t *out_len);
/* A field given as packed bytes: a sub-message from acms_pb_field_bytes, or packed with acms_pb_pack. */
typedef struct acms_pb_raw_field {
    uint32_t field;
    const uint8_t *data;
    size_t len;
} acms_pb_raw_field;
/* Packs msg (which must leave those fields unset) followed by the n_raw fields raw (length-delimited,
 * in the order given) into a malloc'd buffer. Caller frees *out. ACMS_OK or ACMS_ERR_NOMEM. */
int acms_pb_pack_with_fields(const ProtobufCMessage *msg, const acms_pb_raw_field *raw, size_t n_raw, uint8_t **out,
                             size_t *len);

/* Packs msg with its field `field` given as fields, already packed (that field's elements with their
 * tags, as protobuf-c packs them: a message holding only that field, packed), in their place between
 * msg's lower- and higher-numbered fields: the bytes protobuf-c would pack, without packing that field
 * again. msg's own value of the field is ignored. malloc'd *out (caller frees). ACMS_OK,
 * ACMS_ERR_NOMEM, or ACMS_ERR_INVALID when msg has a required field (proto3 only: a cleared field
 * must not be packed). */
int acms_pb_pack_spliced(const ProtobufCMessage *msg, uint32_t field, const uint8_t *fields, size_t flen, uint8_t **out,
                         size_t *len);

/* The EventMeta of a decoded event message (field 1), or NULL. */
const Acms__V1__EventMeta *acms_pb_meta(const ProtobufCMessage *msg);

/* --- value tree -------------------------------------------------------------------------- */
Acms__V1__Value *acms_value_new_null(acms_arena *a);
Acms__V1__Value *acms_value_new_bool(acms_arena *a, int b);
Acms__V1__Value *acms_value_new_number(acms_arena *a, double d);
Acms__V1__Value *acms_value_new_string(acms_arena *a, const char *s);
Acms__V1__Value *acms_value_new_map(acms_arena *a);
Acms__V1__Value *acms_value_new_list(acms_arena *a);
/* Appends to a map (key copied) / list. The value is owned by the arena. */
void acms_value_map_put(acms_arena *a, Acms__V1__Value *map, const char *key, Acms__V1__Value *v);
void acms_value_list_add(acms_arena *a, Acms__V1__Value *list, Acms__V1__Value *v);
/* Lookup by key in a map (NULL if absent or not a map). */
const Acms__V1__Value *acms_value_get(const Acms__V1__Value *map, const char *key);
/* Dotted path lookup: "spec.steps.0.name" (list indexes as numbers). */
const Acms__V1__Value *acms_value_path(const Acms__V1__Value *root, const char *path);
/* Accessors: NULL / fallback when the kind differs. */
const char *acms_value_str(const Acms__V1__Value *v);
int acms_value_is(const Acms__V1__Value *v, Acms__V1__Value__KindCase kind);
/* Deep copy into another arena. */
Acms__V1__Value *acms_value_copy(acms_arena *a, const Acms__V1__Value *v);
/* Human name of a value's kind: "string", "number", "map", ... */
const char *acms_value_kind_name(const Acms__V1__Value *v);

/* Label and string-list helpers used by every service. */
void acms_pb_add_label(acms_arena *a, Acms__V1__Label ***labels, size_t *n, const char *key, const char *value);
const char *acms_pb_label(Acms__V1__Label *const *labels, size_t n, const char *key);
void acms_pb_add_string(acms_arena *a, char ***arr, size_t *n, const char *s);

/* A new message of the given descriptor in the arena, initialised with its defaults:
 *   Acms__V1__Step *s = acms_pb_new(a, &acms__v1__step__descriptor); */
void *acms_pb_new(acms_arena *a, const ProtobufCMessageDescriptor *desc);
/* A deep copy of any message into the arena, walking its descriptor: every string, bytes field,
 * repeated array, sub-message and unknown field is copied, so the copy shares nothing with m.
 * Packs to the same bytes as m (unset proto3 strings come back as "", like protobuf-c's unpack);
 * m and its sub-messages must not be NULL inside repeated fields. Returns NULL when m is NULL. */
void *acms_pb_copy(acms_arena *a, const ProtobufCMessage *m);
/* acms_pb_copy of the structure only: every sub-message and repeated array is copied, strings and
 * bytes are shared with m (same arena lifetime). For a copy that is then changed by replacing
 * pointers, never by writing into a string. */
void *acms_pb_copy_structure(acms_arena *a, const ProtobufCMessage *m);

/* Size of one element of a repeated field of type t in a protobuf-c message (its array stride). */
size_t acms_pb_elem_size(ProtobufCType t);

#endif
