/* strbuf.c: the growable byte buffer (API in strbuf.h). Growth doubles the allocation, so n
 * single-byte additions cost O(n); the cap is checked before any allocation, so a refused addition
 * changes nothing. */
#include "strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_ALLOC 64

void acms_strbuf_init(acms_strbuf *sb, size_t max)
{
    *sb = (acms_strbuf)ACMS_STRBUF_INIT;
    sb->max = max;
}

void acms_strbuf_init_arena(acms_strbuf *sb, acms_arena *a, size_t max)
{
    acms_strbuf_init(sb, max);
    sb->arena = a;
}

void acms_strbuf_release(acms_strbuf *sb)
{
    if (!sb->arena)
        free(sb->buf);
    sb->buf = NULL;
    sb->len = sb->alloc = 0;
}

int acms_strbuf_grow(acms_strbuf *sb, size_t extra)
{
    if (extra > SIZE_MAX / 2 - sb->len || (sb->max && sb->len + extra > sb->max))
        return ACMS_ERR_LIMIT;
    size_t need = sb->len + extra + 1;
    if (need <= sb->alloc)
        return ACMS_OK;
    size_t alloc = sb->alloc ? sb->alloc : MIN_ALLOC;
    while (alloc < need)
        alloc *= 2;
    if (sb->max && alloc > sb->max + 1)
        alloc = sb->max + 1; /* never more than the cap allows */
    char *nb;
    if (sb->arena) {
        nb = acms_arena_alloc(sb->arena, alloc);
        if (sb->len)
            memcpy(nb, sb->buf, sb->len);
    } else {
        nb = realloc(sb->buf, alloc);
        if (!nb)
            return ACMS_ERR_NOMEM;
    }
    nb[sb->len] = '\0';
    sb->buf = nb;
    sb->alloc = alloc;
    return ACMS_OK;
}

int acms_strbuf_add(acms_strbuf *sb, const void *p, size_t n)
{
    int rc = acms_strbuf_grow(sb, n);
    if (rc != ACMS_OK)
        return rc;
    if (n)
        memcpy(sb->buf + sb->len, p, n);
    sb->len += n;
    sb->buf[sb->len] = '\0';
    return ACMS_OK;
}

int acms_strbuf_addstr(acms_strbuf *sb, const char *s)
{
    return acms_strbuf_add(sb, s, strlen(s));
}

int acms_strbuf_vaddf(acms_strbuf *sb, const char *fmt, va_list ap)
{
    int rc = ACMS_OK;
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(sb->buf ? sb->buf + sb->len : NULL, sb->buf ? sb->alloc - sb->len : 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        goto bad;
    if (sb->buf && (size_t)n < sb->alloc - sb->len) {
        sb->len += (size_t)n;
        return ACMS_OK;
    }
    rc = acms_strbuf_grow(sb, (size_t)n);
    if (rc != ACMS_OK)
        goto fail;
    n = vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, ap);
    if (n < 0)
        goto bad;
    sb->len += (size_t)n;
    return ACMS_OK;
bad:
    rc = ACMS_ERR;
fail:
    if (sb->buf)
        sb->buf[sb->len] = '\0'; /* a refused or failed print leaves the buffer as it was */
    return rc;
}

int acms_strbuf_addf(acms_strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = acms_strbuf_vaddf(sb, fmt, ap);
    va_end(ap);
    return rc;
}

void acms_strbuf_remove(acms_strbuf *sb, size_t pos, size_t n)
{
    if (pos >= sb->len)
        return;
    if (n > sb->len - pos)
        n = sb->len - pos;
    memmove(sb->buf + pos, sb->buf + pos + n, sb->len - pos - n);
    sb->len -= n;
    sb->buf[sb->len] = '\0';
}

void acms_strbuf_reset(acms_strbuf *sb)
{
    sb->len = 0;
    if (sb->buf)
        sb->buf[0] = '\0';
}

char *acms_strbuf_detach(acms_strbuf *sb, size_t *len)
{
    if (!sb->buf && acms_strbuf_grow(sb, 0) != ACMS_OK)
        return NULL;
    char *s = sb->buf;
    if (len)
        *len = sb->len;
    sb->buf = NULL;
    sb->len = sb->alloc = 0;
    return s;
}
