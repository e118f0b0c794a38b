"""The ``grpo:`` and ``sft:`` config sections are TRL's own ``GRPOConfig`` and ``SFTConfig``.

Every TRL option is a key of its section (``grpo.epsilon_high``, ``grpo.importance_sampling_level``,
``grpo.report_to``, ``sft.max_length``, ...), named and typed as TRL names and types it. The kit adds three
things on top of TRL:

- :data:`GRPO_DEFAULTS` / :data:`SFT_DEFAULTS`: the kit's defaults where they differ from TRL's (the paper's
  recipe), applied under the file's and the overrides' values and written into every config snapshot, so a
  run's ``config.yaml`` shows every value its trainer got that is not TRL's own default.
- :data:`RUN_VALUES`: keys the kit sets for every run (the columns its rewards need, the gradient
  checkpointing :mod:`kit.models` already set up); a config that sets one is rejected with the reason.
- :func:`trainer_args`: the TRL config a trainer gets, built fresh when training starts, after
  :mod:`kit.models` chose the backend (``import unsloth`` rebinds ``trl.GRPOConfig`` to its subclass) and
  with the run's device, precision and optimizer.

unsloth 2026.10.9's ``GRPOConfig`` changes some of TRL's defaults (weight decay 0.001, 10% warm-up, and for
``loss_type=dapo`` ``epsilon_high=0.28`` and masked truncated completions); :data:`GRPO_DEFAULTS` sets each of
them explicitly, so both backends train the same objective (tests/test_trl_config.py checks it).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import typing
from pathlib import Path
from typing import Any

from kit.models import default_optimizer, trainer_precision
from kit.train.config_values import ConfigError, plain_data, suggest

# Each value differs from TRL 1.14's default, or unsloth changes it (see UNSLOTH_GRPO_DEFAULTS), or both.
GRPO_DEFAULTS: dict[str, Any] = {
    "num_generations": 8,  # the paper's group size
    "max_completion_length": 1024,  # the paper: 14336 (Iter1); one GPU cannot hold that for a group of 8
    "temperature": 0.9,  # the paper's rollout temperature (TRL: 1.0)
    "top_p": 1.0,
    "beta": 0.0,  # no KL term, no reference model (the paper's)
    "epsilon": 0.2,  # clip ratio (the paper's, both sides)
    "epsilon_high": 0.2,  # unsloth sets 0.28 for dapo; the paper clips symmetrically
    "loss_type": "dapo",  # token-mean over the accumulated batch = the paper's (verl) token-mean loss
    "scale_rewards": "group",  # the paper's GRPO divides by the group's std
    # The paper scores a truncated completion (no </think>) -1, a signal masking would drop (unsloth: true).
    "mask_truncated_completions": False,
    "learning_rate": 2e-5,  # LoRA needs a higher rate than the paper's full fine-tuning (5e-6 / 3e-6)
    "lr_scheduler_type": "constant",  # the paper: constant, no warm-up
    "warmup_steps": 0,  # unsloth: 0.1 (10% warm-up)
    "weight_decay": 0.0,  # unsloth: 0.001
    "max_steps": 100,
    "per_device_train_batch_size": 8,  # completions per device per micro-step
    "gradient_accumulation_steps": 1,
    "num_iterations": 1,  # updates per generated batch (the paper: 1)
    "max_grad_norm": 1.0,
    "save_strategy": "steps",
    "save_steps": 10,
    "save_total_limit": 3,
    "logging_steps": 1,
    "seed": 0,
    "use_vllm": False,  # GPU only: vLLM rollouts (with model.fast_inference on unsloth, colocated)
    "vllm_mode": "colocate",
    "log_completions": False,
    "report_to": "none",  # tensorboard / wandb / trackio: their packages must be installed
    "disable_dropout": True,
}

SFT_DEFAULTS: dict[str, Any] = {
    "max_length": 16384,  # prompt + completion tokens (the paper's cutoff); longer examples are dropped
    "num_train_epochs": 1.0,  # the paper: 1 epoch
    "max_steps": -1,  # > 0 overrides epochs
    "learning_rate": 1e-4,  # LoRA: far above the paper's 1e-6 full fine-tuning rate
    "lr_scheduler_type": "cosine",  # the paper's
    "warmup_steps": 0,
    "per_device_train_batch_size": 4,
    "gradient_accumulation_steps": 4,
    "logging_steps": 10,
    "save_steps": 500,
    "save_total_limit": 1,
    "seed": 0,
    "completion_only_loss": True,  # the loss covers thinking</think>answer<eos>, not the prompt
    "report_to": "none",
}

# Set by the kit for every run: (value, why a config may not change it); GRPO_RUN_VALUES for GRPO runs only.
GRPO_RUN_VALUES: dict[str, tuple[Any, str]] = {
    "remove_unused_columns": (False, "lang, answer, en_question and en_reference must reach the reward functions"),
}
RUN_VALUES: dict[str, tuple[Any, str]] = {
    "gradient_checkpointing": (False, "kit.models sets it up (PEFT / unsloth); use model.gradient_checkpointing"),
    "output_dir": (None, "use --output or output_dir"),
    "reward_weights": (None, "the reward section decides the weights"),
}

SECTIONS = {"grpo": GRPO_DEFAULTS, "sft": SFT_DEFAULTS}

# The kit's own keys that older configs put in these sections (not TRL fields), and where they live now.
MOVED = {"sft.traces": "cold_start.traces", "sft.full": "cold_start.full",
         "sft.english_traces": "cold_start.english_traces", "sft.head_chars": "cold_start.head_chars",
         "sft.limit_per_lang": "cold_start.limit_per_lang", "sft.drift_rate": "cold_start.drift_rate",
         "sft.traces_per_question": "cold_start.traces_per_question", "sft.warmup_ratio": "sft.warmup_steps",
         "grpo.train_data": "data.grpo_train", "grpo.max_prompt_length": "data.max_prompt_length"}

# Values TRL 1.14 only rejects in the middle of the first training step (grpo_trainer.py's loss and
# advantage code): checked when the config loads instead.
CHOICES: dict[str, tuple[str, ...]] = {
    "grpo.loss_type": ("grpo", "bnpo", "dr_grpo", "dapo", "luspo", "cispo", "sapo", "vespo"),
    "grpo.scale_rewards": ("group", "batch", "none"),
    "grpo.importance_sampling_level": ("token", "sequence"),
}


def trl_class(section: str):
    """TRL's config class of ``section`` as bound now (unsloth's subclass once unsloth was imported)."""
    import trl

    return {"grpo": trl.GRPOConfig, "sft": trl.SFTConfig}[section]


@functools.cache
def _field_types(cls) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


@functools.cache
def _adapter(hint):
    from pydantic import TypeAdapter

    return TypeAdapter(hint)


def _run_values(section: str) -> dict[str, tuple[Any, str]]:
    return {**RUN_VALUES, **(GRPO_RUN_VALUES if section == "grpo" else {})}


def validate_section(section: str, values: dict, where: typing.Callable[[str], str]) -> dict:
    """The section's values (kit defaults, then ``values``), each checked against TRL's field type.

    ``where(key)`` names the file or override a key came from, for the error message.
    """
    from pydantic import ValidationError

    fields = _field_types(trl_class(section))
    checked = dict(SECTIONS[section])
    for key, value in values.items():
        dotted = f"{section}.{key}"
        fixed = _run_values(section)
        if key in fixed:
            raise ConfigError(f"config key {dotted!r} ({where(dotted)}) is set by the kit: {fixed[key][1]}")
        if dotted in MOVED:
            raise ConfigError(f"config key {dotted!r} ({where(dotted)}) is now {MOVED[dotted]!r}: the {section} "
                              f"section holds TRL's {trl_class(section).__name__} fields only")
        if key not in fields:
            raise ConfigError(f"unknown config key {dotted!r} ({where(dotted)}){suggest(key, fields)}; the {section} "
                              f"section is TRL's {trl_class(section).__name__}: its fields are the keys")
        try:
            checked[key] = plain_data(_adapter(fields[key]).validate_python(value))
        except ValidationError as exc:
            error = exc.errors()[0]
            raise ConfigError(f"config key {dotted!r} ({where(dotted)}): {error['msg']}, got {value!r}") from None
        if dotted in CHOICES and checked[key] not in CHOICES[dotted]:
            raise ConfigError(f"config key {dotted!r} ({where(dotted)}) must be one of {list(CHOICES[dotted])}, "
                              f"got {value!r}")
    return checked


def check_section(section: str, values: dict, given: typing.Iterable[str], where: typing.Callable[[str], str]):
    """Build TRL's config from ``values`` on the CPU (TRL's own checks run; nothing needs a GPU) and return it.

    TRL's whole-groups batch rule depends on the number of processes, unknown until the run starts
    (``accelerate launch``): here it is checked as for any process count (``kit.train.grpo.check_batch`` and
    :func:`trainer_args` check the run's); TRL's other errors name the section and where ``given`` came from.
    """
    cls = trl_class(section)
    probe = {"use_cpu": True, "bf16": False, "fp16": False, **values, "output_dir": "."}
    if section == "grpo" and values.get("generation_batch_size") is None and values.get("steps_per_generation") is None:
        # a generation batch of whole groups, so the probe's check passes for any process count
        probe["generation_batch_size"] = (int(values.get("per_device_train_batch_size", 8))
                                          * int(values.get("gradient_accumulation_steps", 1))
                                          * int(values.get("num_generations") or 8))
    try:
        return cls(**probe)
    except (ValueError, TypeError) as exc:
        sources = sorted({where(f"{section}.{key}") for key in given}) or ["the kit's defaults"]
        raise ConfigError(f"config section {section!r} ({', '.join(sources)}): {exc}") from None


def batch_fix(values: dict, processes: int = 1) -> str:
    """TRL samples whole groups: the kit's explanation of its divisibility error, with the values that fix it."""
    group = int(values.get("num_generations") or 8)
    per_device = int(values.get("per_device_train_batch_size", 8))
    # TRL generates for steps_per_generation micro-steps at once (default: gradient_accumulation_steps)
    accumulation = int(values.get("steps_per_generation") or values.get("gradient_accumulation_steps", 1))
    per_step = per_device * accumulation * processes
    # the smallest per-device batch giving whole groups, scaled to stay near the requested one
    step = group // math.gcd(group, accumulation * processes)
    fix = step * max(1, round(per_device / step))
    return (f"grpo.per_device_train_batch_size ({per_device}) x grpo.gradient_accumulation_steps ({accumulation}) "
            f"x processes ({processes}) = {per_step} completions per step, which is not divisible by "
            f"grpo.num_generations ({group}): GRPO needs whole groups. Fix: set "
            f"grpo.per_device_train_batch_size={fix} or grpo.num_generations to a divisor of {per_step}.")


def trainer_args(section: str, values: dict, output_dir: str | Path, *, cuda: bool, dtype: str = "auto",
                 **run_values):
    """The TRL config a trainer gets: ``values`` plus the run's output folder, device, precision, optimizer
    (paged 8-bit AdamW on CUDA unless ``optim`` is set) and :data:`RUN_VALUES`; ``run_values`` adds
    per-run keys (``reward_weights``). Build it after the model is loaded (unsloth's class, when chosen)."""
    precision = trainer_precision(dtype, cuda=cuda)
    explicit = {k: v for k, v in values.items() if k in ("bf16", "fp16")}
    args = {**values, **(precision if not explicit else {}), "use_cpu": not cuda}
    args.setdefault("optim", default_optimizer("auto", cuda=cuda))
    args.update({k: v for k, (v, _) in _run_values(section).items() if v is not None}, output_dir=str(output_dir),
                **run_values)
    try:
        return trl_class(section)(**args)
    except ValueError as exc:  # TRL's whole-groups rule with the run's processes: the kit's fix message
        if section == "grpo" and "must be divisible by num_generations" in str(exc):
            raise ValueError(batch_fix(values, int(os.environ.get("WORLD_SIZE", "1")))) from None
        raise
