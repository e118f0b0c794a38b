"""Shared fixtures. Tests never touch the network: the tiny model is built locally into a temp cache."""

import os
from pathlib import Path

import pytest

from tests.support.bundled import write_bundled_slice

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory) -> Path:
    """A session-wide MTHINKER_CACHE, so the tiny model is built once per test run and never in ~/.cache."""
    path = tmp_path_factory.mktemp("mthinker-cache")
    previous = os.environ.get("MTHINKER_CACHE")
    os.environ["MTHINKER_CACHE"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("MTHINKER_CACHE", None)
    else:
        os.environ["MTHINKER_CACHE"] = previous


@pytest.fixture(scope="session")
def tiny_model_path(tiny_cache) -> Path:
    """The embedded tiny Qwen2 model (random weights), built once per session."""
    from kit.tiny import ensure_tiny_model

    return ensure_tiny_model()


@pytest.fixture(scope="module")
def benchmarks(tmp_path_factory) -> Path:
    """The shared benchmark folder, or else the bundled PolyMath slice laid out as one (real text, low level,
    40 problems per language), exported as MTHINKER_BENCHMARKS for the module that asks for it."""
    from kit.paths import find_benchmarks_dir

    full = find_benchmarks_dir(required=False)
    if full is not None:
        yield full
        return
    folder = write_bundled_slice(tmp_path_factory.mktemp("benchmarks"))
    previous = os.environ.get("MTHINKER_BENCHMARKS")
    os.environ["MTHINKER_BENCHMARKS"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("MTHINKER_BENCHMARKS", None)
    else:
        os.environ["MTHINKER_BENCHMARKS"] = previous
