/* gguf_config.h: a model's hyperparameters from a GGUF file's metadata
 * (general.architecture and the <arch>.* keys llama.cpp's converter and
 * whet export write, plus the tensor shapes that carry the rest: vocab
 * size, tied head, biases, q/k norms), as the whet_model_config that
 * hf_config.h reads from config.json. Shared by the GGUF model loader
 * (model/model_gguf.c) and the GGUF importer (export/gguf_import.c). */
#ifndef WHET_IO_GGUF_CONFIG_H
#define WHET_IO_GGUF_CONFIG_H
#include "core/status.h"
#include "io/gguf.h"
#include "io/hf_config.h"

/* Fill `c` from the open GGUF `g` (`path` names it in errors). Archs llama,
 * qwen2, qwen3; any other is WHET_ERR_UNSUPPORTED naming the file and the
 * architecture. rope_type is DEFAULT or LINEAR: a Llama 3.1 rope_freqs
 * tensor is left for the caller. */
whet_status whet_gguf_read_config(const whet_gguf *g, const char *path, whet_model_config *c, whet_error *err);
#endif
