"""Accuracy: is the extracted final answer mathematically equal to the gold answer (math-verify)?

    accuracy = 1 if math_verify.verify(parse(gold), parse("$" + predicted + "$")) else 0

as in the M-Thinker MMATH scorer (gold parsed as written; the prediction, a ``\\boxed{}`` content, wrapped in
``$..$``). A gold answer math-verify cannot read as written is retried wrapped in ``$..$`` and then in
``\\boxed{}`` (PolyMath golds like ``(1,2)`` only parse that way). Parse failures, comparison errors and
timeouts score 0: :func:`verify` never raises.

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
import signal
import threading
import time

from kit.rewards.parsing import last_boxed

# A final answer longer than this is never a correct competition answer, and sympy can spend minutes on
# one: it scores 0 without being parsed.
MAX_ANSWER_CHARS = 2000
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
        if not gold or not predicted or len(predicted) > MAX_ANSWER_CHARS:
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
