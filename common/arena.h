/* arena.h: a region allocator. Everything allocated from an arena lives until acms_arena_free().
 * Decoded protobuf messages and documents of one event share one arena, so one free releases
 * them all; acms_arena_pb() gives protobuf-c an allocator whose free is a no-op.
 * An arena is used by one thread at a time. Allocation failure aborts (out of memory is fatal). */
#ifndef ACMS_ARENA_H
#define ACMS_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stdarg.h>
#include <stddef.h>

typedef struct acms_arena acms_arena;

/* New arena whose blocks are at least block_size bytes (0 = 16 KiB). */
acms_arena *acms_arena_new(size_t block_size);
/* Frees every allocation and the arena. NULL is accepted. */
void acms_arena_free(acms_arena *a);
/* Releases all allocations but keeps the first block for reuse. */
void acms_arena_reset(acms_arena *a);
/* Zeroed memory, 16-byte aligned. */
void *acms_arena_alloc(acms_arena *a, size_t size);
/* Like acms_arena_alloc but not zeroed: for memory the caller fills at once (a message its
 * init writes, an array it copies into). */
void *acms_arena_alloc_raw(acms_arena *a, size_t size);
/* Copy of s (NULL gives NULL). */
char *acms_arena_strdup(acms_arena *a, const char *s);
char *acms_arena_strndup(acms_arena *a, const char *s, size_t n);
char *acms_arena_printf(acms_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *acms_arena_vprintf(acms_arena *a, const char *fmt, va_list ap);
/* Decimal text of v, and v as "%g" renders it (byte-identical to acms_arena_printf's), without
 * parsing a format: for numbers rendered by the thousand. */
char *acms_arena_u64(acms_arena *a, unsigned long long v);
char *acms_arena_g(acms_arena *a, double v);
/* Grows an array of elem_size elements from n to n+1 (geometric), returning the new base.
 * Usage: arr = acms_arena_push(a, arr, &n, sizeof *arr); arr[n-1] = x; (n is incremented) */
void *acms_arena_push(acms_arena *a, void *arr, size_t *n, size_t elem_size);
/* Bytes handed out so far (for limits and tests). */
size_t acms_arena_used(const acms_arena *a);
/* A protobuf-c allocator drawing from the arena (free is a no-op). */
ProtobufCAllocator acms_arena_pb(acms_arena *a);

#endif
