/* catalog.c: the instance-type catalogue (kind: InstanceCatalog) loaded from YAML into an arena.
 * Invariants: names are unique; types are sorted by family, then memory, then vCPU (then name), so
 * a family's types are contiguous and in increasing size; lookups never modify the catalogue. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "doc.h"

static int fail(char *errstr, size_t size, int rc, const char *path, const Acms__V1__Value *at, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static int fail(char *errstr, size_t size, int rc, const char *path, const Acms__V1__Value *at, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        msg[0] = '\0';
    if (errstr && size) {
        n = snprintf(errstr, size, "%s:%u: %s", path, at ? at->line : 0, msg);
        if (n < 0)
            errstr[0] = '\0';
    }
    return rc;
}

static int cmp_type(const void *x, const void *y)
{
    const acms_instance_type *a = x, *b = y;
    int c = strcmp(a->family, b->family);
    if (c)
        return c;
    if (a->memory_gib != b->memory_gib)
        return a->memory_gib < b->memory_gib ? -1 : 1;
    if (a->vcpu != b->vcpu)
        return a->vcpu < b->vcpu ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* A non-negative number field of an entry (required unless optional). */
static int num_field(const Acms__V1__Value *e, const char *key, int optional, double *out)
{
    const Acms__V1__Value *v = acms_value_get(e, key);
    if (!v || v->kind_case == ACMS__V1__VALUE__KIND_NULL_VALUE) {
        *out = 0;
        return optional ? 0 : -1;
    }
    if (v->kind_case != ACMS__V1__VALUE__KIND_NUMBER_VALUE || v->number_value < 0 || !isfinite(v->number_value))
        return -1;
    *out = v->number_value;
    return 0;
}

static int load_entry(acms_arena *a, const char *path, const Acms__V1__Value *e, acms_instance_type *t, char *errstr,
                      size_t size)
{
    static const char *const keys[] = {"name", "vcpu", "memory_gib", "gpus", "gpu_model", "price_per_hour"};
    double gpus = 0;
    if (!acms_value_is(e, ACMS__V1__VALUE__KIND_MAP_VALUE))
        return fail(errstr, size, ACMS_ERR_INVALID, path, e, "an instance type is a map");
    for (size_t i = 0; i < e->map_value->n_entries; i++) {
        const char *k = e->map_value->entries[i]->key;
        int known = 0;
        for (size_t j = 0; j < sizeof keys / sizeof keys[0]; j++)
            known |= !strcmp(k, keys[j]);
        if (!known)
            return fail(errstr, size, ACMS_ERR_INVALID, path, e->map_value->entries[i]->value,
                        "unknown field '%s' in an instance type", k);
    }
    const char *name = acms_value_str(acms_value_get(e, "name"));
    if (!name || !name[0])
        return fail(errstr, size, ACMS_ERR_INVALID, path, e, "an instance type needs a name");
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name || !dot[1])
        return fail(errstr, size, ACMS_ERR_INVALID, path, e, "instance type '%s' is not FAMILY.SIZE", name);
    t->name = acms_arena_strdup(a, name);
    t->family = acms_arena_strndup(a, name, (size_t)(dot - name));
    if (num_field(e, "vcpu", 0, &t->vcpu) != 0 || t->vcpu <= 0)
        return fail(errstr, size, ACMS_ERR_INVALID, path, e, "%s: vcpu must be a number above 0", name);
    if (num_field(e, "memory_gib", 0, &t->memory_gib) != 0 || t->memory_gib <= 0)
        return fail(errstr, size, ACMS_ERR_INVALID, path, e, "%s: memory_gib must be a number above 0", name);
    if (num_field(e, "gpus", 1, &gpus) != 0 || gpus != floor(gpus) || gpus > 64)
        return fail(errstr, size, ACMS_ERR_INVALID, path, e, "%s: gpus must be a whole number (0-64)", name);
    t->gpus = (uint32_t)gpus;
    if (num_field(e, "price_per_hour", 0, &t->price_per_hour) != 0)
        return fail(errstr, size, ACMS_ERR_INVALID, path, e, "%s: price_per_hour must be a number (USD)", name);
    const Acms__V1__Value *gm = acms_value_get(e, "gpu_model");
    if (gm && gm->kind_case != ACMS__V1__VALUE__KIND_NULL_VALUE && !acms_value_str(gm))
        return fail(errstr, size, ACMS_ERR_INVALID, path, gm, "%s: gpu_model must be a string", name);
    t->gpu_model = acms_arena_strdup(a, acms_value_str(gm) ? acms_value_str(gm) : "");
    if (t->gpus > 0 && !t->gpu_model[0])
        return fail(errstr, size, ACMS_ERR_INVALID, path, e, "%s: gpu_model is required when gpus > 0", name);
    return ACMS_OK;
}

