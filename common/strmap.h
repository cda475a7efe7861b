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
    acms_arena *arena;        /* NULL = the heap */
} acms_strmap;

#define ACMS_STRMAP_INIT {NULL, NULL, 0, 0, NULL}

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
int acms_strmap_putn(acms_strmap *m, const char *key, size_t len, uint32_t hash, size_t val, size_t *old);
/* 1 with *val (when not NULL) when key is there, else 0. */
int acms_strmap_get(const acms_strmap *m, const char *key, size_t *val);
int acms_strmap_getn(const acms_strmap *m, const char *key, size_t len, uint32_t hash, size_t *val);

#endif
