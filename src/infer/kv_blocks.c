/* kv_blocks.c: block allocator, block tables, refcounts, prefix cache and
 * copy-on-write for the paged KV cache (see kv_blocks.h). The prefix table is
 * open addressing with linear probing and backward-shift deletion, sized to
 * twice the block count at init so it never grows. */
#include "infer/kv_blocks.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/model.h"

/* ---- hashing ---- */

static uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* Hash of one block given the hash of everything before it. Never 0 (0 marks
 * "not registered"). */
static uint64_t block_chain_hash(uint64_t parent, const int32_t *tokens, int n) {
    uint64_t h = mix64(parent + 0x9e3779b97f4a7c15ULL);
    for (int i = 0; i < n; i++) h = mix64(h ^ (uint64_t)(uint32_t)tokens[i]) + (uint64_t)i;
    return h ? h : 1;
}

/* The hash before the first block: depends on the salt only. */
static uint64_t root_hash(uint64_t salt) { return mix64(salt ^ 0x5851f42d4c957f2dULL); }

/* ---- prefix table ---- */

static uint32_t table_slot(const whet_kv_blocks *a, uint64_t h) { return (uint32_t)(h & a->table_mask); }

static int32_t table_find(const whet_kv_blocks *a, uint64_t h) {
    for (uint32_t i = table_slot(a, h);; i = (i + 1) & a->table_mask) {
        int32_t b = a->table[i];
        if (b < 0) return -1;
        if (a->block_hash[b] == h) return b;
    }
}

static void table_insert(whet_kv_blocks *a, int32_t block) {
    uint32_t i = table_slot(a, a->block_hash[block]);
    while (a->table[i] >= 0) i = (i + 1) & a->table_mask;
    a->table[i] = block;
}

/* Remove `block` and shift later entries of its cluster back (no tombstones). */
static void table_remove(whet_kv_blocks *a, int32_t block) {
    uint32_t i = table_slot(a, a->block_hash[block]);
    while (a->table[i] != block) {
        WHET_ASSERT(a->table[i] >= 0);
        i = (i + 1) & a->table_mask;
    }
    uint32_t hole = i;
    for (uint32_t j = (hole + 1) & a->table_mask; a->table[j] >= 0; j = (j + 1) & a->table_mask) {
        uint32_t home = table_slot(a, a->block_hash[a->table[j]]);
        /* Move j into the hole unless its home lies cyclically in (hole, j]. */
        bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!stays) {
            a->table[hole] = a->table[j];
            hole = j;
        }
    }
    a->table[hole] = -1;
}

/* ---- LRU of evictable blocks ---- */

static void lru_unlink(whet_kv_blocks *a, int32_t b) {
    int32_t p = a->lru_prev[b], n = a->lru_next[b];
    if (p >= 0) a->lru_next[p] = n; else a->lru_head = n;
    if (n >= 0) a->lru_prev[n] = p; else a->lru_tail = p;
    a->lru_prev[b] = a->lru_next[b] = -1;
    a->n_evictable--;
}

static void lru_push_tail(whet_kv_blocks *a, int32_t b) {
    a->lru_prev[b] = a->lru_tail;
    a->lru_next[b] = -1;
    if (a->lru_tail >= 0) a->lru_next[a->lru_tail] = b; else a->lru_head = b;
    a->lru_tail = b;
    a->n_evictable++;
}

/* ---- allocator ---- */

