/* lf_args_registry.c: the one table of LLaMA-Factory arguments whet knows
 * (hparams/{model,data,finetuning,generating}_args.py and the HF
 * Seq2SeqTrainingArguments LLaMA-Factory inherits; shared/reference/
 * llamafactory.md §3), with LLaMA-Factory's names, types and defaults, and
 * whether whet implements each. Later issues add keys here; docs/config.md
 * lists the same table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/strbuf.h"
#include "io/lf_args.h"

#define S WHET_LF_STR
#define I WHET_LF_INT
#define F WHET_LF_FLOAT
#define B WHET_LF_BOOL
#define L WHET_LF_LIST
#define PB WHET_LF_PATH_OR_BOOL
/* supported key / unsupported key (accepted only at its default) */
#define Y(group, name, type, def, choices, supp, help) {name, group, type, def, true, choices, supp, help}
#define N(group, name, type, def, help) {name, group, type, def, false, NULL, NULL, help}

static const whet_lf_key KEYS[] = {
    /* ---- model (ModelArguments) ---- */
    Y("model", "model_name_or_path", S, NULL, NULL, NULL, "model folder (HF safetensors + tokenizer) or GGUF file"),
    Y("model", "adapter_name_or_path", L, NULL, NULL, NULL, "LoRA adapter folder(s); all but the last are merged"),
    N("model", "adapter_folder", S, NULL, "folder of adapters"),
    N("model", "cache_dir", S, NULL, "hub download cache"),
    Y("model", "use_fast_tokenizer", B, "true", NULL, NULL, "whet always uses its own HF-exact tokenizer"),
    N("model", "resize_vocab", B, "false", "resize embeddings for new tokens"),
    N("model", "split_special_tokens", B, "false", "tokenize special tokens as text"),
    N("model", "add_tokens", L, NULL, "new plain tokens"),
    N("model", "add_special_tokens", L, NULL, "new special tokens"),
    N("model", "new_special_tokens_config", S, NULL, "special token init config"),
    N("model", "init_special_tokens", S, "noise_init", "init of new special tokens"),
    N("model", "model_revision", S, "main", "hub revision"),
    Y("model", "low_cpu_mem_usage", B, "true", NULL, NULL, "whet always memory-maps weights"),
    N("model", "rope_scaling", S, NULL, "linear|dynamic|yarn|llama3 RoPE scaling"),
    Y("model", "flash_attn", S, "auto", "auto|disabled|sdpa|fa2|fa3", "auto|disabled|sdpa",
      "attention kernel (whet picks its own)"),
    N("model", "shift_attn", B, "false", "LongLoRA S2-Attn"),
    N("model", "mixture_of_depths", S, NULL, "convert|load"),
    N("model", "use_unsloth", B, "false", "Unsloth kernels"),
    N("model", "use_unsloth_gc", B, "false", "Unsloth gradient checkpointing"),
    N("model", "enable_liger_kernel", B, "false", "Liger kernels"),
    N("model", "moe_aux_loss_coef", F, NULL, "MoE aux loss"),
    Y("model", "disable_gradient_checkpointing", B, "false", NULL, NULL, "keep all activations"),
    Y("model", "use_reentrant_gc", B, "true", NULL, NULL, "PyTorch detail; no effect in whet"),
    N("model", "upcast_layernorm", B, "false", "fp32 layernorms"),
    N("model", "upcast_lmhead_output", B, "false", "fp32 lm_head output"),
    N("model", "train_from_scratch", B, "false", "random init"),
    Y("model", "infer_backend", S, "huggingface", "huggingface|vllm|sglang", "huggingface",
      "inference engine (whet's own engine stands for huggingface)"),
    N("model", "offload_folder", S, "offload", "offload folder"),
    Y("model", "use_kv_cache", B, "true", NULL, NULL, "KV cache in generation"),
    Y("model", "infer_dtype", S, "auto", "auto|float16|bfloat16|float32", NULL, "inference dtype"),
    N("model", "hf_hub_token", S, NULL, "hub token (whet is offline)"),
    N("model", "ms_hub_token", S, NULL, "ModelScope token"),
    N("model", "om_hub_token", S, NULL, "Modelers token"),
    N("model", "print_param_status", B, "false", "print every parameter"),
    Y("model", "trust_remote_code", B, "false", NULL, NULL, "whet runs no Python code; accepted"),
    N("model", "quantization_method", S, "bnb", "bnb|gptq|awq|aqlm|quanto|eetq|hqq|mxfp4|fp8"),
    N("model", "quantization_bit", I, NULL, "QLoRA bits"),
    N("model", "quantization_type", S, "nf4", "nf4|fp4"),
    N("model", "double_quantization", B, "true", "bnb double quantization"),
    N("model", "quantization_device_map", S, NULL, "auto"),
    N("model", "vllm_maxlen", I, "4096", "vLLM"),
    N("model", "vllm_gpu_util", F, "0.7", "vLLM"),
    N("model", "vllm_enforce_eager", B, "false", "vLLM"),
    N("model", "vllm_max_lora_rank", I, "32", "vLLM"),
    N("model", "vllm_config", S, NULL, "vLLM"),
    N("model", "sglang_maxlen", I, "4096", "SGLang"),
    N("model", "sglang_mem_fraction", F, "0.7", "SGLang"),
    N("model", "sglang_tp_size", I, "-1", "SGLang"),
    N("model", "sglang_lora_backend", S, "triton", "SGLang"),
    N("model", "image_max_pixels", I, "589824", "multimodal"),
    N("model", "image_min_pixels", I, "1024", "multimodal"),
    N("model", "video_max_pixels", I, "65536", "multimodal"),
    N("model", "video_min_pixels", I, "256", "multimodal"),
    N("model", "video_fps", F, "2.0", "multimodal"),
    N("model", "video_maxlen", I, "128", "multimodal"),
    N("model", "audio_sampling_rate", I, "16000", "multimodal"),
    N("model", "use_kt", B, "false", "KTransformers"),
    /* ---- export (ModelArguments export group) ---- */
    Y("export", "export_dir", S, NULL, NULL, NULL, "folder the merged model is written to"),
    Y("export", "export_size", I, "5", NULL, NULL, "GB per safetensors shard"),
    Y("export", "export_device", S, "cpu", "cpu|auto", NULL, "device used for the merge"),
    N("export", "export_quantization_bit", I, NULL,
      "GPTQ export bits (whet quantizes to GGUF instead: export_format: gguf with gguf_type: q4_k_m, q8_0, ...)"),
    N("export", "export_quantization_dataset", S, NULL, "GPTQ calibration data"),
    N("export", "export_quantization_nsamples", I, "128", "GPTQ calibration samples"),
    N("export", "export_quantization_maxlen", I, "1024", "GPTQ calibration length"),
    N("export", "export_legacy_format", B, "false", "write .bin instead of safetensors (whet writes safetensors only)"),
    N("export", "export_hub_model_id", S, NULL, "push to the hub (whet is offline)"),
    Y("export", "export_gguf", S, NULL, "f16|bf16|q8_0|q4_0|q4_1|q5_0|q5_1|q2_k|q3_k_s|q3_k_m|q3_k_l|q4_k_s|q4_k_m|q5_k_s|q5_k_m|q6_k", NULL,
      "whet: also write a GGUF of the merged model in this type (same as export_format: both + gguf_type)"),
    Y("export", "export_format", S, "hf", "hf|gguf|both", NULL,
      "whet: write a Hugging Face safetensors folder, a GGUF file, or both"),
    Y("export", "export_dtype", S, "bf16", "bf16|f16|f32", NULL, "whet: dtype of the exported safetensors"),
    Y("export", "gguf_type", S, "q8_0", "f32|f16|bf16|q8_0|q4_0|q4_1|q5_0|q5_1|q2_k|q3_k_s|q3_k_m|q3_k_l|q4_k_s|q4_k_m|q5_k_s|q5_k_m|q6_k", NULL,
      "whet: GGUF tensor type / llama-quantize mix"),
    Y("export", "export_shard_size", S, NULL, NULL, NULL,
      "whet: shard size as transformers' max_shard_size (500MB, 100KB, 2GiB); overrides export_size"),
    /* ---- data (DataArguments) ---- */
    Y("data", "template", S, NULL, NULL, NULL, "chat template name (LLaMA-Factory's)"),
    Y("data", "dataset", L, NULL, NULL, NULL, "comma list of dataset_info.json names"),
    Y("data", "eval_dataset", L, NULL, NULL, NULL, "comma list of evaluation datasets"),
    Y("data", "dataset_dir", S, "data", NULL, NULL, "folder with dataset_info.json"),
    N("data", "media_dir", S, NULL, "multimodal files"),
    Y("data", "cutoff_len", I, "2048", NULL, NULL, "max tokens per example"),
    Y("data", "train_on_prompt", B, "false", NULL, NULL, "also train on the prompt tokens"),
    Y("data", "mask_history", B, "false", NULL, NULL, "train on the last turn only"),
    N("data", "streaming", B, "false", "stream the dataset"),
    N("data", "buffer_size", I, "16384", "streaming shuffle buffer"),
    Y("data", "mix_strategy", S, "concat", "concat|interleave_under|interleave_over|interleave_once", "concat",
      "how several datasets are mixed"),
    N("data", "interleave_probs", L, NULL, "interleave probabilities"),
    Y("data", "overwrite_cache", B, "false", NULL, NULL, "rebuild the tokenized cache"),
    Y("data", "preprocessing_batch_size", I, "1000", NULL, NULL, "rows per encoding batch"),
    Y("data", "preprocessing_num_workers", I, NULL, NULL, NULL, "encoding threads"),
    Y("data", "max_samples", I, NULL, NULL, NULL, "first N examples of each dataset"),
    N("data", "eval_num_beams", I, NULL, "beam search in eval"),
    Y("data", "ignore_pad_token_for_loss", B, "true", NULL, NULL, "pad is never in the loss"),
    Y("data", "val_size", F, "0.0", NULL, NULL, "validation split: fraction < 1 or a count"),
    N("data", "eval_on_each_dataset", B, "false", "separate eval per dataset"),
    Y("data", "packing", B, NULL, NULL, NULL, "pack examples (default: true for stage pt)"),
    Y("data", "neat_packing", B, "false", NULL, NULL, "packing without cross-attention"),
    Y("data", "tool_format", S, NULL, NULL, NULL, "override the template's tool format"),
    Y("data", "default_system", S, NULL, NULL, NULL, "override the template's default system prompt"),
    Y("data", "enable_thinking", B, "true", NULL, NULL, "reasoning templates: empty thought handling"),
    N("data", "preserve_thinking", B, "false", "keep CoT in the history (whet keeps training history as the data has it)"),
    N("data", "tokenized_path", S, NULL, "save/load tokenized data (whet caches by itself)"),
    N("data", "data_shared_file_system", B, "false", "multi-node cache"),
    /* ---- finetuning (FinetuningArguments) ---- */
    Y("finetuning", "stage", S, "sft", "pt|sft|rm|ppo|dpo|kto", "pt|sft", "training stage"),
    Y("finetuning", "finetuning_type", S, "lora", "lora|oft|freeze|full", "lora", "what is trained"),
    N("finetuning", "pure_bf16", B, "false", "bf16 without AMP"),
    Y("finetuning", "lora_rank", I, "8", NULL, NULL, "LoRA rank r"),
    Y("finetuning", "lora_alpha", I, NULL, NULL, NULL, "LoRA alpha (default lora_rank*2)"),
    Y("finetuning", "lora_dropout", F, "0.0", NULL, NULL, "dropout on the LoRA input"),
    Y("finetuning", "lora_target", L, "all", NULL, NULL, "modules with LoRA: all or q_proj,v_proj,..."),
    N("finetuning", "additional_target", L, NULL, "extra fully trained modules"),
    N("finetuning", "loraplus_lr_ratio", F, NULL, "LoRA+"),
    N("finetuning", "loraplus_lr_embedding", F, "1e-6", "LoRA+ embedding lr"),
    Y("finetuning", "use_rslora", B, "false", NULL, NULL, "scale alpha/sqrt(r)"),
    N("finetuning", "use_dora", B, "false", "DoRA"),
    N("finetuning", "pissa_init", B, "false", "PiSSA"),
    N("finetuning", "pissa_iter", I, "16", "PiSSA"),
    N("finetuning", "pissa_convert", B, "false", "PiSSA"),
    N("finetuning", "create_new_adapter", B, "false", "new adapter on top of the given one"),
    N("finetuning", "freeze_trainable_layers", I, "2", "freeze tuning"),
    N("finetuning", "freeze_trainable_modules", L, "all", "freeze tuning"),
    N("finetuning", "freeze_extra_modules", L, NULL, "freeze tuning"),
    N("finetuning", "oft_rank", I, "0", "OFT"),
    N("finetuning", "oft_block_size", I, "32", "OFT"),
    N("finetuning", "oft_target", L, "all", "OFT"),
    N("finetuning", "module_dropout", F, "0.0", "OFT"),
    N("finetuning", "pref_beta", F, "0.1", "DPO/KTO"),
    N("finetuning", "pref_ftx", F, "0.0", "DPO"),
    N("finetuning", "pref_loss", S, "sigmoid", "DPO loss"),
    N("finetuning", "pref_bco_weight", F, "0.0", "DPO"),
    N("finetuning", "dpo_label_smoothing", F, "0.0", "DPO"),
    N("finetuning", "kto_chosen_weight", F, "1.0", "KTO"),
    N("finetuning", "kto_rejected_weight", F, "1.0", "KTO"),
    N("finetuning", "simpo_gamma", F, "0.5", "SimPO"),
    N("finetuning", "ld_alpha", F, NULL, "LD-DPO"),
    N("finetuning", "ppo_buffer_size", I, "1", "PPO"),
    N("finetuning", "ppo_epochs", I, "4", "PPO"),
    N("finetuning", "ppo_score_norm", B, "false", "PPO"),
    N("finetuning", "ppo_target", F, "6.0", "PPO"),
    N("finetuning", "ppo_whiten_rewards", B, "false", "PPO"),
    N("finetuning", "ref_model", S, NULL, "DPO/PPO reference"),
    N("finetuning", "ref_model_adapters", S, NULL, "reference adapters"),
    N("finetuning", "ref_model_quantization_bit", I, NULL, "reference quantization"),
    N("finetuning", "reward_model", S, NULL, "PPO reward model"),
    N("finetuning", "reward_model_adapters", S, NULL, "reward adapters"),
    N("finetuning", "reward_model_quantization_bit", I, NULL, "reward quantization"),
    N("finetuning", "reward_model_type", S, "lora", "lora|full|api"),
    N("finetuning", "use_galore", B, "false", "GaLore"),
    N("finetuning", "galore_target", L, "all", "GaLore"),
    N("finetuning", "galore_rank", I, "16", "GaLore"),
    N("finetuning", "galore_update_interval", I, "200", "GaLore"),
    N("finetuning", "galore_scale", F, "2.0", "GaLore"),
    N("finetuning", "galore_proj_type", S, "std", "GaLore"),
    N("finetuning", "galore_layerwise", B, "false", "GaLore"),
    N("finetuning", "use_apollo", B, "false", "APOLLO"),
    N("finetuning", "apollo_rank", I, "16", "APOLLO"),
    N("finetuning", "apollo_update_interval", I, "200", "APOLLO"),
    N("finetuning", "apollo_scale", F, "32.0", "APOLLO"),
    N("finetuning", "apollo_proj", S, "random", "APOLLO"),
    N("finetuning", "apollo_proj_type", S, "std", "APOLLO"),
    N("finetuning", "apollo_scale_type", S, "channel", "APOLLO"),
    N("finetuning", "apollo_layerwise", B, "false", "APOLLO"),
    N("finetuning", "apollo_scale_front", B, "false", "APOLLO"),
    N("finetuning", "use_badam", B, "false", "BAdam"),
    N("finetuning", "badam_mode", S, "layer", "BAdam"),
    N("finetuning", "badam_start_block", I, NULL, "BAdam"),
    N("finetuning", "badam_switch_mode", S, "ascending", "BAdam"),
    N("finetuning", "badam_switch_interval", I, "50", "BAdam"),
    N("finetuning", "badam_update_ratio", F, "0.05", "BAdam"),
    N("finetuning", "badam_mask_mode", S, "adjacent", "BAdam"),
    N("finetuning", "badam_verbose", I, "0", "BAdam"),
    N("finetuning", "use_llama_pro", B, "false", "LLaMA Pro"),
    N("finetuning", "use_adam_mini", B, "false", "Adam-mini"),
    N("finetuning", "use_muon", B, "false", "Muon"),
    N("finetuning", "use_dft_loss", B, "false", "DFT loss"),
    N("finetuning", "use_asft_loss", B, "false", "ASFT loss"),
    N("finetuning", "asft_alpha", F, "0.1", "ASFT loss"),
    N("finetuning", "use_eaft_loss", B, "false", "EAFT loss"),
    N("finetuning", "eaft_alpha", F, "1.0", "EAFT loss"),
    Y("finetuning", "freeze_vision_tower", B, "true", NULL, NULL, "text-only models: no effect"),
    Y("finetuning", "freeze_multi_modal_projector", B, "true", NULL, NULL, "text-only models: no effect"),
    N("finetuning", "freeze_language_model", B, "false", "multimodal"),
    Y("finetuning", "compute_accuracy", B, "false", NULL, NULL, "token accuracy in eval"),
    Y("finetuning", "disable_shuffling", B, "false", NULL, NULL, "keep the data order"),
    N("finetuning", "early_stopping_steps", I, NULL, "early stopping"),
    Y("finetuning", "plot_loss", B, "false", NULL, NULL, "write training_loss.png"),
    Y("finetuning", "include_effective_tokens_per_second", B, "false", NULL, NULL, "log effective tokens/s"),
    N("finetuning", "use_swanlab", B, "false", "SwanLab"),
    N("finetuning", "swanlab_project", S, "llamafactory", "SwanLab"),
    N("finetuning", "use_mca", B, "false", "Megatron-core"),
    N("finetuning", "use_megatron_bridge", B, "false", "Megatron Bridge"),
    N("finetuning", "use_hyper_parallel", B, "false", "hyper-parallel"),
    /* ---- training (HF Seq2SeqTrainingArguments) ---- */
    Y("training", "output_dir", S, NULL, NULL, NULL, "where checkpoints and the adapter go"),
    Y("training", "overwrite_output_dir", B, "false", NULL, NULL, "reuse a non-empty output_dir"),
    Y("training", "do_train", B, "false", NULL, NULL, "train"),
    Y("training", "do_eval", B, "false", NULL, NULL, "evaluate"),
    Y("training", "do_predict", B, "false", NULL, NULL, "predict"),
    Y("training", "learning_rate", F, "5e-5", NULL, NULL, "peak learning rate"),
    Y("training", "num_train_epochs", F, "3.0", NULL, NULL, "epochs"),
    Y("training", "max_steps", I, "-1", NULL, NULL, "stop after this many steps (-1: epochs decide)"),
    Y("training", "per_device_train_batch_size", I, "8", NULL, NULL, "examples per micro-batch"),
    Y("training", "per_device_eval_batch_size", I, "8", NULL, NULL, "examples per eval batch"),
    Y("training", "gradient_accumulation_steps", I, "1", NULL, NULL, "micro-batches per optimizer step"),
    Y("training", "lr_scheduler_type", S, "linear",
      "linear|cosine|cosine_with_restarts|polynomial|constant|constant_with_warmup|inverse_sqrt|reduce_lr_on_plateau|"
      "cosine_with_min_lr|warmup_stable_decay",
      "linear|cosine|cosine_with_restarts|polynomial|constant|constant_with_warmup|inverse_sqrt", "learning-rate schedule"),
    Y("training", "warmup_ratio", F, "0.0", NULL, NULL, "warmup as a fraction of the steps"),
    Y("training", "warmup_steps", I, "0", NULL, NULL, "warmup steps (overrides warmup_ratio)"),
    Y("training", "weight_decay", F, "0.0", NULL, NULL, "AdamW weight decay"),
    Y("training", "adam_beta1", F, "0.9", NULL, NULL, "AdamW beta1"),
    Y("training", "adam_beta2", F, "0.999", NULL, NULL, "AdamW beta2"),
    Y("training", "adam_epsilon", F, "1e-8", NULL, NULL, "AdamW epsilon"),
    Y("training", "max_grad_norm", F, "1.0", NULL, NULL, "gradient clipping"),
    Y("training", "optim", S, "adamw_torch", NULL, "adamw_torch|adamw_torch_fused|adamw_hf", "optimizer"),
    Y("training", "bf16", B, "false", NULL, NULL, "bf16 mixed precision"),
    Y("training", "fp16", B, "false", NULL, NULL, "fp16 mixed precision"),
    Y("training", "tf32", B, NULL, NULL, NULL, "TF32 matmuls on the GPU"),
    Y("training", "gradient_checkpointing", B, "false", NULL, NULL, "recompute activations"),
    Y("training", "seed", I, "42", NULL, NULL, "random seed"),
    Y("training", "data_seed", I, NULL, NULL, NULL, "seed of the data order"),
    Y("training", "logging_steps", F, "500", NULL, NULL, "log every N steps"),
    Y("training", "logging_dir", S, NULL, NULL, NULL, "log folder"),
    Y("training", "save_steps", F, "500", NULL, NULL, "checkpoint every N steps"),
    Y("training", "save_strategy", S, "steps", "no|steps|epoch|best", "no|steps|epoch", "when to checkpoint"),
    Y("training", "save_total_limit", I, NULL, NULL, NULL, "keep at most N checkpoints"),
    Y("training", "save_only_model", B, "false", NULL, NULL, "checkpoints without optimizer state"),
    Y("training", "eval_strategy", S, "no", "no|steps|epoch", NULL, "when to evaluate"),
    Y("training", "eval_steps", F, NULL, NULL, NULL, "evaluate every N steps"),
    Y("training", "resume_from_checkpoint", PB, NULL, NULL, NULL, "checkpoint folder to resume, or true = the newest in output_dir"),
    Y("training", "report_to", L, "none", NULL, "none|tensorboard", "loggers"),
    Y("training", "run_name", S, NULL, NULL, NULL, "run name"),
    Y("training", "predict_with_generate", B, "false", NULL, NULL, "generate in predict (BLEU/ROUGE)"),
    Y("training", "generation_max_length", I, NULL, NULL, NULL, "predict generation length"),
    Y("training", "generation_num_beams", I, NULL, NULL, "1", "predict beams"),
    Y("training", "ddp_timeout", I, "1800", NULL, NULL, "single process: no effect"),
    Y("training", "dataloader_num_workers", I, "0", NULL, NULL, "no effect (data is pre-tokenized)"),
    Y("training", "remove_unused_columns", B, "true", NULL, NULL, "no effect"),
    Y("training", "include_num_input_tokens_seen", B, "false", NULL, NULL, "log tokens seen"),
    Y("training", "neftune_noise_alpha", F, NULL, NULL, NULL, "NEFTune embedding noise"),
    Y("training", "deepspeed", S, NULL, NULL, NULL, "DeepSpeed JSON: zero stage and offload are read"),
    Y("training", "deepspeed_zero_stage", I, NULL, NULL, NULL, "read from the deepspeed file; not settable"),
    Y("training", "deepspeed_offload_optimizer", S, NULL, NULL, NULL, "read from the deepspeed file; not settable"),
    Y("training", "deepspeed_offload_param", S, NULL, NULL, NULL, "read from the deepspeed file; not settable"),
    N("training", "fsdp", S, NULL, "FSDP"),
    N("training", "push_to_hub", B, "false", "hub upload"),
    N("training", "torch_compile", B, "false", "torch.compile"),
    /* ---- generating (GeneratingArguments) ---- */
    Y("generating", "do_sample", B, "true", NULL, NULL, "sample (false: greedy)"),
    Y("generating", "temperature", F, "0.95", NULL, NULL, "sampling temperature"),
    Y("generating", "top_p", F, "0.7", NULL, NULL, "nucleus sampling"),
    Y("generating", "top_k", I, "50", NULL, NULL, "top-k sampling"),
    Y("generating", "num_beams", I, "1", NULL, "1", "beam search"),
    Y("generating", "max_length", I, "1024", NULL, NULL, "max total length (when max_new_tokens <= 0)"),
    Y("generating", "max_new_tokens", I, "1024", NULL, NULL, "max generated tokens"),
    Y("generating", "repetition_penalty", F, "1.0", NULL, NULL, "repetition penalty"),
    Y("generating", "length_penalty", F, "1.0", NULL, NULL, "beam length penalty (no effect without beams)"),
    Y("generating", "skip_special_tokens", B, "true", NULL, NULL, "drop special tokens when decoding"),
    /* ---- eval (EvaluationArguments) ---- */
    N("eval", "task", S, NULL, "mmlu_test|ceval_validation|cmmlu_test"),
    N("eval", "task_dir", S, "evaluation", "benchmark folder"),
    N("eval", "batch_size", I, "4", "eval batch"),
    N("eval", "n_shot", I, "5", "few-shot examples"),
    N("eval", "lang", S, "en", "en|zh"),
    N("eval", "save_dir", S, NULL, "eval results"),
    N("eval", "download_mode", S, "reuse_dataset_if_exists", "datasets download mode"),
};

