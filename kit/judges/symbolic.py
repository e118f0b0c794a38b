"""The symbolic CTA judge: judge-free, deterministic, fast on CPU (the default for CPU runs).

It applies the paper's rubric mechanically. Key results of the English reference thinking are

- every number (integers, decimals, fractions ``a/b`` and ``\\frac{a}{b}``, percentages, numbers with
  thousands separators in the usual locales: ``80,000``, ``80 000``, ``80.000``, decimal commas ``2,5``),
- the right-hand side of every ``=`` inside math (``$..$``, ``\\(..\\)``, ``\\[..\\]``),
- every ``\\boxed{}`` content,

normalized to a canonical form: numbers as exact fractions (``0.5`` == ``1/2`` == ``\\frac{1}{2}``),
expressions as LaTeX with spacing and ``\\left``/``\\right``/``\\cdot`` variants removed. Digits of every
script (Arabic-Indic, Bengali, Thai, full-width, ...) become ASCII first.

A digit glued to LaTeX structure (``x^2``, ``a_1``, ``\\sqrt{2}``, ``2\\sqrt{2}``) is part of an expression,
not a result of its own. One key result may have several *readings*; it is matched when any of them occurs
in the target thinking, and it counts once whatever its readings:

- ``50%`` reads as 50 and as 1/2 (so ``25%`` is matched by ``0.25``);
- separators differ across the kit's languages (de/es/it/pt/id/vi write ``80.000`` and ``2,5``; fr/ru write
  ``80 000`` and ``2,5``; en/zh/ja write ``80,000`` and ``2.5``). The English reference is read in the English
  convention (``80.000`` is the decimal 80: we do not guess a dot-thousands reading there, and ``1,2,3`` is
  three numbers). The target thinking is read in both conventions, so there ``80.000`` means 80 *and* 80000
  and ``1.250,75`` means 1250.75: generous on the target side, never inflating the reference's count.

    recall    = |key results of the reference matched in the target thinking| / |key results of the reference|
    precision = |key results of the target thinking matched in the reference| / |key results of the thinking|
    CTA       = recall * min(1, PRECISION_SLACK * precision)

The precision term is ours, not the paper's rubric (an LLM judge reads a number dump for what it is; a
mechanical one must be told): a thinking may hold up to ``PRECISION_SLACK`` times as many distinct key
results as it shares with the reference at no cost, so a faithful translation scores its recall, while a
thinking that lists the numbers 1 to 100 plus the answer (recall 1, precision 0.06) scores 0.12, not 1.

An expression with no exact textual twin is matched in three steps, cheapest first: a variable-free one
by its value against the target's numbers (``2^{10}`` and ``1024``); then by its values in floats at two
fixed points (:mod:`kit.judges.latex_eval`: ``x^2+2x+1`` == ``(x+1)^2``, ``2\\sqrt{2}`` == ``\\sqrt{8}``); what
that evaluator cannot read (intervals, sets, ``\\infty``) goes to math-verify
(:func:`kit.rewards.accuracy.verify`, 30-400 ms a pair), at most ``max_verify_pairs`` pairs and
``verify_budget_s`` seconds per item.

The worst case stays bounded: every expression is evaluated once (not once per pair), target values are
sorted and each reference value is looked up by bisection within the evaluator's tolerance, so matching is
O((R + T) log T) for R reference and T target expressions, with at most ``MAX_CLOSE_CHECKS`` tolerance
comparisons per item (only many values packed within 1e-9 of each other reach it; beyond it, remaining
expressions count as unmatched). Math spans are found by a linear scan. Measured on one CPU core: 800
distinct equations on each side took 7 s when every pair was compared, about 0.07 s now.

A reference with no key result scores 0: there is nothing to align with, and a vacuous 1 would pay the CTA
bonus to English thinking that never commits to a number.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import re
import time
import unicodedata
from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache

from kit.judges import latex_eval
from kit.judges.base import CachedJudge, CTAItem
from kit.rewards.accuracy import verify
from kit.rewards.parsing import boxed_contents

# A thinking may hold this many times as many key results as it shares with the reference before the score
# shrinks (extra steps and checks are normal; a dump of numbers is not).
PRECISION_SLACK = 2.0

# Math spans, as the regex  \$\$(.+?)\$\$ | \\\[(.+?)\\\] | \\\((.+?)\\\) | \$(.+?)\$  (DOTALL) finds them, but
# scanned in linear time by math_spans(): the regex rescans to the end of the text for every unclosed opening.
_SPAN_KINDS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))  # tried in this order at a position
_SPAN_OPENING = re.compile(r"\$|\\[\[(]")
# Tolerance comparisons allowed per item when looking values up (see the module docstring).
MAX_CLOSE_CHECKS = 20_000
# Boundaries are ASCII-only: CJK and Thai text glues numbers to letters ("16個", "๙ฟอง").
_SPACES = "[ \u00a0\u202f]"  # plain, no-break and narrow no-break spaces group thousands (fr, ru, ...)
# A digit glued to LaTeX structure is part of an expression, not a result of its own: exponents and
# subscripts (x^2, a_1), arguments (\sqrt{2}, ^{10}) and coefficients (2\sqrt{2}, 3\pi). Those expressions
# count whole when they are an equation's right-hand side or a \boxed{} answer.
_GLUED_BEFORE = r"(?<![A-Za-z0-9_^{\\])"
_GLUED_AFTER = r"(?![A-Za-z0-9_^\\])"
# Operators and spacing commands sit between numbers ("9 \cdot 2"): blanked before numbers are read.
_OPERATORS = re.compile(r"\\(?:cdot|times|div|pm|mp|left|right|quad|qquad|[,;:!])(?![A-Za-z])")
# English convention: "," or a space groups thousands, "." is the decimal point.
_EN_NUMBER = re.compile(
    rf"{_GLUED_BEFORE}(?<!\.)[-−]?(?:\d{{1,3}}(?:(?:,|{_SPACES})\d{{3}})+|\d+)(?:\.\d+)?(?:\s*/\s*\d+)?\s*%?"
    + _GLUED_AFTER
)
# Decimal-comma convention (de es fr it pt id ru vi): "." or a space groups thousands, "," is the decimal.
_COMMA_NUMBER = re.compile(
    rf"{_GLUED_BEFORE}(?<![.,])[-−]?(?:\d{{1,3}}(?:(?:\.|{_SPACES})\d{{3}})+|\d+)(?:,\d+)?(?:\s*/\s*\d+)?\s*%?"
    + _GLUED_AFTER + r"(?![.,]\d)"
)
_FRAC = re.compile(r"\\[dt]?frac\s*\{\s*(-?\d+)\s*\}\s*\{\s*(\d+)\s*\}")
_NUMERIC = re.compile(r"-?[\d.,/ %]+")
_MAX_TEXT = 200_000  # thinking longer than this is clipped for extraction (bounded work per item)


def ascii_digits(text: str) -> str:
    """Map decimal digits of every script to ASCII (unicodedata knows each script's digits)."""
    out = []
    for ch in text:
        if ch.isdigit() and not ch.isascii():
            value = unicodedata.digit(ch, None)
            out.append(str(value) if value is not None else ch)
        elif ch == "٫":  # Arabic decimal separator
            out.append(".")
        elif ch == "٬":  # Arabic thousands separator
            out.append(",")
        else:
            out.append(ch)
    return "".join(out)


@lru_cache(maxsize=65536)  # tokens recur across a group's thinkings; Fraction(str) is the slow part
def number_readings(token: str, decimal_comma: bool = False) -> frozenset[Fraction]:
    """The values a number token can mean: one, or two for a percentage (``50%`` -> 50 and 1/2).

    ``decimal_comma`` reads the token in the de/fr/pt convention (``80.000`` -> 80000, ``2,5`` -> 5/2).

    Example:
        >>> sorted(map(str, number_readings("80,000"))), sorted(map(str, number_readings("2,5", True)))
        (['80000'], ['5/2'])
    """
    token = token.replace("−", "-").strip()
    percent = token.endswith("%")
    token = token.rstrip("%").strip()
    grouping = r"[.\s\u00a0\u202f]" if decimal_comma else r"[,\s\u00a0\u202f]"
    token = re.sub(rf"(?<=\d){grouping}(?=\d{{3}})", "", token)
    if decimal_comma:
        token = token.replace(",", ".")
    try:
        if "/" in token:
            num, den = token.split("/", 1)
            value = Fraction(Fraction(num.strip()), Fraction(den.strip()))
        else:
            value = Fraction(token)
    except (ValueError, ZeroDivisionError):
        return frozenset()
    return frozenset((value, value / 100)) if percent else frozenset((value,))


def _canonical_expression(expr: str) -> str:
    expr = re.sub(r"\\(left|right|displaystyle|,|;|!|quad)", "", expr)
    expr = expr.replace("\\cdot", "*").replace("\\times", "*").replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    return re.sub(r"\s+", "", expr).strip(".,;")


class _NextOccurrence:
    """``text.find(needle, start)`` for non-decreasing starts, each stretch of the text scanned once."""

    def __init__(self, text: str, needle: str):
        self.text, self.needle, self.searched_from, self.found = text, needle, -1, -1

    def __call__(self, start: int) -> int:
        if self.searched_from < 0 or start < self.searched_from or (self.found >= 0 and start > self.found):
            self.searched_from, self.found = start, self.text.find(self.needle, start)
        return self.found


def math_spans(text: str) -> list[str]:
    """The contents of ``$$..$$``, ``\\[..\\]``, ``\\(..\\)`` and ``$..$`` spans, shortest match first, left to
    right without overlap: what the regex in the comment above returns, in linear time.

    Example:
        >>> math_spans(r"$$a$$ and \\(b\\) then $c$ $")
        ['a', 'b', 'c']
    """
    finders = {close: _NextOccurrence(text, close) for _, close in _SPAN_KINDS}
    out, pos = [], 0
    for m in _SPAN_OPENING.finditer(text):
        start = m.start()
        if start < pos:
            continue
        for opening, close in _SPAN_KINDS:
            if text.startswith(opening, start):
                end = finders[close](start + len(opening) + 1)  # the content holds one character at least
                if end >= 0:
                    out.append(text[start + len(opening):end])
                    pos = end + len(close)
                    break
    return out


def _fraction_of(match: re.Match) -> frozenset[Fraction]:
    denominator = int(match.group(2))
    return frozenset((Fraction(int(match.group(1)), denominator),)) if denominator else frozenset()


@lru_cache(maxsize=4096)
def key_results(text: str, any_convention: bool = False, *, decimal_comma_only: bool = False
                ) -> tuple[frozenset[frozenset[Fraction]], tuple[str, ...]]:
    """(numeric key results, non-numeric canonical expressions) found in ``text``.

    Each numeric key result is the frozenset of its readings (see :func:`number_readings`). The English
    reference is read in the English convention; with ``any_convention`` (the target thinking) every number is
    also read in the decimal-comma convention, so ``80.000`` there matches both 80000 and 80;
    ``decimal_comma_only`` reads it in that convention alone (the precision term counts each text once).
    """
    text = ascii_digits((text or "")[:_MAX_TEXT])
    numbers: set[frozenset[Fraction]] = set()
    expressions: dict[str, None] = {}
    numbers.update(r for r in map(_fraction_of, _FRAC.finditer(text)) if r)
    plain = _OPERATORS.sub(" ", _FRAC.sub(" ", text))
    conventions = [(_EN_NUMBER, False)] + ([(_COMMA_NUMBER, True)] if any_convention else [])
    if decimal_comma_only:
        conventions = [(_COMMA_NUMBER, True)]
    for pattern, decimal_comma in conventions:
        numbers.update(r for r in (number_readings(m.group(0), decimal_comma) for m in pattern.finditer(plain)) if r)
    candidates = boxed_contents(text)  # the kit's one \boxed{} scanner
    candidates += [span.rsplit("=", 1)[1] for span in math_spans(text) if "=" in span]
    for candidate in candidates:
        canon = _canonical_expression(candidate)
        if not canon:
            continue
        frac = _FRAC.fullmatch(canon)
        readings = _fraction_of(frac) if frac else (
            number_readings(canon) if _NUMERIC.fullmatch(canon) else frozenset())
        if readings:
            numbers.add(readings)
        else:
            expressions.setdefault(canon, None)  # a dict: ordered and O(1) de-duplication
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
    identity = "symbolic-v4"  # bump when extraction or matching changes: on-disk caches must not mix versions

    def __init__(self, cache=None, max_verify_pairs: int = 8, verify_budget_s: float = 0.5):
        super().__init__(cache)
        self.max_verify_pairs = max_verify_pairs  # math-verify comparisons per item, at most
        self.verify_budget_s = verify_budget_s  # and this much wall time per item for them

    def _score_uncached(self, items: Sequence[CTAItem]) -> list[float | None]:
        return [self.score_one(item.en_reference, item.thinking) for item in items]

    def score_one(self, reference: str, thinking: str) -> float:
        ref_numbers, ref_exprs = key_results(reference or "")
        total = len(ref_numbers) + len(ref_exprs)
        if total == 0:
            return 0.0
        tgt_numbers, tgt_exprs = key_results(thinking or "", any_convention=True)
        target_values = frozenset().union(*tgt_numbers)
        matched = sum(1 for readings in ref_numbers if not readings.isdisjoint(target_values))
        matched_exprs = self._matched_expressions(ref_exprs, tgt_exprs, _floats(target_values)) if ref_exprs else 0
        recall = (matched + matched_exprs) / total
        # the thinking's key results counted in one convention at a time ("2,5" is one number, not three)
        readings = (key_results(thinking or "")[0], key_results(thinking or "", decimal_comma_only=True)[0])
        return recall * max(precision_factor(ref_numbers, numbers, len(tgt_exprs), matched_exprs)
                            for numbers in readings)

    def _matched_expressions(self, ref_exprs, tgt_exprs, target_floats: tuple[float, ...]) -> int:
        """Exact text first, then values (against the target's numbers, then at the two fixed points), then
        math-verify (bounded) for the pairs the evaluator left undecided. Same verdicts as comparing every
        pair with :func:`latex_eval.equivalent`, without the quadratic work."""
        checks = [MAX_CLOSE_CHECKS]  # shared by every lookup of this item
        numbers = _CloseIndex(sorted(set(target_floats)), checks)
        values = [latex_eval.values(e) for e in tgt_exprs]  # each target expression evaluated once
        at_first_point = _CloseIndex(sorted((v0, i) for i, (v0, _) in enumerate(values) if v0 is not None), checks)
        undecided_targets = [i for i, (v0, _) in enumerate(values) if v0 is None]
        target_set = set(tgt_exprs)
        matched, pending = 0, []
        for expr in ref_exprs:
            if expr in target_set:
                matched += 1
                continue
            a0, a1 = latex_eval.values(expr)  # evaluated once: a0 is also its value when it has no variables
            if a0 is not None and not latex_eval.variables_of(expr) and numbers.any_close(a0):
                matched += 1  # 2^{10} in the reference, 1024 in the target
                continue
            if a0 is None:  # undecided against every target
                others = range(len(tgt_exprs))
            else:
                near = sorted(i for i in at_first_point.close_keys(a0))  # equal at the first point
                if a1 is not None and any(values[i][1] is not None and latex_eval.close(a1, values[i][1])
                                          for i in near):
                    matched += 1
                    continue
                undecided_near = [i for i in near if a1 is None or values[i][1] is None]
                others = heapq.merge(undecided_targets, undecided_near)
            # the math-verify budget never reaches further than max_verify_pairs candidates of one expression
            pending.append((expr, [tgt_exprs[i] for i in itertools.islice(others, self.max_verify_pairs)]))
        budget, deadline = self.max_verify_pairs, time.monotonic() + self.verify_budget_s
        for expr, others in pending:
            for other in others:
                if budget <= 0 or time.monotonic() > deadline:
                    return matched
                budget -= 1
                if _equivalent(expr, other):
                    matched += 1
                    break
        return matched


def precision_factor(ref_numbers, tgt_numbers, n_target_exprs: int, matched_exprs: int) -> float:
    """``min(1, PRECISION_SLACK * precision)``: the share of the thinking's key results found in the reference
    (numbers by value; each matched reference expression stands for one matched target expression)."""
    total = len(tgt_numbers) + n_target_exprs
    if total == 0:
        return 0.0
    ref_values = frozenset().union(*ref_numbers) if ref_numbers else frozenset()
    shared = sum(1 for readings in tgt_numbers if not readings.isdisjoint(ref_values))
    precision = (shared + min(matched_exprs, n_target_exprs)) / total
    return min(1.0, PRECISION_SLACK * precision)


class _CloseIndex:
    """Sorted values (or (value, key) pairs) looked up within :func:`latex_eval.close` by bisection."""

    def __init__(self, entries: list, checks: list[int]):
        self.entries = entries
        self.values = [e[0] if isinstance(e, tuple) else e for e in entries]
        self.checks = checks  # [remaining tolerance comparisons], shared across indexes of one item

    def _window(self, a: float):
        # close(a, b) implies |a - b| <= max(1e-9 * max(|a|, |b|), 1e-12) < max(1.01e-9 * |a|, 1e-12): a
        # superset window, each candidate then checked exactly.
        width = max(1.01e-9 * abs(a), 1e-12)
        lo, hi = bisect.bisect_left(self.values, a - width), bisect.bisect_right(self.values, a + width)
        for k in range(lo, hi):
            if self.checks[0] <= 0:
                return
            self.checks[0] -= 1
            if latex_eval.close(a, self.values[k]):
                yield self.entries[k]

    def any_close(self, a: float) -> bool:
        return next(self._window(a), None) is not None

    def close_keys(self, a: float):
        return (key for _, key in self._window(a))


def _floats(values) -> tuple[float, ...]:
    out = []
    for value in values:
        try:
            out.append(float(value))
        except OverflowError:  # a 400-digit "number" in junk text
            continue
    return tuple(out)


@lru_cache(maxsize=8192)
def _equivalent(a: str, b: str) -> bool:
    # Inline-math delimiters: bare "2\\sqrt{2}" as a gold would be read by math-verify's number extraction as 2.
    return verify(f"${a}$", b, timeout_s=1.0)
