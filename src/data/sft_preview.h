/* sft_preview.h: what `whet data preview` and `whet data convert` need:
 * an encoded example rendered with its prompt/label spans marked, length
 * statistics against cutoff_len, and JSON array <-> JSON lines conversion. */
#ifndef WHET_DATA_SFT_PREVIEW_H
#define WHET_DATA_SFT_PREVIEW_H
#include <stdbool.h>
#include "core/strbuf.h"
#include "data/sft_dataset.h"

/* Decoded text with each run of masked tokens as "[P:...]" and each trained run as "[R:...]";
 * with `ansi`, prompt runs are dim and trained runs green instead of bracketed. */
whet_status whet_sft_render_spans(const whet_tokenizer *tok, const whet_sft_example *e, bool ansi, whet_strbuf *out,
                                  whet_error *err);

typedef struct {
    size_t n;
    int64_t min_len, max_len, total_tokens, label_tokens;
    double mean_len;
    size_t at_cutoff;          /* examples whose length reached cutoff_len (truncated) */
    size_t hist[10];           /* lengths in 10 equal bins of [0, cutoff_len] */
} whet_sft_stats;

void whet_sft_compute_stats(const whet_sft_dataset *d, int64_t cutoff_len, whet_sft_stats *st);
/* Text table of the stats and the histogram. */
void whet_sft_format_stats(const whet_sft_stats *st, int64_t cutoff_len, whet_strbuf *out);

/* Convert `in` (JSON array or JSON lines) to `out` as "json" (indented array, like LLaMA-Factory's demo
 * files, ensure_ascii=False) or "jsonl" (one compact object a line). Writes atomically. */
whet_status whet_data_convert_file(const char *in, const char *out, const char *to, size_t *n_records, whet_error *err);
#endif
