/* dataset.h: LLaMA-Factory's dataset pipeline before tokenization:
 * dataset_info.json entries (data/parser.py), JSON / JSONL readers, and the
 * alpaca / sharegpt converters (data/converter.py; llamafactory.md §2) that
 * turn a record into (prompt messages, response messages, system, tools). */
#ifndef WHET_DATA_DATASET_H
#define WHET_DATA_DATASET_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "core/status.h"
#include "data/template.h"

typedef enum { WHET_FMT_ALPACA, WHET_FMT_SHAREGPT, WHET_FMT_OPENAI } whet_data_format;

/* One dataset_info.json entry, resolved against dataset_dir. Strings point
 * into the parsed dataset_info.json (`info`) or are static defaults. */
typedef struct {
    char name[128];
    char path[4096];          /* dataset_dir/file_name: a file or a folder of files */
    whet_data_format formatting;
    bool ranking;
    const char *prompt, *query, *response, *history, *messages, *system, *tools, *kto_tag;
    const char *role_tag, *content_tag, *user_tag, *assistant_tag, *observation_tag, *function_tag, *system_tag;
    const cJSON *columns;     /* the entry's "columns" object (NULL when absent) */
    cJSON *info;              /* owned: the whole dataset_info.json */
} whet_dataset_attr;

/* Look `name` up in dataset_dir/dataset_info.json. */
whet_status whet_dataset_attr_load(const char *dataset_dir, const char *name, whet_dataset_attr *out, whet_error *err);
void whet_dataset_attr_free(whet_dataset_attr *a);

/* Read every record of the attr's file (or folder: its .json/.jsonl files in
 * name order) into a cJSON array of objects; at most max_records (<0: all). */
whet_status whet_dataset_read(const whet_dataset_attr *a, long long max_records, cJSON **records, whet_error *err);
/* One file: a JSON array of objects or JSON lines. */
whet_status whet_dataset_read_file(const char *path, long long max_records, cJSON *records, whet_error *err);

/* Every column named in the entry's "columns" must occur in some record. */
whet_status whet_dataset_check_columns(const whet_dataset_attr *a, const cJSON *records, whet_error *err);

/* A converted record; all strings owned. n_prompt odd and n_response == 1
 * for a valid SFT example (LLaMA-Factory's check); broken records have 0/0. */
typedef struct {
    whet_message *prompt;
    size_t n_prompt;
    whet_message response[1];
    size_t n_response;
    char *system, *tools;
} whet_conv_sample;

whet_status whet_dataset_convert(const whet_dataset_attr *a, const cJSON *record, whet_conv_sample *out, whet_error *err);
void whet_conv_sample_free(whet_conv_sample *s);

/* SupervisedDatasetProcessor._encode_data_example (llamafactory.md §3.4):
 * encode_multiturn, per-turn infer_seqlen truncation under cutoff_len,
 * train_on_prompt, mask_history, efficient_eos. ids/labels are malloc'd. */
typedef struct {
    long long cutoff_len;
    bool train_on_prompt, mask_history;
} whet_sft_options;
whet_status whet_sft_encode_example(const whet_chat_format *f, const whet_conv_sample *s, const whet_sft_options *o,
                                    int32_t **ids, int32_t **labels, int64_t *len, whet_error *err);

/* LLaMA-Factory's infer_seqlen (processor_utils.py). */
void whet_infer_seqlen(long long src, long long tgt, long long cutoff, long long *new_src, long long *new_tgt);
#endif
