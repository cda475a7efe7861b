/* strbuf.h: one growable byte buffer (after git's strbuf). buf holds len bytes and, once anything
 * was added, a terminating NUL at buf[len] (not counted in len). Memory comes from the heap, or from
 * an arena (acms_strbuf_init_arena): then growing leaves the old block to the arena and
 * acms_strbuf_release frees nothing. An optional cap bounds len: an addition that would pass it is
 * refused whole (ACMS_ERR_LIMIT) and leaves the buffer as it was, so a caller can bound input it
 * does not trust. Allocation failure is ACMS_ERR_NOMEM with the buffer unchanged. One thread at a time.
 *
 *     acms_strbuf b = ACMS_STRBUF_INIT;
 *     acms_strbuf_addf(&b, "%s=%d\n", k, v);
 *     char *s = acms_strbuf_detach(&b, NULL);   // the caller frees s
 */
#ifndef ACMS_STRBUF_H
#define ACMS_STRBUF_H

#include "acms.h"
#include "arena.h"

#include <stdarg.h>
#include <stddef.h>

typedef struct acms_strbuf {
    char *buf;         /* NULL until the first addition */
    size_t len;        /* bytes held, NUL excluded */
    size_t alloc;      /* bytes allocated at buf */
    size_t max;        /* the cap on len; 0 = none */
    acms_arena *arena; /* where memory comes from; NULL = the heap */
} acms_strbuf;

#define ACMS_STRBUF_INIT                                                                                               \
    {                                                                                                                  \
        NULL, 0, 0, 0, NULL                                                                                            \
    }

/* An empty heap buffer whose len may not pass max (0 = no cap). */
void acms_strbuf_init(acms_strbuf *sb, size_t max);
/* An empty buffer allocating from a (which must outlive it); len may not pass max (0 = no cap). */
void acms_strbuf_init_arena(acms_strbuf *sb, acms_arena *a, size_t max);
/* Frees a heap buffer's memory and leaves it empty, cap and arena kept. */
void acms_strbuf_release(acms_strbuf *sb);

/* Room for extra more bytes (and the NUL) without a further allocation.
 * ACMS_OK, ACMS_ERR_LIMIT (len + extra would pass the cap), ACMS_ERR_NOMEM. */
int acms_strbuf_grow(acms_strbuf *sb, size_t extra);
/* Appends n bytes of p (which may hold NULs). ACMS_OK, ACMS_ERR_LIMIT, ACMS_ERR_NOMEM. */
int acms_strbuf_add(acms_strbuf *sb, const void *p, size_t n);
/* Appends the string s. ACMS_OK, ACMS_ERR_LIMIT, ACMS_ERR_NOMEM. */
int acms_strbuf_addstr(acms_strbuf *sb, const char *s);
/* Appends printf output. ACMS_OK, ACMS_ERR_LIMIT, ACMS_ERR_NOMEM, ACMS_ERR (a bad format);
 * on failure nothing is appended. */
int acms_strbuf_addf(acms_strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int acms_strbuf_vaddf(acms_strbuf *sb, const char *fmt, va_list ap);
/* Drops n bytes from pos (clamped to the end), moving the rest down. */
void acms_strbuf_remove(acms_strbuf *sb, size_t pos, size_t n);
/* Empties the buffer, keeping its memory. */
void acms_strbuf_reset(acms_strbuf *sb);
/* Hands the bytes over: a NUL-terminated string the caller owns (free() for a heap buffer, the arena
 * for an arena one), its length in *len when len is not NULL. An empty buffer gives "" freshly
 * allocated. The buffer is left empty and re-usable. NULL when out of memory. */
char *acms_strbuf_detach(acms_strbuf *sb, size_t *len);

#endif
