/* embedding.h: token embedding lookup, out[t] = table[ids[t]] widened to
 * f32 from the table's dtype (f32/f16/bf16 or a quantized row layout). */
#ifndef WHET_OPS_EMBEDDING_H
#define WHET_OPS_EMBEDDING_H
#include <stdint.h>
#include "core/status.h"
#include "ops/weight.h"

/* out[T, H] = table[V, H][ids[t]]; an id outside [0, V) is an error naming it. */
whet_status whet_embedding(float *out, const whet_weight *table, const int32_t *ids, int64_t T, whet_error *err);
/* Widen row `r` of a weight of any dtype into dst[cols]. */
whet_status whet_weight_row_f32(const whet_weight *w, int64_t r, float *dst, whet_error *err);
#endif
