/* strmap.h: one string map: keys (byte strings, kept by pointer, never copied) to size_t values.
 * Entries are kept in insertion order in a dense array (key, length, FNV-1a hash, value); an
 * open-addressing table of 4-byte slots with linear probing indexes them, at most half full
 * (both double as the map fills). Memory comes from the heap, or from an arena (acms_strmap_init with a):
 * then a grown table leaves the old one to the arena and acms_strmap_release frees nothing.
 * A key must stay valid and unchanged while the map holds it. One thread at a time.
 *
 *     acms_strmap m;
 *     acms_strmap_init(&m, arena, nsteps);
 *     if (acms_strmap_put(&m, step->name, i, &first) == 0)  // already there: first is its value
 */
#ifndef ACMS_STRMAP_H
#define ACMS_STRMAP_H

#include "acms.h"
#include "arena.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct acms_strmap_entry {
    const char *key;
    uint32_t len;
    uint32_t hash;
    size_t val;
} acms_strmap_entry;

typedef struct acms_strmap {
    uint32_t *slot;           /* cap slots (a power of two): 0 = empty, else an entry's index + 1;
                               * NULL until the first put */
    acms_strmap_entry *entry; /* the n entries in insertion order, room for cap / 2 */
    size_t cap, n;
    acms_arena *arena; /* NULL = the heap */
} acms_strmap;

#define ACMS_STRMAP_INIT                                                                                               \
    {                                                                                                                  \
        NULL, NULL, 0, 0, NULL                                                                                         \
    }

/* FNV-1a (32 bits) of the n bytes at s: the hash the *n functions below take. */
static inline uint32_t acms_strmap_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* An empty map allocating from a (NULL = the heap), sized so expected keys fit without growing
 * (the table itself is allocated by the first put). */
void acms_strmap_init(acms_strmap *m, acms_arena *a, size_t expected);
/* Frees a heap map's table and leaves it empty. */
void acms_strmap_release(acms_strmap *m);

/* Adds key -> val unless key is there. 1 when added; 0 when present (*old, when not NULL, gets its
 * value; the value is not changed); ACMS_ERR_NOMEM (heap map), ACMS_ERR_LIMIT (a key over 4 GiB,
 * or 2^30 keys). */
int acms_strmap_put(acms_strmap *m, const char *key, size_t val, size_t *old);
/* The same for the len bytes at key, whose hash is acms_strmap_hash(key, len). */
static inline int acms_strmap_putn(acms_strmap *m, const char *key, size_t len, uint32_t hash, size_t val, size_t *old);
/* 1 with *val (when not NULL) when key is there, else 0. */
int acms_strmap_get(const acms_strmap *m, const char *key, size_t *val);
static inline int acms_strmap_getn(const acms_strmap *m, const char *key, size_t len, uint32_t hash, size_t *val);

/* --- inline, so a caller's probe loop is compiled with it ------------------------------------ */

/* Makes room for one more entry: ACMS_OK, ACMS_ERR_NOMEM, ACMS_ERR_LIMIT. */
int acms_strmap__reserve(acms_strmap *m);

/* The slot holding key, or the empty slot that ends its probe (m has a table). */
static inline uint32_t *acms_strmap__find(const acms_strmap *m, const char *key, size_t len, uint32_t hash)
{
    size_t mask = m->cap - 1;
    for (size_t h = hash & mask;; h = (h + 1) & mask) {
        uint32_t *s = &m->slot[h];
        if (!*s)
            return s;
        const acms_strmap_entry *e = &m->entry[*s - 1];
        if (e->hash == hash && e->len == len && memcmp(e->key, key, len) == 0)
            return s;
    }
}

static inline int acms_strmap_putn(acms_strmap *m, const char *key, size_t len, uint32_t hash, size_t val, size_t *old)
{
    if (len > UINT32_MAX)
        return ACMS_ERR_LIMIT;
    if (!m->slot || (m->n + 1) * 2 >= m->cap) {
        int rc = acms_strmap__reserve(m);
        if (rc != ACMS_OK)
            return rc;
    }
    uint32_t *s = acms_strmap__find(m, key, len, hash);
    if (*s) {
        if (old)
            *old = m->entry[*s - 1].val;
        return 0;
    }
    m->entry[m->n] = (acms_strmap_entry){key, (uint32_t)len, hash, val};
    *s = (uint32_t)++m->n;
    return 1;
}

static inline int acms_strmap_getn(const acms_strmap *m, const char *key, size_t len, uint32_t hash, size_t *val)
{
    if (!m->slot || len > UINT32_MAX)
        return 0;
    const uint32_t *s = acms_strmap__find(m, key, len, hash);
    if (!*s)
        return 0;
    if (val)
        *val = m->entry[*s - 1].val;
    return 1;
}

#endif
