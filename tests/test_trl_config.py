"""The grpo and sft sections are TRL's configs; both backends (transformers, unsloth) get the same objective."""

import dataclasses

import pytest

from kit.train import trl_config
from kit.train.config import load_config

# unsloth 2026.10.9, unsloth/models/rl.py (`replacements`, about line 3310): the defaults its GRPOConfig's
# __init__ puts in place of TRL's. Read from the wheel (`pip download --no-deps unsloth==2026.10.9`).
UNSLOTH_INIT_DEFAULTS = {
    "logging_nan_inf_filter": False, "per_device_train_batch_size": 4, "gradient_accumulation_steps": 2,
    "weight_decay": 0.001, "seed": 3407, "optim": "adamw_8bit", "learning_rate": 5e-05,
    "per_device_eval_batch_size": 4, "eval_accumulation_steps": 2, "torch_empty_cache_steps": 250,
    "logging_steps": 1, "num_generations": 8, "vllm_mode": "colocate", "generation_kwargs": {}, "bf16": False,
    "fp16": False, "report_to": "none", "include_tokens_per_second": False, "include_num_input_tokens_seen": False,
    "auto_find_batch_size": False, "dataloader_pin_memory": True, "warmup_steps": 0.1,  # transformers >= 5
}
# Keys that change neither the objective nor the optimization (logging, evaluation, loading, housekeeping).
NOT_THE_OBJECTIVE = {
    "logging_nan_inf_filter", "per_device_eval_batch_size", "eval_accumulation_steps", "torch_empty_cache_steps",
    "include_tokens_per_second", "include_num_input_tokens_seen", "auto_find_batch_size", "dataloader_pin_memory",
    "generation_kwargs", "report_to", "logging_steps", "output_dir", "logging_dir",
}


def unsloth_like_config():
    """TRL's GRPOConfig with unsloth 2026.10.9's changes to it: its __init__ defaults and, for an explicit
    ``loss_type="dapo"``, ``epsilon_high=0.28`` and ``mask_truncated_completions=True`` where not given
    (rl.py, the loss-type block about line 3555). unsloth itself needs a GPU to import."""
    from trl import GRPOConfig

    fields = {f.name for f in dataclasses.fields(GRPOConfig)}

    class UnslothLikeGRPOConfig(GRPOConfig):
        def __init__(self, **given):
            # unsloth replaces the defaults of the parameters the installed TRL has
            values = {**{k: v for k, v in UNSLOTH_INIT_DEFAULTS.items() if k in fields}, **given}
            if given.get("loss_type") == "dapo":
                if values.get("epsilon_high") is None:
                    values["epsilon_high"] = 0.28
                values.setdefault("mask_truncated_completions", True)
            super().__init__(**values)

    return UnslothLikeGRPOConfig


@pytest.mark.parametrize("preset", ["tiny", "t4-1.5b", "24gb-7b"])
def test_both_backends_build_the_same_objective(preset, monkeypatch, tmp_path):
    cfg = load_config(preset)
    plain = cfg.trainer_args("grpo", tmp_path, cuda=False, reward_weights=[1.0])
    monkeypatch.setattr(trl_config, "trl_class", lambda section: unsloth_like_config())
    unsloth = cfg.trainer_args("grpo", tmp_path, cuda=False, reward_weights=[1.0])
    assert type(unsloth).__name__ == "UnslothLikeGRPOConfig"
    differ = {key: (getattr(plain, key), getattr(unsloth, key)) for key in (f.name for f in dataclasses.fields(plain))
              if key not in NOT_THE_OBJECTIVE and getattr(plain, key) != getattr(unsloth, key)}
    assert differ == {}
    assert (plain.epsilon_high, plain.weight_decay, plain.warmup_steps) == (0.2, 0.0, 0)  # the paper's, not unsloth's


def test_the_kit_sets_every_default_unsloth_changes():
    """A key unsloth changes and the kit leaves to TRL would train differently on the two backends."""
    objective = set(UNSLOTH_INIT_DEFAULTS) - NOT_THE_OBJECTIVE - {"bf16", "fp16", "optim"}  # set per run
    assert objective - set(trl_config.GRPO_DEFAULTS) == set()
    assert {"epsilon_high", "mask_truncated_completions", "loss_type"} <= set(trl_config.GRPO_DEFAULTS)


def test_config_load_needs_no_gpu_and_precision_follows_the_run(tmp_path):
    """TRL's own GRPOConfig() defaults to bf16 and fails on a CPU; the kit's check and its CPU run do not."""
    cfg = load_config("t4-1.5b", ["model.dtype=float32"])
    args = cfg.trainer_args("grpo", tmp_path, cuda=False, reward_weights=[1.0])
    assert args.use_cpu and not args.bf16 and not args.fp16 and args.output_dir == str(tmp_path)
    assert args.optim.value == "adamw_torch" and args.remove_unused_columns is False
    assert args.reward_weights == [1.0] and args.gradient_checkpointing is False
