"""Score predictions the way the M-Thinker authors' MMATH and PolyMath scorers do, with the kit's functions.

Per prediction (one line of ``preds.jsonl``):

- **split**: at ``</think>`` (:func:`kit.rewards.parsing.split_raw`, the pieces as they stand); anything but
  exactly one ``</think>`` leaves the thinking inconsistent.
- **answer extracted**: MMATH: :func:`kit.rewards.parsing.mmath_final_answer` of the whole completion (the
  last ``\\boxed``, else the last number after "final answer"/"answer is"). PolyMath:
  :func:`kit.rewards.parsing.polymath_final_answer`, the first closed ``boxed{`` of the answer part with spaces
  removed (the whole completion when it has no single ``</think>``). Both are ports of the authors' scanners.
- **acc**: :func:`kit.rewards.accuracy.verify` (math-verify) of the gold against the extracted answer; the
  gold is read as written for MMATH and as ``$gold$`` for PolyMath, as each scorer does.
- **think_lc / answer_lc**: :func:`kit.rewards.language.language_consistency`, the training reward's own LC
  function with the scorers' short-text rule: the paper's check of the thinking and the answer as they stand
  in the completion (whitespace counts toward the 15-character threshold, as in the authors' eval scripts;
  their training reward strips it first). Without a single ``</think>`` the thinking is inconsistent; the
  answer is inconsistent on MMATH and, on PolyMath, is the whole completion (the PolyMath generation script
  stores it as the answer), so only ``answer_lc`` can differ between the two benchmarks.
- **lc** = think_lc and answer_lc; **lc_acc** = lc and acc.

Scoring runs in worker processes (math-verify and langdetect are the slow parts; each worker's main thread
can use the signal-based deadline of :func:`kit.rewards.accuracy.verify`). Equal (gold, extracted) pairs are
verified once for the whole set, each gold's pairs by one worker (see :func:`score_predictions`).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from kit.data.benchmarks import Bench, Problem, bench_languages, index_problems
from kit.enums import coerce
from kit.languages import UnknownLanguageError, get_language
from kit.lid import LIDBackend, ShortTextRule
from kit.rewards.accuracy import verify
from kit.rewards.language import language_consistency
from kit.rewards.parsing import mmath_final_answer, polymath_final_answer
from kit.textfiles import where_not_utf8

REQUIRED_FIELDS = ("bench", "lang", "id", "sample", "prediction")


class PredictionFileError(ValueError):
    """A predictions file is malformed; the message names the file and the line."""


@dataclass(frozen=True)
class Prediction:
    bench: str
    lang: str
    id: int | str
    sample: int
    prediction: str
    line: int  # 1-based line number in its file (for error messages)


@dataclass(frozen=True)
class ScoredPrediction:
    bench: str
    lang: str
    id: int | str
    sample: int
    group: str  # MMATH data source / PolyMath level
    extracted: str | None
    acc: bool
    think_lc: bool
    answer_lc: bool

    @property
    def lc(self) -> bool:
        return self.think_lc and self.answer_lc

    @property
    def lc_acc(self) -> bool:
        return self.lc and self.acc

    def to_json(self) -> dict:
        return {**asdict(self), "lc": self.lc, "lc_acc": self.lc_acc}


# ---------------------------------------------------------------------------------------------- reading

def _normalize_id(bench: str, raw, where: str) -> int | str:
    if bench == Bench.mmath.value:
        if isinstance(raw, bool) or not isinstance(raw, (int, str)) or not str(raw).strip().lstrip("-").isdigit():
            raise PredictionFileError(f"{where}: MMATH id must be an integer gid (got {raw!r})")
        return int(raw)
    if not isinstance(raw, str) or not raw.strip():
        raise PredictionFileError(f"{where}: PolyMath id must be a string such as 'low-ja-0' (got {raw!r})")
    return raw.strip()


def _sample_and_text(row: dict, where: str) -> tuple[int, str]:
    sample = row["sample"]
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 0:
        raise PredictionFileError(f"{where}: sample must be an integer >= 0 (got {sample!r})")
    prediction = row["prediction"]
    if prediction is None:  # no engine writes null (an empty generation is ""): a file edited or built elsewhere
        raise PredictionFileError(f"{where}: prediction is null (expected the completion's text; \"\" if empty)")
    if not isinstance(prediction, str):
        raise PredictionFileError(f"{where}: prediction must be a string (got {type(prediction).__name__})")
    return sample, prediction


def _benchmark_language(raw, bench: str, where: str) -> str:
    try:
        lang = get_language(str(raw)).code
    except UnknownLanguageError as exc:
        raise PredictionFileError(f"{where}: {exc}") from None
    known = bench_languages(bench)
    if lang not in known:  # a language the kit knows but the benchmark lacks (de on MMATH)
        raise PredictionFileError(f"{where}: language {lang!r} is not in {bench} ({bench} has {', '.join(known)})")
    return lang


def parse_prediction_line(line: str, where: str, expected_bench: str | None = None, lineno: int = 0
                          ) -> Prediction:
    """One JSON line -> :class:`Prediction`, or a :class:`PredictionFileError` naming ``where``.

    Everything a line can be checked against without the benchmark's files is checked here, so scoring,
    library callers and a resumed generation reject the same lines with the same message."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise PredictionFileError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(row, dict):
        raise PredictionFileError(f"{where}: expected a JSON object, got {type(row).__name__}")
    missing = [k for k in REQUIRED_FIELDS if k not in row]
    if missing:
        raise PredictionFileError(f"{where}: missing field(s) {', '.join(missing)} "
                                  f"(each line needs {', '.join(REQUIRED_FIELDS)})")
    bench = str(row["bench"]).strip().lower()
    if bench not in (b.value for b in Bench):
        raise PredictionFileError(f"{where}: unknown bench {row['bench']!r}; expected mmath or polymath")
    if expected_bench and bench != expected_bench:
        raise PredictionFileError(f"{where}: bench is {bench!r} but --bench is {expected_bench!r}")
    sample, prediction = _sample_and_text(row, where)
    lang = _benchmark_language(row["lang"], bench, where)
    return Prediction(bench, lang, _normalize_id(bench, row["id"], where), sample, prediction, lineno)


