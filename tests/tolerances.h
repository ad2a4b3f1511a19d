/* tolerances.h: every numeric tolerance the tests use, with the reason for
 * its value. Compare against HF/PEFT references in shared/testdata (copied
 * into tests/fixtures). Add a constant here rather than a literal in a test. */
#ifndef WHET_TEST_TOLERANCES_H
#define WHET_TEST_TOLERANCES_H

/* fp32 forward vs transformers fp32 on CPU: different summation order in
 * GEMM/softmax gives ~1e-6 relative error per op; over a few tiny layers the
 * logits stay within 1e-4 absolute (measured max ~1e-5 on the tiny models). */
#define TOL_LOGITS_ATOL 1e-4
#define TOL_LOGITS_RTOL 1e-4

/* Hidden states: same argument as logits. */
#define TOL_HIDDEN_ATOL 1e-4
#define TOL_HIDDEN_RTOL 1e-4

/* Scalar fp32 loss vs HF: mean over tokens of log-softmax; ~1e-6 relative. */
#define TOL_LOSS_RTOL 1e-5

/* fp32 gradients vs PyTorch autograd: backward through softmax/rmsnorm
 * accumulates more rounding than forward; 1e-4 relative + 1e-6 absolute. */
#define TOL_GRAD_ATOL 1e-6
#define TOL_GRAD_RTOL 1e-3

/* Finite-difference checks of hand-written backward ops (tests/train/fd.h):
 * central differences in fp32 with step 1e-2 (values O(1)); the float
 * rounding of the loss over a ~2e-2 step plus O(h^2) truncation keep the
 * difference well below 1e-4 (measured max 1.9e-5, rmsnorm dx). */
#define TOL_FD_STEP 1e-2
#define TOL_FD_ATOL 2e-4
#define TOL_FD_RTOL 1e-3

/* f32 -> bf16 -> f32 round trip (round to nearest even, 8 significant bits):
 * relative error at most 2^-8 (measured 3.8e-3 on the tiny adapter). */
#define TOL_BF16_ROUNDTRIP_REL (1.0 / 256)

/* Single inference ops (tests/ops/test_infer_ops.c) vs double references:
 * a float32 dot of 600 O(1) terms (|y| ~ 10) rounds to ~1e-5 whatever the
 * summation order (BLAS or the 8-lane half-weight dot); measured max 1.8e-5. */
#define TOL_OPS_F32 5e-5

#endif
