"""Resumable generation of benchmark predictions into ``preds.jsonl``.

Each line is ``{"bench", "lang", "id", "sample", "prediction"}`` (see ``docs/architecture.md``). Lines are
appended and synced once per chunk the engine hands over (each request of the OpenAI engine, each
``chunk_size`` problems of the transformers and vLLM engines), so a crash loses only the work in flight; a rerun
reads the file and generates only the (id, sample) pairs it lacks. A last line cut off by a crash (no
newline, not valid JSON) is dropped before appending; any other broken line is an error naming it (the file
is never rewritten silently).

With a ``provenance`` record (:mod:`kit.eval.provenance`, what the CLI always passes) the file is appended to
only when it was produced by the same settings, and the record is kept beside it. The engine may be given as
a factory, called only when something is left to generate (a finished file loads no model).
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from kit.data.benchmarks import Problem
from kit.eval import provenance as prov
from kit.eval.baselines import Baseline
from kit.eval.engines import EngineError, iter_chunks, with_n
from kit.eval.score import read_predictions
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
    """(lang, id) -> sample indices already in ``path``, and whether a cut-off last line was dropped.

    The file is validated by the scorer's reader (:func:`kit.eval.score.read_predictions`): a broken line, a
    language the benchmark lacks or a duplicate (id, sample) is an error naming the line, as when scoring.
    """
    path = Path(path)
    done: dict[tuple[str, int | str], set[int]] = defaultdict(set)
    if not path.exists():
        return done, False
    dropped = _drop_partial_last_line(path)
    for pred in read_predictions(path, bench):
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


def _clear_or_check(out: Path, provenance: dict | None, overwrite: bool, way_out: str) -> None:
    """Delete ``out`` and its record (``overwrite``), or refuse it when other settings produced it."""
    if overwrite:
        out.unlink(missing_ok=True)
        prov.sidecar_path(out).unlink(missing_ok=True)
    elif provenance is not None:
        prov.check(out, provenance, way_out)
    out.parent.mkdir(parents=True, exist_ok=True)


def _write_chunk(fh, chunk, items: list[tuple[Problem, list[int]]]) -> int:
    """Append one engine chunk's completions as prediction lines and sync them; returns how many."""
    written = 0
    for index, completions in chunk:
        problem, missing = items[index]
        for sample, text in zip(missing, completions):
            line = {"bench": problem.bench, "lang": problem.lang, "id": problem.id, "sample": sample,
                    "prediction": text}
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
            written += 1
    # one sync per chunk: a crash loses at most what the engine had not handed over yet
    fh.flush()
    os.fsync(fh.fileno())
    return written


def generate_predictions(problems: list[Problem], engine, out: str | os.PathLike, params: SamplingParams,
                         baseline: str | Baseline = Baseline.none, progress=None, provenance: dict | None = None,
                         overwrite: bool = False,
                         way_out: str = "write to another file, or overwrite it") -> GenerateSummary:
    """Append ``params.n`` predictions per problem to ``out``, skipping those already there.

    ``engine``: an engine, or a zero-argument callable making one (called only when predictions are missing).
    ``provenance``: this run's record (:func:`kit.eval.provenance.describe_run`); an existing ``out`` produced
    by other settings raises :class:`kit.eval.provenance.ProvenanceMismatch` (ending with ``way_out``) before
    anything is touched. ``overwrite``: delete ``out`` and its record first.

    Completions are written and synced once per chunk the engine hands over
    (:func:`kit.eval.engines.iter_chunks`: each problem from a streaming engine, each ``engine.chunk_size``
    problems from the others);
    ``progress(written, total)`` is called after each chunk. An :class:`EngineError` (a failed request, a
    missing package) is raised again with what was saved.
    """
    out = Path(out)
    _clear_or_check(out, provenance, overwrite, way_out)
    bench = problems[0].bench if problems else "mmath"
    done, dropped = done_samples(out, bench)
    already = sum(len(v) for v in done.values())
    todo = plan(problems, params.n, done)
    if provenance is not None:
        prov.write(out, provenance)
    if not todo:
        out.touch()
        return GenerateSummary(path=out, written=0, already=already, dropped_partial_line=dropped)
    if callable(engine) and not hasattr(engine, "complete"):
        engine = engine()
    # Problems missing the same number of samples share a generate call (the engines take one n per call).
    by_count: dict[int, list[tuple[Problem, list[int]]]] = defaultdict(list)
    for item in todo:
        by_count[len(item[1])].append(item)
    total = sum(len(m) for _, m in todo)
    written = 0
    with out.open("a", encoding="utf-8") as fh:
        try:
            for count, items in sorted(by_count.items(), reverse=True):
                for chunk in iter_chunks(engine, [p for p, _ in items], with_n(params, count), baseline):
                    written += _write_chunk(fh, chunk, items)
                    if progress:
                        progress(written, total)
        except EngineError as exc:
            raise EngineError(f"{exc}\n{written} of the {total} predictions this run set out to make are saved in "
                              f"{out} ({already} were there before); rerun the same command to generate only "
                              "the missing ones") from exc
    return GenerateSummary(path=out, written=written, already=already, dropped_partial_line=dropped)
