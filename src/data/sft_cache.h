/* sft_cache.h: the tokenized-dataset cache (sft_cache.c): a fingerprint of
 * every input of the encoding, and load/save of the encoded examples. */
#ifndef WHET_DATA_SFT_CACHE_H
#define WHET_DATA_SFT_CACHE_H
#include <stdbool.h>
#include <stdint.h>
#include "data/sft_dataset.h"

whet_status whet_sft_cache_fingerprint(const whet_lf_args *args, const char *key, const whet_tokenizer *tok,
                                       uint64_t *out, whet_error *err);
/* false when the cache is off (WHET_CACHE_DIR=none, or no HOME). */
bool whet_sft_cache_path(uint64_t fp, char *out, size_t cap);
whet_status whet_sft_cache_load(const char *path, uint64_t fp, whet_sft_dataset *out, whet_error *err);
whet_status whet_sft_cache_save(const char *path, uint64_t fp, const whet_sft_dataset *d, whet_error *err);
#endif
