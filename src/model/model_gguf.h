/* model_gguf.h: the GGUF side of whet_model_load (a path ending in .gguf):
 * config from the <arch>.* metadata, weights bound in their stored types. */
#ifndef WHET_MODEL_MODEL_GGUF_H
#define WHET_MODEL_MODEL_GGUF_H
#include <stdbool.h>
#include "core/status.h"
#include "model/model.h"

/* Fill `m` (zeroed, with its owned list set up) from the GGUF at `path`;
 * keeps the file mapped in m->gguf. F16/BF16 weights are widened to f32
 * unless keep_dtype; quantized weights always stay quantized. */
whet_status whet_model_bind_gguf(whet_model *m, const char *path, bool keep_dtype, whet_error *err);
/* A buffer freed with the model (model.c). */
void *whet_model_owned_alloc(whet_model *m, size_t bytes);
#endif