int acms_catalog_load(acms_arena *a, const char *path, acms_catalog *out, char *errstr, size_t errstr_size)
{
    Acms__V1__Value **docs = NULL;
    size_t ndocs = 0;
    memset(out, 0, sizeof *out);
    int rc = acms_doc_parse_file(a, path, &docs, &ndocs, errstr, errstr_size);
    if (rc != ACMS_OK)
        return rc == ACMS_ERR_NOTFOUND ? rc : ACMS_ERR_INVALID;
    if (ndocs != 1)
        return fail(errstr, errstr_size, ACMS_ERR_INVALID, path, NULL, "expected one document, found %zu", ndocs);
    const Acms__V1__Value *doc = docs[0];
    const char *api = acms_value_str(acms_value_get(doc, "apiVersion"));
    const char *kind = acms_doc_kind(doc);
    if (!api || strcmp(api, "acms/v1") != 0)
        return fail(errstr, errstr_size, ACMS_ERR_INVALID, path, doc, "apiVersion must be acms/v1");
    if (!kind || strcmp(kind, "InstanceCatalog") != 0)
        return fail(errstr, errstr_size, ACMS_ERR_INVALID, path, doc, "kind must be InstanceCatalog");
    const Acms__V1__Value *list = acms_value_path(doc, "spec.instance_types");
    if (!acms_value_is(list, ACMS__V1__VALUE__KIND_LIST_VALUE) || list->list_value->n_values == 0)
        return fail(errstr, errstr_size, ACMS_ERR_INVALID, path, list ? list : doc,
                    "spec.instance_types must be a non-empty list");
    size_t n = list->list_value->n_values;
    acms_instance_type *types = acms_arena_alloc(a, n * sizeof *types);
    for (size_t i = 0; i < n; i++) {
        rc = load_entry(a, path, list->list_value->values[i], &types[i], errstr, errstr_size);
        if (rc != ACMS_OK)
            return rc;
    }
    qsort(types, n, sizeof *types, cmp_type);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(types[i].name, types[j].name) == 0)
                return fail(errstr, errstr_size, ACMS_ERR_INVALID, path, NULL, "instance type '%s' is listed twice",
                            types[i].name);
    acms_strmap_init(&out->by_name, a, n);
    for (size_t i = 0; i < n; i++)
        if (acms_strmap_put(&out->by_name, types[i].name, i, NULL) != 1)
            return fail(errstr, errstr_size, ACMS_ERR_NOMEM, path, NULL, "cannot index the instance types");
    out->types = types;
    out->n = n;
    return ACMS_OK;
}

const acms_instance_type *acms_catalog_find(const acms_catalog *c, const char *name)
{
    if (!c || !name)
        return NULL;
    if (c->by_name.n) {
        size_t i;
        return acms_strmap_get(&c->by_name, name, &i) ? &c->types[i] : NULL;
    }
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->types[i].name, name) == 0)
            return &c->types[i];
    return NULL;
}

uint64_t acms_instance_memory_mb(const acms_instance_type *t)
{
    return t ? (uint64_t)(t->memory_gib * 1024.0 + 0.5) : 0;
}

const acms_instance_type *acms_catalog_next_larger(const acms_catalog *c, const acms_instance_type *t)
{
    const acms_instance_type *self = t ? acms_catalog_find(c, t->name) : NULL;
    if (!self)
        return NULL;
    for (const acms_instance_type *x = self + 1; x < c->types + c->n; x++) {
        if (strcmp(x->family, self->family) != 0)
            return NULL; /* families are contiguous */
        if (x->memory_gib > self->memory_gib)
            return x;
    }
    return NULL;
}

static int allowed_name(const char *name, char *const *allowed, size_t n)
{
    if (n == 0)
        return 1;
    for (size_t i = 0; i < n; i++)
        if (allowed[i] && strcmp(allowed[i], name) == 0)
            return 1;
    return 0;
}

const acms_instance_type *acms_catalog_smallest_fit(const acms_catalog *c, const char *family, double vcpu,
                                                    uint64_t memory_mb, uint32_t gpus, char *const *allowed,
                                                    size_t nallowed)
{
    const acms_instance_type *best = NULL;
    if (!c)
        return NULL;
    for (size_t i = 0; i < c->n; i++) {
        const acms_instance_type *t = &c->types[i];
        if (family && family[0] && strcmp(t->family, family) != 0)
            continue;
        if (t->vcpu < vcpu || acms_instance_memory_mb(t) < memory_mb || t->gpus < gpus)
            continue;
        if (!allowed_name(t->name, allowed, nallowed))
            continue;
        if (!best || t->price_per_hour < best->price_per_hour ||
            (t->price_per_hour == best->price_per_hour &&
             (t->memory_gib < best->memory_gib ||
              (t->memory_gib == best->memory_gib && strcmp(t->name, best->name) < 0))))
            best = t;
    }
    return best;
}
