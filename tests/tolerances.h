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

/* Block quantizers (tests/ops/test_quant.c). fp16 rounding of a block's d
 * (and m) moves every dequantized value by at most |x|max * 2^-11. */
#define TOL_QUANT_FP16_REL (1.0 / 2048)
/* k-quants: worst element error in a sub-block, in quantization steps
 * (range/nmax; amax/32 for Q6_K). Rounding alone is 0.5 step; a sub-scale
 * that is small next to the super-block's largest one is coarse in 6 bits
 * (int8 for Q6_K), and the codes then clamp at the top of the range.
 * Measured worst on uniform/gaussian/outlier rows: Q4_K 1.53, Q5_K 4.70, Q6_K 3.78. */
#define TOL_QUANT_STEPS_Q4_K 2.0
#define TOL_QUANT_STEPS_Q5_K 5.5
#define TOL_QUANT_STEPS_Q6_K 4.5
/* Q2_K (range/3 per 16-element sub-block) and Q3_K (amax/4), same rows:
 * 4-bit scales/mins and 6-bit signed scales against one fp16 super-scale.
 * Measured worst: Q2_K 4.82, Q3_K 1.66 (Q2_K's 4-bit sub-scales are coarse). */
#define TOL_QUANT_STEPS_Q2_K 5.5
#define TOL_QUANT_STEPS_Q3_K 2.0
/* Relative RMSE on gaussian rows (4096 values), per type; measured
 * Q8_0 0.0054, Q4_0 0.0847, Q4_1 0.0788, Q5_0 0.0423, Q5_1 0.0377,
 * Q4_K 0.0716, Q5_K 0.0365, Q6_K 0.0177; limits ~10% above. */
#define TOL_QUANT_RMSE_Q8_0 0.006
#define TOL_QUANT_RMSE_Q4_0 0.093
#define TOL_QUANT_RMSE_Q4_1 0.087
#define TOL_QUANT_RMSE_Q5_0 0.047
#define TOL_QUANT_RMSE_Q5_1 0.042
#define TOL_QUANT_RMSE_Q4_K 0.079
#define TOL_QUANT_RMSE_Q5_K 0.040
#define TOL_QUANT_RMSE_Q6_K 0.020
/* the same way: Q2_K 0.2992, Q3_K 0.1547 measured */
#define TOL_QUANT_RMSE_Q2_K 0.33
#define TOL_QUANT_RMSE_Q3_K 0.17
/* Quantized dot vs the f32 dot: a sum of n independent element errors of
 * size ~ rel_rmse * rms(w) * rms(x), so its standard deviation is
 * rel_rmse * |w| * |x| / sqrt(n); allow 4 of them (measured worst 1.3, Q8_0;
 * the f32 row's own summation rounding is covered by a 1e-6 absolute term). */
#define TOL_QUANT_DOT_SIGMAS 4.0
/* llama.cpp's own quantizer check (tests/test-quantize-fns.cpp): on
 * x[i] = 0.1 + 2 cos(i), 4096 values, sqrt(Σ err²)/n must stay below
 * 0.002 (0.0075 for its 2-bit and 0.004 for its 3-bit types). These are
 * upstream's limits, not measured ones; whet measures Q2_K 0.00467, Q3_K
 * 0.00251, the others <= 0.00114 (printed by test_quant). */
#define TOL_UPSTREAM_TOTAL_ERROR 0.002
#define TOL_UPSTREAM_TOTAL_ERROR_2BITS 0.0075
#define TOL_UPSTREAM_TOTAL_ERROR_3BITS 0.0040

/* LoRA gradients of the whole tiny model vs PEFT autograd (fp32): per tensor
 * ||g - ref|| / ||ref||; the acceptance bound of issue 5 (measured in
 * tests/model/test_train_model.c, printed per model). */
#define TOL_LORA_GRAD_REL 1e-4

/* Finite differences through the whole tiny model on the SUMMED loss
 * (~200): fp32 rounding of the loss over a 2e-2 step gives ~1e-3 absolute. */
#define TOL_FD_MODEL_ATOL 5e-3

/* One clipped AdamW step vs torch.optim.AdamW (fp32, lr 1e-3): the update is
 * ~lr in size, so rounding leaves ~1e-9; the acceptance bound is 1e-6. */
#define TOL_ADAMW_ATOL 1e-6

/* test_trainer: overfitting 2 random 10-21 token sequences on llama-tiny (LoRA r=8, lr 1e-2, 40 steps)
 * measured 6.36 -> 1.59 (plateau 1.58 at 100 steps); chance is ln(512) = 6.24, so < 2.5 means it learned. */
#define TRAIN_OVERFIT_MAX_LOSS 2.5

/* LoRA merge vs PEFT's merge_and_unload (fp32 W + (B@A)*scale): only the
 * summation order of the r-term dot differs; measured max 3.0e-8 on the
 * three tiny models; 1e-6 is the acceptance bound of issue 7. */
