/* sft_dataset.h: a supervised fine-tuning dataset, ready for the trainer:
 * LLaMA-Factory's pipeline (dataset_info.json registry -> alpaca/sharegpt
 * reader -> template encoding -> masking and cutoff_len truncation, §3.4 of
 * shared/reference/llamafactory.md) turned into token ids and labels.
 * labels[i] is the id the model must predict AT position i (already equal to
 * input_ids[i] or WHET_IGNORE_INDEX = -100, HF's convention: the trainer
 * shifts by one itself, like transformers' causal-LM loss). */
#ifndef WHET_DATA_SFT_DATASET_H
#define WHET_DATA_SFT_DATASET_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/status.h"
#include "io/lf_args.h"
#include "tokenizer/tokenizer.h"

#define WHET_IGNORE_INDEX (-100)

typedef struct {
    int32_t *input_ids;   /* [len] */
    int32_t *labels;      /* [len], -100 = not in the loss */
    int64_t len;
    const char *origin;   /* "file.json record 17", for messages; owned by the dataset */
    /* SFT packing only (NULL otherwise), LLaMA-Factory's packed processor: several examples in one row
     * of cutoff_len tokens, padded with pad (label -100, position 0). */
    int32_t *position_ids; /* [len] restart at 0 for each packed example */
    int32_t *segment_ids;  /* [len] neat_packing: i+1 for the i-th packed example, 0 for pad; attention must
                              stay inside one segment. NULL with plain packing (attention crosses, as in LF) */
} whet_sft_example;

typedef struct {
    whet_sft_example *items;
    size_t n;
    void *owner;          /* internal storage */
    bool from_cache;      /* loaded from the tokenized-dataset cache (sft_cache.c) */
} whet_sft_dataset;

/* Build the dataset named by args (dataset, dataset_dir, template, cutoff_len,
 * max_samples, train_on_prompt, mask_history, val_size...). Records that end
 * up with no label token are dropped with a warning, as LLaMA-Factory does. */
whet_status whet_sft_dataset_load(const whet_lf_args *args, const whet_tokenizer *tok, whet_sft_dataset *out,
                                  whet_error *err);
/* Same for another dataset list key ("eval_dataset"); `key` = "dataset" is whet_sft_dataset_load. */
whet_status whet_sft_dataset_load_key(const whet_lf_args *args, const char *key, const whet_tokenizer *tok,
                                      whet_sft_dataset *out, whet_error *err);
/* Split off val_size (a fraction < 1 or a count >= 1) of the examples with seed `seed`. */
whet_status whet_sft_dataset_split(whet_sft_dataset *all, double val_size, uint64_t seed, whet_sft_dataset *train,
                                   whet_sft_dataset *val, whet_error *err);
/* Each example owns its arrays: after a split, free train and val (all is left empty). */
void whet_sft_dataset_free(whet_sft_dataset *d);
#endif
