"""Example questions for the demo, in many languages, from MMATH and PolyMath.

From the shared benchmark folder when it is present (`kit.paths.find_benchmarks_dir`): a few MMATH
questions (AIME/CNMO/MATH-500 translations) and PolyMath low-level ones; otherwise from the bundled PolyMath
slice, so a fresh clone always has examples. Reading is cheap (one row per file) and never fails the app:
an unreadable file is skipped with a warning.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from kit.paths import EXAMPLES_DIR, find_benchmarks_dir

log = logging.getLogger(__name__)

BUNDLED_SLICE = EXAMPLES_DIR / "data" / "polymath_low_slice.jsonl"
# The paper's ten languages first (in-domain, then out-of-domain), then a few more PolyMath ones.
EXAMPLE_LANGUAGES = ("ja", "ko", "fr", "pt", "th", "es", "ar", "vi", "zh", "en", "de", "ru", "sw", "bn", "te")
MMATH_LANGUAGES_SHOWN = ("ja", "fr", "zh", "th", "ko")
# MMATH's AIME questions are long; the demo's examples prefer the shortest ones of the file.
MMATH_MAX_CHARS = 600
LABEL_CHARS = 48  # characters of the question an example button shows


@dataclass(frozen=True)
class Example:
    question: str
    lang: str
    answer: str
    source: str  # "MMATH AIME2024 #3", "PolyMath low-ja-0"

    @property
    def benchmark(self) -> str:
        """ "MMATH" or "PolyMath": the first word of ``source``."""
        return self.source.split()[0]

    @property
    def label(self) -> str:
        """The example button's text: the language and the question's opening words (ids tell a visitor
        nothing)."""
        words = " ".join(self.question.split())
        return f"[{self.lang}] {words[:LABEL_CHARS].rstrip()}…" if len(words) > LABEL_CHARS else f"[{self.lang}] {words}"


def _mmath_example(folder: Path, lang: str, pick: int = 0) -> Example | None:
    path = folder / "mmath" / f"{lang}.json"
    if not path.is_file():
        return None
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
        short = [r for r in rows if len(str(r.get("question", ""))) <= MMATH_MAX_CHARS] or rows
        row = short[(pick * 37) % len(short)]  # a different problem per language, so examples vary
        return Example(
            question=str(row["question"]),
            lang=lang,
            answer=str(row["answer"]),
            source=f"MMATH {row.get('data_source', '')} #{row.get('data_source_id', '')}".strip(),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("skipping MMATH examples from %s: %s", path, exc)
        return None


def _polymath_example(folder: Path, lang: str, pick: int = 0) -> Example | None:
    path = folder / "polymath" / lang / "low.parquet"
    if not path.is_file():
        return None
    try:
        import pyarrow.parquet as pq

        table = pq.read_table(path, columns=["id", "question", "answer"])
        row = table.slice(pick % max(1, table.num_rows), 1).to_pylist()[0]
        return Example(
            question=str(row["question"]),
            lang=lang,
            answer=str(row["answer"]),
            source=f"PolyMath {row['id']}",
        )
    except Exception as exc:  # noqa: BLE001 - a broken parquet must not take the demo down
        log.warning("skipping PolyMath examples from %s: %s", path, exc)
        return None


def bundled_examples(languages=EXAMPLE_LANGUAGES) -> list[Example]:
    """One question per language from the bundled PolyMath slice (always present in a checkout)."""
    by_lang: dict[str, Example] = {}
    with BUNDLED_SLICE.open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row["lang"] in languages and row["lang"] not in by_lang:
                by_lang[row["lang"]] = Example(
                    question=row["question"],
                    lang=row["lang"],
                    answer=str(row["answer"]),
                    source=f"PolyMath {row['id']}",
                )
    return [by_lang[code] for code in languages if code in by_lang]


def load_examples(benchmarks_dir: str | Path | None = None, languages=EXAMPLE_LANGUAGES) -> list[Example]:
    """PolyMath (one per language) and MMATH (a few languages) examples, or the bundled slice's."""
    folder = find_benchmarks_dir(benchmarks_dir, required=False)
    if folder is None:
        return bundled_examples(languages)
    examples = [e for e in (_polymath_example(folder, code, i) for i, code in enumerate(languages)) if e]
    examples += [
        e for e in (_mmath_example(folder, code, i) for i, code in enumerate(MMATH_LANGUAGES_SHOWN)) if e
    ]
    return examples or bundled_examples(languages)
