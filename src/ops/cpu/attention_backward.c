/* attention_backward.c: causal GQA attention forward/backward on the CPU,
 * parallel over (sequence, kv head) pairs: a pair owns the dk/dv rows of its
 * kv head in its sequence and the dq/o rows of the query heads sharing it,
 * so threads never write the same memory. With P = exp(S − lse):
 *   dV = Pᵀ·dO, dP = dO·Vᵀ, dS = P ∘ (dP − rowsum(dO ∘ O)), dQ = dS·K·scale, dK = dSᵀ·Q·scale. */
#include "ops/attention_backward.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const whet_attn_shape *s;
    const float *q, *k, *v, *o, *lse, *dout;
    float *out_o, *out_lse, *dq, *dk, *dv;
    int max_len;
    int failed;
} attn_ctx;

static float dot(const float *a, const float *b, int n) {
    float acc = 0;
    for (int i = 0; i < n; i++) acc += a[i] * b[i];
    return acc;
}

static void forward_pair(attn_ctx *c, int seq, int kvh, float *p) {
    const whet_attn_shape *s = c->s;
    const int group = s->nh / s->nkv, hd = s->hd;
    const int64_t st = s->cu_seqlens[seq], en = s->cu_seqlens[seq + 1];
    for (int hh = 0; hh < group; hh++) {
        const int h = kvh * group + hh;
        for (int64_t i = st; i < en; i++) {
            const float *qi = c->q + ((size_t)i * s->nh + h) * hd;
            float mx = -INFINITY;
            for (int64_t j = st; j <= i; j++) {
                const float sc = dot(qi, c->k + ((size_t)j * s->nkv + kvh) * hd, hd) * s->scale;
                p[j - st] = sc;
                if (sc > mx) mx = sc;
            }
            double sum = 0;
            for (int64_t j = st; j <= i; j++) {
                p[j - st] = expf(p[j - st] - mx);
                sum += p[j - st];
            }
            float *oi = c->out_o + ((size_t)i * s->nh + h) * hd;
            memset(oi, 0, sizeof(float) * (size_t)hd);
            const float inv = (float)(1.0 / sum);
            for (int64_t j = st; j <= i; j++) {
                const float w = p[j - st] * inv;
                const float *vj = c->v + ((size_t)j * s->nkv + kvh) * hd;
                for (int d = 0; d < hd; d++) oi[d] += w * vj[d];
            }
            c->out_lse[(size_t)i * s->nh + h] = mx + (float)log(sum);
        }
    }
}

static void backward_pair(attn_ctx *c, int seq, int kvh) {
    const whet_attn_shape *s = c->s;
    const int group = s->nh / s->nkv, hd = s->hd;
    const int64_t st = s->cu_seqlens[seq], en = s->cu_seqlens[seq + 1];
    for (int64_t j = st; j < en; j++) {
        memset(c->dk + ((size_t)j * s->nkv + kvh) * hd, 0, sizeof(float) * (size_t)hd);
        memset(c->dv + ((size_t)j * s->nkv + kvh) * hd, 0, sizeof(float) * (size_t)hd);
    }
    for (int hh = 0; hh < group; hh++) {
        const int h = kvh * group + hh;
        for (int64_t i = st; i < en; i++) {
            const size_t qo = ((size_t)i * s->nh + h) * hd;
            const float *qi = c->q + qo, *doi = c->dout + qo;
            float *dqi = c->dq + qo;
            memset(dqi, 0, sizeof(float) * (size_t)hd);
            const float lse = c->lse[(size_t)i * s->nh + h];
            const float D = dot(doi, c->o + qo, hd);
            for (int64_t j = st; j <= i; j++) {
                const size_t ko = ((size_t)j * s->nkv + kvh) * hd;
                const float *kj = c->k + ko, *vj = c->v + ko;
                const float p = expf(dot(qi, kj, hd) * s->scale - lse);
                const float ds = p * (dot(doi, vj, hd) - D) * s->scale;
                float *dkj = c->dk + ko, *dvj = c->dv + ko;
                for (int d = 0; d < hd; d++) {
                    dqi[d] += ds * kj[d];
                    dkj[d] += ds * qi[d];
                    dvj[d] += p * doi[d];
                }
            }
        }
    }
}

static void fwd_range(void *ctx, size_t b, size_t e, int worker) {
    (void)worker;
    attn_ctx *c = ctx;
    float *p = malloc(sizeof(float) * (size_t)(c->max_len > 0 ? c->max_len : 1));
    if (!p) { c->failed = 1; return; }
    for (size_t it = b; it < e; it++) forward_pair(c, (int)(it / (size_t)c->s->nkv), (int)(it % (size_t)c->s->nkv), p);
    free(p);
}

static void bwd_range(void *ctx, size_t b, size_t e, int worker) {
    (void)worker;
    attn_ctx *c = ctx;
    for (size_t it = b; it < e; it++) backward_pair(c, (int)(it / (size_t)c->s->nkv), (int)(it % (size_t)c->s->nkv));
}

static whet_status check_shape(const whet_attn_shape *s, int *max_len, whet_error *err) {
    if (s->nkv <= 0 || s->nh % s->nkv != 0)
        return whet_errorf(err, WHET_ERR_SHAPE, "attention: %d query heads are not a multiple of %d kv heads", s->nh,
                           s->nkv);
    if (s->n_seqs < 1 || s->cu_seqlens[0] != 0 || s->cu_seqlens[s->n_seqs] != s->T)
        return whet_errorf(err, WHET_ERR_SHAPE, "attention: cu_seqlens must run from 0 to T=%lld", (long long)s->T);
    *max_len = 0;
    for (int i = 0; i < s->n_seqs; i++) {
        const int len = s->cu_seqlens[i + 1] - s->cu_seqlens[i];
        if (len < 0) return whet_errorf(err, WHET_ERR_SHAPE, "attention: cu_seqlens decreases at sequence %d", i);
        if (len > *max_len) *max_len = len;
    }
    return WHET_OK;
}

whet_status whet_attention_train_forward(float *o, float *lse, const float *q, const float *k, const float *v,
                                         const whet_attn_shape *s, whet_threadpool *pool, whet_error *err) {
    attn_ctx c = {.s = s, .q = q, .k = k, .v = v, .out_o = o, .out_lse = lse};
    WHET_TRY(check_shape(s, &c.max_len, err));
    whet_parallel_for(pool, (size_t)s->n_seqs * (size_t)s->nkv, fwd_range, &c);
    if (c.failed) return whet_errorf(err, WHET_ERR_NOMEM, "attention forward: out of memory for a score row");
    return WHET_OK;
}

whet_status whet_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q,
                                    const float *k, const float *v, const float *o, const float *lse,
                                    const whet_attn_shape *s, whet_threadpool *pool, whet_error *err) {
    attn_ctx c = {.s = s, .q = q, .k = k, .v = v, .o = o, .lse = lse, .dout = dout, .dq = dq, .dk = dk, .dv = dv};
    WHET_TRY(check_shape(s, &c.max_len, err));
    whet_parallel_for(pool, (size_t)s->n_seqs * (size_t)s->nkv, bwd_range, &c);
    return WHET_OK;
}
