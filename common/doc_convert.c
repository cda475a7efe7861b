/* doc_convert.c: value trees -> typed messages (Pipeline, Environment, Policy), driven by the
 * protobuf-c descriptors: a document key is a proto field name. Every problem becomes an issue with
 * a stable code, a path (spec.steps[1].instance_count) and the node's line/column; conversion goes
 * on after an issue so one pass reports them all, and the partial message is always returned.
 * Paths are built only when an issue is reported (a chain of vpath links on the stack meanwhile). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"

#define API_VERSION "acms/v1"

typedef struct conv {
    acms_arena *a;
    acms_issues *is;
} conv;

/* Fields a document may not set, and where they belong instead (moved_to: a patch path or NULL).
 * The rules of one message are adjacent (rules_of returns them as one run). */
typedef struct field_rule {
    const ProtobufCMessageDescriptor *desc;
    const char *field;
    const char *why;
    const char *moved_to;
} field_rule;

static const field_rule field_rules[] = {
    {&acms__v1__step__descriptor, "line", "is set from the step's position in the file", NULL},
    {&acms__v1__step__descriptor, "resources", "is filled by the adapter (request memory_mb or vcpu instead)", NULL},
    {&acms__v1__vpc_config__descriptor, "set", "is set automatically when vpc_config is present", NULL},
    {&acms__v1__sizing__descriptor, "input_value",
     "is filled by the adapter from the sizing input (declare input: an env var or --parameter, or input_size_bytes)",
     NULL},
    {&acms__v1__sizing__descriptor, "input_source", "is filled by the adapter from the sizing input", NULL},
    {&acms__v1__pipeline__descriptor, "api_version", "belongs at the top of the document", "apiVersion"},
    {&acms__v1__pipeline__descriptor, "name", "belongs in metadata", "metadata.name"},
    {&acms__v1__pipeline__descriptor, "labels", "belongs in metadata", "metadata.labels"},
    {&acms__v1__environment__descriptor, "name", "belongs in metadata", "metadata.name"},
    {&acms__v1__policy__descriptor, "name", "belongs in metadata", "metadata.name"},
};

/* Two-string messages a document may also write as a map {first: second}. */
typedef struct pair_form {
    const ProtobufCMessageDescriptor *desc;
    const char *first, *second;
} pair_form;

static const pair_form pair_forms[] = {
    {&acms__v1__label__descriptor, "key", "value"},
    {&acms__v1__env_var__descriptor, "name", "value"},
    {&acms__v1__instance_mapping__descriptor, "from", "to"},
    {&acms__v1__path_rewrite__descriptor, "from_prefix", "to_prefix"},
};

/* The run of rules for d (*n of them; none: *n = 0). */
static const field_rule *rules_of(const ProtobufCMessageDescriptor *d, size_t *n)
{
    size_t total = sizeof field_rules / sizeof field_rules[0], i = 0, k = 0;
    while (i < total && field_rules[i].desc != d)
        i++;
    while (i + k < total && field_rules[i + k].desc == d)
        k++;
    *n = k;
    return k ? &field_rules[i] : NULL;
}

/* The rule among rules[0..n) for field name, or NULL. */
static const field_rule *find_rule(const field_rule *rules, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (rules[i].field[0] == name[0] && strcmp(rules[i].field, name) == 0)
            return &rules[i];
    return NULL;
}

static const pair_form *find_pair(const ProtobufCMessageDescriptor *d)
{
    for (size_t i = 0; i < sizeof pair_forms / sizeof pair_forms[0]; i++)
        if (pair_forms[i].desc == d)
            return &pair_forms[i];
    return NULL;
}

/* --- small helpers ------------------------------------------------------------------------- */

static const char *kind_article(const Acms__V1__Value *v)
{
    switch (v ? v->kind_case : ACMS__V1__VALUE__KIND__NOT_SET) {
    case ACMS__V1__VALUE__KIND_BOOL_VALUE: return "a boolean";
    case ACMS__V1__VALUE__KIND_NUMBER_VALUE: return "a number";
    case ACMS__V1__VALUE__KIND_STRING_VALUE: return "a string";
    case ACMS__V1__VALUE__KIND_LIST_VALUE: return "a list";
    case ACMS__V1__VALUE__KIND_MAP_VALUE: return "a map";
    default: return "null";
    }
}

static int is_kind(const Acms__V1__Value *v, Acms__V1__Value__KindCase k)
{
    return v && v->kind_case == k;
}

static int is_null(const Acms__V1__Value *v)
{
    return !v || v->kind_case == ACMS__V1__VALUE__KIND__NOT_SET || v->kind_case == ACMS__V1__VALUE__KIND_NULL_VALUE;
}

