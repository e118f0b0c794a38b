"""How often do native MMATH texts with LaTeX pass the LC check, per backend? (issue 14, item 1)

    python scripts/measure_short_answer_lc.py [--langs zh,ja] [--limit 400]

Every text is real MMATH text in its own language, so every one should pass: the pass rate is the LC a
perfectly native model would get. Per question, three texts, as models write them:
- question: the question itself (inline math, the odd LaTeX command) as a thinking;
- boxed: its last sentence, then ``\\boxed{gold}`` on its own line (outside math delimiters);
- env: its last sentence, then ``\\begin{equation*}\\text{<its first words>} \\boxed{gold}\\end{equation*}``.
Prints the pass rate of `kit.lid.is_consistent` (scoring rule) per backend and text kind; the gap is
fastText minus langdetect. Results are in docs/BENCHMARKS.md.
"""

import argparse
import json
import re

from kit.languages import MMATH_LANGUAGES
from kit.lid import is_consistent, strip_latex
from kit.paths import find_benchmarks_dir

_SENTENCE_END = re.compile(r"(?<=[。？！.?!])\s*")


def last_sentence(question: str) -> str:
    sentences = [s for s in _SENTENCE_END.split(question.strip()) if s.strip()]
    return sentences[-1] if sentences else question


def texts(row: dict) -> dict[str, str]:
    tail, gold = last_sentence(row["question"]), row["answer"]
    words = strip_latex(tail).strip()[:12]  # native words for \text{}, no half of a math span
    return {"question": row["question"],
            "boxed": f"{tail}\n\\boxed{{{gold}}}",
            "env": f"{tail}\n\\begin{{equation*}}\n\\text{{{words}}} \\boxed{{{gold}}}\n\\end{{equation*}}"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--langs", default=",".join(MMATH_LANGUAGES))
    parser.add_argument("--limit", type=int, default=400, help="questions per language")
    args = parser.parse_args()
    root = find_benchmarks_dir()
    print("| language | text | n | fasttext | langdetect | gap |")
    print("|---|---|---:|---:|---:|---:|")
    for lang in args.langs.split(","):
        rows = json.loads((root / "mmath" / f"{lang}.json").read_text(encoding="utf-8"))[: args.limit]
        for kind in ("question", "boxed", "env"):
            items = [texts(r)[kind] for r in rows]
            rate = {b: 100 * sum(is_consistent(t, lang, b) for t in items) / len(items)
                    for b in ("fasttext", "langdetect")}
            print(f"| {lang} | {kind} | {len(items)} | {rate['fasttext']:.1f}% | {rate['langdetect']:.1f}% "
                  f"| {rate['fasttext'] - rate['langdetect']:+.1f} |")


if __name__ == "__main__":
    main()
