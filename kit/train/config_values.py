"""``key.sub=value`` overrides, the config error, "did you mean", and plain data for :mod:`kit.train.config`.

Values are typed by the sections themselves (pydantic for the kit's sections, TRL's field types for
``grpo`` and ``sft``): nothing here converts types.
"""

from __future__ import annotations

import dataclasses
import difflib
from enum import Enum
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A bad config: the message names the key, its source and how to fix it."""


def suggest(key: str, allowed) -> str:
    close = difflib.get_close_matches(key, list(allowed), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def parse_override(item: str) -> tuple[str, Any]:
    """``"grpo.max_steps=10"`` -> ``("grpo.max_steps", 10)``; the value is read as YAML."""
    import yaml

    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override --set {key or item!r} must look like section.key=value, e.g. grpo.max_steps=10")
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        value = text
    return key, value


def set_dotted(raw: dict, key: str, value) -> None:
    parts = key.split(".")
    node = raw
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            raise ConfigError(f"override --set {key}: {'.'.join(parts[:i + 1])} is a value, not a section")
        else:
            child = node[part] = dict(child)
        node = child
    node[parts[-1]] = value


def plain_data(value):
    """Dataclasses/enums/paths to YAML-safe plain data (for snapshots and validated TRL values)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain_data(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
