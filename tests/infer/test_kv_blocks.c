/* test_kv_blocks.c: the paged-KV block allocator: allocation is
 * all-or-nothing, prefix caching shares exactly the blocks whose whole token
 * prefix (and salt) agrees, evictable blocks are reused LRU-first,
 * copy-on-write gives a forked sequence a private copy of a shared block
 * with the same K/V contents, and a random workload keeps every refcount,
 * free list and prefix-table entry consistent. */
#include <stdlib.h>
#include "core/rng.h"
#include "infer/kv_blocks.h"
#include "model/model.h"
#include "test.h"

#define BS 16

static void fill_tokens(int32_t *t, int n, int32_t base) {
    for (int i = 0; i < n; i++) t[i] = base + i;
}

static void check_consistent(const whet_kv_blocks *a, const whet_kv_seq *const *seqs, int n) {
    char why[256] = "";
    bool ok = whet_kv_blocks_check(a, seqs, n, why, sizeof why);
    CHECK_MSG(ok, "%s", why);
}

static void test_alloc_release(void) {
    whet_error err = {0};
    whet_kv_blocks a;
    whet_kv_seq s, t;
    CHECK_OK(whet_kv_blocks_init(&a, 4, BS, NULL, NULL, &err), &err);
    CHECK_OK(whet_kv_seq_init(&s, 100, BS, &err), &err);
    CHECK_OK(whet_kv_seq_init(&t, 100, BS, &err), &err);
    CHECK_OK(whet_kv_seq_reserve(&a, &s, 0, 33, &err), &err);    /* 3 blocks */
    CHECK_EQ_INT(s.n_blocks, 3);
    CHECK_EQ_INT(whet_kv_blocks_available(&a), 1);
    CHECK_EQ_INT(whet_kv_seq_blocks_needed(&a, &t, 0, 17), 2);
    CHECK_EQ_INT(whet_kv_seq_reserve(&a, &t, 0, 17, &err), WHET_ERR_NOMEM);
    CHECK_EQ_INT(t.n_blocks, 0);                                   /* nothing taken on failure */
    CHECK_EQ_INT(whet_kv_blocks_available(&a), 1);
    CHECK_OK(whet_kv_seq_reserve(&a, &s, 33, 48, &err), &err);   /* still 3 blocks */
    CHECK_EQ_INT(s.n_blocks, 3);
    CHECK_EQ_INT(whet_kv_seq_reserve(&a, &s, 0, 200, &err), WHET_ERR_INVALID_ARG); /* beyond its table */
    const whet_kv_seq *seqs[] = {&s, &t};
    check_consistent(&a, seqs, 2);
    whet_kv_seq_release(&a, &s);
    CHECK_EQ_INT(whet_kv_blocks_available(&a), 4);
    CHECK_EQ_INT(whet_kv_blocks_used(&a), 0);
    check_consistent(&a, seqs, 2);
    whet_kv_seq_free(&s);
    whet_kv_seq_free(&t);
    whet_kv_blocks_free(&a);
}

