/* strmap.c: the string map (API in strmap.h; the probe, putn and getn are inline there, so a caller's
 * loop compiles with them). A probe compares an entry's hash and length before
 * its bytes, so a miss rarely touches a key; growing re-places the entries by their stored hashes,
 * in order, without reading a key. Invariants: n * 2 < cap whenever slot is not NULL, so every
 * probe ends at an empty slot; entry has room for cap / 2 entries. */
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

#define MIN_CAP 16
#define MAX_CAP ((size_t)1 << 31) /* slots hold an index + 1 in 32 bits */

void acms_strmap_init(acms_strmap *m, acms_arena *a, size_t expected)
{
    *m = (acms_strmap)ACMS_STRMAP_INIT;
    m->arena = a;
    m->cap = MIN_CAP;
    while (m->cap <= expected * 2 && m->cap < MAX_CAP)
        m->cap <<= 1;
}

void acms_strmap_release(acms_strmap *m)
{
    if (!m->arena) {
        free(m->slot);
        free(m->entry);
    }
    m->slot = NULL;
    m->entry = NULL;
    m->n = 0;
}

static void *zalloc(acms_strmap *m, size_t n, size_t size)
{
    return m->arena ? acms_arena_alloc(m->arena, n * size) : calloc(n, size);
}

/* Tables for cap slots holding the map's entries. ACMS_OK or ACMS_ERR_NOMEM (m unchanged). */
static int rehash(acms_strmap *m, size_t cap)
{
    uint32_t *ns = zalloc(m, cap, sizeof *ns);
    acms_strmap_entry *ne = ns ? zalloc(m, cap / 2, sizeof *ne) : NULL;
    if (!ne) {
        if (!m->arena)
            free(ns);
        return ACMS_ERR_NOMEM;
    }
    if (m->n)
        memcpy(ne, m->entry, m->n * sizeof *ne);
    for (size_t i = 0; i < m->n; i++) {
        size_t h = ne[i].hash & (cap - 1);
        while (ns[h])
            h = (h + 1) & (cap - 1);
        ns[h] = (uint32_t)i + 1;
    }
    if (!m->arena) {
        free(m->slot);
        free(m->entry);
    }
    m->slot = ns;
    m->entry = ne;
    m->cap = cap;
    return ACMS_OK;
}

int acms_strmap__reserve(acms_strmap *m)
{
    size_t cap = m->cap < MIN_CAP ? MIN_CAP : m->cap;
    while ((m->n + 1) * 2 >= cap)
        cap <<= 1;
    if (cap > MAX_CAP)
        return ACMS_ERR_LIMIT;
    if (m->slot && cap == m->cap)
        return ACMS_OK;
    return rehash(m, cap);
}

/* acms_strmap_hash of the string s, and its length in *len: one pass. */
static uint32_t hash_str(const char *s, size_t *len)
{
    uint32_t h = 2166136261u;
    const char *p = s;
    for (; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    *len = (size_t)(p - s);
    return h;
}

int acms_strmap_put(acms_strmap *m, const char *key, size_t val, size_t *old)
{
    size_t len;
    uint32_t h = hash_str(key, &len);
    return acms_strmap_putn(m, key, len, h, val, old);
}

int acms_strmap_get(const acms_strmap *m, const char *key, size_t *val)
{
    if (!m->slot)
        return 0;
    size_t len;
    uint32_t h = hash_str(key, &len);
    return acms_strmap_getn(m, key, len, h, val);
}
