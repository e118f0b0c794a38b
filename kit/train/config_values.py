"""Value handling for :mod:`kit.train.config`: type coercion of YAML/CLI values, ``key.sub=value`` overrides,
and plain-data snapshots. Split out so the config module holds the sections and the loading flow only."""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from enum import Enum
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A bad config: the message names the key, its source and how to fix it."""


def _origin(origins: dict[str, str], dotted: str, source: str) -> str:
    for key, where in origins.items():
        if dotted == key or dotted.startswith(key + "."):
            return where
    return source


def _dataclass_in(hint):
    if dataclasses.is_dataclass(hint):
        return hint
    for arg in typing.get_args(hint):
        if dataclasses.is_dataclass(arg):
            return arg
    return None


_TYPE_WORDS = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


def _coerce(value, hint, key: str, where: str):
    """Check ``value`` against a type hint, converting YAML/CLI scalars where unambiguous."""
    if hint is Any or hint is typing.Any:
        return value
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key, where)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0] if len(errors) == 1 else ConfigError(
            f"config key {key!r} ({where}): {value!r} fits none of {_describe(hint)}")
    if origin in (list, tuple):
        (item_hint, *_) = typing.get_args(hint) or (Any,)
        if isinstance(value, str):  # a CLI flag "ja,ko"
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config key {key!r} ({where}): expected a list, got {value!r}")
        return [_coerce(v, item_hint, f"{key}[{i}]", where) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"config key {key!r} ({where}): expected a mapping, got {value!r}")
        return value
    if isinstance(hint, type) and issubclass(hint, Enum):
        allowed = [m.value for m in hint]
        if isinstance(value, hint):
            return value
        if value in allowed:
            return hint(value)
        raise ConfigError(f"config key {key!r} ({where}): {value!r} is not one of {allowed}")
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            return value.lower() in ("true", "yes", "on", "1")
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # PyYAML reads 2e-5 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif hint is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
    else:
        return value
    raise ConfigError(f"config key {key!r} ({where}): expected {_TYPE_WORDS.get(hint, hint)}, got {value!r}")


def _describe(hint) -> str:
    names = [_TYPE_WORDS.get(a, getattr(a, "__name__", str(a))) for a in typing.get_args(hint)]
    return " / ".join(n if n != "NoneType" else "null" for n in names)


def _suggest(key: str, allowed) -> str:
    close = difflib.get_close_matches(key, list(allowed), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _parse_override(item: str) -> tuple[str, Any]:
    import yaml

    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {item!r} must look like section.key=value, e.g. grpo.max_steps=10")
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        value = text
    return key, value


def _set_dotted(raw: dict, key: str, value) -> None:
    parts = key.split(".")
    node = raw
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            raise ConfigError(f"override {key!r}: {'.'.join(parts[:i + 1])} is a value, not a section")
        else:
            child = node[part] = dict(child)
        node = child
    node[parts[-1]] = value


def _plain(value):
    """Dataclasses/enums/paths to YAML-safe plain data (for snapshots)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.init and not f.name.startswith("_")}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