/* Where a node is, as links to its parent: rendered ("spec.steps[1].name") only for an issue. */
typedef struct vpath {
    const struct vpath *up; /* NULL at the top */
    const char *key;        /* ".key" ("key" at the top); NULL: "[index]" */
    size_t index;
} vpath;

/* The path as text in the arena; "" for NULL (the document itself). */
static const char *path_str(conv *c, const vpath *p)
{
    if (!p)
        return "";
    const char *up = path_str(c, p->up);
    if (!p->key)
        return acms_arena_printf(c->a, "%s[%zu]", up, p->index);
    return up[0] ? acms_arena_printf(c->a, "%s.%s", up, p->key) : p->key;
}

static const char *key_path(conv *c, const vpath *path, const char *key)
{
    vpath k = {path, key, 0};
    return path_str(c, &k);
}

/* A scalar as text (numbers without trailing zeros), or NULL for lists and maps. */
static char *scalar_text(conv *c, const Acms__V1__Value *v)
{
    switch (v ? v->kind_case : ACMS__V1__VALUE__KIND__NOT_SET) {
    case ACMS__V1__VALUE__KIND_STRING_VALUE: return v->string_value;
    case ACMS__V1__VALUE__KIND_NUMBER_VALUE: return acms_arena_printf(c->a, "%.15g", v->number_value);
    case ACMS__V1__VALUE__KIND_BOOL_VALUE: return v->bool_value ? "true" : "false";
    case ACMS__V1__VALUE__KIND_NULL_VALUE: return "";
    default: return NULL;
    }
}

/* Lower-case with '_' and '-' dropped: "instanceType" and "instance-type" meet "instance_type". */
static void squash(const char *s, char *out, size_t size)
{
    size_t n = 0;
    for (; *s && n + 1 < size; s++)
        if (*s != '_' && *s != '-')
            out[n++] = (char)tolower((unsigned char)*s);
    out[n] = '\0';
}

/* The candidate closest to key (same words in another case, or within 2 edits; 3 for long keys),
 * with its confidence; NULL when nothing is close enough to be a typo. */
static const char *closest(const char *key, const char *const *names, size_t n, double *confidence)
{
    char k[128], cand[128];
    const char *best = NULL;
    size_t best_d = (size_t)-1, klen = strlen(key);
    size_t allowed = klen >= 10 ? 3 : 2;
    squash(key, k, sizeof k);
    for (size_t i = 0; i < n; i++) {
        squash(names[i], cand, sizeof cand);
        size_t d = strcmp(k, cand) == 0 ? 0 : acms_edit_distance(key, names[i], allowed);
        if (d < best_d) {
            best_d = d;
            best = names[i];
        }
    }
    if (!best || best_d > allowed || (best_d > 0 && best_d * 2 > klen))
        return NULL;
    *confidence = best_d == 0 ? 0.95 : best_d == 1 ? 0.9 : best_d == 2 ? 0.75 : 0.6;
    return best;
}

/* Reports key as unknown among names, with a "did you mean" when one is close. */
static void unknown_key(conv *c, const vpath *parent, const char *key, const Acms__V1__Value *v,
                        const char *const *names, size_t n)
{
    double conf = 0;
    const char *path = key_path(c, parent, key);
    Acms__V1__ValidationIssue *iss = acms_issue_add(c->is, "UNKNOWN_FIELD", "error", path, v, "unknown field '%s'",
                                                    key);
    const char *near = closest(key, names, n, &conf);
    if (near)
        acms_issue_suggest(c->is, iss, "UNKNOWN_FIELD:rename", "pattern", conf, key_path(c, parent, near),
                           scalar_text(c, v), "did you mean '%s'?", near);
}

static void unknown_field(conv *c, const ProtobufCMessageDescriptor *d, const vpath *parent, const char *key,
                          const Acms__V1__Value *v)
{
    const char **names = acms_arena_alloc(c->a, (d->n_fields + 1) * sizeof *names);
    size_t n = 0, nrules;
    const field_rule *rules = rules_of(d, &nrules);
    for (unsigned i = 0; i < d->n_fields; i++)
        if (!find_rule(rules, nrules, d->fields[i].name))
            names[n++] = d->fields[i].name;
    unknown_key(c, parent, key, v, names, n);
}

/* --- scalars ------------------------------------------------------------------------------- */

static int as_number(conv *c, const Acms__V1__Value *v, const vpath *path, double *out)
{
    if (is_kind(v, ACMS__V1__VALUE__KIND_NUMBER_VALUE)) {
        *out = v->number_value;
        return 0;
    }
    Acms__V1__ValidationIssue *iss = acms_issue_add(c->is, "TYPE_MISMATCH", "error", path_str(c, path), v,
                                                    "expected a number, got %s", kind_article(v));
    if (is_kind(v, ACMS__V1__VALUE__KIND_STRING_VALUE)) {
        char *end = NULL;
        double d = strtod(v->string_value, &end);
        if (v->string_value[0] && end && *end == '\0' && isfinite(d))
            acms_issue_suggest(c->is, iss, "TYPE_MISMATCH:unquote-number", "pattern", 0.9, path_str(c, path),
                               v->string_value, "write %s without quotes", v->string_value);
    }
    return -1;
}