whet_status whet_kv_blocks_init(whet_kv_blocks *a, int n_blocks, int block_size, whet_kv_copy_fn copy, void *copy_ctx,
                                whet_error *err) {
    memset(a, 0, sizeof *a);
    if (n_blocks <= 0 || block_size <= 0)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "KV cache: %d blocks of %d tokens; both must be positive",
                           n_blocks, block_size);
    uint32_t cap = 16;
    while (cap < 2u * (uint32_t)n_blocks) cap <<= 1;
    size_t nb = (size_t)n_blocks;
    a->refcount = calloc(nb, sizeof *a->refcount);
    a->free_stack = malloc(nb * sizeof *a->free_stack);
    a->block_hash = calloc(nb, sizeof *a->block_hash);
    a->block_tokens = malloc(nb * (size_t)block_size * sizeof *a->block_tokens);
    a->block_parent = calloc(nb, sizeof *a->block_parent);
    a->lru_prev = malloc(nb * sizeof *a->lru_prev);
    a->lru_next = malloc(nb * sizeof *a->lru_next);
    a->table = malloc(cap * sizeof *a->table);
    if (!a->refcount || !a->free_stack || !a->block_hash || !a->block_tokens || !a->block_parent || !a->lru_prev ||
        !a->lru_next || !a->table) {
        whet_kv_blocks_free(a);
        return whet_errorf(err, WHET_ERR_NOMEM, "KV cache: out of memory for the bookkeeping of %d blocks", n_blocks);
    }
    a->n_blocks = n_blocks;
    a->block_size = block_size;
    /* Pop order 0, 1, 2... so tests and logs see low ids first. */
    for (int i = 0; i < n_blocks; i++) a->free_stack[i] = n_blocks - 1 - i;
    a->n_free = n_blocks;
    for (int i = 0; i < n_blocks; i++) a->lru_prev[i] = a->lru_next[i] = -1;
    a->lru_head = a->lru_tail = -1;
    for (uint32_t i = 0; i < cap; i++) a->table[i] = -1;
    a->table_mask = cap - 1;
    a->copy = copy;
    a->copy_ctx = copy_ctx;
    return WHET_OK;
}

void whet_kv_blocks_free(whet_kv_blocks *a) {
    if (!a) return;
    free(a->refcount);
    free(a->free_stack);
    free(a->block_hash);
    free(a->block_tokens);
    free(a->block_parent);
    free(a->lru_prev);
    free(a->lru_next);
    free(a->table);
    memset(a, 0, sizeof *a);
}

int whet_kv_blocks_available(const whet_kv_blocks *a) { return a->n_free + a->n_evictable; }
int whet_kv_blocks_used(const whet_kv_blocks *a) { return a->n_blocks - a->n_free - a->n_evictable; }

/* Take a block for new contents: a never-registered free one first, else the
 * least recently used registered one (dropping its registration). */
static int32_t take_block(whet_kv_blocks *a) {
    int32_t b;
    if (a->n_free > 0) {
        b = a->free_stack[--a->n_free];
    } else {
        WHET_ASSERT(a->lru_head >= 0);
        b = a->lru_head;
        lru_unlink(a, b);
        table_remove(a, b);
        a->block_hash[b] = 0;
        a->evictions++;
    }
    WHET_ASSERT(a->refcount[b] == 0);
    a->refcount[b] = 1;
    return b;
}

static void ref_block(whet_kv_blocks *a, int32_t b) {
    if (a->refcount[b]++ == 0) lru_unlink(a, b);   /* only registered blocks sit at refcount 0 */
}

static void unref_block(whet_kv_blocks *a, int32_t b) {
    WHET_ASSERT(a->refcount[b] > 0);
    if (--a->refcount[b] > 0) return;
    if (a->block_hash[b]) lru_push_tail(a, b);
    else a->free_stack[a->n_free++] = b;
}

/* ---- sequences ---- */

whet_status whet_kv_seq_init(whet_kv_seq *s, int max_tokens, int block_size, whet_error *err) {
    memset(s, 0, sizeof *s);
    int cap = (max_tokens + block_size - 1) / block_size;
    if (cap < 1) cap = 1;
    s->blocks = malloc((size_t)cap * sizeof *s->blocks);
    s->hashes = calloc((size_t)cap, sizeof *s->hashes);
    if (!s->blocks || !s->hashes) {
        whet_kv_seq_free(s);
        return whet_errorf(err, WHET_ERR_NOMEM, "KV cache: out of memory for a block table of %d blocks", cap);
    }
    s->cap = cap;
    return WHET_OK;
}

void whet_kv_seq_free(whet_kv_seq *s) {
    if (!s) return;
    free(s->blocks);
    free(s->hashes);
    memset(s, 0, sizeof *s);
}

static uint64_t seq_parent_hash(const whet_kv_seq *s, int block_index) {
    return block_index == 0 ? root_hash(s->salt) : s->hashes[block_index - 1];
}

