/* attention.c: CPU paged causal GQA attention of inference. Each (token,
 * head) pair walks its sequence's block table once with an online softmax
 * (running max and sum, as flash attention does), so no [T, T] score matrix
 * and no per-call allocation are needed; the pool splits the pairs. With
 * AVX2 (and a head_dim that is a multiple of 8) the q·k dots and the
 * weighted sums of v run 8 lanes wide; the softmax arithmetic is the same. */
#include "ops/attention.h"
#include <math.h>
#include <string.h>
#include "ops/quant_dot.h"
#if defined(__x86_64__) || defined(__i386__)
#include "ops/cpu/avx2_util.h"
#endif

typedef struct {
    float *out;
    const float *q;
    const whet_paged_attention *a;
} attn_ctx;

/* The keys query (t, h) attends to: positions first..last of its sequence
 * (a sliding window cuts the start), those the key mask allows, each found
 * through the block table at kv_slot(). */
typedef struct {
    int first, last;
    const int32_t *blocks;      /* the sequence's block table */
    const uint8_t *mask;        /* NULL: every position */
    size_t kv_row, head_off;    /* floats per cache row, this KV head's offset in it */
} kv_walk;

static inline kv_walk walk_of(const whet_paged_attention *a, int t, int h) {
    const int seq = a->seq_of[t], last = a->pos[t];
    kv_walk w = {.last = last, .blocks = a->block_tables[seq], .mask = a->key_mask ? a->key_mask[seq] : NULL,
                 .kv_row = (size_t)a->n_kv_heads * a->head_dim,
                 .head_off = (size_t)(h / (a->n_heads / a->n_kv_heads)) * a->head_dim};
    w.first = a->sliding_window > 0 && last - a->sliding_window + 1 > 0 ? last - a->sliding_window + 1 : 0;
    return w;
}

static inline size_t kv_slot(const whet_paged_attention *a, const kv_walk *w, int p) {
    return ((size_t)w->blocks[p / a->block_size] * a->block_size + (size_t)(p % a->block_size)) * w->kv_row +
           w->head_off;
}

static void attend_one(const whet_paged_attention *a, int t, int h, const float *qv, float *o) {
    const int hd = a->head_dim;
    const kv_walk w = walk_of(a, t, h);
    float m = -INFINITY;
    double l = 0;
    float acc[512];
    for (int i = 0; i < hd; i++) acc[i] = 0;
    for (int p = w.first; p <= w.last; p++) {
        if (w.mask && !w.mask[p]) continue;
        const size_t slot = kv_slot(a, &w, p);
        const float *k = a->k_cache + slot, *v = a->v_cache + slot;
        float s = 0;
        for (int i = 0; i < hd; i++) s += qv[i] * k[i];
        s *= a->scale;
        if (s > m) {
            float r = m == -INFINITY ? 0.0f : expf(m - s);
            for (int i = 0; i < hd; i++) acc[i] *= r;
            l *= r;
            m = s;
        }
        float wgt = expf(s - m);
        l += wgt;
        for (int i = 0; i < hd; i++) acc[i] += wgt * v[i];
    }
    float inv = l > 0 ? (float)(1.0 / l) : 0.0f;
    for (int i = 0; i < hd; i++) o[i] = acc[i] * inv;
}

#if defined(__x86_64__) || defined(__i386__)
/* attend_one with head_dim % 8 == 0: the same walk, 8 lanes at a time. */
AVX2_FN static void attend_one_avx2(const whet_paged_attention *a, int t, int h, const float *qv, float *o) {
    const int hd = a->head_dim;
    const kv_walk w = walk_of(a, t, h);
    float m = -INFINITY;
    double l = 0;
    __m256 acc[64];   /* hd <= 512 */
    for (int i = 0; i < hd / 8; i++) acc[i] = _mm256_setzero_ps();
    for (int p = w.first; p <= w.last; p++) {
        if (w.mask && !w.mask[p]) continue;
        const size_t slot = kv_slot(a, &w, p);
        const float *k = a->k_cache + slot, *v = a->v_cache + slot;
        __m256 d = _mm256_setzero_ps();
        for (int i = 0; i < hd; i += 8) d = _mm256_fmadd_ps(_mm256_loadu_ps(qv + i), _mm256_loadu_ps(k + i), d);
        float s = hsum_ps(d) * a->scale;
        if (s > m) {
            float r = m == -INFINITY ? 0.0f : expf(m - s);
            const __m256 rv = _mm256_set1_ps(r);
            for (int i = 0; i < hd / 8; i++) acc[i] = _mm256_mul_ps(acc[i], rv);
            l *= r;
            m = s;
        }
        float wgt = expf(s - m);
        l += wgt;
        const __m256 wv = _mm256_set1_ps(wgt);
        for (int i = 0; i < hd / 8; i++) acc[i] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(v + 8 * i), acc[i]);
    }
    const __m256 inv = _mm256_set1_ps(l > 0 ? (float)(1.0 / l) : 0.0f);
    for (int i = 0; i < hd / 8; i++) _mm256_storeu_ps(o + 8 * i, _mm256_mul_ps(acc[i], inv));
}
#endif

static void attend_range(void *p, size_t begin, size_t end, int worker) {
    (void)worker;
    const attn_ctx *c = p;
    const whet_paged_attention *a = c->a;
    size_t stride = (size_t)a->head_dim;
#if defined(__x86_64__) || defined(__i386__)
    if (a->head_dim % 8 == 0 && whet_cpu_isa() == WHET_ISA_AVX2) {
        for (size_t i = begin; i < end; i++) {
            int t = (int)(i / (size_t)a->n_heads), h = (int)(i % (size_t)a->n_heads);
            attend_one_avx2(a, t, h, c->q + i * stride, c->out + i * stride);
        }
        return;
    }
#endif
    for (size_t i = begin; i < end; i++) {
        int t = (int)(i / (size_t)a->n_heads), h = (int)(i % (size_t)a->n_heads);
        attend_one(a, t, h, c->q + i * stride, c->out + i * stride);
    }
}

whet_status whet_attention_paged(float *out, const float *q, const whet_paged_attention *a, whet_threadpool *pool,
                                 whet_error *err) {
    if (a->head_dim > 512 || a->n_kv_heads <= 0 || a->n_heads % a->n_kv_heads)
        return whet_errorf(err, WHET_ERR_UNSUPPORTED, "attention: head_dim %d / heads %d / kv heads %d not supported",
                           a->head_dim, a->n_heads, a->n_kv_heads);
    /* every block a query will read must be a real block of the pool */
    for (int t = 0; t < a->n_tokens; t++) {
        if (a->pos[t] < 0)
            return whet_errorf(err, WHET_ERR_INVALID_ARG, "attention: token %d has negative position %d", t, a->pos[t]);
        const int32_t *bt = a->block_tables[a->seq_of[t]];
        for (int b = 0; b <= a->pos[t] / a->block_size; b++)
            if (bt[b] < 0 || bt[b] >= a->n_blocks)
                return whet_errorf(err, WHET_ERR_INVALID_ARG,
                                   "attention: sequence %d's block table entry %d is %d, outside the pool of %d blocks",
                                   a->seq_of[t], b, bt[b], a->n_blocks);
    }
    attn_ctx c = {out, q, a};
    whet_parallel_for(pool, (size_t)a->n_tokens * (size_t)a->n_heads, attend_range, &c);
    return WHET_OK;
}
