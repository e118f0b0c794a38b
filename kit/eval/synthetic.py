"""Synthetic predictions built from the real benchmark text: a scorer check and the input of the scoring-speed
measurement (docs/BENCHMARKS.md), not a model's output.

Four samples per problem, each with a known expected outcome:

0. thinks in the question's language (the question text itself) and boxes the gold answer;
1. thinks in English (the English version of the same problem) and boxes the gold answer;
2. thinks in the question's language and boxes a wrong answer (12345);
3. boxes the gold answer but has no ``</think>``.

So Acc is about 75, LC about 50 (75 for English) and LC&Acc about 25 (50 for English), up to the detector's
mistakes on the question texts and golds math-verify cannot read.

``--thinking-chars N`` makes each thinking about N characters long, as real completions are (thousands of
characters, where language identification costs more than on a question): the problem's question followed
by the other questions of the same language (English ones for sample 1), so the text stays real benchmark
text in the right language.

    python -m kit.eval.synthetic --bench polymath --out polymath_preds.jsonl
    python -m kit.eval.synthetic --bench mmath --thinking-chars 12000 --out mmath_long.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from kit.data.benchmarks import Problem, load_problems

WRONG_ANSWER = "12345"


def _cross_lang_key(p: Problem):
    return p.id if p.bench == "mmath" else p.id.replace(f"-{p.lang}-", "-")


def lengthen(start: str, pool: str, chars: int, offset: int = 0) -> str:
    """``start`` followed by text of ``pool`` from ``offset`` (wrapping around) up to ``chars`` characters."""
    need = chars - len(start) - 2  # after the blank line that separates the two
    if need <= 0 or not pool:
        return start
    pool += "\n\n"
    offset %= len(pool)
    repeated = pool * (2 + need // len(pool))
    return start + "\n\n" + repeated[offset:offset + need]


def synthetic_texts(problem: Problem, english_question: str, native_thinking: str | None = None,
                    english_thinking: str | None = None) -> list[str]:
    """The four samples; the thinking is the question (native or English) unless a longer one is given."""
    native = native_thinking or problem.question
    opening = problem.question[:80]
    return [f"{native}\n</think>\n\n{opening} \\boxed{{{problem.answer}}}",
            f"{english_thinking or english_question}\n</think>\n\n{opening} \\boxed{{{problem.answer}}}",
            f"{native}\n</think>\n\n{opening} \\boxed{{{WRONG_ANSWER}}}",
            f"{native}\n\n{opening} \\boxed{{{problem.answer}}}"]


def write_synthetic_predictions(bench: str, out: str | os.PathLike, data=None, langs=None,
                                thinking_chars: int = 0, levels=None, limit: int | None = None,
                                samples: int = 4, total: int | None = None) -> int:
    """Write the synthetic samples of every problem of ``bench`` (``langs``, ``levels`` and ``limit`` as in
    :func:`kit.data.benchmarks.load_problems`); returns the number of lines. ``thinking_chars``: lengthen
    each thinking to that many characters (see the module docstring). ``samples`` per problem (sample ``s``
    is the text of kind ``s % 4``); ``total``: keep only the first ``total`` predictions taken sample by
    sample (every problem's sample 0, then every problem's sample 1, ...), so a cut set still covers every
    problem and language."""
    problems = load_problems(bench, data, langs=langs, levels=levels, limit=limit)
    total = samples * len(problems) if total is None else int(total)
    english_problems = load_problems(bench, data, langs=["en"], levels=levels, limit=limit)
    english = {_cross_lang_key(p): p.question for p in english_problems}
    pools: dict[str, str] = {}
    for p in (*problems, *english_problems):
        pools[p.lang] = pools.get(p.lang, "") + p.question + "\n\n"
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with out.open("w", encoding="utf-8") as fh:
        for k, p in enumerate(problems):
            english_question = english.get(_cross_lang_key(p), p.question)
            long = {}
            if thinking_chars:
                offset = k * 7919  # a different stretch of the pool for each problem
                long = {"native_thinking": lengthen(p.question, pools[p.lang], thinking_chars, offset),
                        "english_thinking": lengthen(english_question, pools["en"], thinking_chars, offset)}
            texts = synthetic_texts(p, english_question, **long)
            for sample in range(samples):
                if sample * len(problems) + k >= total:
                    break
                fh.write(json.dumps({"bench": p.bench, "lang": p.lang, "id": p.id, "sample": sample,
                                     "prediction": texts[sample % len(texts)]}, ensure_ascii=False) + "\n")
                n += 1
    return n


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", required=True, choices=["mmath", "polymath"])
    parser.add_argument("--out", required=True)
    parser.add_argument("--data", default=None)
    parser.add_argument("--langs", default=None)
    parser.add_argument("--levels", default=None, help="PolyMath levels, e.g. low,medium (default all)")
    parser.add_argument("--limit", type=int, default=None, help="first N problems per language (and level)")
    parser.add_argument("--thinking-chars", type=int, default=0, metavar="N",
                        help="lengthen each thinking to N characters of real benchmark text (default: the question)")
    args = parser.parse_args(argv)
    if args.thinking_chars < 0:
        parser.error(f"--thinking-chars must be >= 0 (got {args.thinking_chars})")
    n = write_synthetic_predictions(args.bench, args.out, args.data, args.langs, args.thinking_chars,
                                    args.levels, args.limit)
    print(f"{n} synthetic predictions written to {args.out}")


if __name__ == "__main__":
    main()