static void test_prefix_cache(void) {
    whet_error err = {0};
    whet_kv_blocks a;
    whet_kv_seq s, t;
    int32_t tok[64], other[64];
    fill_tokens(tok, 64, 100);
    CHECK_OK(whet_kv_blocks_init(&a, 8, BS, NULL, NULL, &err), &err);
    CHECK_OK(whet_kv_seq_init(&s, 64, BS, &err), &err);
    CHECK_OK(whet_kv_seq_init(&t, 64, BS, &err), &err);
    CHECK_EQ_INT(whet_kv_seq_match_prefix(&a, &s, tok, 40, 8), 0);  /* empty cache */
    CHECK_OK(whet_kv_seq_reserve(&a, &s, 0, 40, &err), &err);
    whet_kv_seq_register_full(&a, &s, tok, 40);                     /* 2 full blocks registered */
    int32_t b0 = s.blocks[0], b1 = s.blocks[1];
    /* While s still runs, t shares its first two blocks. */
    CHECK_EQ_INT(whet_kv_seq_match_prefix(&a, &t, tok, 64, 8), 32);
    CHECK(t.blocks[0] == b0 && t.blocks[1] == b1);
    CHECK_EQ_INT(a.refcount[b0], 2);
    const whet_kv_seq *seqs[] = {&s, &t};
    check_consistent(&a, seqs, 2);
    whet_kv_seq_release(&a, &t);
    /* max_blocks caps the match (the caller keeps the last prompt token). */
    CHECK_EQ_INT(whet_kv_seq_match_prefix(&a, &t, tok, 64, 1), 16);
    whet_kv_seq_release(&a, &t);
    /* A different token in block 1 stops the match after block 0. */
    memcpy(other, tok, sizeof other);
    other[20] = 7;
    CHECK_EQ_INT(whet_kv_seq_match_prefix(&a, &t, other, 64, 8), 16);
    whet_kv_seq_release(&a, &t);
    /* A different first block shares nothing even though block 1 is equal. */
    other[20] = tok[20];
    other[3] = 7;
    CHECK_EQ_INT(whet_kv_seq_match_prefix(&a, &t, other, 64, 8), 0);
    /* A different salt (another adapter) shares nothing. */
    t.salt = 5;
    CHECK_EQ_INT(whet_kv_seq_match_prefix(&a, &t, tok, 64, 8), 0);
    t.salt = 0;
    /* After s finishes its blocks are evictable, still matchable. */
    whet_kv_seq_release(&a, &s);
    CHECK_EQ_INT(a.n_evictable, 2);
    CHECK_EQ_INT(whet_kv_blocks_available(&a), 8);
    CHECK_EQ_INT(whet_kv_seq_match_prefix(&a, &t, tok, 64, 8), 32);
    CHECK_EQ_INT(a.n_evictable, 0);
    check_consistent(&a, seqs, 2);
    whet_kv_seq_release(&a, &t);
    /* Filling the pool evicts them (the free stack goes first, then LRU). */
    CHECK_OK(whet_kv_seq_reserve(&a, &s, 0, 64, &err), &err);   /* 4 of 6 free */
    CHECK_EQ_INT(a.evictions, 0);
    CHECK_OK(whet_kv_seq_reserve(&a, &t, 0, 64, &err), &err);   /* 2 free + 2 evicted */
    CHECK_EQ_INT(a.evictions, 2);
    check_consistent(&a, seqs, 2);
    whet_kv_seq_release(&a, &s);
    whet_kv_seq_release(&a, &t);
    CHECK_EQ_INT(whet_kv_seq_match_prefix(&a, &t, tok, 64, 8), 0);
    CHECK(a.prefix_hit_blocks == 2 + 1 + 1 + 2);
    whet_kv_seq_free(&s);
    whet_kv_seq_free(&t);
    whet_kv_blocks_free(&a);
}

/* Fork + copy-on-write over a real (small) KV pool: the copy holds the same
 * K/V and the parent's block is untouched. */
static void test_fork_cow(void) {
    whet_error err = {0};
    whet_model_config cfg = {0};
    cfg.n_layers = 2;
    cfg.n_kv_heads = 2;
    cfg.head_dim = 4;
    whet_kv_pool pool;
    CHECK_OK(whet_kv_pool_init(&pool, &cfg, BS, 6, &err), &err);
    size_t n = (size_t)cfg.n_layers * 6 * BS * 2 * 4;
    for (size_t i = 0; i < n; i++) {
        pool.k[i] = (float)i;
        pool.v[i] = -(float)i;
    }
    whet_kv_blocks a;
    whet_kv_seq p, c;
    CHECK_OK(whet_kv_blocks_init(&a, 6, BS, whet_kv_pool_copy_block, &pool, &err), &err);
    CHECK_OK(whet_kv_seq_init(&p, 64, BS, &err), &err);
    CHECK_OK(whet_kv_seq_init(&c, 64, BS, &err), &err);
    CHECK_OK(whet_kv_seq_reserve(&a, &p, 0, 20, &err), &err);   /* blocks 0 (full), 1 (4 tokens) */
    whet_kv_seq_fork(&a, &c, &p);
    CHECK_EQ_INT(a.refcount[p.blocks[1]], 2);
    /* The child writes position 20: block 1 is shared, so it gets a copy; block 0 stays shared. */
    CHECK_EQ_INT(whet_kv_seq_blocks_needed(&a, &c, 20, 21), 1);
    CHECK_OK(whet_kv_seq_reserve(&a, &c, 20, 21, &err), &err);
    CHECK(c.blocks[0] == p.blocks[0]);
    CHECK(c.blocks[1] != p.blocks[1]);
    CHECK_EQ_INT(a.refcount[p.blocks[1]], 1);
    CHECK(a.cow_copies == 1);
    size_t per_block = BS * 2 * 4;
    int same = 1;
    for (int l = 0; l < cfg.n_layers; l++) {
        const float *src = pool.k + ((size_t)l * 6 + (size_t)p.blocks[1]) * per_block;
        const float *dst = pool.k + ((size_t)l * 6 + (size_t)c.blocks[1]) * per_block;
        const float *vdst = pool.v + ((size_t)l * 6 + (size_t)c.blocks[1]) * per_block;
        for (size_t i = 0; i < per_block; i++) same &= dst[i] == src[i] && vdst[i] == -src[i];
        same &= src[0] == (float)(((size_t)l * 6 + (size_t)p.blocks[1]) * per_block);
    }
    CHECK(same);
    /* The parent now owns block 1 alone: writing it needs no copy. */
    CHECK_EQ_INT(whet_kv_seq_blocks_needed(&a, &p, 20, 21), 0);
    const whet_kv_seq *seqs[] = {&p, &c};
    check_consistent(&a, seqs, 2);
    whet_kv_seq_release(&a, &p);
    whet_kv_seq_release(&a, &c);
    CHECK_EQ_INT(whet_kv_blocks_available(&a), 6);
    check_consistent(&a, seqs, 2);
    whet_kv_seq_free(&p);
    whet_kv_seq_free(&c);
    whet_kv_blocks_free(&a);
    whet_kv_pool_free(&pool);
}

