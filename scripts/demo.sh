#!/bin/sh
# demo.sh: the main job on the bundled default, end to end:
#   1. fine-tune stories260K with LoRA on the identity dataset (whet train)
#   2. chat with the fine-tuned model: the PEFT adapter merged at load (whet chat)
#   3. export: adapter merged into a bf16 HF folder + q8_0 GGUF + Modelfile (whet export)
#   4. chat with the exported folder (no adapter): the fine-tuned answer again
# usage: scripts/demo.sh path/to/whet   (run from the repository root; `make demo` does this)
set -eu
# --max_new_tokens 56 is the trained answer's length: stories260K cannot learn
# to stop (its end-of-sequence token shares an embedding with 252 untrained
# tokens, see tests/cli/test_learning_stories.c), so chat runs to the limit.
WHET=${1:-build/whet}
case "$WHET" in /*) ;; *) WHET="$(pwd)/$WHET" ;; esac
cd "$(dirname "$0")/.."
OUT=saves/stories260k
echo "== 1/5 whet train scripts/demo/train_lora.yaml"
"$WHET" train scripts/demo/train_lora.yaml
echo "== 2/5 whet chat (base model + the new adapter, template default)"
"$WHET" chat --model_name_or_path models/stories260K-hf --adapter_name_or_path "$OUT/lora/sft" \
  --template default --max_new_tokens 56 --prompt "Who are you?"
echo "== 3/5 whet export scripts/demo/merge_lora.yaml (HF bf16 + GGUF q8_0 + Modelfile)"
"$WHET" export scripts/demo/merge_lora.yaml
echo "== 4/5 whet chat on the exported folder (adapter merged in, template default)"
"$WHET" chat --model_name_or_path "$OUT/merged" --template default --max_new_tokens 56 --prompt "Who are you?"
echo "== 5/5 whet chat on the q8_0 GGUF (what llama.cpp / Ollama run)"
"$WHET" chat --model_name_or_path "$OUT/merged/merged-q8_0.gguf" --template default --max_new_tokens 56 \
  --prompt "Who are you?"
echo "demo: done. Adapter (PEFT format): $OUT/lora/sft   merged model: $OUT/merged (HF folder, merged-q8_0.gguf, Modelfile: ollama create whet-demo -f $OUT/merged/Modelfile)"
echo "serve it: $WHET api --model_name_or_path models/stories260K-hf --adapter_name_or_path $OUT/lora/sft"
