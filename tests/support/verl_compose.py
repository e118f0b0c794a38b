"""Stands in for ``python`` under examples/verl/*.sh (``VERL_PYTHON``), inside .venv-verl: composes the
script's overrides with Hydra against the installed verl's trainer config exactly as ``python -m
verl.trainer.main_ppo`` would, runs verl's own config validation (``validate_config``, as main_ppo does),
loads the custom reward the way verl's trainer does, scores one malformed response with it (so reward_kwargs
the kit does not know fail here too) and prints the settings that matter as one JSON object. A key verl
does not know makes Hydra's composition fail: the exit status is 1 and the error names the key.

    VERL_PYTHON=<wrapper calling this file> bash examples/verl/grpo_7b.sh
"""

from __future__ import annotations

import json
import sys

ENTRY = "verl.trainer.main_ppo"


def compose(overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module

    with initialize_config_module(config_module="verl.trainer.config", version_base=None):
        return hydra_compose(config_name="ppo_trainer", overrides=overrides)


def validate(config) -> None:
    """verl's checks, as main_ppo runs them. One needs vLLM itself (the LoRA rank against vLLM's allowed
    ranks, imported from vllm): without vllm (the CPU test env) that one runs with LoRA off."""
    import copy
    import importlib.util

    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    if importlib.util.find_spec("vllm") is None and config.actor_rollout_ref.model.lora_rank > 0:
        config = copy.deepcopy(config)
        config.actor_rollout_ref.model.lora_rank = 0
    validate_config(config=config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config))


def summary(config) -> dict:
    from omegaconf import OmegaConf
    from verl.trainer.ppo.reward import get_custom_reward_fn

    actor, rollout = config.actor_rollout_ref.actor, config.actor_rollout_ref.rollout
    reward_fn = get_custom_reward_fn(config)  # verl's loader: imports the file, binds reward_kwargs
    probe = reward_fn(data_source="en", solution_str="no closing tag", ground_truth="1", extra_info=None)
    custom = config.reward.custom_reward_function
    return {
        "adv_estimator": config.algorithm.adv_estimator, "use_kl_in_reward": config.algorithm.use_kl_in_reward,
        "group_size": rollout.n, "temperature": rollout.temperature, "rollout": rollout.name,
        "lr": actor.optim.lr, "lr_scheduler_type": actor.optim.lr_scheduler_type,
        "use_kl_loss": actor.use_kl_loss, "kl_loss_coef": actor.kl_loss_coef, "entropy_coeff": actor.entropy_coeff,
        "clip_ratio": actor.clip_ratio, "loss_agg_mode": actor.loss_agg_mode,
        "ppo_mini_batch_size": actor.ppo_mini_batch_size, "train_batch_size": config.data.train_batch_size,
        "max_prompt_length": config.data.max_prompt_length, "max_response_length": config.data.max_response_length,
        "rollout_prompt_length": rollout.prompt_length, "rollout_response_length": rollout.response_length,
        "lora_rank": config.actor_rollout_ref.model.lora_rank, "model": config.actor_rollout_ref.model.path,
        "reward_path": custom.path, "reward_name": custom.name,
        "reward_kwargs": OmegaConf.to_container(custom.get("reward_kwargs", {}), resolve=True),
        "malformed_score": probe,
        "total_epochs": config.trainer.total_epochs, "save_freq": config.trainer.save_freq,
        "nnodes": config.trainer.nnodes, "n_gpus_per_node": config.trainer.n_gpus_per_node,
    }


def main(argv: list[str]) -> int:
    if argv[:2] != ["-m", ENTRY]:
        print(f"verl_compose: expected '-m {ENTRY} OVERRIDES...', got {argv[:2]}", file=sys.stderr)
        return 2
    try:
        config = compose(argv[2:])
        validate(config)
        settings = summary(config)
    except Exception as exc:  # noqa: BLE001 - Hydra's errors name the offending key; verl's checks say what is inconsistent
        print(f"verl_compose: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
