"""``mthinker bench rewards``: what the reward costs per completion, and its share of a GRPO step.

Completions are built from real benchmark text so that the language identifiers and math-verify see what
they see in training: the thinking is several real PolyMath questions of one language laid end to end
(with a LaTeX line between them) up to ``chars`` characters, then ``</think>``, the language's "the final
answer is" phrase and ``\\boxed{answer}``. Half of them box the gold answer, half a wrong one (so both
math-verify outcomes and the CTA gate are exercised). The English reference for CTA is built the same way
from the English versions of the same questions.

Timed, per completion: LC with fastText and with langdetect (thinking + answer), the dense ``lc_ratio``,
math-verify accuracy, the symbolic CTA judge (correct completions only, as in training), and the whole
M-Thinker reward (:func:`kit.rewards.score_completions`) on groups of ``group`` completions. The share of a
step is the group's reward time divided by a step time measured by ``bench grpo`` (``--step-time-s`` or
``--grpo-result``): a CPU step of the tiny model says nothing about a GPU step of the real one.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from kit.judges import build_judge
from kit.judges.base import CTAItem
from kit.languages import language_of
from kit.lid import detect
from kit.paths import EXAMPLES_DIR
from kit.rewards import accuracy_score, language_consistency, lc_ratio
from kit.rewards.mthinker import RewardConfig, score_completions
from kit.rewards.parsing import split_thinking

DEFAULT_LANGS = ("ja", "ko", "fr", "pt", "th", "en", "es", "ar", "vi", "zh")  # the paper's ten


@dataclass(frozen=True)
class QuestionPair:
    lang: str
    id: str
    question: str
    answer: str
    en_question: str


@dataclass(frozen=True)
class BenchCompletion:
    lang: str
    text: str
    answer: str  # gold
    correct: bool
    en_question: str
    en_reference: str


def load_pairs(data_dir: Path | None, langs: list[str]) -> dict[str, list[QuestionPair]]:
    """PolyMath questions with their English counterparts (same id suffix), per language.

    From ``data_dir/polymath`` when given, else from the bundled slice (``examples/data``, 40 per language).
    """
    pairs: dict[str, list[QuestionPair]] = {lang: [] for lang in langs}
    if data_dir is not None and (Path(data_dir) / "polymath").is_dir():
        import pandas as pd

        root = Path(data_dir) / "polymath"
        for level in ("low", "medium", "high", "top"):
            en_path = root / "en" / f"{level}.parquet"
            if not en_path.is_file():
                continue
            english = {str(i).split("-", 2)[-1]: q for i, q in
                       zip(*(pd.read_parquet(en_path)[c] for c in ("id", "question")))}
            for lang in langs:
                path = root / lang / f"{level}.parquet"
                if not path.is_file():
                    continue
                frame = pd.read_parquet(path)
                for qid, q, a in zip(frame["id"], frame["question"], frame["answer"]):
                    en = english.get(str(qid).split("-", 2)[-1], "")
                    pairs[lang].append(QuestionPair(lang, str(qid), str(q), str(a), str(en)))
    else:
        with (EXAMPLES_DIR / "data" / "polymath_low_slice.jsonl").open(encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                if row["lang"] in pairs:
                    pairs[row["lang"]].append(QuestionPair(row["lang"], row["id"], row["question"],
                                                           str(row["answer"]), row.get("en_question", "")))
    missing = [lang for lang, rows in pairs.items() if not rows]
    if missing:
        raise ValueError(f"no PolyMath question found for language(s) {missing}"
                         + (f" under {data_dir}" if data_dir else " in the bundled slice"))
    return pairs


def _thinking(texts: list[str], chars: int) -> str:
    parts, length, i = [], 0, 0
    while length < chars:
        text = texts[i % len(texts)].strip()
        parts.append(f"{text}\n\n$x_{{{i}}} = {i + 2} \\cdot {i + 3} = {(i + 2) * (i + 3)}$\n\n")
        length += len(parts[-1])
        i += 1
    return "".join(parts).rstrip()


def build_completions(pairs: dict[str, list[QuestionPair]], per_lang: int, chars: int
                      ) -> list[BenchCompletion]:
    """``per_lang`` completions per language, each starting from a different question."""
    out = []
    for lang, rows in pairs.items():
        phrase = language_of(lang).answer_phrase
        for k in range(per_lang):
            window = [rows[(k + j) % len(rows)] for j in range(8)]
            gold = window[0].answer
            correct = k % 2 == 0
            boxed = gold if correct else f"{gold}+1"
            thinking = _thinking([r.question for r in window], chars)
            reference = _thinking([r.en_question or r.question for r in window], chars)
            text = f"{thinking}\n</think>\n\n{phrase} $\\boxed{{{boxed}}}$"
            out.append(BenchCompletion(lang, text, gold, correct, window[0].en_question, reference))
    return out


def _clear_text_caches() -> None:
    """Empty the per-text memo caches of math-verify's parser and the symbolic judge.

    Both memoize by string, so a second pass over the same completions would be mostly cache hits; in
    training every completion is new text. Each pass therefore starts cold (the parsers stay loaded).
    """
    import importlib

    for name in ("math_verify.parser", "kit.judges.symbolic"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        for value in vars(module).values():
            if callable(getattr(value, "cache_clear", None)) and hasattr(value, "cache_info"):
                value.cache_clear()


def _per_item_ms(func, items, repeats: int = 3, fresh=None) -> float:
    """Milliseconds per item of the fastest of ``repeats`` passes (the least disturbed by other processes).

    Every pass starts with cold text caches (:func:`_clear_text_caches`). ``fresh``: called before each
    pass to get a new ``func`` (a judge's own score cache must start empty too).
    """
    best = float("inf")
    for _ in range(max(1, repeats)):
        _clear_text_caches()
        call = fresh() if fresh else func
        start = time.perf_counter()
        for item in items:
            call(item)
        best = min(best, time.perf_counter() - start)
    return 1000.0 * best / max(len(items), 1)


def _symbolic_judge():
    """The kit's symbolic CTA judge, or None (with the reason) when :mod:`kit.judges` does not provide one."""
    try:
        return build_judge("symbolic"), ""
    except Exception as exc:  # noqa: BLE001 (reported in the result instead)
        return None, f"{type(exc).__name__}: {exc}"


def _time_cta(completions: list, repeats: int, result: dict) -> None:
    """ms per correct completion of the symbolic CTA judge, or why it was not measured."""
    judge, judge_missing = _symbolic_judge()
    correct = [c for c in completions if c.correct]
    if judge is None or not correct:
        result["cta_symbolic_missing"] = judge_missing or "no correct completion to judge"
        return
    items = [CTAItem(en_question=c.en_question, en_reference=c.en_reference,
                     thinking=split_thinking(c.text).thinking, lang=c.lang) for c in correct]

    def cta_pass():  # a fresh judge per pass: its score cache must start empty
        fresh_judge = _symbolic_judge()[0]
        return lambda item: fresh_judge.score([item])

    result["ms_per_completion"]["cta_symbolic"] = _per_item_ms(None, items, repeats, fresh=cta_pass)


def _time_whole_reward(completions: list, group: int, repeats: int, result: dict) -> None:
    """The whole M-Thinker reward per group of ``group`` completions, with each LID backend."""
    groups = [completions[i:i + group] for i in range(0, len(completions) - group + 1, group)]
    for backend in ("fasttext", "langdetect"):
        config = RewardConfig(lid_backend=backend)

        def score_groups(_, config=config):
            judge, _ = _symbolic_judge()  # a fresh judge: its score cache must not carry items over
            for g in groups:
                score_completions([c.text for c in g], lang=[c.lang for c in g],
                                  answer=[c.answer for c in g], en_question=[c.en_question for c in g],
                                  en_reference=[c.en_reference for c in g], config=config, judge=judge)

        seconds = _per_item_ms(score_groups, [None], repeats) / 1000.0 / max(len(groups), 1)
        result["ms_per_completion"][f"mthinker_reward_{backend}"] = 1000.0 * seconds / group
        result[f"group_reward_s_{backend}"] = seconds


def run_rewards_bench(data_dir: Path | None = None, langs: list[str] | None = None, per_lang: int = 8,
                      chars: int = 4000, group: int = 8, step_time_s: float | None = None,
                      step_source: str = "", repeats: int = 3) -> dict:
    """Time each reward component per completion (ms) and the whole reward per group (s).

    Each figure is the fastest of ``repeats`` passes over all completions.
    """
    langs = list(langs or DEFAULT_LANGS)
    completions = build_completions(load_pairs(data_dir, langs), per_lang, chars)
    for backend in ("fasttext", "langdetect"):  # load both models before timing
        detect("warm-up text for the detector", backend)
    for gold in ("1", "\\frac{1}{2}", "(1,2)", "x^2+1"):  # math-verify's one-time parser set-up
        accuracy_score(f"\\boxed{{{gold}}}", gold)

    result: dict = {"n_completions": len(completions), "languages": langs, "chars": chars,
                    "mean_completion_chars": round(statistics.fmean(len(c.text) for c in completions)),
                    "source": str(data_dir) if data_dir else "bundled PolyMath slice",
                    "ms_per_completion": {}}
    ms = result["ms_per_completion"]
    for backend in ("fasttext", "langdetect"):
        ms[f"lc_{backend}"] = _per_item_ms(lambda c, b=backend: language_consistency(c.text, c.lang, b),
                                           completions, repeats)
    ms["lc_ratio_fasttext"] = _per_item_ms(lambda c: lc_ratio(c.text, c.lang, "fasttext"), completions,
                                           repeats)
    ms["accuracy_math_verify"] = _per_item_ms(lambda c: accuracy_score(c.text, c.answer), completions,
                                              repeats)
    result["accuracy_check"] = statistics.fmean(
        float(accuracy_score(c.text, c.answer) == float(c.correct)) for c in completions)

    _time_cta(completions, repeats, result)
    _time_whole_reward(completions, group, repeats, result)
    result["ms_per_completion"] = {k: round(v, 4) for k, v in ms.items()}
    result["group"] = group
    result["repeats"] = repeats
    if step_time_s:
        result["step_time_s"] = step_time_s
        result["step_source"] = step_source
        for backend in ("fasttext", "langdetect"):
            result[f"reward_share_{backend}"] = round(result[f"group_reward_s_{backend}"] / step_time_s, 6)
    return result


def step_time_from_result(path: Path) -> tuple[float, str]:
    """The step time and a description of the run from a ``bench grpo --json`` output file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        step = float(data["step_time_s"])
    except FileNotFoundError:
        raise ValueError(f"{path} does not exist; "
                         f"write one with `mthinker bench grpo --json > FILE`") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path} is not a `bench grpo --json` result "
                         f"with a 'step_time_s' number ({exc})") from None
    desc = (f"bench grpo --arch {data.get('arch')} --backend {data.get('backend')} "
            f"--group {data.get('group')} --completion-len {data.get('completion_len')} "
            f"on {data.get('device')}")
    return step, desc
