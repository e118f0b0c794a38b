#!/usr/bin/env bash
# M-Thinker GRPO (Iter1) of the 1.5B cold-start model on verl, with the kit's reward (the paper: 8 x 8 GPUs).
#   mthinker export-verl runs/refs/train.jsonl --output runs/verl      # or the released RL parquet
#   DATA=runs/verl bash examples/verl/grpo_1.5b.sh
#   LORA_RANK=64 NNODES=1 TRAIN_BATCH=64 DATA=runs/verl bash examples/verl/grpo_1.5b.sh   # smaller cluster
# Settings and their defaults: examples/verl/common.sh. The paper's learning rate for 1.5B: 5e-6.
set -euo pipefail
MODEL=${MODEL:-XueZhang-bjtu/1.5B-cold-start-SFT}
LR=${LR:-5e-6}
EXPERIMENT=${EXPERIMENT:-m-thinker-1.5b-iter1}
ROLLOUT_TP=${ROLLOUT_TP:-1}
source "$(dirname "$0")/common.sh"
