# The paper's GRPO recipe on verl with the kit's reward; sourced by grpo_1.5b.sh and grpo_7b.sh after they set
# MODEL, LR and EXPERIMENT. Every setting below is a verl 0.9 key; tests/test_verl.py composes this script's
# overrides with Hydra against the pinned verl's trainer config, so an unknown key fails the kit's tests.
#
# Settings (environment variables; the defaults are the paper's Iter1 run on 8 nodes x 8 GPUs):
#   DATA            folder with train.parquet (`mthinker export-verl ... --output DATA`, or the released data)
#   NNODES, GPUS_PER_NODE       cluster shape (8 x 8)
#   TRAIN_BATCH     prompts per step = the one PPO mini-batch (512: one update per step)
#   RESPONSE_LENGTH max response tokens (14336 for Iter1; the paper's Iter2 uses 21952)
#   ROLLOUT_TP      vLLM tensor parallelism per rollout engine (1 for 1.5B, 2 for 7B)
#   LORA_RANK       >0 trains a LoRA adapter of that rank instead of all weights (smaller clusters; the
#                   paper's learning rates are for full fine-tuning: LoRA usually needs a higher LR)
#   JUDGE_URL, JUDGE_MODEL, JUDGE_API_KEY_ENV   an OpenAI-compatible CTA judge (the paper: DeepSeek-V3);
#                   unset: the kit's symbolic judge, no second model
#   LID             langdetect (the paper's exact LC check, default) or fasttext
#   VERL_PYTHON     the Python of verl's environment (python3)
# Anything after the script's name is passed to verl as further overrides, e.g. trainer.total_epochs=1.

KIT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DATA=${DATA:-runs/verl}
NNODES=${NNODES:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
TRAIN_BATCH=${TRAIN_BATCH:-512}
PROMPT_LENGTH=2048
RESPONSE_LENGTH=${RESPONSE_LENGTH:-14336}
ROLLOUT_TP=${ROLLOUT_TP:-1}
LORA_RANK=${LORA_RANK:-0}
LID=${LID:-langdetect}
PYTHON=${VERL_PYTHON:-python3}

REWARD=reward.custom_reward_function
reward_settings=(
  "$REWARD.path=$KIT_DIR/kit/rewards/verl.py"
  "$REWARD.name=compute_score"
  "+$REWARD.reward_kwargs.reward.variant=mthinker"
  "+$REWARD.reward_kwargs.reward.lid_backend=$LID"
  "+$REWARD.reward_kwargs.reward.min_response_chars=1000"
)
if [ -n "${JUDGE_URL:-}" ]; then
  reward_settings+=(
    "+$REWARD.reward_kwargs.judge.kind=api"
    "+$REWARD.reward_kwargs.judge.base_url=$JUDGE_URL"
    "+$REWARD.reward_kwargs.judge.model=${JUDGE_MODEL:?JUDGE_URL needs JUDGE_MODEL (the served model name)}"
    "+$REWARD.reward_kwargs.judge.api_key_env=${JUDGE_API_KEY_ENV:-MTHINKER_JUDGE_API_KEY}"
  )
else
  reward_settings+=("+$REWARD.reward_kwargs.judge.kind=symbolic")
fi

lora_settings=()
if [ "$LORA_RANK" -gt 0 ]; then
  lora_settings=(
    "actor_rollout_ref.model.lora_rank=$LORA_RANK"
    "actor_rollout_ref.model.lora_alpha=$((2 * LORA_RANK))"
    "actor_rollout_ref.model.target_modules=all-linear"
    "actor_rollout_ref.rollout.load_format=safetensors"
    "actor_rollout_ref.rollout.layered_summon=true"
  )
fi

# GRPO: group size 8 at temperature 0.9; constant LR, no warm-up; no KL (loss or reward) and no entropy
# bonus; clip 0.2; token-mean loss; one update per step; 15 epochs, a checkpoint every 5 steps (the paper
# picks the best on MMATH, evaluated outside verl: `mthinker eval`).
"$PYTHON" -m verl.trainer.main_ppo \
  algorithm.adv_estimator=grpo \
  algorithm.use_kl_in_reward=false \
  data.train_files="$DATA/train.parquet" \
  data.val_files="$DATA/train.parquet" \
  data.train_batch_size="$TRAIN_BATCH" \
  data.max_prompt_length=$PROMPT_LENGTH \
  data.max_response_length="$RESPONSE_LENGTH" \
  data.filter_overlong_prompts=true \
  data.truncation=error \
  actor_rollout_ref.model.path="$MODEL" \
  actor_rollout_ref.model.use_remove_padding=true \
  actor_rollout_ref.model.enable_gradient_checkpointing=true \
  actor_rollout_ref.actor.optim.lr="$LR" \
  actor_rollout_ref.actor.optim.lr_warmup_steps_ratio=0.0 \
  actor_rollout_ref.actor.optim.lr_scheduler_type=constant \
  actor_rollout_ref.actor.ppo_mini_batch_size="$TRAIN_BATCH" \
  actor_rollout_ref.actor.ppo_epochs=1 \
  actor_rollout_ref.actor.use_dynamic_bsz=true \
  actor_rollout_ref.actor.ppo_max_token_len_per_gpu=$((PROMPT_LENGTH + RESPONSE_LENGTH)) \
  actor_rollout_ref.actor.use_kl_loss=false \
  actor_rollout_ref.actor.kl_loss_coef=0.0 \
  actor_rollout_ref.actor.entropy_coeff=0 \
  actor_rollout_ref.actor.clip_ratio=0.2 \
  actor_rollout_ref.actor.loss_agg_mode=token-mean \
  actor_rollout_ref.rollout.name=vllm \
  actor_rollout_ref.rollout.n=8 \
  actor_rollout_ref.rollout.temperature=0.9 \
  actor_rollout_ref.rollout.tensor_model_parallel_size="$ROLLOUT_TP" \
  actor_rollout_ref.rollout.gpu_memory_utilization=0.6 \
  actor_rollout_ref.rollout.log_prob_use_dynamic_bsz=true \
  actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu=$((PROMPT_LENGTH + RESPONSE_LENGTH)) \
  "${reward_settings[@]}" \
  "${lora_settings[@]}" \
  trainer.nnodes="$NNODES" \
  trainer.n_gpus_per_node="$GPUS_PER_NODE" \
  trainer.total_epochs=15 \
  trainer.save_freq=5 \
  trainer.test_freq=-1 \
  trainer.val_before_train=false \
  trainer.project_name=m-thinker \
  trainer.experiment_name="$EXPERIMENT" \
  "trainer.logger=[console]" \
  "$@"
