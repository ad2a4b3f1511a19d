#!/bin/sh
# demo.sh: the main job on the bundled default, end to end:
#   1. fine-tune stories260K with LoRA on the identity dataset (whet train)
#   2. chat with the fine-tuned model: the PEFT adapter merged at load (whet chat)
# usage: scripts/demo.sh path/to/whet   (run from the repository root; `make demo` does this)
set -eu
WHET=${1:-build/whet}
case "$WHET" in /*) ;; *) WHET="$(pwd)/$WHET" ;; esac
cd "$(dirname "$0")/.."
OUT=saves/stories260k
echo "== 1/2 whet train scripts/demo/train_lora.yaml"
"$WHET" train scripts/demo/train_lora.yaml
echo "== 2/2 whet chat (base model + the new adapter, template default)"
"$WHET" chat --model_name_or_path models/stories260K-hf --adapter_name_or_path "$OUT/lora/sft" \
  --template default --max_new_tokens 48 --prompt "Who are you?"
echo "demo: done. Adapter (PEFT format): $OUT/lora/sft   serve it: $WHET api --model_name_or_path models/stories260K-hf --adapter_name_or_path $OUT/lora/sft"