const whet_lf_key *whet_lf_args_registry(size_t *n) {
    *n = sizeof KEYS / sizeof KEYS[0];
    return KEYS;
}

const whet_lf_key *whet_lf_args_find_key(const char *name) {
    for (size_t i = 0; i < sizeof KEYS / sizeof KEYS[0]; i++)
        if (strcmp(KEYS[i].name, name) == 0) return &KEYS[i];
    return NULL;
}

const char *whet_lf_type_name(whet_lf_type t) {
    switch (t) {
    case WHET_LF_STR: return "string";
    case WHET_LF_INT: return "integer";
    case WHET_LF_FLOAT: return "number";
    case WHET_LF_BOOL: return "boolean (true/false)";
    case WHET_LF_LIST: return "comma-separated list";
    case WHET_LF_PATH_OR_BOOL: return "path or boolean";
    }
    return "?";
}

static bool group_listed(const char *groups, const char *g) {
    size_t n = strlen(g);
    for (const char *p = groups; (p = strstr(p, g)); p += n)
        if ((p == groups || p[-1] == ',') && (p[n] == ',' || p[n] == 0)) return true;
    return false;
}

char *whet_lf_args_help(const char *groups) {
    whet_strbuf sb;
    whet_sb_init(&sb);
    static const char *const ORDER[] = {"model", "data", "finetuning", "training", "generating", "export", "eval"};
    size_t n_unsupported = 0;
    for (size_t g = 0; g < sizeof ORDER / sizeof ORDER[0]; g++) {
        if (!group_listed(groups, ORDER[g])) continue;
        whet_sb_printf(&sb, "%s arguments:\n", ORDER[g]);
        for (size_t i = 0; i < sizeof KEYS / sizeof KEYS[0]; i++) {
            const whet_lf_key *k = &KEYS[i];
            if (strcmp(k->group, ORDER[g]) != 0) continue;
            if (!k->supported) { n_unsupported++; continue; }
            if (strncmp(k->name, "deepspeed_", 10) == 0) continue;
            char head[96];
            snprintf(head, sizeof head, "  --%s %s", k->name,
                     k->type == WHET_LF_BOOL ? "[BOOL]" : k->type == WHET_LF_INT ? "INT" :
                     k->type == WHET_LF_FLOAT ? "FLOAT" : k->type == WHET_LF_LIST ? "A,B" :
                     k->type == WHET_LF_PATH_OR_BOOL ? "PATH|BOOL" : "STR");
            whet_sb_printf(&sb, "%-44s %s", head, k->help);
            if (k->supported_values || k->choices) whet_sb_printf(&sb, " {%s}", k->supported_values ? k->supported_values : k->choices);
            whet_sb_printf(&sb, " (default: %s)\n", k->def ? k->def : "None");
        }
    }
    whet_sb_printf(&sb, "%zu more LLaMA-Factory keys are recognised but not supported (docs/config.md).\n"
                        "Give a config file (*.yaml|*.yml|*.json) and/or --key value, --key=value, key=value.\n",
                   n_unsupported);
    return whet_sb_take(&sb);
}
