/* rope.h: rotary position embedding in Hugging Face's rotate_half convention
 * (dimension i pairs with i + hd/2, not with i + 1 as in Meta's original),
 * angles computed in float32 as transformers does: pos · inv_freq[i]. */
#ifndef WHET_OPS_ROPE_H
#define WHET_OPS_ROPE_H
#include <stdint.h>

/* x[T, n_heads, hd] rotated in place; token t sits at position pos[t];
 * inv_freq[hd/2] from whet_rope_inv_freq. */
void whet_rope(float *x, const int32_t *pos, const float *inv_freq, int64_t T, int n_heads, int hd);
#endif
