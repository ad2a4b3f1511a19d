/* rope.c: CPU rotary embedding, rotate_half pairing (i, i + hd/2), angles
 * in float32 like transformers (freqs = inv_freq · pos, then cos/sin). */
#include "ops/rope.h"
#include <math.h>

void whet_rope(float *x, const int32_t *pos, const float *inv_freq, int64_t T, int n_heads, int hd) {
    int half = hd / 2;
    float cs[256], sn[256];  /* head_dim <= 512 in every Llama-family model */
    for (int64_t t = 0; t < T; t++) {
        for (int i = 0; i < half && i < 256; i++) {
            float ang = (float)pos[t] * inv_freq[i];
            cs[i] = cosf(ang);
            sn[i] = sinf(ang);
        }
        for (int h = 0; h < n_heads; h++) {
            float *v = x + (t * n_heads + h) * hd;
            for (int i = 0; i < half; i++) {
                float c = i < 256 ? cs[i] : cosf((float)pos[t] * inv_freq[i]);
                float s = i < 256 ? sn[i] : sinf((float)pos[t] * inv_freq[i]);
                float a = v[i], b = v[i + half];
                v[i] = a * c - b * s;
                v[i + half] = b * c + a * s;
            }
        }
    }
}
