/* arena.c: region allocator. Blocks form a singly linked list; the head block is the one being
 * filled. Allocations are 16-byte aligned and zeroed; large requests get a block of their own. */
#include "arena.h"

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
    block *first;            /* kept by acms_arena_reset */
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

/* Like acms_arena_alloc without the zeroing, for memory the caller fills at once. */
static void *alloc_raw(acms_arena *a, size_t size)
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
    char *d = alloc_raw(a, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *acms_arena_strdup(acms_arena *a, const char *s)
{
    return s ? acms_arena_strndup(a, s, strlen(s)) : NULL;
}

char *acms_arena_vprintf(acms_arena *a, const char *fmt, va_list ap)
{
    char tmp[256];
    va_list ap2;
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
