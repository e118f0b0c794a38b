"""Language consistency (LC): are the thinking and the answer both written in the question's language?

    LC = 1  iff  the completion holds exactly one </think>
                 and is_consistent(thinking, lang) and is_consistent(answer, lang)

with :func:`kit.lid.is_consistent` (the paper's check: LaTeX removed, 15 characters or fewer pass, then the
detector must agree with the target) applied to the two pieces exactly as they stand around ``</think>``
(:func:`kit.rewards.parsing.split_raw`). The 15 characters are counted as each of the authors' scripts
counts them (:class:`kit.lid.ShortTextRule`): the training reward (default here) strips surrounding
whitespace first, as their GRPO reward's ``whether_cons`` does; the benchmark scorers (:mod:`kit.eval.score`)
pass ``short_text_rule="scoring"``, whitespace included, as their eval scripts' ``whether_cons`` do.
:func:`language_consistency` is the one LC function of the kit: the training reward, both benchmark
scorers and the demo all call it, so the two verdicts differ only where the authors' scripts differ
(a short answer padded with whitespace). An output without exactly
one ``</think>`` has an inconsistent thinking; its answer is inconsistent too, except for the PolyMath
scorer, whose generation script stores the whole output as the answer (``whole_text_as_answer``).

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

from kit.lid import ShortTextRule, analyze_segments, is_consistent
from kit.rewards.parsing import _as_text, split_raw, split_thinking


@dataclass(frozen=True)
class LCResult:
    think: bool  # the thinking passes the check
    answer: bool  # the answer (after </think>) passes the check

    @property
    def consistent(self) -> bool:
        return self.think and self.answer


def language_consistency(completion, lang: str, backend="fasttext", *, whole_text_as_answer: bool = False,
                         short_text_rule: str | ShortTextRule = ShortTextRule.training) -> LCResult:
    """Check the raw thinking and answer pieces separately; never raises (a detector failure counts as
    inconsistent). ``whole_text_as_answer``: without a single ``</think>``, check the whole output as the
    answer (the PolyMath scorer) instead of failing it (training, MMATH). ``short_text_rule``: ``training``
    (the reward) or ``scoring`` (the benchmark scorers), see :class:`kit.lid.ShortTextRule`."""
    try:
        thinking, answer = split_raw(completion)
        if thinking is None:
            whole = whole_text_as_answer and is_consistent(_as_text(completion), lang, backend, short_text_rule)
            return LCResult(think=False, answer=bool(whole))
        return LCResult(think=is_consistent(thinking, lang, backend, short_text_rule),
                        answer=is_consistent(answer, lang, backend, short_text_rule))
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
