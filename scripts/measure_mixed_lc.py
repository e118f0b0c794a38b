"""How often does the LC check pass monolingual vs mixed-language text? (both backends)

    python scripts/measure_mixed_lc.py [--trials 100]

For each language, "thinking" texts are built from 8 random PolyMath questions (all levels) as paragraphs:
pure = all 8 in the language; mixed = every third paragraph in the language, the rest the English versions
of the same problems (the drift M-Thinker's LC reward must catch). Prints the pass rate of
`kit.lid.is_consistent` for both, per backend. Results are in docs/BENCHMARKS.md.
"""

import argparse
import random

import pandas as pd

from kit.languages import PAPER_LANGUAGES
from kit.lid import is_consistent
from kit.paths import find_benchmarks_dir

LEVELS = ("low", "medium", "high", "top")


def questions(root, lang):
    return [q for level in LEVELS for q in pd.read_parquet(root / "polymath" / lang / f"{level}.parquet").question]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--langs", default=",".join(PAPER_LANGUAGES))
    args = parser.parse_args()
    root = find_benchmarks_dir()
    english = questions(root, "en")
    print("| language | pure, fasttext | pure, langdetect | 1/3 native, fasttext | 1/3 native, langdetect |")
    print("|---|---:|---:|---:|---:|")
    for lang in args.langs.split(","):
        native = questions(root, lang)
        rng = random.Random(0)
        counts = {key: 0 for key in ("pf", "pl", "mf", "ml")}
        for _ in range(args.trials):
            idx = rng.sample(range(len(native)), 8)
            pure = "\n\n".join(native[i] for i in idx)
            mixed = "\n\n".join(native[i] if k % 3 == 0 else english[i] for k, i in enumerate(idx))
            counts["pf"] += is_consistent(pure, lang, "fasttext")
            counts["pl"] += is_consistent(pure, lang, "langdetect")
            counts["mf"] += is_consistent(mixed, lang, "fasttext")
            counts["ml"] += is_consistent(mixed, lang, "langdetect")
        rate = {k: f"{100 * v / args.trials:.0f}%" for k, v in counts.items()}
        print(f"| {lang} | {rate['pf']} | {rate['pl']} | {rate['mf']} | {rate['ml']} |")


if __name__ == "__main__":
    main()