#define TOL_MERGE_ATOL 1e-6

/* GGUF models read back (tests/export/test_gguf_load.c), as fractions of the
 * largest |logit| of the Hugging Face folder on the same batch (2x12 tokens).
 * llama3 f32: rope_freqs are stored as f32 1/factor and divided back in, so
 * inv_freq differs in the last bit; measured 3.6e-7. Quantized weights run
 * through the integer kernels (ops/quant_dot.h), which also round every
 * activation row to 8 bits as llama.cpp does: q8_0 measured 0.028 (llama3)
 * .. 0.036 (qwen2), of which 0.018 .. 0.023 is the weights alone (the
 * float-activation path measured before). q4_k_m (on these 64-wide rows
 * mostly llama-quantize's q5_0/q4_k fallbacks and a q6_k head): measured
 * 0.126 .. 0.171. Bounds are ~1.4-5x the measured worst. */
#define TOL_GGUF_F32_LLAMA3_ROPE 2e-6
#define TOL_GGUF_Q8_0_LOGITS 0.05
#define TOL_GGUF_Q4_K_M_LOGITS 0.25
/* q3_k_m / q2_k exports read back (tests/export/test_gguf_export.c) vs the
 * f32 folder, as a fraction of max |logit| and as relative RMS of the
 * logits. Tiny fixtures (q3_k_m there is q4_0/q5_0/q5_1 fallbacks and a
 * q8_0 head): measured 0.189 / 0.194 (llama-tiny), 0.213 / 0.165 (qwen2).
 * A random 256-wide llama (std 0.02) keeping real Q2_K..Q6_K tensors:
 * q3_k_m 0.213 / 0.205, q2_k 0.473 / 0.447 (Q2_K's weight rmse is 0.30,
 * tolerances.h above). Bounds ~1.5x the measured; zero or unrelated
 * logits would give a relative RMS >= 1. */
#define TOL_GGUF_Q3_K_M_LOGITS 0.32
#define TOL_GGUF_Q3_K_M_REL 0.30
#define TOL_GGUF_Q3_K_M_WIDE_LOGITS 0.32
#define TOL_GGUF_Q3_K_M_WIDE_REL 0.31
#define TOL_GGUF_Q2_K_WIDE_LOGITS 0.70
#define TOL_GGUF_Q2_K_WIDE_REL 0.67
/* test_learning_cli: qwen2-tiny LoRA r16, lr 2e-2, 200 full-batch steps on 4 identity records
 * measured first logged loss 6.49 -> final 1.677 (ratio 0.258; plateau from step ~120). */
#define LEARN_QWEN2_MAX_LOSS 2.0
#define LEARN_QWEN2_MAX_RATIO 0.3
/* test_learning_stories: stories260K-hf LoRA r16, lr 5e-3, 40 full-batch steps on 3 identity records
 * (cutoff_len 72) measured first logged loss 4.1751 -> final 0.0007-0.0009 over seeds 1-7, 42, 123
 * (ratio 0.0002). At 10 steps the final loss is 0.044-0.063 and chat still gives "hi" the "Who are
 * you?" answer or back; from 12 steps (0.017-0.023) every reply is right: the bounds sit there, 25x
 * above the measured final loss. */
#define LEARN_STORIES_MAX_LOSS 0.02
#define LEARN_STORIES_MAX_RATIO 0.005

/* A sequence's logits in a 2-sequence batch vs the same sequence alone
 * (test_lora_unmerged) on a CPU without AVX2 (with it the float GEMM is
 * batch-invariant and the test asks for 0): the LoRA delta is computed per
 * row (exact; checked separately at equal batch size), but OpenBLAS's sgemm blocks a batch of
 * T rows differently from one of T' rows, which moves f32 sums by an ulp or
 * so per op. Measured max 1.97e-6 on the tiny models (logits O(1)). */
#define TOL_BATCH_ROW_ATOL 1e-5

/* test_llamacpp_gguf: greedy continuation (16 new tokens) of whet vs llama.cpp
 * (node-llama-cpp 3.21.1's prebuilt CPU libllama) on the same quantized GGUF:
 * the weights are the same bytes, the kernels differ (llama.cpp rounds the
 * activations to q8_0 / q8_K for its dots). Measured common prefix: q8_0 16/16
 * on all four models (llama-tiny, llama3-tiny, qwen2-tiny, stories260K);
 * q4_k_m 16/16 except llama-tiny 6/16. Bounds at half the smallest measured
 * (another CPU picks another ggml-cpu variant, with another summation order).
 * f32 / f16 must be identical. */
#define LLAMACPP_Q8_0_MIN_PREFIX 8
#define LLAMACPP_Q4_K_M_MIN_PREFIX 3

#endif
