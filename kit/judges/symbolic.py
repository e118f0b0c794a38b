"""The symbolic CTA judge: judge-free, deterministic, fast on CPU (the default for CPU runs).

It applies the paper's rubric mechanically. Key results of the English reference thinking are

- every number (integers, decimals, fractions ``a/b`` and ``\\frac{a}{b}``, percentages, numbers with
  thousands separators ``80,000`` / ``80 000``),
- the right-hand side of every ``=`` inside math (``$..$``, ``\\(..\\)``, ``\\[..\\]``),
- every ``\\boxed{}`` content,

normalized to a canonical form: numbers as exact fractions (``0.5`` == ``1/2`` == ``\\frac{1}{2}``; a
percentage counts as both of its readings, ``50%`` -> 50 and 1/2), expressions as LaTeX with spacing and
``\\left``/``\\right``/``\\cdot`` variants removed. Digits of every script (Arabic-Indic,
Bengali, Thai, full-width, ...) become ASCII first.

    CTA = |key results of the reference that the target thinking also contains| / |key results of the reference|

An expression that has no exact textual twin is compared with math-verify (:func:`kit.rewards.accuracy.verify`)
against the target's expressions, at most ``max_verify_pairs`` comparisons per item, so the worst case stays
bounded. A reference with no key result scores 0 (there is nothing to align with). ``80.000`` is read as
the decimal 80 (the dot-as-thousands reading of some languages is ambiguous; we do not guess).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache

from kit.judges.base import CachedJudge, CTAItem

MATH_SPANS = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|\$(.+?)\$", re.DOTALL)
_NUMBER = re.compile(
    # Boundaries are ASCII-only: CJK and Thai text glues numbers to letters ("16個", "๙ฟอง").
    r"(?<![A-Za-z0-9_.])[-−]?(?:\d{1,3}(?:(?:,|[ \u00a0\u202f])\d{3})+|\d+)(?:\.\d+)?(?:\s*/\s*\d+)?\s*%?"
    r"(?![A-Za-z0-9_])"
)
_FRAC = re.compile(r"\\[dt]?frac\s*\{\s*(-?\d+)\s*\}\s*\{\s*(\d+)\s*\}")
_BOXED = re.compile(r"\\boxed\s*\{")
_MAX_TEXT = 200_000  # thinking longer than this is clipped for extraction (bounded work per item)


def ascii_digits(text: str) -> str:
    """Map decimal digits of every script to ASCII (unicodedata knows each script's digits)."""
    out = []
    for ch in text:
        if ch.isdigit() and not ch.isascii():
            value = unicodedata.digit(ch, None)
            out.append(str(value) if value is not None else ch)
        elif ch in "٫":  # Arabic decimal separator
            out.append(".")
        elif ch in "٬":  # Arabic thousands separator
            out.append(",")
        else:
            out.append(ch)
    return "".join(out)


def _number_value(token: str) -> list[Fraction]:
    token = token.replace("−", "-").strip()
    percent = token.endswith("%")
    token = token.rstrip("%").strip()
    token = re.sub(r"(?<=\d)[, \u00a0\u202f](?=\d{3})", "", token)
    try:
        if "/" in token:
            num, den = token.split("/", 1)
            value = Fraction(Fraction(num.strip()), Fraction(den.strip()))
        else:
            value = Fraction(token)
    except (ValueError, ZeroDivisionError):
        return []
    return [value, value / 100] if percent else [value]


def _canonical_expression(expr: str) -> str:
    expr = re.sub(r"\\(left|right|displaystyle|,|;|!|quad)", "", expr)
    expr = expr.replace("\\cdot", "*").replace("\\times", "*").replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    return re.sub(r"\s+", "", expr).strip(".,;")


def _boxed_contents(text: str) -> list[str]:
    from kit.rewards.parsing import _boxed_spans  # the one \boxed{} scanner of the kit

    return _boxed_spans(text)


@lru_cache(maxsize=4096)
def key_results(text: str) -> tuple[frozenset, tuple[str, ...]]:
    """(numeric values, non-numeric canonical expressions) found in ``text``."""
    text = ascii_digits((text or "")[:_MAX_TEXT])
    numbers: set[Fraction] = set()
    expressions: list[str] = []
    for m in _FRAC.finditer(text):
        try:
            numbers.add(Fraction(int(m.group(1)), int(m.group(2))))
        except ZeroDivisionError:
            pass
    for m in _NUMBER.finditer(_FRAC.sub(" ", text)):
        numbers.update(_number_value(m.group(0)))
    candidates = _boxed_contents(text)
    for m in MATH_SPANS.finditer(text):
        span = next(g for g in m.groups() if g is not None)
        if "=" in span:
            candidates.append(span.rsplit("=", 1)[1])
    for candidate in candidates:
        canon = _canonical_expression(candidate)
        if not canon:
            continue
        frac = _FRAC.fullmatch(canon)
        if frac and int(frac.group(2)):
            values = [Fraction(int(frac.group(1)), int(frac.group(2)))]
        else:
            values = _number_value(canon) if re.fullmatch(r"-?[\d.,/ %]+", canon) else []
        if values:
            numbers.update(values)
        elif canon not in expressions:
            expressions.append(canon)
    return frozenset(numbers), tuple(expressions)


class SymbolicJudge(CachedJudge):
    """CTA = matched key results of the English reference / its key results (see the module docstring).

    Example:
        >>> judge = SymbolicJudge()
        >>> ref = "16 - 3 - 4 = 9 eggs are left, and 9 * 2 = 18 dollars."
        >>> judge.score([CTAItem("", ref, "残りは 16 - 3 - 4 = 9 個、9 × 2 = 18 ドル。", "ja")])
        [1.0]
    """

    name = "symbolic"
    identity = "symbolic-v1"

    def __init__(self, cache=None, max_verify_pairs: int = 16):
        super().__init__(cache)
        self.max_verify_pairs = max_verify_pairs

    def _score_uncached(self, items: Sequence[CTAItem]) -> list[float | None]:
        return [self.score_one(item.en_reference, item.thinking) for item in items]

    def score_one(self, reference: str, thinking: str) -> float:
        ref_numbers, ref_exprs = key_results(reference or "")
        total = len(ref_numbers) + len(ref_exprs)
        if total == 0:
            return 0.0
        tgt_numbers, tgt_exprs = key_results(thinking or "")
        matched = len(ref_numbers & tgt_numbers)
        budget = self.max_verify_pairs
        target_set = set(tgt_exprs)
        for expr in ref_exprs:
            if expr in target_set:
                matched += 1
                continue
            for other in tgt_exprs:
                if budget <= 0:
                    break
                budget -= 1
                if _equivalent(expr, other):
                    matched += 1
                    break
        return matched / total


@lru_cache(maxsize=8192)
def _equivalent(a: str, b: str) -> bool:
    from kit.rewards.accuracy import verify

    return verify(a, b, timeout_s=1.0)
