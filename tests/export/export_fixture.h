/* export_fixture.h: what the export tests share: the fixed batch (2 rows of
 * 12 ids, no padding) whose logits they compare between a Hugging Face
 * folder and its exports. */
#ifndef WHET_TESTS_EXPORT_FIXTURE_H
#define WHET_TESTS_EXPORT_FIXTURE_H
#include <stdlib.h>
#include "model/model.h"
#include "test.h"

enum { EXPORT_TEST_B = 2, EXPORT_TEST_L = 12 };

/* logits [EXPORT_TEST_B * EXPORT_TEST_L, vocab] of the batch ids[i] = (37 i + 11) mod vocab (malloc'd). */
static inline float *export_test_logits(whet_model *m) {
    enum { B = EXPORT_TEST_B, L = EXPORT_TEST_L };
    int32_t ids[B * L];
    uint8_t mask[B * L];
    for (int i = 0; i < B * L; i++) {
        ids[i] = (int32_t)((i * 37 + 11) % m->cfg.vocab_size);
        mask[i] = 1;
    }
    float *logits = malloc((size_t)B * L * (size_t)m->cfg.vocab_size * sizeof(float));
    whet_error err = {0};
    CHECK_OK(whet_model_forward_padded(m, ids, mask, B, L, logits, NULL, &err), &err);
    return logits;
}
#endif
