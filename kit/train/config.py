"""The YAML config every stage uses: presets, ``key.sub=value`` overrides, validation, snapshots.

A config file has one mapping per section::

    model:  {name: tiny, backend: auto, load_in_4bit: true, lora: {r: 8, alpha: 16}}   # kit.models.ModelConfig
    data:   {train: examples/data/polymath_low_slice.jsonl, langs: [ja, ko, fr, pt, th]}
    reward: {variant: mthinker, min_response_chars: 20}          # kit.rewards.mthinker.RewardConfig
    judge:  {kind: symbolic}                                      # kit.judges.JudgeConfig
    grpo:   {num_generations: 4, max_steps: 3, epsilon_high: 0.28}   # TRL's GRPOConfig: any of its fields
    sft:    {max_steps: 120, learning_rate: 3.0e-3}              # TRL's SFTConfig: any of its fields
    cold_start / select / refs / pipeline: the kit's settings of the other stages (kit.train.settings)

    >>> cfg = load_config("tiny", ["grpo.max_steps=2", "model.lora.r=4"])
    >>> cfg.grpo.max_steps, cfg.model.lora.r
    (2, 4)

The kit's sections are dataclasses validated by pydantic; ``grpo`` and ``sft`` are validated against TRL's
own field types and built once by TRL (its checks run, on the CPU), see :mod:`kit.train.trl_config`. Errors
name the key, the file or ``--set`` flag it came from, and the closest allowed key.
Relative data paths (``data.train``, ``data.grpo_train``, ``cold_start.traces``) are looked up in the working
directory, then the config file's folder, then the repository, so presets work from any directory.
"""

from __future__ import annotations

import dataclasses
import logging
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kit.judges import JudgeConfig
from kit.models import ModelConfig
from kit.paths import EXAMPLES_DIR, REPO_DIR
from kit.rewards.mthinker import RewardConfig
from kit.train import trl_config
from kit.train.config_values import ConfigError, parse_override, plain_data, set_dotted, suggest
from kit.train.settings import ColdStartSettings, DataSettings, PipelineSettings, RefsSettings, SelectSettings

__all__ = ["Config", "ConfigError", "DataSettings", "build_config", "load_config", "save_config"]

log = logging.getLogger(__name__)

PRESETS_DIR = EXAMPLES_DIR / "configs"
SNAPSHOT_NAME = "config.yaml"

KIT_SECTIONS: dict[str, type] = {
    "model": ModelConfig, "data": DataSettings, "reward": RewardConfig, "judge": JudgeConfig,
    "cold_start": ColdStartSettings, "select": SelectSettings, "refs": RefsSettings, "pipeline": PipelineSettings,
}
TRL_SECTIONS = ("grpo", "sft")
TOP_LEVEL_KEYS = ("output_dir", "description")
SECTION_ORDER = ("model", "data", "reward", "judge", "grpo", "cold_start", "sft", "select", "refs", "pipeline")
ALL_KEYS = sorted([*KIT_SECTIONS, *TRL_SECTIONS, *TOP_LEVEL_KEYS])


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataSettings = field(default_factory=DataSettings)
    reward: RewardConfig = field(default_factory=RewardConfig)
    judge: JudgeConfig = field(default_factory=JudgeConfig)
    grpo: Any = None  # trl.GRPOConfig, checked on the CPU; the trainer gets one built by trl_config.trainer_args
    sft: Any = None  # trl.SFTConfig, likewise
    cold_start: ColdStartSettings = field(default_factory=ColdStartSettings)
    select: SelectSettings = field(default_factory=SelectSettings)
    refs: RefsSettings = field(default_factory=RefsSettings)
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    output_dir: str = "runs/default"
    description: str = ""
    source: str = ""  # where it was loaded from (not written to snapshots)
    trl_values: dict = field(default_factory=dict)  # {"grpo": {...}, "sft": {...}}: kit defaults + given values

    def to_dict(self, *, plain: bool = True) -> dict:
        """Every section as data (``plain``: YAML-safe, for snapshots; else TRL values as given)."""
        out: dict = {}
        for name in SECTION_ORDER:
            if name in TRL_SECTIONS:
                out[name] = plain_data(self.trl_values[name]) if plain else dict(self.trl_values[name])
            else:
                out[name] = plain_data(getattr(self, name))
        out.update({key: getattr(self, key) for key in TOP_LEVEL_KEYS})
        return out

    def updated(self, section: str, **values) -> Config:
        """A copy with ``values`` set in ``section`` (validated like any config)."""
        raw = self.to_dict(plain=False)
        raw[section] = {**raw[section], **values}
        return build_config(raw, source=self.source, origins={f"{section}.{k}": "set by the kit" for k in values})

    def trainer_args(self, section: str, output_dir: str | Path, *, cuda: bool, **run_values):
        """TRL's config for the ``section`` trainer of this run (see :func:`kit.train.trl_config.trainer_args`)."""
        return trl_config.trainer_args(section, self.trl_values[section], output_dir, cuda=cuda,
                                       dtype=self.model.dtype, **run_values)


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