/* A whole number within [min, max] (max exclusive when max_excl). */
static int as_integer(conv *c, const Acms__V1__Value *v, const vpath *path, double min, double max, int max_excl,
                      double *out)
{
    double d;
    if (as_number(c, v, path, &d) != 0)
        return -1;
    if (d != floor(d)) {
        acms_issue_add(c->is, "TYPE_MISMATCH", "error", path_str(c, path), v, "expected a whole number, got %.15g", d);
        return -1;
    }
    if (min == 0 && d < 0) {
        acms_issue_add(c->is, "VALUE_OUT_OF_RANGE", "error", path_str(c, path), v, "must not be negative, got %.15g",
                       d);
        return -1;
    }
    if (d < min || d > max || (max_excl && d == max)) {
        acms_issue_add(c->is, "VALUE_OUT_OF_RANGE", "error", path_str(c, path), v,
                       "%.15g is out of range (%.15g to %.15g)", d, min, max_excl ? max - 1 : max);
        return -1;
    }
    *out = d;
    return 0;
}

static int as_bool(conv *c, const Acms__V1__Value *v, const vpath *path, protobuf_c_boolean *out)
{
    if (is_kind(v, ACMS__V1__VALUE__KIND_BOOL_VALUE)) {
        *out = v->bool_value ? 1 : 0;
        return 0;
    }
    Acms__V1__ValidationIssue *iss = acms_issue_add(c->is, "TYPE_MISMATCH", "error", path_str(c, path), v,
                                                    "expected true or false, got %s", kind_article(v));
    if (is_kind(v, ACMS__V1__VALUE__KIND_STRING_VALUE)) {
        const char *s = v->string_value;
        int yes = !strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on") || !strcmp(s, "1");
        int no = !strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off") || !strcmp(s, "0");
        if (yes || no)
            acms_issue_suggest(c->is, iss, "TYPE_MISMATCH:use-bool", "pattern", 0.85, path_str(c, path),
                               yes ? "true" : "false", "write %s (unquoted)", yes ? "true" : "false");
    }
    return -1;
}

/* Strings accept numbers and booleans too (written as text); lists and maps are refused. */
static int as_string(conv *c, const Acms__V1__Value *v, const vpath *path, char **out)
{
    char *s = scalar_text(c, v);
    if (!s) {
        acms_issue_add(c->is, "TYPE_MISMATCH", "error", path_str(c, path), v, "expected a string, got %s",
                       kind_article(v));
        return -1;
    }
    *out = s;
    return 0;
}

static int as_enum(conv *c, const ProtobufCEnumDescriptor *ed, const Acms__V1__Value *v, const vpath *path, int *out)
{
    char *s;
    if (as_string(c, v, path, &s) != 0)
        return -1;
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(ed, s);
    for (unsigned i = 0; !ev && i < ed->n_values; i++) {
        const char *name = ed->values[i].name;
        size_t ln = strlen(name), ls = strlen(s);
        if (!strcasecmp(name, s) || (ls < ln && name[ln - ls - 1] == '_' && !strcasecmp(name + ln - ls, s)))
            ev = &ed->values[i];
    }
    if (!ev) {
        acms_issue_add(c->is, "INVALID_VALUE", "error", path_str(c, path), v, "unknown value '%s' for %s", s,
                       ed->short_name);
        return -1;
    }
    *out = ev->value;
    return 0;
}

/* --- messages ------------------------------------------------------------------------------ */

static int fill_message(conv *c, const Acms__V1__Value *map, ProtobufCMessage *msg, const vpath *path);

/* A message from a map (with the Step/VpcConfig bookkeeping), or the free-form Value as is. */
static int build_message(conv *c, const ProtobufCMessageDescriptor *d, const Acms__V1__Value *v, const vpath *path,
                         ProtobufCMessage **out)
{
    if (d == &acms__v1__value__descriptor) {
        *out = &acms_value_copy(c->a, v)->base;
        return 0;
    }
    if (!is_kind(v, ACMS__V1__VALUE__KIND_MAP_VALUE)) {
        acms_issue_add(c->is, "TYPE_MISMATCH", "error", path_str(c, path), v, "expected a map, got %s",
                       kind_article(v));
        return -1;
    }
    ProtobufCMessage *m = acms_pb_new(c->a, d);
    fill_message(c, v, m, path);
    if (d == &acms__v1__vpc_config__descriptor)
        ((Acms__V1__VpcConfig *)m)->set = 1;
    if (d == &acms__v1__step__descriptor)
        ((Acms__V1__Step *)m)->line = v->line;
    *out = m;
    return 0;
}