/* Random reserve / register / match / fork / release over 12 sequences with
 * prompts drawn from 3 shared prefixes; the invariants hold after every op. */
static void test_random_workload(void) {
    whet_error err = {0};
    enum { NS = 12, MAXT = 96 };
    whet_kv_blocks a;
    whet_kv_seq seq[NS];
    int len[NS];
    int32_t toks[NS][MAXT];
    const whet_kv_seq *ptrs[NS];
    CHECK_OK(whet_kv_blocks_init(&a, 30, BS, NULL, NULL, &err), &err);
    for (int i = 0; i < NS; i++) {
        CHECK_OK(whet_kv_seq_init(&seq[i], MAXT, BS, &err), &err);
        len[i] = 0;
        ptrs[i] = &seq[i];
    }
    whet_rng rng;
    whet_rng_seed(&rng, 1234);
    int bad = 0;
    for (int step = 0; step < 5000 && !bad; step++) {
        int i = (int)whet_rng_below(&rng, NS);
        int op = (int)whet_rng_below(&rng, 4);
        if (seq[i].n_blocks == 0 && len[i] == 0) {
            int family = (int)whet_rng_below(&rng, 3);
            int n = 1 + (int)whet_rng_below(&rng, MAXT - 8);
            for (int k = 0; k < n; k++) toks[i][k] = family * 1000 + (k < 40 ? k : (int)whet_rng_below(&rng, 50));
            int got = whet_kv_seq_match_prefix(&a, &seq[i], toks[i], n, (n - 1) / BS);
            len[i] = got;
            if (got % BS) bad = 1;
            if (whet_kv_seq_reserve(&a, &seq[i], got, n, &err) == WHET_OK) {
                whet_kv_seq_register_full(&a, &seq[i], toks[i], n);
                len[i] = n;
            }
        } else if (op == 0 && len[i] < MAXT) {
            toks[i][len[i]] = (int32_t)whet_rng_below(&rng, 50);
            if (whet_kv_seq_reserve(&a, &seq[i], len[i], len[i] + 1, &err) == WHET_OK) {
                len[i]++;
                whet_kv_seq_register_full(&a, &seq[i], toks[i], len[i]);
            }
        } else if (op == 1) {
            int j = (int)whet_rng_below(&rng, NS);
            if (j != i && seq[j].n_blocks == 0 && len[i] > 0) {
                whet_kv_seq_release(&a, &seq[j]);
                whet_kv_seq_fork(&a, &seq[j], &seq[i]);
                memcpy(toks[j], toks[i], sizeof toks[i]);
                len[j] = len[i];
            }
        } else {
            whet_kv_seq_release(&a, &seq[i]);
            len[i] = 0;
        }
        char why[256] = "";
        if (!whet_kv_blocks_check(&a, ptrs, NS, why, sizeof why)) {
            CHECK_MSG(0, "step %d: %s", step, why);
            bad = 1;
        }
    }
    CHECK(!bad);
    CHECK(a.prefix_hit_blocks > 0);
    CHECK(a.evictions > 0);
    CHECK(a.cow_copies > 0);
    for (int i = 0; i < NS; i++) whet_kv_seq_release(&a, &seq[i]);
    CHECK_EQ_INT(whet_kv_blocks_available(&a), 30);
    for (int i = 0; i < NS; i++) whet_kv_seq_free(&seq[i]);
    whet_kv_blocks_free(&a);
}

int main(void) {
    test_alloc_release();
    test_prefix_cache();
    test_fork_cow();
    test_random_workload();
    return TEST_SUMMARY();
}
