/* arena.h: bump allocator for memory that shares a lifetime (one training
 * step's activations, one request's scratch). Reset frees everything at once;
 * nothing is freed piecemeal, so the per-token path never calls malloc. */
#ifndef WHET_CORE_ARENA_H
#define WHET_CORE_ARENA_H

#include <stddef.h>
#include "core/status.h"

typedef struct whet_arena_block whet_arena_block;

typedef struct {
    whet_arena_block *head;   /* newest block first */
    size_t block_size;        /* default size of a new block */
    size_t used_total;        /* bytes handed out since the last reset */
    size_t high_water;        /* max used_total ever seen */
} whet_arena;

void whet_arena_init(whet_arena *a, size_t block_size);
/* Aligned to 64 bytes; returns NULL only when the system is out of memory. */
void *whet_arena_alloc(whet_arena *a, size_t bytes);
/* Zero-filled variant. */
void *whet_arena_calloc(whet_arena *a, size_t count, size_t size);
/* Copy a string into the arena. */
char *whet_arena_strdup(whet_arena *a, const char *s);
/* Forget every allocation but keep the largest block for reuse. */
void whet_arena_reset(whet_arena *a);
void whet_arena_free(whet_arena *a);

#endif