int whet_kv_seq_match_prefix(whet_kv_blocks *a, whet_kv_seq *s, const int32_t *tokens, int n_tokens, int max_blocks) {
    WHET_ASSERT(s->n_blocks == 0);
    int bs = a->block_size, full = n_tokens / bs;
    if (full > max_blocks) full = max_blocks;
    if (full > s->cap) full = s->cap;
    a->prefix_queries_blocks += (uint64_t)(full > 0 ? full : 0);
    int i = 0;
    for (; i < full; i++) {
        uint64_t parent = seq_parent_hash(s, i);
        uint64_t h = block_chain_hash(parent, tokens + (size_t)i * bs, bs);
        int32_t b = table_find(a, h);
        if (b < 0 || a->block_parent[b] != parent ||
            memcmp(a->block_tokens + (size_t)b * bs, tokens + (size_t)i * bs, (size_t)bs * sizeof *tokens) != 0)
            break;
        ref_block(a, b);
        s->blocks[i] = b;
        s->hashes[i] = h;
    }
    s->n_blocks = s->n_registered = i;
    a->prefix_hit_blocks += (uint64_t)i;
    return i * bs;
}

int whet_kv_seq_blocks_needed(const whet_kv_blocks *a, const whet_kv_seq *s, int first_write, int n_tokens) {
    int bs = a->block_size;
    int want = (n_tokens + bs - 1) / bs;
    int need = want > s->n_blocks ? want - s->n_blocks : 0;
    if (n_tokens > first_write) {
        int last = (n_tokens - 1) / bs < s->n_blocks ? (n_tokens - 1) / bs : s->n_blocks - 1;
        for (int i = first_write / bs; i <= last; i++)
            if (a->refcount[s->blocks[i]] > 1) need++;
    }
    return need;
}

whet_status whet_kv_seq_reserve(whet_kv_blocks *a, whet_kv_seq *s, int first_write, int n_tokens, whet_error *err) {
    int bs = a->block_size;
    int want = (n_tokens + bs - 1) / bs;
    if (want > s->cap)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "KV cache: %d tokens exceed the sequence's %d-token table",
                           n_tokens, s->cap * bs);
    int need = whet_kv_seq_blocks_needed(a, s, first_write, n_tokens);
    if (need > whet_kv_blocks_available(a))
        return whet_errorf(err, WHET_ERR_NOMEM, "KV cache: %d blocks needed, %d available", need,
                           whet_kv_blocks_available(a));
    if (n_tokens > first_write) {
        int last = (n_tokens - 1) / bs < s->n_blocks ? (n_tokens - 1) / bs : s->n_blocks - 1;
        for (int i = first_write / bs; i <= last; i++) {
            int32_t old = s->blocks[i];
            if (a->refcount[old] <= 1) continue;
            int32_t fresh = take_block(a);
            if (a->copy) a->copy(a->copy_ctx, old, fresh);
            unref_block(a, old);
            s->blocks[i] = fresh;
            a->cow_copies++;
        }
    }
    while (s->n_blocks < want) {
        s->hashes[s->n_blocks] = 0;
        s->blocks[s->n_blocks++] = take_block(a);
    }
    return WHET_OK;
}

void whet_kv_seq_register_full(whet_kv_blocks *a, whet_kv_seq *s, const int32_t *tokens, int n_computed) {
    int bs = a->block_size;
    int full = n_computed / bs;
    if (full > s->n_blocks) full = s->n_blocks;
    for (int i = s->n_registered; i < full; i++) {
        uint64_t parent = seq_parent_hash(s, i);
        uint64_t h = block_chain_hash(parent, tokens + (size_t)i * bs, bs);
        s->hashes[i] = h;
        int32_t b = s->blocks[i];
        /* A block already registered (shared by a fork or matched) stays as is;
         * a duplicate of a registered prefix (computed concurrently) stays private. */
        if (a->block_hash[b] || table_find(a, h) >= 0) continue;
        a->block_hash[b] = h;
        a->block_parent[b] = parent;
        memcpy(a->block_tokens + (size_t)b * bs, tokens + (size_t)i * bs, (size_t)bs * sizeof *tokens);
        table_insert(a, b);
    }
    if (full > s->n_registered) s->n_registered = full;
}

void whet_kv_seq_fork(whet_kv_blocks *a, whet_kv_seq *dst, const whet_kv_seq *src) {
    WHET_ASSERT(dst->n_blocks == 0 && dst->cap >= src->n_blocks);
    for (int i = 0; i < src->n_blocks; i++) {
        ref_block(a, src->blocks[i]);
        dst->blocks[i] = src->blocks[i];
        dst->hashes[i] = src->hashes[i];
    }
    dst->n_blocks = src->n_blocks;
    dst->n_registered = src->n_registered;
    dst->salt = src->salt;
}

