"""MMATH and PolyMath problems, read from a local folder (or the Hugging Face Hub when online).

A local folder is laid out like the shared benchmarks::

    mmath/<lang>.json                  list of {question, answer, data_source, data_source_id, lang, gid}
    polymath/<lang>/<level>.parquet    columns id ("low-ja-0"), question, answer

Every problem becomes a :class:`Problem` whose ``id`` is the key of the prediction lines: MMATH's ``gid``
(an int) or PolyMath's ``id`` (a string such as ``"low-ja-0"``). ``group`` is what the paper averages over:
MMATH's data source (AIME2024, AIME2025, CNMO, MATH500) or PolyMath's level (low, medium, high, top).

Example:
    >>> problems = load_problems("polymath", langs=["ja"], levels=["low"], limit=2)
    >>> problems[0].id, problems[0].group
    ('low-ja-0', 'low')
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from kit.enums import coerce
from kit.languages import MMATH_LANGUAGES, POLYMATH_LANGUAGES, parse_languages
from kit.paths import find_benchmarks_dir


class Bench(str, Enum):
    mmath = "mmath"
    polymath = "polymath"


MMATH_SOURCES: tuple[str, ...] = ("AIME2024", "AIME2025", "CNMO", "MATH500")
POLYMATH_LEVELS: tuple[str, ...] = ("low", "medium", "high", "top")
# Hub fallbacks when --data is not a folder (needs network; never used by the tests).
HUB_IDS = {"mmath": "RUCAIBox/MMATH", "polymath": "Qwen/PolyMath"}


class BenchmarkError(ValueError):
    """A benchmark file is missing or malformed; the message names the file and the row."""


class SelectionError(BenchmarkError):
    """A language, level or limit the benchmark does not have; ``option`` names the argument (langs, levels,
    limit) so a command can blame its flag rather than the data."""

    def __init__(self, message: str, option: str):
        super().__init__(message)
        self.option = option


@dataclass(frozen=True)
class Problem:
    bench: str
    lang: str
    id: int | str
    question: str
    answer: str
    group: str  # MMATH data source or PolyMath level


def bench_languages(bench: str | Bench) -> tuple[str, ...]:
    return MMATH_LANGUAGES if coerce(Bench, bench, "bench") is Bench.mmath else POLYMATH_LANGUAGES


def _langs(bench: Bench, langs) -> list[str]:
    codes = [lang.code for lang in parse_languages(langs, default=bench_languages(bench))]
    unknown = [c for c in codes if c not in bench_languages(bench)]
    if unknown:
        raise SelectionError(f"{bench.value} has no language {', '.join(unknown)}; "
                             f"it has: {', '.join(bench_languages(bench))}", "langs")
    return codes


def _levels(levels) -> list[str]:
    if not levels:
        return list(POLYMATH_LEVELS)
    if isinstance(levels, str):
        levels = [v for v in levels.split(",") if v.strip()]
    chosen = [str(v).strip().lower() for v in levels]
    bad = [v for v in chosen if v not in POLYMATH_LEVELS]
    if bad:
        raise SelectionError(f"unknown PolyMath level {', '.join(bad)}; choose from {', '.join(POLYMATH_LEVELS)}",
                             "levels")
    return [v for v in POLYMATH_LEVELS if v in chosen]


def _require(row: dict, keys: tuple[str, ...], where: str) -> None:
    if not isinstance(row, dict):
        raise BenchmarkError(f"{where}: expected an object, got {type(row).__name__}")
    missing = [k for k in keys if k not in row or row[k] is None]
    if missing:
        raise BenchmarkError(f"{where}: missing field(s) {', '.join(missing)}")


def _mmath_rows(rows, lang: str, where: str) -> list[Problem]:
    problems = []
    for i, row in enumerate(rows):
        at = f"{where} row {i}"
        _require(row, ("question", "answer", "data_source", "gid"), at)
        if row["data_source"] not in MMATH_SOURCES:
            raise BenchmarkError(f"{at}: unknown data_source {row['data_source']!r}; "
                                 f"expected one of {', '.join(MMATH_SOURCES)}")
        problems.append(Problem("mmath", lang, int(row["gid"]), str(row["question"]), str(row["answer"]),
                                str(row["data_source"])))
    return problems


def _polymath_rows(rows, lang: str, level: str, where: str) -> list[Problem]:
    problems = []
    for i, row in enumerate(rows):
        at = f"{where} row {i}"
        _require(row, ("id", "question", "answer"), at)
        problems.append(Problem("polymath", lang, str(row["id"]), str(row["question"]), str(row["answer"]), level))
    return problems


def benchmark_file(bench: str | Bench, root: Path, lang: str, level: str | None = None) -> Path:
    """Where a local folder keeps one language (MMATH) or one language and level (PolyMath)."""
    if coerce(Bench, bench, "bench") is Bench.mmath:
        return Path(root) / "mmath" / f"{lang}.json"
    return Path(root) / "polymath" / lang / f"{level}.parquet"


def local_languages(bench: str | Bench, root: Path) -> list[str]:
    """The languages a local folder has files for (``mmath/<lang>.json``, ``polymath/<lang>/``)."""
    folder = Path(root) / coerce(Bench, bench, "bench").value
    if not folder.is_dir():
        return []
    if coerce(Bench, bench, "bench") is Bench.mmath:
        return sorted(p.stem for p in folder.glob("*.json"))
    return sorted(p.name for p in folder.iterdir() if p.is_dir())


def read_rows(path: Path) -> list[dict]:
    """The rows of one benchmark file (an MMATH JSON list, a PolyMath parquet); a :class:`BenchmarkError`
    names the file. The fields each row needs are checked by the caller."""
    if path.suffix == ".json":
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BenchmarkError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(rows, list):
            raise BenchmarkError(f"{path}: expected a JSON list of problems")
        return rows
    import pyarrow.parquet as pq  # directly: pandas would cost more to import than the 72 PolyMath files to read

    try:
        return pq.read_table(path).to_pylist()
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a broken file
        raise BenchmarkError(f"{path}: cannot read parquet ({exc})") from None


def _load_local(bench: Bench, root: Path, langs: list[str], levels: list[str], all_levels: bool = True
                ) -> list[Problem]:
    problems: list[Problem] = []
    for lang in langs:
        if bench is Bench.mmath:
            path = benchmark_file(bench, root, lang)
            if not path.is_file():
                raise BenchmarkError(f"{path} not found (MMATH language {lang})")
            problems += _mmath_rows(read_rows(path), lang, str(path))
        else:
            present = [lv for lv in levels if benchmark_file(bench, root, lang, lv).is_file()]
            for level in levels if all_levels or not present else present:
                path = benchmark_file(bench, root, lang, level)
                if not path.is_file():
                    raise BenchmarkError(f"{path} not found (PolyMath {lang}/{level})")
                problems += _polymath_rows(read_rows(path), lang, level, str(path))
    return problems


def _load_hub(bench: Bench, hub_id: str, langs: list[str], levels: list[str]) -> list[Problem]:
    """Thin Hub path (online only): download the dataset repository and read it as a local folder. The
    repository holds either ``<bench>/...`` (like the shared folder) or the benchmark's own files at its root
    (Qwen/PolyMath: ``<lang>/<level>.parquet``)."""
    import tempfile

    from huggingface_hub import snapshot_download

    folder = Path(snapshot_download(hub_id, repo_type="dataset"))
    if (folder / bench.value).is_dir():
        return _load_local(bench, folder, langs, levels)
    # Present the repository root as <tmp>/<bench> so the local reader sees the usual layout.
    link_root = Path(tempfile.mkdtemp(prefix="mthinker-hub-"))
    (link_root / bench.value).symlink_to(folder, target_is_directory=True)
    return _load_local(bench, link_root, langs, levels)


def _looks_like_hub_id(text: str) -> bool:
    parts = text.split("/")
    return len(parts) == 2 and all(parts) and not text.startswith((".", "~")) and "\\" not in text


def load_problems(bench: str | Bench, data: str | os.PathLike | None = None, *, langs=None, levels=None,
                  limit: int | None = None, all_levels: bool = True) -> list[Problem]:
    """Problems of ``bench`` for ``langs`` (default: all of the benchmark's languages) and, for PolyMath,
    ``levels`` (default: all four). ``data``: a folder (default :func:`kit.paths.find_benchmarks_dir`) or a
    Hub id. ``limit``: the first N problems per language (per level for PolyMath), for small runs.
    ``all_levels=False`` (the scorer) reads the level files a local folder has and skips absent ones; a
    prediction for a problem of a missing level is then an unknown id."""
    bench = coerce(Bench, bench, "bench")
    lang_codes, level_names = _langs(bench, langs), _levels(levels)
    if limit is not None and int(limit) < 1:
        raise SelectionError(f"limit must be >= 1 (got {limit})", "limit")
    if data is None or Path(data).expanduser().is_dir():
        root = find_benchmarks_dir(data, required=False) if data is not None else find_benchmarks_dir()
        if root is None:
            raise BenchmarkError(f"--data {data}: no mmath/ or polymath/ folder inside")
        problems = _load_local(bench, root, lang_codes, level_names, all_levels)
    elif Path(data).expanduser().exists():
        raise BenchmarkError(f"--data {data} is a file; pass the folder holding mmath/ and polymath/")
    elif not _looks_like_hub_id(str(data)):
        raise BenchmarkError(f"--data {data}: folder not found (a Hub id looks like owner/name)")
    else:
        problems = _load_hub(bench, str(data), lang_codes, level_names)
    if limit:
        kept, counts = [], {}
        for p in problems:
            key = (p.lang, p.group if bench is Bench.polymath else "")
            counts[key] = counts.get(key, 0) + 1
            if counts[key] <= int(limit):
                kept.append(p)
        problems = kept
    return problems


def index_problems(problems: list[Problem]) -> dict[tuple[str, int | str], Problem]:
    """(lang, id) -> problem; a duplicate id within a language is a data error."""
    index: dict[tuple[str, int | str], Problem] = {}
    for p in problems:
        key = (p.lang, p.id)
        if key in index:
            raise BenchmarkError(f"duplicate {p.bench} id {p.id!r} in language {p.lang}")
        index[key] = p
    return index
