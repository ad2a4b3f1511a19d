/* sft_pack.h: the growing example list the dataset builder fills, and
 * LLaMA-Factory's SFT packing over it (sft_pack.c). */
#ifndef WHET_DATA_SFT_PACK_H
#define WHET_DATA_SFT_PACK_H
#include "data/sft_dataset.h"

typedef struct {
    whet_sft_example *items;
    size_t n, cap;
} whet_ex_list;

/* Append an example; takes ids/labels (malloc'd), copies origin. */
whet_status whet_ex_push(whet_ex_list *l, int32_t *ids, int32_t *labels, int64_t len, const char *origin,
                         whet_error *err);
/* Replace the list by packed rows of cutoff + 1 tokens (cutoff = LLaMA-Factory's decremented cutoff_len). */
whet_status whet_sft_pack(whet_ex_list *l, long long cutoff, bool neat, int32_t pad, whet_error *err);
#endif
