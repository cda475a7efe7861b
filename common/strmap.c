/* strmap.c: the string map (API in strmap.h). A probe compares the stored hash and length before
 * the bytes, so a miss rarely touches a key; growing re-places slots by their stored hashes without
 * reading a key. Invariant: n * 2 < cap whenever slot is not NULL, so every probe ends at an empty slot. */
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

#define MIN_CAP 16

void acms_strmap_init(acms_strmap *m, acms_arena *a, size_t expected)
{
    *m = (acms_strmap)ACMS_STRMAP_INIT;
    m->arena = a;
    m->cap = MIN_CAP;
    while (m->cap <= expected * 2 && m->cap < SIZE_MAX / 4)
        m->cap <<= 1;
}

void acms_strmap_release(acms_strmap *m)
{
    if (!m->arena)
        free(m->slot);
    m->slot = NULL;
    m->n = 0;
}

/* A table of cap slots holding the map's entries. ACMS_OK or ACMS_ERR_NOMEM (m unchanged). */
static int rehash(acms_strmap *m, size_t cap)
{
    acms_strmap_slot *ns = m->arena ? acms_arena_alloc(m->arena, cap * sizeof *ns) : calloc(cap, sizeof *ns);
    if (!ns)
        return ACMS_ERR_NOMEM;
    for (size_t i = 0; m->slot && i < m->cap; i++) {
        if (!m->slot[i].key)
            continue;
        size_t h = m->slot[i].hash & (cap - 1);
        while (ns[h].key)
            h = (h + 1) & (cap - 1);
        ns[h] = m->slot[i];
    }
    if (!m->arena)
        free(m->slot);
    m->slot = ns;
    m->cap = cap;
    return ACMS_OK;
}

static acms_strmap_slot *find(const acms_strmap *m, const char *key, size_t len, uint32_t hash)
{
    size_t mask = m->cap - 1;
    for (size_t h = hash & mask;; h = (h + 1) & mask) {
        acms_strmap_slot *s = &m->slot[h];
        if (!s->key || (s->hash == hash && s->len == len && memcmp(s->key, key, len) == 0))
            return s;
    }
}

int acms_strmap_putn(acms_strmap *m, const char *key, size_t len, uint32_t hash, size_t val, size_t *old)
{
    if (len > UINT32_MAX)
        return ACMS_ERR_LIMIT;
    if (!m->slot || (m->n + 1) * 2 >= m->cap) {
        size_t cap = m->cap < MIN_CAP ? MIN_CAP : m->cap;
        while ((m->n + 1) * 2 >= cap)
            cap <<= 1;
        if (rehash(m, cap) != ACMS_OK)
            return ACMS_ERR_NOMEM;
    }
    acms_strmap_slot *s = find(m, key, len, hash);
    if (s->key) {
        if (old)
            *old = s->val;
        return 0;
    }
    *s = (acms_strmap_slot){key, (uint32_t)len, hash, val};
    m->n++;
    return 1;
}

int acms_strmap_put(acms_strmap *m, const char *key, size_t val, size_t *old)
{
    size_t len = strlen(key);
    return acms_strmap_putn(m, key, len, acms_strmap_hash(key, len), val, old);
}

int acms_strmap_getn(const acms_strmap *m, const char *key, size_t len, uint32_t hash, size_t *val)
{
    if (!m->slot || len > UINT32_MAX)
        return 0;
    const acms_strmap_slot *s = find(m, key, len, hash);
    if (!s->key)
        return 0;
    if (val)
        *val = s->val;
    return 1;
}

int acms_strmap_get(const acms_strmap *m, const char *key, size_t *val)
{
    size_t len = strlen(key);
    return acms_strmap_getn(m, key, len, acms_strmap_hash(key, len), val);
}