/* Converts v into one element of field f at dst. 0, or -1 after reporting an issue. */
static int set_one(conv *c, const ProtobufCFieldDescriptor *f, const Acms__V1__Value *v, void *dst, const vpath *path)
{
    double d;
    switch (f->type) {
    case PROTOBUF_C_TYPE_BOOL: return as_bool(c, v, path, dst);
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if (as_integer(c, v, path, INT32_MIN, INT32_MAX, 0, &d) != 0)
            return -1;
        *(int32_t *)dst = (int32_t)d;
        return 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if (as_integer(c, v, path, 0, UINT32_MAX, 0, &d) != 0)
            return -1;
        *(uint32_t *)dst = (uint32_t)d;
        return 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if (as_integer(c, v, path, -9223372036854775808.0, 9223372036854775808.0, 1, &d) != 0)
            return -1;
        *(int64_t *)dst = (int64_t)d;
        return 0;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if (as_integer(c, v, path, 0, 18446744073709551616.0, 1, &d) != 0)
            return -1;
        *(uint64_t *)dst = (uint64_t)d;
        return 0;
    case PROTOBUF_C_TYPE_DOUBLE: return as_number(c, v, path, (double *)dst);
    case PROTOBUF_C_TYPE_FLOAT:
        if (as_number(c, v, path, &d) != 0)
            return -1;
        *(float *)dst = (float)d;
        return 0;
    case PROTOBUF_C_TYPE_ENUM: {
        int e;
        if (as_enum(c, f->descriptor, v, path, &e) != 0)
            return -1;
        *(int *)dst = e;
        return 0;
    }
    case PROTOBUF_C_TYPE_STRING: return as_string(c, v, path, (char **)dst);
    case PROTOBUF_C_TYPE_BYTES: {
        char *s;
        if (as_string(c, v, path, &s) != 0)
            return -1;
        ((ProtobufCBinaryData *)dst)->data = (uint8_t *)s;
        ((ProtobufCBinaryData *)dst)->len = strlen(s);
        return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE: return build_message(c, f->descriptor, v, path, (ProtobufCMessage **)dst);
    }
    return -1;
}

/* {K: V, ...} for a repeated two-string message: one element per entry. */
static void fill_pairs(conv *c, const pair_form *pf, const Acms__V1__Value *map, void **arr, size_t *n,
                       const vpath *path)
{
    const Acms__V1__MapValue *m = map->map_value;
    const ProtobufCFieldDescriptor *f1 = protobuf_c_message_descriptor_get_field_by_name(pf->desc, pf->first);
    const ProtobufCFieldDescriptor *f2 = protobuf_c_message_descriptor_get_field_by_name(pf->desc, pf->second);
    ProtobufCMessage **out = acms_arena_alloc(c->a, (m->n_entries + 1) * sizeof *out);
    size_t k = 0;
    for (size_t i = 0; i < m->n_entries; i++) {
        char *val;
        vpath kp = {path, m->entries[i]->key, 0};
        if (as_string(c, m->entries[i]->value, &kp, &val) != 0)
            continue;
        ProtobufCMessage *e = acms_pb_new(c->a, pf->desc);
        *(char **)((char *)e + f1->offset) = m->entries[i]->key;
        *(char **)((char *)e + f2->offset) = val;
        out[k++] = e;
    }
    *arr = out;
    *n = k;
}

static void fill_repeated(conv *c, const ProtobufCFieldDescriptor *f, const Acms__V1__Value *v, ProtobufCMessage *msg,
                          const vpath *path)
{
    size_t *n = (size_t *)((char *)msg + f->quantifier_offset);
    void **arr = (void **)((char *)msg + f->offset);
    size_t es = acms_pb_elem_size(f->type);
    if (f->type == PROTOBUF_C_TYPE_MESSAGE && is_kind(v, ACMS__V1__VALUE__KIND_MAP_VALUE)) {
        const pair_form *pf = find_pair(f->descriptor);
        if (pf) {
            fill_pairs(c, pf, v, arr, n, path);
            return;
        }
    }
    if (!is_kind(v, ACMS__V1__VALUE__KIND_LIST_VALUE)) {
        Acms__V1__ValidationIssue *iss = acms_issue_add(c->is, "TYPE_MISMATCH", "error", path_str(c, path), v,
                                                        "expected a list, got %s", kind_article(v));
        if (f->type == PROTOBUF_C_TYPE_MESSAGE || !scalar_text(c, v))
            return;
        /* A lone scalar: suggest wrapping it, and keep it as a one-element list meanwhile. */
        cJSON *j = cJSON_CreateArray();
        cJSON *item = acms_json_from_value(v);
        char *txt = NULL;
        if (j && item)
            cJSON_AddItemToArray(j, item);
        else
            cJSON_Delete(item);
        if (j)
            txt = cJSON_PrintUnformatted(j);
        acms_issue_suggest(c->is, iss, "TYPE_MISMATCH:wrap-in-list", "pattern", 0.9, path_str(c, path), txt ? txt : "",
                           "write it as a list: %s", txt ? txt : "[...]");
        free(txt);
        cJSON_Delete(j);
        void *one = acms_arena_alloc(c->a, es);
        if (set_one(c, f, v, one, path) == 0) {
            *arr = one;
            *n = 1;
        }
        return;
    }
    const Acms__V1__ListValue *l = v->list_value;
    char *out = acms_arena_alloc(c->a, (l->n_values + 1) * es);
    size_t k = 0;
    const pair_form *pf = f->type == PROTOBUF_C_TYPE_MESSAGE ? find_pair(f->descriptor) : NULL;
    for (size_t i = 0; i < l->n_values; i++) {
        vpath ip = {path, NULL, i};
        const vpath *ipath = &ip;
        if (is_null(l->values[i])) {
            acms_issue_add(c->is, "TYPE_MISMATCH", "error", path_str(c, ipath), l->values[i], "empty list item");
            if (f->type != PROTOBUF_C_TYPE_MESSAGE)
                continue;
            *(ProtobufCMessage **)(out + k++ * es) = acms_pb_new(c->a, f->descriptor);
            continue;
        }
        if (set_one(c, f, l->values[i], out + k * es, ipath) != 0) {
            if (f->type != PROTOBUF_C_TYPE_MESSAGE)
                continue; /* scalars: dropped */
            /* messages keep their index (steps[i] stays spec.steps[i] for later checks) */
            ProtobufCMessage *empty = acms_pb_new(c->a, f->descriptor);
            if (f->descriptor == &acms__v1__step__descriptor)
                ((Acms__V1__Step *)empty)->line = l->values[i]->line;
            *(ProtobufCMessage **)(out + k++ * es) = empty;
            continue;
        }
        if (pf) {
            const ProtobufCFieldDescriptor *f1 = protobuf_c_message_descriptor_get_field_by_name(pf->desc, pf->first);
            const char *first = *(char **)(*(char **)(out + k * es) + f1->offset);
            if (!first || !first[0])
                acms_issue_add(c->is, "MISSING_FIELD", "error", key_path(c, ipath, pf->first), l->values[i],
                               "%s is required", pf->first);
        }
        k++;
    }
    *arr = out;
    *n = k;
}

static void fill_field(conv *c, const ProtobufCFieldDescriptor *f, const Acms__V1__Value *v, ProtobufCMessage *msg,
                       const vpath *path)
{
    if (is_null(v))
        return; /* null = not set */
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        fill_repeated(c, f, v, msg, path);
        return;
    }
    if (set_one(c, f, v, (char *)msg + f->offset, path) != 0)
        return;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        *(uint32_t *)((char *)msg + f->quantifier_offset) = f->id;
    else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_MESSAGE &&
             f->type != PROTOBUF_C_TYPE_STRING)
        *(protobuf_c_boolean *)((char *)msg + f->quantifier_offset) = 1;
}

