"""Synthetic predictions built from the real benchmark text: a scorer check and the input of the scoring-speed
measurement (docs/BENCHMARKS.md), not a model's output.

Four samples per problem, each with a known expected outcome:

0. thinks in the question's language (the question text itself) and boxes the gold answer;
1. thinks in English (the English version of the same problem) and boxes the gold answer;
2. thinks in the question's language and boxes a wrong answer (12345);
3. boxes the gold answer but has no ``</think>``.

So Acc is about 75, LC about 50 (75 for English) and LC&Acc about 25 (50 for English), up to the detector's
mistakes on the question texts and golds math-verify cannot read.

    python -m kit.eval.synthetic --bench polymath --out polymath_preds.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from kit.eval.benchmarks import Problem, load_problems

WRONG_ANSWER = "12345"


def _cross_lang_key(p: Problem):
    return p.id if p.bench == "mmath" else p.id.replace(f"-{p.lang}-", "-")


def synthetic_texts(problem: Problem, english_question: str) -> list[str]:
    native = problem.question
    opening = native[:80]
    return [f"{native}\n</think>\n\n{opening} \\boxed{{{problem.answer}}}",
            f"{english_question}\n</think>\n\n{opening} \\boxed{{{problem.answer}}}",
            f"{native}\n</think>\n\n{opening} \\boxed{{{WRONG_ANSWER}}}",
            f"{native}\n\n{opening} \\boxed{{{problem.answer}}}"]


def write_synthetic_predictions(bench: str, out: str | os.PathLike, data=None, langs=None) -> int:
    """Write the four synthetic samples of every problem of ``bench``; returns the number of lines."""
    problems = load_problems(bench, data, langs=langs)
    english = {_cross_lang_key(p): p.question for p in load_problems(bench, data, langs=["en"])}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with out.open("w", encoding="utf-8") as fh:
        for p in problems:
            for sample, text in enumerate(synthetic_texts(p, english.get(_cross_lang_key(p), p.question))):
                fh.write(json.dumps({"bench": p.bench, "lang": p.lang, "id": p.id, "sample": sample,
                                     "prediction": text}, ensure_ascii=False) + "\n")
                n += 1
    return n


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", required=True, choices=["mmath", "polymath"])
    parser.add_argument("--out", required=True)
    parser.add_argument("--data", default=None)
    parser.add_argument("--langs", default=None)
    args = parser.parse_args(argv)
    n = write_synthetic_predictions(args.bench, args.out, args.data, args.langs)
    print(f"{n} synthetic predictions written to {args.out}")


if __name__ == "__main__":
    main()
