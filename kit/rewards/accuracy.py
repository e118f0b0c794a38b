"""Accuracy: is the extracted final answer mathematically equal to the gold answer (math-verify)?

    accuracy = 1 if math_verify.verify(parse(gold), parse("$" + predicted + "$")) else 0

as in the M-Thinker MMATH scorer (gold parsed as written; the prediction, a ``\\boxed{}`` content, wrapped in
``$..$``). A gold answer math-verify cannot read as written is retried wrapped in ``$..$`` and then in
``\\boxed{}`` (PolyMath golds like ``(1,2)`` only parse that way). Parse failures, comparison errors and
timeouts score 0: :func:`verify` never raises.

Hostile answers: a literal too large to be anyone's answer (``9^{9^{9}}`` has 370 million digits, ``(10^{10})!``
more) scores 0 before math-verify sees it (:func:`literal_digits`), since sympy would try to compute it. A
batch (:func:`accuracy_scores`, what the GRPO reward calls) checks each distinct answer once, shortest first,
under one deadline for the whole batch, so a step's reward time stays bounded whatever the policy writes.

Timeouts: one deadline per :func:`verify` call, whatever the number of stages (up to three readings of the
gold, two of the prediction, then the comparison). In the main thread an interval timer (``setitimer``, so
fractions of a second work) interrupts whichever stage is running when the deadline passes; math-verify's own
per-stage ``signal.alarm`` timeouts are switched off, since they would each restart the clock (six stages of
5 s each could take 30 s) and share the one process timer with ours. In any other thread (the Gradio app, a
judge pool) signals are unavailable: the comparison runs in a daemon worker thread that we stop waiting for
after ``timeout_s`` (it cannot be killed, but its result is ignored).

Example:
    >>> verify("\\\\frac{1}{2}", "0.5"), verify("42", "41"), verify("42", None)
    (True, False, False)
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import signal
import threading
import time
from collections.abc import Sequence

from kit.rewards.parsing import last_boxed

# A final answer longer than this is never a correct competition answer, and sympy can spend minutes on
# one: it scores 0 without being parsed.
MAX_ANSWER_CHARS = 2000
# Digits of the largest literal power or factorial an answer may hold (2^{2023} has 610): sympy evaluates
# literals exactly, and a signal cannot interrupt a big-integer power while it runs.
MAX_LITERAL_DIGITS = 10_000
# After the deadline the timer fires again at this interval until the call has unwound, so a library frame
# that swallows the first interruption (a bare ``except:``) cannot keep the call running.
_REFIRE_S = 0.05


class _DeadlineExceeded(BaseException):
    """Raised by our timer inside math-verify; a BaseException so math-verify's ``except Exception`` and its
    own ``except TimeoutException`` (which would return [] and move on to the next stage) let it through."""


def quiet_math_verify() -> None:
    """Silence math-verify's warnings (every parse timeout logs the whole expression; "timeout disabled" is
    logged once because we run its stages under our own deadline). A timeout already scores 0 and the
    scorers count it, so thousands of multi-line warnings would only bury the logs."""
    logging.getLogger("math_verify").setLevel(logging.ERROR)


_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_COMMAND = re.compile(r"\\[A-Za-z]+|\\.?")
_CLOSING = {"{": "}", "(": ")"}
_MAX_NESTING = 64  # brackets deeper than this are no answer (and would exhaust the reader's recursion)


def _group_end(text: str, start: int) -> int:
    """The index of the bracket closing the one at ``start`` (the end of the text when it never closes)."""
    opening, closing, depth = text[start], _CLOSING[text[start]], 0
    for index in range(start, len(text)):
        depth += (text[index] == opening) - (text[index] == closing)
        if depth == 0:
            return index
    return len(text)


def _operand(text: str, i: int) -> tuple[float | None, int, float]:
    """``(log10 of its magnitude, or None when not a literal; index after it; digits of the largest literal
    inside)`` of the operand at ``text[i]``: a bracketed group, a number, a sign and its operand, or one token."""
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text):
        return None, i, 0.0
    if text[i] in _CLOSING:
        end = _group_end(text, i)
        value, largest = _expression(text[i + 1:end])
        return value, end + 1, largest
    if text[i] in "+-":
        return _operand(text, i + 1)
    number = _NUMBER.match(text, i)
    if number:
        magnitude = float(number.group())
        return (abs(math.log10(magnitude)) if magnitude > 0 else 0.0), number.end(), 0.0
    command = _COMMAND.match(text, i)
    return None, (command.end() if command else i + 1), 0.0


def _power(base: float | None, exponent: float | None) -> float | None:
    if base is None or exponent is None:
        return None
    return math.inf if exponent > 300 else base * 10.0 ** exponent


def _factorial(value: float | None) -> float | None:
    if value is None:
        return None
    n = math.inf if value > 300 else 10.0 ** value
    return n * math.log10(n) if n > 1 else 0.0  # log10(n!) < n log10 n


def _expression(text: str) -> tuple[float | None, float]:
    """``(log10 of the magnitude when the whole text is one literal term, else None; digits of the largest
    literal power or factorial in it)``."""
    i, terms, largest = 0, [], 0.0
    while i < len(text):
        value, i, inner = _operand(text, i)
        largest = max(largest, inner)
        while i < len(text):
            while i < len(text) and text[i].isspace():
                i += 1
            if text[i:i + 1] == "^":
                exponent, i, inner = _operand(text, i + 1)
                value = _power(value, exponent)
            elif text[i:i + 1] == "!":
                value, i, inner = _factorial(value), i + 1, 0.0
            else:
                break
            largest = max(largest, inner, value or 0.0)
        terms.append(value)
    return (terms[0] if len(terms) == 1 else None), largest


def literal_digits(answer: str) -> float:
    """About how many digits the largest literal power or factorial in ``answer`` has (0 when none; inf for
    brackets nested deeper than any answer's). Read, never computed, so hostile towers cost microseconds.

    Example:
        >>> literal_digits("2^{10}") < 4, literal_digits("9^{9^{9^{9^{9}}}}"), literal_digits("x^{2}+1")
        (True, inf, 0.0)
    """
    depth = deepest = 0
    for char in answer:
        depth += (char in _CLOSING) - (char in "})")
        deepest = max(deepest, depth)
    if deepest > _MAX_NESTING:
        return math.inf
    return _expression(answer)[1]


def _too_large(gold: str, predicted: str) -> bool:
    """A literal in the prediction larger than any answer could be, unless the gold is as large itself."""
    return literal_digits(predicted) > MAX_LITERAL_DIGITS and literal_digits(gold) <= MAX_LITERAL_DIGITS


def _is_bare_latex(gold: str) -> bool:
    """LaTeX with no math delimiters, e.g. ``2\\sqrt{2}``: read as written, math-verify keeps only the "2"."""
    delimited = "$" in gold or "\\boxed" in gold or "\\(" in gold or "\\[" in gold
    return not delimited and any(mark in gold for mark in ("\\", "^", "{", "_"))


def _parse_gold(gold: str):
    from math_verify import parse

    order = (f"${gold}$", gold) if _is_bare_latex(gold) else (gold, f"${gold}$")
    for candidate in (*order, f"\\boxed{{{gold}}}"):
        parsed = parse(candidate, parsing_timeout=None)
        if parsed:
            return parsed
    return []


def _verify_now(gold: str, predicted: str) -> bool:
    """Every stage without a timeout of its own: the caller bounds the whole call."""
    from math_verify import parse
    from math_verify import verify as mv_verify  # imported already (_warm_up), outside the deadline

    gold_parsed = _parse_gold(gold)
    pred_parsed = parse(f"${predicted}$", parsing_timeout=None)
    if not pred_parsed:
        pred_parsed = parse(f"\\boxed{{{predicted}}}", parsing_timeout=None)
    if not gold_parsed or not pred_parsed:
        return False
    return bool(mv_verify(gold_parsed, pred_parsed, timeout_seconds=None))


_WARM: list[bool] = []


def _warm_up() -> None:
    """Import math-verify and run its LaTeX parser once, before any deadline: the first call of a process
    spends about half a second there (sympy, the ANTLR grammar), which is no answer's fault, and an import
    interrupted halfway would leave modules half set up."""
    if _WARM:
        return
    from math_verify import parse
    from math_verify import verify as mv_verify

    mv_verify(parse("$\\frac{1}{2}$", parsing_timeout=None), parse("$0.5$", parsing_timeout=None),
              timeout_seconds=None)
    _WARM.append(True)


@contextlib.contextmanager
def _deadline(seconds: float):
    """Raise :class:`_DeadlineExceeded` in the main thread once ``seconds`` have passed; restores the
    previous SIGALRM handler and whatever remained of a timer that was already running."""
    def fire(signum, frame):
        raise _DeadlineExceeded()

    start = time.monotonic()
    previous_handler = signal.getsignal(signal.SIGALRM)
    previous_delay, previous_interval = signal.getitimer(signal.ITIMER_REAL)
    try:
        signal.signal(signal.SIGALRM, fire)
        signal.setitimer(signal.ITIMER_REAL, seconds, _REFIRE_S)
        yield
    finally:
        while True:  # the timer may fire once more while we disarm it: disarm again until it sticks
            try:
                signal.setitimer(signal.ITIMER_REAL, 0)
                break
            except _DeadlineExceeded:
                continue
        # None: a handler set outside Python, which cannot be put back; SIG_DFL is what Python starts with
        signal.signal(signal.SIGALRM, signal.SIG_DFL if previous_handler is None else previous_handler)
        if previous_delay > 0:
            left = max(0.001, previous_delay - (time.monotonic() - start))
            signal.setitimer(signal.ITIMER_REAL, left, previous_interval)


def verify(gold: str, predicted: str | None, timeout_s: float = 5.0) -> bool:
    """True when ``predicted`` (an extracted answer, e.g. a ``\\boxed{}`` content) equals ``gold``.

    None, empty, over-long or unparsable answers, errors and timeouts give False; never raises. ``timeout_s``
    bounds the whole call (every parsing stage and the comparison together); 0 or None: no timeout.
    """
    try:
        gold = "" if gold is None else str(gold).strip()
        predicted = None if predicted is None else str(predicted).strip()
        if not gold or not predicted or len(predicted) > MAX_ANSWER_CHARS or _too_large(gold, predicted):
            return False
        quiet_math_verify()
        _warm_up()
        if not timeout_s or timeout_s <= 0:
            return _verify_now(gold, predicted)
        if threading.current_thread() is threading.main_thread():
            with _deadline(float(timeout_s)):
                return _verify_now(gold, predicted)
        return _verify_in_worker(gold, predicted, float(timeout_s))
    except BaseException as exc:  # never raise: our deadline and math-verify errors all score 0
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return False


def _verify_in_worker(gold: str, predicted: str, timeout_s: float) -> bool:
    result: list[bool] = []

    def work():
        try:
            result.append(_verify_now(gold, predicted))
        except BaseException:  # noqa: BLE001, S110 - a worker must never die loudly; no result means 0
            pass

    worker = threading.Thread(target=work, name="mthinker-verify", daemon=True)
    worker.start()
    worker.join(timeout_s)
    return bool(result and result[0])


def accuracy_score(completion, gold: str, timeout_s: float = 5.0) -> float:
    """1.0 when the last ``\\boxed{}`` of the whole completion equals ``gold``, else 0.0.

    The whole completion is searched, as the MMATH scorer and verl's math reward do, so the ``naive``
    variant can score completions without ``</think>`` too.
    """
    try:
        return 1.0 if verify(gold, last_boxed(completion), timeout_s=timeout_s) else 0.0
    except Exception:  # noqa: BLE001 - a reward never raises
        return 0.0


def accuracy_scores(completions: Sequence, golds: Sequence[str], timeout_s: float = 5.0,
                    batch_timeout_s: float | None = 10.0) -> list[float]:
    """:func:`accuracy_score` of each completion against its gold, the whole batch under one deadline.

    Each distinct (answer, gold) pair is verified once, shortest answer first (correct answers are short;
    hostile ones are long), each within ``timeout_s`` and within what is left of ``batch_timeout_s``; a pair
    reached after the batch deadline scores 0. None: no batch deadline. Never raises.

    Example:
        >>> accuracy_scores(["\\\\boxed{2}", "\\\\boxed{9^{9^{9^{9^{9}}}}}", "\\\\boxed{2}"], ["2", "2", "3"])
        [1.0, 0.0, 0.0]
    """
    try:
        pairs = [(last_boxed(c), "" if g is None else str(g).strip()) for c, g in zip(completions, golds)]
    except Exception:  # noqa: BLE001 - a reward never raises
        return [0.0] * len(completions)
    deadline = time.monotonic() + batch_timeout_s if batch_timeout_s else math.inf
    verdicts: dict[tuple, float] = {}
    for predicted, gold in sorted(set(pairs), key=lambda pair: len(pair[0] or "")):
        left = deadline - time.monotonic()
        if left <= 0:
            verdicts[(predicted, gold)] = 0.0
            continue
        limit = min(timeout_s, left) if timeout_s else (left if math.isfinite(left) else None)
        verdicts[(predicted, gold)] = 1.0 if verify(gold, predicted, timeout_s=limit) else 0.0
    return [verdicts[pair] for pair in pairs]
