"""Language consistency (LC): are the thinking and the answer both written in the question's language?

    LC = 1  iff  the completion holds exactly one </think>
                 and is_consistent(thinking, lang) and is_consistent(answer, lang)

with :func:`kit.lid.is_consistent` (the paper's check: LaTeX removed, 15 characters or fewer pass, then the
detector must agree with the target). An output without exactly one ``</think>`` is inconsistent, as in
the M-Thinker scorers. One deliberate difference: the scorers check the raw pieces around ``</think>``, we
check them with surrounding whitespace stripped (:func:`kit.rewards.parsing.split_thinking`), so blank lines
never push a short answer over the 15-character threshold.

    lc_ratio = share of the thinking's letters (outside LaTeX) in paragraphs detected as ``lang``, 0..1

a dense variant (:func:`kit.lid.analyze_segments`): an English paragraph in a Japanese thinking lowers it
in proportion instead of failing the whole completion.

Example:
    >>> r = language_consistency("まず、二つの数を足します。</think>答えは 4 です。", "ja")
    >>> (r.think, r.answer, r.consistent)
    (True, True, True)
"""

from __future__ import annotations

from dataclasses import dataclass

from kit.lid import analyze_segments, is_consistent
from kit.rewards.parsing import split_thinking


@dataclass(frozen=True)
class LCResult:
    think: bool  # the thinking passes the check
    answer: bool  # the answer (after </think>) passes the check

    @property
    def consistent(self) -> bool:
        return self.think and self.answer


def language_consistency(completion, lang: str, backend="fasttext") -> LCResult:
    """Check thinking and answer separately; never raises (a detector failure counts as inconsistent)."""
    try:
        parsed = split_thinking(completion)
        if not parsed.has_single_think_close:
            return LCResult(think=False, answer=False)
        return LCResult(think=is_consistent(parsed.thinking, lang, backend),
                        answer=is_consistent(parsed.answer, lang, backend))
    except Exception:  # noqa: BLE001 - a reward never raises; a detector failure is inconsistent
        return LCResult(think=False, answer=False)


def lc_ratio(completion, lang: str, backend="fasttext", unit: str = "paragraph") -> float:
    """Share of the thinking's letters written in ``lang`` (0.0 for a thinking without letters)."""
    try:
        thinking = split_thinking(completion).thinking
        share = analyze_segments(thinking, lang, unit=unit, backend=backend).target_share
        return min(1.0, max(0.0, float(share)))
    except Exception:  # noqa: BLE001 - a reward never raises; a detector failure is inconsistent
        return 0.0
