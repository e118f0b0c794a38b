"""``mthinker bench score``: how long scoring a predictions file takes, and where the time goes.

The predictions are synthetic, built from the real benchmark text by :mod:`kit.eval.synthetic` (every
branch of the scorer runs: native thinking right, English thinking right, native thinking wrong, no
``</think>``), as many as asked: the benchmark's problems are cycled sample by sample (a fifth sample and
beyond repeat the four kinds), so 50,000 predictions cover every problem and language; fewer than four per
problem take the first problems of every language (and level) with all four kinds. Building them is not
timed. Timed, in one process as ``mthinker score`` runs them: reading the file, loading the benchmark's
problems (PolyMath: one parquet file per language and level), scoring (``workers`` processes) and
aggregating. CPU time counts the worker processes too.
"""

from __future__ import annotations

import os
import platform
import resource
import tempfile
import time
from pathlib import Path

from kit.data.benchmarks import load_problems
from kit.eval.aggregate import aggregate
from kit.eval.score import default_workers, read_predictions, score_predictions
from kit.eval.synthetic import write_synthetic_predictions


def _cpu_s() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _peak_rss_mb() -> float:
    """Largest resident set of this process and of its largest worker (Linux reports KiB)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return max(own.ru_maxrss, children.ru_maxrss) / 1024


def machine() -> dict:
    """What the figures were measured on: CPU model, cores this process may use, load average at the start."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": model, "cores": cores, "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version()}


def run_score_bench(bench: str, n_predictions: int, *, thinking_chars: int = 0, lid: str = "fasttext",
                    workers: int | None = None, data=None, keep: str | os.PathLike | None = None) -> dict:
    """Build ``n_predictions`` synthetic predictions of ``bench`` and time scoring them (see the module
    docstring). ``keep``: write the predictions there (else a temporary file, removed afterwards)."""
    problems = load_problems(bench, data, all_levels=False)  # the levels the folder has (all four when full)
    levels = sorted({p.group for p in problems}) if bench == "polymath" else None
    # Fewer predictions than four per problem: the first problems of each language (and level), all four
    # kinds each, so a small set has the same mix as a large one.
    groups = len({(p.lang, p.group if levels else "") for p in problems})
    limit = -(-int(n_predictions) // (4 * groups)) if n_predictions < 4 * len(problems) else None
    n_problems = min(len(problems), limit * groups) if limit else len(problems)
    samples = max(4, -(-int(n_predictions) // n_problems))
    before = machine()
    with tempfile.TemporaryDirectory(prefix="mthinker-bench-score-") as tmp:
        path = Path(keep) if keep else Path(tmp) / "preds.jsonl"
        start = time.perf_counter()
        written = write_synthetic_predictions(bench, path, data, thinking_chars=thinking_chars, levels=levels,
                                              limit=limit, samples=samples, total=n_predictions)
        build_s = time.perf_counter() - start
        size_mb = path.stat().st_size / 2**20
        cpu0, t0 = _cpu_s(), time.perf_counter()
        predictions = read_predictions(path, bench)
        t1 = time.perf_counter()
        problems = load_problems(bench, data, langs=sorted({p.lang for p in predictions}), all_levels=False)
        t2 = time.perf_counter()
        scored = score_predictions(predictions, problems, lid, workers=workers)
        t3 = time.perf_counter()
        metrics = aggregate(scored, bench, lid)
        t4 = time.perf_counter()
        cpu = _cpu_s() - cpu0
    wall = t4 - t0
    return {
        "bench": bench, "n_predictions": written, "problems": n_problems, "samples_per_problem": samples,
        "thinking_chars": thinking_chars, "file_mb": round(size_mb, 1), "lid": lid,
        "workers": workers or default_workers(),
        "build_s": round(build_s, 2), "read_s": round(t1 - t0, 2), "load_problems_s": round(t2 - t1, 2),
        "score_s": round(t3 - t2, 2), "aggregate_s": round(t4 - t3, 2), "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2), "predictions_per_s": round(written / wall, 1) if wall else None,
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "all_avg": {k: round(v, 2) for k, v in (metrics.get("all_avg") or {}).items()
                    if isinstance(v, (int, float))},
        "machine": before, "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
