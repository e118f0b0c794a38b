"""The YAML config system every stage uses: typed sections, presets, ``key.sub=value`` overrides, snapshots.

A config file has one mapping per section::

    model:  {name: tiny, backend: auto, load_in_4bit: true, lora: {r: 8, alpha: 16}}
    data:   {train: examples/data/polymath_low_slice.jsonl, langs: [ja, ko, fr, pt, th]}
    reward: {variant: mthinker, min_response_chars: 20}          # kit.rewards.mthinker.RewardConfig
    judge:  {kind: symbolic}                                      # kit.judges.JudgeConfig
    grpo:   {num_generations: 4, max_steps: 3}                   # GRPOSettings below
    sft / select / refs / pipeline: the other stages' settings (defined beside each stage)

    >>> cfg = load_config("tiny", ["grpo.max_steps=2", "model.lora.r=4"])
    >>> cfg.grpo.max_steps, cfg.model.lora.r
    (2, 4)

Values are checked against the dataclass field types; an unknown key, a value of the wrong type or one a
section's ``__post_init__`` rejects fails with an error naming the key, where it came from and the allowed
keys. Sections owned by other modules are resolved lazily by name, so loading a config imports no torch.
Relative data paths (``data.train``, ``grpo.train_data``, ``sft.traces``) are looked up in the working
directory, then the config file's folder, then the repository, so presets work from any directory.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kit.models import ModelConfig
from kit.paths import EXAMPLES_DIR, REPO_DIR
from kit.train.config_values import (
    ConfigError,
    _coerce,
    _dataclass_in,
    _origin,
    _parse_override,
    _plain,
    _set_dotted,
    _suggest,
)

__all__ = ["Config", "ConfigError", "DataSettings", "GRPOSettings", "build_config", "load_config", "save_config"]

log = logging.getLogger(__name__)

PRESETS_DIR = EXAMPLES_DIR / "configs"
SNAPSHOT_NAME = "config.yaml"

@dataclass
class DataSettings:
    # Questions for the stages: plain JSONL {question, answer, lang, en_question?}, a verl RL parquet, an
    # MMATH/PolyMath folder or a Hub id (see kit.data). GRPO reads the RL data the refs stage wrote.
    train: str = "examples/data/polymath_low_slice.jsonl"
    langs: list[str] = field(default_factory=lambda: ["ja", "ko", "fr", "pt", "th"])  # the paper's five
    limit_per_lang: int | None = None  # None = every row
    control: bool = False  # add the Prompt-Control sentence to the prompts
    # The sft, select and GRPO stages refuse MMATH/PolyMath questions (kit.data.contamination); true lets them
    # train on evaluation questions anyway (flag: --allow-benchmark-overlap).
    allow_benchmark_overlap: bool = False

    def __post_init__(self):
        from kit.languages import get_language

        if isinstance(self.langs, str):
            self.langs = [code.strip() for code in self.langs.split(",") if code.strip()]
        if not self.langs:
            raise ValueError("data.langs is empty; list language codes, e.g. [ja, ko, fr, pt, th]")
        for code in self.langs:
            get_language(code)  # raises with the registry's list of codes
        if self.limit_per_lang is not None and int(self.limit_per_lang) < 1:
            raise ValueError(f"data.limit_per_lang must be >= 1 or null (got {self.limit_per_lang})")


@dataclass
class GRPOSettings:
    """GRPO knobs, set explicitly (TRL's defaults differ from the paper's in several places)."""

    train_data: str | None = None  # RL data (refs output); None = data.train (rows without en_reference: CTA 0)
    num_generations: int = 8  # the paper's group size
    max_prompt_length: int = 512  # prompts longer than this (tokens) are skipped with a log line
    max_completion_length: int = 1024  # the paper: 14336 (Iter1); one GPU cannot hold that for a group of 8
    temperature: float = 0.9  # the paper's rollout temperature
    top_p: float = 1.0
    beta: float = 0.0  # KL coefficient: the paper uses 0 (no reference model, saves memory)
    epsilon: float = 0.2  # clip ratio (the paper's)
    loss_type: str = "dapo"  # token-mean over the accumulated batch = the paper's (verl) token-mean loss
    scale_rewards: str = "group"  # group | batch | none; the paper's GRPO divides by the group std
    # The paper scores a truncated completion (no </think>) -1, a signal masking would drop: keep off.
    mask_truncated_completions: bool = False
    learning_rate: float = 2e-5  # LoRA needs a higher rate than the paper's full fine-tuning (5e-6/3e-6)
    lr_scheduler_type: str = "constant"  # the paper: constant, no warm-up
    warmup_steps: float = 0  # steps, or a fraction of max_steps when < 1 (transformers 5)
    max_steps: int = 100
    per_device_train_batch_size: int = 8  # completions per device per micro-step
    gradient_accumulation_steps: int = 1
    num_iterations: int = 1  # updates per generated batch (the paper: 1)
    max_grad_norm: float = 1.0
    optim: str = "auto"  # auto: paged 8-bit AdamW on CUDA, adamw_torch on CPU
    save_steps: int = 10
    save_total_limit: int | None = 3
    logging_steps: int = 1
    seed: int = 0
    use_vllm: bool = False  # GPU only: vLLM rollouts (with model.fast_inference on unsloth, colocated)
    log_completions: bool = False
    generation_kwargs: dict | None = None  # extra sampling options for rollouts (e.g. repetition_penalty)

    def __post_init__(self):
        positive = ["num_generations", "max_prompt_length", "max_completion_length", "max_steps",
                    "per_device_train_batch_size", "gradient_accumulation_steps", "num_iterations",
                    "save_steps", "logging_steps"]
        for key in positive:
            if int(getattr(self, key)) < 1:
                raise ValueError(f"grpo.{key} must be >= 1 (got {getattr(self, key)})")
        if self.num_generations < 2:
            raise ValueError("grpo.num_generations must be >= 2: GRPO compares completions within a group")
        if not self.temperature > 0:
            raise ValueError(f"grpo.temperature must be > 0 for GRPO rollouts (got {self.temperature}; paper: 0.9)")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"grpo.top_p must be in (0, 1] (got {self.top_p})")
        if self.beta < 0 or self.learning_rate <= 0:
            raise ValueError("grpo.beta must be >= 0 and grpo.learning_rate > 0")
        losses = ["dapo", "grpo", "dr_grpo", "bnpo", "cispo", "sapo"]
        if self.loss_type not in losses:
            raise ValueError(f"grpo.loss_type must be one of {losses} (got {self.loss_type!r}); "
                             "dapo is the paper's token-mean")
        if str(self.scale_rewards).lower() in ("true", "false"):
            self.scale_rewards = "group" if str(self.scale_rewards).lower() == "true" else "none"
        if self.scale_rewards not in ("group", "batch", "none"):
            raise ValueError(f"grpo.scale_rewards must be group, batch or none (got {self.scale_rewards!r})")


# Sections owned by other modules, resolved lazily ("module:Class"). When a module has not landed or
# fails to import, the section stays a plain dict, so configs keep loading.
SECTION_TYPES: dict[str, str] = {
    "model": "kit.models:ModelConfig",
    "data": "kit.train.config:DataSettings",
    "reward": "kit.rewards.mthinker:RewardConfig",
    "judge": "kit.judges:JudgeConfig",
    "grpo": "kit.train.config:GRPOSettings",
    "sft": "kit.train.sft:SFTSettings",
    "select": "kit.train.select:SelectSettings",
    "refs": "kit.train.refs:RefsSettings",
    "pipeline": "kit.train.pipeline:PipelineSettings",
}
TOP_LEVEL_KEYS = {"output_dir": str, "description": str}


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataSettings = field(default_factory=DataSettings)
    reward: Any = None
    judge: Any = None
    grpo: GRPOSettings = field(default_factory=GRPOSettings)
    sft: Any = None
    select: Any = None
    refs: Any = None
    pipeline: Any = None
    output_dir: str = "runs/default"
    description: str = ""
    source: str = ""  # where it was loaded from (not written to snapshots)

    def to_dict(self) -> dict:
        out: dict = {}
        for name in SECTION_TYPES:
            out[name] = _plain(getattr(self, name))
        for key in TOP_LEVEL_KEYS:
            out[key] = getattr(self, key)
        return out


def section_class(name: str):
    """The dataclass of section ``name``, or None when its module is not importable (yet)."""
    module_name, _, class_name = SECTION_TYPES[name].partition(":")
    try:
        return getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        log.debug("config section %s stays a plain mapping: %s", name, exc)
        return None


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def resolve_config_path(path_or_preset: str) -> Path:
    """A YAML path, or the name of a preset in examples/configs (``tiny``, ``t4-1.5b``, ``24gb-7b``)."""
    path = Path(path_or_preset).expanduser()
    if path.is_file():
        return path
    preset = PRESETS_DIR / f"{path_or_preset}.yaml"
    if preset.is_file():
        return preset
    raise ConfigError(f"config {path_or_preset!r} is neither a file nor a preset; presets: {preset_names()}")


def load_config(path_or_preset: str | None = None, overrides: list[str] | None = None) -> Config:
    """Load a preset or YAML file (None = built-in defaults), apply ``key.sub=value`` overrides, validate."""
    import yaml

    raw: dict = {}
    source = "defaults"
    config_dir = None
    if path_or_preset:
        path = resolve_config_path(path_or_preset)
        source = str(path)
        config_dir = path.resolve().parent
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of sections ({sorted(SECTION_TYPES)})")
    raw = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    origins: dict[str, str] = {}
    for item in overrides or []:
        key, value = _parse_override(item)
        _set_dotted(raw, key, value)
        origins[key] = f"override {item!r}"
    cfg = build_config(raw, source=source, origins=origins)
    resolve_data_paths(cfg, config_dir)
    return cfg


def build_config(raw: dict, *, source: str = "<dict>", origins: dict[str, str] | None = None) -> Config:
    origins = origins or {}
    allowed = sorted([*SECTION_TYPES, *TOP_LEVEL_KEYS])
    cfg = Config(source=source)
    for key, value in raw.items():
        where = origins.get(key, source)
        if key in TOP_LEVEL_KEYS:
            setattr(cfg, key, _coerce(value, TOP_LEVEL_KEYS[key], key, where))
        elif key not in SECTION_TYPES:
            raise ConfigError(f"unknown config key {key!r} ({where}){_suggest(key, allowed)}; allowed: {allowed}")
    for name in SECTION_TYPES:
        value = raw.get(name)
        if value is not None and not isinstance(value, dict):
            raise ConfigError(f"config section {name!r} ({source}) must be a mapping, got {value!r}")
        cls = section_class(name)
        if cls is None:
            setattr(cfg, name, dict(value or {}))
            continue
        setattr(cfg, name, _build_dataclass(cls, value or {}, name, source, origins))
    return cfg


def _build_dataclass(cls, values: dict, prefix: str, source: str, origins: dict[str, str]):
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls) if f.init}
    kwargs = {}
    for key, value in values.items():
        dotted = f"{prefix}.{key}"
        where = _origin(origins, dotted, source)
        if key not in fields:
            raise ConfigError(f"unknown config key {dotted!r} ({where}){_suggest(key, fields)}; "
                              f"allowed keys in {prefix}: {sorted(fields)}")
        hint = hints[key]
        nested = _dataclass_in(hint)
        if nested is not None and isinstance(value, dict):
            kwargs[key] = _build_dataclass(nested, value, dotted, source, origins)
        else:
            kwargs[key] = _coerce(value, hint, dotted, where)
    try:
        return cls(**kwargs)
    except (ValueError, TypeError, KeyError) as exc:
        message = str(exc).strip("'\"")
        flags = [where for key, where in origins.items() if key.startswith(prefix + ".")]
        raise ConfigError(f"config section {prefix!r} ({', '.join([source, *flags])}): {message}") from None


# Keys that name local data: (section, field). A relative value is read from the working directory when it
# exists there, else from the config file's folder, else from the repository root (where the presets'
# ``examples/data/...`` live), so ``mthinker pipeline --preset tiny`` works from any directory.
PATH_KEYS = (("data", "train"), ("grpo", "train_data"), ("sft", "traces"))
NOT_PATHS = {"synthetic"}  # sft.traces=synthetic is a mode, never a folder


def resolve_data_paths(cfg: Config, config_dir: Path | None = None) -> None:
    """Make relative data paths of ``cfg`` absolute where they exist (see :data:`PATH_KEYS`); Hub ids and
    paths found nowhere are left as they are, so the stage's own error still names them."""
    bases = [Path.cwd(), *([config_dir] if config_dir else []), REPO_DIR]
    for section_name, key in PATH_KEYS:
        section = getattr(cfg, section_name, None)
        value = section.get(key) if isinstance(section, dict) else getattr(section, key, None)
        if not isinstance(value, str) or value in NOT_PATHS or Path(value).expanduser().is_absolute():
            continue
        found = next((base / value for base in bases if (base / value).exists()), None)
        if found is None:
            continue
        if isinstance(section, dict):
            section[key] = str(found.resolve())
        else:
            setattr(section, key, str(found.resolve()))


def save_config(config: Config, output_dir: str | Path, name: str = SNAPSHOT_NAME) -> Path:
    """Write the resolved config (every default filled in) as YAML; loading it back gives the same config."""
    import yaml

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / name
    header = f"# resolved config snapshot (source: {config.source})\n"
    path.write_text(header + yaml.safe_dump(config.to_dict(), sort_keys=False, allow_unicode=True),
                    encoding="utf-8")
    return path


def section_dict(config: Config, name: str) -> dict:
    """A section as a plain dict (handy for logging and for sections whose class has not landed)."""
    return _plain(getattr(config, name)) or {}
