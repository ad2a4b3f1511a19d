/* arena.c: the bump allocator of arena.h, a singly linked list of blocks. */
#include "core/arena.h"

#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 64

struct whet_arena_block {
    whet_arena_block *next;
    size_t size, used;
    unsigned char *data;
};

void whet_arena_init(whet_arena *a, size_t block_size) {
    memset(a, 0, sizeof *a);
    a->block_size = block_size ? block_size : (1u << 20);
}

static whet_arena_block *block_new(size_t size) {
    whet_arena_block *b = malloc(sizeof *b);
    if (!b) return NULL;
    b->data = aligned_alloc(ARENA_ALIGN, (size + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN);
    if (!b->data) {
        free(b);
        return NULL;
    }
    b->size = size;
    b->used = 0;
    b->next = NULL;
    return b;
}

void *whet_arena_alloc(whet_arena *a, size_t bytes) {
    size_t need = (bytes + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    if (need == 0) need = ARENA_ALIGN;
    whet_arena_block *b = a->head;
    if (!b || b->size - b->used < need) {
        size_t size = need > a->block_size ? need : a->block_size;
        b = block_new(size);
        if (!b) return NULL;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += need;
    a->used_total += need;
    if (a->used_total > a->high_water) a->high_water = a->used_total;
    return p;
}

void *whet_arena_calloc(whet_arena *a, size_t count, size_t size) {
    if (size && count > (size_t)-1 / size) return NULL;
    void *p = whet_arena_alloc(a, count * size);
    if (p) memset(p, 0, count * size);
    return p;
}

char *whet_arena_strdup(whet_arena *a, const char *s) {
    size_t n = strlen(s) + 1;
    char *p = whet_arena_alloc(a, n);
    if (p) memcpy(p, s, n);
    return p;
}

void whet_arena_reset(whet_arena *a) {
    whet_arena_block *keep = NULL;
    for (whet_arena_block *b = a->head, *next; b; b = next) {
        next = b->next;
        if (!keep || b->size > keep->size) {
            if (keep) {
                free(keep->data);
                free(keep);
            }
            keep = b;
        } else {
            free(b->data);
            free(b);
        }
    }
    if (keep) {
        keep->used = 0;
        keep->next = NULL;
    }
    a->head = keep;
    a->used_total = 0;
}

void whet_arena_free(whet_arena *a) {
    for (whet_arena_block *b = a->head, *next; b; b = next) {
        next = b->next;
        free(b->data);
        free(b);
    }
    a->head = NULL;
    a->used_total = 0;
}
