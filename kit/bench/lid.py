"""``mthinker bench lid``: accuracy and speed of the two language identifiers on the benchmarks' questions.

Every question of MMATH (10 languages x 374) and PolyMath (18 languages x 4 levels x 125) is a text whose
language is known. Each backend of :mod:`kit.lid` detects it (LaTeX removed first, as the consistency check
does before detecting) and we count how often the detected language is the question's, per language and
overall, and time each call (the model is loaded before timing starts).
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path

BENCHES = ("mmath", "polymath")
POLYMATH_LEVELS = ("low", "medium", "high", "top")


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
    """The questions of ``data_dir`` (``mmath/<lang>.json``, ``polymath/<lang>/<level>.parquet``).

    ``langs``: only these languages (default: every language found). ``limit``: at most that many questions
    per language and benchmark (PolyMath's taken evenly from its four levels).
    """
    texts: list[LabeledText] = []
    mmath = data_dir / "mmath"
    if "mmath" in benches and mmath.is_dir():
        for path in sorted(mmath.glob("*.json")):
            lang = path.stem
            if langs and lang not in langs:
                continue
            try:
                rows = json.loads(path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ValueError(f"{path} is not a JSON list of questions ({exc})") from None
            picked = []
            for i, row in enumerate(rows):
                if not isinstance(row, dict) or "question" not in row:
                    raise ValueError(f"{path}: row {i} has no 'question' key")
                picked.append(LabeledText("mmath", lang, str(row["question"]), str(row.get("gid", i))))
            texts += picked[:limit] if limit else picked
    polymath = data_dir / "polymath"
    if "polymath" in benches and polymath.is_dir():
        import pandas as pd

        for lang_dir in sorted(p for p in polymath.iterdir() if p.is_dir()):
            lang = lang_dir.name
            if langs and lang not in langs:
                continue
            levels = []
            for level in POLYMATH_LEVELS:
                path = lang_dir / f"{level}.parquet"
                if not path.is_file():
                    continue
                frame = pd.read_parquet(path)
                if "question" not in frame.columns:
                    raise ValueError(f"{path} has no 'question' column (columns: {list(frame.columns)})")
                ids = frame["id"].astype(str) if "id" in frame.columns else [f"{level}-{lang}-{i}"
                                                                            for i in range(len(frame))]
                levels.append([LabeledText("polymath", lang, str(q), i)
                               for q, i in zip(frame["question"], ids)])
            # Round-robin over the levels, so a --limit takes from each level alike.
            picked = [t for group in zip_longest(*levels) for t in group if t is not None]
            texts += picked[:limit] if limit else picked
    if not texts:
        wanted = f" for languages {langs}" if langs else ""
        raise ValueError(f"no benchmark question found under {data_dir}{wanted} "
                         f"(expected mmath/<lang>.json or polymath/<lang>/<level>.parquet)")
    return texts


def score_backend(texts: list[LabeledText], backend: str) -> dict[tuple[str, str], BackendScore]:
    """Detect every text with ``backend``; scores keyed by (bench, lang)."""
    from kit.lid import detect, strip_latex

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
