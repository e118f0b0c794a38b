#!/usr/bin/env bash
# M-Thinker GRPO (Iter1) of the 7B cold-start model on verl, with the kit's reward (the paper: 8 x 8 GPUs).
#   mthinker export-verl runs/refs/train.jsonl --output runs/verl      # or the released RL parquet
#   DATA=runs/verl bash examples/verl/grpo_7b.sh
#   LORA_RANK=64 NNODES=2 TRAIN_BATCH=128 DATA=runs/verl bash examples/verl/grpo_7b.sh   # smaller cluster
# Settings and their defaults: examples/verl/common.sh. The paper's learning rate for 7B: 3e-6.
set -euo pipefail
MODEL=${MODEL:-XueZhang-bjtu/7B-cold-start-SFT}
LR=${LR:-3e-6}
EXPERIMENT=${EXPERIMENT:-m-thinker-7b-iter1}
ROLLOUT_TP=${ROLLOUT_TP:-2}
source "$(dirname "$0")/common.sh"
