"""``mthinker bench lid``: accuracy and speed of the two language identifiers on the benchmarks' questions.

Every question of MMATH (10 languages x 374) and PolyMath (18 languages x 4 levels x 125) is a text whose
language is known. Each backend of :mod:`kit.lid` detects it (LaTeX removed first, as the consistency check
does before detecting) and we count how often the detected language is the question's, per language and
overall, and time each call (the model is loaded before timing starts).
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path

from kit.data.benchmarks import POLYMATH_LEVELS, benchmark_file, local_languages, read_rows
from kit.lid import detect, strip_latex

BENCHES = ("mmath", "polymath")


@dataclass(frozen=True)
class LabeledText:
    bench: str
    lang: str
    text: str
    id: str


@dataclass
class BackendScore:
    n: int = 0
    correct: int = 0
    seconds: float = 0.0
    confusions: Counter = field(default_factory=Counter)  # wrong label -> count

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    @property
    def ms_per_text(self) -> float:
        return 1000.0 * self.seconds / self.n if self.n else 0.0

    def as_dict(self) -> dict:
        return {"n": self.n, "accuracy": round(self.accuracy, 4), "ms_per_text": round(self.ms_per_text, 4),
                "top_confusions": dict(self.confusions.most_common(3))}


def load_questions(data_dir: Path, langs: list[str] | None = None, limit: int | None = None,
                   benches: tuple[str, ...] = BENCHES) -> list[LabeledText]:
    """The questions of ``data_dir`` (``mmath/<lang>.json``, ``polymath/<lang>/<level>.parquet``), read
    with the benchmark loader's file functions (:mod:`kit.data.benchmarks`); only ``question`` is needed.

    ``langs``: only these languages (default: every language found). ``limit``: at most that many questions
    per language and benchmark (PolyMath's taken evenly from its four levels).
    """
    texts: list[LabeledText] = []
    for bench in (b for b in BENCHES if b in benches):
        for lang in local_languages(bench, data_dir):
            if langs and lang not in langs:
                continue
            groups = []
            for level in (None,) if bench == "mmath" else POLYMATH_LEVELS:
                path = benchmark_file(bench, data_dir, lang, level)
                if not path.is_file():
                    continue
                group = []
                for i, row in enumerate(read_rows(path)):
                    if not isinstance(row, dict) or row.get("question") is None:
                        raise ValueError(f"{path}: row {i} has no 'question' key")
                    key = row.get("gid", i) if bench == "mmath" else row.get("id", f"{level}-{lang}-{i}")
                    group.append(LabeledText(bench, lang, str(row["question"]), str(key)))
                groups.append(group)
            # Round-robin over PolyMath's levels, so a --limit takes from each level alike.
            picked = [t for group in zip_longest(*groups) for t in group if t is not None]
            texts += picked[:limit] if limit else picked
    if not texts:
        wanted = f" for languages {langs}" if langs else ""
        raise ValueError(f"no benchmark question found under {data_dir}{wanted} "
                         f"(expected mmath/<lang>.json or polymath/<lang>/<level>.parquet)")
    return texts


def score_backend(texts: list[LabeledText], backend: str) -> dict[tuple[str, str], BackendScore]:
    """Detect every text with ``backend``; scores keyed by (bench, lang)."""
    detect("warm-up: load the model before timing", backend)
    scores: dict[tuple[str, str], BackendScore] = {}
    for item in texts:
        clean = strip_latex(item.text)
        start = time.perf_counter()
        found = detect(clean, backend).lang
        elapsed = time.perf_counter() - start
        score = scores.setdefault((item.bench, item.lang), BackendScore())
        score.n += 1
        score.seconds += elapsed
        if found == item.lang:
            score.correct += 1
        else:
            score.confusions[str(found)] += 1
    return scores


def _merge(scores: list[BackendScore]) -> BackendScore:
    total = BackendScore()
    for s in scores:
        total.n += s.n
        total.correct += s.correct
        total.seconds += s.seconds
        total.confusions.update(s.confusions)
    return total


def run_lid_bench(data_dir: Path, langs: list[str] | None = None, limit: int | None = None,
                  backends: tuple[str, ...] = ("fasttext", "langdetect")) -> dict:
    """Per language (both benchmarks together), per benchmark and overall: accuracy and ms per text."""
    texts = load_questions(data_dir, langs, limit)
    result: dict = {"data": str(data_dir), "n_texts": len(texts), "backends": list(backends),
                    "languages": {}, "benches": {}, "overall": {}}
    per_backend = {b: score_backend(texts, b) for b in backends}
    languages = sorted({t.lang for t in texts})
    benches = sorted({t.bench for t in texts})
    for lang in languages:
        result["languages"][lang] = {
            b: _merge([s for (_, lg), s in per_backend[b].items() if lg == lang]).as_dict() for b in backends}
    for bench in benches:
        result["benches"][bench] = {
            b: _merge([s for (bn, _), s in per_backend[b].items() if bn == bench]).as_dict()
            for b in backends}
    for b in backends:
        overall = _merge(list(per_backend[b].values())).as_dict()
        # The mean over languages weighs each language alike (PolyMath has more questions per language).
        overall["macro_accuracy"] = round(statistics.fmean(
            result["languages"][lg][b]["accuracy"] for lg in languages), 4)
        result["overall"][b] = overall
    if "fasttext" in backends and "langdetect" in backends:
        ft, ld = result["overall"]["fasttext"], result["overall"]["langdetect"]
        result["speedup_fasttext_vs_langdetect"] = (round(ld["ms_per_text"] / ft["ms_per_text"], 2)
                                                    if ft["ms_per_text"] else None)
    return result
