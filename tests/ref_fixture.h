/* ref_fixture.h: reading the reference safetensors fixtures (HF / PEFT
 * outputs under tests/fixtures/reference) in tests: I64 id tensors as int32
 * and float tensors as f32, both malloc'd (NULL when missing or misshapen). */
#ifndef WHET_TESTS_REF_FIXTURE_H
#define WHET_TESTS_REF_FIXTURE_H
#include <stdlib.h>
#include <string.h>
#include "io/safetensors.h"

static inline int32_t *ref_read_ids(const whet_safetensors *st, const char *name, int64_t *n) {
    const whet_st_tensor *t = whet_safetensors_find(st, name);
    if (!t || t->dtype != WHET_DT_I64) return NULL;
    int32_t *out = malloc((size_t)t->numel * sizeof *out);
    for (int64_t i = 0; out && i < t->numel; i++) {
        int64_t v;
        memcpy(&v, (const char *)t->data + 8 * i, 8);
        out[i] = (int32_t)v;
    }
    *n = t->numel;
    return out;
}

static inline float *ref_read_f32(const whet_safetensors *st, const char *name, int64_t numel) {
    const whet_st_tensor *t = whet_safetensors_find(st, name);
    if (!t || t->numel != numel) return NULL;
    float *out = malloc((size_t)numel * sizeof *out);
    whet_error err;
    if (out && whet_st_tensor_to_f32(t, out, &err) != WHET_OK) {
        free(out);
        return NULL;
    }
    return out;
}
#endif
