/* kv_blocks.h: the paged KV cache's bookkeeping (vLLM's block manager):
 * which of the pool's fixed-size blocks are free, which sequence owns which
 * blocks (its block table), how many sequences share a block (refcount), and
 * which full blocks hold a known token prefix (prefix caching).
 *
 * The K/V numbers live in a whet_kv_pool (model/model.h); this file only hands
 * out block ids. Everything is sized at init: the free stack, the refcounts,
 * the prefix hash table and every sequence's block table, so nothing here
 * allocates on the per-token path.
 *
 * Prefix caching: a block that is completely filled is registered under a
 * chained hash of (salt, all tokens up to and including the block). When a
 * later sequence starts with the same tokens (and the same salt, e.g. the
 * same LoRA adapter) it takes a reference on the registered blocks instead of
 * recomputing them. A registered block whose refcount drops to 0 is not freed
 * but parked on an LRU list; it is evicted (its registration dropped) only when
 * a fresh block is needed and the free stack is empty.
 *
 * Forks (n > 1 samples of one prompt) share all blocks; a sequence that is
 * about to write into a block that someone else also references gets a
 * private copy first (copy-on-write), through the copy callback. */
#ifndef WHET_INFER_KV_BLOCKS_H
#define WHET_INFER_KV_BLOCKS_H
#include <stdbool.h>
#include <stdint.h>
#include "core/status.h"

/* Copy block `src`'s K/V contents to block `dst` (all layers). */
typedef void (*whet_kv_copy_fn)(void *ctx, int32_t src, int32_t dst);

typedef struct {
    int n_blocks, block_size;
    int32_t *refcount;        /* [n_blocks] sequences referencing the block */
    int32_t *free_stack;      /* [n_blocks] unregistered free blocks */
    int n_free;
    /* prefix cache */
    uint64_t *block_hash;     /* [n_blocks] chained hash of a registered full block, 0 = not registered */
    int32_t *block_tokens;    /* [n_blocks, block_size] tokens of a registered block (verifies a hash hit) */
    uint64_t *block_parent;   /* [n_blocks] hash of the previous block (verifies the chain) */
    int32_t *lru_prev, *lru_next; /* [n_blocks] evictable (registered, refcount 0) blocks, oldest at head */
    int32_t lru_head, lru_tail;
    int n_evictable;
    int32_t *table;           /* [table_cap] open addressing: block id or -1 */
    uint32_t table_mask;
    whet_kv_copy_fn copy;     /* NULL: copy-on-write copies nothing (bookkeeping tests) */
    void *copy_ctx;
    /* counters for /metrics */
    uint64_t prefix_queries_blocks, prefix_hit_blocks, cow_copies, evictions;
} whet_kv_blocks;

/* A sequence's block table: blocks[i] holds its positions [i*bs, (i+1)*bs). */
typedef struct {
    int32_t *blocks;          /* [cap] */
    uint64_t *hashes;         /* [cap] chained hash of each full block (0 until known) */
    int n_blocks, cap;
    int n_registered;         /* leading blocks whose hash has been computed */
    uint64_t salt;            /* mixed into the first block's hash (adapter id) */
} whet_kv_seq;

whet_status whet_kv_blocks_init(whet_kv_blocks *a, int n_blocks, int block_size, whet_kv_copy_fn copy, void *copy_ctx,
                                whet_error *err);
void whet_kv_blocks_free(whet_kv_blocks *a);

/* Preallocate a block table able to hold max_tokens positions. */
whet_status whet_kv_seq_init(whet_kv_seq *s, int max_tokens, int block_size, whet_error *err);
void whet_kv_seq_free(whet_kv_seq *s);

/* Blocks a new allocation can take now: free + evictable. */
int whet_kv_blocks_available(const whet_kv_blocks *a);
int whet_kv_blocks_used(const whet_kv_blocks *a);   /* referenced by some sequence */

/* Blocks that making positions [0, n_tokens) writable from `first_write` on
 * would take: new blocks at the end plus private copies of shared blocks. */
int whet_kv_seq_blocks_needed(const whet_kv_blocks *a, const whet_kv_seq *s, int first_write, int n_tokens);

/* Give `s` (which must own no blocks yet) the longest registered prefix of
 * tokens[0..n_tokens), taking a reference on each block. At most
 * max_blocks full blocks are taken (the caller keeps the last prompt token
 * uncached so its logits get computed). Returns the number of tokens covered. */
int whet_kv_seq_match_prefix(whet_kv_blocks *a, whet_kv_seq *s, const int32_t *tokens, int n_tokens, int max_blocks);

/* Make positions [first_write, n_tokens) writable: append blocks until the
 * table covers n_tokens and copy any shared block in the written range.
 * All-or-nothing: WHET_ERR_NOMEM (nothing changed) when the pool lacks blocks. */
whet_status whet_kv_seq_reserve(whet_kv_blocks *a, whet_kv_seq *s, int first_write, int n_tokens, whet_error *err);

/* After K/V of tokens[0..n_computed) are in the cache: register the newly
 * completed full blocks for prefix caching. */
void whet_kv_seq_register_full(whet_kv_blocks *a, whet_kv_seq *s, const int32_t *tokens, int n_computed);

/* Share all of src's blocks with dst (dst must own none). */
void whet_kv_seq_fork(whet_kv_blocks *a, whet_kv_seq *dst, const whet_kv_seq *src);
/* Share the blocks of src that hold positions [0, n_tokens) (src must have
 * computed them; dst must own none). The last one may be partly src's own
 * later tokens: dst's first write there copies it (copy-on-write). */
void whet_kv_seq_fork_prefix(whet_kv_blocks *a, whet_kv_seq *dst, const whet_kv_seq *src, int n_tokens);

/* Drop all of s's references; s keeps its capacity for reuse. */
void whet_kv_seq_release(whet_kv_blocks *a, whet_kv_seq *s);

/* Consistency check for tests: refcounts equal the references held by the
 * given sequences, every block is in exactly one of {referenced, free,
 * evictable}, and the hash table matches block_hash. */
/* The whet_kv_copy_fn for a whet_kv_pool (model/model.h): `pool` is the pool. */
void whet_kv_pool_copy_block(void *pool, int32_t src, int32_t dst);

bool whet_kv_blocks_check(const whet_kv_blocks *a, const whet_kv_seq *const *seqs, int n_seqs, char *why, int why_len);
#endif