/* The field of d named key, or NULL. The few fields after the previous match (*hint) are tried
 * first, as documents mostly list fields in declaration order; then protobuf-c's search by name. */
static const ProtobufCFieldDescriptor *field_named(const ProtobufCMessageDescriptor *d, const char *key, unsigned *hint)
{
    for (unsigned i = *hint; i < d->n_fields && i < *hint + 4; i++) {
        if (d->fields[i].name[0] == key[0] && strcmp(d->fields[i].name, key) == 0) {
            *hint = i + 1;
            return &d->fields[i];
        }
    }
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, key);
    if (f)
        *hint = (unsigned)(f - d->fields) + 1;
    return f;
}

/* Every key of map to the field of msg with that name. Returns 0, or -1 when map is not a map. */
static int fill_message(conv *c, const Acms__V1__Value *map, ProtobufCMessage *msg, const vpath *path)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    if (is_null(map))
        return 0;
    if (!is_kind(map, ACMS__V1__VALUE__KIND_MAP_VALUE)) {
        acms_issue_add(c->is, "TYPE_MISMATCH", "error", path_str(c, path), map, "expected a map, got %s",
                       kind_article(map));
        return -1;
    }
    unsigned hint = 0;
    size_t nrules;
    const field_rule *rules = rules_of(d, &nrules);
    for (size_t i = 0; i < map->map_value->n_entries; i++) {
        const Acms__V1__MapEntry *e = map->map_value->entries[i];
        vpath fp = {path, e->key, 0};
        const vpath *fpath = &fp;
        const field_rule *r = find_rule(rules, nrules, e->key);
        if (r) {
            Acms__V1__ValidationIssue *iss = acms_issue_add(c->is, "FIELD_NOT_ALLOWED", "error", path_str(c, fpath),
                                                            e->value, "field '%s' %s", e->key, r->why);
            if (r->moved_to)
                acms_issue_suggest(c->is, iss, "FIELD_NOT_ALLOWED:move", "pattern", 0.9, r->moved_to,
                                   scalar_text(c, e->value), "move it to %s", r->moved_to);
            continue;
        }
        const ProtobufCFieldDescriptor *f = field_named(d, e->key, &hint);
        if (!f) {
            unknown_field(c, d, path, e->key, e->value);
            continue;
        }
        fill_field(c, f, e->value, msg, fpath);
    }
    return 0;
}