def read_config_file(path: Path) -> dict:
    """The mapping of sections in a YAML file; unreadable, empty or non-mapping files are errors."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
                          "save the config as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    if raw is None:
        raise ConfigError(f"{path}: the config is empty; give at least one section ({', '.join(ALL_KEYS)}) "
                          "or start from a preset (--preset tiny)")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections ({', '.join(ALL_KEYS)})")
    return raw


def load_config(path_or_preset: str | None = None, overrides: list[str] | None = None) -> Config:
    """Load a preset or YAML file (None = built-in defaults), apply ``key.sub=value`` overrides, validate."""
    raw: dict = {}
    source = "defaults"
    config_dir = None
    if path_or_preset:
        path = resolve_config_path(path_or_preset)
        source = str(path)
        config_dir = path.resolve().parent
        raw = read_config_file(path)
    raw = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    origins: dict[str, str] = {}
    for item in overrides or []:
        key, value = parse_override(item)
        set_dotted(raw, key, value)
        origins[key] = f"--set {key}"  # never the value: it may be a secret
    cfg = build_config(raw, source=source, origins=origins)
    resolve_data_paths(cfg, config_dir)
    return cfg


def _origin_finder(origins: dict[str, str], source: str):
    def where(dotted: str) -> str:
        for key, origin in origins.items():
            if dotted == key or dotted.startswith(key + ".") or key.startswith(dotted + "."):
                return origin
        return source

    return where


def build_config(raw: dict, *, source: str = "<dict>", origins: dict[str, str] | None = None) -> Config:
    where = _origin_finder(origins or {}, source)
    for key, value in raw.items():
        if key not in ALL_KEYS:
            raise ConfigError(f"unknown config key {key!r} ({where(key)}){suggest(key, ALL_KEYS)}; allowed: {ALL_KEYS}")
        if key not in TOP_LEVEL_KEYS and value is not None and not isinstance(value, dict):
            raise ConfigError(f"config section {key!r} ({where(key)}) must be a mapping, got {value!r}")
        if key in TOP_LEVEL_KEYS and not isinstance(value, str):
            raise ConfigError(f"config key {key!r} ({where(key)}) must be a string, got {value!r}")
    cfg = Config(source=source, **{key: raw[key] for key in TOP_LEVEL_KEYS if key in raw})
    for name, cls in KIT_SECTIONS.items():
        setattr(cfg, name, build_section(cls, raw.get(name) or {}, name, where))
    for name in TRL_SECTIONS:
        given = raw.get(name) or {}
        values = trl_config.validate_section(name, given, where)
        cfg.trl_values[name] = values
        setattr(cfg, name, trl_config.check_section(name, values, given, where))
    return cfg


def _check_keys(cls, values: dict, prefix: str, where) -> None:
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls, include_extras=True)
    for key, value in values.items():
        dotted = f"{prefix}.{key}"
        if key not in fields:
            raise ConfigError(f"unknown config key {dotted!r} ({where(dotted)}){suggest(key, fields)}; "
                              f"allowed keys in {prefix}: {sorted(fields)}")
        nested = hints[key]
        if dataclasses.is_dataclass(nested) and isinstance(value, dict):
            _check_keys(nested, value, dotted, where)


def build_section(cls, values: dict, prefix: str, where):
    """``cls`` from a mapping: unknown keys, wrong types and ``__post_init__`` rejections name the key."""
    from pydantic import TypeAdapter, ValidationError

    _check_keys(cls, values, prefix, where)
    try:
        return TypeAdapter(cls).validate_python(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = ".".join(str(part) for part in error["loc"] if not isinstance(part, int))
        if error["type"] == "value_error":  # a __post_init__ check: its message names the key
            message = str(error["ctx"]["error"]) if "ctx" in error else error["msg"]
            dotted = f"{prefix}.{loc}" if loc else prefix
            sources = sorted({where(f"{prefix}.{k}") for k in values} or {where(prefix)})
            raise ConfigError(f"config section {dotted!r} ({', '.join(sources)}): {message}") from None
        dotted = f"{prefix}.{loc}"
        raise ConfigError(f"config key {dotted!r} ({where(dotted)}): {error['msg']}, got {error.get('input')!r}") from None


# Keys that name local data: (section, field). A relative value is read from the working directory when it
# exists there, else from the config file's folder, else from the repository root (where the presets'
# ``examples/data/...`` live), so ``mthinker pipeline --preset tiny`` works from any directory.
PATH_KEYS = (("data", "train"), ("data", "grpo_train"), ("cold_start", "traces"))
NOT_PATHS = {"synthetic"}  # cold_start.traces=synthetic is a mode, never a folder


def resolve_data_paths(cfg: Config, config_dir: Path | None = None) -> None:
    """Make relative data paths of ``cfg`` absolute where they exist (see :data:`PATH_KEYS`); Hub ids and
    paths found nowhere are left as they are, so the stage's own error still names them."""
    bases = [Path.cwd(), *([config_dir] if config_dir else []), REPO_DIR]
    for section_name, key in PATH_KEYS:
        section = getattr(cfg, section_name)
        value = getattr(section, key)
        if not isinstance(value, str) or value in NOT_PATHS or Path(value).expanduser().is_absolute():
            continue
        found = next((base / value for base in bases if (base / value).exists()), None)
        if found is not None:
            setattr(section, key, str(found.resolve()))


def save_config(config: Config, output_dir: str | Path, name: str = SNAPSHOT_NAME) -> Path:
    """Write the resolved config (every kit default filled in) as YAML; loading it back gives the same config."""
    import yaml

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / name
    header = f"# resolved config snapshot (source: {config.source})\n"
    path.write_text(header + yaml.safe_dump(config.to_dict(), sort_keys=False, allow_unicode=True),
                    encoding="utf-8")
    return path


def section_dict(config: Config, name: str) -> dict:
    """A section as a plain dict (for logging and settings fingerprints)."""
    return config.to_dict()[name]
