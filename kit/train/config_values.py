"""``key.sub=value`` overrides, the config error, and "did you mean" for :mod:`kit.train.config`.

Values are typed by the sections themselves (pydantic for the kit's sections, TRL's field types for
``grpo`` and ``sft``): nothing here converts types.
"""

from __future__ import annotations

import difflib
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
