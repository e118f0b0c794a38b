"""Contamination guard: the training, select and SFT stages refuse questions that are evaluation questions.

Training on MMATH or PolyMath questions and then evaluating on them measures memorization, not the
method. Before a stage loads its model, :func:`check_contamination` compares every question it would use
(and its English counterpart, when the row has one) with every MMATH and PolyMath question, in every
language and level, by normalized text: Unicode NFKC, case folded, whitespace and punctuation removed (so
a re-wrapped line or a full-width comma still matches). On any overlap the stage stops with an error naming
the first overlapping questions, unless the user allows it explicitly (``--allow-benchmark-overlap`` or
``data.allow_benchmark_overlap: true``), as the tiny preset does for its bundled PolyMath slice.

The benchmark side is computed once: a map from a 64-bit hash of each normalized question to its
benchmark id, cached under :func:`kit.paths.cache_dir` and keyed by the benchmark files' names, sizes and
modification times (a changed file rebuilds it). Checking a stage's questions is then one hash lookup each.

    >>> normalize_question("Combien  font 2 + 2 ?") == normalize_question("combien font 2+2？")
    True
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import unicodedata
from pathlib import Path

from kit.data.benchmarks import load_problems, local_languages
from kit.paths import cache_dir, find_benchmarks_dir

log = logging.getLogger(__name__)

INDEX_VERSION = 1  # bump when normalize_question changes: old caches are then ignored
MIN_CHARS = 8  # normalized questions shorter than this ("1+1?") are too generic to call an overlap
SHOWN = 5  # overlapping questions named in the error
ALLOW_HINT = "--allow-benchmark-overlap (config: data.allow_benchmark_overlap: true)"


class ContaminationError(ValueError):
    """A stage's questions overlap the evaluation benchmarks; the message names the first overlaps."""


def normalize_question(text: str) -> str:
    """NFKC, case folded, without whitespace or punctuation: the form two copies of a question share."""
    text = unicodedata.normalize("NFKC", str(text)).casefold()
    return "".join(ch for ch in text if not ch.isspace() and not unicodedata.category(ch).startswith("P"))


def _key(text: str) -> str | None:
    normalized = normalize_question(text)
    if len(normalized) < MIN_CHARS:
        return None
    return hashlib.blake2b(normalized.encode("utf-8"), digest_size=8).hexdigest()


# ------------------------------------------------------------------------------- the benchmark index


def _fingerprint(root: Path) -> str:
    """Names, sizes and modification times of the benchmark files under ``root``."""
    digest = hashlib.sha256(f"v{INDEX_VERSION}".encode())
    for bench in ("mmath", "polymath"):
        for path in sorted((root / bench).rglob("*")) if (root / bench).is_dir() else []:
            if path.is_file() and path.suffix in (".json", ".parquet"):
                stat = path.stat()
                digest.update(f"{path.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _build_index(root: Path) -> dict[str, str]:
    index: dict[str, str] = {}
    for bench in ("mmath", "polymath"):
        if not (root / bench).is_dir():
            continue
        for problem in load_problems(bench, root, langs=local_languages(bench, root), all_levels=False):
            key = _key(problem.question)
            if key is not None:
                index.setdefault(key, f"{bench}/{problem.lang}/{problem.id}")
    return index


def benchmark_index(root: str | os.PathLike | None = None) -> tuple[dict[str, str], Path | None]:
    """(hash -> benchmark id, the cache file) for the benchmark folder ``root`` (default: the shared
    folder, see :func:`kit.paths.find_benchmarks_dir`); ``({}, None)`` when there is none."""
    folder = Path(root) if root else find_benchmarks_dir(required=False)
    if folder is None:
        return {}, None
    cache = cache_dir() / "contamination" / f"benchmarks-{_fingerprint(folder)}.json"
    if cache.is_file():
        try:
            return json.loads(cache.read_text(encoding="utf-8"))["questions"], cache
        except (json.JSONDecodeError, KeyError, UnicodeDecodeError):
            log.warning("%s: unreadable contamination cache, rebuilding it", cache)
    index = _build_index(folder)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(cache.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"source": str(folder), "questions": index}), encoding="utf-8")
    tmp.replace(cache)
    return index, cache


# ------------------------------------------------------------------------------------------ the check


def find_overlaps(rows: list[dict], index: dict[str, str]) -> list[tuple[dict, str]]:
    """``(row, benchmark id)`` for every row whose ``question`` or ``en_question`` is a benchmark question."""
    found = []
    for row in rows:
        for field in ("question", "en_question"):
            key = _key(row.get(field) or "")
            if key is not None and key in index:
                found.append((row, index[key]))
                break
    return found


def check_contamination(rows: list[dict], *, stage: str, source: str, allow: bool = False,
                        benchmarks: str | os.PathLike | None = None) -> list[tuple[dict, str]]:
    """Refuse (:class:`ContaminationError`) when ``rows`` hold MMATH/PolyMath questions, unless ``allow``;
    returns the overlaps (logged as a warning when allowed). ``source`` names the data in the message."""
    index, cache = benchmark_index(benchmarks)
    if not index:
        log.warning("%s: no MMATH/PolyMath folder found (set MTHINKER_BENCHMARKS): the training questions were "
                    "not checked against the evaluation benchmarks", stage)
        return []
    overlaps = find_overlaps(rows, index)
    if not overlaps:
        log.debug("%s: none of %d questions is a benchmark question (index %s)", stage, len(rows), cache)
        return []
    shown = ", ".join(f"{row.get('id')} ({row.get('lang')}) = {bench_id}" for row, bench_id in overlaps[:SHOWN])
    summary = (f"{stage}: {len(overlaps)} of {len(rows)} questions in {source} are MMATH/PolyMath evaluation "
               f"questions (normalized text match), first: {shown}")
    if allow:
        log.warning("%s; allowed by data.allow_benchmark_overlap, so evaluate on other questions", summary)
        return overlaps
    raise ContaminationError(f"{summary}. Training on evaluation questions inflates the evaluation: train on "
                             f"other data (the GPU presets use the released RL data) or, knowingly, pass "
                             f"{ALLOW_HINT}")
