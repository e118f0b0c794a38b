"""Resumable generation of benchmark predictions into ``preds.jsonl``.

Each line is ``{"bench", "lang", "id", "sample", "prediction"}`` (see ``docs/architecture.md``). Lines are
appended and flushed batch by batch, so a crash loses only the batch in flight; a rerun reads the file and
generates only the (id, sample) pairs it lacks. A last line cut off by a crash (no newline, not valid JSON)
is dropped before appending; any other broken line is an error naming it (the file is never rewritten
silently).
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from kit.eval.baselines import Baseline
from kit.eval.benchmarks import Problem
from kit.eval.engines import with_n
from kit.eval.score import PredictionFileError, parse_prediction_line
from kit.generation import SamplingParams


@dataclass
class GenerateSummary:
    path: Path
    written: int  # predictions appended by this run
    already: int  # predictions found in the file and kept
    dropped_partial_line: bool  # a cut-off last line (a crash mid-write) was removed


def _drop_partial_last_line(path: Path) -> bool:
    """Remove a trailing line without newline that is not valid JSON (a write interrupted by a crash)."""
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return False
    cut = data.rfind(b"\n") + 1
    try:
        json.loads(data[cut:].decode("utf-8"))
        with path.open("ab") as fh:  # complete JSON, only the newline is missing
            fh.write(b"\n")
        return False
    except (UnicodeDecodeError, json.JSONDecodeError):
        with path.open("r+b") as fh:
            fh.truncate(cut)
        return True


def done_samples(path: str | os.PathLike, bench: str) -> tuple[dict[tuple[str, int | str], set[int]], bool]:
    """(lang, id) -> sample indices already in ``path``, and whether a cut-off last line was dropped."""
    path = Path(path)
    done: dict[tuple[str, int | str], set[int]] = defaultdict(set)
    if not path.exists():
        return done, False
    dropped = _drop_partial_last_line(path)
    with path.open(encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            pred = parse_prediction_line(line, f"{path} line {lineno}", bench, lineno)
            if pred.sample in done[(pred.lang, pred.id)]:
                raise PredictionFileError(f"{path} line {lineno}: duplicate (id={pred.id!r}, sample={pred.sample}) "
                                          f"for {pred.lang}")
            done[(pred.lang, pred.id)].add(pred.sample)
    return done, dropped


def plan(problems: list[Problem], n: int, done) -> list[tuple[Problem, list[int]]]:
    """Each problem with the sample indices (< n) still missing; problems already complete are left out."""
    todo = []
    for p in problems:
        missing = [s for s in range(n) if s not in done.get((p.lang, p.id), ())]
        if missing:
            todo.append((p, missing))
    return todo


def generate_predictions(problems: list[Problem], engine, out: str | os.PathLike, params: SamplingParams,
                         baseline: str | Baseline = Baseline.none, chunk_size: int = 8, progress=None
                         ) -> GenerateSummary:
    """Append ``params.n`` predictions per problem to ``out``, skipping those already there.

    ``chunk_size`` problems are generated (and then written) at a time. ``progress(done, total)`` is called
    after each chunk when given.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1 (got {chunk_size})")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    bench = problems[0].bench if problems else "mmath"
    done, dropped = done_samples(out, bench)
    already = sum(len(v) for v in done.values())
    todo = plan(problems, params.n, done)
    # Problems missing the same number of samples share a generate call (the engines take one n per call).
    by_count: dict[int, list[tuple[Problem, list[int]]]] = defaultdict(list)
    for item in todo:
        by_count[len(item[1])].append(item)
    total = sum(len(m) for _, m in todo)
    written = 0
    with out.open("a", encoding="utf-8") as fh:
        for count, items in sorted(by_count.items(), reverse=True):
            for start in range(0, len(items), chunk_size):
                chunk = items[start:start + chunk_size]
                texts = engine.complete([p for p, _ in chunk], with_n(params, count), baseline)
                for (problem, missing), completions in zip(chunk, texts):
                    for sample, text in zip(missing, completions):
                        line = {"bench": problem.bench, "lang": problem.lang, "id": problem.id,
                                "sample": sample, "prediction": text}
                        fh.write(json.dumps(line, ensure_ascii=False) + "\n")
                        written += 1
                fh.flush()
                os.fsync(fh.fileno())
                if progress:
                    progress(written, total)
    return GenerateSummary(path=out, written=written, already=already, dropped_partial_line=dropped)