void whet_kv_seq_fork_prefix(whet_kv_blocks *a, whet_kv_seq *dst, const whet_kv_seq *src, int n_tokens) {
    const int bs = a->block_size, n = (n_tokens + bs - 1) / bs, full = n_tokens / bs;
    WHET_ASSERT(dst->n_blocks == 0 && n <= src->n_blocks && dst->cap >= n);
    for (int i = 0; i < n; i++) {
        ref_block(a, src->blocks[i]);
        dst->blocks[i] = src->blocks[i];
        dst->hashes[i] = i < full ? src->hashes[i] : 0;
    }
    dst->n_blocks = n;
    /* only blocks that lie wholly inside the shared prefix stay registered for dst */
    dst->n_registered = src->n_registered < full ? src->n_registered : full;
    dst->salt = src->salt;
}

void whet_kv_seq_release(whet_kv_blocks *a, whet_kv_seq *s) {
    /* Release from the end so a chain's tail is evicted before its head. */
    for (int i = s->n_blocks - 1; i >= 0; i--) unref_block(a, s->blocks[i]);
    s->n_blocks = s->n_registered = 0;
}

/* ---- consistency check (tests) ---- */

bool whet_kv_blocks_check(const whet_kv_blocks *a, const whet_kv_seq *const *seqs, int n_seqs, char *why, int why_len) {
    int n = a->n_blocks;
    int32_t *refs = calloc((size_t)n, sizeof *refs);
    uint8_t *where = calloc((size_t)n, 1);
    bool ok = refs && where;
    if (!ok) snprintf(why, (size_t)why_len, "out of memory");
    for (int q = 0; ok && q < n_seqs; q++)
        for (int i = 0; i < seqs[q]->n_blocks; i++) refs[seqs[q]->blocks[i]]++;
    for (int b = 0; ok && b < n; b++)
        if (refs[b] != a->refcount[b]) {
            snprintf(why, (size_t)why_len, "block %d: refcount %d but %d references", b, a->refcount[b], refs[b]);
            ok = false;
        }
    for (int i = 0; ok && i < a->n_free; i++) {
        int32_t b = a->free_stack[i];
        if (where[b] || a->refcount[b] || a->block_hash[b]) {
            snprintf(why, (size_t)why_len, "free block %d is also referenced, registered or listed twice", b);
            ok = false;
        }
        where[b] = 1;
    }
    int lru_len = 0;
    for (int32_t b = a->lru_head; ok && b >= 0; b = a->lru_next[b], lru_len++) {
        if (where[b] || a->refcount[b] || !a->block_hash[b]) {
            snprintf(why, (size_t)why_len, "evictable block %d is free, referenced or unregistered", b);
            ok = false;
        }
        where[b] = 2;
    }
    if (ok && lru_len != a->n_evictable) {
        snprintf(why, (size_t)why_len, "LRU holds %d blocks but n_evictable is %d", lru_len, a->n_evictable);
        ok = false;
    }
    for (int b = 0; ok && b < n; b++) {
        if (!where[b] && a->refcount[b] == 0) {
            snprintf(why, (size_t)why_len, "block %d is lost (unreferenced, not free, not evictable)", b);
            ok = false;
        }
        if (ok && a->block_hash[b] && table_find(a, a->block_hash[b]) != b) {
            snprintf(why, (size_t)why_len, "registered block %d is missing from the prefix table", b);
            ok = false;
        }
    }
    int in_table = 0;
    for (uint32_t i = 0; ok && i <= a->table_mask; i++) in_table += a->table[i] >= 0;
    for (int b = 0; ok && b < n; b++) in_table -= a->block_hash[b] != 0;
    if (ok && in_table != 0) {
        snprintf(why, (size_t)why_len, "prefix table and registered blocks disagree by %d", in_table);
        ok = false;
    }
    free(refs);
    free(where);
    return ok;
}

/* ---- K/V copy over a whet_kv_pool ---- */

void whet_kv_pool_copy_block(void *pool, int32_t src, int32_t dst) {
    whet_kv_pool *kv = pool;
    size_t per_block = (size_t)kv->block_size * (size_t)kv->n_kv_heads * (size_t)kv->head_dim;
    for (int l = 0; l < kv->n_layers; l++) {
        size_t base = (size_t)l * (size_t)kv->n_blocks * per_block;
        memcpy(kv->k + base + (size_t)dst * per_block, kv->k + base + (size_t)src * per_block, per_block * sizeof(float));
        memcpy(kv->v + base + (size_t)dst * per_block, kv->v + base + (size_t)src * per_block, per_block * sizeof(float));
    }
}
