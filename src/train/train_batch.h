/* train_batch.h: packing SFT examples into one training micro-batch: the
 * examples are laid back to back (no padding) with cu_seqlens, positions
 * restart at 0 for each, and the labels are shifted by one as transformers'
 * causal-LM loss does (targets[t] = labels[t+1] within the same example; an
 * example's last token has no target).
 *   T = Σ len of the packed examples */
#ifndef WHET_TRAIN_TRAIN_BATCH_H
#define WHET_TRAIN_TRAIN_BATCH_H
#include <stdint.h>
#include "core/status.h"
#include "data/sft_dataset.h"
#include "model/train_model.h"

typedef struct {
    int64_t cap_tokens, cap_seqs;
    int32_t *tokens, *pos, *targets;  /* [cap_tokens] */
    int32_t *cu_seqlens;              /* [cap_seqs + 1] */
    int64_t T, n_labels;              /* tokens and counted targets of the packed batch */
    int n_seqs;
} whet_batch_buf;

/* Pack ds->items[idx[0..n)] into `b` (grown as needed). */
whet_status whet_batch_pack(whet_batch_buf *b, const whet_sft_dataset *ds, const uint32_t *idx, int n,
                            whet_error *err);
/* Number of shifted targets example `e` contributes. */
int64_t whet_example_n_targets(const whet_sft_example *e);
/* View of the packed arrays as the model's batch. */
whet_train_batch whet_batch_view(const whet_batch_buf *b, uint64_t noise_seed, bool training);
void whet_batch_buf_free(whet_batch_buf *b);
#endif