def read_predictions(path: str | os.PathLike, bench: str | Bench | None = None) -> list[Prediction]:
    """Every line of a predictions file, validated; duplicate (lang, id, sample) triples are an error that
    names both lines. Blank lines are skipped."""
    path = Path(path)
    expected = coerce(Bench, bench, "--bench").value if bench else None
    if path.is_dir():
        raise PredictionFileError(f"{path} is a folder; give its predictions file (preds.jsonl)")
    if not path.is_file():
        raise PredictionFileError(f"{path}: predictions file not found")
    seen: dict[tuple, int] = {}
    out: list[Prediction] = []
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:  # strictly: a replaced byte would be scored as text the model never wrote
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise PredictionFileError(f"{path}: {where_not_utf8(raw, exc, first_line=lineno)}") from None
            if not line.strip():
                continue
            pred = parse_prediction_line(line, f"{path} line {lineno}", expected, lineno)
            key = (pred.bench, pred.lang, pred.id, pred.sample)
            if key in seen:
                raise PredictionFileError(f"{path} line {lineno}: duplicate (id={pred.id!r}, sample={pred.sample}) "
                                          f"for {pred.lang}; first seen on line {seen[key]}")
            seen[key] = lineno
            out.append(pred)
    return out


def match_problems(predictions: list[Prediction], problems: list[Problem], path: str = "predictions"
                   ) -> list[Problem]:
    """The problem of each prediction; an id (or a language) missing from ``problems`` is an error naming the
    line. (A language the benchmark itself lacks is already refused by :func:`parse_prediction_line`; this
    catches one of its languages that was not loaded.)"""
    index = index_problems(problems)
    langs = {p.lang for p in problems}
    matched = []
    for pred in predictions:
        problem = index.get((pred.lang, pred.id))
        if problem is None:
            where = f"{path} line {pred.line}"
            if pred.lang not in langs:
                raise PredictionFileError(f"{where}: language {pred.lang!r} is not among the loaded "
                                          f"{pred.bench} languages ({', '.join(sorted(langs))})")
            raise PredictionFileError(f"{where}: unknown {pred.bench} id {pred.id!r} for language {pred.lang}")
        matched.append(problem)
    return matched


# ---------------------------------------------------------------------------------------------- scoring

def extract_answer(bench: str, text: str) -> str | None:
    """The answer each benchmark's scorer compares with the gold (see the module docstring)."""
    return mmath_final_answer(text) if bench == Bench.mmath.value else polymath_final_answer(text)


def consistency(bench: str, text: str, lang: str, lid: str = "fasttext") -> tuple[bool, bool]:
    """(think_lc, answer_lc): the training reward's LC check with the scorers' short-text rule (see the module
    docstring)."""
    result = language_consistency(text, lang, lid, whole_text_as_answer=bench == Bench.polymath.value,
                                  short_text_rule=ShortTextRule.scoring)
    return result.think, result.answer


def gold_as_read(bench: str, gold: str) -> str:
    """The gold as each scorer hands it to math-verify: MMATH's as written, PolyMath's wrapped in ``$..$`` (its
    golds hold text such as "$2^{2^l}$ for $l=1,2,4,8$", which only compare equal read that way)."""
    return str(gold) if bench == Bench.mmath.value else f"${gold}$"


@lru_cache(maxsize=65536)
def _verify_cached(gold: str, extracted: str | None, timeout_s: float) -> bool:
    return verify(gold, extracted, timeout_s=timeout_s)


