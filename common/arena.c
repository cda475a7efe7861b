/* arena.c: region allocator. Blocks form a singly linked list; the head block is the one being
 * filled. Allocations are 16-byte aligned and zeroed (but acms_arena_alloc_raw's); large requests get
 * a block of their own. */
#include "arena.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct block {
    struct block *next;
    size_t size;
    size_t used;
    _Alignas(16) unsigned char data[];
} block;

#define GROW_SLOTS 8

struct acms_arena {
    block *head;
    block *first; /* kept by acms_arena_reset */
    size_t block_size;
    size_t total;
    /* arrays grown by acms_arena_push recently, with their capacity: pushing onto any other array
     * (one decoded by protobuf-c, say) copies it first, so push is safe on every array */
    void *grow_ptr[GROW_SLOTS];
    size_t grow_cap[GROW_SLOTS];
    unsigned grow_next;
};

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fputs("{\"level\":\"error\",\"msg\":\"out of memory\"}\n", stderr);
        abort();
    }
    return p;
}

static block *block_new(size_t size)
{
    block *b = xmalloc(sizeof *b + size);
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

acms_arena *acms_arena_new(size_t block_size)
{
    acms_arena *a = xmalloc(sizeof *a);
    a->block_size = block_size ? block_size : 16384;
    a->head = a->first = block_new(a->block_size);
    a->total = 0;
    memset(a->grow_ptr, 0, sizeof a->grow_ptr);
    a->grow_next = 0;
    return a;
}

void acms_arena_free(acms_arena *a)
{
    if (!a)
        return;
    block *b = a->head;
    while (b) {
        block *n = b->next;
        free(b);
        b = n;
    }
    free(a);
}

void acms_arena_reset(acms_arena *a)
{
    block *b = a->head;
    while (b) {
        block *n = b->next;
        if (b != a->first)
            free(b);
        b = n;
    }
    a->first->used = 0;
    a->first->next = NULL;
    a->head = a->first;
    a->total = 0;
    memset(a->grow_ptr, 0, sizeof a->grow_ptr);
}

void *acms_arena_alloc(acms_arena *a, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if (size == 0)
        size = 16;
    block *b = a->head;
    if (b->size - b->used < size) {
        if (size > a->block_size / 4) {
            /* big allocation: its own block, placed behind the head so the head keeps filling */
            block *big = block_new(size);
            big->used = size;
            big->next = b->next;
            b->next = big;
            a->total += size;
            memset(big->data, 0, size);
            return big->data;
        }
        b = block_new(a->block_size);
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += size;
    a->total += size;
    memset(p, 0, size);
    return p;
}

void *acms_arena_alloc_raw(acms_arena *a, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if (size == 0)
        size = 16;
    block *b = a->head;
    if (b->size - b->used < size)
        return acms_arena_alloc(a, size);
    void *p = b->data + b->used;
    b->used += size;
    a->total += size;
    return p;
}

char *acms_arena_strndup(acms_arena *a, const char *s, size_t n)
{
    if (!s)
        return NULL;
    char *d = acms_arena_alloc_raw(a, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *acms_arena_strdup(acms_arena *a, const char *s)
{
    return s ? acms_arena_strndup(a, s, strlen(s)) : NULL;
}

/* --- formatting ----------------------------------------------------------------------------------
 * The services format many short messages (adaptation reasons, issue texts, numbers as strings):
 * glibc's vfprintf costs ~0.3 us a call whatever the format. Formats made only of the conversions
 * below are rendered here by copying; any other format goes to vsnprintf. Output is identical to
 * vsnprintf's for the subset: %s (NULL as "(null)"), %d, %u, %ld, %lu, %zu, %g of an integral value
 * under 1e6 in magnitude (other values go through snprintf's %g), %%. */

typedef struct fmtbuf {
    char *p;
    size_t n, cap;
} fmtbuf;

static int fb_put(fmtbuf *b, const char *s, size_t n)
{
    if (b->n + n >= b->cap)
        return 0;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    return 1;
}

static int fb_u64(fmtbuf *b, unsigned long long v, int neg)
{
    char d[24];
    size_t i = sizeof d;
    do
        d[--i] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    if (neg)
        d[--i] = '-';
    return fb_put(b, d + i, sizeof d - i);
}

static int fb_i64(fmtbuf *b, long long v)
{
    return v < 0 ? fb_u64(b, 0ULL - (unsigned long long)v, 1) : fb_u64(b, (unsigned long long)v, 0);
}

static int fb_g(fmtbuf *b, double v)
{
    if (v == (double)(long long)v && v > -1e6 && v < 1e6 && !(v == 0 && signbit(v)))
        return fb_i64(b, (long long)v);
    char t[40];
    int n = snprintf(t, sizeof t, "%g", v);
    return n > 0 && (size_t)n < sizeof t && fb_put(b, t, (size_t)n);
}

/* 1 when every conversion of fmt is in the subset above. */
static int fmt_simple(const char *fmt)
{
    for (const char *f = strchr(fmt, '%'); f; f = strchr(f, '%')) {
        f++;
        if (*f == 'l' || *f == 'z') {
            if (!(f[1] == 'u' || (f[1] == 'd' && *f == 'l')))
                return 0;
            f++;
        }
        if (*f != 's' && *f != 'd' && *f != 'u' && *f != 'g' && *f != '%')
            return 0;
        f++;
    }
    return 1;
}

/* Renders the subset into b; 0 when it does not fit (ap is then consumed). */
static int fmt_render(fmtbuf *b, const char *fmt, va_list ap)
{
    for (const char *f = fmt; *f;) {
        const char *pct = strchr(f, '%');
        size_t lit = pct ? (size_t)(pct - f) : strlen(f);
        if (!fb_put(b, f, lit))
            return 0;
        if (!pct)
            break;
        f = pct + 1;
        char len = (*f == 'l' || *f == 'z') ? *f++ : 0;
        int ok = 1;
        switch (*f++) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            s = s ? s : "(null)";
            ok = fb_put(b, s, strlen(s));
            break;
        }
        case 'd': ok = fb_i64(b, len == 'l' ? va_arg(ap, long) : va_arg(ap, int)); break;
        case 'u':
            ok = fb_u64(b,
                        len == 'l'   ? va_arg(ap, unsigned long)
                        : len == 'z' ? va_arg(ap, size_t)
                                     : va_arg(ap, unsigned),
                        0);
            break;
        case 'g': ok = fb_g(b, va_arg(ap, double)); break;
        default: /* '%' */ ok = fb_put(b, "%", 1);
        }
        if (!ok)
            return 0;
    }
    b->p[b->n] = '\0';
    return 1;
}

char *acms_arena_vprintf(acms_arena *a, const char *fmt, va_list ap)
{
    char tmp[256];
    va_list ap2;
    if (fmt_simple(fmt)) {
        fmtbuf b = {tmp, 0, sizeof tmp};
        va_copy(ap2, ap);
        int ok = fmt_render(&b, fmt, ap2);
        va_end(ap2);
        if (ok)
            return acms_arena_strndup(a, tmp, b.n);
    }
    va_copy(ap2, ap);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return acms_arena_strdup(a, "");
    if ((size_t)n < sizeof tmp)
        return acms_arena_strndup(a, tmp, (size_t)n);
    char *d = acms_arena_alloc(a, (size_t)n + 1);
    vsnprintf(d, (size_t)n + 1, fmt, ap);
    return d;
}

char *acms_arena_u64(acms_arena *a, unsigned long long v)
{
    char d[24];
    fmtbuf b = {d, 0, sizeof d};
    fb_u64(&b, v, 0); /* 20 digits at most: fits */
    return acms_arena_strndup(a, d, b.n);
}

char *acms_arena_g(acms_arena *a, double v)
{
    char d[48];
    fmtbuf b = {d, 0, sizeof d};
    if (!fb_g(&b, v))
        return acms_arena_printf(a, "%g", v);
    return acms_arena_strndup(a, d, b.n);
}

char *acms_arena_printf(acms_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = acms_arena_vprintf(a, fmt, ap);
    va_end(ap);
    return s;
}

void *acms_arena_push(acms_arena *a, void *arr, size_t *n, size_t elem_size)
{
    size_t cur = *n;
    if (arr && cur) {
        for (unsigned i = 0; i < GROW_SLOTS; i++) {
            if (a->grow_ptr[i] == arr && cur < a->grow_cap[i]) {
                *n = cur + 1;
                return arr;
            }
        }
    }
    size_t cap = cur < 2 ? 4 : cur * 2;
    void *na = acms_arena_alloc(a, cap * elem_size);
    if (cur && arr)
        memcpy(na, arr, cur * elem_size);
    unsigned slot = a->grow_next++ % GROW_SLOTS;
    for (unsigned i = 0; i < GROW_SLOTS; i++) {
        if (a->grow_ptr[i] == arr && arr) {
            slot = i;
            break;
        }
    }
    a->grow_ptr[slot] = na;
    a->grow_cap[slot] = cap;
    *n = cur + 1;
    return na;
}

size_t acms_arena_used(const acms_arena *a)
{
    return a->total;
}

static void *pb_alloc(void *ud, size_t size)
{
    return acms_arena_alloc(ud, size);
}

static void pb_free(void *ud, void *p)
{
    (void)ud;
    (void)p;
}

ProtobufCAllocator acms_arena_pb(acms_arena *a)
{
    ProtobufCAllocator al = {.alloc = pb_alloc, .free = pb_free, .allocator_data = a};
    return al;
}