static void fill_named(conv *c, ProtobufCMessage *msg, const char *field, const Acms__V1__Value *v, const vpath *path)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, field);
    if (f)
        fill_field(c, f, v, msg, path);
}

/* --- documents ----------------------------------------------------------------------------- */

typedef struct header {
    const Acms__V1__Value *labels, *spec;
    char *name;
} header;

static const vpath spec_path = {NULL, "spec", 0};
static const vpath labels_path = {NULL, "metadata.labels", 0};
static const vpath steps_path = {&spec_path, "steps", 0};
static const vpath rules_path = {&spec_path, "rules", 0};

/* apiVersion, kind, metadata {name, labels} and spec of a document of the given kind. */
static void check_header(conv *c, const Acms__V1__Value *doc, const char *kind, header *h)
{
    static const char *const top[] = {"apiVersion", "kind", "metadata", "spec"};
    static const char *const meta_keys[] = {"name", "labels"};
    memset(h, 0, sizeof *h);
    if (!is_kind(doc, ACMS__V1__VALUE__KIND_MAP_VALUE)) {
        acms_issue_add(c->is, "TYPE_MISMATCH", "error", "", doc,
                       "a %s document is a map with apiVersion, kind, metadata and spec, got %s", kind,
                       kind_article(doc));
        return;
    }
    for (size_t i = 0; i < doc->map_value->n_entries; i++) {
        const char *k = doc->map_value->entries[i]->key;
        int known = 0;
        for (size_t t = 0; t < 4; t++)
            known |= strcmp(k, top[t]) == 0;
        if (!known)
            unknown_key(c, NULL, k, doc->map_value->entries[i]->value, top, 4);
    }
    const Acms__V1__Value *api = acms_value_get(doc, "apiVersion");
    if (is_null(api)) {
        Acms__V1__ValidationIssue *iss = acms_issue_add(c->is, "MISSING_FIELD", "error", "apiVersion", doc,
                                                        "apiVersion is required");
        acms_issue_suggest(c->is, iss, "MISSING_FIELD:api-version", "pattern", 0.9, "apiVersion", API_VERSION,
                           "add apiVersion: %s", API_VERSION);
    } else if (!is_kind(api, ACMS__V1__VALUE__KIND_STRING_VALUE) || strcmp(api->string_value, API_VERSION) != 0) {
        Acms__V1__ValidationIssue *iss = acms_issue_add(
            c->is, "BAD_API_VERSION", "error", "apiVersion", api, "unsupported apiVersion '%s' (expected %s)",
            scalar_text(c, api) ? scalar_text(c, api) : kind_article(api), API_VERSION);
        acms_issue_suggest(c->is, iss, "BAD_API_VERSION:set", "pattern", 0.9, "apiVersion", API_VERSION,
                           "use apiVersion: %s", API_VERSION);
    }
    const Acms__V1__Value *k = acms_value_get(doc, "kind");
    if (is_null(k)) {
        Acms__V1__ValidationIssue *iss = acms_issue_add(c->is, "MISSING_FIELD", "error", "kind", doc,
                                                        "kind is required");
        acms_issue_suggest(c->is, iss, "MISSING_FIELD:kind", "pattern", 0.9, "kind", kind, "add kind: %s", kind);
    } else if (!is_kind(k, ACMS__V1__VALUE__KIND_STRING_VALUE) || strcmp(k->string_value, kind) != 0) {
        acms_issue_add(c->is, "BAD_KIND", "error", "kind", k, "expected kind %s, got '%s'", kind,
                       scalar_text(c, k) ? scalar_text(c, k) : kind_article(k));
    }
    const Acms__V1__Value *meta = acms_value_get(doc, "metadata");
    if (is_null(meta)) {
        acms_issue_add(c->is, "MISSING_FIELD", "error", "metadata.name", doc, "metadata.name is required");
    } else if (!is_kind(meta, ACMS__V1__VALUE__KIND_MAP_VALUE)) {
        acms_issue_add(c->is, "TYPE_MISMATCH", "error", "metadata", meta, "expected a map, got %s", kind_article(meta));
    } else {
        static const vpath meta_path = {NULL, "metadata", 0};
        for (size_t i = 0; i < meta->map_value->n_entries; i++) {
            const char *mk = meta->map_value->entries[i]->key;
            if (strcmp(mk, "name") != 0 && strcmp(mk, "labels") != 0)
                unknown_key(c, &meta_path, mk, meta->map_value->entries[i]->value, meta_keys, 2);
        }
        const Acms__V1__Value *name = acms_value_get(meta, "name");
        if (is_null(name) || (is_kind(name, ACMS__V1__VALUE__KIND_STRING_VALUE) && !name->string_value[0]))
            acms_issue_add(c->is, "MISSING_FIELD", "error", "metadata.name", is_null(name) ? meta : name,
                           "metadata.name is required");
        else if (!is_kind(name, ACMS__V1__VALUE__KIND_STRING_VALUE))
            acms_issue_add(c->is, "TYPE_MISMATCH", "error", "metadata.name", name, "expected a string, got %s",
                           kind_article(name));
        else
            h->name = name->string_value;
        h->labels = acms_value_get(meta, "labels");
    }
    h->spec = acms_value_get(doc, "spec");
    if (is_null(h->spec)) {
        acms_issue_add(c->is, "MISSING_FIELD", "error", "spec", doc, "spec is required");
        h->spec = NULL;
    }
}