def _read_one(bench: str, lang: str, text: str, lid: str) -> tuple[str | None, bool, bool]:
    """(extracted, think_lc, answer_lc) of one completion; never raises."""
    try:
        text = "" if text is None else str(text)
        think_lc, answer_lc = consistency(bench, text, lang, lid)
        return extract_answer(bench, text), bool(think_lc), bool(answer_lc)
    except Exception:  # noqa: BLE001 - one bad completion must never stop the scoring of the others
        return None, False, False


def score_one(bench: str, lang: str, text: str, gold: str, lid: str = "fasttext", timeout_s: float = 5.0
              ) -> tuple[str | None, bool, bool, bool]:
    """(extracted, acc, think_lc, answer_lc) of one completion; never raises (garbage scores 0 everywhere)."""
    extracted, think_lc, answer_lc = _read_one(bench, lang, text, lid)
    acc = _verify_cached(gold_as_read(bench, gold), extracted, float(timeout_s)) if extracted else False
    return extracted, bool(acc), think_lc, answer_lc


def _read_chunk(args) -> list[tuple[str | None, bool, bool]]:
    items, lid = args
    return [_read_one(b, lang, text, lid) for b, lang, text in items]


def _verify_chunk(args) -> list[bool]:
    pairs, timeout_s = args
    return [verify(gold, extracted, timeout_s=timeout_s) for gold, extracted in pairs]


def _gold_chunks(pairs: list[tuple[str, str]], size: int) -> list[list[tuple[str, str]]]:
    """``pairs`` (sorted by gold) cut into chunks of about ``size``, never between two pairs of one gold: the
    worker that parses a gold meets all its pairs in a row, so math-verify's parse cache serves the rest."""
    chunks: list[list[tuple[str, str]]] = [[]]
    for i, pair in enumerate(pairs):
        if len(chunks[-1]) >= size and pair[0] != pairs[i - 1][0]:
            chunks.append([])
        chunks[-1].append(pair)
    return [c for c in chunks if c]


def default_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def score_predictions(predictions: list[Prediction], problems: list[Problem], lid: str = "fasttext",
                      workers: int | None = None, timeout_s: float = 5.0, path: str = "predictions"
                      ) -> list[ScoredPrediction]:
    """Score every prediction against its problem (``problems`` must hold them all: see
    :func:`match_problems`). ``workers`` > 1 spreads the work over processes.

    Two passes: the LC checks and answer extraction of every prediction, then math-verify once per distinct
    (gold, extracted) pair of the whole set (golds repeat across languages and samples, and parsing one is
    what costs: PolyMath's LaTeX golds up to a second each), each gold's pairs in one worker."""
    lid = coerce(LIDBackend, lid, "--lid").value
    matched = match_problems(predictions, problems, path)
    items = [(p.bench, p.lang, p.prediction) for p in predictions]
    golds = [gold_as_read(p.bench, prob.answer) for p, prob in zip(predictions, matched)]
    workers = default_workers() if workers is None else max(1, int(workers))
    with _pool(workers if len(items) >= 64 else 1, lid) as pool:
        size = max(16, -(-len(items) // (workers * 8)))
        reads = [r for chunk in pool.map(_read_chunk, [(items[i:i + size], lid) for i in range(0, len(items), size)])
                 for r in chunk]
        pairs = sorted({(gold, read[0]) for gold, read in zip(golds, reads) if read[0]})
        chunks = _gold_chunks(pairs, max(4, -(-len(pairs) // (workers * 8))))
        verdicts = [v for chunk in pool.map(_verify_chunk, [(c, timeout_s) for c in chunks]) for v in chunk]
    correct = dict(zip(pairs, verdicts))
    return [ScoredPrediction(p.bench, p.lang, p.id, p.sample, prob.group, extracted,
                             correct.get((gold, extracted), False), think_lc, answer_lc)
            for p, prob, gold, (extracted, think_lc, answer_lc) in zip(predictions, matched, golds, reads)]


class _InProcess:
    """The pool interface, in this process (one worker, or too little work to fork for)."""

    def map(self, fn, iterable):
        return map(fn, iterable)


@contextlib.contextmanager
def _pool(workers: int, lid: str):
    if workers == 1:
        yield _InProcess()
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # "fork" where available: workers need no torch (only the parser, math-verify and the LID model) and,
    # unlike "spawn", it works from a script without a __main__ guard.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    if context.get_start_method() == "fork":
        # load math-verify (sympy, its grammar) and the LID model once, here: forked workers inherit them
        # instead of each paying for them again
        verify("1", "1")
        consistency(Bench.mmath.value, "warm up </think> warm up", "en", lid)
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        yield pool


def write_details(scored: list[ScoredPrediction], path: str | os.PathLike) -> Path:
    """Per-prediction results as JSON lines (the same order as the predictions)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for s in scored:
            fh.write(json.dumps(s.to_json(), ensure_ascii=False) + "\n")
    return path
