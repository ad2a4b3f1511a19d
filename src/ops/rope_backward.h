/* rope_backward.h: rotary position embedding of training (HF rotate_half
 * layout: pairs (i, i + hd/2)), applied in place over packed sequences, and its
 * backward, which is the rotation by the opposite angle.
 *   T = tokens, nh = heads, hd = head_dim */
#ifndef WHET_OPS_ROPE_BACKWARD_H
#define WHET_OPS_ROPE_BACKWARD_H
#include <stdint.h>

/* cos/sin tables [T, hd/2] for positions pos[T] and inv_freq[hd/2],
 * angle = (float)pos · inv_freq as transformers computes it in fp32. */
void whet_rope_tables(float *cos_t, float *sin_t, const int32_t *pos, const float *inv_freq, int64_t T, int hd);

/* x[T, nh, hd] rotated in place by the tables. */
void whet_rope_train_forward(float *x, const float *cos_t, const float *sin_t, int64_t T, int nh, int hd);

/* dx[T, nh, hd]: gradient wrt the rope input, in place over the output gradient. */
void whet_rope_backward(float *dx, const float *cos_t, const float *sin_t, int64_t T, int nh, int hd);
#endif
