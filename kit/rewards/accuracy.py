"""Accuracy: is the extracted final answer mathematically equal to the gold answer (math-verify)?

    accuracy = 1 if math_verify.verify(parse(gold), parse("$" + predicted + "$")) else 0

as in the M-Thinker MMATH scorer (gold parsed as written; the prediction, a ``\\boxed{}`` content, wrapped in
``$..$``). A gold answer math-verify cannot read as written is retried wrapped in ``$..$`` and then in
``\\boxed{}`` (PolyMath golds like ``(1,2)`` only parse that way). Parse failures, comparison errors and
timeouts score 0: :func:`verify` never raises.

Timeouts: math-verify's own timeout uses ``signal.alarm``, which only works in the main thread. There we use
it; in any other thread (the Gradio app, a judge pool) the comparison runs in a daemon worker thread that
we stop waiting for after ``timeout_s`` (it cannot be killed, but its result is ignored).

Example:
    >>> verify("\\\\frac{1}{2}", "0.5"), verify("42", "41"), verify("42", None)
    (True, False, False)
"""

from __future__ import annotations

import math
import threading

from kit.rewards.parsing import last_boxed

# A final answer longer than this is never a correct competition answer, and sympy can spend minutes on
# one: it scores 0 without being parsed.
MAX_ANSWER_CHARS = 2000


def _is_bare_latex(gold: str) -> bool:
    """LaTeX with no math delimiters, e.g. ``2\\sqrt{2}``: read as written, math-verify keeps only the "2"."""
    delimited = "$" in gold or "\\boxed" in gold or "\\(" in gold or "\\[" in gold
    return not delimited and any(mark in gold for mark in ("\\", "^", "{", "_"))


def _parse_gold(gold: str, timeout: int | None):
    from math_verify import parse

    order = (f"${gold}$", gold) if _is_bare_latex(gold) else (gold, f"${gold}$")
    for candidate in (*order, f"\\boxed{{{gold}}}"):
        parsed = parse(candidate, parsing_timeout=timeout)
        if parsed:
            return parsed
    return []


def _verify_now(gold: str, predicted: str, timeout: int | None) -> bool:
    from math_verify import parse
    from math_verify import verify as mv_verify

    gold_parsed = _parse_gold(gold, timeout)
    pred_parsed = parse(f"${predicted}$", parsing_timeout=timeout)
    if not pred_parsed:
        pred_parsed = parse(f"\\boxed{{{predicted}}}", parsing_timeout=timeout)
    if not gold_parsed or not pred_parsed:
        return False
    return bool(mv_verify(gold_parsed, pred_parsed, timeout_seconds=timeout))


def verify(gold: str, predicted: str | None, timeout_s: float = 5.0) -> bool:
    """True when ``predicted`` (an extracted answer, e.g. a ``\\boxed{}`` content) equals ``gold``.

    None, empty, over-long or unparsable answers, errors and timeouts give False; never raises.
    """
    try:
        gold = "" if gold is None else str(gold).strip()
        predicted = None if predicted is None else str(predicted).strip()
        if not gold or not predicted or len(predicted) > MAX_ANSWER_CHARS:
            return False
        seconds = max(1, math.ceil(timeout_s)) if timeout_s and timeout_s > 0 else None
        if threading.current_thread() is threading.main_thread():
            return _verify_now(gold, predicted, seconds)
        return _verify_in_worker(gold, predicted, timeout_s)
    except (Exception, _timeout_exception()):  # noqa: BLE001 - never raise; math-verify's TimeoutException derives from BaseException
        return False


def _timeout_exception() -> type[BaseException]:
    try:
        from math_verify.errors import TimeoutException

        return TimeoutException
    except ImportError:  # pragma: no cover - an older math-verify without that module
        return Exception


def _verify_in_worker(gold: str, predicted: str, timeout_s: float | None) -> bool:
    result: list[bool] = []

    def work():
        try:
            result.append(_verify_now(gold, predicted, None))
        except BaseException:  # noqa: BLE001, S110 - a worker must never die loudly; no result means 0
            pass

    worker = threading.Thread(target=work, name="mthinker-verify", daemon=True)
    worker.start()
    worker.join(timeout_s if timeout_s and timeout_s > 0 else None)
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
