"""Rebuild examples/data/polymath_low_slice.jsonl from the shared PolyMath copy.

    python scripts/make_bundled_slice.py [--per-lang 40]

PolyMath (Qwen/PolyMath, arXiv 2504.18428) is Apache-2.0; see examples/data/README.md for attribution.
Each row: {"id", "lang", "question", "answer", "en_question"}; the number in the id is the problem,
shared across languages, so `en_question` is the English version of the same problem.
"""

import argparse
import json
from pathlib import Path

import pandas as pd

from kit.languages import POLYMATH_LANGUAGES
from kit.paths import EXAMPLES_DIR, find_benchmarks_dir


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-lang", type=int, default=40)
    parser.add_argument("--out", type=Path, default=EXAMPLES_DIR / "data" / "polymath_low_slice.jsonl")
    args = parser.parse_args()
    root = find_benchmarks_dir() / "polymath"
    english = pd.read_parquet(root / "en" / "low.parquet").head(args.per_lang)
    en_by_number = {row.id.rsplit("-", 1)[1]: row.question for row in english.itertuples()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as f:
        for lang in POLYMATH_LANGUAGES:
            frame = pd.read_parquet(root / lang / "low.parquet").head(args.per_lang)
            for row in frame.itertuples():
                record = {"id": row.id, "lang": lang, "question": row.question, "answer": str(row.answer),
                          "en_question": en_by_number[row.id.rsplit("-", 1)[1]]}
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