/* A string field that must be one of allowed (when present). */
static void check_choice(conv *c, const Acms__V1__Value *map, const char *key, const vpath *path,
                         const char *const *allowed, size_t n)
{
    const Acms__V1__Value *v = acms_value_get(map, key);
    if (!is_kind(v, ACMS__V1__VALUE__KIND_STRING_VALUE))
        return; /* absent, or already a type issue */
    for (size_t i = 0; i < n; i++)
        if (strcmp(v->string_value, allowed[i]) == 0)
            return;
    char list[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < n && used < sizeof list; i++) {
        int w = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", allowed[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    const char *p = key_path(c, path, key);
    Acms__V1__ValidationIssue *iss = acms_issue_add(
        c->is, "INVALID_VALUE", "error", p, v, "unknown %s '%s' (expected one of: %s)", key, v->string_value, list);
    double conf = 0;
    const char *near = closest(v->string_value, allowed, n, &conf);
    if (near)
        acms_issue_suggest(c->is, iss, "INVALID_VALUE:closest", "pattern", conf, p, near, "did you mean '%s'?", near);
}

/* The field is absent, null, "" or an empty list. */
static int field_empty(const Acms__V1__Value *map, const char *key)
{
    const Acms__V1__Value *v = acms_value_get(map, key);
    return is_null(v) || (is_kind(v, ACMS__V1__VALUE__KIND_STRING_VALUE) && !v->string_value[0]) ||
           (is_kind(v, ACMS__V1__VALUE__KIND_LIST_VALUE) && v->list_value->n_values == 0);
}

static void require(conv *c, const Acms__V1__Value *map, const char *key, const vpath *path, const char *what)
{
    const Acms__V1__Value *v = acms_value_get(map, key);
    if (field_empty(map, key))
        acms_issue_add(c->is, "MISSING_FIELD", "error", key_path(c, path, key), is_null(v) ? map : v, "%s", what);
}

static int result(conv *c, size_t errors_before)
{
    return acms_issues_count(c->is, "error") > errors_before ? ACMS_ERR_INVALID : ACMS_OK;
}

int acms_doc_to_pipeline(acms_arena *a, const Acms__V1__Value *doc, Acms__V1__Pipeline **out, acms_issues *is)
{
    conv c = {a, is};
    header h;
    size_t before = acms_issues_count(is, "error");
    Acms__V1__Pipeline *p = acms_pb_new(a, &acms__v1__pipeline__descriptor);
    *out = p;
    check_header(&c, doc, "Pipeline", &h);
    p->api_version = API_VERSION;
    if (h.name)
        p->name = h.name;
    if (h.labels)
        fill_named(&c, &p->base, "labels", h.labels, &labels_path);
    if (!h.spec || fill_message(&c, h.spec, &p->base, &spec_path) != 0)
        return result(&c, before);
    const Acms__V1__Value *steps = acms_value_get(h.spec, "steps");
    if (is_null(steps) || (is_kind(steps, ACMS__V1__VALUE__KIND_LIST_VALUE) && steps->list_value->n_values == 0)) {
        acms_issue_add(is, "MISSING_FIELD", "error", "spec.steps", is_null(steps) ? h.spec : steps,
                       "a pipeline needs at least one step");
        return result(&c, before);
    }
    if (!is_kind(steps, ACMS__V1__VALUE__KIND_LIST_VALUE))
        return result(&c, before);
    if (steps->list_value->n_values > ACMS_MAX_STEPS)
        acms_issue_add(is, "LIMIT_EXCEEDED", "error", "spec.steps", steps, "%zu steps exceed the limit of %d",
                       steps->list_value->n_values, ACMS_MAX_STEPS);
    for (size_t i = 0; i < steps->list_value->n_values; i++) {
        const Acms__V1__Value *s = steps->list_value->values[i];
        if (!is_kind(s, ACMS__V1__VALUE__KIND_MAP_VALUE))
            continue;
        const vpath sp = {&steps_path, NULL, i};
        const Acms__V1__Value *name = acms_value_get(s, "name");
        require(&c, s, "name", &sp, "a step needs a name");
        if (!field_empty(s, "command"))
            continue; /* the message below is only formatted when it is needed */
        require(&c, s, "command", &sp,
                is_kind(name, ACMS__V1__VALUE__KIND_STRING_VALUE) && name->string_value[0]
                    ? acms_arena_printf(a, "step '%s' needs a command (a non-empty list)", name->string_value)
                    : "a step needs a command (a non-empty list)");
    }
    return result(&c, before);
}

int acms_doc_to_environment(acms_arena *a, const Acms__V1__Value *doc, Acms__V1__Environment **out, acms_issues *is)
{
    static const char *const executors[] = {"local", "http", "kubernetes"};
    static const char *const modes[] = {"off", "shadow", "apply"};
    conv c = {a, is};
    header h;
    size_t before = acms_issues_count(is, "error");
    Acms__V1__Environment *e = acms_pb_new(a, &acms__v1__environment__descriptor);
    *out = e;
    check_header(&c, doc, "Environment", &h);
    if (h.name)
        e->name = h.name;
    if (!h.spec || fill_message(&c, h.spec, &e->base, &spec_path) != 0)
        return result(&c, before);
    check_choice(&c, h.spec, "executor", &spec_path, executors, 3);
    check_choice(&c, h.spec, "learning_mode", &spec_path, modes, 3);
    const Acms__V1__Value *scale = acms_value_get(h.spec, "memory_scale");
    if (is_kind(scale, ACMS__V1__VALUE__KIND_NUMBER_VALUE) && scale->number_value <= 0)
        acms_issue_add(is, "VALUE_OUT_OF_RANGE", "error", "spec.memory_scale", scale, "memory_scale must be above 0");
    const Acms__V1__Value *thr = acms_value_get(h.spec, "safety_threshold");
    if (is_kind(thr, ACMS__V1__VALUE__KIND_NUMBER_VALUE) && (thr->number_value <= 0 || thr->number_value > 1))
        acms_issue_add(is, "VALUE_OUT_OF_RANGE", "error", "spec.safety_threshold", thr,
                       "safety_threshold must be in (0, 1]");
    if (is_kind(acms_value_get(h.spec, "executor"), ACMS__V1__VALUE__KIND_STRING_VALUE) &&
        strcmp(e->executor, "http") == 0 && !e->worker_url[0])
        acms_issue_add(is, "MISSING_FIELD", "error", "spec.worker_url", h.spec, "the http executor needs a worker_url");
    return result(&c, before);
}

int acms_doc_to_policy(acms_arena *a, const Acms__V1__Value *doc, Acms__V1__Policy **out, acms_issues *is)
{
    static const char *const ops[] = {"set", "equals", "prefix", "present", "max", "min", "forbid"};
    static const char *const actions[] = {"enforce", "audit"};
    static const char *const severities[] = {"error", "warning", "info"};
    conv c = {a, is};
    header h;
    size_t before = acms_issues_count(is, "error");
    Acms__V1__Policy *p = acms_pb_new(a, &acms__v1__policy__descriptor);
    *out = p;
    check_header(&c, doc, "Policy", &h);
    if (h.name)
        p->name = h.name;
    if (!h.spec || fill_message(&c, h.spec, &p->base, &spec_path) != 0)
        return result(&c, before);
    const Acms__V1__Value *rules = acms_value_get(h.spec, "rules");
    if (!is_kind(rules, ACMS__V1__VALUE__KIND_LIST_VALUE))
        return result(&c, before);
    for (size_t i = 0; i < rules->list_value->n_values; i++) {
        const Acms__V1__Value *r = rules->list_value->values[i];
        if (!is_kind(r, ACMS__V1__VALUE__KIND_MAP_VALUE))
            continue;
        const vpath rpv = {&rules_path, NULL, i}, *rp = &rpv;
        require(&c, r, "id", rp, "a rule needs an id (its stable issue code)");
        require(&c, r, "field", rp, "a rule needs the step field it checks");
        require(&c, r, "op", rp, "a rule needs an op (set, equals, prefix, present, max, min or forbid)");
        check_choice(&c, r, "op", rp, ops, 7);
        check_choice(&c, r, "action", rp, actions, 2);
        check_choice(&c, r, "severity", rp, severities, 3);
    }
    return result(&c, before);
}
